/**
 * A plain DFU 1.1 download, as any DFU host does it: from run-time mode DETACH (and a bus reset
 * where the device asks for one) and find the device again in DFU mode; a `.dfu` file's suffix must
 * name this device and is not sent (dfu-util's habit, DFU 1.1 Appendix B); then DNLOAD blocks and
 * manifestation (DfuHost.download). The device verifies nothing here: the caller's checks on this
 * host are the only ones (UpdateSession says so before calling).
 */
import { UpdateError } from './errors.ts';
import { DfuHost } from './host.ts';
import { reconnect, type UsbBus } from './reconnect.ts';
import { parseDfuFile, suffixMatches } from './dfu-file.ts';

export interface PlainDownloadOptions {
  /** The bus to find the device on again after DETACH (navigator.usb, Node's WebUSB, the emulator's bus). */
  readonly usb?: UsbBus;
  /** Bytes per DNLOAD; default the device's wTransferSize. */
  readonly blockSize?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (done: number, total: number) => void;
  readonly onLog?: (line: string) => void;
}

export interface PlainDownloadResult {
  /** The device left the bus during manifestation (bitManifestationTolerant clear: usually fine). */
  readonly vanishedAfterManifest: boolean;
}

/** Sends `file` (a raw image or a `.dfu` file) to `host`'s device with a plain DFU download. */
export async function plainDfuDownload(host: DfuHost, file: Uint8Array, o: PlainDownloadOptions = {}): Promise<PlainDownloadResult> {
  const log = (line: string) => o.onLog?.(line);
  let dfu = host;
  if (host.mode === 'runtime') {
    // DETACH, then find the device again in DFU mode (bitWillDetach: it re-enumerates by itself)
    if (!o.usb) throw new UpdateError('NotSupported', 'the device is in run-time mode and no USB bus was given to find it again after DETACH');
    log('DETACH: the device re-enumerates in DFU mode');
    await host.detach();
    if (!host.functional.willDetach) {
      // without bitWillDetach the host must reset the bus (DFU 1.1 §5.1); where the platform
      // cannot (WinUSB), the device times out of appDETACH and the reconnect below fails clearly
      try {
        await host.device.reset();
      } catch {
        /* the device may already be gone: that is the re-enumeration */
      }
    }
    const again = await reconnect(o.usb, host.device);
    dfu = new DfuHost(again);
    await dfu.open();
  }
  let payload = file;
  const dfuFile = parseDfuFile(file);
  if (dfuFile.ok) {
    if (dfuFile.value.dfuse) throw new UpdateError('NotSupported', 'DfuSe files (ST) are not sent by this host yet: their targets need DfuSe address commands');
    const match = suffixMatches(dfuFile.value.suffix, { vendorId: dfu.device.vendorId, productId: dfu.device.productId });
    if (!match.ok) throw new UpdateError('InvalidFile', `the .dfu file is not for this device: ${match.reason}`);
    payload = dfuFile.value.payload;
    log(`.dfu suffix checked (VID ${dfuFile.value.suffix.idVendor.toString(16)}, PID ${dfuFile.value.suffix.idProduct.toString(16)}); sending ${payload.length} bytes without it`);
  }
  const r = await dfu.download(payload, {
    ...(o.blockSize ? { blockSize: o.blockSize } : {}),
    ...(o.onProgress ? { onProgress: (p: { done: number; total: number }) => o.onProgress!(p.done, p.total) } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  return { vanishedAfterManifest: r.vanishedAfterManifest };
}
