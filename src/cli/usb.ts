/**
 * Real USB devices from Node through the `usb` package's WebUSB (napi-rs / nusb; no compiler, no
 * libusb). Where the machine has no USB subsystem (a container without /sys/bus/usb), getDevices
 * throws: that becomes one plain sentence, "no USB subsystem", not a stack trace.
 */
import { isDfuAlternate } from '../core/dfu/descriptors.ts';
import { DFU_CLASS } from '../core/dfu/spec.ts';
import { isNoUsbSubsystem, isStall, webUsbError } from './usb-errors.ts';
import type { Failed } from '../core/bytes/result.ts';

export type NodeUsb = { ok: true; usb: NodeUsbBus } | Failed;

/**
 * WebUSB puts no time limit on a control transfer; usb@3 gives up after 1 s by default, less than a
 * device may take to verify an image inside one request. The host's own deadlines (DfuHost) apply.
 */
export const CONTROL_TIMEOUT_MS = 120_000;

interface NativeDevice {
  readonly handle?: string;
  readonly bus?: string;
  readonly address?: number;
  nativeControlTransferIn(setup: USBControlTransferParameters, timeout: number, length: number): Promise<Uint8Array | null>;
  nativeControlTransferOut(setup: USBControlTransferParameters, timeout: number, data?: Uint8Array): Promise<number>;
}

/**
 * One USBDevice per appearance on the bus, as in a browser, over a usb@3 device. It fixes what
 * usb@3 does differently from WebUSB (reference/usb-gadget-lab): a STALL resolves with status
 * "stall" instead of rejecting, an OUT request without data is sent with an empty data stage, there
 * is no 1-second limit, and failures carry WebUSB's DOMException names.
 */
function webUsbDevice(native: USBDevice & NativeDevice): USBDevice {
  const controlTransferIn = async (setup: USBControlTransferParameters, length: number): Promise<USBInTransferResult> => {
    try {
      const r = await native.nativeControlTransferIn(setup, CONTROL_TIMEOUT_MS, length);
      return r ? { status: 'ok', data: new DataView(r.buffer, r.byteOffset, r.byteLength) } : { status: 'stall' };
    } catch (e) {
      if (isStall(e)) return { status: 'stall' };
      throw webUsbError(e);
    }
  };
  const controlTransferOut = async (setup: USBControlTransferParameters, data?: BufferSource): Promise<USBOutTransferResult> => {
    const bytes = data === undefined ? new Uint8Array(0) : data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    try {
      const n = await native.nativeControlTransferOut(setup, CONTROL_TIMEOUT_MS, bytes);
      return { status: 'ok', bytesWritten: n };
    } catch (e) {
      if (isStall(e)) return { status: 'stall', bytesWritten: 0 };
      throw webUsbError(e);
    }
  };
  return new Proxy(native, {
    get(target, prop) {
      if (prop === 'controlTransferIn') return controlTransferIn;
      if (prop === 'controlTransferOut') return controlTransferOut;
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        try {
          const r = (v as (...a: unknown[]) => unknown).apply(target, args);
          return r instanceof Promise ? r.catch((e: unknown) => Promise.reject(webUsbError(e))) : r;
        } catch (e) {
          throw webUsbError(e);
        }
      };
    },
  });
}

/**
 * navigator.usb over Node's `usb`: getDevices() returns the same USBDevice object for a device as
 * long as it stays on the bus and a new one after it re-enumerates (usb@3 makes new objects on
 * every call, which would make a device that has not left yet look as if it had come back).
 */
export class NodeUsbBus {
  readonly #usb: { getDevices(): Promise<USBDevice[]> };
  readonly #known = new Map<string, USBDevice>();
  constructor(usb: { getDevices(): Promise<USBDevice[]> }) {
    this.#usb = usb;
  }
  async getDevices(): Promise<USBDevice[]> {
    const natives = (await this.#usb.getDevices()) as (USBDevice & NativeDevice)[];
    const seen = new Set<string>();
    const out = natives.map((n) => {
      const key = `${n.handle ?? ''}|${n.bus ?? ''}|${n.address ?? ''}|${n.vendorId}:${n.productId}:${n.serialNumber ?? ''}`;
      seen.add(key);
      let d = this.#known.get(key);
      if (!d) this.#known.set(key, (d = webUsbDevice(n)));
      return d;
    });
    for (const k of [...this.#known.keys()]) if (!seen.has(k)) this.#known.delete(k);
    return out;
  }
}

export async function openNodeUsb(): Promise<NodeUsb> {
  let mod: typeof import('usb');
  try {
    mod = await import('usb');
  } catch (e) {
    return { ok: false, reason: `the usb package could not be loaded (${(e as Error).message})` };
  }
  const usb = new NodeUsbBus(new mod.WebUSB({ allowAllDevices: true }) as unknown as USB);
  try {
    await usb.getDevices();
  } catch (e) {
    const msg = (e as Error).message;
    return { ok: false, reason: isNoUsbSubsystem(e) ? `no USB subsystem on this machine (${msg})` : `USB is not available (${msg})` };
  }
  return { ok: true, usb };
}

export interface ListedDevice {
  readonly vendorId: number;
  readonly productId: number;
  readonly serialNumber: string | undefined;
  readonly productName: string | undefined;
  readonly manufacturerName: string | undefined;
  /** 'dfu' (DFU-mode interface), 'runtime' (run-time DFU interface). */
  readonly mode: 'dfu' | 'runtime';
  readonly interfaces: readonly { interfaceNumber: number; alternateSetting: number; name: string | undefined }[];
}

/** DFU-capable devices, from the interface descriptors WebUSB exposes. */
export function dfuDevices(devices: readonly USBDevice[]): ListedDevice[] {
  const out: ListedDevice[] = [];
  for (const d of devices) {
    const alts = (d.configurations ?? []).flatMap((c) =>
      c.interfaces.flatMap((i) =>
        i.alternates
          .filter(isDfuAlternate)
          .map((a) => ({ interfaceNumber: i.interfaceNumber, alternateSetting: a.alternateSetting, name: a.interfaceName ?? undefined, protocol: a.interfaceProtocol })),
      ),
    );
    if (alts.length === 0) continue;
    out.push({
      vendorId: d.vendorId,
      productId: d.productId,
      serialNumber: d.serialNumber ?? undefined,
      productName: d.productName ?? undefined,
      manufacturerName: d.manufacturerName ?? undefined,
      mode: alts.some((a) => a.protocol === DFU_CLASS.protocolDfuMode) ? 'dfu' : 'runtime',
      interfaces: alts.map(({ interfaceNumber, alternateSetting, name }) => ({ interfaceNumber, alternateSetting, name })),
    });
  }
  return out;
}

export function formatDevice(d: ListedDevice): string {
  const hex = (n: number) => n.toString(16).padStart(4, '0');
  return `${hex(d.vendorId)}:${hex(d.productId)}${d.serialNumber ? `:${d.serialNumber}` : ''}  ${d.manufacturerName ?? ''} ${d.productName ?? ''}  [${d.mode === 'dfu' ? 'DFU mode' : 'run-time'}]  ${d.interfaces.map((i) => `intf ${i.interfaceNumber} alt ${i.alternateSetting}${i.name ? ` "${i.name}"` : ''}`).join(', ')}`.replace(/\s+/g, ' ');
}
