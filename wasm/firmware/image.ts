// The device's own parser of the signed image head (docs/image-format.md), written for the device
// and sharing nothing with the host's src/core: header, manifest TLVs and signature block, every
// length checked before use. It records where things are (offsets into the head buffer) rather than
// copying them. A head that does not parse is REJECTED_BAD_FORMAT.

import { le16, le32 } from './mem';

export const HEADER_SIZE: u32 = 16;
export const MANIFEST_MAX: u32 = 65536;
export const SIGBLOCK_MAX: u32 = 1048576;
export const HEAD_MAX: u32 = HEADER_SIZE + MANIFEST_MAX + SIGBLOCK_MAX;
export const PAYLOAD_MAX: u32 = 0x80000000;

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
const REQUIRED: u32 = (1 << T_VENDOR) | (1 << T_PRODUCT) | (1 << T_PSIDS) | (1 << T_VERSION) | (1 << T_SVN) | (1 << T_RELEASE) | (1 << T_SEQUENCE) | (1 << T_SECURED) | (1 << T_DEV) | (1 << T_PAYLOAD_SIZE) | (1 << T_PAYLOAD_SHA);

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
  secured: bool = false;
  dev: bool = false;
  payloadSha: u32 = 0;
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
  const manifestSize = le32(buf + 8);
  if (manifestSize == 0 || manifestSize > MANIFEST_MAX) return 0;
  const sigAt = HEADER_SIZE + manifestSize;
  if (have < sigAt + 8) return sigAt + 8;
  const block = le32(buf + sigAt + 4);
  if (block < 8 || block > SIGBLOCK_MAX) return 0;
  return sigAt + block;
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

/** Parses a complete head of `len` bytes at `buf` into `info`. Returns false on any deviation from the format. */
export function parseHead(buf: usize, len: u32, info: ImageInfo): bool {
  info.buf = buf;
  if (len < HEADER_SIZE) return false;
  if (le32(buf) != MAGIC_IMAGE || le16(buf + 4) != 1 || le16(buf + 6) != HEADER_SIZE || le32(buf + 12) != 0) return false;
  const msize = le32(buf + 8);
  if (msize == 0 || msize > MANIFEST_MAX || HEADER_SIZE + msize + 8 > len) return false;
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
    if (tag <= last || tag > T_PAYLOAD_SHA || l > end - at) return false;
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
      if (tag == T_SVN) info.svn = le32(v); else { info.hasMinSvn = true; info.minSvn = le32(v); }
    } else if (tag == T_RELEASE || tag == T_EXPIRES || tag == T_SEQUENCE) {
      if (l != 8) return false;
      if (le32(v + 4) > 0x1fffff) return false;
      if (tag == T_RELEASE) info.releaseDate = (<u64>le32(v + 4) << 32) | <u64>le32(v);
    } else if (tag == T_FORBIDDEN) {
      if (l == 0 || l % 6 != 0 || l / 6 > 32) return false;
      info.forbidden = at; info.forbiddenLen = l;
    } else if (tag == T_NEXT_KEYS) {
      if (!varList(v, l, 2048, 8, false)) return false;
      info.nextKeys = at; info.nextKeysLen = l;
    } else if (tag == T_SECURED || tag == T_DEV) {
      if (l != 1 || load<u8>(v) > 1) return false;
      if (tag == T_SECURED) info.secured = load<u8>(v) == 1; else info.dev = load<u8>(v) == 1;
    } else if (tag == T_NOTES) {
      if (l == 0 || l > 16384) return false;
    } else if (tag == T_PAYLOAD_SIZE) {
      if (l != 8 || le32(v + 4) != 0) return false;
      const size = le32(v);
      if (size > PAYLOAD_MAX) return false;
      info.payloadSize = size;
    } else if (tag == T_PAYLOAD_SHA) {
      if (l != 32) return false;
      info.payloadSha = at;
    } else return false;
    at += l;
  }
  if ((seen & REQUIRED) != REQUIRED) return false;
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
