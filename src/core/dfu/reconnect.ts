/**
 * Finding a device again after it re-enumerates (DETACH, reset, a power cycle): same VID, PID and
 * serial, a new USBDevice object (reference/usb-dfu-and-webusb.md §3.3 — Chrome keeps the
 * permission because VID/PID/serial do not change). Works with navigator.usb, Node's `usb` WebUSB
 * and the emulator's bus: it listens for 'connect' and also polls getDevices().
 */
import { UpdateError } from './errors.ts';

export interface UsbBus {
  getDevices(): Promise<USBDevice[]>;
  addEventListener?(type: 'connect', listener: (e: Event) => void): void;
  removeEventListener?(type: 'connect', listener: (e: Event) => void): void;
}

export function sameDevice(a: Pick<USBDevice, 'vendorId' | 'productId' | 'serialNumber'>, b: Pick<USBDevice, 'vendorId' | 'productId' | 'serialNumber'>): boolean {
  return a.vendorId === b.vendorId && a.productId === b.productId && (a.serialNumber ?? '') === (b.serialNumber ?? '');
}

/** Waits until a device like `old` (but not `old` itself) is on the bus. */
export async function reconnect(bus: UsbBus, old: USBDevice, timeoutMs = 10_000, pollMs = 50): Promise<USBDevice> {
  return new Promise<USBDevice>((resolve, reject) => {
    let done = false;
    const finish = (d?: USBDevice, e?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(poll);
      bus.removeEventListener?.('connect', onConnect);
      if (d) resolve(d);
      else reject(e);
    };
    const onConnect = (e: Event) => {
      const d = (e as unknown as { device?: USBDevice }).device;
      if (d && d !== old && sameDevice(d, old)) finish(d);
    };
    bus.addEventListener?.('connect', onConnect);
    const check = () =>
      void bus.getDevices().then(
        (list) => {
          const d = list.find((x) => x !== old && sameDevice(x, old));
          if (d) finish(d);
        },
        () => {},
      );
    const poll = setInterval(check, pollMs);
    check();
    const timer = setTimeout(() => finish(undefined, new UpdateError('NotFound', `the device (serial ${old.serialNumber ?? '?'}) did not come back within ${timeoutMs} ms`)), timeoutMs);
  });
}
