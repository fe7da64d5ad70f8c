/**
 * The page's device backends. The emulator runs in a module Worker (messages only). A real WebUSB
 * device must stay in the page (USBDevice objects cannot be posted to a Worker), so for it the same
 * DeviceService runs here, loaded on first use. `combinedBackend` routes each request to the side
 * that owns its device, so the state classes see one backend either way.
 */
import type { DeviceBackend } from './device-channel.ts';
import type { DeviceEvent, DeviceRequest } from '../../service/device-protocol.ts';
import { indexedDbHistoryStore } from '../../service/history-store.ts';

export function workerDeviceBackend(): DeviceBackend {
  const w = new Worker(new URL('../worker/device-worker.ts', import.meta.url), { type: 'module' });
  let handler: ((e: DeviceEvent) => void) | undefined;
  w.onmessage = (e: MessageEvent<DeviceEvent>) => handler?.(e.data);
  w.onerror = (e) => handler?.({ kind: 'done', id: -1, error: { code: 'Internal', message: `the device worker failed: ${e.message}` } });
  return {
    post: (req, transfer) => w.postMessage(req, transfer ?? []),
    onMessage: (h) => {
      handler = h;
    },
  };
}

/** The DeviceService in the page, for real USB devices; its code (the session, pkijs) loads on first use. */
export function pageUsbBackend(): DeviceBackend {
  let handler: ((e: DeviceEvent) => void) | undefined;
  let service: Promise<{ handle(req: DeviceRequest): Promise<void> }> | undefined;
  const load = () =>
    (service ??= import('../../service/device-service.ts').then(
      ({ DeviceService }) =>
        // history entries (not the audit chain: that is the emulator tab's) are kept for real devices too
        new DeviceService({ source: 'usb', post: (e) => handler?.(e), ...(typeof indexedDB !== 'undefined' ? { historyStore: indexedDbHistoryStore(indexedDB) } : {}), ...('locks' in navigator ? { locks: navigator.locks } : {}) }),
    ));
  return {
    post: (req) => {
      void load().then(
        (s) => s.handle(req),
        (e: Error) => handler?.({ kind: 'done', id: req.id, error: { code: 'Internal', message: `the USB host code could not be loaded: ${e.message}` } }),
      );
    },
    onMessage: (h) => {
      handler = h;
    },
  };
}

/** Routes requests: real-USB devices to `usb`, everything else to `emulator`; session controls follow the last start. */
export function combinedBackend(emulator: DeviceBackend, usb: DeviceBackend): DeviceBackend {
  const usbSerials = new Set<string>();
  let sessionSide: DeviceBackend = emulator;
  let handler: ((e: DeviceEvent) => void) | undefined;
  const receive = (e: DeviceEvent) => {
    if (e.kind === 'devices' && e.source === 'usb') {
      usbSerials.clear();
      for (const d of e.devices) usbSerials.add(d.serial);
    }
    handler?.(e);
  };
  emulator.onMessage(receive);
  usb.onMessage(receive);
  const sideFor = (req: DeviceRequest): DeviceBackend => {
    if (req.kind === 'adopt-usb') return usb;
    if (req.kind === 'step' || req.kind === 'run' || req.kind === 'cancel' || req.kind === 'export-audit') return sessionSide;
    if ('serial' in req && usbSerials.has(req.serial)) return usb;
    return emulator;
  };
  return {
    post: (req, transfer) => {
      const side = sideFor(req);
      if (req.kind === 'start') sessionSide = side;
      side.post(req, transfer);
    },
    onMessage: (h) => {
      handler = h;
    },
  };
}
