/**
 * A small DFU / vendor host for the emulator tests, written from DFU 1.1 and WebUSB, not from the
 * emulator's code: it only speaks USBDevice (controlTransferIn/Out with real setup fields) and
 * decodes what comes back, the way dfu-util and webdfu do.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSamples } from '../../../src/cli/make-samples.ts';
import { createEmulatedNic, type EmulatedNicOptions } from '../../../src/emulator/index.ts';
import type { EmulatedUSBDevice } from '../../../src/emulator/usb/usb-device.ts';

// DFU 1.1 numbers, spelled out again here on purpose (the test does not import the device's tables)
export const DETACH = 0;
export const DNLOAD = 1;
export const UPLOAD = 2;
export const GETSTATUS = 3;
export const CLRSTATUS = 4;
export const GETSTATE = 5;
export const ABORT = 6;

export const S = {
  appIDLE: 0,
  appDETACH: 1,
  dfuIDLE: 2,
  dfuDNLOAD_SYNC: 3,
  dfuDNBUSY: 4,
  dfuDNLOAD_IDLE: 5,
  dfuMANIFEST_SYNC: 6,
  dfuMANIFEST: 7,
  dfuMANIFEST_WAIT_RESET: 8,
  dfuUPLOAD_IDLE: 9,
  dfuERROR: 10,
} as const;

export const ST = {
  OK: 0x00,
  errTARGET: 0x01,
  errFILE: 0x02,
  errWRITE: 0x03,
  errERASE: 0x04,
  errVERIFY: 0x07,
  errADDRESS: 0x08,
  errNOTDONE: 0x09,
  errFIRMWARE: 0x0a,
  errVENDOR: 0x0b,
  errUNKNOWN: 0x0e,
  errSTALLEDPKT: 0x0f,
} as const;

let samplesDir: string | undefined;
const sampleCache = new Map<string, Uint8Array<ArrayBuffer>>();

/** The demo samples (factory.tfw, good.tfw, …), generated once per worker with the project's own generator. */
export async function sample(name: string): Promise<Uint8Array<ArrayBuffer>> {
  const hit = sampleCache.get(name);
  if (hit) return hit;
  if (!samplesDir) {
    const dir = mkdtempSync(join(tmpdir(), 'tf-emu-samples-'));
    await makeSamples(dir, { big: false });
    samplesDir = dir;
  }
  const bytes = new Uint8Array(readFileSync(join(samplesDir, name)));
  sampleCache.set(name, bytes);
  return bytes;
}

/** A NIC clock the test moves by hand (the firmware and bwPollTimeout run on it). */
export class ManualClock {
  t = 1000;
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export async function newDevice(opts: Partial<EmulatedNicOptions> = {}): Promise<EmulatedUSBDevice> {
  const factoryImage = await sample('factory.tfw');
  return createEmulatedNic({ factoryImage, bankSize: 1024 * 1024, ...opts });
}

/** The DFU interface number: the one with class 0xFE / subclass 0x01, found from the configuration objects. */
export function dfuInterface(dev: USBDevice): number {
  for (const i of dev.configuration!.interfaces) {
    if (i.alternates.some((a) => a.interfaceClass === 0xfe && a.interfaceSubclass === 0x01)) return i.interfaceNumber;
  }
  throw new Error('no DFU interface');
}

export async function openDfu<T extends USBDevice>(dev: T): Promise<T> {
  await dev.open();
  if (!dev.configuration) await dev.selectConfiguration(1);
  await dev.claimInterface(dfuInterface(dev));
  return dev;
}

export function dfuOut(dev: USBDevice, request: number, value = 0, data?: BufferSource): Promise<USBOutTransferResult> {
  return dev.controlTransferOut({ requestType: 'class', recipient: 'interface', request, value, index: dfuInterface(dev) }, data);
}

export function dfuIn(dev: USBDevice, request: number, length: number, value = 0): Promise<USBInTransferResult> {
  return dev.controlTransferIn({ requestType: 'class', recipient: 'interface', request, value, index: dfuInterface(dev) }, length);
}

export interface Status {
  status: number;
  poll: number;
  state: number;
  iString: number;
}

/** DFU_GETSTATUS, decoded (DFU 1.1 §6.1.2); 'stall' if stalled. */
export async function getStatus(dev: USBDevice): Promise<Status | 'stall'> {
  const r = await dfuIn(dev, GETSTATUS, 6);
  if (r.status !== 'ok') return 'stall';
  const b = new Uint8Array(r.data!.buffer, r.data!.byteOffset, r.data!.byteLength);
  if (b.length !== 6) throw new Error(`GETSTATUS returned ${b.length} bytes`);
  return { status: b[0]!, poll: b[1]! | (b[2]! << 8) | (b[3]! << 16), state: b[4]!, iString: b[5]! };
}

export async function getState(dev: USBDevice): Promise<number | 'stall'> {
  const r = await dfuIn(dev, GETSTATE, 1);
  if (r.status !== 'ok') return 'stall';
  return r.data!.getUint8(0);
}

/** GET_DESCRIPTOR(STRING, index), decoded from UTF-16LE. */
export async function readString(dev: USBDevice, index: number): Promise<string | undefined> {
  const r = await dev.controlTransferIn({ requestType: 'standard', recipient: 'device', request: 6, value: (3 << 8) | index, index: 0x0409 }, 255);
  if (r.status !== 'ok') return undefined;
  const b = new Uint8Array(r.data!.buffer, r.data!.byteOffset, r.data!.byteLength);
  if (b[0] !== b.length || b[1] !== 3) throw new Error('bad string descriptor');
  let s = '';
  for (let i = 2; i + 1 < b.length; i += 2) s += String.fromCharCode(b[i]! | (b[i + 1]! << 8));
  return s;
}

/** Resolves with the next device announced on the bus (subscribe before causing it). */
export function nextConnect(usb: EventTarget): Promise<EmulatedUSBDevice> {
  return new Promise((resolve) => usb.addEventListener('connect', (e) => resolve((e as Event & { device: EmulatedUSBDevice }).device), { once: true }));
}
export function nextDisconnect(usb: EventTarget): Promise<EmulatedUSBDevice> {
  return new Promise((resolve) => usb.addEventListener('disconnect', (e) => resolve((e as Event & { device: EmulatedUSBDevice }).device), { once: true }));
}

/** Run-time → DETACH → the device re-enumerates by itself (bitWillDetach) → opened DFU-mode device. */
export async function detachToDfu(dev: EmulatedUSBDevice): Promise<EmulatedUSBDevice> {
  const connected = nextConnect(dev.usb);
  const r = await dfuOut(dev, DETACH, 1000);
  if (r.status !== 'ok') throw new Error('DETACH stalled');
  const next = await connected;
  await openDfu(next);
  return next;
}

/** Waits at least `ms` by the monotonic clock (timers can fire early against it; DFU 1.1 §6.1.2 forbids polling early). */
export async function sleep(ms: number): Promise<void> {
  const start = performance.now();
  await new Promise<void>((r) => setTimeout(r, ms));
  while (performance.now() - start < ms) await new Promise<void>((r) => setTimeout(r, 1));
}

export interface DownloadResult {
  final: Status;
  text: string | undefined;
  blocks: number;
}

/**
 * A plain DFU download, as dfu-util does it (DFU 1.1 §7): DNLOAD blocks of wTransferSize with
 * GETSTATUS polling (sleeping bwPollTimeout), a zero-length DNLOAD, then GETSTATUS until dfuIDLE
 * (manifestation tolerant) or dfuERROR. Returns the last status and the iString text.
 */
export async function dfuDownload(dev: USBDevice, image: Uint8Array<ArrayBuffer>, opts: { advance?: (ms: number) => void } = {}): Promise<DownloadResult> {
  const transferSize = (await functionalDescriptor(dev)).transferSize;
  const wait = async (ms: number) => {
    if (opts.advance) opts.advance(ms);
    else if (ms > 0) await sleep(ms);
  };
  const finish = async (st: Status): Promise<DownloadResult> => ({ final: st, text: st.iString ? await readString(dev, st.iString) : undefined, blocks });
  let blocks = 0;
  for (let off = 0; off < image.length; off += transferSize) {
    const r = await dfuOut(dev, DNLOAD, blocks & 0xffff, image.subarray(off, off + transferSize));
    blocks++;
    if (r.status !== 'ok') throw new Error(`DNLOAD ${blocks - 1} stalled`);
    for (let polls = 0; ; polls++) {
      if (polls > 1000) throw new Error('device stays busy');
      const st = await getStatus(dev);
      if (st === 'stall') throw new Error('GETSTATUS stalled');
      if (st.status !== ST.OK || st.state === S.dfuERROR) return finish(st);
      if (st.state === S.dfuDNLOAD_IDLE) break;
      await wait(st.poll);
    }
  }
  const end = await dfuOut(dev, DNLOAD, blocks & 0xffff);
  if (end.status !== 'ok') {
    const st = await getStatus(dev);
    if (st === 'stall') throw new Error('zero-length DNLOAD and GETSTATUS stalled');
    return finish(st);
  }
  for (let polls = 0; ; polls++) {
    if (polls > 1000) throw new Error('manifestation never ends');
    const st = await getStatus(dev);
    if (st === 'stall') throw new Error('GETSTATUS stalled during manifestation');
    if (st.state === S.dfuIDLE || st.state === S.dfuERROR || st.status !== ST.OK) return finish(st);
    await wait(st.poll);
  }
}

/** DFU_UPLOAD until a short frame (DFU 1.1 §6.2). */
export async function dfuUpload(dev: USBDevice, limit = 64 * 1024 * 1024): Promise<Uint8Array> {
  const size = (await functionalDescriptor(dev)).transferSize;
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let block = 0; total < limit; block++) {
    const r = await dfuIn(dev, UPLOAD, size, block & 0xffff);
    if (r.status !== 'ok') throw new Error(`UPLOAD ${block} stalled`);
    const b = new Uint8Array(r.data!.buffer, r.data!.byteOffset, r.data!.byteLength).slice();
    parts.push(b);
    total += b.length;
    if (b.length < size) break;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface Functional {
  attributes: number;
  detachTimeout: number;
  transferSize: number;
  bcdDFU: number;
}

const functionalCache = new WeakMap<USBDevice, Functional>();

/** The DFU functional descriptor, read once per device from its configuration descriptor. */
export async function functionalDescriptor(dev: USBDevice): Promise<Functional> {
  if (!functionalCache.has(dev)) await readConfiguration(dev);
  const f = functionalCache.get(dev);
  if (!f) throw new Error('no DFU functional descriptor');
  return f;
}

export async function readDescriptor(dev: USBDevice, type: number, index: number, length: number): Promise<Uint8Array | undefined> {
  const r = await dev.controlTransferIn({ requestType: 'standard', recipient: 'device', request: 6, value: (type << 8) | index, index: 0 }, length);
  if (r.status !== 'ok') return undefined;
  return new Uint8Array(r.data!.buffer, r.data!.byteOffset, r.data!.byteLength).slice();
}

/** GET_DESCRIPTOR(CONFIGURATION) the way webdfu does: 4 bytes for wTotalLength, then all of it; finds the 0x21 descriptor. */
export async function readConfiguration(dev: USBDevice): Promise<Uint8Array> {
  const head = await readDescriptor(dev, 2, 0, 4);
  if (!head || head.length !== 4) throw new Error('configuration descriptor head');
  const total = head[2]! | (head[3]! << 8);
  const all = await readDescriptor(dev, 2, 0, total);
  if (!all || all.length !== total) throw new Error('configuration descriptor');
  for (let at = 0; at + 2 <= all.length && all[at]! >= 2; at += all[at]!) {
    if (all[at + 1] === 0x21 && all[at] === 9) {
      functionalCache.set(dev, { attributes: all[at + 2]!, detachTimeout: all[at + 3]! | (all[at + 4]! << 8), transferSize: all[at + 5]! | (all[at + 6]! << 8), bcdDFU: all[at + 7]! | (all[at + 8]! << 8) });
    }
  }
  return all;
}

// ---- vendor requests ----------------------------------------------------------------------

export const V = { QUERY: 0x40, STATUS: 0x41, CONTROL: 0x42, DATA: 0x43, READ: 0x44, MAINT: 0x45, TOKEN_CHALLENGE: 0x46, TOKEN_APPLY: 0x47, LAST_RESULT: 0x48, RESET: 0x49, RECEIPT_REQUEST: 0x4a, RECEIPT: 0x4b } as const;

export function vendorIn(dev: USBDevice, request: number, length: number, value = 0): Promise<USBInTransferResult> {
  return dev.controlTransferIn({ requestType: 'vendor', recipient: 'interface', request, value, index: dfuInterface(dev) }, length);
}
export function vendorOut(dev: USBDevice, request: number, data?: BufferSource, value = 0): Promise<USBOutTransferResult> {
  return dev.controlTransferOut({ requestType: 'vendor', recipient: 'interface', request, value, index: dfuInterface(dev) }, data);
}

export const bytesOf = (r: USBInTransferResult): Uint8Array => new Uint8Array(r.data!.buffer, r.data!.byteOffset, r.data!.byteLength).slice();

export async function query(dev: USBDevice): Promise<Uint8Array> {
  const r = await vendorIn(dev, V.QUERY, 4096);
  if (r.status !== 'ok') throw new Error('QUERY stalled');
  return bytesOf(r);
}

/** QUERY TLVs: {tag u8, len u16 LE, value}. */
export function tlvs(b: Uint8Array): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (let at = 0; at + 3 <= b.length; ) {
    const tag = b[at]!;
    const len = b[at + 1]! | (b[at + 2]! << 8);
    if (at + 3 + len > b.length) throw new Error('TLV overruns QUERY');
    out.set(tag, b.subarray(at + 3, at + 3 + len));
    at += 3 + len;
  }
  return out;
}

/** Tag 1 running / tag 2 pending version: 3 × u16 LE → "28.40.1000". */
export function version(q: Uint8Array, tag: 1 | 2): string | undefined {
  const v = tlvs(q).get(tag);
  if (!v) return undefined;
  const d = new DataView(v.buffer, v.byteOffset, v.byteLength);
  return `${d.getUint16(0, true)}.${d.getUint16(2, true)}.${d.getUint16(4, true)}`;
}

export interface FwStatus {
  state: number;
  error: number;
  result: number;
  flags: number;
  handle: number;
  received: number;
}

export async function fwStatus(dev: USBDevice): Promise<FwStatus> {
  const r = await vendorIn(dev, V.STATUS, 28);
  if (r.status !== 'ok' || r.data!.byteLength !== 28) throw new Error('STATUS');
  const d = r.data!;
  return { state: d.getUint8(0), error: d.getUint8(1), result: d.getUint8(2), flags: d.getUint8(3), handle: d.getUint32(4, true), received: d.getUint32(8, true) };
}

export async function control(dev: USBDevice, instruction: number, handle = 0, size = 0): Promise<FwStatus> {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setUint32(0, instruction, true);
  v.setUint32(4, handle, true);
  v.setUint32(8, size, true);
  const r = await vendorOut(dev, V.CONTROL, b);
  if (r.status !== 'ok') throw new Error(`CONTROL ${instruction} stalled`);
  return fwStatus(dev);
}

export async function lastResult(dev: USBDevice): Promise<{ request: number; kind: number; code: number; text: string }> {
  const r = await vendorIn(dev, V.LAST_RESULT, 512);
  if (r.status !== 'ok') throw new Error('LAST_RESULT stalled');
  const b = bytesOf(r);
  return { request: b[0]!, kind: b[1]!, code: b[2]!, text: new TextDecoder().decode(b.subarray(4)) };
}

/** Vendor RESET: the NIC reboots and the device re-enumerates (run-time); returns the opened new device. */
export async function vendorReset(dev: EmulatedUSBDevice): Promise<EmulatedUSBDevice> {
  const connected = nextConnect(dev.usb);
  const r = await vendorOut(dev, V.RESET);
  if (r.status !== 'ok') throw new Error('RESET stalled');
  const next = await connected;
  await openDfu(next);
  return next;
}
