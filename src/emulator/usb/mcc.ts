/**
 * The MCC numbers the USB function uses to drive the NIC firmware (the same numbers as
 * wasm/firmware/codes.ts, from reference/mstflint-secure-update.md §1.3–1.8) and the sentences a
 * person reads for them: mstflint's `getLastErrMsg` texts (§1.5), the Linux mlxfw text where
 * mstflint has none, and the register-access texts (§1.8).
 */

// §1.3 instructions
export const MCC_INSTRUCTION = {
  QUERY: 0x0,
  LOCK_UPDATE_HANDLE: 0x1,
  RELEASE_UPDATE_HANDLE: 0x2,
  UPDATE_COMPONENT: 0x3,
  VERIFY_COMPONENT: 0x4,
  ACTIVATE: 0x6,
  READ_COMPONENT: 0x7,
  CANCEL: 0x8,
  CHECK_UPDATE_HANDLE: 0x9,
  FORCE_HANDLE_RELEASE: 0xa,
  READ_PENDING_COMPONENT: 0xb,
  /** Not an MCC instruction: undo a pending image (MIRC re-activation), wasm/firmware/codes.ts CMD_REACTIVATE_PREVIOUS. */
  REACTIVATE_PREVIOUS: 0x20,
  /** Not an MCC instruction: continue a download the journal kept (issue #13), wasm/firmware/codes.ts CMD_RESUME_COMPONENT. */
  RESUME_COMPONENT: 0x21,
} as const;

// §1.4 control_state
export const MCC_STATE = {
  IDLE: 0x0,
  LOCKED: 0x1,
  INITIALIZE: 0x2,
  DOWNLOAD: 0x3,
  VERIFY: 0x4,
  APPLY: 0x5,
  ACTIVATE: 0x6,
  UPLOAD: 0x7,
  UPLOAD_PENDING: 0x8,
} as const;

// §1.8 register-access status
export const REGISTER_STATUS = {
  OK: 0,
  DEV_BUSY: 1,
  METHOD_NOT_SUPP: 6,
  BAD_PARAM: 7,
  RES_NOT_AVLBL: 8,
} as const;

/** Firmware STATUS flags (docs/protocol.md): bit 0 handle owned, bit 1 image pending reset, bit 2 booted, bit 3 CS token active. */
export const STATUS_FLAG = { OWNED: 1, PENDING: 2, BOOTED: 4, TOKEN: 8 } as const;

/** §1.5: mstflint's text; for 0x04, 0x08 (mstflint prints "GENERAL ERROR") and 0x32 the mlxfw / PRM wording. */
export const MCC_ERROR_TEXT: Readonly<Record<number, string>> = {
  0x01: 'MCC error',
  0x02: 'The Digest in the signature is wrong',
  0x03: 'Component is not applicable',
  0x04: 'Unknown key',
  0x05: 'Rejected authentication',
  0x06: 'The component is not signed',
  0x07: 'The key is not applicable',
  0x08: 'Bad format',
  0x09: 'The firmware image was already updated on flash, pending reset.',
  0x0a: 'The firmware image is not secured',
  0x0b: 'The manufacturing base MAC was not listed',
  0x0c: 'There is no Debug Token installed',
  0x0d: 'Firmware version mismatch',
  0x0e: 'User timestamp mismatch',
  0x0f: 'Forbidden version rejected',
  0x10: 'Error while erasing the flash',
  0x17: 'Token already applied',
  0x19: 'FW burn rejected: Invalid security version',
  0x1e: 'FW burn rejected: No place available',
  0x28: 'Flash is write protected',
  0x32: 'Development image on a production device',
};

/** §1.8 */
export const REGISTER_STATUS_TEXT: Readonly<Record<number, string>> = {
  0: 'OK',
  1: 'Register access failed, device is busy',
  4: 'Register not supported',
  6: 'Register access Method not supported',
  7: 'Register access bad parameter',
  8: 'Register access resource unavailable',
};

const hex2 = (n: number): string => n.toString(16).toUpperCase().padStart(2, '0');

/** "Forbidden version rejected (MCC error 0x0F)". */
export function mccErrorSentence(code: number): string {
  const text = MCC_ERROR_TEXT[code] ?? 'GENERAL ERROR';
  return `${text.replace(/\.$/, '')} (MCC error 0x${hex2(code)})`;
}

/** "Register access bad parameter (register status 0x07)". */
export function registerStatusSentence(status: number): string {
  return `${REGISTER_STATUS_TEXT[status] ?? 'Unknown register error'} (register status 0x${hex2(status)})`;
}
