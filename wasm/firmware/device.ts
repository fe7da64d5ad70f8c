// Device identity (the manufacturing sector, kept twice) and the security-version fuses.
//
// The identity is written at manufacturing into two sectors, a primary and a backup, each
//   "TFD2" | length u32 | TLVs { tag u8, length u8, value } | SHA-256 of everything before it
// (docs/protocol.md §8.3). The firmware uses the first copy that checks out and rewrites a copy
// that does not from the one that does, so a single damaged byte never leaves the NIC without an
// identity (issue #10). NICs made before the copies existed carry one sector "TFDI" | length | TLVs
// without a checksum: it is accepted only when no current copy checks out, and rewritten as the two
// current copies at once (migration; backup first, so a power cut leaves one good copy).

import { DEVICE_INFO, DEVICE_INFO_BACKUP, SECTOR, flash_erase, flash_read, flash_write, HW_OK, otp_burn, otp_read } from './hw';
import { equal, le32, put32 } from './mem';
import { sha256Final, sha256Init, sha256Update, SHA256_CTX_SIZE } from './crypto';

const MAGIC: u32 = 0x32444654; // "TFD2"
const MAGIC_LEGACY: u32 = 0x49444654; // "TFDI": one copy, no checksum (before issue #10)
export const INFO_MAX: u32 = 512;
const TRAILER: u32 = 32;
/** The largest TLV area: the sector image (header, TLVs, trailer) fits INFO_MAX. */
const TLV_MAX: u32 = INFO_MAX - 8 - TRAILER;
export const info = memory.data(INFO_MAX);
export let infoLen: u32 = 0;
const copyBuf = memory.data(INFO_MAX);
const ctx = memory.data(SHA256_CTX_SIZE);
const digest = memory.data(32);

export const TAG_PSID: u32 = 1;
export const TAG_DEVICE_ID: u32 = 2;
export const TAG_SERIAL: u32 = 3;
export const TAG_DESCRIPTION: u32 = 4;
export const TAG_PART_NUMBER: u32 = 5;
export const TAG_BASE_MAC: u32 = 6;
export const TAG_BASE_GUID: u32 = 7;
export const TAG_FLAGS: u32 = 8;
export const FLAG_DEV_DEVICE: u32 = 1;

/** What the last loadInfo found (a bit per copy that checked out; legacy = only an old-format sector). */
export const COPY_PRIMARY: u32 = 1;
export const COPY_BACKUP: u32 = 2;
export const COPY_LEGACY: u32 = 4;
export let copiesFound: u32 = 0;

/** Validates the TLV walk once, so later lookups cannot run off the end. */
function walkOk(p: usize, len: u32): bool {
  let at: u32 = 0;
  while (at < len) {
    if (len - at < 2) return false;
    const l = <u32>load<u8>(p + at + 1);
    if (l > len - at - 2) return false;
    at += 2 + l;
  }
  return true;
}

/** Reads the copy at `addr` into `buf` (header + TLVs + trailer). Returns its TLV length, or -1 if it does not check out. */
function readCopy(addr: u32, buf: usize): i32 {
  if (flash_read(addr, buf, 8) != HW_OK || le32(buf) != MAGIC) return -1;
  const len = le32(buf + 4);
  if (len > TLV_MAX) return -1;
  if (flash_read(addr + 8, buf + 8, len + TRAILER) != HW_OK) return -1;
  sha256Init(ctx);
  sha256Update(ctx, buf, 8 + len);
  sha256Final(ctx, digest);
  if (!equal(digest, buf + 8 + len, TRAILER) || !walkOk(buf + 8, len)) return -1;
  return <i32>len;
}

/** A sector from before issue #10: "TFDI", length, TLVs, no checksum. */
function readLegacy(buf: usize): i32 {
  if (flash_read(DEVICE_INFO, buf, 8) != HW_OK || le32(buf) != MAGIC_LEGACY) return -1;
  const len = le32(buf + 4);
  if (len > TLV_MAX) return -1; // the old limit was 504; anything the new sector cannot hold is refused
  if (flash_read(DEVICE_INFO + 8, buf + 8, len) != HW_OK || !walkOk(buf + 8, len)) return -1;
  return <i32>len;
}

/** Loads the identity: the primary copy if it checks out, else the backup, else a legacy sector. False: no identity (an unprogrammed device). */
export function loadInfo(): bool {
  copiesFound = 0;
  infoLen = 0;
  const p = readCopy(DEVICE_INFO, copyBuf);
  if (p >= 0) {
    copiesFound |= COPY_PRIMARY;
    memory.copy(info, copyBuf + 8, <u32>p);
    infoLen = <u32>p;
  }
  const b = readCopy(DEVICE_INFO_BACKUP, copyBuf);
  if (b >= 0) {
    copiesFound |= COPY_BACKUP;
    if (p < 0) {
      memory.copy(info, copyBuf + 8, <u32>b);
      infoLen = <u32>b;
    }
  }
  if (copiesFound != 0) return true;
  const l = readLegacy(copyBuf);
  if (l < 0) return false;
  copiesFound = COPY_LEGACY;
  memory.copy(info, copyBuf + 8, <u32>l);
  infoLen = <u32>l;
  return true;
}

/** Writes the loaded identity as a current copy at `addr` (erase, then program; the other copy is untouched). */
function writeCopy(addr: u32): u32 {
  put32(copyBuf, MAGIC);
  put32(copyBuf + 4, infoLen);
  memory.copy(copyBuf + 8, info, infoLen);
  sha256Init(ctx);
  sha256Update(ctx, copyBuf, 8 + infoLen);
  sha256Final(ctx, copyBuf + 8 + infoLen);
  const st = flash_erase(addr, SECTOR);
  if (st != HW_OK) return st;
  return flash_write(addr, copyBuf, 8 + infoLen + TRAILER);
}

/**
 * Rewrites whichever copy did not check out at loadInfo, from the one that did; a legacy sector
 * becomes the two current copies (backup first: until the primary is rewritten, the backup is the
 * copy that checks out). Returns the number of copies written.
 */
export function repairInfo(): u32 {
  let n: u32 = 0;
  if ((copiesFound & COPY_BACKUP) == 0 && writeCopy(DEVICE_INFO_BACKUP) == HW_OK) n++;
  if ((copiesFound & COPY_PRIMARY) == 0 && writeCopy(DEVICE_INFO) == HW_OK) n++;
  copiesFound = COPY_PRIMARY | COPY_BACKUP;
  return n;
}

/** Offset of tag's value in `info`, or -1; its length in `lenOut` (a 4-byte slot). */
export function find(tag: u32): i32 {
  let at: u32 = 0;
  while (at + 2 <= infoLen) {
    const t = <u32>load<u8>(info + at);
    const l = <u32>load<u8>(info + at + 1);
    if (t == tag) return <i32>(at + 2);
    at += 2 + l;
  }
  return -1;
}

export function lengthOf(tag: u32): u32 {
  const at = find(tag);
  return at < 0 ? 0 : <u32>load<u8>(info + <usize>at - 1);
}

export function deviceId(): u32 {
  const at = find(TAG_DEVICE_ID);
  return at < 0 || lengthOf(TAG_DEVICE_ID) != 4 ? 0 : le32(info + <usize>at);
}

export function flags(): u32 {
  const at = find(TAG_FLAGS);
  return at < 0 || lengthOf(TAG_FLAGS) != 4 ? 0 : le32(info + <usize>at);
}

const fuses = memory.data(8);

/** The security version burnt into the fuses: the number of burnt fuses (a fuse never un-burns). */
export function fusedSvn(): u32 {
  if (otp_read(fuses) != HW_OK) return 0xffffffff; // unreadable fuses: refuse every image (fail closed)
  return <u32>popcnt(load<u64>(fuses));
}

/** Raises the fused security version to `svn` (at most 64: the parser refuses larger SVNs, image.ts SVN_MAX). */
export function raiseSvn(svn: u32): u32 {
  const target: u32 = svn > 64 ? <u32>64 : svn;
  let have = fusedSvn();
  while (have < target) {
    const st = otp_burn(have);
    if (st != HW_OK) return st;
    have++;
  }
  return HW_OK;
}
