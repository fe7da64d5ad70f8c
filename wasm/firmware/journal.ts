// The download journal (issue #13; docs/protocol.md §8.9): how far a format v2 download into the
// inactive bank is on flash and verified, so that a host can resume it after a cable cut, a handle
// timeout or a power loss instead of sending it again from byte 0.
//
// A checked log, as a real NIC keeps its small non-volatile records: two 4 KiB sectors of 32
// 128-byte slots. Each record carries a sequence number and a SHA-256 of itself; the newest valid
// record wins. A record is appended into the next free slot of the sector holding the newest one;
// when that sector is full, the other sector is erased and the record goes into its first slot. So:
//
// - a torn append (power loss) leaves a record that does not check out: the one before it is in force;
// - a flipped byte in the newest record makes the one before it win (an earlier resume point, or no
//   download), never a wrong one: RESUME_COMPONENT re-authenticates the stored head and re-hashes
//   every block the journal vouches for before it trusts any of them (resume.ts);
// - wear is bounded: one program per completed hash block, one sector erase per 32 records.
//
// The journal only ever says "these bytes may be worth re-checking". Boot and the end of a flow read
// it to decide whether to keep the partial download (and skip restoring the fallback over it).

import { JOURNAL_A, JOURNAL_B, SECTOR, flash_erase, flash_read, flash_write, HW_OK } from './hw';
import { equal, fill, le32, put32 } from './mem';
import { sha256Final, sha256Init, sha256Update, SHA256_CTX_SIZE } from './crypto';

const MAGIC: u32 = 0x524a4654; // "TFJR"
export const SLOT: u32 = 128;
export const SLOTS: u32 = SECTOR / SLOT;
/** Bytes of a record that are used: 60 bytes of fields and their SHA-256. */
export const RECORD_USED: u32 = 92;
const KIND_DISCARDED: u8 = 0;
const KIND_DOWNLOAD: u8 = 1;

/** A resumable download is recorded (the newest valid record is a download, and boot honoured it). */
export let live: bool = false;
export let bank: u8 = 0;
/** The image's total size (header ‖ manifest ‖ signature block ‖ payload). */
export let size: u32 = 0;
/** Where the payload starts: the head's length. */
export let headLen: u32 = 0;
export let blockSize: u32 = 0;
/** The image offset up to which every byte is on flash and was verified: headLen + k whole hash blocks (or size). */
export let verified: u32 = 0;
/** SHA-256 of header ‖ manifest of the image being downloaded (image-format.md §13.5). */
export const releaseDigest = memory.data(32);

let seq: u32 = 0;
/** Where the newest record is: sector 0 (A) or 1 (B), and its slot; -1 when no record checks out. */
let newestSector: i32 = -1;
let newestSlot: u32 = 0;

const rec = memory.data(SLOT);
const check = memory.data(32);
const ctx = memory.data(SHA256_CTX_SIZE);

function sectorAddr(s: i32): u32 {
  return s == 0 ? JOURNAL_A : JOURNAL_B;
}

function recordValid(buf: usize): bool {
  if (le32(buf) != MAGIC) return false;
  sha256Init(ctx);
  sha256Update(ctx, buf, 60);
  sha256Final(ctx, check);
  return equal(check, buf + 60, 32);
}

function slotFree(addr: u32): bool {
  if (flash_read(addr, rec, SLOT) != HW_OK) return false;
  for (let i: u32 = 0; i < SLOT; i++) if (load<u8>(rec + i) != 0xff) return false;
  return true;
}

/** RAM lost (boot, reset): nothing is known until read(). */
export function forget(): void {
  live = false;
  newestSector = -1;
  seq = 0;
}

/** Reads both sectors; the newest valid record becomes the RAM state. Returns whether it is a download. */
export function read(): bool {
  live = false;
  newestSector = -1;
  seq = 0;
  let best: u32 = 0;
  for (let s: i32 = 0; s < 2; s++) {
    for (let i: u32 = 0; i < SLOTS; i++) {
      if (flash_read(sectorAddr(s) + i * SLOT, rec, RECORD_USED) != HW_OK || !recordValid(rec)) continue;
      const n = le32(rec + 4);
      if (newestSector >= 0 && n <= best) continue;
      best = n;
      newestSector = s;
      newestSlot = i;
    }
  }
  if (newestSector < 0) return false;
  flash_read(sectorAddr(newestSector) + newestSlot * SLOT, rec, RECORD_USED);
  seq = best;
  if (load<u8>(rec + 8) != KIND_DOWNLOAD) return false;
  bank = load<u8>(rec + 9);
  size = le32(rec + 12);
  headLen = le32(rec + 16);
  blockSize = le32(rec + 20);
  verified = le32(rec + 24);
  memory.copy(releaseDigest, rec + 28, 32);
  // a record that checks out was written by this firmware; its fields are still bounded before use
  live = bank <= 1 && headLen <= verified && verified <= size && blockSize != 0;
  return live;
}

/** Appends the RAM state as a record of `kind`. Returns the flash status (the previous record stays in force on failure). */
function append(kind: u8): u32 {
  // the next free slot after the newest record, in its sector; else the other sector, erased first
  // (a slot that is not all 0xFF, a torn or damaged one, is skipped)
  let s: i32 = newestSector < 0 ? 0 : newestSector;
  let slot: u32 = newestSector < 0 ? 0 : newestSlot + 1;
  while (slot < SLOTS && !slotFree(sectorAddr(s) + slot * SLOT)) slot++;
  if (slot >= SLOTS) {
    s = newestSector < 0 ? 0 : 1 - newestSector;
    slot = 0;
    const st = flash_erase(sectorAddr(s), SECTOR);
    if (st != HW_OK) return st;
  }
  return appendAt(kind, s, slot);
}

function appendAt(kind: u8, s: i32, slot: u32): u32 {
  fill(rec, 0, 60);
  put32(rec, MAGIC);
  put32(rec + 4, seq + 1);
  store<u8>(rec + 8, kind);
  store<u8>(rec + 9, bank);
  put32(rec + 12, size);
  put32(rec + 16, headLen);
  put32(rec + 20, blockSize);
  put32(rec + 24, verified);
  memory.copy(rec + 28, releaseDigest, 32);
  sha256Init(ctx);
  sha256Update(ctx, rec, 60);
  sha256Final(ctx, rec + 60);
  const st = flash_write(sectorAddr(s) + slot * SLOT, rec, RECORD_USED);
  if (st != HW_OK) return st;
  seq++;
  newestSector = s;
  newestSlot = slot;
  return HW_OK;
}

/** A v2 download's head has been authenticated and is on flash in `toBank`: record it, verified through its head. */
export function begin(toBank: u8, digest: usize, total: u32, head: u32, block: u32): u32 {
  bank = toBank;
  size = total;
  headLen = head;
  blockSize = block;
  verified = head;
  memory.copy(releaseDigest, digest, 32);
  const st = append(KIND_DOWNLOAD);
  live = st == HW_OK;
  return st;
}

/** More hash blocks are on flash and verified: the download is verified through `to`. */
export function advance(to: u32): u32 {
  if (!live || to <= verified) return HW_OK;
  verified = to;
  return append(KIND_DOWNLOAD);
}

/** After a re-check (resume.ts): the bytes past `to` are to be sent again. RAM only; the next advance records it. */
export function rewind(to: u32): void {
  if (live && to < verified) verified = to;
}

/**
 * The download is no longer resumable (CANCEL, a new UPDATE_COMPONENT, a stale or damaged one):
 * append a "discarded" record. RAM forgets it whatever the flash says; on a failed write the
 * previous record stays on flash, and the next boot finds it stale (the bank it names is runnable
 * or holds something else, which the re-check of RESUME_COMPONENT refuses).
 */
export function discard(): u32 {
  if (!live) return HW_OK;
  live = false;
  return append(KIND_DISCARDED);
}
