/** Dates in manifests and --now: impossible dates refused naming the part, no zone = UTC. */
import { describe, expect, it } from 'vitest';
import { isoToSeconds, parseIsoTime } from '../../../src/core/bytes/iso-time.ts';

const reason = (s: string) => {
  const r = parseIsoTime(s);
  if (r.ok) throw new Error(`${s} was accepted`);
  return r.reason;
};

describe('parseIsoTime', () => {
  it('refuses dates that do not exist, naming what is wrong', () => {
    expect(reason('2026-02-31')).toMatch(/February 2026 has no day 31 \(01\.\.28\)/);
    expect(reason('2026-02-29')).toMatch(/February 2026 has no day 29/);
    expect(reason('2100-02-29')).toMatch(/February 2100 has no day 29/);
    expect(reason('2026-04-31T10:00:00Z')).toMatch(/April 2026 has no day 31 \(01\.\.30\)/);
    expect(reason('2026-13-01')).toMatch(/month 13 does not exist/);
    expect(reason('2026-00-10')).toMatch(/month 00/);
    expect(reason('2026-01-00')).toMatch(/no day 00/);
    expect(reason('2026-01-01T24:00:00Z')).toMatch(/hour 24/);
    expect(reason('2026-01-01T12:60Z')).toMatch(/minute 60/);
    expect(reason('2026-12-31T23:59:60Z')).toMatch(/second 60/);
    expect(reason('2026-01-01T12:00:00+24:00')).toMatch(/zone offset/);
    expect(reason('2026-01-01T12:00:00+05:60')).toMatch(/zone offset/);
    expect(reason('1969-12-31T23:59:59Z')).toMatch(/before 1970/);
    expect(reason('26-01-01')).toMatch(/is not an ISO-8601 date/);
    expect(reason('2026-1-1')).toMatch(/is not an ISO-8601 date/);
    expect(reason('2026-01-01T12:00:00 Z')).toMatch(/is not/);
  });

  it('accepts real dates, leap days included, and reads a missing zone as UTC', () => {
    expect(isoToSeconds('2024-02-29')).toBe(Date.UTC(2024, 1, 29) / 1000);
    expect(isoToSeconds('2000-02-29T00:00:00Z')).toBe(Date.UTC(2000, 1, 29) / 1000);
    expect(isoToSeconds('2026-01-01T12:00:00')).toBe(isoToSeconds('2026-01-01T12:00:00Z'));
    expect(isoToSeconds('2026-01-01 12:00')).toBe(Date.UTC(2026, 0, 1, 12) / 1000);
    expect(isoToSeconds('2026-01-01T12:00:00+02:00')).toBe(Date.UTC(2026, 0, 1, 10) / 1000);
    expect(isoToSeconds('2026-01-01T12:00:00-0130')).toBe(Date.UTC(2026, 0, 1, 13, 30) / 1000);
    expect(isoToSeconds('2026-01-01T12:00:00.999Z')).toBe(Date.UTC(2026, 0, 1, 12) / 1000);
    expect(isoToSeconds('1970-01-01T00:00:00Z')).toBe(0);
  });

  it('agrees with Date.parse on every day of four years, in every accepted form that carries a zone', () => {
    for (let t = Date.UTC(2023, 0, 1); t < Date.UTC(2027, 0, 1); t += 86_400_000 + 3_600_000 * 7 + 61_000) {
      const iso = new Date(t).toISOString();
      expect(isoToSeconds(iso)).toBe(Math.floor(Date.parse(iso) / 1000));
      expect(isoToSeconds(iso.slice(0, 10))).toBe(Date.parse(iso.slice(0, 10)) / 1000);
    }
  });
});
