// Checking an incoming image's bytes against its authenticated head, as they arrive, each byte
// hashed once (issue #13). Before this split every byte went through a whole-image SHA-256 (for the
// boot record) and every payload byte through a second, payload SHA-256 (for tag 17).
//
// - Format v2: header ‖ manifest is hashed once; a copy of that context gives the release digest
//   the signatures are checked over, and the original goes on over the signature block to give the
//   bank's digest for the boot record (the head digest; the payload is covered by the signed table,
//   boot.ts checks it block by block). Each payload byte goes into the SHA-256 of its hash block,
//   compared with the signed table the moment the block is complete: a wrong block is refused at
//   once (REJECTED_DIGEST_ERR), and `badBlock` says which.
// - Format v1 keeps its whole-payload check at VERIFY and its whole-image digest for the record
//   (both as before: a v1 image is hashed twice).

import { equal } from './mem';
import { ImageInfo, FORMAT_V1 } from './image';
import { sha256Final, sha256Init, sha256Update, SHA256_CTX_SIZE } from './crypto';
import * as C from './codes';

const ctxA = memory.data(SHA256_CTX_SIZE); // v1: the whole image; v2: the head, then the record digest
const ctxB = memory.data(SHA256_CTX_SIZE); // v1: the payload; v2: the current hash block
const ctxCopy = memory.data(SHA256_CTX_SIZE);
const blockDigest = memory.data(32);
/** SHA-256 of header ‖ manifest: what the signatures cover, the release digest. */
export const releaseDigest = memory.data(32);
/** The digest the boot record gets for the bank (v1: the whole image; v2: the head). */
export const recordDigest = memory.data(32);

let info: ImageInfo | null = null;
let blockIndex: u32 = 0;
let inBlock: u32 = 0;
let payloadHad: u32 = 0;
/** The hash block refused last (-1: none): the DFU path names it in its iString. */
export let badBlock: i32 = -1;

/**
 * The head is complete in `buf` (`headLen` bytes): hash it once, leaving the release digest in
 * `releaseDigest`, and get ready for the payload. `parsed` is filled in by the caller right after
 * (parseHead); `format` is read from the header here so the hashing does not depend on the parse.
 */
export function beginHead(buf: usize, manifestEnd: u32, headLen: u32): void {
  sha256Init(ctxA);
  sha256Update(ctxA, buf, manifestEnd);
  memory.copy(ctxCopy, ctxA, SHA256_CTX_SIZE);
  sha256Final(ctxCopy, releaseDigest);
  sha256Update(ctxA, buf + manifestEnd, headLen - manifestEnd);
}

/** After the head authenticated and passed policy: the payload follows. */
export function beginPayload(parsed: ImageInfo): void {
  info = parsed;
  blockIndex = 0;
  inBlock = 0;
  payloadHad = 0;
  badBlock = -1;
  sha256Init(ctxB);
  if (parsed.format != FORMAT_V1) sha256Final(ctxA, recordDigest); // v2: the head digest is final now
}

/** `len` payload bytes at `p`, in order. Returns E_OK, or REJECTED_DIGEST_ERR for a hash block that does not match. */
export function payloadBytes(p: usize, len: u32): u32 {
  const im = info;
  if (im == null) return C.E_ERROR;
  if (im.format == FORMAT_V1) {
    sha256Update(ctxA, p, len);
    sha256Update(ctxB, p, len);
    payloadHad += len;
    return C.E_OK;
  }
  let at: u32 = 0;
  while (at < len) {
    // the size of the current block: blockSize, or what is left of the payload for the last one
    if (blockIndex * 32 >= im.tableLen) return C.E_REJECTED_BAD_FORMAT; // past the last block: writeBlock's bound prevents it
    const left = im.payloadSize - blockIndex * im.blockSize;
    const size = left < im.blockSize ? left : im.blockSize;
    const take = size - inBlock < len - at ? size - inBlock : len - at;
    sha256Update(ctxB, p + at, take);
    inBlock += take;
    at += take;
    if (inBlock == size) {
      sha256Final(ctxB, blockDigest);
      if (!equal(blockDigest, im.buf + im.table + blockIndex * 32, 32)) {
        badBlock = <i32>blockIndex;
        return C.E_REJECTED_DIGEST_ERR;
      }
      blockIndex++;
      inBlock = 0;
      sha256Init(ctxB);
    }
  }
  payloadHad += len;
  return C.E_OK;
}

/** At VERIFY, with every byte received: v1 compares the payload digest; v2 has checked every block already. Fills recordDigest. */
export function finishPayload(): u32 {
  const im = info;
  if (im == null) return C.E_REJECTED_BAD_FORMAT;
  if (im.format == FORMAT_V1) {
    sha256Final(ctxB, blockDigest);
    if (!equal(blockDigest, im.buf + im.payloadSha, 32)) return C.E_REJECTED_DIGEST_ERR;
    sha256Final(ctxA, recordDigest);
    return C.E_OK;
  }
  return payloadHad == im.payloadSize && inBlock == 0 ? C.E_OK : C.E_REJECTED_BAD_FORMAT;
}

/** v2: how many payload bytes are in whole hash blocks checked so far (the download journal's progress). */
export function verifiedPayload(): u32 {
  const im = info;
  if (im == null || im.format == FORMAT_V1) return 0;
  const done: u64 = <u64>blockIndex * <u64>im.blockSize;
  return done < <u64>im.payloadSize ? <u32>done : im.payloadSize;
}

/**
 * v2, resuming (download.ts): hash blocks 0..k−1 are on flash and were re-checked against the
 * table; the payload goes on at block k. Call after beginPayload.
 */
export function resumeAt(k: u32): void {
  blockIndex = k;
  inBlock = 0;
  payloadHad = verifiedPayload();
  badBlock = -1;
  sha256Init(ctxB);
}

export function forget(): void {
  info = null;
}
