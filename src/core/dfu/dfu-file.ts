/**
 * USB DFU firmware files: the DFU 1.1 suffix (Appendix B), fwupd's metadata extension, and ST's
 * DfuSe container (UM0391, bcdDFU 0x011A). A format only parses, writes and round-trips; it never
 * does I/O. The parser is total and bounded: any bytes give a file or a FormatError naming the field
 * and offset.
 *
 * Suffix (last 16 bytes, little-endian): bcdDevice u16, idProduct u16, idVendor u16, bcdDFU u16,
 * ucDfuSignature "UFD", bLength u8 (≥ 16), dwCRC u32 over every byte before it. A bLength above 16
 * carries fwupd's "MD" metadata just before the standard 16 bytes.
 */
import { ByteReader, FormatFailure, formatFail } from '../bytes/reader.ts';
import { dfuCrc } from '../bytes/crc32.ts';
import { formatFailed, type Failed, type FormatFailed, type Ok } from '../bytes/result.ts';

export const SUFFIX_LENGTH = 16;
export const BCD_DFU_1_0 = 0x0100;
export const BCD_DFUSE = 0x011a;
/** idVendor/idProduct/bcdDevice 0xFFFF in a suffix means "any" (DFU 1.1 Appendix B). */
export const ANY = 0xffff;

export interface DfuSuffix {
  readonly bcdDevice: number;
  readonly idProduct: number;
  readonly idVendor: number;
  readonly bcdDFU: number;
  readonly length: number;
  readonly crc: number;
}

export interface DfuSeElement {
  readonly address: number;
  readonly data: Uint8Array;
}
export interface DfuSeTarget {
  readonly alternateSetting: number;
  readonly name: string | undefined;
  readonly elements: readonly DfuSeElement[];
}

export interface DfuFile {
  readonly suffix: DfuSuffix;
  /** The firmware bytes for a plain DFU file (everything before the suffix and metadata). */
  readonly payload: Uint8Array;
  readonly metadata: ReadonlyMap<string, string>;
  /** Present for DfuSe files (bcdDFU 0x011A). */
  readonly dfuse?: { readonly targets: readonly DfuSeTarget[] };
}

export type DfuParse = Ok<DfuFile> | FormatFailed;

const LIMITS = { targets: 255, elementsPerTarget: 4096, metadataPairs: 64 } as const;
const latin1 = new TextDecoder('latin1');

function parseMetadata(r: ByteReader): Map<string, string> {
  const out = new Map<string, string>();
  if (r.remaining === 0) return out;
  const at = r.offset;
  if (r.remaining < 3 || r.u8('metadata.magic') !== 0x4d || r.u8('metadata.magic') !== 0x44) formatFail('metadata.magic', at, 'an extended suffix must start with "MD"');
  const n = r.u8('metadata.count');
  if (n > LIMITS.metadataPairs) formatFail('metadata.count', at + 2, `${n} pairs, at most ${LIMITS.metadataPairs}`);
  for (let i = 0; i < n; i++) {
    const k = r.utf8(`metadata[${i}].key`, r.u8(`metadata[${i}].keyLength`));
    const v = r.utf8(`metadata[${i}].value`, r.u8(`metadata[${i}].valueLength`));
    out.set(k, v);
  }
  if (r.remaining !== 0) {
    // fwupd pads the metadata area with 0xFF up to bLength
    const rest = r.bytes('metadata.padding', r.remaining);
    if (rest.some((b) => b !== 0xff)) formatFail('metadata.padding', r.offset - rest.length, 'bytes after the metadata pairs are not 0xFF padding');
  }
  return out;
}

function parseDfuSe(body: Uint8Array, fileLength: number): { targets: DfuSeTarget[] } {
  const r = new ByteReader(body);
  const magic = latin1.decode(r.bytes('dfuse.signature', 5));
  if (magic !== 'DfuSe') formatFail('dfuse.signature', 0, `is "${magic}", expected "DfuSe"`);
  let at = r.offset;
  const version = r.u8('dfuse.version');
  if (version !== 1) formatFail('dfuse.version', at, `is ${version}, expected 1`);
  at = r.offset;
  const imageSize = r.u32('dfuse.imageSize');
  if (imageSize !== fileLength - SUFFIX_LENGTH) formatFail('dfuse.imageSize', at, `is ${imageSize}, the file without its suffix is ${fileLength - SUFFIX_LENGTH}`);
  const nTargets = r.u8('dfuse.targets');
  const targets: DfuSeTarget[] = [];
  for (let t = 0; t < nTargets; t++) {
    const name = `dfuse.target[${t}]`;
    at = r.offset;
    const sig = latin1.decode(r.bytes(`${name}.signature`, 6));
    if (sig !== 'Target') formatFail(`${name}.signature`, at, `is "${sig}", expected "Target"`);
    const alternateSetting = r.u8(`${name}.alternateSetting`);
    const named = r.u32(`${name}.named`);
    const rawName = r.bytes(`${name}.name`, 255);
    const nul = rawName.indexOf(0);
    const targetSize = r.u32(`${name}.size`);
    at = r.offset;
    const nElements = r.u32(`${name}.elements`);
    if (nElements > LIMITS.elementsPerTarget) formatFail(`${name}.elements`, at, `${nElements} elements, at most ${LIMITS.elementsPerTarget}`);
    const body = r.sub(name, targetSize);
    const elements: DfuSeElement[] = [];
    for (let e = 0; e < nElements; e++) {
      const address = body.u32(`${name}.element[${e}].address`);
      const size = body.u32(`${name}.element[${e}].size`);
      elements.push({ address, data: body.bytes(`${name}.element[${e}].data`, size).slice() });
    }
    body.expectEnd(`${name} (dwTargetSize covers bytes no element uses)`);
    targets.push({ alternateSetting, name: named ? latin1.decode(rawName.subarray(0, nul < 0 ? 255 : nul)) : undefined, elements });
  }
  r.expectEnd('dfuse');
  return { targets };
}

export function parseDfuFile(bytes: Uint8Array): DfuParse {
  try {
    if (bytes.length < SUFFIX_LENGTH) formatFail('suffix', 0, `the file is ${bytes.length} bytes, shorter than the ${SUFFIX_LENGTH}-byte DFU suffix`);
    const s = new ByteReader(bytes.subarray(bytes.length - SUFFIX_LENGTH), bytes.length - SUFFIX_LENGTH);
    const bcdDevice = s.u16('suffix.bcdDevice');
    const idProduct = s.u16('suffix.idProduct');
    const idVendor = s.u16('suffix.idVendor');
    let at = s.offset;
    const bcdDFU = s.u16('suffix.bcdDFU');
    const sigAt = s.offset;
    const sig = s.bytes('suffix.signature', 3);
    if (sig[0] !== 0x55 || sig[1] !== 0x46 || sig[2] !== 0x44) formatFail('suffix.signature', sigAt, 'no "UFD" signature: this is not a .dfu file (a raw .bin has no suffix)');
    if (bcdDFU !== BCD_DFU_1_0 && bcdDFU !== BCD_DFUSE) formatFail('suffix.bcdDFU', at, `is 0x${bcdDFU.toString(16)}, expected 0x0100 (DFU) or 0x011a (DfuSe)`);
    at = s.offset;
    const length = s.u8('suffix.bLength');
    if (length < SUFFIX_LENGTH || length > bytes.length) formatFail('suffix.bLength', at, `is ${length}, must be ${SUFFIX_LENGTH}..${bytes.length}`);
    at = s.offset;
    const crc = s.u32('suffix.dwCRC');
    const computed = dfuCrc(bytes.subarray(0, bytes.length - 4));
    if (crc !== computed) formatFail('suffix.dwCRC', at, `is 0x${crc.toString(16).padStart(8, '0')}, the file's CRC is 0x${computed.toString(16).padStart(8, '0')} (corrupt or edited)`);
    const metaStart = bytes.length - length;
    const metadata = parseMetadata(new ByteReader(bytes.subarray(metaStart, bytes.length - SUFFIX_LENGTH), metaStart));
    const payload = bytes.subarray(0, metaStart);
    const suffix: DfuSuffix = { bcdDevice, idProduct, idVendor, bcdDFU, length, crc };
    if (bcdDFU === BCD_DFUSE) {
      if (length !== SUFFIX_LENGTH) formatFail('suffix.bLength', bytes.length - 5, 'a DfuSe file has no metadata extension');
      return { ok: true, value: { suffix, payload, metadata, dfuse: parseDfuSe(payload, bytes.length) } };
    }
    return { ok: true, value: { suffix, payload, metadata } };
  } catch (e) {
    if (e instanceof FormatFailure) return formatFailed(e.error);
    throw e;
  }
}

/** Does the suffix allow this device? 0xFFFF fields match anything. */
export function suffixMatches(s: DfuSuffix, device: { vendorId: number; productId: number; bcdDevice?: number }): { ok: true } | Failed {
  const hex = (n: number) => n.toString(16).padStart(4, '0');
  if (s.idVendor !== ANY && s.idVendor !== device.vendorId) return { ok: false, reason: `the file is for vendor id ${hex(s.idVendor)}, the device is ${hex(device.vendorId)}` };
  if (s.idProduct !== ANY && s.idProduct !== device.productId) return { ok: false, reason: `the file is for product id ${hex(s.idProduct)}, the device is ${hex(device.productId)}` };
  if (device.bcdDevice !== undefined && s.bcdDevice !== ANY && s.bcdDevice !== device.bcdDevice) return { ok: false, reason: `the file is for device release ${hex(s.bcdDevice)}, the device is ${hex(device.bcdDevice)}` };
  return { ok: true };
}

/** Appends a DFU 1.1 suffix (plain DFU) to a payload. */
export function writeDfuFile(payload: Uint8Array, ids: { idVendor?: number; idProduct?: number; bcdDevice?: number } = {}): Uint8Array {
  const out = new Uint8Array(payload.length + SUFFIX_LENGTH);
  out.set(payload);
  const dv = new DataView(out.buffer, payload.length);
  dv.setUint16(0, ids.bcdDevice ?? ANY, true);
  dv.setUint16(2, ids.idProduct ?? ANY, true);
  dv.setUint16(4, ids.idVendor ?? ANY, true);
  dv.setUint16(6, BCD_DFU_1_0, true);
  out.set([0x55, 0x46, 0x44], payload.length + 8);
  out[payload.length + 11] = SUFFIX_LENGTH;
  dv.setUint32(12, dfuCrc(out.subarray(0, out.length - 4)), true);
  return out;
}
