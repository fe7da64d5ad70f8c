// The emulated NIC's firmware: exports called by the emulator's USB device (src/emulator/).
// docs/protocol.md documents every structure written to the io buffer.

import * as C from './codes';
import { bankAddr, flash_bank_size, flash_read, HW_OK, now_ms } from './hw';
import { equal, fill, le16, le32, put16, put32 } from './mem';
import { readRecord, writeRecord, bankIntact, mirrorActive, recordsValid, NONE, digests } from './boot';
import { ImageInfo, HEAD_MAX, MANIFEST_MAX, headBytesNeeded, parseHead, versionAt } from './image';
import * as P from './payload';
import * as J from './journal';
import * as dev from './device';
import * as U from './update';
import * as T from './mcc-table';
import * as A from './attest';
import { sha256Final, sha256Init, sha256Update, SHA256_CTX_SIZE, rsa2048VerifySha256 } from './crypto';

@external("env", "random_fill")
declare function random_fill(ptr: usize, len: u32): void;

// boot status
export const BOOT_OK: u32 = 0;
export const BOOT_APPLIED_PENDING: u32 = 1;
export const BOOT_PENDING_REJECTED: u32 = 2;
export const BOOT_NO_DEVICE_INFO: u32 = 3;
export const BOOT_NO_RECORD: u32 = 4;
export const BOOT_FELL_BACK: u32 = 5;
export const BOOT_NO_VALID_IMAGE: u32 = 6;

let bootStatus: u32 = BOOT_NO_RECORD;
let booted: bool = false;

export function io(): usize {
  return U.io;
}
export function io_size(): u32 {
  return U.IO_SIZE;
}

/** Reads the active bank's head into RAM and parses it: the keys, forbidden list and floor the next update is checked with. */
function loadHead(bank: u8, buf: usize, info: ImageInfo): bool {
  const base = bankAddr(bank);
  let have: u32 = 0;
  let need = headBytesNeeded(buf, have);
  while (need != 0 && need > have && need <= HEAD_MAX) {
    if (flash_read(base + have, buf + have, need - have) != HW_OK) return false;
    have = need;
    need = headBytesNeeded(buf, have);
  }
  return need == have && parseHead(buf, have, info);
}

/** Can bank `bank` run: its head parses, its bytes match the record (and for v2 its table), and its SVN is not below the fuses? Parses into `info`. */
function runnable(bank: u8, buf: usize, info: ImageInfo): bool {
  // anti-rollback also at boot: an image below the fused security version would be the downgrade
  // the fuses exist to prevent (MCUboot does the same); unreadable fuses read 0xFFFFFFFF and stop
  // every image (fail closed)
  // the head first: a v2 bank is checked against its own signed table (boot.ts)
  return loadHead(bank, buf, info) && bankIntact(U.record, bank, info) && info.svn >= dev.fusedSvn();
}

// What the last boot() or resume() repaired (the `repairs` export; the emulator reports it).
export const REPAIRED_IDENTITY_COPY: u32 = 1; // one identity copy was rewritten from the other
export const REPAIRED_IDENTITY_MIGRATED: u32 = 2; // a single pre-#10 identity sector became two checked copies
export const REPAIRED_RECORD: u32 = 4; // the second boot record was rewritten
export const REPAIRED_MIRROR: u32 = 8; // the running image was copied into the other bank (the fallback)
export const REPAIRED_MIRROR_FAILED: u32 = 16; // that copy failed; it is retried at the next boot
export const REPAIRED_ATTEST_COPY: u32 = 32; // one attestation-key copy was rewritten from the other (attest.ts)
let repaired: u32 = 0;

export function repairs(): u32 {
  return repaired;
}

/** Identity: both copies at rest (device.ts). Runs before anything else reads the identity. */
function loadIdentity(): bool {
  if (!dev.loadInfo()) return false;
  const found = dev.copiesFound;
  if (found != (dev.COPY_PRIMARY | dev.COPY_BACKUP) && dev.repairInfo() > 0) repaired |= found == dev.COPY_LEGACY ? REPAIRED_IDENTITY_MIGRATED : REPAIRED_IDENTITY_COPY;
  if (A.loadKey() > 0) repaired |= REPAIRED_ATTEST_COPY; // no key at all is not an error: receipts are refused
  return true;
}

/**
 * After a boot: keep a fallback at rest (issue #10). With no image pending, the other bank must
 * hold a runnable image; when it does not (empty on a NIC made before the golden copy, damaged, or
 * now below the fuses because this boot raised them), the running image is mirrored into it,
 * unless the download journal says it holds a resumable download (issue #13): that is kept, and
 * the NIC rests on one good bank until the download is resumed or discarded (threat model T19). A
 * journal that names anything else (the active bank, a bank that is runnable after all, a bank
 * while an image is pending) is stale and discarded. And both boot-record sectors must hold a valid record.
 */
function maintain(): void {
  const r = U.record;
  J.read();
  const other: u8 = r.active == 0 ? 1 : 0;
  if (r.pending == NONE) {
    const otherRunnable = runnable(other, U.incomingHead, U.incoming);
    if (J.live && (J.bank != other || otherRunnable)) J.discard();
    if (!otherRunnable && !J.live) repaired |= mirrorActive(r, U.running) == HW_OK ? REPAIRED_MIRROR : REPAIRED_MIRROR_FAILED;
  } else J.discard();
  if (recordsValid < 2 && writeRecord(r) == HW_OK) repaired |= REPAIRED_RECORD;
}

/** Power-on / reset: pick the bank to run, applying a pending image only if it is intact. */
export function boot(): u32 {
  U.resetRam();
  J.forget();
  booted = false;
  repaired = 0;
  if (!loadIdentity()) return (bootStatus = BOOT_NO_DEVICE_INFO);
  if (!readRecord(U.record)) return (bootStatus = BOOT_NO_RECORD);
  let status = BOOT_OK;
  const r = U.record;
  if (r.pending != NONE) {
    const p = r.pending;
    if (runnable(p, U.runningHead, U.running)) {
      const old = r.active;
      r.active = p;
      r.pending = NONE;
      if (writeRecord(r) == HW_OK) status = BOOT_APPLIED_PENDING;
      else {
        r.active = old; // the record could not be written: keep running the old image, retry at the next boot
        r.pending = p;
      }
    } else {
      r.pending = NONE;
      writeRecord(r);
      status = BOOT_PENDING_REJECTED;
    }
  }
  if (!runnable(r.active, U.runningHead, U.running)) {
    const other: u8 = r.active == 0 ? 1 : 0;
    if (r.pending == NONE && runnable(other, U.runningHead, U.running)) {
      r.active = other;
      writeRecord(r);
      status = BOOT_FELL_BACK;
    } else return (bootStatus = BOOT_NO_VALID_IMAGE);
  }
  // U.running now holds the active image's head: the keys, forbidden list and floor for the next update
  dev.raiseSvn(U.running.svn); // "Security Ver Program: Automatically" (§3): the fuses follow the running image
  booted = true;
  maintain();
  return (bootStatus = status);
}

const pendingHead = memory.data(16 + MANIFEST_MAX);

/** Re-attach to a device that kept running (the emulator process restarted): no reset, a pending image stays pending. */
export function resume(): u32 {
  U.resetRam();
  J.forget();
  booted = false;
  repaired = 0;
  if (!loadIdentity()) return (bootStatus = BOOT_NO_DEVICE_INFO);
  if (!readRecord(U.record)) return (bootStatus = BOOT_NO_RECORD);
  const r = U.record;
  if (!loadHead(r.active, U.runningHead, U.running) || !bankIntact(r, r.active, U.running)) return boot();
  if (r.pending != NONE) {
    // read the pending image's version from its manifest
    const base = bankAddr(r.pending);
    if (flash_read(base, pendingHead, 16) == HW_OK) {
      const msize = le32(pendingHead + 8);
      if (msize <= MANIFEST_MAX && flash_read(base + 16, pendingHead + 16, msize) == HW_OK) {
        // the pending bank was verified before ACTIVATE, but flash can rot: every length is bounded
        const end: u32 = 16 + msize;
        let at: u32 = 16;
        while (at + 6 <= end) {
          const tag = le16(pendingHead + at);
          const l = le32(pendingHead + at + 2);
          if (l > end - at - 6) break;
          if (tag == 5 && l == 6) U.setPending(versionAt(pendingHead + at + 6));
          at += 6 + l;
        }
      }
    }
  }
  booted = true;
  maintain(); // a NIC that kept running keeps its fallback too (and a state saved before #10 is migrated here)
  return (bootStatus = BOOT_OK);
}

export function boot_status(): u32 {
  return bootStatus;
}

export function mcc(instruction: u32, handle: u32, size: u32): u32 {
  if (!booted) return C.R_DEV_BUSY;
  return U.command(instruction, handle, size);
}

export function write_block(handle: u32, offset: u32, len: u32): u32 {
  if (!booted) return C.R_DEV_BUSY;
  return U.writeBlock(handle, offset, len);
}

/** The hash block the last download refused (-1: none); the DFU function names it in its iString. */
export function bad_block(): i32 {
  return P.badBlock;
}

export function read_block(handle: u32, offset: u32, len: u32): u32 {
  if (!booted) return 0;
  return U.readBlock(handle, offset, len);
}

/** DFU UPLOAD reads the running image without an MCC flow. */
export function upload(offset: u32, len: u32): u32 {
  if (!booted) return 0;
  const r = U.record;
  return U.readImage(r.active, r.active == 0 ? r.len0 : r.len1, offset, len);
}

/** The MCC table in RAM (mcc-table.ts): STATES rows of COLUMNS action bytes. */
export function mcc_table(): usize {
  return T.TABLE;
}
export function mcc_table_shape(): u32 {
  return (T.STATES << 8) | T.COLUMNS;
}

export function set_handle_timeout(ms: f64): void {
  U.setHandleTimeout(ms);
}
export function set_erase_timing(msPerSector: f64): void {
  U.setEraseTiming(msPerSector);
}

/** STATUS (28 bytes, docs/protocol.md): state, error, result, flags, handle, received, size, total, elapsed, boot status. */
export function status(): u32 {
  U.tick();
  const o = U.io;
  fill(o, 0, 28);
  store<u8>(o, <u8>U.state);
  store<u8>(o + 1, <u8>U.error);
  store<u8>(o + 2, <u8>U.lastResult);
  store<u8>(o + 3, <u8>((U.isOwned() ? 1 : 0) | (U.pendingReset || U.record.pending != NONE ? 2 : 0) | (booted ? 4 : 0) | (tokenActive() ? 8 : 0)));
  put32(o + 4, U.isOwned() ? U.handle : U.offeredHandle());
  put32(o + 8, U.received);
  put32(o + 12, U.componentSize);
  put32(o + 16, <u32>U.expectedTotal());
  const e = U.elapsedMs();
  put32(o + 20, e > 4294967295 ? 0xffffffff : <u32>e);
  put32(o + 24, bootStatus);
  return 28;
}

// ---- QUERY: the `flint q` fields as TLVs { tag u8, length u16, value } -----------------------

let q: usize = 0;
function tlv(tag: u32, src: usize, len: u32): void {
  store<u8>(q, <u8>tag);
  put16(q + 1, len);
  memory.copy(q + 3, src, len);
  q += 3 + len;
}
const scratch = memory.data(64);
function put64(p: usize, v: u32): void {
  put32(p, v);
  put32(p + 4, 0);
}
function tlv32(tag: u32, v: u32): void {
  put32(scratch, v);
  tlv(tag, scratch, 4);
}
function tlvVersion(tag: u32, v: u64): void {
  put16(scratch, <u32>(v >> 32));
  put16(scratch + 2, <u32>((v >> 16) & 0xffff));
  put16(scratch + 4, <u32>(v & 0xffff));
  tlv(tag, scratch, 6);
}
function tlvInfo(tag: u32, infoTag: u32): void {
  const at = dev.find(infoTag);
  if (at >= 0) tlv(tag, dev.info + <usize>at, dev.lengthOf(infoTag));
}

const keyCtx = memory.data(SHA256_CTX_SIZE);
let vsdLen: u32 = 0;
const vsd = memory.data(64);

export function query(): u32 {
  q = U.io;
  const run = U.running;
  if (booted) tlvVersion(1, run.version);
  if (U.pendingVersion != 0) tlvVersion(2, U.pendingVersion);
  tlvInfo(3, dev.TAG_PSID);
  tlvInfo(4, dev.TAG_DEVICE_ID);
  tlvInfo(5, dev.TAG_DESCRIPTION);
  tlvInfo(6, dev.TAG_PART_NUMBER);
  tlvInfo(7, dev.TAG_SERIAL);
  tlvInfo(8, dev.TAG_BASE_MAC);
  tlvInfo(9, dev.TAG_BASE_GUID);
  // security attributes: secure-fw (only signed images are accepted and this one is signed), dev device, debug token
  tlv32(10, 1 | 2 | ((dev.flags() & dev.FLAG_DEV_DEVICE) != 0 ? 4 : 0) | (tokenActive() ? 8 : 0));
  tlv32(11, dev.fusedSvn());
  if (booted) {
    tlv32(12, run.svn);
    if (run.hasMinSvn) tlv32(13, run.minSvn);
    // key ids of the embedded keys
    let at: u32 = 0;
    const start = q;
    store<u8>(q, 14);
    q += 3;
    while (at < run.nextKeysLen) {
      const l = le16(run.buf + run.nextKeys + at);
      sha256Init(keyCtx);
      sha256Update(keyCtx, run.buf + run.nextKeys + at + 2, l);
      sha256Final(keyCtx, q);
      q += 32;
      at += 2 + l;
    }
    put16(start + 1, <u32>(q - start - 3));
    if (run.forbiddenLen > 0) tlv(15, run.buf + run.forbidden, run.forbiddenLen);
    tlv(19, run.buf + run.product, run.productLen);
    tlv(20, run.buf + run.vendor, run.vendorLen);
    put32(scratch, <u32>(run.releaseDate & 0xffffffff));
    put32(scratch + 4, <u32>(run.releaseDate >> 32));
    tlv(18, scratch, 8);
  }
  // banks: active u8, pending u8, len0 u32, len1 u32, digest0[32], digest1[32]
  const r = U.record;
  store<u8>(scratch, r.active);
  store<u8>(scratch + 1, r.pending);
  put32(scratch + 2, r.len0);
  put32(scratch + 6, r.len1);
  tlv(16, scratch, 10);
  tlv(17, digests, 64);
  tlv32(21, 65536); // largest data block
  tlv32(22, flash_bank_size());
  if (vsdLen > 0) tlv(23, vsd, vsdLen);
  tlv32(24, bootStatus);
  // the signature algorithms the device can verify: a host checks an image's nextKeys against it
  // before sending, so an image that would lock the device out is refused on both sides (S2)
  tlv32(25, U.VERIFIABLE_ALGS);
  // a resumable download (issue #13): release digest, image size u64, verified bytes u64 (what the
  // journal says; RESUME_COMPONENT re-checks it and may resume earlier)
  if (booted && J.live) {
    memory.copy(scratch, J.releaseDigest, 32);
    put64(scratch + 32, J.size);
    put64(scratch + 40, J.verified);
    tlv(26, scratch, 48);
  }
  return <u32>(q - U.io);
}

// ---- Receipts (attest.ts, docs/protocol.md §4.11) --------------------------------------------

const receiptNonce = memory.data(32);

/** Whether this NIC holds an attestation key (a NIC made before receipts does not). */
export function has_attestation_key(): bool {
  return A.hasKey;
}

/** A signed receipt for the `len`-byte nonce in io, written to io: its length, or the negated reason (attest.ts NO_RECEIPT_*). */
export function receipt(len: u32): i32 {
  if (len != A.NONCE_SIZE) return -A.NO_RECEIPT_BAD_NONCE;
  memory.copy(receiptNonce, U.io, len);
  U.tick();
  return A.makeReceipt(booted, bootStatus, receiptNonce, len, U.io);
}

// ---- Blocked maintenance commands and the CS token (reference §5.2, §5.4) ---------------------

export const MAINT_RAW_FLASH_WRITE: u32 = 1;
export const MAINT_SET_VSD: u32 = 2;
export const MAINT_ROM_BURN: u32 = 3;
export const MAINT_ROM_DELETE: u32 = 4;
export const MAINT_ROM_READ: u32 = 5;
const TOKEN_MAX_SECONDS: u32 = 600;

const challenge = memory.data(32);
let challengeLive: bool = false;
let tokenOps: u32 = 0;
let tokenUntil: f64 = 0;

function tokenActive(): bool {
  return tokenOps != 0 && now_ms() < tokenUntil;
}

/** Under secure firmware every maintenance command is refused, unless a CS token unlocked it. */
export function maint(op: u32, len: u32): u32 {
  if (!booted) return C.R_DEV_BUSY;
  if (op < 1 || op > 5) return C.R_BAD_PARAM;
  if (!tokenActive() || (tokenOps & (1 << op)) == 0) return C.R_METHOD_NOT_SUPP;
  if (op == MAINT_SET_VSD) {
    if (len > 64) return C.R_BAD_PARAM;
    memory.copy(vsd, U.io, len);
    vsdLen = len;
    return C.R_OK;
  }
  return C.R_METHOD_NOT_SUPP; // raw flash and ROM operations stay closed even with a token
}

/** Challenge: 32 random bytes, then the PSID (16 bytes, zero padded). Returns the length (48). */
export function token_challenge(): u32 {
  random_fill(challenge, 32);
  challengeLive = true;
  memory.copy(U.io, challenge, 32);
  fill(U.io + 32, 0, 16);
  const at = dev.find(dev.TAG_PSID);
  if (at >= 0) memory.copy(U.io + 32, dev.info + <usize>at, dev.lengthOf(dev.TAG_PSID));
  return 48;
}

const tokenDigest = memory.data(32);
const tokenModulus = memory.data(256);
const tokenCtx = memory.data(SHA256_CTX_SIZE);

/**
 * A CS token (len 348 bytes in io): body { "TFTK", version u16 = 1, ops u16 (bit n = maint op n),
 * seconds u32, nonce[32], psid[16] } (60 bytes), keyId[32], RSA-2048 signature[256] over the body,
 * by a key the running image embeds. It answers the live challenge once and unlocks `ops` for at
 * most 600 s. Returns an MCC error code (0 = applied).
 */
export function token_apply(len: u32): u32 {
  if (!booted) return C.E_ERROR;
  const t = U.io;
  if (len != 60 + 32 + 256 || le32(t) != 0x4b544654 || le16(t + 4) != 1) return C.E_REJECTED_BAD_FORMAT;
  if (!challengeLive) return C.E_REJECTED_NO_DEBUG_TOKEN;
  if (!equal(t + 12, challenge, 32)) return C.E_REJECTED_AUTH_FAILED;
  const at = dev.find(dev.TAG_PSID);
  const psidLen = dev.lengthOf(dev.TAG_PSID);
  if (at < 0 || !equal(t + 44, dev.info + <usize>at, psidLen)) return C.E_REJECTED_NOT_APPLICABLE;
  for (let i = psidLen; i < 16; i++) if (load<u8>(t + 44 + i) != 0) return C.E_REJECTED_NOT_APPLICABLE;
  // the same embedded-key lookup as firmware updates (update.ts embeddedKey)
  const found = U.embeddedKey(t + 60, tokenModulus);
  if (!found) return C.E_REJECTED_UNKNOWN_KEY;
  sha256Init(tokenCtx);
  sha256Update(tokenCtx, t, 60);
  sha256Final(tokenCtx, tokenDigest);
  if (!rsa2048VerifySha256(tokenModulus, t + 92, 256, tokenDigest)) return C.E_REJECTED_AUTH_FAILED;
  challengeLive = false; // one answer per challenge
  const seconds = le32(t + 8);
  tokenOps = le16(t + 6);
  tokenUntil = now_ms() + <f64>(seconds > TOKEN_MAX_SECONDS ? TOKEN_MAX_SECONDS : seconds) * 1000;
  return C.E_OK;
}

export function token_end(): void {
  tokenOps = 0;
  tokenUntil = 0;
}
