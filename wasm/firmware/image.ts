// The device's own parser of the signed image head (docs/image-format.md), written for the device
// and sharing nothing with the host's src/core: header, manifest TLVs and signature block, every
// length checked before use. It records where things are (offsets into the head buffer) rather than
// copying them. A head that does not parse is REJECTED_BAD_FORMAT.

import { le16, le32 } from './mem';
import { spkiWellFormed } from './spki-shape';

export const HEADER_SIZE: u32 = 16;
/** Format v1: one SHA-256 over the payload (tag 17). */
export const FORMAT_V1: u32 = 1;
/** Format v2: the SHA-256 of every hash block in the signed manifest (tags 19, 20; image-format.md §13). */
export const FORMAT_V2: u32 = 2;
/** The manifest cap of format v1, and of v2 (v1's fields at their maxima plus the largest table). */
export const MANIFEST_MAX_V1: u32 = 65536;
export const MANIFEST_MAX: u32 = 131072;
export const SIGBLOCK_MAX: u32 = 1048576;
export const HEAD_MAX: u32 = HEADER_SIZE + MANIFEST_MAX + SIGBLOCK_MAX;
export const PAYLOAD_MAX: u32 = 0x80000000;
/** Hash blocks: a power of two in 4 KiB..16 MiB, at most 2048 of them (a 64 KiB table). */
export const HASH_BLOCK_MIN: u32 = 4096;
export const HASH_BLOCK_MAX: u32 = 16777216;
export const HASH_BLOCKS_MAX: u32 = 2048;

const MAGIC_IMAGE: u32 = 0x49574654; // "TFWI" little-endian
const MAGIC_SIGBLOCK: u32 = 0x42534654; // "TFSB"

// Manifest tags (layout.ts on the host; numbered identically by the format, not by shared code).
const T_VENDOR: u32 = 1;
const T_PRODUCT: u32 = 2;
const T_PSIDS: u32 = 3;
const T_DEVICE_IDS: u32 = 4;
const T_VERSION: u32 = 5;
const T_SVN: u32 = 6;
const T_MIN_SVN: u32 = 7;
const T_RELEASE: u32 = 8;
const T_EXPIRES: u32 = 9;
const T_SEQUENCE: u32 = 10;
const T_FORBIDDEN: u32 = 11;
const T_NEXT_KEYS: u32 = 12;
const T_SECURED: u32 = 13;
const T_DEV: u32 = 14;
const T_NOTES: u32 = 15;
const T_PAYLOAD_SIZE: u32 = 16;
const T_PAYLOAD_SHA: u32 = 17;
const T_FINAL_IMAGE: u32 = 18;
const T_HASH_BLOCK_SIZE: u32 = 19;
const T_BLOCK_DIGESTS: u32 = 20;
const T_LAST: u32 = T_BLOCK_DIGESTS;
// Tag 10 (sequence) is no longer required: it was never enforced, and is ignored when present (hardening spec S4).
const REQUIRED_BOTH: u32 = (1 << T_VENDOR) | (1 << T_PRODUCT) | (1 << T_PSIDS) | (1 << T_VERSION) | (1 << T_SVN) | (1 << T_RELEASE) | (1 << T_SECURED) | (1 << T_DEV) | (1 << T_PAYLOAD_SIZE);
// v1 signs the payload's digest; v2 signs the table instead, and neither carries the other's tags
const ONLY_V1: u32 = 1 << T_PAYLOAD_SHA;
const ONLY_V2: u32 = (1 << T_HASH_BLOCK_SIZE) | (1 << T_BLOCK_DIGESTS);

/**
 * The largest security version: the number of anti-rollback fuses (device.ts). A larger value could
 * never be fused, so the fuses would stop following the running image and a lower signed image would
 * pass the fused floor (hardening spec S1): the field is refused instead.
 */
export const SVN_MAX: u32 = 64;
/** Most nextKeys entries and the largest one (image-format.md tag 12). */
const NEXT_KEYS_MAX: u32 = 8;
const NEXT_KEY_MAX_LEN: u32 = 2048;

export const ENTRY_SIGNATURE: u32 = 1;
export const ENTRY_CERTIFICATE: u32 = 2;
export const ENTRY_CMS: u32 = 3;
export const ALG_RSA_PKCS1_SHA256: u32 = 1;

/** What the device knows about an image head, as offsets into the buffer it was parsed from. */
export class ImageInfo {
  buf: usize = 0;
  headLen: u32 = 0;
  manifestSize: u32 = 0;
  sigBlockOffset: u32 = 0;
  sigBlockSize: u32 = 0;
  payloadOffset: u32 = 0;
  payloadSize: u32 = 0;
  vendor: u32 = 0;
  vendorLen: u32 = 0;
  product: u32 = 0;
  productLen: u32 = 0;
  psids: u32 = 0;
  psidsLen: u32 = 0;
  deviceIds: u32 = 0;
  deviceIdsLen: u32 = 0;
  /** major << 32 | minor << 16 | subminor */
  version: u64 = 0;
  svn: u32 = 0;
  hasMinSvn: bool = false;
  minSvn: u32 = 0;
  releaseDate: u64 = 0;
  forbidden: u32 = 0;
  forbiddenLen: u32 = 0;
  nextKeys: u32 = 0;
  nextKeysLen: u32 = 0;
  /** Manifest tag 18: the signer's deliberate "no further update" opt-in (hardening spec S2). */
  finalImage: bool = false;
  secured: bool = false;
  dev: bool = false;
  payloadSha: u32 = 0;
  /** 1 or 2 (header.formatVersion). */
  format: u32 = 0;
  /** v2: the hash-block size, and where the table of block digests lies (offset into buf, bytes). */
  blockSize: u32 = 0;
  table: u32 = 0;
  tableLen: u32 = 0;
  /** Number of entries in the signature block by type. */
  signatures: u32 = 0;
  certificates: u32 = 0;
  cms: u32 = 0;

  get total(): u64 {
    return <u64>this.payloadOffset + <u64>this.payloadSize;
  }
}

/**
 * How many head bytes the device must hold before it can parse, given the bytes seen so far
 * (`have`): 16 for the header, then up to the signature block's size field, then the whole head.
 * Returns 0 when the prefix is already malformed (a wrong magic or an out-of-range size).
 */
export function headBytesNeeded(buf: usize, have: u32): u32 {
  if (have < HEADER_SIZE) return HEADER_SIZE;
  if (le32(buf) != MAGIC_IMAGE) return 0;
  const format = le16(buf + 4);
  if (format != FORMAT_V1 && format != FORMAT_V2) return 0;
  const manifestSize = le32(buf + 8);
  if (manifestSize == 0 || manifestSize > manifestMax(format)) return 0;
  const sigAt = HEADER_SIZE + manifestSize;
  if (have < sigAt + 8) return sigAt + 8;
  const block = le32(buf + sigAt + 4);
  if (block < 8 || block > SIGBLOCK_MAX) return 0;
  return sigAt + block;
}

function manifestMax(format: u32): u32 {
  return format == FORMAT_V1 ? MANIFEST_MAX_V1 : MANIFEST_MAX;
}

/**
 * The length of header ‖ manifest, the bytes every signature covers and the release digest hashes
 * (image-format.md), from the 16-byte header at `buf`; 0 when the header is not a well-formed one.
 */
export function signedHeadLen(buf: usize): u32 {
  if (le32(buf) != MAGIC_IMAGE) return 0;
  const format = le16(buf + 4);
  if (format != FORMAT_V1 && format != FORMAT_V2) return 0;
  const manifestSize = le32(buf + 8);
  if (manifestSize == 0 || manifestSize > manifestMax(format)) return 0;
  return HEADER_SIZE + manifestSize;
}

/** How many hash blocks a payload has (the last one short when the size is not a multiple). */
export function blockCount(payloadSize: u32, blockSize: u32): u32 {
  return payloadSize / blockSize + (payloadSize % blockSize != 0 ? 1 : 0);
}

function version48(p: usize): u64 {
  return (<u64>le16(p) << 32) | (<u64>le16(p + 2) << 16) | <u64>le16(p + 4);
}

/** Reads a version triple into the packed form used by ImageInfo.version. */
export function versionAt(p: usize): u64 {
  return version48(p);
}

function printable(p: usize, len: u32): bool {
  for (let i: u32 = 0; i < len; i++) {
    const c = load<u8>(p + i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/** A u16-length-prefixed list: every item 1..maxItem bytes, at most maxCount items, nothing left over. */
function varList(p: usize, len: u32, maxItem: u32, maxCount: u32, mustPrint: bool): bool {
  let at: u32 = 0;
  let n: u32 = 0;
  if (len == 0) return false;
  while (at < len) {
    if (len - at < 2) return false;
    const l = le16(p + at);
    at += 2;
    if (l == 0 || l > maxItem || l > len - at) return false;
    if (mustPrint && !printable(p + at, l)) return false;
    at += l;
    if (++n > maxCount) return false;
  }
  return true;
}

/**
 * Release notes (tag 15) are shown to people: valid UTF-8 (RFC 3629 §3-4: no overlong forms, no
 * surrogates, nothing above U+10FFFF), and no character that can drive a terminal or reorder what
 * is shown: no C0 control but TAB, LF and CR, no DEL, no C1 control (U+0080..U+009F), no bidi
 * embedding/override (U+202A..U+202E) or isolate (U+2066..U+2069). Hardening spec S5; the host's
 * parser refuses the same set.
 */
function safeText(p: usize, len: u32): bool {
  let at: u32 = 0;
  while (at < len) {
    const b0 = <u32>load<u8>(p + at);
    if (b0 < 0x80) {
      if ((b0 < 0x20 && b0 != 0x09 && b0 != 0x0a && b0 != 0x0d) || b0 == 0x7f) return false;
      at++;
      continue;
    }
    let n: u32; // continuation bytes
    let cp: u32;
    let min: u32; // smallest code point this length may encode (shorter would be overlong)
    if ((b0 & 0xe0) == 0xc0) { n = 1; cp = b0 & 0x1f; min = 0x80; }
    else if ((b0 & 0xf0) == 0xe0) { n = 2; cp = b0 & 0x0f; min = 0x800; }
    else if ((b0 & 0xf8) == 0xf0) { n = 3; cp = b0 & 0x07; min = 0x10000; }
    else return false; // a stray continuation byte, or 0xF8..0xFF
    if (len - at - 1 < n) return false; // truncated sequence
    for (let i: u32 = 1; i <= n; i++) {
      const b = <u32>load<u8>(p + at + i);
      if ((b & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    if (cp <= 0x9f) return false; // C1 controls (cp >= 0x80 here)
    if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) return false;
    at += 1 + n;
  }
  return true;
}

/** Every entry of a nextKeys list (already checked as a varList) is a well-formed SPKI. */
function everyKeyIsSpki(p: usize, len: u32): bool {
  let at: u32 = 0;
  while (at < len) {
    const l = le16(p + at);
    if (!spkiWellFormed(p + at + 2, l)) return false;
    at += 2 + l;
  }
  return true;
}

/** Parses a complete head of `len` bytes at `buf` into `info`. Returns false on any deviation from the format. */
export function parseHead(buf: usize, len: u32, info: ImageInfo): bool {
  info.buf = buf;
  // the same ImageInfo is parsed into again and again: optional fields must not survive from the last image
  info.hasMinSvn = false;
  info.minSvn = 0;
  info.deviceIdsLen = 0;
  info.forbiddenLen = 0;
  info.nextKeysLen = 0;
  info.finalImage = false;
  info.secured = false;
  info.dev = false;
  info.blockSize = 0;
  info.tableLen = 0;
  if (len < HEADER_SIZE) return false;
  const format = le16(buf + 4);
  if (le32(buf) != MAGIC_IMAGE || (format != FORMAT_V1 && format != FORMAT_V2) || le16(buf + 6) != HEADER_SIZE || le32(buf + 12) != 0) return false;
  info.format = format;
  const msize = le32(buf + 8);
  if (msize == 0 || msize > manifestMax(format) || HEADER_SIZE + msize + 8 > len) return false;
  info.manifestSize = msize;

  // Manifest TLVs: tag u16, length u32, strictly ascending tags, known tags only.
  let at: u32 = HEADER_SIZE;
  const end: u32 = HEADER_SIZE + msize;
  let seen: u32 = 0;
  let last: u32 = 0;
  while (at < end) {
    if (end - at < 6) return false;
    const tag = le16(buf + at);
    const l = le32(buf + at + 2);
    at += 6;
    if (tag <= last || tag > T_LAST || l > end - at) return false;
    last = tag;
    seen |= 1 << tag;
    const v: usize = buf + at;
    if (tag == T_VENDOR || tag == T_PRODUCT) {
      if (l == 0 || l > 64 || !printable(v, l)) return false;
      if (tag == T_VENDOR) { info.vendor = at; info.vendorLen = l; } else { info.product = at; info.productLen = l; }
    } else if (tag == T_PSIDS) {
      if (!varList(v, l, 16, 64, true)) return false;
      info.psids = at; info.psidsLen = l;
    } else if (tag == T_DEVICE_IDS) {
      if (l == 0 || l % 4 != 0 || l / 4 > 64) return false;
      info.deviceIds = at; info.deviceIdsLen = l;
    } else if (tag == T_VERSION) {
      if (l != 6) return false;
      info.version = version48(v);
    } else if (tag == T_SVN || tag == T_MIN_SVN) {
      if (l != 4) return false;
      const svn = le32(v);
      if (svn > SVN_MAX) return false; // S1: beyond what the fuses can count
      if (tag == T_SVN) info.svn = svn; else { info.hasMinSvn = true; info.minSvn = svn; }
    } else if (tag == T_RELEASE || tag == T_EXPIRES || tag == T_SEQUENCE) {
      // sequence (tag 10) is still parsed as a u64, then ignored (S4)
      if (l != 8) return false;
      if (le32(v + 4) > 0x1fffff) return false;
      if (tag == T_RELEASE) info.releaseDate = (<u64>le32(v + 4) << 32) | <u64>le32(v);
    } else if (tag == T_FORBIDDEN) {
      if (l == 0 || l % 6 != 0 || l / 6 > 32) return false;
      info.forbidden = at; info.forbiddenLen = l;
    } else if (tag == T_NEXT_KEYS) {
      if (!varList(v, l, NEXT_KEY_MAX_LEN, NEXT_KEYS_MAX, false) || !everyKeyIsSpki(v, l)) return false;
      info.nextKeys = at; info.nextKeysLen = l;
    } else if (tag == T_SECURED || tag == T_DEV) {
      if (l != 1 || load<u8>(v) > 1) return false;
      if (tag == T_SECURED) info.secured = load<u8>(v) == 1; else info.dev = load<u8>(v) == 1;
    } else if (tag == T_NOTES) {
      if (l == 0 || l > 16384 || !safeText(v, l)) return false;
    } else if (tag == T_FINAL_IMAGE) {
      // a bool that can only say yes: one encoding for "final", none for "not final" (omit the tag), S2
      if (l != 1 || load<u8>(v) != 1) return false;
      info.finalImage = true;
    } else if (tag == T_PAYLOAD_SIZE) {
      if (l != 8 || le32(v + 4) != 0) return false;
      const size = le32(v);
      if (size > PAYLOAD_MAX) return false;
      info.payloadSize = size;
    } else if (tag == T_PAYLOAD_SHA) {
      if (l != 32) return false;
      info.payloadSha = at;
    } else if (tag == T_HASH_BLOCK_SIZE) {
      if (l != 4) return false;
      const bs = le32(v);
      if (bs < HASH_BLOCK_MIN || bs > HASH_BLOCK_MAX || (bs & (bs - 1)) != 0) return false;
      info.blockSize = bs;
    } else if (tag == T_BLOCK_DIGESTS) {
      if (l % 32 != 0 || l / 32 > HASH_BLOCKS_MAX) return false;
      info.table = at; info.tableLen = l;
    } else return false;
    at += l;
  }
  const required = REQUIRED_BOTH | (format == FORMAT_V1 ? ONLY_V1 : ONLY_V2);
  const foreign = format == FORMAT_V1 ? ONLY_V2 : ONLY_V1;
  if ((seen & required) != required || (seen & foreign) != 0) return false;
  // v2: exactly one digest per hash block (tags 16 and 19 precede 20, all read by now)
  if (format == FORMAT_V2 && info.tableLen / 32 != blockCount(info.payloadSize, info.blockSize)) return false;
  if (info.hasMinSvn && info.minSvn > info.svn) return false;

  // Signature block: magic, size, entries { type u16, reserved u16, length u32, value }.
  const sb: u32 = end;
  if (le32(buf + sb) != MAGIC_SIGBLOCK) return false;
  const bsize = le32(buf + sb + 4);
  if (bsize < 8 || bsize > SIGBLOCK_MAX || bsize > len - sb) return false;
  info.sigBlockOffset = sb;
  info.sigBlockSize = bsize;
  info.signatures = 0;
  info.certificates = 0;
  info.cms = 0;
  let chain: u32 = 0;
  at = sb + 8;
  const bend = sb + bsize;
  while (at < bend) {
    if (bend - at < 8) return false;
    const type = le16(buf + at);
    if (le16(buf + at + 2) != 0) return false;
    const l = le32(buf + at + 4);
    at += 8;
    if (l > bend - at) return false;
    if (type == ENTRY_SIGNATURE) {
      if (l < 37 || l > 36 + 1024) return false;
      const alg = le16(buf + at);
      if (alg < 1 || alg > 3 || le16(buf + at + 2) != 0) return false;
      info.signatures++;
    } else if (type == ENTRY_CERTIFICATE) {
      chain += l;
      if (l == 0 || ++info.certificates > 8 || chain > 65536) return false;
    } else if (type == ENTRY_CMS) {
      if (l == 0 || l > 65536) return false;
      info.cms++;
    } else return false;
    if (info.signatures + info.cms > 16) return false;
    at += l;
  }
  info.headLen = bend;
  info.payloadOffset = bend;
  return bend == len;
}

/** Iterates the signature block: returns the offset of the next SIGNATURE entry's value at or after `from`, or 0. */
export function nextSignature(info: ImageInfo, from: u32): u32 {
  let at: u32 = from == 0 ? info.sigBlockOffset + 8 : from;
  const end = info.sigBlockOffset + info.sigBlockSize;
  while (at < end) {
    const type = le16(info.buf + at);
    const l = le32(info.buf + at + 4);
    if (type == ENTRY_SIGNATURE) return at;
    at += 8 + l;
  }
  return 0;
}

/** Offset just after the entry that starts at `entry`. */
export function entryEnd(info: ImageInfo, entry: u32): u32 {
  return entry + 8 + le32(info.buf + entry + 4);
}

/** Is the PSID at `psid` (len bytes) in the image's list? */
export function listsPsid(info: ImageInfo, psid: usize, psidLen: u32): bool {
  let at: u32 = 0;
  while (at < info.psidsLen) {
    const l = le16(info.buf + info.psids + at);
    at += 2;
    if (l == psidLen) {
      let same = true;
      for (let i: u32 = 0; i < l; i++) if (load<u8>(info.buf + info.psids + at + i) != load<u8>(psid + i)) { same = false; break; }
      if (same) return true;
    }
    at += l;
  }
  return false;
}

export function listsDeviceId(info: ImageInfo, id: u32): bool {
  if (info.deviceIdsLen == 0) return true; // no list: any device id of the PSID
  for (let at: u32 = 0; at < info.deviceIdsLen; at += 4) if (le32(info.buf + info.deviceIds + at) == id) return true;
  return false;
}

export function forbids(info: ImageInfo, version: u64): bool {
  for (let at: u32 = 0; at < info.forbiddenLen; at += 6) if (version48(info.buf + info.forbidden + at) == version) return true;
  return false;
}
