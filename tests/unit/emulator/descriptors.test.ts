/**
 * The descriptor bytes a host reads with GET_DESCRIPTOR, decoded here field by field (USB 2.0
 * §9.6, DFU 1.1 §4.1.3 / §4.2) in both personalities, and checked for the consistency a host
 * parser relies on: every bLength fits, the lengths add up to wTotalLength, bNumInterfaces
 * matches, the DFU functional descriptor follows its interface. The USBDevice objects must say the
 * same as the bytes.
 */
import { describe, expect, it } from 'vitest';
import { createEmulatedNic } from '../../../src/emulator/index.ts';
import type { EmulatedUSBDevice } from '../../../src/emulator/usb/usb-device.ts';
import { CLRSTATUS, detachToDfu, dfuDownload, dfuOut, newDevice, openDfu, readDescriptor, readString, sample } from './host.ts';

interface Decoded {
  type: number;
  bytes: Uint8Array;
}

/** Splits a configuration descriptor set; throws on any length that does not fit. */
function split(all: Uint8Array): Decoded[] {
  expect(all[0]).toBe(9);
  expect(all[1]).toBe(2);
  const total = all[2]! | (all[3]! << 8);
  expect(total, 'wTotalLength').toBe(all.length);
  const out: Decoded[] = [];
  let at = 0;
  while (at < all.length) {
    const len = all[at]!;
    if (len < 2 || at + len > all.length) throw new Error(`descriptor at ${at} has bLength ${len}`);
    out.push({ type: all[at + 1]!, bytes: all.subarray(at, at + len) });
    at += len;
  }
  expect(at, 'the descriptors add up to wTotalLength').toBe(total);
  return out;
}

async function device(dev: USBDevice) {
  const d = await readDescriptor(dev, 1, 0, 18);
  expect(d).toBeDefined();
  const b = d!;
  const u16 = (at: number) => b[at]! | (b[at + 1]! << 8);
  return {
    bLength: b[0],
    bDescriptorType: b[1],
    bcdUSB: u16(2),
    bDeviceClass: b[4],
    bDeviceSubClass: b[5],
    bDeviceProtocol: b[6],
    bMaxPacketSize0: b[7],
    idVendor: u16(8),
    idProduct: u16(10),
    bcdDevice: u16(12),
    iManufacturer: b[14]!,
    iProduct: b[15]!,
    iSerialNumber: b[16]!,
    bNumConfigurations: b[17],
  };
}

async function configuration(dev: USBDevice) {
  const head = await readDescriptor(dev, 2, 0, 9);
  const total = head![2]! | (head![3]! << 8);
  const all = (await readDescriptor(dev, 2, 0, total))!;
  const parts = split(all);
  const interfaces = parts
    .map((p, i) => ({ p, i }))
    .filter(({ p }) => p.type === 4)
    .map(({ p, i }) => {
      expect(p.bytes.length).toBe(9);
      return { index: i, number: p.bytes[2]!, alt: p.bytes[3]!, endpoints: p.bytes[4]!, cls: p.bytes[5]!, sub: p.bytes[6]!, proto: p.bytes[7]!, iInterface: p.bytes[8]! };
    });
  const functional = parts
    .map((p, i) => ({ p, i }))
    .filter(({ p }) => p.type === 0x21)
    .map(({ p, i }) => {
      const b = p.bytes;
      return { index: i, bLength: b.length, bmAttributes: b[2], wDetachTimeOut: b[3]! | (b[4]! << 8), wTransferSize: b[5]! | (b[6]! << 8), bcdDFUVersion: b[7]! | (b[8]! << 8) };
    });
  return { config: parts[0]!.bytes, parts, interfaces, functional };
}

async function runtime(opts = {}): Promise<EmulatedUSBDevice> {
  const dev = await newDevice({ identity: { serial: 'TFN-DESC-0042' }, ...opts });
  await openDfu(dev);
  return dev;
}

describe('device descriptor', () => {
  for (const personality of ['runtime', 'dfu'] as const) {
    it(`${personality}: 18 bytes, USB 2.1 (it has a BOS), EP0 64, pid.codes VID 0x1209 PID 0x7A01, strings`, async () => {
      const rt = await runtime();
      const dev = personality === 'runtime' ? rt : await detachToDfu(rt);
      const d = await device(dev);
      expect(d).toEqual({
        bLength: 18,
        bDescriptorType: 1,
        bcdUSB: 0x0210,
        bDeviceClass: 0,
        bDeviceSubClass: 0,
        bDeviceProtocol: 0,
        bMaxPacketSize0: 64,
        idVendor: 0x1209,
        idProduct: 0x7a01,
        bcdDevice: 0x0100,
        iManufacturer: d.iManufacturer,
        iProduct: d.iProduct,
        iSerialNumber: d.iSerialNumber,
        bNumConfigurations: 1,
      });
      expect(await readString(dev, d.iManufacturer)).toBe('TrustFlash Demo');
      expect(await readString(dev, d.iProduct)).toBe('Emulated ConnectX NIC');
      expect(await readString(dev, d.iSerialNumber)).toBe('TFN-DESC-0042');
      // string 0: LANGID en-US
      expect(await readDescriptor(dev, 3, 0, 255)).toEqual(Uint8Array.of(4, 3, 0x09, 0x04));
      // the USBDevice says what the bytes say
      expect([dev.usbVersionMajor, dev.usbVersionMinor, dev.usbVersionSubminor]).toEqual([2, 1, 0]);
      expect([dev.deviceVersionMajor, dev.deviceVersionMinor, dev.deviceVersionSubminor]).toEqual([1, 0, 0]);
      expect([dev.deviceClass, dev.deviceSubclass, dev.deviceProtocol]).toEqual([0, 0, 0]);
      expect([dev.vendorId, dev.productId]).toEqual([0x1209, 0x7a01]);
      expect([dev.manufacturerName, dev.productName, dev.serialNumber]).toEqual(['TrustFlash Demo', 'Emulated ConnectX NIC', 'TFN-DESC-0042']);
      // a short read returns the first wLength bytes (how hosts read bMaxPacketSize0 first)
      expect(await readDescriptor(dev, 1, 0, 8)).toEqual((await readDescriptor(dev, 1, 0, 18))!.subarray(0, 8));
    });
  }
});

describe('configuration descriptor', () => {
  it('run-time: the NIC function (0xFF, no endpoints) and a DFU run-time interface (0xFE/0x01/0x01) with its functional descriptor', async () => {
    const dev = await runtime();
    const { config, parts, interfaces, functional } = await configuration(dev);
    expect([config[4], config[5], config[7]]).toEqual([2, 1, 0xc0]);
    expect(interfaces.map((i) => [i.number, i.alt, i.endpoints, i.cls, i.sub, i.proto])).toEqual([
      [0, 0, 0, 0xff, 0x00, 0x00],
      [1, 0, 0, 0xfe, 0x01, 0x01],
    ]);
    expect(parts.filter((p) => p.type === 5), 'no endpoints').toHaveLength(0);
    expect(functional).toEqual([{ index: interfaces[1]!.index + 1, bLength: 9, bmAttributes: 0x0f, wDetachTimeOut: 1000, wTransferSize: 4096, bcdDFUVersion: 0x0110 }]);
    expect(await readString(dev, interfaces[0]!.iInterface)).toBe('NIC function');
    expect(await readString(dev, interfaces[1]!.iInterface)).toBe('NIC firmware (secure update)');
    // the USBConfiguration objects
    const c = dev.configuration!;
    expect(c.configurationValue).toBe(1);
    expect(c.interfaces.map((i) => [i.interfaceNumber, i.alternate.interfaceClass, i.alternate.interfaceSubclass, i.alternate.interfaceProtocol, i.alternate.interfaceName, i.alternate.endpoints.length])).toEqual([
      [0, 0xff, 0, 0, 'NIC function', 0],
      [1, 0xfe, 1, 1, 'NIC firmware (secure update)', 0],
    ]);
    expect(c.interfaces[1]!.claimed).toBe(true);
    expect(c.interfaces[0]!.claimed).toBe(false);
  });

  it('DFU mode: one DFU interface (0xFE/0x01/0x02), alt 0 "NIC firmware (secure update)", functional descriptor', async () => {
    const dev = await detachToDfu(await runtime());
    const { config, interfaces, functional } = await configuration(dev);
    expect([config[4], config[5]]).toEqual([1, 1]);
    expect(interfaces.map((i) => [i.number, i.alt, i.endpoints, i.cls, i.sub, i.proto])).toEqual([[0, 0, 0, 0xfe, 0x01, 0x02]]);
    expect(await readString(dev, interfaces[0]!.iInterface)).toBe('NIC firmware (secure update)');
    expect(functional).toEqual([{ index: 2, bLength: 9, bmAttributes: 0x0f, wDetachTimeOut: 1000, wTransferSize: 4096, bcdDFUVersion: 0x0110 }]);
    // the functional descriptor is also readable through the interface
    const r = await dev.controlTransferIn({ requestType: 'standard', recipient: 'interface', request: 6, value: 0x2100, index: 0 }, 9);
    expect(new Uint8Array(r.data!.buffer)).toEqual(Uint8Array.of(9, 0x21, 0x0f, 0xe8, 0x03, 0x00, 0x10, 0x10, 0x01));
  });

  it('wTransferSize is configurable up to 65535; out of range is a RangeError', async () => {
    const dev = await runtime({ transferSize: 65535 });
    expect((await configuration(dev)).functional[0]!.wTransferSize).toBe(65535);
    const factoryImage = await sample('factory.tfw');
    for (const transferSize of [0, 65536, 1.5]) {
      await expect(createEmulatedNic({ factoryImage, transferSize })).rejects.toThrow(RangeError);
    }
  });

  it('without manifestation tolerance bmAttributes drops bit 2', async () => {
    const dev = await runtime({ manifestationTolerant: false });
    expect((await configuration(dev)).functional[0]!.bmAttributes).toBe(0x0b);
  });
});

describe('string 0x20: the last error sentence', () => {
  it('"No error" at first; the reason after a rejection; kept after CLRSTATUS', async () => {
    const dev = await detachToDfu(await runtime());
    expect(await readString(dev, 0x20)).toBe('No error');
    const r = await dfuDownload(dev, await sample('wrong-psid.tfw'));
    expect(r.final.iString).toBe(0x20);
    expect(await readString(dev, 0x20)).toBe('Component is not applicable (MCC error 0x03)');
    await dfuOut(dev, CLRSTATUS);
    expect(await readString(dev, 0x20)).toBe('Component is not applicable (MCC error 0x03)');
  });

  it('unknown string indices stall', async () => {
    const dev = await runtime();
    expect(await readString(dev, 9)).toBeUndefined();
    expect(await readString(dev, 0x21)).toBeUndefined();
  });
});
