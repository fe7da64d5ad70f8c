/**
 * The BOS and what its platform capabilities point to, read the way Chrome and Windows read them
 * (GET_DESCRIPTOR BOS, then the vendor requests the capabilities name) and decoded here by parsers
 * written from the specs, not from src/emulator/usb/bos.ts:
 *
 *   BOS              USB 3.1 §9.6.2: 5-byte header, then device capabilities; bLengths add up to wTotalLength
 *   WebUSB           WebUSB §4.1 Platform Capability (24 bytes), §4.2.1 GET_URL (bmRequestType 0xC0,
 *                    bRequest bVendorCode, wValue index, wIndex 2), §4.3.1 URL descriptor (type 3, bScheme)
 *   MS OS 2.0        Tables 4–5 platform capability (28 bytes); Table 8 request wIndex 7; Tables 9–15 the set
 *
 * The UUIDs are written below as the bytes on the wire (the GUID layout: first three fields
 * little-endian), and also derived from the spec's text form by an independent converter.
 */
import { describe, expect, it } from 'vitest';
import { createEmulatedNic } from '../../../src/emulator/index.ts';
import { EmulatedNic } from '../../../src/emulator/nic.ts';
import { NicUsbFunction } from '../../../src/emulator/usb/nic-usb-function.ts';
import type { EmulatedUSBDevice } from '../../../src/emulator/usb/usb-device.ts';
import { detachToDfu, newDevice, openDfu, readDescriptor, sample } from './host.ts';

// the numbers, spelled out again from the specs on purpose
const BOS = 0x0f;
const DEVICE_CAPABILITY = 0x10;
const PLATFORM = 0x05;
const GET_URL = 2;
const WEBUSB_URL = 3;
const MS_OS_20_DESCRIPTOR_INDEX = 0x07;
const MS_OS_20_SET_ALT_ENUMERATION = 0x08;
const WEBUSB_UUID_WIRE = [0x38, 0xb6, 0x08, 0x34, 0xa9, 0x09, 0xa0, 0x47, 0x8b, 0xfd, 0xa0, 0x76, 0x88, 0x15, 0xb6, 0x65];
const MS_OS_20_UUID_WIRE = [0xdf, 0x60, 0xdd, 0xd8, 0x89, 0x45, 0xc7, 0x4c, 0x9c, 0xd2, 0x65, 0x9d, 0x9e, 0x64, 0x8a, 0x9f];

/** "{aabbccdd-eeff-gghh-iijj-kkllmmnnoopp}" → the 16 bytes of a GUID in memory (Data1..3 little-endian). */
function guidWire(text: string): number[] {
  const [d1, d2, d3, d4, d5] = text.replace(/[{}]/g, '').split('-');
  const le = (hex: string) => hex.match(/../g)!.reverse().map((h) => parseInt(h, 16));
  const be = (hex: string) => hex.match(/../g)!.map((h) => parseInt(h, 16));
  return [...le(d1!), ...le(d2!), ...le(d3!), ...be(d4!), ...be(d5!)];
}

const u16 = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8);
const u32 = (b: Uint8Array, at: number) => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
const utf16 = (b: Uint8Array) => String.fromCharCode(...Array.from({ length: b.length / 2 }, (_, i) => u16(b, 2 * i)));

interface Capability {
  bDevCapabilityType: number;
  uuid: number[];
  data: Uint8Array;
  bytes: Uint8Array;
}

/** USB 3.1 §9.6.2: the BOS, read as a host does (5 bytes for wTotalLength, then all of it). */
async function readBos(dev: USBDevice): Promise<{ bNumDeviceCaps: number; wTotalLength: number; caps: Capability[] }> {
  const head = await readDescriptor(dev, BOS, 0, 5);
  expect(head, 'GET_DESCRIPTOR(BOS) is answered').toBeDefined();
  expect([head![0], head![1]]).toEqual([5, BOS]);
  const wTotalLength = u16(head!, 2);
  const all = (await readDescriptor(dev, BOS, 0, wTotalLength))!;
  expect(all.length, 'wTotalLength').toBe(wTotalLength);
  const caps: Capability[] = [];
  let at = 5;
  while (at < all.length) {
    const len = all[at]!;
    if (len < 3 || at + len > all.length) throw new Error(`capability at ${at} has bLength ${len}`);
    const bytes = all.subarray(at, at + len);
    expect(bytes[1], 'bDescriptorType DEVICE CAPABILITY').toBe(DEVICE_CAPABILITY);
    if (bytes[2] === PLATFORM) {
      expect(bytes[3], 'bReserved').toBe(0);
      caps.push({ bDevCapabilityType: bytes[2]!, uuid: [...bytes.subarray(4, 20)], data: bytes.subarray(20), bytes });
    } else caps.push({ bDevCapabilityType: bytes[2]!, uuid: [], data: bytes.subarray(3), bytes });
    at += len;
  }
  expect(at, 'the capabilities add up to wTotalLength').toBe(wTotalLength);
  expect(caps.length, 'bNumDeviceCaps').toBe(all[4]);
  return { bNumDeviceCaps: all[4]!, wTotalLength, caps };
}

function webUsbCap(caps: Capability[]) {
  const c = caps.find((x) => x.uuid.join() === WEBUSB_UUID_WIRE.join());
  expect(c, 'a WebUSB platform capability').toBeDefined();
  expect(c!.bytes.length, 'WebUSB §4.1 bLength').toBe(24);
  return { bcdVersion: u16(c!.data, 0), bVendorCode: c!.data[2]!, iLandingPage: c!.data[3]! };
}

function msOs20Cap(caps: Capability[]) {
  const c = caps.find((x) => x.uuid.join() === MS_OS_20_UUID_WIRE.join());
  expect(c, 'an MS OS 2.0 platform capability').toBeDefined();
  expect(c!.bytes.length, 'MS OS 2.0 Table 4: 20-byte header + one 8-byte Table 5 structure').toBe(28);
  return { dwWindowsVersion: u32(c!.data, 0), wMSOSDescriptorSetTotalLength: u16(c!.data, 4), bMS_VendorCode: c!.data[6]!, bAltEnumCode: c!.data[7]! };
}

/** A vendor IN request to the device; undefined on STALL. */
async function vendorIn(dev: USBDevice, request: number, value: number, index: number, length: number): Promise<Uint8Array | undefined> {
  const r = await dev.controlTransferIn({ requestType: 'vendor', recipient: 'device', request, value, index }, length);
  if (r.status !== 'ok') return undefined;
  return new Uint8Array(r.data!.buffer, r.data!.byteOffset, r.data!.byteLength);
}

const PREFIX: Record<number, string> = { 0: 'http://', 1: 'https://', 255: '' };

/** WebUSB §4.3.1: bLength, bDescriptorType WEBUSB_URL, bScheme, UTF-8 URL. */
function parseUrl(b: Uint8Array): string {
  expect(b[0], 'bLength is the whole descriptor').toBe(b.length);
  expect(b[1], 'bDescriptorType WEBUSB_URL').toBe(WEBUSB_URL);
  expect(PREFIX[b[2]!], `bScheme ${b[2]}`).toBeDefined();
  return PREFIX[b[2]!] + new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(3));
}

interface MsNode {
  type: number;
  bytes: Uint8Array;
  children: MsNode[];
}

/**
 * MS OS 2.0 Tables 10–14: a set header (wTotalLength at 8), configuration subsets (wTotalLength at
 * 6), function subsets (wSubsetLength at 6) and features (wLength at 0). Every length is checked.
 */
function parseMsOs20(set: Uint8Array): MsNode {
  expect([u16(set, 0), u16(set, 2)], 'Table 10: wLength 10, MS_OS_20_SET_HEADER_DESCRIPTOR').toEqual([10, 0]);
  expect(u16(set, 8), 'Table 10 wTotalLength').toBe(set.length);
  const walk = (b: Uint8Array, at: number, end: number): MsNode[] => {
    const out: MsNode[] = [];
    while (at < end) {
      const wLength = u16(b, at);
      const type = u16(b, at + 2);
      if (wLength < 4 || at + wLength > end) throw new Error(`MS OS 2.0 descriptor at ${at} has wLength ${wLength}`);
      if (type === 1 || type === 2) {
        expect(wLength, 'Tables 11/12: subset headers are 8 bytes').toBe(8);
        const total = u16(b, at + 6);
        if (total < 8 || at + total > end) throw new Error(`subset at ${at} has length ${total}`);
        out.push({ type, bytes: b.subarray(at, at + total), children: walk(b, at + 8, at + total) });
        at += total;
      } else {
        out.push({ type, bytes: b.subarray(at, at + wLength), children: [] });
        at += wLength;
      }
    }
    expect(at, 'the descriptors fill their subset exactly').toBe(end);
    return out;
  };
  return { type: 0, bytes: set, children: walk(set, 10, set.length) };
}

/** Table 13 and Table 14 (DeviceInterfaceGUIDs, REG_MULTI_SZ) as values. */
function winUsbFeatures(features: MsNode[]) {
  expect(features.map((f) => f.type)).toEqual([3, 4]);
  const [cid, reg] = features as [MsNode, MsNode];
  expect(cid.bytes.length, 'Table 13 wLength').toBe(20);
  const ascii = (b: Uint8Array) => String.fromCharCode(...b);
  const r = reg.bytes;
  const nameLength = u16(r, 6);
  const dataLength = u16(r, 8 + nameLength);
  expect(10 + nameLength + dataLength, 'Table 14 wLength = 10 + name + data').toBe(r.length);
  return {
    compatibleId: ascii(cid.bytes.subarray(4, 12)),
    subCompatibleId: ascii(cid.bytes.subarray(12, 20)),
    wPropertyDataType: u16(r, 4),
    propertyName: utf16(r.subarray(8, 8 + nameLength)),
    propertyData: utf16(r.subarray(10 + nameLength, 10 + nameLength + dataLength)),
  };
}

async function runtime(opts = {}): Promise<EmulatedUSBDevice> {
  const dev = await newDevice({ identity: { serial: 'TFN-BOS-0001' }, ...opts });
  await openDfu(dev);
  return dev;
}

describe('BOS descriptor', () => {
  it('the UUIDs on the wire are the specs\' text UUIDs in GUID byte order', () => {
    expect(guidWire('{3408b638-09a9-47a0-8bfd-a0768815b665}')).toEqual(WEBUSB_UUID_WIRE);
    expect(guidWire('{D8DD60DF-4589-4CC7-9CD2-659D9E648A9F}')).toEqual(MS_OS_20_UUID_WIRE);
  });

  for (const personality of ['runtime', 'dfu'] as const) {
    it(`${personality}: USB 2.1, a BOS with the WebUSB and MS OS 2.0 platform capabilities, lengths consistent`, async () => {
      const rt = await runtime();
      const dev = personality === 'runtime' ? rt : await detachToDfu(rt);
      const devDesc = (await readDescriptor(dev, 1, 0, 18))!;
      expect(u16(devDesc, 2), 'bcdUSB').toBe(0x0210);
      const bos = await readBos(dev);
      expect(bos.bNumDeviceCaps).toBe(2);
      expect(bos.wTotalLength).toBe(5 + 24 + 28);
      expect(bos.caps.every((c) => c.bDevCapabilityType === PLATFORM)).toBe(true);
      const w = webUsbCap(bos.caps);
      expect(w.bcdVersion, 'WebUSB §4.1 bcdVersion').toBe(0x0100);
      expect(w.iLandingPage).toBe(1);
      const m = msOs20Cap(bos.caps);
      expect(m.dwWindowsVersion, 'Windows 8.1').toBe(0x06030000);
      expect(m.bAltEnumCode).toBe(0);
      expect(m.bMS_VendorCode).not.toBe(w.bVendorCode);
      // a short read is the first wLength bytes
      expect(await readDescriptor(dev, BOS, 0, 3)).toEqual((await readDescriptor(dev, BOS, 0, 5))!.subarray(0, 3));
      // only BOS index 0 exists
      expect(await readDescriptor(dev, BOS, 1, 5)).toBeUndefined();
    });
  }
});

describe('WebUSB GET_URL', () => {
  it('the landing page by default: http://localhost:4173/ (bScheme 0), in both personalities', async () => {
    let dev: EmulatedUSBDevice = await runtime();
    for (const personality of ['runtime', 'dfu']) {
      if (personality === 'dfu') dev = await detachToDfu(dev);
      expect(dev.personality).toBe(personality);
      const w = webUsbCap((await readBos(dev)).caps);
      const url = await vendorIn(dev, w.bVendorCode, w.iLandingPage, GET_URL, 255);
      expect(url).toBeDefined();
      expect(url![2], 'bScheme http').toBe(0);
      expect(parseUrl(url!)).toBe('http://localhost:4173/');
      // a short read is the first wLength bytes (Chrome reads 255; a careful host reads 3 first)
      expect(await vendorIn(dev, w.bVendorCode, w.iLandingPage, GET_URL, 3)).toEqual(url!.subarray(0, 3));
    }
  });

  it('the landingPage option: an https URL (bScheme 1) with path and query; a 252-byte URL fits exactly', async () => {
    const page = 'https://updates.example.com/nic?from=usb&lang=en';
    let dev = await runtime({ landingPage: page });
    let w = webUsbCap((await readBos(dev)).caps);
    const url = (await vendorIn(dev, w.bVendorCode, w.iLandingPage, GET_URL, 255))!;
    expect([url[0], url[2]]).toEqual([3 + page.length - 'https://'.length, 1]);
    expect(parseUrl(url)).toBe(page);
    const longest = `https://${'a'.repeat(248)}.com`;
    dev = await runtime({ landingPage: longest });
    w = webUsbCap((await readBos(dev)).caps);
    const full = (await vendorIn(dev, w.bVendorCode, w.iLandingPage, GET_URL, 255))!;
    expect(full[0]).toBe(255);
    expect(parseUrl(full)).toBe(longest);
  });

  it('a URL too long, not http(s) or not a URL is a RangeError at construction that says why', async () => {
    const factoryImage = await sample('factory.tfw');
    const tooLong = `https://${'a'.repeat(249)}.com`; // 253 bytes after the prefix
    await expect(createEmulatedNic({ factoryImage, landingPage: tooLong })).rejects.toThrow(/"landingPage" is too long: 253 bytes after "https:\/\/".*at most 252/);
    await expect(createEmulatedNic({ factoryImage, landingPage: 'ftp://example.com/' })).rejects.toThrow(RangeError);
    await expect(createEmulatedNic({ factoryImage, landingPage: 'not a url' })).rejects.toThrow(RangeError);
    // multi-byte UTF-8 counts in bytes: 126 × "é" (2 bytes each) = 252 fits, one more does not
    await expect(createEmulatedNic({ factoryImage, landingPage: `http://x/${'é'.repeat(125)}` })).resolves.toBeDefined();
    await expect(createEmulatedNic({ factoryImage, landingPage: `http://x/${'é'.repeat(126)}` })).rejects.toThrow(RangeError);
    // the USB function itself refuses it when it is made, before anything is on a bus
    const nic = await EmulatedNic.create({ factoryImage, bankSize: 1024 * 1024 });
    expect(() => new NicUsbFunction(nic, { landingPage: tooLong })).toThrow(RangeError);
  });
});

describe('MS OS 2.0 descriptor set', () => {
  it('run-time (composite): header, configuration subset, function subset for the DFU interface (1), WINUSB, DeviceInterfaceGUIDs', async () => {
    const dev = await runtime();
    const m = msOs20Cap((await readBos(dev)).caps);
    const set = (await vendorIn(dev, m.bMS_VendorCode, 0, MS_OS_20_DESCRIPTOR_INDEX, m.wMSOSDescriptorSetTotalLength))!;
    expect(set.length, 'wMSOSDescriptorSetTotalLength is the set\'s length').toBe(m.wMSOSDescriptorSetTotalLength);
    const root = parseMsOs20(set);
    expect(u32(set, 4), 'Table 10 dwWindowsVersion').toBe(m.dwWindowsVersion);
    expect(root.children.map((c) => c.type)).toEqual([1]);
    const conf = root.children[0]!;
    expect(conf.bytes[4], 'Table 11: the first configuration (by index)').toBe(0);
    expect(conf.children.map((c) => c.type)).toEqual([2]);
    const fn = conf.children[0]!;
    expect(fn.bytes[4], 'Table 12 bFirstInterface = the DFU interface').toBe(1);
    expect(winUsbFeatures(fn.children)).toEqual({
      compatibleId: 'WINUSB\0\0',
      subCompatibleId: '\0'.repeat(8),
      wPropertyDataType: 7, // REG_MULTI_SZ
      propertyName: 'DeviceInterfaceGUIDs\0',
      propertyData: expect.stringMatching(/^\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}\0\0$/),
    });
    // more than the set asked for gives the set; less gives its first bytes
    expect(await vendorIn(dev, m.bMS_VendorCode, 0, MS_OS_20_DESCRIPTOR_INDEX, 0xffff)).toEqual(set);
    expect(await vendorIn(dev, m.bMS_VendorCode, 0, MS_OS_20_DESCRIPTOR_INDEX, 10)).toEqual(set.subarray(0, 10));
  });

  it('DFU mode (one interface, not composite): the WinUSB features right after the header, the same GUID', async () => {
    const rt = await runtime();
    const mr = msOs20Cap((await readBos(rt)).caps);
    const rtSet = (await vendorIn(rt, mr.bMS_VendorCode, 0, MS_OS_20_DESCRIPTOR_INDEX, mr.wMSOSDescriptorSetTotalLength))!;
    const rtFeatures = winUsbFeatures(parseMsOs20(rtSet).children[0]!.children[0]!.children);
    const dev = await detachToDfu(rt);
    const m = msOs20Cap((await readBos(dev)).caps);
    const set = (await vendorIn(dev, m.bMS_VendorCode, 0, MS_OS_20_DESCRIPTOR_INDEX, 0xffff))!;
    expect(set.length).toBe(m.wMSOSDescriptorSetTotalLength);
    const root = parseMsOs20(set);
    expect(winUsbFeatures(root.children)).toEqual(rtFeatures);
    expect(set.length).toBe(rtSet.length - 16);
  });
});

describe('unknown platform requests are refused the one way: STALL', () => {
  it('wrong index, code, wIndex, direction or recipient STALL; the device still answers afterwards', async () => {
    const dev = await runtime();
    const { caps } = await readBos(dev);
    const w = webUsbCap(caps);
    const m = msOs20Cap(caps);
    const stalls: [string, Promise<Uint8Array | undefined>][] = [
      ['GET_URL index 0', vendorIn(dev, w.bVendorCode, 0, GET_URL, 255)],
      ['GET_URL index 2 (no such URL)', vendorIn(dev, w.bVendorCode, 2, GET_URL, 255)],
      ['GET_URL index 0x0101', vendorIn(dev, w.bVendorCode, 0x0101, GET_URL, 255)],
      ['WebUSB request 1 (reserved)', vendorIn(dev, w.bVendorCode, w.iLandingPage, 1, 255)],
      ['GET_URL with the MS OS 2.0 code', vendorIn(dev, m.bMS_VendorCode, w.iLandingPage, GET_URL, 255)],
      ['MS OS 2.0 with the WebUSB code', vendorIn(dev, w.bVendorCode, 0, MS_OS_20_DESCRIPTOR_INDEX, 255)],
      ['MS_OS_20_SET_ALT_ENUMERATION (bAltEnumCode 0)', vendorIn(dev, m.bMS_VendorCode, 0, MS_OS_20_SET_ALT_ENUMERATION, 255)],
      ['MS OS 2.0 wValue 1', vendorIn(dev, m.bMS_VendorCode, 1, MS_OS_20_DESCRIPTOR_INDEX, 255)],
      ['a vendor code nobody announced', vendorIn(dev, 0x7f, 0, GET_URL, 255)],
      ['QUERY (0x40) addressed to the device, not the interface', vendorIn(dev, 0x40, 0, 0, 255)],
    ];
    for (const [what, p] of stalls) expect(await p, what).toBeUndefined();
    // OUT with the right code and wIndex: STALL too (both requests are IN)
    const out = await dev.controlTransferOut({ requestType: 'vendor', recipient: 'device', request: w.bVendorCode, value: w.iLandingPage, index: GET_URL }, new Uint8Array(0));
    expect(out.status).toBe('stall');
    // GET_URL to the DFU interface is the interface's vendor table, which does not know it either
    const intf = await dev.controlTransferIn({ requestType: 'vendor', recipient: 'interface', request: w.bVendorCode, value: w.iLandingPage, index: 1 }, 255);
    expect(intf.status).toBe('stall');
    expect(parseUrl((await vendorIn(dev, w.bVendorCode, w.iLandingPage, GET_URL, 255))!)).toBe('http://localhost:4173/');
  });

  it('a generic DFU device (vendorRequests: false) still has its landing page and MS OS 2.0 set', async () => {
    const dev = await runtime({ vendorRequests: false });
    const { caps } = await readBos(dev);
    const w = webUsbCap(caps);
    expect(parseUrl((await vendorIn(dev, w.bVendorCode, w.iLandingPage, GET_URL, 255))!)).toBe('http://localhost:4173/');
    const m = msOs20Cap(caps);
    expect((await vendorIn(dev, m.bMS_VendorCode, 0, MS_OS_20_DESCRIPTOR_INDEX, 0xffff))!.length).toBe(m.wMSOSDescriptorSetTotalLength);
  });
});

describe('the USBDevice says what the bytes say', () => {
  it('usbVersion 2.1.0', async () => {
    const dev = await runtime();
    expect([dev.usbVersionMajor, dev.usbVersionMinor, dev.usbVersionSubminor]).toEqual([2, 1, 0]);
  });
});
