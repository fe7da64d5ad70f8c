/**
 * ISO-8601 dates and date-times as people write them in manifests and on the command line
 * (`--now`), read strictly: `Date.parse` rolls "2026-02-31" over to March 3 and reads a zoneless
 * date-time in the machine's local zone, so the same manifest would sign to different bytes on
 * different machines. Here an impossible date is an error naming the part that is wrong, and a
 * date or date-time without a zone is UTC, everywhere (docs/image-format.md "Dates").
 */
import type { Failed } from './result.ts';

export type IsoTimeResult = { ok: true; seconds: number } | Failed;

const FORM = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
export function daysInMonth(year: number, month: number): number {
  return month === 2 ? (isLeap(year) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * `YYYY-MM-DD` or `YYYY-MM-DD[T| ]hh:mm[:ss[.fff]][Z|±hh:mm|±hhmm]`, not before 1970-01-01T00:00:00Z.
 * Fractional seconds are truncated. No zone means UTC.
 */
export function parseIsoTime(s: unknown): IsoTimeResult {
  const shape = 'an ISO-8601 date such as "2026-11-01" or "2026-11-01T12:00:00Z"';
  if (typeof s !== 'string') return { ok: false, reason: `expected ${shape}` };
  const m = FORM.exec(s);
  if (!m) return { ok: false, reason: `${JSON.stringify(s)} is not ${shape}` };
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (month < 1 || month > 12) return { ok: false, reason: `${JSON.stringify(s)}: month ${m[2]} does not exist (01..12)` };
  const dim = daysInMonth(year, month);
  if (day < 1 || day > dim) return { ok: false, reason: `${JSON.stringify(s)}: ${MONTHS[month - 1]} ${year} has no day ${m[3]} (01..${dim})` };
  if (hour > 23) return { ok: false, reason: `${JSON.stringify(s)}: hour ${m[4]} does not exist (00..23)` };
  if (minute > 59) return { ok: false, reason: `${JSON.stringify(s)}: minute ${m[5]} does not exist (00..59)` };
  if (second > 59) return { ok: false, reason: `${JSON.stringify(s)}: second ${m[6]} does not exist (00..59; leap seconds are not accepted)` };
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone && zone !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const [oh, om] = [Number(digits.slice(0, 2)), Number(digits.slice(2, 4))];
    if (oh > 23 || om > 59) return { ok: false, reason: `${JSON.stringify(s)}: the zone offset ${zone} does not exist` };
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const seconds = Date.UTC(year, month - 1, day, hour, minute, second) / 1000 - offsetMinutes * 60;
  if (seconds < 0) return { ok: false, reason: `${JSON.stringify(s)} is before 1970-01-01T00:00:00Z` };
  return { ok: true, seconds };
}

/** ISO-8601 date or date-time → seconds since the epoch, or undefined (see parseIsoTime). */
export function isoToSeconds(s: unknown): number | undefined {
  const r = parseIsoTime(s);
  return r.ok ? r.seconds : undefined;
}
