// The MCC flow as data (reference/mstflint-secure-update.md §1.3–1.9; docs/protocol.md §5.4):
// TABLE[state][column] is the action the device takes for an instruction in a state. update.ts
// evaluates the guards (handle, image pending, owner silent) in one place and runs the action;
// a refusal cell is answered by its one refusal path. The table lives in RAM (static data), as
// on a NIC whose firmware copies its tables there; the emulator exposes those bytes so a test can
// change one cell and see the table test fail (tests/unit/device/mcc-table.test.ts).

import * as C from './codes';

// Columns: one per instruction the device knows (reference §1.3), then every other value.
export const COL_QUERY: u32 = 0;
export const COL_LOCK: u32 = 1;
export const COL_RELEASE: u32 = 2;
export const COL_UPDATE: u32 = 3;
export const COL_VERIFY: u32 = 4;
export const COL_ACTIVATE: u32 = 5;
export const COL_READ: u32 = 6;
export const COL_CANCEL: u32 = 7;
export const COL_CHECK: u32 = 8;
export const COL_FORCE: u32 = 9;
export const COL_READ_PENDING: u32 = 10;
export const COL_REACTIVATE: u32 = 11;
export const COL_RESUME: u32 = 12;
/** ACTIVATE_COMPONENT (0x5), DOWNSTREAM_DEVICE_TRANSFER (0xC) and any value not in §1.3. */
export const COL_OTHER: u32 = 13;
export const COLUMNS: u32 = 14;
/** control_state 0x0..0x8 (reference §1.4); DOWNSTREAM_DEVICE_TRANSFER (0x9) is never entered. */
export const STATES: u32 = C.ST_UPLOAD_PENDING + 1;

/** The column of an instruction. */
export function column(instruction: u32): u32 {
  if (instruction <= C.CMD_VERIFY_COMPONENT) return instruction;
  // 0x5 ACTIVATE_COMPONENT is not implemented (protocol §5.2): 0x6..0xB follow on from COL_VERIFY
  if (instruction >= C.CMD_ACTIVATE && instruction <= C.CMD_READ_PENDING_COMPONENT) return instruction - C.CMD_ACTIVATE + COL_ACTIVATE;
  if (instruction == C.CMD_REACTIVATE_PREVIOUS) return COL_REACTIVATE;
  if (instruction == C.CMD_RESUME_COMPONENT) return COL_RESUME;
  return COL_OTHER;
}

/**
 * Columns whose instruction must carry the owner's handle (protocol §5.3): all but QUERY (any host
 * reads the FSM, reference §1.7 step 3), LOCK (carries the offered handle) and FORCE_HANDLE_RELEASE
 * (its point is to reclaim a flow whose host is gone). A command with the owner's handle refreshes
 * the owner's timer even when its cell refuses it.
 */
export function needsOwner(col: u32): bool {
  return col != COL_QUERY && col != COL_LOCK && col != COL_FORCE;
}

// Actions. The two refusals answer a register status and change nothing (reference §1.8).
export const X_BAD_PARAM: u8 = 0; // 0x07 BAD_PARAM: not legal here (or no owner / a wrong handle)
export const X_RES_NOT_AVLBL: u8 = 1; // 0x08 RES_NOT_AVLBL: legal, but the resource is held
export const A_NOP: u8 = 2; // OK, nothing changes (QUERY while owned, CHECK_UPDATE_HANDLE, FORCE with no owner)
export const A_OFFER: u8 = 3; // QUERY in IDLE: offer a fresh handle (§1.7 step 3)
export const A_LOCK: u8 = 4; // the offered handle → LOCKED
export const A_RELEASE: u8 = 5; // → IDLE
export const A_UPDATE: u8 = 6; // UPDATE_COMPONENT → INITIALIZE → DOWNLOAD, or an error (protocol §5.4)
export const A_VERIFY: u8 = 7; // the payload digest → LOCKED, or an error (protocol §6)
export const A_ACTIVATE: u8 = 8; // the verified image becomes the pending one
export const A_READ: u8 = 9; // → UPLOAD
export const A_CANCEL: u8 = 10; // the download is dropped → LOCKED
export const A_FORCE: u8 = 11; // → IDLE once the owner has been silent 10 s (S8)
export const A_READ_PENDING: u8 = 12; // → UPLOAD_PENDING, or error 0x01 with nothing pending
export const A_REACTIVATE: u8 = 13; // the pending image is forgotten (MIRC, reference §6.2)
export const A_RESUME: u8 = 14; // the journal's download → INITIALIZE (re-check) → DOWNLOAD at the resume offset, or error 0x01
export const ACTIONS: u32 = 15;

export function isRefusal(action: u8): bool {
  return action == X_BAD_PARAM || action == X_RES_NOT_AVLBL;
}

/**
 * state × column → action. Rows VERIFY, APPLY and ACTIVATE are never entered: VERIFY and ACTIVATE
 * complete within their command and the answer already shows LOCKED, as mstflint requires (it does
 * not poll after VERIFY_COMPONENT, reference §1.6/§1.7 step 7; protocol §5.1). Their rows say what
 * an owned state without a download would do, so no state falls outside the table.
 */
export const TABLE: usize = memory.data<u8>([
  //                   QUERY    LOCK             RELEASE      UPDATE       VERIFY       ACTIVATE     READ         CANCEL       CHECK        FORCE            READ_PENDING    REACTIVATE    RESUME       other
  /* IDLE */           A_OFFER, A_LOCK,          X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, A_NOP,           X_BAD_PARAM,    X_BAD_PARAM,  X_BAD_PARAM, X_BAD_PARAM,
  // RESUME, like UPDATE, starts a download: only between steps (issue #13)
  /* LOCKED */         A_NOP,   X_RES_NOT_AVLBL, A_RELEASE,   A_UPDATE,    X_BAD_PARAM, A_ACTIVATE,  A_READ,      A_CANCEL,    A_NOP,       A_FORCE,         A_READ_PENDING, A_REACTIVATE, A_RESUME,    X_BAD_PARAM,
  // erasing: FORCE would cut the erase short (S8)
  /* INITIALIZE */     A_NOP,   X_RES_NOT_AVLBL, X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, A_CANCEL,    A_NOP,       X_RES_NOT_AVLBL, X_BAD_PARAM,    X_BAD_PARAM,  X_BAD_PARAM, X_BAD_PARAM,
  /* DOWNLOAD */       A_NOP,   X_RES_NOT_AVLBL, X_BAD_PARAM, X_BAD_PARAM, A_VERIFY,    X_BAD_PARAM, X_BAD_PARAM, A_CANCEL,    A_NOP,       A_FORCE,         X_BAD_PARAM,    X_BAD_PARAM,  X_BAD_PARAM, X_BAD_PARAM,
  /* VERIFY */         A_NOP,   X_RES_NOT_AVLBL, X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, A_CANCEL,    A_NOP,       A_FORCE,         X_BAD_PARAM,    X_BAD_PARAM,  X_BAD_PARAM, X_BAD_PARAM,
  /* APPLY */          A_NOP,   X_RES_NOT_AVLBL, X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, A_CANCEL,    A_NOP,       A_FORCE,         X_BAD_PARAM,    X_BAD_PARAM,  X_BAD_PARAM, X_BAD_PARAM,
  /* ACTIVATE */       A_NOP,   X_RES_NOT_AVLBL, X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, A_CANCEL,    A_NOP,       A_FORCE,         X_BAD_PARAM,    X_BAD_PARAM,  X_BAD_PARAM, X_BAD_PARAM,
  // reference §1.9: RELEASE from LOCKED or UPLOAD
  /* UPLOAD */         A_NOP,   X_RES_NOT_AVLBL, A_RELEASE,   X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, A_CANCEL,    A_NOP,       A_FORCE,         X_BAD_PARAM,    X_BAD_PARAM,  X_BAD_PARAM, X_BAD_PARAM,
  /* UPLOAD_PENDING */ A_NOP,   X_RES_NOT_AVLBL, A_RELEASE,   X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, X_BAD_PARAM, A_CANCEL,    A_NOP,       A_FORCE,         X_BAD_PARAM,    X_BAD_PARAM,  X_BAD_PARAM, X_BAD_PARAM,
]);

export function cell(state: u32, col: u32): u8 {
  // a state outside the table (none is ever set) is answered as the refusal it would be
  if (state >= STATES || col >= COLUMNS) return X_BAD_PARAM;
  return load<u8>(TABLE + state * COLUMNS + col);
}
