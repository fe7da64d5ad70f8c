/**
 * The FunctionFS and configfs bytes the gadget bridge hands the kernel. The expected blobs are
 * assembled here by hand from include/uapi/linux/usb/functionfs.h, field by field, not from the
 * code under test; the real kernel accepting them is checked by `npm run test:usb`.
 */
import { describe, expect, it } from 'vitest';
import { buildDescriptors, DFU_INTERFACE_NAME, NIC_INTERFACE_NAME, type DescriptorSet } from '../../../src/emulator/usb/descriptors.ts';
import { FFS_EVENT, FFS_EVENT_SIZE, functionFsBlobs, gadgetAttributes, parseEvents, platformAttributes } from '../../../src/gadget/ffs.ts';

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const ascii = (s: string) => [...Buffer.from(s, 'utf8')];

describe('FunctionFS descriptors and strings', () => {
  it('DFU mode: one DFU interface and its functional descriptor, for full and high speed', () => {
    const set = buildDescriptors({ personality: 'dfu', serial: 'TFN0000001' });
    const { descriptors, strings, interfaceNames } = functionFsBlobs(set);
    // struct usb_interface_descriptor: bLength 9, INTERFACE, number 0, alt 0, no endpoints,
    // class FE (application specific), subclass 1 (DFU), protocol 2 (DFU mode), iInterface 1 (renumbered)
    const intf = [9, 4, 0, 0, 0, 0xfe, 0x01, 0x02, 1];
    // DFU 1.1 Table 4.2: bmAttributes 0x0F, wDetachTimeOut 1000, wTransferSize 4096, bcdDFUVersion 1.10
    const functional = [9, 0x21, 0x0f, 0xe8, 0x03, 0x00, 0x10, 0x10, 0x01];
    const body = [...le32(2), ...le32(2), ...intf, ...functional, ...intf, ...functional];
    // struct usb_functionfs_descs_head_v2: magic 3, length, flags HAS_FS_DESC | HAS_HS_DESC
    expect([...descriptors]).toEqual([...le32(3), ...le32(12 + body.length), ...le32(3), ...body]);
    // struct usb_functionfs_strings_head: magic 2, length, str_count 1, lang_count 1; then 0x0409 and the NUL-terminated name
    const text = [0x09, 0x04, ...ascii(DFU_INTERFACE_NAME), 0];
    expect([...strings]).toEqual([...le32(2), ...le32(16 + text.length), ...le32(1), ...le32(1), ...text]);
    expect(interfaceNames).toEqual([DFU_INTERFACE_NAME]);
  });

  it('winUsb: FUNCTIONFS_HAS_MS_OS_DESC, os_count 1, and one extended compat ID "WINUSB" for the DFU interface after the descriptors', () => {
    for (const [personality, dfu] of [['runtime', 1], ['dfu', 0]] as const) {
      const set = buildDescriptors({ personality, serial: 'TFN0000001' });
      const plain = functionFsBlobs(set).descriptors;
      const { descriptors } = functionFsBlobs(set, { winUsb: true });
      const count = personality === 'runtime' ? 3 : 2;
      const descs = [...plain.subarray(20)];
      // struct usb_os_desc_header: interface, dwLength 11 + 24, bcdVersion 0x0100, wIndex 4 (extended compat ID), bCount 1, Reserved 0
      const osHeader = [dfu, ...le32(35), 0x00, 0x01, 0x04, 0x00, 1, 0];
      // struct usb_ext_compat_desc: bFirstInterfaceNumber, Reserved1 = 1, CompatibleID "WINUSB\0\0", SubCompatibleID 8 × 0, Reserved2 6 × 0
      const extCompat = [dfu, 1, ...ascii('WINUSB'), 0, 0, ...new Array(8).fill(0), ...new Array(6).fill(0)];
      const body = [...le32(count), ...le32(count), ...le32(1), ...descs, ...osHeader, ...extCompat];
      // flags HAS_FS_DESC | HAS_HS_DESC | HAS_MS_OS_DESC (8)
      expect([...descriptors], personality).toEqual([...le32(3), ...le32(12 + body.length), ...le32(1 | 2 | 8), ...body]);
    }
  });

  it('run-time: two interfaces, names renumbered 1 and 2 in the function\'s own table', () => {
    const set = buildDescriptors({ personality: 'runtime', serial: 'TFN0000001', transferSize: 2048 });
    const { descriptors, strings, interfaceNames } = functionFsBlobs(set);
    const dv = new DataView(descriptors.buffer);
    expect(dv.getUint32(4, true)).toBe(descriptors.length);
    expect([dv.getUint32(12, true), dv.getUint32(16, true)]).toEqual([3, 3]);
    const one = [9, 4, 0, 0, 0, 0xff, 0, 0, 1, 9, 4, 1, 0, 0, 0xfe, 0x01, 0x01, 2, 9, 0x21, 0x0f, 0xe8, 0x03, 0x00, 0x08, 0x10, 0x01];
    expect([...descriptors.subarray(20)]).toEqual([...one, ...one]);
    expect(interfaceNames).toEqual([NIC_INTERFACE_NAME, DFU_INTERFACE_NAME]);
    const sv = new DataView(strings.buffer);
    expect([sv.getUint32(0, true), sv.getUint32(4, true), sv.getUint32(8, true), sv.getUint32(12, true)]).toEqual([2, strings.length, 2, 1]);
    expect(Buffer.from(strings.subarray(18)).toString('latin1')).toBe(`${NIC_INTERFACE_NAME}\0${DFU_INTERFACE_NAME}\0`);
    // the functional descriptor is the model's own, byte for byte
    expect([...descriptors.subarray(20 + 18, 20 + 27)]).toEqual([...set.dfuFunctional]);
  });

  it('refuses descriptor sets the kernel would misread, naming the fault', () => {
    const good = buildDescriptors({ personality: 'runtime', serial: 'X' });
    const withConfig = (c: number[]): DescriptorSet => ({ ...good, configuration: Uint8Array.from(c) });
    const cfg = [...good.configuration];
    expect(() => functionFsBlobs(withConfig([...cfg, 0]))).toThrow(/malformed/); // wTotalLength ≠ length
    const overrun = cfg.slice();
    overrun[overrun.length - 9] = 10; // the functional descriptor claims one byte more than there is
    expect(() => functionFsBlobs(withConfig(overrun))).toThrow(/offset 27 overruns/);
    const zero = cfg.slice();
    zero[9] = 0; // bLength 0 would loop forever
    expect(() => functionFsBlobs(withConfig(zero))).toThrow(/offset 9 overruns/);
    const missing = [...good.strings.keys()].find((k) => good.strings.get(k) === NIC_INTERFACE_NAME)!;
    const noName = new Map(good.strings);
    noName.delete(missing);
    expect(() => functionFsBlobs({ ...good, strings: noName })).toThrow(new RegExp(`interface 0 names string ${missing}`));
    const nul = new Map(good.strings);
    nul.set(missing, 'a\0b');
    expect(() => functionFsBlobs({ ...good, strings: nul })).toThrow(/contains NUL/);
  });
});

describe('FunctionFS events', () => {
  it('reads SETUP packets (little-endian fields) and plain events from 12-byte records', () => {
    const setup = [0xa1, 0x03, 0x34, 0x12, 0x01, 0x00, 0x06, 0x00, FFS_EVENT.SETUP, 0, 0, 0];
    const enable = [0, 0, 0, 0, 0, 0, 0, 0, FFS_EVENT.ENABLE, 0, 0, 0];
    const events = parseEvents(Uint8Array.from([...setup, ...enable]));
    expect(events).toEqual([
      { type: FFS_EVENT.SETUP, setup: { bmRequestType: 0xa1, bRequest: 3, wValue: 0x1234, wIndex: 1, wLength: 6 } },
      { type: FFS_EVENT.ENABLE },
    ]);
    expect(parseEvents(new Uint8Array(0))).toEqual([]);
    expect(() => parseEvents(new Uint8Array(FFS_EVENT_SIZE + 1))).toThrow(/12-byte records, got 13 bytes/);
  });
});

describe('configfs attributes', () => {
  it('mirror the device descriptor and configuration the model answers with', () => {
    const set = buildDescriptors({ personality: 'runtime', serial: 'TFN0000042' });
    expect(gadgetAttributes(set)).toEqual({
      device: { bcdUSB: '0x0210', bDeviceClass: '0x00', bDeviceSubClass: '0x00', bDeviceProtocol: '0x00', idVendor: '0x1209', idProduct: '0x7a01', bcdDevice: '0x0100' },
      strings: { manufacturer: 'TrustFlash Demo', product: 'Emulated ConnectX NIC', serialnumber: 'TFN0000042' },
      configName: 'c.1',
      config: { bmAttributes: '0xc0', MaxPower: '0' },
    });
    const c = set.configuration.slice();
    c[5] = 2;
    expect(() => gadgetAttributes({ ...set, configuration: c })).toThrow(/configuration value 2 is not 1/);
  });
});

describe('platform attributes (configfs webusb/ and os_desc/)', () => {
  it('WebUSB 1.00 with the landing page, MS OS 1.0 MSFT100, WINUSB; the same in both personalities; `use` written last', () => {
    for (const personality of ['runtime', 'dfu'] as const) {
      const p = platformAttributes(buildDescriptors({ personality, serial: 'TFN0000042', landingPage: 'https://example.org/nic' }));
      expect(p).toEqual({
        // the vendor codes are the ones the emulated device's BOS names (0x01 WebUSB) and MS OS 1.0's own (0x03)
        webusb: { bcdVersion: '0x0100', bVendorCode: '0x01', landingPage: 'https://example.org/nic', use: '1' },
        osDesc: { b_vendor_code: '0x03', qw_sign: 'MSFT100', use: '1' },
        compatibleId: 'WINUSB',
      });
      expect(Object.keys(p.webusb).pop()).toBe('use');
      expect(Object.keys(p.osDesc).pop()).toBe('use');
    }
    expect(platformAttributes(buildDescriptors({ personality: 'dfu', serial: 'X' })).webusb.landingPage).toBe('http://localhost:4173/');
  });
});
