/**
 * USB descriptors from raw bytes (USB 2.0 §9.6), bounded: every bLength is checked against what
 * is left, a zero or short bLength stops the walk with an error instead of looping, and
 * wTotalLength must match. Finds DFU interfaces (class 0xFE / subclass 0x01; protocol 1 run-time,
 * 2 DFU mode) and the DFU functional descriptor that follows them (DFU 1.1 §4.1.3).
 */
import { ByteReader, FormatFailure, formatFail } from '../bytes/reader.ts';
import { DFU_ATTR, DFU_CLASS, DFU_FUNCTIONAL_DESCRIPTOR } from './spec.ts';
import { formatFailed, type FormatFailed, type Ok } from '../bytes/result.ts';

export const DESCRIPTOR = { DEVICE: 1, CONFIGURATION: 2, STRING: 3, INTERFACE: 4, ENDPOINT: 5 } as const;

export interface DfuFunctional {
  readonly attributes: number;
  readonly canDownload: boolean;
  readonly canUpload: boolean;
  readonly manifestationTolerant: boolean;
  readonly willDetach: boolean;
  readonly detachTimeoutMs: number;
  readonly transferSize: number;
  readonly dfuVersion: number;
}

export interface DfuInterface {
  readonly interfaceNumber: number;
  readonly alternateSetting: number;
  /** 1 = run-time, 2 = DFU mode. */
  readonly protocol: number;
  readonly iInterface: number;
  readonly functional: DfuFunctional | undefined;
}

export interface ConfigurationInfo {
  readonly configurationValue: number;
  readonly totalLength: number;
  readonly interfaces: readonly { interfaceNumber: number; alternateSetting: number; cls: number; subclass: number; protocol: number; iInterface: number }[];
  readonly dfu: readonly DfuInterface[];
}

export type DescriptorResult<T> = Ok<T> | FormatFailed;

function run<T>(fn: () => T): DescriptorResult<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (e instanceof FormatFailure) return formatFailed(e.error);
    throw e;
  }
}

export function parseFunctional(r: ByteReader, at: number, bLength: number): DfuFunctional {
  // DFU 1.0 descriptors are 7 bytes (no bcdDFUVersion); 1.1 are 9
  if (bLength !== 7 && bLength !== 9) formatFail('dfuFunctional.bLength', at, `is ${bLength}, expected 9 (DFU 1.1) or 7 (DFU 1.0)`);
  const attributes = r.u8('dfuFunctional.bmAttributes');
  const detachTimeoutMs = r.u16('dfuFunctional.wDetachTimeOut');
  const transferAt = r.offset;
  const transferSize = r.u16('dfuFunctional.wTransferSize');
  if (transferSize === 0) formatFail('dfuFunctional.wTransferSize', transferAt, 'is 0: the device accepts no data');
  const dfuVersion = bLength === 9 ? r.u16('dfuFunctional.bcdDFUVersion') : 0x0100;
  return {
    attributes,
    canDownload: (attributes & DFU_ATTR.bitCanDnload) !== 0,
    canUpload: (attributes & DFU_ATTR.bitCanUpload) !== 0,
    manifestationTolerant: (attributes & DFU_ATTR.bitManifestationTolerant) !== 0,
    willDetach: (attributes & DFU_ATTR.bitWillDetach) !== 0,
    detachTimeoutMs,
    transferSize,
    dfuVersion,
  };
}

/** Parses a full configuration descriptor set (GET_DESCRIPTOR(CONFIGURATION) with wLength = wTotalLength). */
export function parseConfiguration(bytes: Uint8Array): DescriptorResult<ConfigurationInfo> {
  return run(() => {
    const r = new ByteReader(bytes);
    const bLength = r.u8('configuration.bLength');
    if (bLength < 9) formatFail('configuration.bLength', 0, `is ${bLength}, expected 9`);
    const type = r.u8('configuration.bDescriptorType');
    if (type !== DESCRIPTOR.CONFIGURATION) formatFail('configuration.bDescriptorType', 1, `is ${type}, expected ${DESCRIPTOR.CONFIGURATION}`);
    const totalLength = r.u16('configuration.wTotalLength');
    if (totalLength !== bytes.length) formatFail('configuration.wTotalLength', 2, `says ${totalLength} bytes, the device sent ${bytes.length}`);
    r.u8('configuration.bNumInterfaces');
    const configurationValue = r.u8('configuration.bConfigurationValue');
    r.bytes('configuration.rest', bLength - 6);
    const interfaces: ConfigurationInfo['interfaces'][number][] = [];
    const dfu: DfuInterface[] = [];
    let current: { interfaceNumber: number; alternateSetting: number; cls: number; subclass: number; protocol: number; iInterface: number } | undefined;
    while (r.remaining > 0) {
      const at = r.offset;
      const len = r.u8('descriptor.bLength');
      if (len < 2) formatFail('descriptor.bLength', at, `is ${len}: a descriptor is at least 2 bytes (refusing to loop)`);
      const d = r.sub('descriptor', len - 1);
      const t = d.u8('descriptor.bDescriptorType');
      if (t === DESCRIPTOR.INTERFACE) {
        if (len < 9) formatFail('interface.bLength', at, `is ${len}, expected 9`);
        current = {
          interfaceNumber: d.u8('interface.bInterfaceNumber'),
          alternateSetting: d.u8('interface.bAlternateSetting'),
          cls: (d.u8('interface.bNumEndpoints'), d.u8('interface.bInterfaceClass')),
          subclass: d.u8('interface.bInterfaceSubClass'),
          protocol: d.u8('interface.bInterfaceProtocol'),
          iInterface: d.u8('interface.iInterface'),
        };
        interfaces.push(current);
        if (current.cls === DFU_CLASS.bInterfaceClass && current.subclass === DFU_CLASS.bInterfaceSubClass && (current.protocol === DFU_CLASS.protocolRuntime || current.protocol === DFU_CLASS.protocolDfuMode)) {
          dfu.push({ interfaceNumber: current.interfaceNumber, alternateSetting: current.alternateSetting, protocol: current.protocol, iInterface: current.iInterface, functional: undefined });
        }
      } else if (t === DFU_FUNCTIONAL_DESCRIPTOR && current && dfu.length && dfu[dfu.length - 1]!.interfaceNumber === current.interfaceNumber && dfu[dfu.length - 1]!.alternateSetting === current.alternateSetting) {
        const last = dfu[dfu.length - 1]!;
        dfu[dfu.length - 1] = { ...last, functional: parseFunctional(d, at, len) };
      }
    }
    return { configurationValue, totalLength, interfaces, dfu };
  });
}

/** A string descriptor's text (UTF-16LE), bounded by its bLength. */
export function parseString(bytes: Uint8Array): DescriptorResult<string> {
  return run(() => {
    const r = new ByteReader(bytes);
    const len = r.u8('string.bLength');
    if (len < 2 || len > bytes.length || len % 2 !== 0) formatFail('string.bLength', 0, `is ${len} for ${bytes.length} bytes`);
    if (r.u8('string.bDescriptorType') !== DESCRIPTOR.STRING) formatFail('string.bDescriptorType', 1, 'is not a string descriptor');
    // device text is untrusted: control characters (terminal escapes, bidi overrides) become U+FFFD
    return new TextDecoder('utf-16le').decode(bytes.subarray(2, len)).replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '\ufffd');
  });
}

/** Is this alternate setting (as WebUSB exposes it) a DFU interface, run-time or DFU mode? */
export function isDfuAlternate(a: Pick<USBAlternateInterface, 'interfaceClass' | 'interfaceSubclass' | 'interfaceProtocol'>): boolean {
  return a.interfaceClass === DFU_CLASS.bInterfaceClass && a.interfaceSubclass === DFU_CLASS.bInterfaceSubClass && (a.interfaceProtocol === DFU_CLASS.protocolRuntime || a.interfaceProtocol === DFU_CLASS.protocolDfuMode);
}

/** Does the device have a DFU interface in any configuration (from the descriptors WebUSB exposes, without opening it)? */
export function hasDfuInterface(device: Pick<USBDevice, 'configurations'>): boolean {
  return (device.configurations ?? []).some((c) => c.interfaces.some((i) => i.alternates.some(isDfuAlternate)));
}

