/**
 * The audit log: hash-chained JSON lines (one object per line), so an edited, removed or reordered
 * record is detectable. A log cut short still verifies as a shorter chain: keep the head hash
 * (verifyAuditLog returns it) elsewhere to detect that. The log is not signed. Each record carries `seq`, `time`, its `kind`, its data, `prev` (the
 * previous record's hash, or 64 zeros) and `hash` = SHA-256 of the record's canonical JSON without
 * `hash`. It records what a review needs: device identity, image digest and manifest, each check,
 * each step, each device answer, the result (fwupd history / ESRT LastAttemptStatus in spirit).
 */
import { toHex } from '../bytes/hex.ts';
import { sha256WebCrypto } from '../crypto/sha256.ts';

export type AuditKind = 'session' | 'device' | 'image' | 'check' | 'step' | 'answer' | 'result' | 'note';

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

export class AuditLog {
  readonly #records: AuditRecord[] = [];
  readonly #clock: () => Date;
  #tail: Promise<void> = Promise.resolve();

  constructor(clock: () => Date = () => new Date()) {
    this.#clock = clock;
  }

  /** Appends a record (in call order, even when callers do not await). */
  add(kind: AuditKind, data: unknown): Promise<void> {
    this.#tail = this.#tail.then(async () => {
      const prev = this.#records.at(-1)?.hash ?? ZERO;
      // data goes through canonical JSON once, so what is hashed is exactly what is exported
      const body = { seq: this.#records.length, time: this.#clock().toISOString(), kind, data: JSON.parse(canonicalJson(data ?? null)) as unknown, prev };
      this.#records.push({ ...body, hash: await hashOf(body) });
    });
    return this.#tail;
  }

  async records(): Promise<readonly AuditRecord[]> {
    await this.#tail;
    return this.#records.slice();
  }

  /** JSON lines, one record per line. */
  async toJsonl(): Promise<string> {
    return (await this.records()).map((r) => canonicalJson(r)).join('\n') + '\n';
  }
}

export type AuditCheck = { ok: true; records: number; head: string } | { ok: false; line: number; reason: string };

/** Checks a JSON-lines audit log: each line parses, sequence numbers run 0.., each prev links, each hash matches. */
export async function verifyAuditLog(text: string): Promise<AuditCheck> {
  const lines = text.split('\n').filter((l) => l.length > 0);
  if (lines.length === 0) return { ok: false, line: 0, reason: 'the log is empty' };
  let prev = ZERO;
  for (const [i, line] of lines.entries()) {
    let r: AuditRecord;
    try {
      r = JSON.parse(line) as AuditRecord;
    } catch {
      return { ok: false, line: i + 1, reason: 'not JSON' };
    }
    if (typeof r !== 'object' || r === null || typeof r.hash !== 'string') return { ok: false, line: i + 1, reason: 'not an audit record' };
    if (r.seq !== i) return { ok: false, line: i + 1, reason: `sequence ${String(r.seq)} where ${i} was expected (a record was removed or reordered)` };
    if (r.prev !== prev) return { ok: false, line: i + 1, reason: 'prev does not match the previous record (the chain is broken)' };
    const { hash, ...body } = r;
    if ((await hashOf(body)) !== hash) return { ok: false, line: i + 1, reason: 'hash does not match the record (it was edited)' };
    prev = hash;
  }
  return { ok: true, records: lines.length, head: prev };
}
