/**
 * The secure-update machine's numbers, spelled as the MCC tables spell them
 * (reference/mstflint-secure-update.md §1.3 instructions, §1.4 states, §1.5 error codes, §1.8
 * register-access status), with the text mstflint prints and, for each, a sentence and an action
 * a person can act on. Host side: shared by the session driver, the UI and the CLI. The device's
 * own copy is wasm/firmware/codes.ts (device code shares nothing with the host, like real silicon);
 * docs/protocol.md documents both.
 */
import { nameTable } from '../bytes/names.ts';
import { UpdateError } from '../dfu/errors.ts';

// ---- FSM states (MCC control_state, §1.4) ----------------------------------------------------

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
  DOWNSTREAM_DEVICE_TRANSFER: 0x9,
} as const;
export type MccStateName = keyof typeof MCC_STATE;

export const MCC_STATE_NAMES: Readonly<Record<number, MccStateName>> = nameTable(MCC_STATE);

/** What each state means, for a person watching the machine (mstflint's stateToStr where it has one). */
export const MCC_STATE_TEXT: Readonly<Record<number, string>> = {
  0x0: 'Idle: no host holds the update handle',
  0x1: 'Locked: a host holds the update handle',
  0x2: 'Initializing image partition (erasing the inactive bank)',
  0x3: 'Downloading: receiving image blocks',
  0x4: 'Verifying the component',
  0x5: 'Applying the component',
  0x6: 'Activating the component',
  0x7: 'Uploading the running component',
  0x8: 'Uploading the pending component',
  0x9: 'Transferring data to a downstream (LinkX) device',
};

export function mccStateName(state: number): string {
  return MCC_STATE_NAMES[state] ?? `UNKNOWN_STATE_0x${hex2(state)}`;
}

// ---- Instructions (MCC instruction, §1.3) ----------------------------------------------------

export const MCC_INSTRUCTION = {
  /** Not an MCC instruction: mstflint reads the FSM with an MCC GET (instruction 0); in IDLE it offers a handle. */
  QUERY: 0x0,
  LOCK_UPDATE_HANDLE: 0x1,
  RELEASE_UPDATE_HANDLE: 0x2,
  UPDATE_COMPONENT: 0x3,
  VERIFY_COMPONENT: 0x4,
  ACTIVATE_COMPONENT: 0x5,
  ACTIVATE: 0x6,
  READ_COMPONENT: 0x7,
  CANCEL: 0x8,
  CHECK_UPDATE_HANDLE: 0x9,
  FORCE_HANDLE_RELEASE: 0xa,
  READ_PENDING_COMPONENT: 0xb,
  DOWNSTREAM_DEVICE_TRANSFER: 0xc,
  /**
   * TrustFlash's own, not an MCC instruction: undo a pending image (what MIRC image
   * re-activation does on real devices, §6.2). Takes the owner's handle in LOCKED (docs/protocol.md §9).
   */
  REACTIVATE_PREVIOUS: 0x20,
  /**
   * TrustFlash's own, not an MCC instruction (issue #13): continue the download QUERY tag 26
   * reports. The owner's handle in LOCKED, componentSize = the image size; the device re-checks
   * what is on flash (INITIALIZE), then answers DOWNLOAD with STATUS.received = where to go on.
   * Nothing resumable of that size: error 0x01, still LOCKED (docs/protocol.md §5.6).
   */
  RESUME_COMPONENT: 0x21,
} as const;
export type MccInstructionName = keyof typeof MCC_INSTRUCTION;

export const MCC_INSTRUCTION_NAMES: Readonly<Record<number, MccInstructionName>> = nameTable(MCC_INSTRUCTION);

/** The instructions the emulated NIC's firmware implements (wasm/firmware/update.ts); the others answer R_BAD_PARAM. */
export const MCC_INSTRUCTIONS_IMPLEMENTED: readonly number[] = [0x0, 0x1, 0x2, 0x3, 0x4, 0x6, 0x7, 0x8, 0x9, 0xa, 0xb, 0x20, 0x21];

export function mccInstructionName(instruction: number): string {
  return MCC_INSTRUCTION_NAMES[instruction] ?? `UNKNOWN_INSTRUCTION_0x${hex2(instruction)}`;
}

// ---- Error codes (MCC error_code, §1.5) ------------------------------------------------------

export const MCC_ERROR = {
  OK: 0x00,
  ERROR: 0x01,
  REJECTED_DIGEST_ERR: 0x02,
  REJECTED_NOT_APPLICABLE: 0x03,
  REJECTED_UNKNOWN_KEY: 0x04,
  REJECTED_AUTH_FAILED: 0x05,
  REJECTED_UNSIGNED: 0x06,
  REJECTED_KEY_NOT_APPLICABLE: 0x07,
  REJECTED_BAD_FORMAT: 0x08,
  BLOCKED_PENDING_RESET: 0x09,
  REJECTED_NOT_A_SECURED_FW: 0x0a,
  REJECTED_MFG_BASE_MAC_NOT_LISTED: 0x0b,
  REJECTED_NO_DEBUG_TOKEN: 0x0c,
  REJECTED_VERSION_NUM_MISMATCH: 0x0d,
  REJECTED_USER_TIMESTAMP_MISMATCH: 0x0e,
  REJECTED_FORBIDDEN_VERSION: 0x0f,
  FLASH_ERASE_ERROR: 0x10,
  REJECTED_REBURN_RUNNING_AND_RETRY: 0x11,
  REJECTED_LINKX_TYPE_NOT_SUPPORTED: 0x12,
  REJECTED_HOST_STORAGE_IN_USE: 0x13,
  REJECTED_LINKX_TRANSFER: 0x14,
  REJECTED_LINKX_ACTIVATE: 0x15,
  REJECTED_INCOMPATIBLE_FLASH: 0x16,
  REJECTED_TOKEN_ALREADY_APPLIED: 0x17,
  REJECTED_FW_BURN_DRAM_NOT_AVAILABLE: 0x18,
  FW_BURN_REJECTED_INVALID_SECURITY_VERSION: 0x19,
  FW_BURN_REJECTED_CERT_CER509: 0x1a,
  FW_BURN_REJECTED_CERT_SIGNATURE: 0x1b,
  FW_BURN_REJECTED_CERT_METADATA: 0x1c,
  FW_BURN_REJECTED_INTERNAL_ERROR_0: 0x1d,
  FW_BURN_REJECTED_NO_PLACE: 0x1e,
  FW_BURN_REJECTED_REMOVAL_NO_MATCH_UIDD: 0x1f,
  FW_BURN_REJECTED_INTERNAL_ERROR_1: 0x20,
  FW_BURN_REJECTED_INTERNAL_ERROR_2: 0x21,
  FW_BURN_REJECTED_NUM_OF_SWAP: 0x22,
  FW_BURN_REJECTED_INTERNAL_ERROR_3: 0x23,
  FW_BURN_REJECTED_INTERNAL_ERROR_4: 0x24,
  FW_BURN_REJECTED_NOT_ALLOWED_SAME_UIDD: 0x25,
  FW_BURN_REJECTED_INTERNAL_ERROR_5: 0x26,
  FW_BURN_REJECTED_INTERNAL_ERROR_6: 0x27,
  FW_BURN_REJECTED_FLASH_WRITE_PROTECTED: 0x28,
  FW_BURN_REJECTED_INTERNAL_ERROR_7: 0x29,
  FW_BURN_REJECTED_INTERNAL_ERROR_8: 0x2a,
  FW_BURN_REJECTED_INTERNAL_ERROR_9: 0x2b,
  FW_BURN_REJECTED_DPA_ELF: 0x2c,
  FW_BURN_REJECTED_DPA_CRYPTO_BLOB: 0x2d,
  FW_BURN_REJECTED_DPA_APP_METADATA: 0x2e,
  FW_BURN_REJECTED_DPA_REMOVAL_SIGNATURE: 0x2f,
  FW_BURN_REJECTED_DPA_CONTAINER_VERIFY: 0x30,
  FW_BURN_REJECTED_INTERNAL_ERROR_10: 0x31,
  REJECTED_DEV_IMAGE_ON_PROD_DEVICE: 0x32,
  FW_BURN_REJECTED_DPA_APP_MANIFEST: 0x33,
} as const;
export type MccErrorName = keyof typeof MCC_ERROR;

export const MCC_ERROR_NAMES: Readonly<Record<number, MccErrorName>> = nameTable(MCC_ERROR);

/** mstflint's text for codes its getLastErrMsg has no case for (§1.5: 0x04, 0x08, 0x32, 0x33 and anything unknown). */
export const MSTFLINT_GENERAL_ERROR = 'GENERAL ERROR';

export interface MccErrorInfo {
  readonly code: number;
  /** The PRM name, as in MCC_ERROR. */
  readonly name: string;
  /** What mstflint prints (`getLastErrMsg`); MSTFLINT_GENERAL_ERROR where it has no case. */
  readonly mstflint: string;
  /** False where mstflint falls to its default text (§1.5). */
  readonly mstflintHasText: boolean;
  /** What the Linux mlxfw driver prints, for 0x01..0x09 (§1.5). */
  readonly linux?: string;
  /** What happened, in a sentence. */
  readonly sentence: string;
  /** What the person at the device can do about it. */
  readonly action: string;
  /** Does the emulated NIC's firmware (wasm/firmware) ever report this code? */
  readonly emittedByEmulator: boolean;
}

type Row = [mstflint: string | null, sentence: string, action: string, emitted?: boolean, linux?: string];

const INTERNAL = (n: number): Row => [
  `FW burn rejected: Internal error ${n}`,
  `The device's firmware hit internal error ${n} while burning.`,
  'Retry the update once; if it repeats, collect the device log and contact the vendor.',
];
const DPA = (what: string): Row => [
  `FW burn rejected: DPA ${what}`,
  `The DPA (data-path accelerator) component was rejected: its ${what} did not check out.`,
  'Use the DPA package built for this firmware release; this device model does not take DPA components.',
];
const LINKX = (what: string, text: string): Row => [text, `A LinkX (cable/module) ${what} failed.`, 'Reseat the module and retry; this emulated NIC has no LinkX devices.'];

const ROWS: Record<number, Row> = {
  0x00: ['', 'No error.', 'Nothing to do.', true],
  0x01: ['MCC error', 'The device reported a general error for the last command (for example ACTIVATE without a verified image, or reading a pending image that does not exist).', 'Cancel the flow (CANCEL, then RELEASE) and start the update again from the beginning.', true, 'general error'],
  0x02: ['The Digest in the signature is wrong', 'The firmware bytes do not match the digest the signed manifest promises: the image was damaged or altered after it was signed.', 'Download the image again from the vendor and check its published checksum; do not use this file.', true, 'component hash mismatch'],
  0x03: ['Component is not applicable', 'The image is not meant for this device: its PSID or device ID list does not include this board.', 'Use the release built for this PSID (see "PSID:" in the device query).', true, 'component not applicable'],
  0x04: [null, 'The image is signed, but by a key this device does not hold: no signature is by a key embedded in the firmware it runs.', "Use an image signed with the vendor's current key; after a key rotation, first install the release that introduces the new key.", true, 'unknown key'],
  0x05: ['Rejected authentication', 'A signature by a key the device trusts did not verify: the signed part of the image was altered, or the signature is corrupt.', 'Do not use this file. Obtain the image again from the vendor.', true, 'authentication failed'],
  0x06: ['The component is not signed', 'The image carries no signature, and this device accepts signed firmware only.', 'Use the vendor-signed release of this firmware.', true, 'component was not signed'],
  0x07: ['The key is not applicable', 'The image is signed, but not in a form this device can verify (it needs RSA-2048 PKCS#1 v1.5 with SHA-256).', 'Ask the vendor for the image signed for this device generation (RSA-2048 / SHA-256).', true, 'key not applicable'],
  0x08: [null, 'The image is not in the expected format, or it does not match the size announced for it (truncated, padded or not a TrustFlash image).', 'Check that the file is a complete, unmodified .tfw image and that the transfer sent exactly its bytes.', true, 'bad format'],
  0x09: ['The firmware image was already updated on flash, pending reset.', 'A new image is already on flash and waits for a reset; the device takes no second update until then.', 'Reset the device (or power-cycle it) to run the pending image, or undo it with image re-activation, then update again.', true, 'pending reset'],
  0x0a: ['The firmware image is not secured', 'The image is not marked as secured firmware, and a secure device only moves to secured firmware.', 'Use the secured (production) build of this release.', true],
  0x0b: ['The manufacturing base MAC was not listed', "The component is bound to a list of base MACs that does not contain this device's.", 'Request a component generated for this device\'s base MAC (see "Base MAC:").'],
  0x0c: ['There is no Debug Token installed', 'The operation needs a token, but no token challenge is outstanding (or no debug token is installed).', 'Request a fresh challenge from the device, have it signed, and apply the token before the challenge is replaced.', true],
  0x0d: ['Firmware version mismatch', "The component is bound to a firmware version other than the one the device runs.", 'Generate the component (token) for the running firmware version.'],
  0x0e: ['User timestamp mismatch', "The image's user timestamp is older than the one recorded on the device.", 'Use a newer image, or clear the timestamp with the vendor tool.'],
  0x0f: ['Forbidden version rejected', 'The device refuses this firmware version: it is on the forbidden list of the firmware it runs.', 'Choose another release.', true],
  0x10: ['Error while erasing the flash', "The device could not erase the flash bank for the new image.", 'Retry once; if it repeats, the flash may be failing: stop and contact the vendor.', true],
  0x11: ['Reburn running and retry', 'The device is re-burning a component and asked for a retry.', 'Wait a minute and run the update again.'],
  0x12: LINKX('type', 'LinkX type not supported'),
  0x13: ['Host storage is in use', 'The host storage the update needs is busy.', 'Wait for the other operation to finish and retry.'],
  0x14: LINKX('downstream transfer', 'LinkX downstream transfer failed'),
  0x15: LINKX('activation', 'LinkX activation failed'),
  0x16: ['The image does not support the device\'s flash type', 'This firmware does not support the flash chip fitted on this board (typically an older release).', 'Use a release new enough to support this board\'s flash.'],
  0x17: ['Token already applied', 'A token of this kind is already applied.', 'End the current token session before applying another.'],
  0x18: ['DRAM not available', 'The device has no DRAM available to stage the image.', 'Reset the device and retry.'],
  0x19: ['FW burn rejected: Invalid security version', "The image's security version is below the device's floor (its fuses or the running firmware's minimum): installing it would roll back security fixes.", 'Choose a release with an equal or higher security version.', true],
  0x1a: ['FW burn rejected: Certificate CER509', 'A certificate in the component is not valid X.509.', 'Regenerate the certificate component.'],
  0x1b: ['FW burn rejected: Certificate signature', "A certificate's signature in the component does not verify.", 'Regenerate the certificate component with the right issuer key.'],
  0x1c: ['FW burn rejected: Certificate metadata', 'The certificate metadata in the component is invalid.', 'Regenerate the certificate component.'],
  0x1d: INTERNAL(0),
  0x1e: ['FW burn rejected: No place available', 'The image does not fit: it is larger than the flash bank (or than the size announced for it).', 'Check "max component size" in the device query and use an image that fits.', true],
  0x1f: ['The removal UUID does not match the device\'s UUID', "The removal request names a UUID other than the device's.", 'Generate the removal for this device\'s UUID.'],
  0x20: INTERNAL(1),
  0x21: INTERNAL(2),
  0x22: ['FW burn rejected: Number of swap error', 'The device refused the burn: the swap counter is inconsistent.', 'Reset the device and retry; if it repeats, contact the vendor.'],
  0x23: INTERNAL(3),
  0x24: INTERNAL(4),
  0x25: ['FW burn rejected: Not allowed same UUID', 'A component with the same UUID is already installed.', 'Remove the installed component first, or use a component with a new UUID.'],
  0x26: INTERNAL(5),
  0x27: INTERNAL(6),
  0x28: ['Flash is write protected', 'Writing the flash failed (the flash is write protected or the write did not take).', 'Retry once; if it repeats, check the board\'s write-protect setting, or the flash may be failing.', true],
  0x29: INTERNAL(7),
  0x2a: INTERNAL(8),
  0x2b: INTERNAL(9),
  0x2c: DPA('ELF'),
  0x2d: DPA('crypto blob'),
  0x2e: DPA('app metadata'),
  0x2f: DPA('removal signature'),
  0x30: DPA('container verify'),
  0x31: INTERNAL(10),
  0x32: [null, 'This is a development image, and this is a production device: only development devices accept development builds.', 'Use the production build of this release.', true],
  0x33: [null, 'The DPA application manifest in the component was rejected.', 'Use the DPA package built for this firmware release.'],
};

export const MCC_ERRORS: readonly MccErrorInfo[] = Object.entries(MCC_ERROR).map(([name, code]) => {
  const [mstflint, sentence, action, emitted, linux] = ROWS[code]!;
  return {
    code,
    name,
    mstflint: mstflint ?? MSTFLINT_GENERAL_ERROR,
    mstflintHasText: mstflint !== null,
    ...(linux ? { linux } : {}),
    sentence,
    action,
    emittedByEmulator: emitted === true,
  };
});

const BY_CODE = new Map(MCC_ERRORS.map((e) => [e.code, e]));

/** The table row for `code`; a code outside 0x00..0x33 gets a generic row (mstflint prints "GENERAL ERROR" for it). */
/**
 * Codes that report a fault of the device (its flash, its memory, an internal error), not a
 * verdict on the image: an update that ends in one failed, it was not "rejected", and the same
 * image may install on a retry or on a healthy device.
 */
const DEVICE_FAULTS: ReadonlySet<number> = new Set([
  MCC_ERROR.FLASH_ERASE_ERROR,
  MCC_ERROR.REJECTED_FW_BURN_DRAM_NOT_AVAILABLE,
  MCC_ERROR.FW_BURN_REJECTED_FLASH_WRITE_PROTECTED,
  MCC_ERROR.FW_BURN_REJECTED_INTERNAL_ERROR_0,
  MCC_ERROR.FW_BURN_REJECTED_INTERNAL_ERROR_1,
  MCC_ERROR.FW_BURN_REJECTED_INTERNAL_ERROR_2,
  MCC_ERROR.FW_BURN_REJECTED_INTERNAL_ERROR_3,
  MCC_ERROR.FW_BURN_REJECTED_INTERNAL_ERROR_4,
  MCC_ERROR.FW_BURN_REJECTED_INTERNAL_ERROR_5,
  MCC_ERROR.FW_BURN_REJECTED_INTERNAL_ERROR_6,
  MCC_ERROR.FW_BURN_REJECTED_INTERNAL_ERROR_7,
  MCC_ERROR.FW_BURN_REJECTED_INTERNAL_ERROR_8,
  MCC_ERROR.FW_BURN_REJECTED_INTERNAL_ERROR_9,
]);

/** Is this MCC error a fault of the device rather than a verdict on the image? */
export function isDeviceFault(code: number): boolean {
  return DEVICE_FAULTS.has(code);
}

export function mccError(code: number): MccErrorInfo {
  return (
    BY_CODE.get(code) ?? {
      code,
      name: `UNKNOWN_ERROR_0x${hex2(code)}`,
      mstflint: MSTFLINT_GENERAL_ERROR,
      mstflintHasText: false,
      sentence: `The device reported error code 0x${hex2(code)}, which this host does not know.`,
      action: 'Update TrustFlash; if the code persists, report it with the device log.',
      emittedByEmulator: false,
    }
  );
}

/** mstflint's burn failure line for a device answer (FLINT_FSX_BURN_ERROR, §1.5), e.g. "-E- Burning FS4 image failed: Forbidden version rejected". */
export function mstflintBurnError(code: number, imageType = 'FS4'): string {
  return `-E- Burning ${imageType} image failed: ${mccError(code).mstflint}`;
}

// ---- Register-access status (§1.8) -----------------------------------------------------------

export const REG_STATUS = {
  OK: 0x0,
  DEV_BUSY: 0x1,
  VER_NOT_SUPP: 0x2,
  UNKNOWN_TLV: 0x3,
  REG_NOT_SUPP: 0x4,
  CLASS_NOT_SUPP: 0x5,
  METHOD_NOT_SUPP: 0x6,
  BAD_PARAM: 0x7,
  RES_NOT_AVLBL: 0x8,
  MSG_RECPT_ACK: 0x9,
  NOT_SUPPORTED_BY_SECONDARY: 0xe,
  BAD_CONFIG: 0x20,
  ERASE_EXCEEDED: 0x21,
  CONF_CORRUPT: 0x22,
  LEN_TOO_SMALL: 0x24,
  INTERNAL_ERROR: 0x70,
} as const;
export type RegStatusName = keyof typeof REG_STATUS;

export const REG_STATUS_NAMES: Readonly<Record<number, RegStatusName>> = nameTable(REG_STATUS);

export interface RegStatusInfo {
  readonly code: number;
  readonly name: string;
  /** mstflint's text (mtcr_common.c), "Unknown register error" where it has none. */
  readonly mstflint: string;
  readonly sentence: string;
  readonly action: string;
  readonly emittedByEmulator: boolean;
}

const UNKNOWN_REGISTER_ERROR = 'Unknown register error';

const REG_ROWS: Record<number, [mstflint: string | null, sentence: string, action: string, emitted?: boolean]> = {
  0x0: ['', 'The command was taken.', 'Nothing to do; read STATUS for the state and the MCC error code.', true],
  0x1: ['Register access failed, device is busy', 'The device is busy: it is still erasing the bank (INITIALIZE), has not booted, or could not read its flash.', 'Wait, poll STATUS, and resend the command when the state has moved on.', true],
  0x2: [null, 'The device does not support this version of the request.', 'Update TrustFlash to a version that matches the device firmware.'],
  0x3: [null, 'The device did not recognise the request.', 'Update TrustFlash to a version that matches the device firmware.'],
  0x4: ['Register not supported', 'The device does not support this request.', 'Check the device firmware supports secure update over this interface.'],
  0x5: [null, 'The device does not support this class of request.', 'Check the device firmware supports secure update over this interface.'],
  0x6: ['Register access Method not supported', 'The device refuses this operation: secure firmware blocks it (raw flash writes, VSD, ROM operations), or no token unlocked it.', 'Use the signed-update flow instead; for SET_VSD, apply a CS token first.', true],
  0x7: ['Register access bad parameter', 'The command does not fit: wrong update handle, an instruction not allowed in the current state, or a block at the wrong offset or of a bad length.', 'Read STATUS, then send the command the current state expects (see the state table in docs/protocol.md).', true],
  0x8: ['Register access resource unavailable', 'Another host holds the update handle.', 'Wait for the other host to finish (the handle expires after a minute without commands), or force-release it if you are sure it is abandoned.', true],
  0x9: [null, 'The device acknowledged the message without acting on it.', 'Resend the command.'],
  0xe: [null, 'This device (a secondary function) does not support the request.', 'Send the request to the primary function.'],
  0x20: [null, 'The device configuration is invalid.', 'Reset the device configuration to defaults.'],
  0x21: [null, 'The flash erase count was exceeded.', 'Stop: the flash is worn out; contact the vendor.'],
  0x22: [null, 'The device configuration is corrupt.', 'Reset the device configuration to defaults.'],
  0x24: [null, 'The request was too short.', 'Update TrustFlash to a version that matches the device firmware.'],
  0x70: ['Firmware internal error', 'The device firmware hit an internal error.', 'Reset the device and retry; if it repeats, contact the vendor.'],
};

export const REG_STATUSES: readonly RegStatusInfo[] = Object.entries(REG_STATUS).map(([name, code]) => {
  const [mstflint, sentence, action, emitted] = REG_ROWS[code]!;
  return { code, name, mstflint: mstflint ?? UNKNOWN_REGISTER_ERROR, sentence, action, emittedByEmulator: emitted === true };
});

const REG_BY_CODE = new Map(REG_STATUSES.map((e) => [e.code, e]));

export function regStatus(code: number): RegStatusInfo {
  return (
    REG_BY_CODE.get(code) ?? {
      code,
      name: `UNKNOWN_STATUS_0x${hex2(code)}`,
      mstflint: UNKNOWN_REGISTER_ERROR,
      sentence: `The device answered with register status 0x${hex2(code)}, which this host does not know.`,
      action: 'Update TrustFlash; if the status persists, report it with the device log.',
      emittedByEmulator: false,
    }
  );
}

function hex2(n: number): string {
  return (Number.isInteger(n) && n >= 0 ? n : 0).toString(16).toUpperCase().padStart(2, '0');
}

/** The device's refusal as an error: DeviceRejected with its MCC code, the same on every side of every boundary. */
export function deviceRejected(code: number): UpdateError {
  const info = mccError(code);
  return new UpdateError('DeviceRejected', `${info.mstflint} (MCC error 0x${info.code.toString(16).padStart(2, '0')}): ${info.sentence} ${info.action}`, { mccError: info.code });
}
