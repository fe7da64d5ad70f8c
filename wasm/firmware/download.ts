// The incoming image's bytes, once the FSM (update.ts) has put a DATA block on flash: collect the
// head and authenticate it the moment it is complete (policy.ts), then check the payload as it
// streams (payload.ts), and record in the download journal (journal.ts) how far a format v2
// download is on flash and verified. And the other way in (issue #13): RESUME_COMPONENT rebuilds
// the same state from flash, trusting nothing the journal says until it has checked it again.

import * as C from './codes';
import { bankAddr, flash_erase, flash_read, flash_write, HW_ERR_ERASE, HW_OK, SECTOR } from './hw';
import { equal } from './mem';
import { HEAD_MAX, FORMAT_V2, headBytesNeeded } from './image';
import { hashRange } from './boot';
import * as J from './journal';
import * as P from './payload';
import { checkHead, incoming, incomingHead } from './policy';

export let headHave: u32 = 0;
export let headChecked: bool = false;
/** After `recheck`: the image offset the host continues at (the first byte not on flash and verified). */
export let resumeOffset: u32 = 0;
/** After `prepareTail`: whether it erased (and rewrote) the sector the resume offset falls in. */
export let tailErased: bool = false;

export function reset(): void {
  headHave = 0;
  headChecked = false;
  P.forget();
}

/** The journal follows the payload check: after each DATA write, record the whole blocks verified so far. */
function journal(): void {
  if (headChecked && incoming.format == FORMAT_V2) J.advance(headHave + P.verifiedPayload()); // a failed record costs resumability, not the download
}

/**
 * `len` bytes at `p`, just written at image offset `received` of `bank`. Returns E_OK or the MCC
 * error that ends the download (protocol §6).
 */
export function take(p: usize, len: u32, componentSize: u32, bank: u8): u32 {
  let consumed: u32 = 0;
  if (!headChecked) {
    while (consumed < len) {
      let need = headBytesNeeded(incomingHead, headHave);
      if (need == 0 || need > HEAD_MAX) return C.E_REJECTED_BAD_FORMAT;
      if (headHave >= need) break;
      const take = need - headHave < len - consumed ? need - headHave : len - consumed;
      memory.copy(incomingHead + headHave, p + consumed, take);
      headHave += take;
      consumed += take;
      if (headHave == need && headBytesNeeded(incomingHead, headHave) == headHave && headHave >= 16 + 8) {
        // the whole head is here
        const code = checkHead(headHave, componentSize);
        if (code != C.E_OK) return code;
        headChecked = true;
        P.beginPayload(incoming);
        // v2 is resumable: its table can vouch for each block on flash later (v1 has one digest)
        if (incoming.format == FORMAT_V2) J.begin(bank, P.releaseDigest, <u32>incoming.total, headHave, incoming.blockSize);
        break;
      }
    }
  }
  if (headChecked && consumed < len) {
    // v2: a hash block that does not match the signed table is refused as it completes (issue #13)
    const code = P.payloadBytes(p + consumed, len - consumed);
    journal(); // the blocks completed before a refused one are still good
    if (code != C.E_OK) return code;
  }
  return C.E_OK;
}

/** The download is not resumable after all: forget it, and answer `code`. */
function unusable(code: u32): u32 {
  J.discard();
  reset();
  return code;
}

/**
 * RESUME_COMPONENT (protocol §5.6): the journal names a download of `size` bytes into `bank`.
 * Read its head back from flash and authenticate it again as if it had just arrived (the running
 * image's keys, the fuses, the policy: all of §6), check that it is the release the journal names,
 * then re-hash each hash block the journal vouches for against the signed table, up to the first
 * that no longer matches. Returns E_OK with `resumeOffset` set, or an MCC error:
 * E_ERROR when nothing of that size is resumable (nothing changes), else the head's refusal or
 * REJECTED_DIGEST_ERR for another release (the journal is discarded).
 */
export function recheck(size: u32, bank: u8): u32 {
  reset();
  if (!J.live || J.size != size || J.bank != bank) return C.E_ERROR;
  const base = bankAddr(bank);
  let need = headBytesNeeded(incomingHead, 0);
  while (need != 0 && need > headHave && need <= HEAD_MAX && need <= J.verified) {
    if (flash_read(base + headHave, incomingHead + headHave, need - headHave) != HW_OK) return unusable(C.E_ERROR);
    headHave = need;
    need = headBytesNeeded(incomingHead, headHave);
  }
  if (need != headHave || headHave != J.headLen) return unusable(C.E_REJECTED_BAD_FORMAT);
  const code = checkHead(headHave, size);
  if (code != C.E_OK) return unusable(code);
  if (incoming.format != FORMAT_V2 || incoming.blockSize != J.blockSize || !equal(P.releaseDigest, J.releaseDigest, 32)) return unusable(C.E_REJECTED_DIGEST_ERR);
  headChecked = true;
  P.beginPayload(incoming);
  // the blocks the journal vouches for: whole ones, or all of them when it says the image is complete
  const blocks = incoming.tableLen / 32;
  const vouched: u32 = J.verified == size ? blocks : (J.verified - headHave) / incoming.blockSize;
  let k: u32 = 0;
  while (k < vouched && k < blocks) {
    const from = headHave + k * incoming.blockSize;
    const left = incoming.payloadSize - k * incoming.blockSize;
    const to = from + (left < incoming.blockSize ? left : incoming.blockSize);
    if (!hashRange(base, from, to, digest) || !equal(digest, incoming.buf + incoming.table + k * 32, 32)) break; // damaged while off: asked for again
    k++;
  }
  P.resumeAt(k);
  resumeOffset = headHave + P.verifiedPayload();
  J.rewind(resumeOffset);
  return C.E_OK;
}
const digest = memory.data(32);
const keep = memory.data(SECTOR);

/**
 * Before the download goes on at `resumeOffset`: NOR programming only clears bits, so the bytes
 * from there on must be erased before they are written again. Sectors wholly past it are erased as
 * DATA reaches them (update.ts writeBlock, `erasedTo`). The sector it falls inside also holds
 * verified bytes; when its tail is not blank, those are kept in RAM, the sector erased and they are
 * written back. A power cut in between loses them, and the next re-check asks for that block again.
 * Returns where the erased part starts (the new `erasedTo`), or an MCC error with bit 31 set.
 */
export function prepareTail(bank: u8): u32 {
  const at = resumeOffset;
  const start = (at / SECTOR) * SECTOR;
  tailErased = false;
  if (at == start) return at;
  const base = bankAddr(bank);
  if (flash_read(base + start, keep, SECTOR) != HW_OK) return 0x80000000 | C.E_ERROR;
  let blank = true;
  for (let i: u32 = at - start; i < SECTOR; i++) if (load<u8>(keep + i) != 0xff) blank = false;
  if (!blank) {
    const st = flash_erase(base + start, SECTOR);
    if (st != HW_OK) return 0x80000000 | (st == HW_ERR_ERASE ? C.E_FLASH_ERASE_ERROR : C.E_ERROR);
    tailErased = true;
    if (flash_write(base + start, keep, at - start) != HW_OK) return 0x80000000 | C.E_FLASH_WRITE_PROTECTED;
  }
  return start + SECTOR;
}
