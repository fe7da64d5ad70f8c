/**
 * The Linux gadget side of the emulated NIC, as bytes: what the bridge writes to FunctionFS and
 * configfs so the kernel presents the same descriptors the emulated device answers with
 * (src/emulator/usb/descriptors.ts), and how it reads FunctionFS events. Pure: no I/O here.
 *
 *   configfs   device descriptor fields, the three device strings, the configuration's attributes
 *   FunctionFS v2 descriptors: the interfaces and DFU functional descriptors after the 9-byte
 *              configuration header, once for full speed and once for high speed (no endpoints)
 *   FunctionFS strings: the interface names, renumbered 1..n (the kernel assigns the real indices)
 *
 * Layouts: include/uapi/linux/usb/functionfs.h (struct usb_functionfs_descs_head_v2,
 * usb_functionfs_strings_head, usb_functionfs_event) and Documentation/usb/functionfs.rst.
 */
import { CONFIGURATION_VALUE, DESCRIPTOR_TYPE, LANGID_EN_US, type DescriptorSet } from '../emulator/usb/descriptors.ts';
import { MS_OS_10_SIGNATURE, MS_OS_10_VENDOR_CODE, WEBUSB_BCD_VERSION, WEBUSB_VENDOR_CODE, WINUSB_COMPATIBLE_ID } from '../emulator/usb/bos.ts';

function compatId(id: string): number[] {
  if (id.length > EXT_COMPAT_ID_LENGTH || !/^[\x20-\x7e]*$/.test(id)) throw new RangeError(`a compatible ID is at most ${EXT_COMPAT_ID_LENGTH} ASCII characters, got ${JSON.stringify(id)}`);
  return Array.from({ length: EXT_COMPAT_ID_LENGTH }, (_, i) => (i < id.length ? id.charCodeAt(i) : 0));
}

/** One extended compat ID OS descriptor: `compatibleId` for interface `intf`. */
function extCompatOsDescriptor(intf: number, compatibleId: string): number[] {
  const out: number[] = [intf];
  le32(out, FFS_OS_DESC_HEADER_LENGTH + FFS_EXT_COMPAT_LENGTH); // dwLength
  out.push(FFS_OS_DESC_BCD_VERSION & 0xff, FFS_OS_DESC_BCD_VERSION >> 8, FFS_OS_DESC_EXT_COMPAT_INDEX, 0, 1, 0); // bcdVersion, wIndex, bCount 1, Reserved
  out.push(intf, FFS_EXT_COMPAT_RESERVED1, ...compatId(compatibleId), ...compatId(''), ...new Array<number>(EXT_COMPAT_RESERVED2_LENGTH).fill(0));
  return out;
}
import type { SetupPacket } from '../emulator/usb/nic-usb-function.ts';
import { nameTable } from '../core/bytes/names.ts';

export const FUNCTIONFS_DESCRIPTORS_MAGIC_V2 = 3;
export const FUNCTIONFS_STRINGS_MAGIC = 2;
export const FFS_FLAG = { HAS_FS_DESC: 1, HAS_HS_DESC: 2, HAS_SS_DESC: 4, HAS_MS_OS_DESC: 8 } as const;

/**
 * MS OS 1.0 descriptors in the FunctionFS blob (FUNCTIONFS_HAS_MS_OS_DESC): struct
 * usb_os_desc_header (interface u8, dwLength le32, bcdVersion le16, wIndex le16, bCount u8,
 * Reserved u8) and, for wIndex 4 (extended compat ID), bCount struct usb_ext_compat_desc
 * (bFirstInterfaceNumber, Reserved1 = 1, CompatibleID[8], SubCompatibleID[8], Reserved2[6]).
 * The kernel answers the extended compat ID request from them when configfs os_desc/ is in use.
 */
export const FFS_OS_DESC_HEADER_LENGTH = 11;
export const FFS_OS_DESC_BCD_VERSION = 0x0100;
export const FFS_OS_DESC_EXT_COMPAT_INDEX = 4;
export const FFS_EXT_COMPAT_LENGTH = 24;
/** usb_ext_compat_desc Reserved1: "must be set to 1" (Extended Compat ID OS Feature Descriptor Specification). */
export const FFS_EXT_COMPAT_RESERVED1 = 1;
const EXT_COMPAT_ID_LENGTH = 8;
const EXT_COMPAT_RESERVED2_LENGTH = 6;

/** enum usb_functionfs_event_type */
export const FFS_EVENT = { BIND: 0, UNBIND: 1, ENABLE: 2, DISABLE: 3, SETUP: 4, SUSPEND: 5, RESUME: 6 } as const;
export const FFS_EVENT_NAMES = nameTable(FFS_EVENT);

/** sizeof(struct usb_functionfs_event): the 8-byte SETUP packet, the type, 3 bytes of padding. */
export const FFS_EVENT_SIZE = 12;

/** One event; `setup` is there for SETUP events only. */
export interface FfsEvent {
  readonly type: number;
  readonly setup?: SetupPacket;
}

const u16 = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8);

function le32(out: number[], v: number): void {
  out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
}

/** Events as read from ep0: whole 12-byte records only (the kernel never returns a partial one). */
export function parseEvents(buf: Uint8Array): FfsEvent[] {
  if (buf.length % FFS_EVENT_SIZE !== 0) throw new RangeError(`FunctionFS events come in ${FFS_EVENT_SIZE}-byte records, got ${buf.length} bytes`);
  const out: FfsEvent[] = [];
  for (let at = 0; at < buf.length; at += FFS_EVENT_SIZE) {
    const type = buf[at + 8]!;
    if (type === FFS_EVENT.SETUP) {
      out.push({ type, setup: { bmRequestType: buf[at]!, bRequest: buf[at + 1]!, wValue: u16(buf, at + 2), wIndex: u16(buf, at + 4), wLength: u16(buf, at + 6) } });
    } else out.push({ type });
  }
  return out;
}

/** The descriptors after the configuration header, each [bLength, bDescriptorType, …]. */
function functionDescriptors(set: DescriptorSet): Uint8Array[] {
  const b = set.configuration;
  const total = u16(b, 2);
  if (b[1] !== DESCRIPTOR_TYPE.CONFIGURATION || total !== b.length) throw new RangeError('the configuration descriptor set is malformed');
  const out: Uint8Array[] = [];
  for (let at = b[0]!; at < total; ) {
    const len = b[at]!;
    if (len < 2 || at + len > total) throw new RangeError(`descriptor at offset ${at} overruns the configuration`);
    out.push(b.slice(at, at + len));
    at += len;
  }
  return out;
}

export interface FunctionFsBlobs {
  /** Written first to ep0: FunctionFS v2 descriptors. */
  readonly descriptors: Uint8Array;
  /** Written second to ep0: the string table (en-US). */
  readonly strings: Uint8Array;
  /** The interface names, in FunctionFS string order (index 1 first). */
  readonly interfaceNames: readonly string[];
}

/**
 * The FunctionFS blobs for one personality. Interface string indices are renumbered into the
 * function's own table; the DFU functional descriptor goes through unchanged (Linux ≥ 6.2 accepts
 * it after a DFU interface: commit c26cee817f8b).
 */
export interface FunctionFsOptions {
  /** Add the MS OS 1.0 compatible ID "WINUSB" of the DFU interface (FUNCTIONFS_HAS_MS_OS_DESC). */
  readonly winUsb?: boolean;
}

export function functionFsBlobs(set: DescriptorSet, opts: FunctionFsOptions = {}): FunctionFsBlobs {
  const names: string[] = [];
  const descs = functionDescriptors(set).map((d) => {
    if (d[1] !== DESCRIPTOR_TYPE.INTERFACE || d.length < 9 || d[8] === 0) return d;
    const name = set.strings.get(d[8]!);
    if (name === undefined) throw new RangeError(`interface ${d[2]} names string ${d[8]}, which the device does not have`);
    let idx = names.indexOf(name);
    if (idx < 0) idx = names.push(name) - 1;
    const copy = d.slice();
    copy[8] = idx + 1;
    return copy;
  });
  const body: number[] = [];
  const count = descs.length;
  le32(body, count); // fs_count
  le32(body, count); // hs_count
  if (opts.winUsb) le32(body, 1); // os_count
  for (let speed = 0; speed < 2; speed++) for (const d of descs) body.push(...d);
  if (opts.winUsb) body.push(...extCompatOsDescriptor(set.dfuInterface, WINUSB_COMPATIBLE_ID));
  const head: number[] = [];
  le32(head, FUNCTIONFS_DESCRIPTORS_MAGIC_V2);
  le32(head, 12 + body.length);
  le32(head, FFS_FLAG.HAS_FS_DESC | FFS_FLAG.HAS_HS_DESC | (opts.winUsb ? FFS_FLAG.HAS_MS_OS_DESC : 0));

  const enc = new TextEncoder();
  const text: number[] = [LANGID_EN_US & 0xff, LANGID_EN_US >> 8];
  for (const n of names) {
    const b = enc.encode(n);
    if (b.includes(0)) throw new RangeError(`interface name ${JSON.stringify(n)} contains NUL`);
    text.push(...b, 0);
  }
  const str: number[] = [];
  le32(str, FUNCTIONFS_STRINGS_MAGIC);
  le32(str, 16 + text.length);
  le32(str, names.length); // str_count
  le32(str, 1); // lang_count
  str.push(...text);
  return { descriptors: Uint8Array.from([...head, ...body]), strings: Uint8Array.from(str), interfaceNames: names };
}

const hex4 = (v: number): string => `0x${v.toString(16).padStart(4, '0')}`;
const hex2 = (v: number): string => `0x${v.toString(16).padStart(2, '0')}`;

export interface GadgetAttributes {
  /** Files directly in the gadget's configfs directory. */
  readonly device: Readonly<Record<string, string>>;
  /** Files in strings/0x409. */
  readonly strings: Readonly<Record<string, string>>;
  /** The configuration's directory name (c.<bConfigurationValue>) and its files. */
  readonly configName: string;
  readonly config: Readonly<Record<string, string>>;
}

/** configfs values for the device descriptor and the configuration of one personality. */
export function gadgetAttributes(set: DescriptorSet): GadgetAttributes {
  const d = set.device;
  const c = set.configuration;
  const str = (i: number): string => (i === 0 ? '' : (set.strings.get(i) ?? ''));
  if (c[5] !== CONFIGURATION_VALUE) throw new RangeError(`configuration value ${c[5]} is not ${CONFIGURATION_VALUE}`);
  return {
    device: {
      bcdUSB: hex4(u16(d, 2)),
      bDeviceClass: hex2(d[4]!),
      bDeviceSubClass: hex2(d[5]!),
      bDeviceProtocol: hex2(d[6]!),
      idVendor: hex4(u16(d, 8)),
      idProduct: hex4(u16(d, 10)),
      bcdDevice: hex4(u16(d, 12)),
    },
    strings: { manufacturer: str(d[14]!), product: str(d[15]!), serialnumber: str(d[16]!) },
    configName: `c.${c[5]}`,
    // bMaxPower is in 2 mA units; configfs takes mA
    config: { bmAttributes: hex2(c[7]!), MaxPower: String(c[8]! * 2) },
  };
}

/**
 * What configfs can say of the platform descriptors (Documentation/ABI/testing/configfs-usb-gadget):
 * the kernel then builds the BOS and answers the requests itself.
 *
 *   webusb/   (Linux 6.3+) use, bcdVersion, bVendorCode, landingPage: the WebUSB Platform
 *             Capability in the BOS and GET_URL (the kernel's iLandingPage is always 1)
 *   os_desc/  use, b_vendor_code, qw_sign: MS OS 1.0 (string 0xEE "MSFT100" + the vendor code) for
 *             the configuration linked into os_desc/; a function's own os_desc/interface.<name>/
 *             compatible_id gives its interface the compatible ID "WINUSB"
 *
 * Linux gadgets have no MS OS 2.0 descriptors: configfs cannot add that platform capability.
 */
export interface PlatformAttributes {
  /** Files in webusb/ (`use` last, so the others are in place when it turns on). */
  readonly webusb: Readonly<Record<string, string>>;
  /** Files in os_desc/ (`use` last). */
  readonly osDesc: Readonly<Record<string, string>>;
  /** compatible_id of the DFU interface in the function's os_desc/interface.<name>/ directory. */
  readonly compatibleId: string;
}

export function platformAttributes(set: DescriptorSet): PlatformAttributes {
  return {
    webusb: { bcdVersion: hex4(WEBUSB_BCD_VERSION), bVendorCode: hex2(WEBUSB_VENDOR_CODE), landingPage: set.landingPage, use: '1' },
    osDesc: { b_vendor_code: hex2(MS_OS_10_VENDOR_CODE), qw_sign: MS_OS_10_SIGNATURE, use: '1' },
    compatibleId: WINUSB_COMPATIBLE_ID,
  };
}
