/**
 * The audit log: hash-chained JSON lines (one object per line), so an edited, removed or reordered
 * record is detectable, and every line must be the canonical encoding of its record, so any changed
 * byte is. A log cut after a complete record is a shorter valid chain: the head hash (printed when
 * the log is written) detects that when it is kept elsewhere. The log is not signed. Each record carries `seq`, `time`, its `kind`, its data, `prev` (the
 * previous record's hash, or 64 zeros) and `hash` = SHA-256 of the record's canonical JSON without
 * `hash`. It records what a review needs: device identity, image digest and manifest, each check,
 * each step, each device answer, the result (fwupd history / ESRT LastAttemptStatus in spirit).
 * A log can resume from stored records (`AuditLog.resume`): only a stored log that verifies is
 * continued, so seq and prev run on across page loads and a damaged log is never silently extended.
 */
import { toHex } from '../bytes/hex.ts';
import { sha256WebCrypto } from '../crypto/sha256.ts';
import type { Failed } from '../bytes/result.ts';

export type AuditKind = 'session' | 'device' | 'image' | 'check' | 'override' | 'step' | 'answer' | 'result' | 'note' | 'receipt';

export interface AuditRecord {
  readonly seq: number;
  readonly time: string;
  readonly kind: AuditKind;
  readonly data: unknown;
  readonly prev: string;
  readonly hash: string;
}

const ZERO = '0'.repeat(64);
const enc = new TextEncoder();

/** JSON with object keys sorted and bytes as hex, so the hash does not depend on key order. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (v instanceof Uint8Array) return JSON.stringify(toHex(v));
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

async function hashOf(r: Omit<AuditRecord, 'hash'>): Promise<string> {
  return toHex(await sha256WebCrypto(enc.encode(canonicalJson(r))));
}

export interface AuditLogOptions {
  /**
   * Called with each new record and its JSON line, in order, before `add` resolves (where a
   * persistent log writes it). A failure is the callback's to report: the record stays in the log.
   */
  readonly onRecord?: (record: AuditRecord, line: string) => Promise<void> | void;
}

export type AuditResume = { ok: true; log: AuditLog; records: number } | Extract<AuditCheck, { ok: false }>;

export class AuditLog {
  readonly #records: AuditRecord[] = [];
  readonly #clock: () => Date;
  readonly #onRecord: AuditLogOptions['onRecord'];
  #tail: Promise<void> = Promise.resolve();

  constructor(clock: () => Date = () => new Date(), opts: AuditLogOptions = {}) {
    this.#clock = clock;
    this.#onRecord = opts.onRecord;
  }

  /**
   * A log that continues `text` (JSON lines, as `toJsonl` wrote them): the next record's seq
   * follows the last stored one and its prev is that record's hash. A stored log that fails
   * `verifyAuditLog` is refused (the caller keeps it aside and starts a new chain), never extended.
   * An empty text is a new log.
   */
  static async resume(text: string, clock?: () => Date, opts: AuditLogOptions = {}): Promise<AuditResume> {
    const log = new AuditLog(clock, opts);
    if (text === '') return { ok: true, log, records: 0 };
    const check = await verifyAuditLog(text);
    if (!check.ok) return check;
    for (const line of text.split('\n')) if (line) log.#records.push(JSON.parse(line) as AuditRecord);
    return { ok: true, log, records: check.records };
  }

  /** Appends a record (in call order, even when callers do not await). */
  add(kind: AuditKind, data: unknown): Promise<void> {
    this.#tail = this.#tail.then(async () => {
      const prev = this.#records.at(-1)?.hash ?? ZERO;
      // data goes through canonical JSON once, so what is hashed is exactly what is exported
      const body = { seq: this.#records.length, time: this.#clock().toISOString(), kind, data: JSON.parse(canonicalJson(data ?? null)) as unknown, prev };
      const record = { ...body, hash: await hashOf(body) };
      this.#records.push(record);
      // a failed write must not stop the chain in memory: onRecord reports its own failures
      try {
        await this.#onRecord?.(record, canonicalJson(record));
      } catch {
        // reported by the callback; the record stays in the log
      }
    });
    return this.#tail;
  }

  async records(): Promise<readonly AuditRecord[]> {
    await this.#tail;
    return this.#records.slice();
  }

  /** The hash of the last record (64 zeros for an empty log): keep it apart from the log to detect a cut. */
  async head(): Promise<string> {
    return (await this.records()).at(-1)?.hash ?? ZERO;
  }

  /** JSON lines, one record per line. */
  async toJsonl(): Promise<string> {
    return (await this.records()).map((r) => canonicalJson(r)).join('\n') + '\n';
  }
}

/** A log that does not check: the line where it breaks (0: the log is empty, `empty` says so). */
export type AuditCheck = { ok: true; records: number; head: string } | Failed<{ line: number; empty?: true }>;

const RECORD_KEYS = ['data', 'hash', 'kind', 'prev', 'seq', 'time'];
const KINDS: ReadonlySet<string> = new Set<AuditKind>(['session', 'device', 'image', 'check', 'override', 'step', 'answer', 'result', 'note', 'receipt']);
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Checks a JSON-lines audit log byte for byte. Each line must be exactly the canonical encoding of
 * its record (so a duplicated key that `JSON.parse` would silently accept, re-ordered keys, extra
 * spaces, another escape for the same character or a stray `\r` are all caught); lines end with
 * one `\n`, the last one too, with no blank line; sequence numbers run 0.., each `prev` links and
 * each `hash` matches. With `expectedHead` (the head printed when the log was written), a log cut
 * after a complete record is caught too: its head differs.
 */
export async function verifyAuditLog(text: string, expectedHead?: string): Promise<AuditCheck> {
  if (text.length === 0) return { ok: false, line: 0, empty: true, reason: 'the log is empty' };
  const lines = text.split('\n');
  const last = lines.pop();
  if (last !== '') return { ok: false, line: lines.length + 1, reason: 'the last line does not end with a line feed (the log was cut or appended to)' };
  let prev = ZERO;
  for (const [i, line] of lines.entries()) {
    const at = { ok: false as const, line: i + 1 };
    if (line.length === 0) return { ...at, reason: 'a blank line (every line must be one record)' };
    let r: AuditRecord;
    try {
      r = JSON.parse(line) as AuditRecord;
    } catch {
      return { ...at, reason: `not JSON${line.includes('\r') ? ' (it holds a carriage return)' : ''}` };
    }
    if (typeof r !== 'object' || r === null || Array.isArray(r)) return { ...at, reason: 'not an audit record' };
    const keys = Object.keys(r).sort();
    if (keys.length !== RECORD_KEYS.length || keys.some((k, j) => k !== RECORD_KEYS[j])) return { ...at, reason: `not an audit record: it has the fields ${keys.join(', ')}, expected ${RECORD_KEYS.join(', ')}` };
    if (!Number.isSafeInteger(r.seq) || typeof r.time !== 'string' || !KINDS.has(r.kind) || typeof r.prev !== 'string' || !HEX64.test(r.hash)) return { ...at, reason: 'not an audit record: a field has the wrong type' };
    if (canonicalJson(r) !== line) return { ...at, reason: 'the line is not the canonical encoding of its record (a duplicated key, re-ordered keys, spacing, an escape or a carriage return was changed)' };
    if (r.seq !== i) return { ...at, reason: `sequence ${String(r.seq)} where ${i} was expected (a record was removed or reordered)` };
    if (r.prev !== prev) return { ...at, reason: 'prev does not match the previous record (the chain is broken)' };
    const { hash, ...body } = r;
    if ((await hashOf(body)) !== hash) return { ...at, reason: 'hash does not match the record (it was edited)' };
    prev = hash;
  }
  if (expectedHead !== undefined && expectedHead.toLowerCase() !== prev) {
    return { ok: false, line: lines.length, reason: `the head is ${prev}, not the expected ${expectedHead.toLowerCase()} (records were cut from the end, or this is another log)` };
  }
  return { ok: true, records: lines.length, head: prev };
}
