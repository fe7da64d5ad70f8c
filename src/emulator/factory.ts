/**
 * Manufacturing: what a factory station writes into a new NIC's flash before it first powers on —
 * the device identity sector, the factory image in bank 0 and the first boot record (layouts in
 * docs/protocol.md §Flash). It trusts the factory image (that is what manufacturing means); from
 * then on only the firmware writes the flash.
 */
import { BANK_BASE, BOOT_RECORD_A, DEVICE_INFO, FLASH_OK, Flash, SECTOR } from './flash.ts';

export interface Identity {
  /** Parameter-set id (Mellanox PSID), ≤ 16 printable characters. */
  readonly psid: string;
  readonly deviceId: number;
  readonly serial: string;
  readonly description: string;
  readonly partNumber: string;
  /** "b8:ce:f6:00:00:01" */
  readonly baseMac: string;
  /** "b8cef60300000001" */
  readonly baseGuid: string;
  /** A development device accepts development images. */
  readonly devDevice?: boolean;
}

export const DEFAULT_IDENTITY: Identity = {
  psid: 'TF_0000000001',
  deviceId: 4129,
  serial: 'TFN0000001',
  description: 'TrustFlash emulated ConnectX NIC, 2-port 100GbE, secure firmware',
  partNumber: 'TF-CX-EMU-100',
  baseMac: 'b8:ce:f6:00:00:01',
  baseGuid: 'b8cef60300000001',
};

const enc = new TextEncoder();

function hexBytes(text: string, n: number, what: string): Uint8Array {
  const clean = text.replace(/[:\-\s]/g, '');
  if (!new RegExp(`^[0-9a-fA-F]{${n * 2}}$`).test(clean)) throw new TypeError(`"${what}" expected ${n} hex bytes, got ${JSON.stringify(text)}`);
  return Uint8Array.from({ length: n }, (_, i) => parseInt(clean.slice(2 * i, 2 * i + 2), 16));
}

function validateIdentity(id: Identity): void {
  if (!/^[\x21-\x7e]{1,16}$/.test(id.psid)) throw new TypeError(`"psid" expected 1..16 printable characters, got ${JSON.stringify(id.psid)}`);
  if (!Number.isInteger(id.deviceId) || id.deviceId < 0 || id.deviceId > 0xffffffff) throw new RangeError(`"deviceId" expected a u32, got ${id.deviceId}`);
  if (!/^[\x20-\x7e]{1,32}$/.test(id.serial)) throw new TypeError(`"serial" expected 1..32 printable characters, got ${JSON.stringify(id.serial)}`);
  if (enc.encode(id.description).length > 64) throw new RangeError('"description" expected at most 64 bytes');
  if (enc.encode(id.partNumber).length > 32) throw new RangeError('"partNumber" expected at most 32 bytes');
}

/** The device identity sector: "TFDI", length u32, TLVs { tag u8, length u8, value }. */
export function encodeDeviceInfo(id: Identity): Uint8Array {
  validateIdentity(id);
  const tlvs: [number, Uint8Array][] = [
    [1, enc.encode(id.psid)],
    [2, new Uint8Array(new Uint32Array([id.deviceId]).buffer)],
    [3, enc.encode(id.serial)],
    [4, enc.encode(id.description)],
    [5, enc.encode(id.partNumber)],
    [6, hexBytes(id.baseMac, 6, 'baseMac')],
    [7, hexBytes(id.baseGuid, 8, 'baseGuid')],
    [8, new Uint8Array(new Uint32Array([id.devDevice ? 1 : 0]).buffer)],
  ];
  const body = tlvs.reduce((n, [, v]) => n + 2 + v.length, 0);
  const out = new Uint8Array(8 + body);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x49444654, true);
  dv.setUint32(4, body, true);
  let at = 8;
  for (const [t, v] of tlvs) {
    out[at] = t;
    out[at + 1] = v.length;
    out.set(v, at + 2);
    at += 2 + v.length;
  }
  return out;
}

/** A boot record (116 bytes) naming bank 0 active with `image`. */
export async function encodeBootRecord(fields: { seq: number; active: 0 | 1; pending: 0 | 1 | 0xff; len: [number, number]; digest: [Uint8Array, Uint8Array] }): Promise<Uint8Array> {
  const r = new Uint8Array(116);
  const dv = new DataView(r.buffer);
  dv.setUint32(0, 0x52424654, true);
  dv.setUint32(4, fields.seq, true);
  r[8] = fields.active;
  r[9] = fields.pending;
  dv.setUint32(12, fields.len[0], true);
  dv.setUint32(16, fields.len[1], true);
  r.set(fields.digest[0], 20);
  r.set(fields.digest[1], 52);
  r.set(new Uint8Array(await crypto.subtle.digest('SHA-256', r.subarray(0, 84))), 84);
  return r;
}

/** Programs a blank flash: identity, factory image in bank 0, boot record. */
export async function manufacture(flash: Flash, identity: Identity, factoryImage: Uint8Array): Promise<void> {
  if (factoryImage.length === 0 || factoryImage.length > flash.bankSize) {
    throw new RangeError(`"factoryImage" expected 1..${flash.bankSize} bytes, got ${factoryImage.length}`);
  }
  const check = (st: number, what: string) => {
    if (st !== FLASH_OK) throw new Error(`manufacturing failed writing ${what} (flash status ${st})`);
  };
  check(flash.erase(0, BANK_BASE), 'the system area');
  check(flash.write(DEVICE_INFO, encodeDeviceInfo(identity)), 'the identity');
  check(flash.erase(flash.bankAddr(0), Math.ceil(factoryImage.length / SECTOR) * SECTOR), 'bank 0');
  check(flash.write(flash.bankAddr(0), factoryImage), 'the factory image');
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', factoryImage as Uint8Array<ArrayBuffer>));
  check(flash.write(BOOT_RECORD_A, await encodeBootRecord({ seq: 1, active: 0, pending: 0xff, len: [factoryImage.length, 0], digest: [digest, new Uint8Array(32)] })), 'the boot record');
}
