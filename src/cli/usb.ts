/**
 * Real USB devices from Node through the `usb` package's WebUSB (napi-rs / nusb; no compiler, no
 * libusb). Where the machine has no USB subsystem (a container without /sys/bus/usb), getDevices
 * throws: that becomes one plain sentence, "no USB subsystem", not a stack trace.
 */
import { DFU_CLASS } from '../core/dfu/spec.ts';

export type NodeUsb = { ok: true; usb: USB } | { ok: false; reason: string };

export async function openNodeUsb(): Promise<NodeUsb> {
  let mod: typeof import('usb');
  try {
    mod = await import('usb');
  } catch (e) {
    return { ok: false, reason: `the usb package could not be loaded (${(e as Error).message})` };
  }
  const usb = new mod.WebUSB({ allowAllDevices: true }) as unknown as USB;
  try {
    await usb.getDevices();
  } catch (e) {
    const msg = (e as Error).message;
    return { ok: false, reason: /sys\/bus\/usb|not found|ENOENT|errno 2/i.test(msg) ? `no USB subsystem on this machine (${msg})` : `USB is not available (${msg})` };
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
          .filter((a) => a.interfaceClass === DFU_CLASS.bInterfaceClass && a.interfaceSubclass === DFU_CLASS.bInterfaceSubClass && (a.interfaceProtocol === 1 || a.interfaceProtocol === 2))
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
      mode: alts.some((a) => a.protocol === 2) ? 'dfu' : 'runtime',
      interfaces: alts.map(({ interfaceNumber, alternateSetting, name }) => ({ interfaceNumber, alternateSetting, name })),
    });
  }
  return out;
}

export function formatDevice(d: ListedDevice): string {
  const hex = (n: number) => n.toString(16).padStart(4, '0');
  return `${hex(d.vendorId)}:${hex(d.productId)}${d.serialNumber ? `:${d.serialNumber}` : ''}  ${d.manufacturerName ?? ''} ${d.productName ?? ''}  [${d.mode === 'dfu' ? 'DFU mode' : 'run-time'}]  ${d.interfaces.map((i) => `intf ${i.interfaceNumber} alt ${i.alternateSetting}${i.name ? ` "${i.name}"` : ''}`).join(', ')}`.replace(/\s+/g, ' ');
}
