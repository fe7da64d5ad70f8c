/**
 * Manufacturing: what a factory station writes into a new NIC's flash before it first powers on —
 * the device identity (twice), the factory image in both banks and both boot records (layouts in
 * docs/protocol.md §8). Every boot-critical structure is written twice so that no single damaged
 * byte can leave a new NIC with nothing to boot (issue #10). It trusts the factory image (that is
 * what manufacturing means); from then on only the firmware writes the flash.
 */
import { BANK_BASE, BOOT_RECORD_A, BOOT_RECORD_B, DEVICE_INFO, DEVICE_INFO_BACKUP, FLASH_OK, Flash, SECTOR } from './flash.ts';

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

/** The identity as TLVs { tag u8, length u8, value } (validated: a caller mistake throws). */
export function identityTlvs(id: Identity): Uint8Array {
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
  const out = new Uint8Array(tlvs.reduce((n, [, v]) => n + 2 + v.length, 0));
  let at = 0;
  for (const [t, v] of tlvs) {
    out[at] = t;
    out[at + 1] = v.length;
    out.set(v, at + 2);
    at += 2 + v.length;
  }
  return out;
}

/** One identity copy: "TFD2", length u32, the TLVs, SHA-256 of all before it (read by wasm/firmware/device.ts). */
export async function encodeDeviceInfo(id: Identity): Promise<Uint8Array> {
  const body = identityTlvs(id);
  const out = new Uint8Array(8 + body.length + 32);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x32444654, true);
  dv.setUint32(4, body.length, true);
  out.set(body, 8);
  out.set(new Uint8Array(await crypto.subtle.digest('SHA-256', out.subarray(0, 8 + body.length))), 8 + body.length);
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

/**
 * Programs a blank flash: the identity in its primary and backup sectors, the factory image in
 * bank 0 and again in bank 1 (the golden copy: either bank can be damaged and the other still
 * boots), and two valid boot records naming both (seq 1 in A, seq 2 in B; B wins, A stands in).
 */
/**
 * The digest the boot record holds for a bank (docs/protocol.md §8.5): SHA-256 of the whole image
 * for format v1; for format v2, of its head (header, manifest, signature block), the payload being
 * covered by the signed hash-block table the firmware checks at boot.
 */
export async function bankDigest(image: Uint8Array): Promise<Uint8Array> {
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  let covered = image;
  if (image.length >= 16 && v.getUint16(4, true) === 2) {
    const sigAt = 16 + v.getUint32(8, true);
    if (sigAt + 8 <= image.length) covered = image.subarray(0, Math.min(image.length, sigAt + v.getUint32(sigAt + 4, true)));
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', covered as Uint8Array<ArrayBuffer>));
}

export async function manufacture(flash: Flash, identity: Identity, factoryImage: Uint8Array): Promise<void> {
  if (factoryImage.length === 0 || factoryImage.length > flash.bankSize) {
    throw new RangeError(`"factoryImage" expected 1..${flash.bankSize} bytes, got ${factoryImage.length}`);
  }
  const check = (st: number, what: string) => {
    if (st !== FLASH_OK) throw new Error(`manufacturing failed writing ${what} (flash status ${st})`);
  };
  check(flash.erase(0, BANK_BASE), 'the system area');
  const info = await encodeDeviceInfo(identity);
  check(flash.write(DEVICE_INFO, info), 'the identity');
  check(flash.write(DEVICE_INFO_BACKUP, info), 'the identity backup');
  for (const bank of [0, 1] as const) {
    check(flash.erase(flash.bankAddr(bank), Math.ceil(factoryImage.length / SECTOR) * SECTOR), `bank ${bank}`);
    check(flash.write(flash.bankAddr(bank), factoryImage), `the factory image into bank ${bank}`);
  }
  const digest = await bankDigest(factoryImage);
  const len: [number, number] = [factoryImage.length, factoryImage.length];
  check(flash.write(BOOT_RECORD_A, await encodeBootRecord({ seq: 1, active: 0, pending: 0xff, len, digest: [digest, digest] })), 'boot record A');
  check(flash.write(BOOT_RECORD_B, await encodeBootRecord({ seq: 2, active: 0, pending: 0xff, len, digest: [digest, digest] })), 'boot record B');
}
