/**
 * The signed image container, declared once. Both parse.ts and write.ts are driven by these
 * tables; docs/image-format.md describes the same layout for people.
 *
 *   header (16 B, signed) | manifest (TLV, signed) | signature block (strictly parsed) | payload
 *
 * Authentication material comes before the payload so that a device can authenticate the
 * manifest from the first few kilobytes and reject a foreign, unsigned or forbidden image before
 * the payload is sent; the payload is then checked against the signed digest as it streams
 * (the SUIT ordering, RFC 9124 REQ.SEC.IMG.COMPLETE_DIGEST). The signed message is exactly
 * header || manifest; the signature block is the one unsigned region and is an allow-list of
 * entry types, every byte of which is checked (secure-update-frameworks §7.4).
 */
import { ByteReader, formatFail } from '../bytes/reader.ts';
import type { ByteWriter } from '../bytes/writer.ts';
import { formatVersion, parseVersion } from './version.ts';

export const IMAGE_MAGIC = 'TFWI';
export const SIGBLOCK_MAGIC = 'TFSB';
/** Format v1: one SHA-256 over the whole payload (manifest tag 17). */
export const FORMAT_V1 = 1;
/** Format v2 (issue #13): the signed manifest carries the SHA-256 of every hash block (tags 19, 20). */
export const FORMAT_V2 = 2;
/** What `sign` writes unless asked for v1. */
export const FORMAT_VERSION = FORMAT_V2;
export const FORMAT_VERSIONS: readonly number[] = [FORMAT_V1, FORMAT_V2];
export const HEADER_SIZE = 16;

/**
 * Hash blocks (format v2): the payload is cut into blocks of `hashBlockSize` bytes (the last one
 * shorter when the payload is not a multiple), and the manifest signs the SHA-256 of each. 1 MiB by
 * default: per-block overhead is lost in the noise from 256 KiB up with Node's crypto and WebCrypto,
 * and WebCrypto's copy of its input starts to cost above 4 MiB (docs/image-format.md §13.2).
 */
export const HASH_BLOCK_DEFAULT = 1024 * 1024;
export const DIGEST_SIZE = 32;

/** Caps on every length (issue #2). A value over a cap is a format error naming the field. */
export const LIMITS = {
  /** Format v1's cap on header.manifestSize. */
  manifestMax: 64 * 1024,
  /** Format v2's cap: the v1 fields at their maxima (34 694 bytes) plus the largest table (64 KiB + 6). */
  manifestMaxV2: 128 * 1024,
  /** Smallest hash block: one flash sector, one DFU transfer. */
  hashBlockMin: 4 * 1024,
  /** Largest hash block: a device refuses a bad block at most this late. */
  hashBlockMax: 16 * 1024 * 1024,
  /** Most hash blocks: a table of at most 64 KiB, so 2 GiB needs blocks of at least 1 MiB. */
  hashBlocksMax: 2048,
  sigBlockMax: 1024 * 1024,
  signaturesMax: 16,
  certificatesMax: 8,
  chainBytesMax: 64 * 1024,
  cmsMax: 64 * 1024,
  signatureBytesMax: 1024,
  payloadMax: 2 * 1024 * 1024 * 1024,
} as const;

/** The manifest cap of each format version. */
export function manifestMaxOf(formatVersion: number): number {
  return formatVersion === FORMAT_V1 ? LIMITS.manifestMax : LIMITS.manifestMaxV2;
}

/** Largest possible prefix before the payload (either format): a reader of this many bytes can always parse the head. */
export const HEAD_MAX = HEADER_SIZE + LIMITS.manifestMaxV2 + LIMITS.sigBlockMax;
/** Largest possible image. */
export const IMAGE_MAX = HEAD_MAX + LIMITS.payloadMax;

/** Header fields, in order. Offsets are implied by order; sizes by type. */
export const HEADER_FIELDS = [
  { name: 'magic', offset: 0, size: 4 },
  { name: 'formatVersion', offset: 4, size: 2 },
  { name: 'headerSize', offset: 6, size: 2 },
  { name: 'manifestSize', offset: 8, size: 4 },
  { name: 'flags', offset: 12, size: 4 },
] as const;

// ---------------------------------------------------------------------------------------------
// Field codecs: each reads a whole TLV value (the reader holds exactly the value's bytes) and
// writes it back. Canonical encodings only, so write(parse(x)) equals x.

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

function stringCodec(max: number, opts: { printableAscii?: boolean; min?: number } = {}): Codec<string> {
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

function fixed<T>(kind: string, size: number, read: (r: ByteReader, field: string) => T, write: (w: ByteWriter, v: T) => void): Codec<T> {
  return {
    kind,
    read(r, field) {
      if (r.remaining !== size) formatFail(field, r.offset, `is ${r.remaining} bytes, expected ${size}`);
      return read(r, field);
    },
    write,
  };
}

const u32 = fixed<number>('u32', 4, (r, f) => r.u32(f), (w, v) => void w.u32(v));
const u64 = fixed<number>('u64', 8, (r, f) => r.u64(f), (w, v) => void w.u64(v));

/**
 * Security versions count anti-rollback fuses, and a NIC has SVN_MAX of them (issue #10, S1): a
 * larger value could never be fused, so the fused floor would stop below the running image and a
 * lower SVN would install. A value above the cap is a format error on both sides.
 */
export const SVN_MAX = 64;
const svn = fixed<number>(
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
const trueFlag = fixed<boolean>(
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
const bool = fixed<boolean>(
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
const version = fixed<string>('version', 6, readVersion, writeVersion);
const sha256 = fixed<Uint8Array>('sha256', 32, (r, f) => r.bytes(f, 32).slice(), (w, v) => void w.bytes(v));

function payloadSizeRead(r: ByteReader, f: string): number {
  const at = r.offset;
  const v = r.u64(f);
  if (v > LIMITS.payloadMax) formatFail(f, at, `${v} exceeds the ${LIMITS.payloadMax}-byte cap`);
  return v;
}
const payloadSize = fixed<number>('u64', 8, payloadSizeRead, (w, v) => void w.u64(v));

/** Tag 19: a power of two in hashBlockMin..hashBlockMax (each refusal says which rule). */
const hashBlockSize = fixed<number>(
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
const blockDigests: Codec<Uint8Array> = {
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
function fixedList<T>(item: Codec<T>, size: number, maxCount: number): Codec<T[]> {
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
function varList<T>(item: Codec<T>, maxCount: number): Codec<T[]> {
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

function blob(min: number, max: number): Codec<Uint8Array> {
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

function spkiItem(): Codec<Uint8Array> {
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

// ---------------------------------------------------------------------------------------------
// The manifest: TLV entries { tag u16, length u32, value }, tags strictly ascending, each at most
// once, unknown tags rejected (allow-list), required tags present.

export interface Manifest {
  vendor: string;
  product: string;
  psids: string[];
  deviceIds: number[];
  version: string;
  securityVersion: number;
  minSecurityVersion?: number | undefined;
  /** Seconds since the Unix epoch (UTC). */
  releaseDate: number;
  expires?: number | undefined;
  /**
   * Tag 10, reserved: earlier images carried an unenforced `sequence`. Parsed when present (an
   * optional u64) and ignored; `sign` never writes it (issue #10, S4).
   */
  sequence?: number | undefined;
  forbiddenVersions: string[];
  /** SubjectPublicKeyInfo DER of the keys the *next* image is checked with (key rotation). */
  nextKeys: Uint8Array[];
  secured: boolean;
  dev: boolean;
  releaseNotes?: string | undefined;
  payloadSize: number;
  /** Format v1 only: SHA-256 of the whole payload. */
  payloadSha256?: Uint8Array | undefined;
  /** Format v2 only: the hash-block size (a power of two). */
  hashBlockSize?: number | undefined;
  /** Format v2 only: SHA-256 of each hash block, concatenated (32 bytes per block). */
  blockDigests?: Uint8Array | undefined;
  /**
   * Tag 18: a deliberate last image. With it the image may leave the device with no key it can
   * verify a further update with (`nextKeys`, issue #10 S2); `sign` writes it only with
   * `--final-image`.
   */
  finalImage?: boolean | undefined;
}

interface ManifestField<K extends keyof Manifest = keyof Manifest> {
  readonly tag: number;
  readonly name: K;
  readonly codec: Codec<NonNullable<Manifest[K]>>;
  /** Required in the format versions that have the field. */
  readonly required: boolean;
  /** The format versions the field belongs to; in any other it is a format error. */
  readonly formats: readonly number[];
}

const BOTH = [FORMAT_V1, FORMAT_V2] as const;

function field<K extends keyof Manifest>(tag: number, name: K, codec: Codec<NonNullable<Manifest[K]>>, required: boolean, formats: readonly number[] = BOTH): ManifestField {
  return { tag, name, codec, required, formats } as unknown as ManifestField;
}

export const MANIFEST_FIELDS: readonly ManifestField[] = [
  field(1, 'vendor', stringCodec(64, { printableAscii: true }), true),
  field(2, 'product', stringCodec(64, { printableAscii: true }), true),
  field(3, 'psids', varList(stringCodec(16, { printableAscii: true }), 64), true),
  field(4, 'deviceIds', fixedList(u32, 4, 64), false),
  field(5, 'version', version, true),
  field(6, 'securityVersion', svn, true),
  field(7, 'minSecurityVersion', svn, false),
  field(8, 'releaseDate', u64, true),
  field(9, 'expires', u64, false),
  field(10, 'sequence', u64, false),
  field(11, 'forbiddenVersions', fixedList(version, 6, 32), false),
  field(12, 'nextKeys', varList(spkiItem(), 8), false),
  field(13, 'secured', bool, true),
  field(14, 'dev', bool, true),
  field(15, 'releaseNotes', stringCodec(16 * 1024), false),
  field(16, 'payloadSize', payloadSize, true),
  field(17, 'payloadSha256', sha256, true, [FORMAT_V1]),
  field(18, 'finalImage', { ...trueFlag, isEmpty: (v: boolean) => !v }, false),
  field(19, 'hashBlockSize', hashBlockSize, true, [FORMAT_V2]),
  field(20, 'blockDigests', blockDigests, true, [FORMAT_V2]),
];

/** Manifest list fields that default to [] when absent. */
export const MANIFEST_LISTS = ['deviceIds', 'forbiddenVersions', 'nextKeys'] as const;

// ---------------------------------------------------------------------------------------------
// The signature block: magic, blockSize (u32, includes these 8 bytes), then entries
// { type u16, reserved u16 = 0, length u32, value }.

export const SIG_ENTRY = {
  SIGNATURE: 1,
  CERTIFICATE: 2,
  CMS: 3,
} as const;
export type SigEntryType = (typeof SIG_ENTRY)[keyof typeof SIG_ENTRY];
export const SIG_ENTRY_NAMES: Record<number, string> = { 1: 'signature', 2: 'certificate', 3: 'cms' };

/** Signature algorithms, by their wire number. RSA key size comes from the key. */
export const SIG_ALG = {
  RSA_PKCS1_SHA256: 1,
  ECDSA_P256_SHA256: 2,
  ED25519: 3,
} as const;
export type SigAlg = (typeof SIG_ALG)[keyof typeof SIG_ALG];
export const SIG_ALG_NAMES: Record<number, string> = {
  1: 'RSASSA-PKCS1-v1_5/SHA-256',
  2: 'ECDSA-P256/SHA-256',
  3: 'Ed25519',
};

export const KEY_ID_SIZE = 32;
/** Value header of a SIGNATURE entry: alg u16, reserved u16, keyId[32]. */
export const SIGNATURE_HEAD = 4 + KEY_ID_SIZE;

export type SigEntry =
  | { type: typeof SIG_ENTRY.SIGNATURE; alg: number; keyId: Uint8Array; signature: Uint8Array }
  | { type: typeof SIG_ENTRY.CERTIFICATE; der: Uint8Array }
  | { type: typeof SIG_ENTRY.CMS; der: Uint8Array };
