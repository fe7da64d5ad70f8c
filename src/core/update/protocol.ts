/**
 * What crosses USB between a host and a TrustFlash secure NIC: the vendor requests on the DFU
 * interface and the byte layout of every request and answer (docs/protocol.md) but QUERY, whose
 * TLVs are query.ts's (and whose `flint q` rendering is flint.ts's). Host side, pure
 * TypeScript: nothing here knows the emulator; the emulated NIC's firmware (wasm/firmware/main.ts)
 * is the device end, and tests/unit/update/protocol.test.ts decodes what it really produces.
 *
 * Decoders are total and bounded: any bytes give a value or a {@link FormatError} naming the field
 * and its offset, never an exception. Encoders take values from our own code; a value that cannot
 * be encoded is a caller mistake and throws TypeError / RangeError (`"<name>" expected …`).
 */
import { abytes, aint } from '../bytes/assert.ts';
import { ByteReader, formatFail, type FormatError } from '../bytes/reader.ts';
import { ByteWriter } from '../bytes/writer.ts';
import { nameTable } from '../bytes/names.ts';
import { decodeWith, deviceText, type DecodeResult } from './codec.ts';



// ---- Vendor requests ---------------------------------------------------------------------------

/** bmRequestType: vendor request to an interface (USB 2.0 §9.3.1), by direction. wIndex is the DFU interface number. */
export const VENDOR_REQUEST_TYPE = { OUT: 0x41, IN: 0xc1 } as const;

export const VENDOR_REQUEST = {
  QUERY: 0x40,
  STATUS: 0x41,
  CONTROL: 0x42,
  DATA: 0x43,
  READ: 0x44,
  MAINT: 0x45,
  TOKEN_CHALLENGE: 0x46,
  TOKEN_APPLY: 0x47,
  LAST_RESULT: 0x48,
  RESET: 0x49,
  RECEIPT_REQUEST: 0x4a,
  RECEIPT: 0x4b,
} as const;
export type VendorRequestName = keyof typeof VENDOR_REQUEST;

export const VENDOR_REQUEST_NAMES: Readonly<Record<number, VendorRequestName>> = nameTable(VENDOR_REQUEST);

export interface VendorRequestSpec {
  readonly bRequest: number;
  readonly direction: 'in' | 'out';
  /** What wValue carries (0 when unused). */
  readonly wValue: string;
  /** The data stage. */
  readonly data: string;
}

export const VENDOR_REQUESTS: Readonly<Record<VendorRequestName, VendorRequestSpec>> = {
  QUERY: { bRequest: 0x40, direction: 'in', wValue: '0', data: 'TLVs {tag u8, length u16, value}: identity, versions, security state (decodeQuery)' },
  STATUS: { bRequest: 0x41, direction: 'in', wValue: '0', data: '28 bytes: state, error, result, flags, handle, received, componentSize, expectedTotal, elapsedMs, bootStatus (decodeStatus)' },
  CONTROL: { bRequest: 0x42, direction: 'out', wValue: '0', data: '12 bytes: instruction u32, handle u32, componentSize u32 (encodeControl)' },
  DATA: { bRequest: 0x43, direction: 'out', wValue: '0', data: 'handle u32, offset u32, block of 1..65527 bytes (encodeData)' },
  READ: { bRequest: 0x44, direction: 'in', wValue: 'block number; offset = wValue × wTransferSize', data: 'up to wLength bytes of the component in UPLOAD / UPLOAD_PENDING; a short answer ends it' },
  MAINT: { bRequest: 0x45, direction: 'out', wValue: 'op: 1 raw flash write, 2 set VSD, 3 ROM burn, 4 ROM delete, 5 ROM read', data: "the op's argument (SET_VSD: the VSD, ≤ 64 bytes)" },
  TOKEN_CHALLENGE: { bRequest: 0x46, direction: 'in', wValue: '0', data: '48 bytes: nonce[32], PSID[16] zero-padded (decodeChallenge)' },
  TOKEN_APPLY: { bRequest: 0x47, direction: 'out', wValue: '0', data: '348 bytes: token body[60], keyId[32], signature[256] (encodeToken)' },
  LAST_RESULT: { bRequest: 0x48, direction: 'in', wValue: '0', data: 'bRequest u8, kind u8, code u8, reserved u8, then a UTF-8 sentence (decodeLastResult)' },
  RESET: { bRequest: 0x49, direction: 'out', wValue: '0', data: 'none: the NIC resets (a pending image becomes active if intact)' },
  RECEIPT_REQUEST: { bRequest: 0x4a, direction: 'out', wValue: '0', data: 'nonce[32]: the device signs a receipt for it and holds it (issue #14)' },
  RECEIPT: { bRequest: 0x4b, direction: 'in', wValue: '0', data: 'the signed receipt: body[176], signature length u16, signature, certificate length u16, certificate DER (core/receipt/receipt.ts); STALL when there is none' },
};

/** The setup of a vendor request, in the shape of WebUSB's USBControlTransferParameters. */
export interface VendorSetup {
  readonly requestType: 'vendor';
  readonly recipient: 'interface';
  readonly request: number;
  readonly value: number;
  readonly index: number;
}

export function vendorSetup(name: VendorRequestName, interfaceNumber: number, value = 0): VendorSetup {
  aint('interfaceNumber', interfaceNumber, 0, 0xff);
  aint('value', value, 0, 0xffff);
  const request = VENDOR_REQUEST[name];
  if (request === undefined) throw new TypeError(`"name" expected a vendor request name, got ${JSON.stringify(name)}`);
  return { requestType: 'vendor', recipient: 'interface', request, value, index: interfaceNumber };
}

// ---- STATUS (0x41 IN, 28 bytes) ----------------------------------------------------------------

export const STATUS_SIZE = 28;

export const STATUS_FLAG = {
  HANDLE_OWNED: 0x1,
  PENDING_RESET: 0x2,
  BOOTED: 0x4,
  /** A CS token is applied and has not expired (called the debug token in the firmware's QUERY). */
  TOKEN_ACTIVE: 0x8,
} as const;

/** The raw fields, in wire order. */
export interface StatusFields {
  /** MCC control_state (MCC_STATE). */
  readonly state: number;
  /** MCC error_code of the last rejection (MCC_ERROR); persists until the next LOCK / UPDATE_COMPONENT. */
  readonly error: number;
  /** Register-access status of the last MCC command, DATA or READ (REG_STATUS). */
  readonly result: number;
  readonly flags: number;
  /** The owner's handle while one is held, else the handle the last QUERY offered (0 if none). */
  readonly handle: number;
  /** Bytes accepted so far in this download. */
  readonly received: number;
  /** The size given with UPDATE_COMPONENT (0 = not given). */
  readonly componentSize: number;
  /** The image size once its head was checked, else componentSize. */
  readonly expectedTotal: number;
  /** Milliseconds since the owner's last command (0 while no handle is held); saturates at 2^32 − 1. */
  readonly elapsedMs: number;
  /** BOOT_STATUS of the last power-on. */
  readonly bootStatus: number;
}

export interface DeviceStatus extends StatusFields {
  readonly handleOwned: boolean;
  readonly pendingReset: boolean;
  readonly booted: boolean;
  readonly tokenActive: boolean;
}

/** Decodes STATUS. Bytes after the first 28 are ignored (room for fields a later firmware appends). */
export function decodeStatus(bytes: Uint8Array): DecodeResult<DeviceStatus> {
  return decodeWith(bytes, (r) => {
    if (r.remaining < STATUS_SIZE) formatFail('status', 0, `is ${r.remaining} bytes, expected ${STATUS_SIZE}`);
    const state = r.u8('status.state');
    const error = r.u8('status.error');
    const result = r.u8('status.result');
    const flags = r.u8('status.flags');
    const handle = r.u32('status.handle');
    const received = r.u32('status.received');
    const componentSize = r.u32('status.componentSize');
    const expectedTotal = r.u32('status.expectedTotal');
    const elapsedMs = r.u32('status.elapsedMs');
    const bootStatus = r.u32('status.bootStatus');
    return {
      state,
      error,
      result,
      flags,
      handle,
      received,
      componentSize,
      expectedTotal,
      elapsedMs,
      bootStatus,
      handleOwned: (flags & STATUS_FLAG.HANDLE_OWNED) !== 0,
      pendingReset: (flags & STATUS_FLAG.PENDING_RESET) !== 0,
      booted: (flags & STATUS_FLAG.BOOTED) !== 0,
      tokenActive: (flags & STATUS_FLAG.TOKEN_ACTIVE) !== 0,
    };
  });
}

// ---- Boot status ---------------------------------------------------------------------------------

/** How the last power-on went (wasm/firmware/main.ts boot()). */
export const BOOT_STATUS = {
  OK: 0,
  APPLIED_PENDING: 1,
  PENDING_REJECTED: 2,
  NO_DEVICE_INFO: 3,
  NO_RECORD: 4,
  FELL_BACK: 5,
  NO_VALID_IMAGE: 6,
} as const;
export type BootStatusName = keyof typeof BOOT_STATUS;

export const BOOT_STATUS_NAMES: Readonly<Record<number, BootStatusName>> = nameTable(BOOT_STATUS);

export const BOOT_STATUS_TEXT: Readonly<Record<number, string>> = {
  0: 'booted the active image',
  1: 'booted the new image (pending image applied)',
  2: 'the pending image was damaged: kept the previous image',
  3: 'no manufacturing data: the device was never programmed',
  4: 'no valid boot record',
  5: 'the active image was damaged: fell back to the other bank',
  6: 'no valid image in either bank',
};

export function bootStatusText(status: number): string {
  return BOOT_STATUS_TEXT[status] ?? `unknown boot status ${status}`;
}

// ---- CONTROL (0x42 OUT, 12 bytes) and DATA (0x43 OUT) ------------------------------------------

export const CONTROL_SIZE = 12;

export interface ControlCommand {
  /** MCC_INSTRUCTION. */
  readonly instruction: number;
  /** The update handle (24 bits used; 0 for QUERY). */
  readonly handle: number;
  /** For UPDATE_COMPONENT: the image size in bytes (0 = not given); otherwise 0. */
  readonly componentSize: number;
}

export function encodeControl(c: ControlCommand): Uint8Array {
  aint('instruction', c.instruction, 0, 0xffffffff);
  aint('handle', c.handle, 0, 0xffffffff);
  aint('componentSize', c.componentSize, 0, 0xffffffff);
  return new ByteWriter().u32(c.instruction).u32(c.handle).u32(c.componentSize).finish();
}

export function decodeControl(bytes: Uint8Array): DecodeResult<ControlCommand> {
  return decodeWith(bytes, (r) => {
    if (r.remaining !== CONTROL_SIZE) formatFail('control', 0, `is ${r.remaining} bytes, expected ${CONTROL_SIZE}`);
    return { instruction: r.u32('control.instruction'), handle: r.u32('control.handle'), componentSize: r.u32('control.componentSize') };
  });
}

export const DATA_HEADER_SIZE = 8;
/** The firmware takes blocks of up to 65536 bytes (QUERY tag 21); one control transfer carries at most 65535 bytes, header included. */
export const DATA_BLOCK_MAX = 0xffff - DATA_HEADER_SIZE;

export interface DataBlock {
  readonly handle: number;
  /** Offset of the block in the image: the count of bytes sent before it (blocks are sequential). */
  readonly offset: number;
  readonly block: Uint8Array;
}

/** Encodes DATA into `into` when given (exactly header + block bytes long: a caller's reused buffer), else into new bytes. */
export function encodeData(d: DataBlock, into?: Uint8Array): Uint8Array {
  aint('handle', d.handle, 0, 0xffffffff);
  aint('offset', d.offset, 0, 0xffffffff);
  abytes('block', d.block);
  if (d.block.length === 0 || d.block.length > DATA_BLOCK_MAX) throw new RangeError(`"block" expected 1..${DATA_BLOCK_MAX} bytes, got ${d.block.length}`);
  const out = into ?? new Uint8Array(DATA_HEADER_SIZE + d.block.length);
  if (out.length !== DATA_HEADER_SIZE + d.block.length) throw new RangeError(`"into" expected ${DATA_HEADER_SIZE + d.block.length} bytes, got ${out.length}`);
  const v = new DataView(out.buffer, out.byteOffset, DATA_HEADER_SIZE);
  v.setUint32(0, d.handle, true);
  v.setUint32(4, d.offset, true);
  out.set(d.block, DATA_HEADER_SIZE);
  return out;
}

/** Decodes DATA; `block` is a view of `bytes`. */
export function decodeData(bytes: Uint8Array): DecodeResult<DataBlock> {
  return decodeWith(bytes, (r) => {
    const handle = r.u32('data.handle');
    const offset = r.u32('data.offset');
    if (r.remaining === 0 || r.remaining > DATA_BLOCK_MAX) formatFail('data.block', r.offset, `is ${r.remaining} bytes, expected 1..${DATA_BLOCK_MAX}`);
    return { handle, offset, block: r.bytes('data.block', r.remaining) };
  });
}

// ---- MAINT (0x45 OUT) ------------------------------------------------------------------------------

/** wValue of MAINT: the maintenance commands secure firmware blocks (reference §5.2). */
export const MAINT_OP = {
  RAW_FLASH_WRITE: 1,
  SET_VSD: 2,
  ROM_BURN: 3,
  ROM_DELETE: 4,
  ROM_READ: 5,
} as const;
export type MaintOpName = keyof typeof MAINT_OP;
export const MAINT_OP_NAMES: Readonly<Record<number, MaintOpName>> = nameTable(MAINT_OP);

/** What mstflint prints when secure firmware refuses the op (§5.2). */
export const MAINT_OP_MSTFLINT: Readonly<Record<number, string>> = {
  1: '-E- Write block failed: Unsupported operation under Secure FW',
  2: '-E- Failed to set the VSD: Unsupported operation under Secure FW',
  3: '-E- Burn ROM failed: Unsupported operation under Secure FW',
  4: '-E- Remove ROM failed: Unsupported operation under Secure FW',
  5: '-E- Read ROM failed. Unsupported operation under Secure FW',
};

/** Largest VSD SET_VSD takes. */
export const VSD_MAX = 64;

// ---- CS token (0x46 IN challenge, 0x47 OUT apply) ------------------------------------------------

export const CHALLENGE_SIZE = 48;
export const NONCE_SIZE = 32;
export const PSID_FIELD_SIZE = 16;
export const TOKEN_MAGIC = 'TFTK';
export const TOKEN_VERSION = 1;
export const TOKEN_BODY_SIZE = 60;
export const TOKEN_KEY_ID_SIZE = 32;
export const TOKEN_SIGNATURE_SIZE = 256;
export const TOKEN_SIZE = TOKEN_BODY_SIZE + TOKEN_KEY_ID_SIZE + TOKEN_SIGNATURE_SIZE;
/** The device caps a token's lifetime at this many seconds, whatever the token asks for. */
export const TOKEN_MAX_SECONDS = 600;

export interface TokenChallenge {
  /** 32 random bytes; the token must repeat them. A view of the decoded bytes. */
  readonly nonce: Uint8Array;
  readonly psid: string;
}

const PSID_RE = /^[\x21-\x7e]{1,16}$/;

/** A NUL-padded printable-ASCII field of `size` bytes: printable bytes, then zeros only. */
/** A PSID field: printable ASCII, zero-padded to `size` bytes. */
export function paddedAscii(r: ByteReader, field: string, size: number): string {
  const at = r.offset;
  const raw = r.bytes(field, size);
  let end = raw.indexOf(0);
  if (end < 0) end = size;
  if (end === 0) formatFail(field, at, 'is empty');
  for (let i = 0; i < size; i++) {
    const b = raw[i]!;
    if (i < end ? b < 0x21 || b > 0x7e : b !== 0) formatFail(field, at + i, i < end ? `byte 0x${b.toString(16).padStart(2, '0')} is not a printable PSID character` : 'padding after the PSID must be zero');
  }
  return String.fromCharCode(...raw.subarray(0, end));
}

export function writePaddedPsid(w: ByteWriter, psid: string): void {
  if (typeof psid !== 'string' || !PSID_RE.test(psid)) throw new TypeError(`"psid" expected 1..16 printable ASCII characters, got ${JSON.stringify(psid)}`);
  const b = new Uint8Array(PSID_FIELD_SIZE);
  for (let i = 0; i < psid.length; i++) b[i] = psid.charCodeAt(i);
  w.bytes(b);
}

export function decodeChallenge(bytes: Uint8Array): DecodeResult<TokenChallenge> {
  return decodeWith(bytes, (r) => {
    if (r.remaining !== CHALLENGE_SIZE) formatFail('challenge', 0, `is ${r.remaining} bytes, expected ${CHALLENGE_SIZE}`);
    const nonce = r.bytes('challenge.nonce', NONCE_SIZE);
    return { nonce, psid: paddedAscii(r, 'challenge.psid', PSID_FIELD_SIZE) };
  });
}

/** Bit n of a token's `ops` unlocks MAINT op n. Only SET_VSD ever opens: the device keeps raw flash and ROM ops closed. */
export function tokenOps(ops: readonly number[]): number {
  let mask = 0;
  for (const op of ops) {
    aint('op', op, 1, 15);
    mask |= 1 << op;
  }
  return mask;
}

export interface TokenBody {
  /** Bit n unlocks MAINT op n ({@link tokenOps}). */
  readonly ops: number;
  /** Requested lifetime; the device caps it at {@link TOKEN_MAX_SECONDS}. */
  readonly seconds: number;
  /** The challenge's nonce. */
  readonly nonce: Uint8Array;
  readonly psid: string;
}

/** The 60 signed bytes: "TFTK", version u16 = 1, ops u16, seconds u32, nonce[32], PSID[16]. */
export function encodeTokenBody(t: TokenBody): Uint8Array {
  aint('ops', t.ops, 0, 0xffff);
  aint('seconds', t.seconds, 0, 0xffffffff);
  abytes('nonce', t.nonce, NONCE_SIZE);
  const w = new ByteWriter();
  for (let i = 0; i < 4; i++) w.u8(TOKEN_MAGIC.charCodeAt(i));
  w.u16(TOKEN_VERSION).u16(t.ops).u32(t.seconds).bytes(t.nonce);
  writePaddedPsid(w, t.psid);
  return w.finish();
}

export interface SignedToken {
  /** The exact 60 signed bytes. */
  readonly body: Uint8Array;
  /** SHA-256 of the signer's SubjectPublicKeyInfo (DER); the key must be one the running image embeds. */
  readonly keyId: Uint8Array;
  /** RSASSA-PKCS1-v1_5 / SHA-256 / RSA-2048 signature over `body`. */
  readonly signature: Uint8Array;
}

/** TOKEN_APPLY's data: body[60] || keyId[32] || signature[256] (348 bytes). */
export function encodeToken(t: SignedToken): Uint8Array {
  abytes('body', t.body, TOKEN_BODY_SIZE);
  abytes('keyId', t.keyId, TOKEN_KEY_ID_SIZE);
  abytes('signature', t.signature, TOKEN_SIGNATURE_SIZE);
  return new ByteWriter().bytes(t.body).bytes(t.keyId).bytes(t.signature).finish();
}

// ---- LAST_RESULT (0x48 IN) -------------------------------------------------------------------------

/** What `code` in LAST_RESULT is (src/emulator/usb/vendor.ts records them). */
export const LAST_RESULT_KIND = {
  /** A register-access status (REG_STATUS, reference §1.8); 0 = OK. */
  REGISTER_STATUS: 0,
  /** An MCC error code (MCC_ERROR, reference §1.5): the command was taken and the FSM rejected it. */
  MCC_ERROR: 1,
} as const;
export const LAST_RESULT_KIND_NAMES: Readonly<Record<number, keyof typeof LAST_RESULT_KIND>> = nameTable(LAST_RESULT_KIND);

export const LAST_RESULT_HEADER_SIZE = 4;
/** Longest sentence a host accepts (an answer fits one control transfer anyway). */
export const LAST_RESULT_TEXT_MAX = 4096;

export interface LastResult {
  /** The vendor request this result is for (VENDOR_REQUEST). */
  readonly request: number;
  /** LAST_RESULT_KIND; unknown kinds are kept as numbers. */
  readonly kind: number;
  readonly code: number;
  readonly reserved: number;
  /** A sentence for a person. */
  readonly text: string;
}

// C0 controls except TAB and LF, DEL and C1 controls: device text is shown in terminals and pages.

export function decodeLastResult(bytes: Uint8Array): DecodeResult<LastResult> {
  return decodeWith(bytes, (r) => {
    const request = r.u8('lastResult.request');
    const kind = r.u8('lastResult.kind');
    const code = r.u8('lastResult.code');
    const reserved = r.u8('lastResult.reserved');
    if (r.remaining > LAST_RESULT_TEXT_MAX) formatFail('lastResult.text', r.offset, `is ${r.remaining} bytes, at most ${LAST_RESULT_TEXT_MAX}`);
    return { request, kind, code, reserved, text: deviceText(r, 'lastResult.text', r.remaining) };
  });
}
