/**
 * What crosses USB between a host and a TrustFlash secure NIC: the vendor requests on the DFU
 * interface and the byte layout of every request and answer (docs/protocol.md). Host side, pure
 * TypeScript: nothing here knows the emulator; the emulated NIC's firmware (wasm/firmware/main.ts)
 * is the device end, and tests/unit/update/protocol.test.ts decodes what it really produces.
 *
 * Decoders are total and bounded: any bytes give a value or a {@link FormatError} naming the field
 * and its offset, never an exception. Encoders take values from our own code; a value that cannot
 * be encoded is a caller mistake and throws TypeError / RangeError (`"<name>" expected …`).
 */
import { abytes, aint } from '../bytes/assert.ts';
import { fromHex, toHex } from '../bytes/hex.ts';
import { ByteReader, FormatFailure, formatFail, type FormatError } from '../bytes/reader.ts';
import { ByteWriter } from '../bytes/writer.ts';
import { formatVersion, parseVersion } from '../image/version.ts';
import { nameTable } from '../bytes/names.ts';

export type { FormatError } from '../bytes/reader.ts';
export type DecodeResult<T> = { ok: true; value: T } | { ok: false; error: FormatError };

function decodeWith<T>(bytes: unknown, parse: (r: ByteReader) => T): DecodeResult<T> {
  abytes('bytes', bytes);
  try {
    return { ok: true, value: parse(new ByteReader(bytes)) };
  } catch (e) {
    if (e instanceof FormatFailure) return { ok: false, error: e.error };
    throw e;
  }
}

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

export function encodeStatus(s: StatusFields): Uint8Array {
  for (const k of ['state', 'error', 'result', 'flags'] as const) aint(k, s[k], 0, 0xff);
  for (const k of ['handle', 'received', 'componentSize', 'expectedTotal', 'elapsedMs', 'bootStatus'] as const) aint(k, s[k], 0, 0xffffffff);
  return new ByteWriter().u8(s.state).u8(s.error).u8(s.result).u8(s.flags).u32(s.handle).u32(s.received).u32(s.componentSize).u32(s.expectedTotal).u32(s.elapsedMs).u32(s.bootStatus).finish();
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

export function encodeData(d: DataBlock): Uint8Array {
  aint('handle', d.handle, 0, 0xffffffff);
  aint('offset', d.offset, 0, 0xffffffff);
  abytes('block', d.block);
  if (d.block.length === 0 || d.block.length > DATA_BLOCK_MAX) throw new RangeError(`"block" expected 1..${DATA_BLOCK_MAX} bytes, got ${d.block.length}`);
  return new ByteWriter().u32(d.handle).u32(d.offset).bytes(d.block).finish();
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
function paddedAscii(r: ByteReader, field: string, size: number): string {
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

function writePaddedPsid(w: ByteWriter, psid: string): void {
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

export function encodeChallenge(c: TokenChallenge): Uint8Array {
  abytes('nonce', c.nonce, NONCE_SIZE);
  const w = new ByteWriter().bytes(c.nonce);
  writePaddedPsid(w, c.psid);
  return w.finish();
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

function readTokenBody(r: ByteReader): TokenBody {
  const at = r.offset;
  const magic = r.bytes('token.magic', 4);
  if (String.fromCharCode(...magic) !== TOKEN_MAGIC) formatFail('token.magic', at, `is not "${TOKEN_MAGIC}"`);
  const vAt = r.offset;
  const version = r.u16('token.version');
  if (version !== TOKEN_VERSION) formatFail('token.version', vAt, `is ${version}, expected ${TOKEN_VERSION}`);
  const ops = r.u16('token.ops');
  const seconds = r.u32('token.seconds');
  const nonce = r.bytes('token.nonce', NONCE_SIZE);
  return { ops, seconds, nonce, psid: paddedAscii(r, 'token.psid', PSID_FIELD_SIZE) };
}

export function decodeTokenBody(bytes: Uint8Array): DecodeResult<TokenBody> {
  return decodeWith(bytes, (r) => {
    if (r.remaining !== TOKEN_BODY_SIZE) formatFail('token', 0, `is ${r.remaining} bytes, expected ${TOKEN_BODY_SIZE}`);
    return readTokenBody(r);
  });
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

export function decodeToken(bytes: Uint8Array): DecodeResult<SignedToken & { readonly fields: TokenBody }> {
  return decodeWith(bytes, (r) => {
    if (r.remaining !== TOKEN_SIZE) formatFail('token', 0, `is ${r.remaining} bytes, expected ${TOKEN_SIZE}`);
    const body = r.sub('token.body', TOKEN_BODY_SIZE);
    const fields = readTokenBody(body);
    return { body: bytes.subarray(0, TOKEN_BODY_SIZE), fields, keyId: r.bytes('token.keyId', TOKEN_KEY_ID_SIZE), signature: r.bytes('token.signature', TOKEN_SIGNATURE_SIZE) };
  });
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
const CONTROL_CHARS = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/u;
const utf8 = new TextEncoder();

function deviceText(r: ByteReader, field: string, n: number): string {
  const at = r.offset;
  const s = r.utf8(field, n);
  const m = CONTROL_CHARS.exec(s);
  if (m) formatFail(field, at + utf8.encode(s.slice(0, m.index)).length, `contains control character U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`);
  return s;
}

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

export function encodeLastResult(l: LastResult): Uint8Array {
  for (const k of ['request', 'kind', 'code', 'reserved'] as const) aint(k, l[k], 0, 0xff);
  const text = utf8.encode(l.text);
  if (text.length > LAST_RESULT_TEXT_MAX || CONTROL_CHARS.test(l.text)) throw new RangeError(`"text" expected at most ${LAST_RESULT_TEXT_MAX} bytes without control characters, got ${text.length} bytes`);
  return new ByteWriter().u8(l.request).u8(l.kind).u8(l.code).u8(l.reserved).bytes(text).finish();
}

// ---- QUERY (0x40 IN): TLVs {tag u8, length u16 LE, value} ------------------------------------------

export const QUERY_TAG = {
  RUNNING_VERSION: 1,
  PENDING_VERSION: 2,
  PSID: 3,
  DEVICE_ID: 4,
  DESCRIPTION: 5,
  PART_NUMBER: 6,
  SERIAL: 7,
  BASE_MAC: 8,
  BASE_GUID: 9,
  SECURITY_ATTRIBUTES: 10,
  FUSED_SVN: 11,
  IMAGE_SVN: 12,
  MIN_SVN: 13,
  KEY_IDS: 14,
  FORBIDDEN_VERSIONS: 15,
  BANKS: 16,
  BANK_DIGESTS: 17,
  RELEASE_DATE: 18,
  PRODUCT: 19,
  VENDOR: 20,
  MAX_BLOCK: 21,
  MAX_COMPONENT_SIZE: 22,
  VSD: 23,
  BOOT_STATUS: 24,
  /** u32 bitmask of the image signature algorithms the device verifies (issue #10, S2); absent on older devices. */
  VERIFIABLE_ALGORITHMS: 25,
} as const;

/** Bits of QUERY tag 10, in the order `flint q` prints them (§3 printSecurityAttrInfo). */
export const SECURITY_ATTR = {
  SECURE_FW: 0x1,
  SIGNED_FW: 0x2,
  DEV: 0x4,
  /** A CS token is applied ("debug token" in the firmware; flint's "cs-token"). */
  CS_TOKEN: 0x8,
} as const;

export interface SecurityAttributes {
  readonly raw: number;
  readonly secureFw: boolean;
  readonly signedFw: boolean;
  readonly dev: boolean;
  readonly csToken: boolean;
}

export function securityAttributes(raw: number): SecurityAttributes {
  return { raw, secureFw: (raw & SECURITY_ATTR.SECURE_FW) !== 0, signedFw: (raw & SECURITY_ATTR.SIGNED_FW) !== 0, dev: (raw & SECURITY_ATTR.DEV) !== 0, csToken: (raw & SECURITY_ATTR.CS_TOKEN) !== 0 };
}

export interface BankState {
  /** The bank the device runs (0 or 1). */
  readonly active: 0 | 1;
  /** The bank that becomes active at the next reset, or null. */
  readonly pending: 0 | 1 | null;
  /** Image length recorded for each bank (0 = none). */
  readonly lengths: readonly [number, number];
}

export interface DeviceVsd {
  readonly hex: string;
  /** The VSD as text, when it is UTF-8 without control characters (trailing NULs dropped). */
  readonly text: string | undefined;
}

export interface UnknownTag {
  readonly tag: number;
  /** Offset of the TLV's tag byte. */
  readonly offset: number;
  readonly length: number;
}

/**
 * The device's QUERY answer. Names follow the `flint q` labels where flint has the field
 * ("FW Version(Running)" → fwVersionRunning, "EFUSE Security Ver" → efuseSecurityVer, …). Every
 * field is optional: a device that has not booted reports only its identity and bank state.
 */
export interface DeviceQuery {
  /** Tag 1: the version the device runs ("M.m.s"). */
  readonly fwVersionRunning?: string;
  /** Tag 2: the version that runs after the next reset (an ACTIVATEd image). */
  readonly fwVersionPending?: string;
  readonly psid?: string;
  readonly deviceId?: number;
  readonly description?: string;
  readonly partNumber?: string;
  readonly serial?: string;
  /** 12 lowercase hex digits, as flint prints "Base MAC". */
  readonly baseMac?: string;
  /** 16 lowercase hex digits, as flint prints "Base GUID". */
  readonly baseGuid?: string;
  readonly securityAttributes?: SecurityAttributes;
  /** Tag 11: the security version burnt into the fuses. */
  readonly efuseSecurityVer?: number;
  /** Tag 12: the running image's security version. */
  readonly imageSecurityVer?: number;
  /** Tag 13: the running image's minimum security version for the next image. */
  readonly minSecurityVer?: number;
  /** Tag 14: SHA-256 of each SPKI the running image embeds (the keys the next image is checked with), lowercase hex. */
  readonly keyIds?: readonly string[];
  /** Tag 15: the running image's forbidden versions. */
  readonly forbiddenVersions?: readonly string[];
  readonly banks?: BankState;
  /** Tag 17: the SHA-256 recorded for each bank's image, lowercase hex. */
  readonly bankDigests?: readonly [string, string];
  /** Tag 18: the running image's release date, seconds since 1970 (UTC). */
  readonly fwReleaseDate?: number;
  /** Tag 19: the running image's product name. */
  readonly product?: string;
  /** Tag 20: the running image's vendor. */
  readonly vendor?: string;
  /** Tag 21: the largest DATA block the firmware takes. */
  readonly maxBlockSize?: number;
  /** Tag 22: the largest image (the bank size). */
  readonly maxComponentSize?: number;
  /** Tag 23: the device VSD set with MAINT SET_VSD. */
  readonly deviceVsd?: DeviceVsd;
  /** Tag 24: BOOT_STATUS. */
  readonly bootStatus?: number;
  /**
   * Tag 25: the image signature algorithms the device verifies, a bitmask; bit 0 = RSASSA-PKCS1-v1_5
   * with SHA-256 and an RSA-2048 key, e = 65537 (src/core/verify/next-keys.ts VERIFIABLE_ALG). A
   * device that omits it is an older one, which verifies exactly bit 0.
   */
  readonly verifiableAlgorithms?: number;
  /** Tags this host does not know, skipped. */
  readonly unknownTags?: readonly UnknownTag[];
}

type QueryKey = Exclude<keyof DeviceQuery, 'unknownTags'>;

interface FieldCodec<T> {
  read(r: ByteReader, field: string): T;
  write(w: ByteWriter, v: T, name: string): void;
}

function exactly(r: ByteReader, field: string, n: number): void {
  if (r.remaining !== n) formatFail(field, r.offset, `is ${r.remaining} bytes, expected ${n}`);
}
function multipleOf(r: ByteReader, field: string, n: number): void {
  if (r.remaining % n !== 0) formatFail(field, r.offset, `is ${r.remaining} bytes, not a multiple of ${n}`);
}

function readVersion(r: ByteReader, field: string): string {
  return formatVersion([r.u16(field), r.u16(field), r.u16(field)]);
}
function writeVersion(w: ByteWriter, v: string, name: string): void {
  const t = typeof v === 'string' ? parseVersion(v) : undefined;
  if (!t) throw new TypeError(`"${name}" expected a version "M.m.s", got ${JSON.stringify(v)}`);
  w.u16(t[0]).u16(t[1]).u16(t[2]);
}

const version: FieldCodec<string> = {
  read(r, f) {
    exactly(r, f, 6);
    return readVersion(r, f);
  },
  write: writeVersion,
};
const u32: FieldCodec<number> = {
  read(r, f) {
    exactly(r, f, 4);
    return r.u32(f);
  },
  write(w, v, name) {
    aint(name, v, 0, 0xffffffff);
    w.u32(v);
  },
};
function ascii(min: number, max: number): FieldCodec<string> {
  return {
    read(r, f) {
      const at = r.offset;
      if (r.remaining < min || r.remaining > max) formatFail(f, at, `is ${r.remaining} bytes, expected ${min}..${max}`);
      const raw = r.bytes(f, r.remaining);
      const bad = raw.findIndex((b) => b < 0x20 || b > 0x7e);
      if (bad >= 0) formatFail(f, at + bad, `byte 0x${raw[bad]!.toString(16).padStart(2, '0')} is not printable ASCII`);
      return String.fromCharCode(...raw);
    },
    write(w, v, name) {
      if (typeof v !== 'string' || v.length < min || v.length > max || !/^[\x20-\x7e]*$/.test(v)) throw new TypeError(`"${name}" expected ${min}..${max} printable ASCII characters, got ${JSON.stringify(v)}`);
      for (let i = 0; i < v.length; i++) w.u8(v.charCodeAt(i));
    },
  };
}
const text: FieldCodec<string> = {
  read: (r, f) => deviceText(r, f, r.remaining),
  write(w, v, name) {
    const b = typeof v === 'string' ? utf8.encode(v) : undefined;
    if (!b || b.length > 0xffff || CONTROL_CHARS.test(v)) throw new TypeError(`"${name}" expected text without control characters, got ${JSON.stringify(v)}`);
    w.bytes(b);
  },
};
function hexBytes(n: number): FieldCodec<string> {
  return {
    read(r, f) {
      exactly(r, f, n);
      return toHex(r.bytes(f, n));
    },
    write(w, v, name) {
      if (typeof v !== 'string' || !new RegExp(`^[0-9a-fA-F]{${2 * n}}$`).test(v)) throw new TypeError(`"${name}" expected ${n} bytes as hex, got ${JSON.stringify(v)}`);
      w.bytes(fromHex(v));
    },
  };
}
const keyIds: FieldCodec<readonly string[]> = {
  read(r, f) {
    multipleOf(r, f, 32);
    const out: string[] = [];
    while (r.remaining > 0) out.push(toHex(r.bytes(f, 32)));
    return out;
  },
  write(w, v, name) {
    for (const id of v) hexBytes(32).write(w, id, name);
  },
};
const versions: FieldCodec<readonly string[]> = {
  read(r, f) {
    multipleOf(r, f, 6);
    const out: string[] = [];
    while (r.remaining > 0) out.push(readVersion(r, f));
    return out;
  },
  write(w, v, name) {
    for (const x of v) writeVersion(w, x, name);
  },
};
const banks: FieldCodec<BankState> = {
  read(r, f) {
    exactly(r, f, 10);
    const at = r.offset;
    const active = r.u8(`${f}.active`);
    if (active > 1) formatFail(`${f}.active`, at, `is ${active}, expected 0 or 1`);
    const pending = r.u8(`${f}.pending`);
    if (pending !== 0xff && (pending > 1 || pending === active)) formatFail(`${f}.pending`, at + 1, `is ${pending}, expected the other bank or 0xFF (none)`);
    return { active: active as 0 | 1, pending: pending === 0xff ? null : (pending as 0 | 1), lengths: [r.u32(`${f}.len0`), r.u32(`${f}.len1`)] };
  },
  write(w, v, name) {
    aint(`${name}.active`, v.active, 0, 1);
    if (v.pending !== null) aint(`${name}.pending`, v.pending, 0, 1);
    aint(`${name}.len0`, v.lengths[0], 0, 0xffffffff);
    aint(`${name}.len1`, v.lengths[1], 0, 0xffffffff);
    w.u8(v.active).u8(v.pending ?? 0xff).u32(v.lengths[0]).u32(v.lengths[1]);
  },
};
const digests: FieldCodec<readonly [string, string]> = {
  read(r, f) {
    exactly(r, f, 64);
    return [toHex(r.bytes(f, 32)), toHex(r.bytes(f, 32))];
  },
  write(w, v, name) {
    hexBytes(32).write(w, v[0], name);
    hexBytes(32).write(w, v[1], name);
  },
};
const seconds: FieldCodec<number> = {
  read(r, f) {
    exactly(r, f, 8);
    return r.u64(f);
  },
  write(w, v, name) {
    aint(name, v, 0, Number.MAX_SAFE_INTEGER);
    w.u64(v);
  },
};
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const vsd: FieldCodec<DeviceVsd> = {
  read(r, f) {
    const raw = r.bytes(f, r.remaining);
    let end = raw.length;
    while (end > 0 && raw[end - 1] === 0) end--;
    let t: string | undefined;
    try {
      t = strictUtf8.decode(raw.subarray(0, end));
      if (CONTROL_CHARS.test(t)) t = undefined;
    } catch {
      t = undefined;
    }
    return { hex: toHex(raw), text: t };
  },
  write(w, v, name) {
    if (typeof v?.hex !== 'string' || v.hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(v.hex)) throw new TypeError(`"${name}" expected hex bytes, got ${JSON.stringify(v)}`);
    w.bytes(fromHex(v.hex));
  },
};
const attrs: FieldCodec<SecurityAttributes> = {
  read: (r, f) => securityAttributes(u32.read(r, f)),
  write: (w, v, name) => u32.write(w, v.raw, name),
};

/** Tag → field, in the order the firmware emits them (wasm/firmware/main.ts query()). */
const QUERY_FIELDS: readonly { tag: number; key: QueryKey; codec: FieldCodec<never> }[] = (
  [
    [QUERY_TAG.RUNNING_VERSION, 'fwVersionRunning', version],
    [QUERY_TAG.PENDING_VERSION, 'fwVersionPending', version],
    [QUERY_TAG.PSID, 'psid', ascii(1, 16)],
    [QUERY_TAG.DEVICE_ID, 'deviceId', u32],
    [QUERY_TAG.DESCRIPTION, 'description', text],
    [QUERY_TAG.PART_NUMBER, 'partNumber', text],
    [QUERY_TAG.SERIAL, 'serial', ascii(1, 255)],
    [QUERY_TAG.BASE_MAC, 'baseMac', hexBytes(6)],
    [QUERY_TAG.BASE_GUID, 'baseGuid', hexBytes(8)],
    [QUERY_TAG.SECURITY_ATTRIBUTES, 'securityAttributes', attrs],
    [QUERY_TAG.FUSED_SVN, 'efuseSecurityVer', u32],
    [QUERY_TAG.IMAGE_SVN, 'imageSecurityVer', u32],
    [QUERY_TAG.MIN_SVN, 'minSecurityVer', u32],
    [QUERY_TAG.KEY_IDS, 'keyIds', keyIds],
    [QUERY_TAG.FORBIDDEN_VERSIONS, 'forbiddenVersions', versions],
    [QUERY_TAG.PRODUCT, 'product', text],
    [QUERY_TAG.VENDOR, 'vendor', text],
    [QUERY_TAG.RELEASE_DATE, 'fwReleaseDate', seconds],
    [QUERY_TAG.BANKS, 'banks', banks],
    [QUERY_TAG.BANK_DIGESTS, 'bankDigests', digests],
    [QUERY_TAG.MAX_BLOCK, 'maxBlockSize', u32],
    [QUERY_TAG.MAX_COMPONENT_SIZE, 'maxComponentSize', u32],
    [QUERY_TAG.VSD, 'deviceVsd', vsd],
    [QUERY_TAG.BOOT_STATUS, 'bootStatus', u32],
    [QUERY_TAG.VERIFIABLE_ALGORITHMS, 'verifiableAlgorithms', u32],
  ] as [number, QueryKey, FieldCodec<unknown>][]
).map(([tag, key, codec]) => ({ tag, key, codec: codec as FieldCodec<never> }));

const FIELD_BY_TAG = new Map(QUERY_FIELDS.map((f) => [f.tag, f]));

/** Decodes QUERY. Unknown tags are skipped (forward compatible); a known tag twice, a bad value or a length past the end is an error. */
export function decodeQuery(bytes: Uint8Array): DecodeResult<DeviceQuery> {
  return decodeWith(bytes, (r) => {
    const out: Record<string, unknown> = {};
    const unknown: UnknownTag[] = [];
    while (r.remaining > 0) {
      const at = r.offset;
      const tag = r.u8('query.tag');
      const f = FIELD_BY_TAG.get(tag);
      const field = f ? `query.${f.key}` : `query.tag${tag}`;
      const length = r.u16(`${field}.length`);
      if (length > r.remaining) formatFail(`${field}.length`, at + 1, `${length} runs past the end (${r.remaining} bytes left)`);
      const value = r.sub(field, length);
      if (!f) {
        unknown.push({ tag, offset: at, length });
        continue;
      }
      if (f.key in out) formatFail(field, at, `tag ${tag} appears twice`);
      out[f.key] = f.codec.read(value, field);
    }
    if (unknown.length) out.unknownTags = unknown;
    return out as DeviceQuery;
  });
}

/** Encodes a QUERY answer (the device's side; for replays, mocks and tests), tags in the firmware's order. */
export function encodeQuery(q: DeviceQuery): Uint8Array {
  const w = new ByteWriter();
  for (const f of QUERY_FIELDS) {
    const v = q[f.key];
    if (v === undefined) continue;
    w.u8(f.tag).u16(0);
    const start = w.length;
    f.codec.write(w, v as never, f.key);
    const len = w.length - start;
    if (len > 0xffff) throw new RangeError(`"${f.key}" expected at most 65535 encoded bytes, got ${len}`);
    w.patchU16(start - 2, len);
  }
  return w.finish();
}

// ---- `flint q` ---------------------------------------------------------------------------------------

const LABEL_WIDTH = 23;

/** flint's version format: "%d.%d.%04d", or "%d.%04d.%04d" when minor ≥ 100 (§3). */
export function flintVersion(v: string): string {
  const t = parseVersion(v);
  if (!t) return v;
  const four = (n: number) => String(n).padStart(4, '0');
  return `${t[0]}.${t[1] >= 100 ? four(t[1]) : t[1]}.${four(t[2])}`;
}

/** flint's "Security Attributes" value (printSecurityAttrInfo, §3): "secure-fw" or "signed-fw" or "N/A", then ", dev", ", cs-token". */
export function securityAttributesText(a: SecurityAttributes): string {
  const first = a.secureFw ? 'secure-fw' : a.signedFw ? 'signed-fw' : undefined;
  if (!first) return 'N/A';
  return [first, ...(a.dev ? ['dev'] : []), ...(a.csToken ? ['cs-token'] : [])].join(', ');
}

/** "d.m.yyyy" from seconds (UTC): flint prints the BCD day.month.year with "%x.%x.%x" (§3). */
export function flintDate(secondsSinceEpoch: number): string {
  const d = new Date(secondsSinceEpoch * 1000);
  if (Number.isNaN(d.getTime())) return 'N/A';
  return `${d.getUTCDate()}.${d.getUTCMonth() + 1}.${d.getUTCFullYear()}`;
}

/**
 * Renders a QUERY answer the way `flint -d <dev> q` prints a FW-controlled device (reference §3):
 * labels in a 23-character column; "FW Version" is the pending version when there is one, and
 * "FW Version(Running)" appears only when it differs (mstfwreset parses exactly this). `full`
 * adds the `q full` lines this device has. Lines flint prints that this device has no data for
 * (Image type, Product Version, Rom Info, GUID counts) are left out rather than made up.
 */
export function renderFlintQuery(q: DeviceQuery, opts: { full?: boolean } = {}): string {
  const lines: string[] = [];
  const line = (label: string, value: string) => lines.push(`${`${label}:`.padEnd(LABEL_WIDTH)}${value}`);
  const running = q.fwVersionRunning;
  const pending = q.fwVersionPending;
  const shown = pending ?? running;
  line('FW Version', shown ? flintVersion(shown) : 'N/A');
  const pendingDiffers = pending !== undefined && running !== undefined && pending !== running;
  if (pendingDiffers) line('FW Version(Running)', flintVersion(running));
  // the date is the running image's: under a different pending version flint would show the pending one's, which the device does not report
  if (q.fwReleaseDate !== undefined && !pendingDiffers) line('FW Release Date', flintDate(q.fwReleaseDate));
  if (opts.full) {
    if (q.partNumber !== undefined) line('Part Number', q.partNumber);
    if (q.description !== undefined) line('Description', q.description);
  }
  if (q.baseGuid !== undefined) line('Base GUID', q.baseGuid);
  if (q.baseMac !== undefined) line('Base MAC', q.baseMac);
  line('Image VSD', 'N/A');
  line('Device VSD', q.deviceVsd ? (q.deviceVsd.text ?? `0x${q.deviceVsd.hex}`) || 'N/A' : 'N/A');
  line('PSID', q.psid ?? 'N/A');
  line('Security Attributes', q.securityAttributes ? securityAttributesText(q.securityAttributes) : 'N/A');
  if (opts.full) {
    line('Default Update Method', 'fw_ctrl');
    if (q.efuseSecurityVer !== undefined) line('EFUSE Security Ver', String(q.efuseSecurityVer));
    if (q.imageSecurityVer !== undefined) line('Image Security Ver', String(q.imageSecurityVer));
    line('Security Ver Program', 'Automatically');
  }
  return lines.join('\n');
}
