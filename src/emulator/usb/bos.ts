/**
 * The platform descriptors a host reads before it binds a driver: the Binary Object Store (BOS,
 * USB 3.1 §9.6.2) with two Platform capabilities, and what each points to.
 *
 *   WebUSB (WICG WebUSB API §4): the landing page. Platform Capability (§4.1), the GET_URL vendor
 *     request (§4.2.1) and the URL descriptor it returns (§4.3.1). Chrome offers the page when the
 *     device is plugged in.
 *   Microsoft OS 2.0 (Microsoft OS 2.0 Descriptors Specification, July 2018): the platform
 *     capability (Tables 4 and 5) and the descriptor set read with the vendor request whose wIndex
 *     is MS_OS_20_DESCRIPTOR_INDEX (Table 8): compatible ID "WINUSB" and a DeviceInterfaceGUIDs
 *     registry property for the DFU interface, so Windows binds WinUSB to it without Zadig.
 *
 * Both are TrustFlash choices on top of the specs (the vendor codes, the GUID, the default page);
 * every byte is laid out here, every length is computed and bounded.
 */

/** USB 3.1 Table 9-6: descriptor types (BOS and DEVICE CAPABILITY). */
export const BOS_DESCRIPTOR_TYPE = { BOS: 0x0f, DEVICE_CAPABILITY: 0x10 } as const;
/** USB 3.1 Table 9-14: device capability type codes. */
export const DEVICE_CAPABILITY_TYPE = { PLATFORM: 0x05 } as const;
/** USB 3.1 §9.6.2: the BOS descriptor header is 5 bytes (bLength, bDescriptorType, wTotalLength, bNumDeviceCaps). */
export const BOS_HEADER_LENGTH = 5;
/** USB 3.1 §9.6.2.4: Platform descriptor = bLength, bDescriptorType, bDevCapabilityType, bReserved, PlatformCapabilityUUID (16). */
export const PLATFORM_HEADER_LENGTH = 20;
export const UUID_LENGTH = 16;

// ---- WebUSB ---------------------------------------------------------------------------------

/** WebUSB §4.1: PlatformCapabilityUUID {3408b638-09a9-47a0-8bfd-a0768815b665}. */
export const WEBUSB_PLATFORM_CAPABILITY_UUID = '3408b638-09a9-47a0-8bfd-a0768815b665';
/** WebUSB §4.1: bLength "Must be set to 24". */
export const WEBUSB_PLATFORM_DESCRIPTOR_LENGTH = 24;
/** WebUSB §4.1: bcdVersion "Must be set to 0x0100". */
export const WEBUSB_BCD_VERSION = 0x0100;
/** WebUSB §4.2 "WebUSB Request Codes": the request type, carried in wIndex. */
export const WEBUSB_REQUEST = { GET_URL: 2 } as const;
/** WebUSB §4.3 "WebUSB Descriptor Types". */
export const WEBUSB_DESCRIPTOR_TYPE = { WEBUSB_URL: 3 } as const;
/** WebUSB §4.3.1 "URL Prefixes": bScheme values. */
export const WEBUSB_URL_SCHEME = { HTTP: 0, HTTPS: 1, NONE: 255 } as const;
/** WebUSB §4.3.1: URL descriptor = bLength, bDescriptorType, bScheme, then the URL. */
export const WEBUSB_URL_HEADER_LENGTH = 3;
/** bLength is one byte: at most 255 − 3 = 252 bytes of UTF-8 URL after the scheme prefix. */
export const WEBUSB_URL_MAX_BYTES = 0xff - WEBUSB_URL_HEADER_LENGTH;
/** bVendorCode of the WebUSB requests (TrustFlash; outside the interface vendor requests 0x40..0x4B). */
export const WEBUSB_VENDOR_CODE = 0x01;
/** iLandingPage: the URL descriptor index of the landing page (1, as the Linux gadget's fixed index). */
export const WEBUSB_LANDING_PAGE_INDEX = 1;
/** The landing page when none is given: the app as `npm start` serves it (README). */
export const DEFAULT_LANDING_PAGE = 'http://localhost:4173/';

// ---- Microsoft OS 2.0 -----------------------------------------------------------------------

/** MS OS 2.0 Table 4: MS_OS_20_Platform_Capability_ID {D8DD60DF-4589-4CC7-9CD2-659D9E648A9F}. */
export const MS_OS_20_PLATFORM_CAPABILITY_UUID = 'd8dd60df-4589-4cc7-9cd2-659d9e648a9f';
/** MS OS 2.0 Tables 4 + 5: the 20-byte platform header and one 8-byte descriptor set information structure. */
export const MS_OS_20_PLATFORM_DESCRIPTOR_LENGTH = 28;
/** MS OS 2.0 Table 5 dwWindowsVersion: Windows 8.1 (NTDDI_WINBLUE), the first to read MS OS 2.0 descriptors. */
export const MS_OS_20_WINDOWS_VERSION_8_1 = 0x06030000;
/** MS OS 2.0 Table 5 bAltEnumCode: 0 = the device does not support alternate enumeration. */
export const MS_OS_20_NO_ALT_ENUM = 0;
/** MS OS 2.0 Table 8: wIndex values of the vendor request. */
export const MS_OS_20_INDEX = { MS_OS_20_DESCRIPTOR_INDEX: 0x07, MS_OS_20_SET_ALT_ENUMERATION: 0x08 } as const;
/** MS OS 2.0 Table 9: wDescriptorType values (the spec spells COMPATBLE so). */
export const MS_OS_20_DESCRIPTOR_TYPE = {
  MS_OS_20_SET_HEADER_DESCRIPTOR: 0x00,
  MS_OS_20_SUBSET_HEADER_CONFIGURATION: 0x01,
  MS_OS_20_SUBSET_HEADER_FUNCTION: 0x02,
  MS_OS_20_FEATURE_COMPATBLE_ID: 0x03,
  MS_OS_20_FEATURE_REG_PROPERTY: 0x04,
} as const;
/** MS OS 2.0 Table 10: descriptor set header, wLength 0x0A. */
export const MS_OS_20_SET_HEADER_LENGTH = 10;
/** MS OS 2.0 Table 11: configuration subset header, wLength 0x08. */
export const MS_OS_20_SUBSET_HEADER_CONFIGURATION_LENGTH = 8;
/** MS OS 2.0 Table 12: function subset header, wLength 0x08. */
export const MS_OS_20_SUBSET_HEADER_FUNCTION_LENGTH = 8;
/** MS OS 2.0 Table 13: compatible ID descriptor, wLength 0x14 (two 8-byte IDs). */
export const MS_OS_20_FEATURE_COMPATBLE_ID_LENGTH = 20;
export const MS_OS_20_ID_LENGTH = 8;
/** MS OS 2.0 Table 14: registry property header = wLength, wDescriptorType, wPropertyDataType, wPropertyNameLength (then name, wPropertyDataLength, data). */
export const MS_OS_20_REG_PROPERTY_FIXED_LENGTH = 10;
/** MS OS 2.0 Table 15: wPropertyDataType REG_MULTI_SZ (a list of NUL-terminated UTF-16LE strings ending in an empty one). */
export const MS_OS_20_PROPERTY_DATA_TYPE = { REG_MULTI_SZ: 7 } as const;
/** bMS_VendorCode (TrustFlash; differs from the WebUSB code and from the interface vendor requests). */
export const MS_OS_20_VENDOR_CODE = 0x02;
/** CompatibleID that makes Windows load WinUSB (MS OS 2.0 Table 13; the same ID as MS OS 1.0). */
export const WINUSB_COMPATIBLE_ID = 'WINUSB';
export const DEVICE_INTERFACE_GUIDS = 'DeviceInterfaceGUIDs';
/** The device interface GUID of the DFU interface under WinUSB (TrustFlash's own, fixed). */
export const TRUSTFLASH_DFU_INTERFACE_GUID = '{ee3a10ee-c4a0-4e14-ad23-2579386d3cf6}';
/**
 * MS OS 2.0 Table 11 bConfigurationValue: Windows reads it as the configuration's index, not its
 * bConfigurationValue (a known erratum; every working descriptor set uses 0 for the first one).
 */
export const MS_OS_20_FIRST_CONFIGURATION_INDEX = 0;

/** MS OS 1.0 (the Linux gadget's os_desc): string descriptor 0xEE "MSFT100" + bMS_VendorCode. */
export const MS_OS_10_SIGNATURE = 'MSFT100';
/** b_vendor_code of MS OS 1.0 on the gadget (TrustFlash). */
export const MS_OS_10_VENDOR_CODE = 0x03;

const U8_MAX = 0xff;
const U16_MAX = 0xffff;

function le16(out: number[], v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > U16_MAX) throw new RangeError(`a 16-bit field cannot hold ${v}`);
  out.push(v & 0xff, (v >> 8) & 0xff);
}
function le32(out: number[], v: number): void {
  out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
}

/**
 * A UUID in the byte order USB platform capabilities carry it: the first three fields little-endian,
 * the last two as written (the GUID layout both specs use; Linux's GUID_INIT is the same).
 */
export function uuidBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/[{}-]/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new RangeError(`"uuid" expected 32 hex digits, got ${JSON.stringify(uuid)}`);
  const b = Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
  return Uint8Array.of(b[3]!, b[2]!, b[1]!, b[0]!, b[5]!, b[4]!, b[7]!, b[6]!, ...b.subarray(8));
}

/** UTF-16LE, NUL-terminated (registry strings). */
function utf16z(text: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) le16(out, text.charCodeAt(i));
  out.push(0, 0);
  return out;
}

function fixedId(id: string): number[] {
  if (id.length > MS_OS_20_ID_LENGTH || !/^[\x20-\x7e]*$/.test(id)) throw new RangeError(`a compatible ID is at most ${MS_OS_20_ID_LENGTH} ASCII characters, got ${JSON.stringify(id)}`);
  const out = new Array<number>(MS_OS_20_ID_LENGTH).fill(0);
  for (let i = 0; i < id.length; i++) out[i] = id.charCodeAt(i);
  return out;
}

// ---- the landing page -------------------------------------------------------------------------

export interface LandingPage {
  /** As given. */
  readonly url: string;
  /** WebUSB §4.3.1 bScheme. */
  readonly scheme: number;
  /** The UTF-8 URL after the scheme prefix. */
  readonly rest: Uint8Array;
}

/**
 * Checks a landing page: an absolute http:// or https:// URL whose UTF-8 bytes after the prefix fit
 * a URL descriptor (≤ 252). Anything else is a RangeError that says why.
 */
export function checkLandingPage(url: unknown): LandingPage {
  if (typeof url !== 'string') throw new TypeError(`"landingPage" expected a string URL, got ${typeof url}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RangeError(`"landingPage" expected an absolute http:// or https:// URL, got ${JSON.stringify(url)}`);
  }
  const prefixes = [
    ['https://', WEBUSB_URL_SCHEME.HTTPS],
    ['http://', WEBUSB_URL_SCHEME.HTTP],
  ] as const;
  const match = prefixes.find(([p]) => url.slice(0, p.length).toLowerCase() === p);
  if (!match || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
    throw new RangeError(`"landingPage" expected an http:// or https:// URL (WebUSB §4.3.1 URL prefixes), got ${JSON.stringify(url)}`);
  }
  const rest = new TextEncoder().encode(url.slice(match[0].length));
  if (rest.length > WEBUSB_URL_MAX_BYTES) {
    throw new RangeError(
      `"landingPage" is too long: ${rest.length} bytes after "${match[0]}", and a WebUSB URL descriptor holds at most ${WEBUSB_URL_MAX_BYTES} (bLength is one byte, WebUSB §4.3.1)`,
    );
  }
  return { url, scheme: match[1], rest };
}

/** WebUSB §4.3.1: the URL descriptor (bLength, bDescriptorType WEBUSB_URL, bScheme, URL). */
export function urlDescriptor(page: LandingPage): Uint8Array {
  const length = WEBUSB_URL_HEADER_LENGTH + page.rest.length;
  if (length > U8_MAX) throw new RangeError(`a URL descriptor is at most ${U8_MAX} bytes, got ${length}`);
  const out = new Uint8Array(length);
  out.set([length, WEBUSB_DESCRIPTOR_TYPE.WEBUSB_URL, page.scheme]);
  out.set(page.rest, WEBUSB_URL_HEADER_LENGTH);
  return out;
}

// ---- MS OS 2.0 descriptor set ------------------------------------------------------------------

/** MS OS 2.0 Table 13: compatible ID "WINUSB", no sub-compatible ID. */
function compatibleId(): number[] {
  const out: number[] = [];
  le16(out, MS_OS_20_FEATURE_COMPATBLE_ID_LENGTH);
  le16(out, MS_OS_20_DESCRIPTOR_TYPE.MS_OS_20_FEATURE_COMPATBLE_ID);
  out.push(...fixedId(WINUSB_COMPATIBLE_ID), ...fixedId(''));
  return out;
}

/** MS OS 2.0 Table 14: DeviceInterfaceGUIDs = REG_MULTI_SZ { GUID, "" }. */
function interfaceGuidsProperty(): number[] {
  const name = utf16z(DEVICE_INTERFACE_GUIDS);
  const data = [...utf16z(TRUSTFLASH_DFU_INTERFACE_GUID), 0, 0]; // the list ends with an empty string
  const out: number[] = [];
  le16(out, MS_OS_20_REG_PROPERTY_FIXED_LENGTH + name.length + data.length);
  le16(out, MS_OS_20_DESCRIPTOR_TYPE.MS_OS_20_FEATURE_REG_PROPERTY);
  le16(out, MS_OS_20_PROPERTY_DATA_TYPE.REG_MULTI_SZ);
  le16(out, name.length);
  out.push(...name);
  le16(out, data.length);
  out.push(...data);
  return out;
}

/**
 * The MS OS 2.0 descriptor set (Table 10 header first). A composite device (run-time: the NIC
 * function and the DFU interface) puts the WinUSB features in a configuration subset (Table 11)
 * and a function subset for the DFU interface (Table 12); a device with one interface (DFU mode)
 * is not composite and carries them right after the header, as the spec requires.
 */
export function msOs20DescriptorSet(dfuInterface: number, composite: boolean): Uint8Array {
  const features = [...compatibleId(), ...interfaceGuidsProperty()];
  let body = features;
  if (composite) {
    const fn: number[] = [];
    le16(fn, MS_OS_20_SUBSET_HEADER_FUNCTION_LENGTH);
    le16(fn, MS_OS_20_DESCRIPTOR_TYPE.MS_OS_20_SUBSET_HEADER_FUNCTION);
    fn.push(dfuInterface, 0); // bFirstInterface, bReserved
    le16(fn, MS_OS_20_SUBSET_HEADER_FUNCTION_LENGTH + features.length); // wSubsetLength
    fn.push(...features);
    const conf: number[] = [];
    le16(conf, MS_OS_20_SUBSET_HEADER_CONFIGURATION_LENGTH);
    le16(conf, MS_OS_20_DESCRIPTOR_TYPE.MS_OS_20_SUBSET_HEADER_CONFIGURATION);
    conf.push(MS_OS_20_FIRST_CONFIGURATION_INDEX, 0); // bConfigurationValue (an index, see above), bReserved
    le16(conf, MS_OS_20_SUBSET_HEADER_CONFIGURATION_LENGTH + fn.length); // wTotalLength of this subset
    conf.push(...fn);
    body = conf;
  }
  const out: number[] = [];
  le16(out, MS_OS_20_SET_HEADER_LENGTH);
  le16(out, MS_OS_20_DESCRIPTOR_TYPE.MS_OS_20_SET_HEADER_DESCRIPTOR);
  le32(out, MS_OS_20_WINDOWS_VERSION_8_1);
  le16(out, MS_OS_20_SET_HEADER_LENGTH + body.length); // wTotalLength
  out.push(...body);
  return Uint8Array.from(out);
}

// ---- BOS ----------------------------------------------------------------------------------------

function platformHeader(length: number, uuid: string): number[] {
  const bReserved = 0;
  return [length, BOS_DESCRIPTOR_TYPE.DEVICE_CAPABILITY, DEVICE_CAPABILITY_TYPE.PLATFORM, bReserved, ...uuidBytes(uuid)];
}

/** WebUSB §4.1: the WebUSB Platform Capability descriptor (24 bytes). */
export function webUsbPlatformCapability(iLandingPage: number): Uint8Array {
  const out = platformHeader(WEBUSB_PLATFORM_DESCRIPTOR_LENGTH, WEBUSB_PLATFORM_CAPABILITY_UUID);
  le16(out, WEBUSB_BCD_VERSION);
  out.push(WEBUSB_VENDOR_CODE, iLandingPage);
  return Uint8Array.from(out);
}

/** MS OS 2.0 Tables 4 and 5: the platform capability with one descriptor set information structure (28 bytes). */
export function msOs20PlatformCapability(setLength: number): Uint8Array {
  const out = platformHeader(MS_OS_20_PLATFORM_DESCRIPTOR_LENGTH, MS_OS_20_PLATFORM_CAPABILITY_UUID);
  le32(out, MS_OS_20_WINDOWS_VERSION_8_1);
  le16(out, setLength); // wMSOSDescriptorSetTotalLength
  out.push(MS_OS_20_VENDOR_CODE, MS_OS_20_NO_ALT_ENUM);
  return Uint8Array.from(out);
}

/** USB 3.1 §9.6.2: the BOS descriptor: a 5-byte header and the capabilities after it. */
export function bosDescriptor(capabilities: readonly Uint8Array[]): Uint8Array {
  const total = capabilities.reduce((n, c) => n + c.length, BOS_HEADER_LENGTH);
  if (capabilities.length > U8_MAX) throw new RangeError(`bNumDeviceCaps is one byte, got ${capabilities.length} capabilities`);
  const out: number[] = [BOS_HEADER_LENGTH, BOS_DESCRIPTOR_TYPE.BOS];
  le16(out, total);
  out.push(capabilities.length);
  for (const c of capabilities) out.push(...c);
  return Uint8Array.from(out);
}
