// Numbers from the MCC tables (reference/mstflint-secure-update.md §1.3–1.5), spelled as there.

// FSM states (control_state)
export const ST_IDLE: u32 = 0x0;
export const ST_LOCKED: u32 = 0x1;
export const ST_INITIALIZE: u32 = 0x2;
export const ST_DOWNLOAD: u32 = 0x3;
export const ST_VERIFY: u32 = 0x4;
export const ST_APPLY: u32 = 0x5;
export const ST_ACTIVATE: u32 = 0x6;
export const ST_UPLOAD: u32 = 0x7;
export const ST_UPLOAD_PENDING: u32 = 0x8;

// Instructions
export const CMD_QUERY: u32 = 0x0;
export const CMD_LOCK_UPDATE_HANDLE: u32 = 0x1;
export const CMD_RELEASE_UPDATE_HANDLE: u32 = 0x2;
export const CMD_UPDATE_COMPONENT: u32 = 0x3;
export const CMD_VERIFY_COMPONENT: u32 = 0x4;
export const CMD_ACTIVATE: u32 = 0x6;
export const CMD_READ_COMPONENT: u32 = 0x7;
export const CMD_CANCEL: u32 = 0x8;
export const CMD_CHECK_UPDATE_HANDLE: u32 = 0x9;
export const CMD_FORCE_HANDLE_RELEASE: u32 = 0xa;
export const CMD_READ_PENDING_COMPONENT: u32 = 0xb;
/** Not an MCC instruction: undo a pending image (MIRC image re-activation, §6.2). */
export const CMD_REACTIVATE_PREVIOUS: u32 = 0x20;
/** Not an MCC instruction: continue a download the journal kept (issue #13; protocol §5.6). */
export const CMD_RESUME_COMPONENT: u32 = 0x21;

// MCC error_code
export const E_OK: u32 = 0x00;
export const E_ERROR: u32 = 0x01;
export const E_REJECTED_DIGEST_ERR: u32 = 0x02;
export const E_REJECTED_NOT_APPLICABLE: u32 = 0x03;
export const E_REJECTED_UNKNOWN_KEY: u32 = 0x04;
export const E_REJECTED_AUTH_FAILED: u32 = 0x05;
export const E_REJECTED_UNSIGNED: u32 = 0x06;
export const E_REJECTED_KEY_NOT_APPLICABLE: u32 = 0x07;
export const E_REJECTED_BAD_FORMAT: u32 = 0x08;
export const E_BLOCKED_PENDING_RESET: u32 = 0x09;
export const E_REJECTED_NOT_A_SECURED_FW: u32 = 0x0a;
export const E_REJECTED_NO_DEBUG_TOKEN: u32 = 0x0c;
export const E_REJECTED_FORBIDDEN_VERSION: u32 = 0x0f;
export const E_FLASH_ERASE_ERROR: u32 = 0x10;
export const E_REJECTED_TOKEN_ALREADY_APPLIED: u32 = 0x17;
export const E_INVALID_SECURITY_VERSION: u32 = 0x19;
export const E_NO_PLACE: u32 = 0x1e;
export const E_FLASH_WRITE_PROTECTED: u32 = 0x28;
export const E_DEV_IMAGE_ON_PROD_DEVICE: u32 = 0x32;

// Register-access status (§1.8): whether the command itself was taken.
export const R_OK: u32 = 0;
export const R_DEV_BUSY: u32 = 1;
export const R_METHOD_NOT_SUPP: u32 = 6;
export const R_BAD_PARAM: u32 = 7;
export const R_RES_NOT_AVLBL: u32 = 8;
