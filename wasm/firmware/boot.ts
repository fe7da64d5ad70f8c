// Boot: choose the image to run from the two banks, fail-safe.
//
// The boot record says which bank is active, which (if any) is pending after ACTIVATE, and each
// bank's image length and SHA-256. It is written in two alternating 4 KiB sectors with a sequence
// number and a SHA-256 of itself, so a write torn by a power loss leaves the previous record intact
// (the newest record that checks out wins). At boot a pending bank becomes active only if its bytes
// still hash to the recorded digest; otherwise the device keeps (or falls back to) the other bank.
// An image is never booted unless its digest matches — an unverified image is never run. The
// recorded digest of a format v1 image is the SHA-256 of all its bytes; of a v2 image, the SHA-256
// of its head, whose signed table then vouches for each hash block of the payload (dm-verity's way:
// each byte is hashed once when it arrives, and once per check at boot).
//
// Both record sectors hold a valid record at rest (manufacturing writes two; a boot that finds only
// one writes the other), and each bank holds a bootable image (the factory image twice, then the
// previous image, or a mirror of the running one: main.ts maintain()), so a single damaged byte in
// a record or a bank leaves something to boot (issue #10).

import { BOOT_RECORD_A, BOOT_RECORD_B, SECTOR, bankAddr, flash_erase, flash_read, flash_write, HW_ERR_RANGE, HW_ERR_WRITE, HW_OK } from './hw';
import { equal, fill, le32, put32 } from './mem';
import { sha256Final, sha256Init, sha256Update, SHA256_CTX_SIZE } from './crypto';
import { ImageInfo, FORMAT_V1 } from './image';

export const NONE: u8 = 0xff;
const MAGIC: u32 = 0x52424654; // "TFBR"
export const RECORD_SIZE: u32 = 116;

export class BootRecord {
  seq: u32 = 0;
  active: u8 = 0;
  pending: u8 = NONE;
  len0: u32 = 0;
  len1: u32 = 0;
  /** Offsets of the two digests in the record buffer (see RECORD layout). */
  where: u32 = 0; // which sector the record was read from (0 = A, 1 = B)
}

const recBuf = memory.data(RECORD_SIZE);
const recBuf2 = memory.data(RECORD_SIZE);
export const digests = memory.data(64); // digest of bank 0 at +0, bank 1 at +32
const check = memory.data(32);
const hashCtx = memory.data(SHA256_CTX_SIZE);
const chunk = memory.data(65536);

function recordValid(buf: usize): bool {
  if (le32(buf) != MAGIC) return false;
  sha256Init(hashCtx);
  sha256Update(hashCtx, buf, 84);
  sha256Final(hashCtx, check);
  return equal(check, buf + 84, 32);
}

/** Reads the newest valid record into `r` and `digests`. Returns false if neither sector holds one. */
/** How many of the two record sectors held a valid record at the last read, or after the last write. */
export let recordsValid: u32 = 0;

export function readRecord(r: BootRecord): bool {
  const okA = flash_read(BOOT_RECORD_A, recBuf, RECORD_SIZE) == HW_OK && recordValid(recBuf);
  const okB = flash_read(BOOT_RECORD_B, recBuf2, RECORD_SIZE) == HW_OK && recordValid(recBuf2);
  recordsValid = (okA ? 1 : 0) + (okB ? 1 : 0);
  let src: usize = 0;
  if (okA && okB) src = le32(recBuf2 + 4) > le32(recBuf + 4) ? recBuf2 : recBuf;
  else if (okA) src = recBuf;
  else if (okB) src = recBuf2;
  else return false;
  r.seq = le32(src + 4);
  r.active = load<u8>(src + 8);
  r.pending = load<u8>(src + 9);
  r.len0 = le32(src + 12);
  r.len1 = le32(src + 16);
  r.where = src == recBuf ? 0 : 1;
  memory.copy(digests, src + 20, 64);
  return r.active <= 1 && (r.pending == NONE || (r.pending <= 1 && r.pending != r.active));
}

/** Writes `r` (with `digests`) as the next record, into the sector not holding the current one. */
export function writeRecord(r: BootRecord): u32 {
  r.seq++;
  fill(recBuf, 0, RECORD_SIZE);
  put32(recBuf, MAGIC);
  put32(recBuf + 4, r.seq);
  store<u8>(recBuf + 8, r.active);
  store<u8>(recBuf + 9, r.pending);
  put32(recBuf + 12, r.len0);
  put32(recBuf + 16, r.len1);
  memory.copy(recBuf + 20, digests, 64);
  sha256Init(hashCtx);
  sha256Update(hashCtx, recBuf, 84);
  sha256Final(hashCtx, recBuf + 84);
  const target = r.where == 0 ? BOOT_RECORD_B : BOOT_RECORD_A;
  let st = flash_erase(target, SECTOR);
  if (st == HW_OK) st = flash_write(target, recBuf, RECORD_SIZE);
  if (st != HW_OK) {
    r.seq--; // the record in force is still the previous one
    recordsValid = 1;
    return st;
  }
  r.where = r.where == 0 ? 1 : 0;
  recordsValid = 2; // the new record, and the previous one in the other sector
  return HW_OK;
}

export function bankLen(r: BootRecord, bank: u8): u32 {
  return bank == 0 ? r.len0 : r.len1;
}

export function setBank(r: BootRecord, bank: u8, len: u32, digest: usize): void {
  if (bank == 0) r.len0 = len;
  else r.len1 = len;
  memory.copy(digests + <usize>bank * 32, digest, 32);
}

/**
 * Does bank `bank` hold the image the record names? `info` is that image's parsed head (for v2: its
 * layout and signed table, in RAM). Reads the flash in 64 KiB pieces.
 */
export function bankIntact(r: BootRecord, bank: u8, info: ImageInfo): bool {
  return bankHashesTo(bank, bankLen(r, bank), digests + <usize>bank * 32, info);
}

/** SHA-256 of the flash bytes [base + from, base + to) into `out`; false if a read fails. */
export function hashRange(base: u32, from: u32, to: u32, out: usize): bool {
  sha256Init(hashCtx);
  for (let at: u32 = from; at < to; at += 65536) {
    const n = to - at < 65536 ? to - at : 65536;
    if (flash_read(base + at, chunk, n) != HW_OK) return false;
    sha256Update(hashCtx, chunk, n);
  }
  sha256Final(hashCtx, out);
  return true;
}

function bankHashesTo(bank: u8, len: u32, expected: usize, info: ImageInfo): bool {
  if (len == 0) return false;
  const base = bankAddr(bank);
  if (info.format == FORMAT_V1) return hashRange(base, 0, len, check) && equal(check, expected, 32);
  // v2: the head digest, then every hash block against the signed table
  if (<u64>len != info.total || !hashRange(base, 0, info.payloadOffset, check) || !equal(check, expected, 32)) return false;
  const blocks = info.tableLen / 32;
  for (let i: u32 = 0; i < blocks; i++) {
    const from = info.payloadOffset + i * info.blockSize;
    const to = i + 1 == blocks ? len : from + info.blockSize;
    if (!hashRange(base, from, to, check) || !equal(check, info.buf + info.table + i * 32, 32)) return false;
  }
  return true;
}

/**
 * Copies the active bank's image (its parsed head: `info`) into the other bank, fail-safe: erase, copy, check that the copy
 * hashes to the running image's digest, and only then write a record naming it. Until that record
 * is written the record in force still names the other bank's old digest, which the half-made copy
 * does not match, so a power cut at any point leaves the other bank unused, never trusted, and the
 * next boot copies again. Returns HW_OK, or the failing status (the copy is then not referenced).
 * Used at boot and resume (main.ts maintain) and when a download that overwrote the other bank
 * ends without an activated image (update.ts release).
 */
export function mirrorActive(r: BootRecord, info: ImageInfo): u32 {
  const from = r.active;
  const to: u8 = from == 0 ? 1 : 0;
  const len = bankLen(r, from);
  if (len == 0) return HW_ERR_RANGE;
  const src = bankAddr(from);
  const dst = bankAddr(to);
  let st = flash_erase(dst, ((len + SECTOR - 1) / SECTOR) * SECTOR);
  if (st != HW_OK) return st;
  for (let at: u32 = 0; at < len; at += 65536) {
    const n = len - at < 65536 ? len - at : 65536;
    st = flash_read(src + at, chunk, n);
    if (st == HW_OK) st = flash_write(dst + at, chunk, n);
    if (st != HW_OK) return st;
  }
  memory.copy(mirrorDigest, digests + <usize>from * 32, 32);
  if (!bankHashesTo(to, len, mirrorDigest, info)) return HW_ERR_WRITE;
  // the record in force may already name this very image there (a golden copy restored after a
  // download overwrote it): then it stays as it is
  if (bankLen(r, to) == len && equal(digests + <usize>to * 32, mirrorDigest, 32)) return HW_OK;
  const oldLen = bankLen(r, to);
  memory.copy(oldDigest, digests + <usize>to * 32, 32);
  setBank(r, to, len, mirrorDigest);
  st = writeRecord(r);
  if (st != HW_OK) setBank(r, to, oldLen, oldDigest); // RAM keeps matching the record in force
  return st;
}
const mirrorDigest = memory.data(32);
const oldDigest = memory.data(32);
