// The secure-update state machine (MCC model, reference/mstflint-secure-update.md §1.3–1.9, §8).
//
// The host drives: QUERY (offers a handle) → LOCK_UPDATE_HANDLE → UPDATE_COMPONENT (erase the
// inactive bank: INITIALIZE → DOWNLOAD) → data blocks → VERIFY_COMPONENT → ACTIVATE (pending
// reset) → RELEASE_UPDATE_HANDLE. The device decides: the head is authenticated as soon as it has
// arrived — against the keys embedded in the *running* image — and applicability, the secured
// flag, the forbidden list and the security version are checked before the payload is accepted;
// the payload is hashed as it streams (payload.ts): a format v2 hash block is checked the moment it
// is complete, a v1 payload at VERIFY. Nothing the host says is trusted: the
// host sends bytes and commands, the device parses and decides. Which instruction is legal in which
// state is data: TABLE[state][instruction] in mcc-table.ts, run by `run()` below. A v2 download's
// progress is kept in a flash journal (journal.ts): a later flow can RESUME_COMPONENT it
// (download.ts re-checks what is on flash first), until CANCEL or UPDATE_COMPONENT discards it.

import * as C from './codes';
import { bankAddr, flash_bank_size, flash_erase, flash_read, flash_write, HW_ERR_ERASE, HW_OK, now_ms, SECTOR } from './hw';
import { BootRecord, mirrorActive, setBank, writeRecord, NONE } from './boot';
import * as D from './download';
import * as J from './journal';
import * as T from './mcc-table';
import * as P from './payload';
import { incoming, running } from './policy';

export { runningHead, incomingHead, running, incoming, embeddedKey, svnFloor, VERIFIABLE_ALGS } from './policy';

export const IO_SIZE: u32 = 65536 + 64;
export const io = memory.data(IO_SIZE);

export const record = new BootRecord();

export let state: u32 = C.ST_IDLE;
export let error: u32 = C.E_OK;
export let lastResult: u32 = C.R_OK;
export let handle: u32 = 0;
let offered: u32 = 0;
let owned: bool = false;
let lastCmd: f64 = 0;
export let handleTimeoutMs: f64 = 60000;
/**
 * FORCE_HANDLE_RELEASE takes the flow from an owner only after this much silence (MCC
 * time_elapsed_since_last_cmd, reference §1.2; hardening spec S8): any host on the bus reads the
 * handle from STATUS, so without it one host could end another's live update at will.
 */
export const FORCE_RELEASE_IDLE_MS: f64 = 10000;
export let componentSize: u32 = 0;
let erasedTo: u32 = 0;
/**
 * This flow has erased or written the inactive bank (or discarded the resumable download there):
 * the fallback image there is gone until it is restored. Cleared when ACTIVATE makes the bank the
 * pending image.
 */
let targetDirty: bool = false;
export let received: u32 = 0;
let verified: bool = false;
let target: u8 = 0;
export let pendingVersion: u64 = 0;
export let pendingReset: bool = false;
/**
 * The last update's outcome since power-on, for receipts (attest.ts): 0xFF none, 0 activated, else
 * the MCC error code the download or its activation was refused with.
 */
export const NO_UPDATE: u32 = 0xff;
export let lastUpdate: u32 = NO_UPDATE;
let busyUntil: f64 = 0;
/** How long the emulated flash takes to erase a sector (reported through INITIALIZE); set by the emulator's timing model. */
let eraseMsPerSector: f64 = 0;
let seed: u32 = 0x2545f491;

export function setHandleTimeout(ms: f64): void {
  handleTimeoutMs = ms;
}

function nextHandle(): u32 {
  // xorshift, reseeded from the clock: handles only need to differ between flows (24 bits, §1.2)
  seed ^= <u32>now_ms();
  seed ^= seed << 13;
  seed ^= seed >> 17;
  seed ^= seed << 5;
  const h = seed & 0xffffff;
  return h == 0 ? 1 : h;
}

function release(): void {
  owned = false;
  handle = 0;
  state = C.ST_IDLE;
  resetDownload();
  // A download that ended without an activated image (refused, cancelled, abandoned) has overwritten
  // the fallback in the inactive bank: copy the running image back into it now, rather than leave
  // the NIC with a single bootable image until its next boot (issue #10; protocol §8.6). Unless the
  // journal keeps it resumable (a released or timed-out flow, issue #13): then the partial download
  // stays, and with it a single good bank until it is resumed or discarded (threat model T19).
  if (targetDirty && record.pending == NONE && !J.live) mirrorActive(record, running);
  targetDirty = false;
}

function resetDownload(): void {
  componentSize = 0;
  received = 0;
  verified = false;
  D.reset();
}

/** Drop the resumable download in the inactive bank (CANCEL, UPDATE_COMPONENT); the flow's end then restores the fallback. */
function discardResumable(): u32 {
  if (!J.live) return HW_OK;
  targetDirty = true;
  return J.discard();
}

/** Handle timeout (§1.2 time_elapsed_since_last_cmd): an abandoned flow is released. */
export function tick(): void {
  if (owned && now_ms() - lastCmd > handleTimeoutMs) {
    release();
    error = C.E_OK;
  }
  if (state == C.ST_INITIALIZE && now_ms() >= busyUntil) state = C.ST_DOWNLOAD;
}

function reject(code: u32): u32 {
  error = code;
  lastUpdate = code;
  // a rejected download stops here: the FSM goes back to LOCKED, the inactive bank is not referenced
  if (state == C.ST_DOWNLOAD || state == C.ST_INITIALIZE || state == C.ST_VERIFY) state = C.ST_LOCKED;
  resetDownload();
  return C.R_OK;
}

/** One MCC command. Returns the register status; state and error_code are read with status(). */
export function command(instruction: u32, h: u32, size: u32): u32 {
  tick();
  lastResult = run(instruction, h, size);
  return lastResult;
}

// ---- The MCC flow: TABLE[state][instruction] (mcc-table.ts) ---------------------------------

// The guards a cell may depend on, evaluated once per command in `guards` (protocol §5.3, §5.4).
const G_OWNER_HANDLE: u32 = 1; // a flow is owned and the command carries its handle
const G_OFFERED_HANDLE: u32 = 2; // the command carries the handle QUERY offered (never 0, §1.2)
const G_IMAGE_PENDING: u32 = 4; // the boot record names a pending image (reference §6.2)
const G_RESET_PENDING: u32 = 8; // an image was activated and waits for a reset
const G_OWNER_SILENT: u32 = 16; // the owner sent nothing for FORCE_RELEASE_IDLE_MS (S8)
const G_VERIFIED: u32 = 32; // this flow's download passed VERIFY_COMPONENT

function guards(h: u32): u32 {
  let g: u32 = 0;
  if (owned && h == handle) g |= G_OWNER_HANDLE;
  if (h != 0 && h == offered) g |= G_OFFERED_HANDLE;
  if (record.pending != NONE) g |= G_IMAGE_PENDING;
  if (pendingReset) g |= G_RESET_PENDING;
  if (owned && now_ms() - lastCmd >= FORCE_RELEASE_IDLE_MS) g |= G_OWNER_SILENT;
  if (verified) g |= G_VERIFIED;
  return g;
}

/** The one refusal: a register status, and nothing changes (reference §1.8; protocol §5.4). */
function refuse(status: u32): u32 {
  return status;
}

/** Accepted, but the device says no: register status OK, the error in STATUS, the state unchanged. */
function fail(code: u32): u32 {
  error = code;
  return C.R_OK;
}

type Action = (g: u32, h: u32, size: u32) => u32;

function badParam(g: u32, h: u32, size: u32): u32 {
  return refuse(C.R_BAD_PARAM);
}
function resNotAvailable(g: u32, h: u32, size: u32): u32 {
  return refuse(C.R_RES_NOT_AVLBL);
}
function nop(g: u32, h: u32, size: u32): u32 {
  return C.R_OK;
}
function offer(g: u32, h: u32, size: u32): u32 {
  // MCC GET in IDLE hands out the handle to lock with (§1.7 step 3)
  offered = nextHandle();
  return C.R_OK;
}
function lockHandle(g: u32, h: u32, size: u32): u32 {
  if ((g & G_OFFERED_HANDLE) == 0) return refuse(C.R_BAD_PARAM);
  owned = true;
  handle = h;
  state = C.ST_LOCKED;
  error = C.E_OK;
  lastCmd = now_ms();
  return C.R_OK;
}
function releaseHandle(g: u32, h: u32, size: u32): u32 {
  release();
  return C.R_OK;
}
function update(g: u32, h: u32, size: u32): u32 {
  return updateComponent(size, (g & (G_IMAGE_PENDING | G_RESET_PENDING)) != 0);
}
function verify(g: u32, h: u32, size: u32): u32 {
  return verifyComponent();
}
function activateAll(g: u32, h: u32, size: u32): u32 {
  error = C.E_OK;
  if ((g & G_VERIFIED) == 0) return fail(C.E_ERROR);
  return activate();
}
function read(g: u32, h: u32, size: u32): u32 {
  state = C.ST_UPLOAD;
  error = C.E_OK;
  return C.R_OK;
}
function cancel(g: u32, h: u32, size: u32): u32 {
  state = C.ST_LOCKED;
  resetDownload();
  discardResumable(); // the owner says so: the download is not to be resumed (a failed record: the next boot finds it stale)
  return C.R_OK;
}
function forceRelease(g: u32, h: u32, size: u32): u32 {
  // S8: only from an owner silent for 10 s; the handle is not needed (the point is to reclaim a flow
  // whose host is gone), so it does not refresh lastCmd
  if ((g & G_OWNER_SILENT) == 0) return refuse(C.R_RES_NOT_AVLBL);
  release();
  error = C.E_OK;
  return C.R_OK;
}
function readPending(g: u32, h: u32, size: u32): u32 {
  if ((g & G_IMAGE_PENDING) == 0) return fail(C.E_ERROR);
  state = C.ST_UPLOAD_PENDING;
  error = C.E_OK;
  return C.R_OK;
}
function reactivate(g: u32, h: u32, size: u32): u32 {
  if ((g & G_IMAGE_PENDING) == 0) return fail(C.E_ERROR);
  return reactivatePrevious();
}
function resume(g: u32, h: u32, size: u32): u32 {
  return resumeComponent(size);
}

/** The actions, indexed by the codes in mcc-table.ts (A_*, X_*). */
const ACTIONS: StaticArray<Action> = [badParam, resNotAvailable, nop, offer, lockHandle, releaseHandle, update, verify, activateAll, read, cancel, forceRelease, readPending, reactivate, resume];

function run(instruction: u32, h: u32, size: u32): u32 {
  const col = T.column(instruction);
  const action = T.cell(state, col);
  const g = guards(h);
  if (T.needsOwner(col)) {
    // protocol §5.3: the owner's handle refreshes the owner's timer, even when the cell refuses;
    // an acting cell with no owner or a wrong handle is refused, and nothing changes
    if ((g & G_OWNER_HANDLE) != 0) lastCmd = now_ms();
    else if (!T.isRefusal(action)) return refuse(C.R_BAD_PARAM);
  }
  return ACTIONS[action](g, h, size);
}

function updateComponent(size: u32, imagePending: bool): u32 {
  error = C.E_OK;
  if (imagePending) return reject(C.E_BLOCKED_PENDING_RESET);
  const bank = flash_bank_size();
  // size 0 = not given (a plain DFU download): the head will tell
  if (size > bank) return reject(C.E_NO_PLACE);
  // a new download replaces a resumable one: forget it before its bytes are erased
  if (discardResumable() != HW_OK) return reject(C.E_FLASH_WRITE_PROTECTED);
  target = record.active == 0 ? 1 : 0;
  // A known size is erased now (INITIALIZE); an unknown one (a plain DFU download) sector by
  // sector as data arrives, as DFU bootloaders do, so the first block does not wait for a whole bank.
  const eraseLen = size == 0 ? 0 : ((size + SECTOR - 1) / SECTOR) * SECTOR;
  state = C.ST_INITIALIZE;
  if (eraseLen > 0) {
    targetDirty = true;
    const st = flash_erase(bankAddr(target), eraseLen);
    if (st != HW_OK) return reject(st == HW_ERR_ERASE ? C.E_FLASH_ERASE_ERROR : C.E_ERROR);
  }
  resetDownload();
  erasedTo = eraseLen;
  componentSize = size;
  busyUntil = now_ms() + <f64>eraseMs(eraseLen);
  tick();
  return C.R_OK;
}

export function setEraseTiming(msPerSector: f64): void {
  eraseMsPerSector = msPerSector;
}
function eraseMs(len: u32): f64 {
  return eraseMsPerSector * <f64>(len / SECTOR);
}

/** A data block at `offset` (sequential) of `len` bytes, taken from the io buffer. */
export function writeBlock(h: u32, offset: u32, len: u32): u32 {
  tick();
  if (!owned || h != handle) return (lastResult = C.R_BAD_PARAM);
  lastCmd = now_ms();
  if (state == C.ST_INITIALIZE) return (lastResult = C.R_DEV_BUSY);
  if (state != C.ST_DOWNLOAD || len == 0 || len > 65536 || offset != received) return (lastResult = C.R_BAD_PARAM);
  const limit: u64 = componentSize != 0 ? <u64>componentSize : (D.headChecked ? incoming.total : <u64>flash_bank_size());
  if (<u64>offset + <u64>len > limit) {
    lastResult = C.R_OK;
    return reject(componentSize != 0 ? C.E_REJECTED_BAD_FORMAT : C.E_NO_PLACE);
  }
  targetDirty = true;
  if (offset + len > erasedTo) {
    const to = ((offset + len + SECTOR - 1) / SECTOR) * SECTOR;
    const st = flash_erase(bankAddr(target) + erasedTo, to - erasedTo);
    if (st != HW_OK) {
      lastResult = C.R_OK;
      return reject(st == HW_ERR_ERASE ? C.E_FLASH_ERASE_ERROR : C.E_ERROR);
    }
    erasedTo = to;
  }
  if (flash_write(bankAddr(target) + offset, io, len) != HW_OK) {
    lastResult = C.R_OK;
    return reject(C.E_FLASH_WRITE_PROTECTED);
  }
  // the head is authenticated the moment it is complete, the payload checked as it streams (download.ts)
  const code = D.take(io, len, componentSize, target);
  if (code != C.E_OK) {
    lastResult = C.R_OK;
    return reject(code);
  }
  received += len;
  lastResult = C.R_OK;
  return C.R_OK;
}

function verifyComponent(): u32 {
  error = C.E_OK;
  if (!D.headChecked || <u64>received != incoming.total) return reject(C.E_REJECTED_BAD_FORMAT);
  const code = P.finishPayload();
  if (code != C.E_OK) return reject(code);
  verified = true;
  state = C.ST_LOCKED; // §1.6: the VERIFY answer already shows the final state
  return C.R_OK;
}

function activate(): u32 {
  setBank(record, target, received, P.recordDigest);
  record.pending = target;
  const st = writeRecord(record);
  if (st != HW_OK) {
    record.pending = NONE;
    error = C.E_FLASH_WRITE_PROTECTED;
    lastUpdate = error;
    return C.R_OK;
  }
  lastUpdate = C.E_OK;
  pendingVersion = incoming.version;
  pendingReset = true;
  verified = false;
  targetDirty = false; // the bank now holds the pending image the record names
  J.discard(); // nothing left to resume (a failed record: stale at the next boot, the bank is pending or active)
  state = C.ST_LOCKED;
  return C.R_OK;
}

/**
 * RESUME_COMPONENT (protocol §5.6): continue the download the journal kept, at the first hash block
 * that is not on flash and verified. INITIALIZE while the head is re-authenticated and the blocks
 * re-hashed (download.ts recheck), then DOWNLOAD with `received` = the resume offset, and the DATA
 * path as after UPDATE_COMPONENT. Nothing resumable of that size: error 0x01, nothing changes.
 */
function resumeComponent(size: u32): u32 {
  error = C.E_OK;
  const other: u8 = record.active == 0 ? 1 : 0;
  if (!J.live || J.size != size || J.bank != other || record.pending != NONE) return fail(C.E_ERROR);
  state = C.ST_INITIALIZE;
  target = other;
  targetDirty = true;
  const code = D.recheck(size, target);
  if (code != C.E_OK) return reject(code);
  const tail = D.prepareTail(target);
  if ((tail & 0x80000000) != 0) return reject(tail & 0xff);
  componentSize = size;
  received = D.resumeOffset;
  erasedTo = tail;
  busyUntil = now_ms() + eraseMs(D.tailErased ? SECTOR : 0); // the re-hash itself is not timed (protocol §12.2)
  tick();
  return C.R_OK;
}

/** Undo a pending image (MIRC re-activation, §6.2): the boot record forgets it. */
function reactivatePrevious(): u32 {
  record.pending = NONE;
  const st = writeRecord(record);
  if (st != HW_OK) {
    error = C.E_FLASH_WRITE_PROTECTED;
    return C.R_OK;
  }
  pendingReset = false;
  pendingVersion = 0;
  error = C.E_OK;
  return C.R_OK;
}

/** READ_COMPONENT data: copies up to `len` bytes at `offset` of the running (or pending) image into io. Returns the count. */
export function readBlock(h: u32, offset: u32, len: u32): u32 {
  tick();
  if (!owned || h != handle || (state != C.ST_UPLOAD && state != C.ST_UPLOAD_PENDING) || len > 65536) {
    lastResult = C.R_BAD_PARAM;
    return 0;
  }
  lastCmd = now_ms();
  const bank: u8 = state == C.ST_UPLOAD ? record.active : record.pending;
  const total = bank == 0 ? record.len0 : record.len1;
  lastResult = C.R_OK;
  return readImage(bank, total, offset, len);
}

/** Copies image bytes of `bank` (total length `total`) at `offset` into io; used by READ_COMPONENT and DFU UPLOAD. */
export function readImage(bank: u8, total: u32, offset: u32, len: u32): u32 {
  if (offset >= total) return 0;
  const n = total - offset < len ? total - offset : len;
  if (flash_read(bankAddr(bank) + offset, io, n) != HW_OK) {
    lastResult = C.R_DEV_BUSY;
    return 0;
  }
  return n;
}

export function setPending(version: u64): void {
  pendingVersion = version;
  pendingReset = true;
}
export function isOwned(): bool {
  return owned;
}
export function offeredHandle(): u32 {
  return owned ? 0 : offered;
}
export function elapsedMs(): f64 {
  return owned ? now_ms() - lastCmd : 0;
}
export function expectedTotal(): u64 {
  return D.headChecked ? incoming.total : <u64>componentSize;
}
/** After boot: drop every RAM-held flow. */
export function resetRam(): void {
  targetDirty = false; // after a reset, boot() restores the fallback (main.ts maintain)
  owned = false;
  handle = 0;
  offered = 0;
  state = C.ST_IDLE;
  error = C.E_OK;
  lastResult = C.R_OK;
  pendingReset = false;
  pendingVersion = 0;
  lastUpdate = NO_UPDATE;
  resetDownload();
}
