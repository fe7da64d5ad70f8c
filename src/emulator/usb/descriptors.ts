/**
 * The emulated NIC's USB descriptors, as the bytes a host reads with GET_DESCRIPTOR (USB 2.0 §9.6,
 * DFU 1.1 §4.1.3 and §4.2.4). Two personalities share VID, PID and serial number, so a browser
 * keeps its permission across the detach (reference/usb-dfu-and-webusb.md §3.3):
 *
 *   run-time: interface 0 = the NIC function (vendor class 0xFF, no endpoints),
 *             interface 1 = DFU run-time (0xFE/0x01/0x01) + DFU functional descriptor
 *   DFU mode: interface 0 = DFU mode (0xFE/0x01/0x02), alt 0 "NIC firmware (secure update)"
 *             + DFU functional descriptor
 *
 * Both carry a BOS descriptor with the WebUSB landing page and the Microsoft OS 2.0 descriptors
 * (bos.ts).
 */
import {
  WEBUSB_LANDING_PAGE_INDEX,
  DEFAULT_LANDING_PAGE,
  bosDescriptor,
  checkLandingPage,
  msOs20DescriptorSet,
  msOs20PlatformCapability,
  urlDescriptor,
  webUsbPlatformCapability,
} from './bos.ts';

/** pid.codes test VID (https://pid.codes/1209/), one PID for both personalities. */
export const USB_VENDOR_ID = 0x1209;
export const USB_PRODUCT_ID = 0x7a01;
/** USB 2.1: the device has a BOS descriptor (WebUSB §4.1 and MS OS 2.0 platform capabilities, bos.ts). */
export const BCD_USB = 0x0210;
/** Release number of the USB function (device descriptor bcdDevice): 1.00. */
export const BCD_DEVICE = 0x0100;
export const MAX_PACKET_SIZE_0 = 64;
export const CONFIGURATION_VALUE = 1;

// USB 2.0 Table 9-5, DFU 1.1 §4.1.3
export const DESCRIPTOR_TYPE = {
  DEVICE: 0x01,
  CONFIGURATION: 0x02,
  STRING: 0x03,
  INTERFACE: 0x04,
  ENDPOINT: 0x05,
  DFU_FUNCTIONAL: 0x21,
  /** USB 3.1 Table 9-6 (a USB 2.1 device has one too). */
  BOS: 0x0f,
} as const;

// DFU 1.1 §4.1.3 Table 4.2 (bmAttributes)
export const DFU_ATTRIBUTE = {
  bitCanDnload: 0x01,
  bitCanUpload: 0x02,
  bitManifestationTolerant: 0x04,
  bitWillDetach: 0x08,
} as const;

export const DFU_INTERFACE_CLASS = 0xfe; // Application Specific
export const DFU_INTERFACE_SUBCLASS = 0x01; // Device Firmware Upgrade
export const DFU_PROTOCOL_RUNTIME = 0x01;
export const DFU_PROTOCOL_DFU_MODE = 0x02;
export const VENDOR_INTERFACE_CLASS = 0xff;
export const BCD_DFU_VERSION = 0x0110;
export const DEFAULT_TRANSFER_SIZE = 4096;
export const DEFAULT_DETACH_TIMEOUT_MS = 1000;

/** String descriptor indices. 0x20 holds the device's last error sentence (the DFU status iString). */
export const STRING_INDEX = {
  LANGID: 0,
  MANUFACTURER: 1,
  PRODUCT: 2,
  SERIAL_NUMBER: 3,
  NIC_INTERFACE: 4,
  DFU_INTERFACE: 5,
  LAST_ERROR: 0x20,
} as const;

export const LANGID_EN_US = 0x0409;
export const MANUFACTURER = 'TrustFlash Demo';
export const PRODUCT = 'Emulated ConnectX NIC';
export const NIC_INTERFACE_NAME = 'NIC function';
export const DFU_INTERFACE_NAME = 'NIC firmware (secure update)';

export type Personality = 'runtime' | 'dfu';

export interface DescriptorOptions {
  readonly personality: Personality;
  /** Identity serial number; the same in both personalities. */
  readonly serial: string;
  /** DFU wTransferSize, 1..65535 (default 4096). */
  readonly transferSize?: number;
  /** DFU bmAttributes (default bitCanDnload | bitCanUpload | bitManifestationTolerant | bitWillDetach). */
  readonly dfuAttributes?: number;
  readonly detachTimeoutMs?: number;
  /** The WebUSB landing page (http:// or https://, ≤ 252 bytes after the prefix); default DEFAULT_LANDING_PAGE. */
  readonly landingPage?: string;
}

export interface DescriptorSet {
  readonly personality: Personality;
  /** 18-byte device descriptor. */
  readonly device: Uint8Array;
  /** The full configuration descriptor set (wTotalLength bytes). */
  readonly configuration: Uint8Array;
  /** The 9-byte DFU functional descriptor (also inside `configuration`). */
  readonly dfuFunctional: Uint8Array;
  /** bInterfaceNumber of the DFU interface in this personality. */
  readonly dfuInterface: number;
  /** Interface numbers present in this personality. */
  readonly interfaces: readonly number[];
  /** The fixed strings by index (index 0 and LAST_ERROR are produced on request). */
  readonly strings: ReadonlyMap<number, string>;
  /** The BOS descriptor (GET_DESCRIPTOR type BOS): WebUSB and MS OS 2.0 platform capabilities. */
  readonly bos: Uint8Array;
  /** WebUSB URL descriptors by index (GET_URL); the landing page is at WEBUSB_LANDING_PAGE_INDEX. */
  readonly urls: ReadonlyMap<number, Uint8Array>;
  /** The landing page as given. */
  readonly landingPage: string;
  /** The MS OS 2.0 descriptor set (vendor request MS_OS_20_DESCRIPTOR_INDEX). */
  readonly msOs20: Uint8Array;
}

export const ALL_DFU_ATTRIBUTES =
  DFU_ATTRIBUTE.bitCanDnload | DFU_ATTRIBUTE.bitCanUpload | DFU_ATTRIBUTE.bitManifestationTolerant | DFU_ATTRIBUTE.bitWillDetach;

function u16(out: number[], v: number): void {
  out.push(v & 0xff, (v >> 8) & 0xff);
}

export function checkTransferSize(size: number): number {
  if (!Number.isInteger(size) || size < 1 || size > 0xffff) throw new RangeError(`"transferSize" expected an integer 1..65535, got ${size}`);
  return size;
}

/** DFU 1.1 §4.1.3 Table 4.2: the DFU functional descriptor. */
export function dfuFunctionalDescriptor(attributes: number, detachTimeoutMs: number, transferSize: number): Uint8Array {
  const d: number[] = [9, DESCRIPTOR_TYPE.DFU_FUNCTIONAL, attributes & 0x0f];
  u16(d, detachTimeoutMs);
  u16(d, transferSize);
  u16(d, BCD_DFU_VERSION);
  return Uint8Array.from(d);
}

/** USB 2.0 §9.6.5 Table 9-12: an interface descriptor without endpoints. */
function interfaceDescriptor(num: number, alt: number, cls: number, sub: number, proto: number, iInterface: number): number[] {
  return [9, DESCRIPTOR_TYPE.INTERFACE, num, alt, 0, cls, sub, proto, iInterface];
}

export function buildDescriptors(opts: DescriptorOptions): DescriptorSet {
  const transferSize = checkTransferSize(opts.transferSize ?? DEFAULT_TRANSFER_SIZE);
  const attributes = opts.dfuAttributes ?? ALL_DFU_ATTRIBUTES;
  const functional = dfuFunctionalDescriptor(attributes, opts.detachTimeoutMs ?? DEFAULT_DETACH_TIMEOUT_MS, transferSize);
  const page = checkLandingPage(opts.landingPage ?? DEFAULT_LANDING_PAGE);

  // USB 2.0 §9.6.1 Table 9-8; class 0 = defined per interface (DFU 1.1 §4.1.1 and §4.2.1 both say 0)
  const device: number[] = [18, DESCRIPTOR_TYPE.DEVICE];
  u16(device, BCD_USB);
  device.push(0x00, 0x00, 0x00, MAX_PACKET_SIZE_0);
  u16(device, USB_VENDOR_ID);
  u16(device, USB_PRODUCT_ID);
  u16(device, BCD_DEVICE);
  device.push(STRING_INDEX.MANUFACTURER, STRING_INDEX.PRODUCT, STRING_INDEX.SERIAL_NUMBER, 1);

  const body: number[] = [];
  let interfaces: number[];
  let dfuInterface: number;
  if (opts.personality === 'runtime') {
    body.push(...interfaceDescriptor(0, 0, VENDOR_INTERFACE_CLASS, 0x00, 0x00, STRING_INDEX.NIC_INTERFACE));
    body.push(...interfaceDescriptor(1, 0, DFU_INTERFACE_CLASS, DFU_INTERFACE_SUBCLASS, DFU_PROTOCOL_RUNTIME, STRING_INDEX.DFU_INTERFACE));
    body.push(...functional);
    interfaces = [0, 1];
    dfuInterface = 1;
  } else {
    body.push(...interfaceDescriptor(0, 0, DFU_INTERFACE_CLASS, DFU_INTERFACE_SUBCLASS, DFU_PROTOCOL_DFU_MODE, STRING_INDEX.DFU_INTERFACE));
    body.push(...functional);
    interfaces = [0];
    dfuInterface = 0;
  }
  // USB 2.0 §9.6.3 Table 9-10: self-powered (the NIC is powered by its PCIe slot), no remote wakeup
  const config: number[] = [9, DESCRIPTOR_TYPE.CONFIGURATION];
  u16(config, 9 + body.length);
  config.push(interfaces.length, CONFIGURATION_VALUE, 0, 0xc0, 0);
  config.push(...body);

  const strings = new Map<number, string>([
    [STRING_INDEX.MANUFACTURER, MANUFACTURER],
    [STRING_INDEX.PRODUCT, PRODUCT],
    [STRING_INDEX.SERIAL_NUMBER, opts.serial],
    [STRING_INDEX.DFU_INTERFACE, DFU_INTERFACE_NAME],
  ]);
  if (opts.personality === 'runtime') strings.set(STRING_INDEX.NIC_INTERFACE, NIC_INTERFACE_NAME);

  const msOs20 = msOs20DescriptorSet(dfuInterface, interfaces.length > 1);
  const bos = bosDescriptor([webUsbPlatformCapability(WEBUSB_LANDING_PAGE_INDEX), msOs20PlatformCapability(msOs20.length)]);

  return {
    personality: opts.personality,
    device: Uint8Array.from(device),
    configuration: Uint8Array.from(config),
    dfuFunctional: functional,
    dfuInterface,
    interfaces,
    strings,
    bos,
    urls: new Map([[WEBUSB_LANDING_PAGE_INDEX, urlDescriptor(page)]]),
    landingPage: page.url,
    msOs20,
  };
}

/** USB 2.0 §9.6.7 Table 9-15: string descriptor zero, the supported LANGIDs. */
export function langIdDescriptor(): Uint8Array {
  return Uint8Array.from([4, DESCRIPTOR_TYPE.STRING, LANGID_EN_US & 0xff, LANGID_EN_US >> 8]);
}

/** USB 2.0 §9.6.7 Table 9-16: UTF-16LE, at most 126 code units (bLength is one byte). */
export function stringDescriptor(text: string): Uint8Array {
  let units = Math.min(text.length, 126);
  // do not cut a surrogate pair in half
  if (units < text.length && units > 0 && (text.charCodeAt(units - 1) & 0xfc00) === 0xd800) units--;
  const out = new Uint8Array(2 + 2 * units);
  out[0] = out.length;
  out[1] = DESCRIPTOR_TYPE.STRING;
  for (let i = 0; i < units; i++) {
    const c = text.charCodeAt(i);
    out[2 + 2 * i] = c & 0xff;
    out[3 + 2 * i] = c >> 8;
  }
  return out;
}
