/**
 * The manifest's field codecs: each reads a whole TLV value (the reader holds exactly the value's
 * bytes) and writes it back, canonical encodings only, so write(parse(x)) equals x. The manifest
 * table in layout.ts names a codec per tag.
 */
import { ByteReader, formatFail } from '../bytes/reader.ts';
import type { ByteWriter } from '../bytes/writer.ts';
import { formatVersion, parseVersion } from './version.ts';
import { DIGEST_SIZE, LIMITS } from './limits.ts';


export interface Codec<T> {
  readonly kind: string;
  read(r: ByteReader, field: string): T;
  write(w: ByteWriter, value: T): void;
  /** Optional lists are omitted when empty; a present list must be non-empty (one encoding per value). */
  isEmpty?(value: T): boolean;
}

const PRINTABLE = /^[\x20-\x7e]*$/;
/**
 * Release notes (issue #10, S5): C0 controls other than TAB, LF and CR, DEL, the C1 controls
 * U+0080–U+009F and the bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069)
 * are refused, so text from a signed file can neither drive a terminal nor reorder what a person
 * reads. The device's parser refuses the same set (docs/image-format.md §3.3).
 */
export const RELEASE_NOTES_FORBIDDEN = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/u;
const TEXT_CONTROLS = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
const enc = new TextEncoder();

export function stringCodec(max: number, opts: { printableAscii?: boolean; min?: number } = {}): Codec<string> {
  const min = opts.min ?? 1;
  return {
    kind: `string(${min}..${max})`,
    read(r, field) {
      const at = r.offset;
      if (r.remaining < min || r.remaining > max) formatFail(field, at, `length ${r.remaining} is outside ${min}..${max}`);
      const s = r.utf8(field, r.remaining);
      if (opts.printableAscii ? !PRINTABLE.test(s) : TEXT_CONTROLS.test(s)) formatFail(field, at, 'contains control characters');
      if (!opts.printableAscii && RELEASE_NOTES_FORBIDDEN.test(s)) formatFail(field, at, 'contains C1 control or bidirectional formatting characters');
      return s;
    },
    write(w, v) {
      w.bytes(enc.encode(v));
    },
  };
}

export function fixed<T>(kind: string, size: number, read: (r: ByteReader, field: string) => T, write: (w: ByteWriter, v: T) => void): Codec<T> {
  return {
    kind,
    read(r, field) {
      if (r.remaining !== size) formatFail(field, r.offset, `is ${r.remaining} bytes, expected ${size}`);
      return read(r, field);
    },
    write,
  };
}

export const u32 = fixed<number>('u32', 4, (r, f) => r.u32(f), (w, v) => void w.u32(v));
export const u64 = fixed<number>('u64', 8, (r, f) => r.u64(f), (w, v) => void w.u64(v));

/**
 * Security versions count anti-rollback fuses, and a NIC has SVN_MAX of them (issue #10, S1): a
 * larger value could never be fused, so the fused floor would stop below the running image and a
 * lower SVN would install. A value above the cap is a format error on both sides.
 */
export const SVN_MAX = 64;
export const svn = fixed<number>(
  'u32',
  4,
  (r, f) => {
    const at = r.offset;
    const v = r.u32(f);
    if (v > SVN_MAX) formatFail(f, at, `${v} exceeds ${SVN_MAX}, the number of anti-rollback fuses`);
    return v;
  },
  (w, v) => void w.u32(v),
);
/** A flag whose only encoding is 1: absent means false (one encoding per value). */
export const trueFlag = fixed<boolean>(
  'true',
  1,
  (r, f) => {
    const at = r.offset;
    const b = r.u8(f);
    if (b !== 1) formatFail(f, at, `is ${b}, expected 1 (omit the field for false)`);
    return true;
  },
  (w) => void w.u8(1),
);
export const bool = fixed<boolean>(
  'bool',
  1,
  (r, f) => {
    const at = r.offset;
    const b = r.u8(f);
    if (b > 1) formatFail(f, at, `is ${b}, expected 0 or 1`);
    return b === 1;
  },
  (w, v) => void w.u8(v ? 1 : 0),
);

function readVersion(r: ByteReader, f: string): string {
  return formatVersion([r.u16(f), r.u16(f), r.u16(f)]);
}
function writeVersion(w: ByteWriter, v: string): void {
  const t = parseVersion(v);
  if (!t) throw new TypeError(`"version" expected M.m.s, got ${JSON.stringify(v)}`);
  w.u16(t[0]).u16(t[1]).u16(t[2]);
}
export const version = fixed<string>('version', 6, readVersion, writeVersion);
export const sha256 = fixed<Uint8Array>('sha256', 32, (r, f) => r.bytes(f, 32).slice(), (w, v) => void w.bytes(v));

function payloadSizeRead(r: ByteReader, f: string): number {
  const at = r.offset;
  const v = r.u64(f);
  if (v > LIMITS.payloadMax) formatFail(f, at, `${v} exceeds the ${LIMITS.payloadMax}-byte cap`);
  return v;
}
export const payloadSize = fixed<number>('u64', 8, payloadSizeRead, (w, v) => void w.u64(v));

/** Tag 19: a power of two in hashBlockMin..hashBlockMax (each refusal says which rule). */
export const hashBlockSize = fixed<number>(
  'u32',
  4,
  (r, f) => {
    const at = r.offset;
    const v = r.u32(f);
    if (v === 0) formatFail(f, at, 'is 0, expected a power of two');
    if ((v & (v - 1)) !== 0) formatFail(f, at, `${v} is not a power of two`);
    if (v < LIMITS.hashBlockMin || v > LIMITS.hashBlockMax) formatFail(f, at, `${v} is outside ${LIMITS.hashBlockMin}..${LIMITS.hashBlockMax}`);
    return v;
  },
  (w, v) => void w.u32(v),
);

/**
 * Tag 20: the SHA-256 of every hash block, in payload order, concatenated (a flat table; why not
 * a Merkle tree: docs/image-format.md §13.3). Whether the count fits the payload is checked once
 * the manifest is read (parse.ts), since it depends on tags 16 and 19. Empty only for an empty payload.
 */
export const blockDigests: Codec<Uint8Array> = {
  kind: `sha256[0..${LIMITS.hashBlocksMax}]`,
  read(r, field) {
    const at = r.offset;
    if (r.remaining % DIGEST_SIZE !== 0) formatFail(field, at, `length ${r.remaining} is not a multiple of ${DIGEST_SIZE}`);
    const count = r.remaining / DIGEST_SIZE;
    if (count > LIMITS.hashBlocksMax) formatFail(field, at, `has ${count} digests, at most ${LIMITS.hashBlocksMax} allowed`);
    return r.bytes(field, r.remaining).slice();
  },
  write(w, v) {
    w.bytes(v);
  },
};

/** A list of fixed-size items. */
export function fixedList<T>(item: Codec<T>, size: number, maxCount: number): Codec<T[]> {
  return {
    kind: `${item.kind}[1..${maxCount}]`,
    read(r, field) {
      const at = r.offset;
      if (r.remaining === 0 || r.remaining % size !== 0) formatFail(field, at, `length ${r.remaining} is not a non-zero multiple of ${size}`);
      const count = r.remaining / size;
      if (count > maxCount) formatFail(field, at, `has ${count} entries, at most ${maxCount} allowed`);
      const out: T[] = [];
      for (let i = 0; i < count; i++) out.push(item.read(r.sub(`${field}[${i}]`, size), `${field}[${i}]`));
      return out;
    },
    write(w, v) {
      for (const x of v) item.write(w, x);
    },
    isEmpty: (v) => v.length === 0,
  };
}

/** A list of length-prefixed (u16) items. */
export function varList<T>(item: Codec<T>, maxCount: number): Codec<T[]> {
  return {
    kind: `${item.kind}[1..${maxCount}]`,
    read(r, field) {
      const out: T[] = [];
      if (r.remaining === 0) formatFail(field, r.offset, 'is an empty list (omit the field instead)');
      while (r.remaining > 0) {
        const name = `${field}[${out.length}]`;
        if (out.length === maxCount) formatFail(field, r.offset, `has more than ${maxCount} entries`);
        const len = r.u16(`${name}.length`);
        out.push(item.read(r.sub(name, len), name));
      }
      return out;
    },
    write(w, v) {
      for (const x of v) {
        const at = w.length;
        w.u16(0);
        item.write(w, x);
        w.patchU16(at, w.length - at - 2);
      }
    },
    isEmpty: (v) => v.length === 0,
  };
}

export function blob(min: number, max: number): Codec<Uint8Array> {
  return {
    kind: `bytes(${min}..${max})`,
    read(r, field) {
      if (r.remaining < min || r.remaining > max) formatFail(field, r.offset, `length ${r.remaining} is outside ${min}..${max}`);
      return r.bytes(field, r.remaining).slice();
    },
    write(w, v) {
      w.bytes(v);
    },
  };
}

/**
 * One DER element header at `at` within [at, end): its tag, where its contents start and their
 * length; undefined unless the length is definite and minimal (X.690 §10.1) and fits before `end`.
 */
function derElement(b: Uint8Array, at: number, end: number): { tag: number; start: number; len: number } | undefined {
  if (end - at < 2) return undefined;
  const tag = b[at]!;
  const first = b[at + 1]!;
  let len: number;
  let start = at + 2;
  if (first < 0x80) len = first;
  else {
    const n = first & 0x7f;
    // 0x80 is the indefinite form; more than 3 length octets is beyond any 2048-byte item
    if (n === 0 || n > 3 || end - start < n || b[start] === 0) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
    if (len < 0x80) return undefined; // the short form should have been used
    start += n;
  }
  if (len > end - start) return undefined;
  return { tag, start, len };
}

/**
 * The shape every `nextKeys` item must have (issue #10, S2), checked here and by the device alike:
 * SEQUENCE { SEQUENCE { OBJECT IDENTIFIER [, one parameters element] }, BIT STRING }, definite
 * minimal lengths, nothing trailing at any level. Which keys a device can *use* is a separate
 * question (verify-image.ts `nextKeys` check).
 */
export function isSpkiShape(der: Uint8Array): boolean {
  const spki = derElement(der, 0, der.length);
  if (!spki || spki.tag !== 0x30 || spki.start + spki.len !== der.length) return false;
  const alg = derElement(der, spki.start, der.length);
  if (!alg || alg.tag !== 0x30) return false;
  const algEnd = alg.start + alg.len;
  const oid = derElement(der, alg.start, algEnd);
  if (!oid || oid.tag !== 0x06 || oid.len === 0) return false;
  let p = oid.start + oid.len;
  if (p < algEnd) {
    const params = derElement(der, p, algEnd);
    if (!params) return false;
    p = params.start + params.len;
  }
  if (p !== algEnd) return false;
  const bits = derElement(der, algEnd, der.length);
  if (!bits || bits.tag !== 0x03 || bits.len === 0) return false;
  return bits.start + bits.len === der.length;
}

export function spkiItem(): Codec<Uint8Array> {
  const raw = blob(1, 2048);
  return {
    kind: 'spki',
    read(r, field) {
      const at = r.offset;
      const v = raw.read(r, field);
      if (!isSpkiShape(v)) formatFail(field, at, 'is not a well-formed DER SubjectPublicKeyInfo');
      return v;
    },
    write: raw.write,
  };
}

