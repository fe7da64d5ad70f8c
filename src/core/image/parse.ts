/**
 * Parsing the signed image: total and bounded. Any byte string yields an image or a typed
 * {@link FormatError} naming the field and its offset; nothing here throws for bad input, loops on
 * an unchecked length, or allocates more than the caps in layout.ts allow.
 */
import { ByteReader, FormatFailure, formatFail, type FormatError } from '../bytes/reader.ts';
import { hashBlockCount } from './hash-blocks.ts';
import {
  DIGEST_SIZE,
  FORMAT_V1,
  FORMAT_VERSIONS,
  HEADER_SIZE,
  IMAGE_MAGIC,
  KEY_ID_SIZE,
  LIMITS,
  MANIFEST_FIELDS,
  MANIFEST_LISTS,
  manifestMaxOf,
  SIG_ALG_NAMES,
  SIG_ENTRY,
  SIG_ENTRY_NAMES,
  SIGBLOCK_MAGIC,
  SIGNATURE_HEAD,
  type Manifest,
  type SigEntry,
} from './layout.ts';
import { formatFailed, type FormatFailed, type Ok } from '../bytes/result.ts';

export type { FormatError } from '../bytes/reader.ts';
export type ParseResult<T> = Ok<T> | FormatFailed;

/** Everything before the payload, plus where each region lies. */
export interface ImageHead {
  readonly formatVersion: number;
  readonly manifest: Manifest;
  readonly entries: readonly SigEntry[];
  readonly manifestOffset: number;
  readonly manifestSize: number;
  readonly sigBlockOffset: number;
  readonly sigBlockSize: number;
  readonly payloadOffset: number;
  readonly payloadSize: number;
  /** Bytes [0, signedLength) — header and manifest — are what every signature covers. */
  readonly signedLength: number;
  readonly totalSize: number;
}

export interface ParsedImage extends ImageHead {
  /** The exact bytes parsed (the caller's buffer, not a copy). */
  readonly bytes: Uint8Array;
  /** header || manifest: a view of `bytes`. */
  readonly signed: Uint8Array;
  /** A view of `bytes`. */
  readonly payload: Uint8Array;
}

function magicOf(r: ByteReader, field: string, expected: string): void {
  const at = r.offset;
  const got = r.bytes(field, 4);
  for (let i = 0; i < 4; i++) {
    if (got[i] !== expected.charCodeAt(i)) {
      const shown = Array.from(got, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
      formatFail(field, at, `is "${shown}", expected "${expected}" (not a TrustFlash image)`);
    }
  }
}

function parseHeader(r: ByteReader): { formatVersion: number; manifestSize: number } {
  magicOf(r, 'header.magic', IMAGE_MAGIC);
  let at = r.offset;
  const formatVersion = r.u16('header.formatVersion');
  if (!FORMAT_VERSIONS.includes(formatVersion)) formatFail('header.formatVersion', at, `is ${formatVersion}, this reader understands ${FORMAT_VERSIONS.join(' and ')}`);
  at = r.offset;
  const headerSize = r.u16('header.headerSize');
  if (headerSize !== HEADER_SIZE) formatFail('header.headerSize', at, `is ${headerSize}, expected ${HEADER_SIZE}`);
  at = r.offset;
  const manifestSize = r.u32('header.manifestSize');
  const manifestMax = manifestMaxOf(formatVersion);
  if (manifestSize === 0 || manifestSize > manifestMax) {
    formatFail('header.manifestSize', at, `${manifestSize} is outside 1..${manifestMax}`);
  }
  at = r.offset;
  const flags = r.u32('header.flags');
  if (flags !== 0) formatFail('header.flags', at, `is 0x${flags.toString(16)}, reserved bits must be zero`);
  return { formatVersion, manifestSize };
}

function parseManifest(r: ByteReader, formatVersion: number): Manifest {
  const out: Record<string, unknown> = {};
  let lastTag = 0;
  let tableAt = 0;
  while (r.remaining > 0) {
    const at = r.offset;
    const tag = r.u16('manifest.tag');
    const def = MANIFEST_FIELDS.find((f) => f.tag === tag);
    if (!def) formatFail('manifest.tag', at, `unknown tag ${tag}`);
    if (!def.formats.includes(formatVersion)) {
      const why = def.name === 'payloadSha256' ? ' (the hash-block table, tags 19 and 20, replaces it)' : '';
      formatFail(`manifest.${def.name}`, at, `tag ${tag} is not part of format v${formatVersion}${why}`);
    }
    if (tag <= lastTag) formatFail(`manifest.${def.name}`, at, `tag ${tag} is out of order or repeated (after ${lastTag})`);
    lastTag = tag;
    const len = r.u32(`manifest.${def.name}.length`);
    const value = r.sub(`manifest.${def.name}`, len);
    if (def.name === 'blockDigests') tableAt = value.offset;
    out[def.name] = def.codec.read(value, `manifest.${def.name}`);
    value.expectEnd(`manifest.${def.name}`);
  }
  for (const f of MANIFEST_FIELDS) {
    if (f.required && f.formats.includes(formatVersion) && !(f.name in out)) formatFail(`manifest.${f.name}`, r.offset, 'required field is missing');
  }
  for (const name of MANIFEST_LISTS) out[name] ??= [];
  const m = out as unknown as Manifest;
  if (formatVersion !== FORMAT_V1) {
    // The table must cover the payload exactly: one digest per block, the last block short (§13.1)
    const size = m.payloadSize;
    const block = m.hashBlockSize!;
    const needed = hashBlockCount(size, block);
    const got = m.blockDigests!.length / DIGEST_SIZE;
    if (got !== needed) {
      const cap = needed > LIMITS.hashBlocksMax ? `, more than the ${LIMITS.hashBlocksMax}-block cap: sign with hash blocks of at least ${2 ** Math.ceil(Math.log2(size / LIMITS.hashBlocksMax))} bytes` : '';
      formatFail('manifest.blockDigests', tableAt, `has ${got} digest${got === 1 ? '' : 's'}; a ${size}-byte payload in ${block}-byte hash blocks needs ${needed}${cap}`);
    }
  }
  return m;
}

function parseSigBlock(r: ByteReader): SigEntry[] {
  const entries: SigEntry[] = [];
  let signatures = 0;
  let certificates = 0;
  let chainBytes = 0;
  while (r.remaining > 0) {
    const name = `signatures.entry[${entries.length}]`;
    let at = r.offset;
    const type = r.u16(`${name}.type`);
    if (!(type in SIG_ENTRY_NAMES)) formatFail(`${name}.type`, at, `unknown entry type ${type}`);
    at = r.offset;
    const reserved = r.u16(`${name}.reserved`);
    if (reserved !== 0) formatFail(`${name}.reserved`, at, 'must be zero');
    const len = r.u32(`${name}.length`);
    const v = r.sub(name, len);
    if (type === SIG_ENTRY.SIGNATURE || type === SIG_ENTRY.CMS) {
      if (++signatures > LIMITS.signaturesMax) formatFail(name, at, `more than ${LIMITS.signaturesMax} signatures`);
    }
    if (type === SIG_ENTRY.SIGNATURE) {
      if (len < SIGNATURE_HEAD + 1 || len > SIGNATURE_HEAD + LIMITS.signatureBytesMax) {
        formatFail(`${name}.length`, v.offset, `${len} is outside ${SIGNATURE_HEAD + 1}..${SIGNATURE_HEAD + LIMITS.signatureBytesMax}`);
      }
      at = v.offset;
      const alg = v.u16(`${name}.algorithm`);
      if (!(alg in SIG_ALG_NAMES)) formatFail(`${name}.algorithm`, at, `unknown signature algorithm ${alg}`);
      at = v.offset;
      if (v.u16(`${name}.reserved`) !== 0) formatFail(`${name}.reserved`, at, 'must be zero');
      const keyId = v.bytes(`${name}.keyId`, KEY_ID_SIZE).slice();
      const signature = v.bytes(`${name}.signature`, v.remaining).slice();
      entries.push({ type, alg, keyId, signature });
    } else if (type === SIG_ENTRY.CERTIFICATE) {
      if (++certificates > LIMITS.certificatesMax) formatFail(name, at, `more than ${LIMITS.certificatesMax} certificates`);
      chainBytes += len;
      if (len === 0 || chainBytes > LIMITS.chainBytesMax) formatFail(`${name}.length`, v.offset, `certificate chain exceeds ${LIMITS.chainBytesMax} bytes or is empty`);
      entries.push({ type, der: v.bytes(name, len).slice() });
    } else {
      if (len === 0 || len > LIMITS.cmsMax) formatFail(`${name}.length`, v.offset, `${len} is outside 1..${LIMITS.cmsMax}`);
      entries.push({ type: SIG_ENTRY.CMS, der: v.bytes(name, len).slice() });
    }
    v.expectEnd(name);
  }
  return entries;
}

function run<T>(fn: () => T): ParseResult<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (e instanceof FormatFailure) return formatFailed(e.error);
    throw e; // a bug in this module, not bad input
  }
}

/**
 * Parses everything before the payload from `prefix` (the first bytes of the image; at least
 * HEAD_MAX bytes or the whole image) and checks the regions against the image's `totalSize`:
 * no overlap, no gap, no trailing bytes.
 */
export function parseImageHead(prefix: Uint8Array, totalSize: number): ParseResult<ImageHead> {
  return run(() => {
    const r = new ByteReader(prefix);
    if (totalSize < HEADER_SIZE) formatFail('header', 0, `file is ${totalSize} byte${totalSize === 1 ? '' : 's'}, shorter than the ${HEADER_SIZE}-byte header`);
    const { formatVersion, manifestSize } = parseHeader(r);
    const manifestOffset = HEADER_SIZE;
    if (manifestOffset + manifestSize > totalSize) {
      formatFail('manifest', manifestOffset, `declares ${manifestSize} bytes but the file ends at ${totalSize} (truncated)`);
    }
    const manifest = parseManifest(r.sub('manifest', manifestSize), formatVersion);
    const sigBlockOffset = manifestOffset + manifestSize;
    magicOf(r, 'signatures.magic', SIGBLOCK_MAGIC);
    const at = r.offset;
    const sigBlockSize = r.u32('signatures.blockSize');
    if (sigBlockSize < 8 || sigBlockSize > LIMITS.sigBlockMax) formatFail('signatures.blockSize', at, `${sigBlockSize} is outside 8..${LIMITS.sigBlockMax}`);
    if (sigBlockOffset + sigBlockSize > totalSize) {
      formatFail('signatures', sigBlockOffset, `declares ${sigBlockSize} bytes but the file ends at ${totalSize} (truncated)`);
    }
    const entries = parseSigBlock(r.sub('signatures', sigBlockSize - 8));
    const payloadOffset = sigBlockOffset + sigBlockSize;
    const payloadSize = manifest.payloadSize;
    const expected = payloadOffset + payloadSize;
    if (totalSize < expected) formatFail('payload', payloadOffset, `manifest declares ${payloadSize} bytes but only ${totalSize - payloadOffset} follow (truncated)`);
    if (totalSize > expected) formatFail('payload', expected, `${totalSize - expected} trailing bytes after the payload are covered by no signature`);
    return {
      formatVersion,
      manifest,
      entries,
      manifestOffset,
      manifestSize,
      sigBlockOffset,
      sigBlockSize,
      payloadOffset,
      payloadSize,
      signedLength: manifestOffset + manifestSize,
      totalSize,
    };
  });
}

/** Parses a whole image held in memory. The result's views point into `bytes`. */
export function parseImage(bytes: Uint8Array): ParseResult<ParsedImage> {
  const head = parseImageHead(bytes, bytes.length);
  if (!head.ok) return head;
  const h = head.value;
  return {
    ok: true,
    value: {
      ...h,
      bytes,
      signed: bytes.subarray(0, h.signedLength),
      payload: bytes.subarray(h.payloadOffset, h.payloadOffset + h.payloadSize),
    },
  };
}

/** One-line text for a format error, as a person reads it. */
export function describeFormatError(e: FormatError): string {
  return `${e.field} (offset ${e.offset}): ${e.message}`;
}
