// Device attestation (issue #14): the attestation key provisioned at manufacture, kept twice, and
// the signed update receipt.
//
// The factory (src/emulator/attestation.ts) makes the NIC's own RSA-2048 key (the firmware has no
// entropy source) and has the vendor's device CA certify it; it writes two copies, A at 0x6000 and
// B at 0x7000 (docs/protocol.md §8.10), each
//   "TFAK" | version u16 = 1 | cert length u16 | n[256] | d[256] | cert DER | SHA-256 of all before it
// The firmware uses the first copy that checks out and rewrites the other from it (erase, program),
// as it does the identity (device.ts): one damaged byte never loses the key. With no copy (a NIC
// made before receipts existed) or none that checks out, the NIC has no attestation key and refuses
// receipts; it still boots and updates.
//
// A receipt (docs/protocol.md §4.11) is a fixed 176-byte body the firmware fills from what it holds
// (identity, boot record, running head, fuses, the last update's result) and the host's nonce,
// signed with RSASSA-PKCS1-v1_5 / SHA-256 by the device's own code (wasm/crypto/rsa.ts), followed by
// the signature and the certificate, so anyone with the device CA can check it offline.

import { ATTEST_A, ATTEST_B, bankAddr, flash_erase, flash_read, flash_write, HW_OK, SECTOR } from './hw';
import { equal, fill, le16, put16, put32 } from './mem';
import { sha256Final, sha256Init, sha256Update, SHA256_CTX_SIZE, rsa2048SignSha256 } from './crypto';
import * as dev from './device';
import * as U from './update';
import { hashRange, NONE } from './boot';
import { HEADER_SIZE, signedHeadLen } from './image';

const MAGIC: u32 = 0x4b414654; // "TFAK"
const VERSION: u32 = 1;
const HEAD: u32 = 8;
const KEY: u32 = 512; // n and d, 256 bytes each
export const CERT_MAX: u32 = 2048;
const TRAILER: u32 = 32;
const COPY_MAX: u32 = HEAD + KEY + CERT_MAX + TRAILER;

const copy = memory.data(COPY_MAX);
/** The copy in use (header, n, d, cert); valid while `hasKey`. */
const key = memory.data(COPY_MAX);
let certLen: u32 = 0;
export let hasKey: bool = false;
const ctx = memory.data(SHA256_CTX_SIZE);
const digest = memory.data(32);

/** Reads the copy at `addr` into `copy`. Returns its certificate length, or -1 if it does not check out. */
function readCopy(addr: u32): i32 {
  if (flash_read(addr, copy, HEAD) != HW_OK || load<u32>(copy) != MAGIC || le16(copy + 4) != VERSION) return -1;
  const c = le16(copy + 6);
  if (c == 0 || c > CERT_MAX) return -1;
  if (flash_read(addr + HEAD, copy + HEAD, KEY + c + TRAILER) != HW_OK) return -1;
  sha256Init(ctx);
  sha256Update(ctx, copy, HEAD + KEY + c);
  sha256Final(ctx, digest);
  return equal(digest, copy + HEAD + KEY + c, TRAILER) ? <i32>c : -1;
}

/**
 * Loads the key at boot: copy A if it checks out, else B; a copy that does not check out is
 * rewritten from the other. Returns the number of copies rewritten (0 with no key at all).
 */
export function loadKey(): u32 {
  hasKey = false;
  const a = readCopy(ATTEST_A);
  if (a >= 0) {
    memory.copy(key, copy, HEAD + KEY + <u32>a + TRAILER);
    certLen = <u32>a;
    hasKey = true;
  }
  const b = readCopy(ATTEST_B);
  if (b >= 0 && !hasKey) {
    memory.copy(key, copy, HEAD + KEY + <u32>b + TRAILER);
    certLen = <u32>b;
    hasKey = true;
  }
  if (!hasKey || (a >= 0 && b >= 0)) return 0;
  return writeCopy(a >= 0 ? ATTEST_B : ATTEST_A) == HW_OK ? 1 : 0;
}

function writeCopy(addr: u32): u32 {
  const st = flash_erase(addr, SECTOR);
  if (st != HW_OK) return st;
  return flash_write(addr, key, HEAD + KEY + certLen + TRAILER);
}

// ---- The receipt -----------------------------------------------------------------------------

export const NONCE_SIZE: u32 = 32;
export const BODY_SIZE: u32 = 176;
const RECEIPT_MAGIC: u32 = 0x43524654; // "TFRC"
const SIG_SIZE: u32 = 256;

/** Why a receipt was not made (the `receipt` export answers with the negated code). */
export const NO_RECEIPT_NOT_BOOTED: i32 = 1;
export const NO_RECEIPT_BAD_NONCE: i32 = 2;
export const NO_RECEIPT_NO_KEY: i32 = 3;
export const NO_RECEIPT_SIGN_FAILED: i32 = 4;

const bodyHash = memory.data(32);

function padded(out: usize, tag: u32, size: u32): u32 {
  fill(out, 0, size);
  const at = dev.find(tag);
  if (at < 0) return 0;
  const l = dev.lengthOf(tag);
  const n = l > size ? size : l;
  memory.copy(out, dev.info + <usize>at, n);
  return n;
}

const header = memory.data(16);

/**
 * The release digest of the image in `bank` into `out`: SHA-256 of its header ‖ manifest as it lies
 * in flash (the image the boot record names was checked before it ran or became pending), the same
 * digest the host's report and the release catalog give. All zero if the head cannot be read.
 */
function releaseDigestOf(bank: u8, out: usize): void {
  const base = bankAddr(bank);
  const len = flash_read(base, header, HEADER_SIZE) == HW_OK ? signedHeadLen(header) : 0;
  if (len == 0 || !hashRange(base, 0, len, out)) fill(out, 0, 32);
}

function putVersion(p: usize, v: u64): void {
  put16(p, <u32>(v >> 32));
  put16(p + 2, <u32>((v >> 16) & 0xffff));
  put16(p + 4, <u32>(v & 0xffff));
}

/**
 * Builds and signs a receipt for the nonce at `nonce` (`nonceLen` bytes) into `out` (at least
 * BODY_SIZE + 4 + 256 + CERT_MAX bytes). Returns its length, or the negated NO_RECEIPT_* reason.
 */
export function makeReceipt(booted: bool, bootStatus: u32, nonce: usize, nonceLen: u32, out: usize): i32 {
  if (!booted) return -NO_RECEIPT_NOT_BOOTED;
  if (nonceLen != NONCE_SIZE) return -NO_RECEIPT_BAD_NONCE;
  if (!hasKey) return -NO_RECEIPT_NO_KEY;
  const r = U.record;
  const pending = r.pending != NONE;
  fill(out, 0, BODY_SIZE);
  put32(out, RECEIPT_MAGIC);
  put16(out + 4, 1);
  put16(out + 6, BODY_SIZE);
  memory.copy(out + 8, nonce, NONCE_SIZE);
  store<u8>(out + 40, <u8>padded(out + 44, dev.TAG_SERIAL, 32));
  store<u8>(out + 41, <u8>padded(out + 76, dev.TAG_PSID, 16));
  store<u8>(out + 42, pending ? 1 : 0);
  store<u8>(out + 43, <u8>bootStatus);
  putVersion(out + 92, U.running.version);
  if (pending) putVersion(out + 98, U.pendingVersion);
  releaseDigestOf(r.active, out + 104);
  if (pending) releaseDigestOf(r.pending, out + 136);
  put32(out + 168, dev.fusedSvn());
  store<u8>(out + 172, <u8>U.lastUpdate);
  store<u8>(out + 173, <u8>U.state);
  // 174..175 reserved, zero

  sha256Init(ctx);
  sha256Update(ctx, out, BODY_SIZE);
  sha256Final(ctx, bodyHash);
  put16(out + BODY_SIZE, SIG_SIZE);
  if (!rsa2048SignSha256(key + HEAD, key + HEAD + 256, bodyHash, out + BODY_SIZE + 2)) return -NO_RECEIPT_SIGN_FAILED;
  put16(out + BODY_SIZE + 2 + SIG_SIZE, certLen);
  memory.copy(out + BODY_SIZE + 4 + SIG_SIZE, key + HEAD + KEY, certLen);
  return <i32>(BODY_SIZE + 4 + SIG_SIZE + certLen);
}
