/**
 * A USB DFU 1.1 host over any WebUSB-shaped USBDevice (the browser's navigator.usb, Node's `usb`
 * WebUSB, the emulated NIC). The loop follows dfu-util and webdfu (reference/usb-dfu-and-webusb.md
 * §1.7, §1.8): normalise the state first, DNLOAD blocks of wTransferSize each followed by GETSTATUS
 * polled at the device's bwPollTimeout, a zero-length DNLOAD to end, manifestation with or without
 * bitManifestationTolerant. Every wait has a deadline; every failure is an UpdateError with context.
 */
import { DFU_CLASS, DFU_REQUEST, DFU_STATE, DFU_STATE_NAMES, DFU_STATUS, DFU_STATUS_NAMES, DFU_STATUS_TEXT, LANGID_EN_US, USB_REQUEST } from './spec.ts';
import { DESCRIPTOR, parseConfiguration, parseString, type ConfigurationInfo, type DfuFunctional, type DfuInterface } from './descriptors.ts';
import { Deadlines, UpdateError, checkTransfer, fromUsbError } from './errors.ts';

export interface DfuStatus {
  readonly status: number;
  readonly pollTimeoutMs: number;
  readonly state: number;
  readonly iString: number;
}

export interface HostOptions {
  /** Deadline for each control transfer and each wait (default 5000 ms, dfu-util's figure). */
  readonly deadlineMs?: number;
  /** Waits bwPollTimeout; injectable for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called for every control transfer (the log and the recorder hook in here). */
  readonly onTransfer?: (t: TransferLogEntry) => void;
}

export interface TransferLogEntry {
  readonly direction: 'in' | 'out';
  readonly setup: USBControlTransferParameters;
  readonly length: number;
  readonly status: USBTransferStatus | 'error';
  readonly data?: Uint8Array;
  readonly error?: string;
}

export interface Progress {
  readonly done: number;
  readonly total: number;
}

/**
 * Waits at least `ms` (DFU 1.1 §6.1.2: the host must not poll before bwPollTimeout has passed).
 * Timers can fire a little early against a monotonic clock (Node's run on the loop's cached
 * millisecond time), and a device that enforces the wait stalls an early GETSTATUS, so the elapsed
 * time is checked and the wait topped up.
 */
async function sleepAtLeast(ms: number): Promise<void> {
  if (ms <= 0) return;
  const start = performance.now();
  await new Promise<void>((r) => setTimeout(r, ms));
  while (performance.now() - start < ms) await new Promise<void>((r) => setTimeout(r, 1));
}
const sleepMs = sleepAtLeast;

export function describeStatus(s: DfuStatus): string {
  return `${DFU_STATUS_NAMES[s.status] ?? `status 0x${s.status.toString(16)}`} in ${DFU_STATE_NAMES[s.state] ?? `state ${s.state}`}`;
}

export class DfuHost {
  readonly device: USBDevice;
  readonly #deadline: number;
  readonly #deadlines = new Deadlines();
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #onTransfer: ((t: TransferLogEntry) => void) | undefined;
  #intf: DfuInterface | undefined;
  #config: ConfigurationInfo | undefined;

  constructor(device: USBDevice, opts: HostOptions = {}) {
    this.device = device;
    this.#deadline = opts.deadlineMs ?? 5000;
    this.#sleep = opts.sleep ?? sleepMs;
    this.#onTransfer = opts.onTransfer;
  }

  get interface(): DfuInterface {
    if (!this.#intf) throw new UpdateError('Internal', 'the DFU interface is not open (call open() first)');
    return this.#intf;
  }
  get functional(): DfuFunctional {
    const f = this.interface.functional;
    if (!f) throw new UpdateError('NotSupported', 'the DFU interface has no functional descriptor');
    return f;
  }
  get configuration(): ConfigurationInfo | undefined {
    return this.#config;
  }
  /** 'dfu' when the device shows its DFU-mode personality, 'runtime' otherwise. */
  get mode(): 'dfu' | 'runtime' {
    return this.interface.protocol === DFU_CLASS.protocolDfuMode ? 'dfu' : 'runtime';
  }

  // ---- raw transfers ---------------------------------------------------------------------------

  /**
   * Starts `transfer` once every transfer issued before it has settled. Callers may issue several
   * at once (the update session queues DATA blocks): WebUSB does not promise that concurrent
   * transfers reach the bus in the order they were issued, and usb@3 in Node indeed reorders them
   * (each runs on its own worker thread), while a DFU or DATA stream must arrive in order. Each
   * transfer's deadline starts when it starts, not while it waits its turn.
   */
  #pipe: Promise<unknown> = Promise.resolve();
  #inOrder<T>(transfer: () => Promise<T>): Promise<T> {
    const run = this.#pipe.then(transfer, transfer);
    this.#pipe = run.catch(() => undefined);
    return run;
  }

  /** A control transfer IN with the deadline, error translation and transfer log (vendor clients use it too). */
  async controlIn(setup: USBControlTransferParameters, length: number, doing: string): Promise<Uint8Array> {
    let r: USBInTransferResult;
    try {
      r = await this.#inOrder(() => this.#deadlines.run(this.#deadline, doing, () => this.device.controlTransferIn(setup, length)));
    } catch (e) {
      this.#onTransfer?.({ direction: 'in', setup, length, status: 'error', error: (e as Error).message });
      throw fromUsbError(e, doing);
    }
    const data = r.data ? new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength).slice() : new Uint8Array(0);
    this.#onTransfer?.({ direction: 'in', setup, length, status: r.status ?? 'ok', data });
    checkTransfer(r.status, doing);
    if (data.length > length) throw new UpdateError('InvalidData', `${doing}: the device sent ${data.length} bytes for a ${length}-byte request`);
    return data;
  }

  /** A control transfer OUT with the deadline, error translation and transfer log. */
  async controlOut(setup: USBControlTransferParameters, data: Uint8Array | undefined, doing: string): Promise<void> {
    let r: USBOutTransferResult;
    try {
      r = await this.#inOrder(() => this.#deadlines.run(this.#deadline, doing, () => this.device.controlTransferOut(setup, data as Uint8Array<ArrayBuffer> | undefined)));
    } catch (e) {
      this.#onTransfer?.({ direction: 'out', setup, length: data?.length ?? 0, status: 'error', error: (e as Error).message });
      throw fromUsbError(e, doing);
    }
    this.#onTransfer?.({ direction: 'out', setup, length: data?.length ?? 0, status: r.status ?? 'ok', ...(data ? { data: data.slice() } : {}) });
    checkTransfer(r.status, doing);
    if (data && r.bytesWritten !== data.length) throw new UpdateError('Write', `${doing}: the device took ${r.bytesWritten} of ${data.length} bytes`);
  }

  #cls(request: number, value = 0): USBControlTransferParameters {
    return { requestType: 'class', recipient: 'interface', request, value, index: this.interface.interfaceNumber };
  }

  // ---- discovery -------------------------------------------------------------------------------

  /** Reads and parses the active configuration descriptor straight from the device. */
  async readConfiguration(): Promise<ConfigurationInfo> {
    const get = (length: number) =>
      this.controlIn({ requestType: 'standard', recipient: 'device', request: USB_REQUEST.GET_DESCRIPTOR, value: (DESCRIPTOR.CONFIGURATION << 8) | 0, index: 0 }, length, 'reading the configuration descriptor');
    const head = await get(9);
    if (head.length < 4) throw new UpdateError('InvalidData', `reading the configuration descriptor: the device sent ${head.length} bytes`);
    const total = head[2]! | (head[3]! << 8);
    if (total < 9 || total > 4096) throw new UpdateError('InvalidData', `the configuration descriptor claims ${total} bytes (9..4096 expected)`);
    const parsed = parseConfiguration(await get(total));
    if (!parsed.ok) throw new UpdateError('InvalidData', `the configuration descriptor is malformed: ${parsed.error.field} at ${parsed.error.offset}: ${parsed.error.message}`);
    return parsed.value;
  }

  async readString(index: number): Promise<string | undefined> {
    if (index === 0) return undefined;
    try {
      const bytes = await this.controlIn({ requestType: 'standard', recipient: 'device', request: USB_REQUEST.GET_DESCRIPTOR, value: (DESCRIPTOR.STRING << 8) | index, index: LANGID_EN_US }, 255, `reading string ${index}`);
      const s = parseString(bytes);
      return s.ok ? s.value : undefined;
    } catch {
      return undefined;
    }
  }

  /** Opens the device and claims its DFU interface (the first, or the one asked for). */
  async open(pick: { interfaceNumber?: number; alternateSetting?: number } = {}): Promise<DfuInterface> {
    try {
      if (!this.device.opened) await this.#deadlines.run(this.#deadline, 'opening the device', () => this.device.open());
      if (!this.device.configuration) await this.#deadlines.run(this.#deadline, 'selecting configuration 1', () => this.device.selectConfiguration(1));
    } catch (e) {
      throw fromUsbError(e, 'opening the device');
    }
    this.#config = await this.readConfiguration();
    const candidates = this.#config.dfu.filter((d) => (pick.interfaceNumber === undefined || d.interfaceNumber === pick.interfaceNumber) && (pick.alternateSetting === undefined || d.alternateSetting === pick.alternateSetting));
    const chosen = candidates.find((d) => d.protocol === DFU_CLASS.protocolDfuMode) ?? candidates[0];
    if (!chosen) throw new UpdateError('NotSupported', 'the device has no DFU interface (class 0xFE, subclass 0x01)');
    if (!chosen.functional) throw new UpdateError('NotSupported', `DFU interface ${chosen.interfaceNumber} has no DFU functional descriptor`);
    try {
      await this.#deadlines.run(this.#deadline, 'claiming the DFU interface', () => this.device.claimInterface(chosen.interfaceNumber));
      if (chosen.alternateSetting !== 0 || this.#config.dfu.some((d) => d.interfaceNumber === chosen.interfaceNumber && d.alternateSetting !== 0)) {
        await this.#deadlines.run(this.#deadline, 'selecting the alternate setting', () => this.device.selectAlternateInterface(chosen.interfaceNumber, chosen.alternateSetting));
      }
    } catch (e) {
      throw fromUsbError(e, `claiming DFU interface ${chosen.interfaceNumber}`);
    }
    this.#intf = chosen;
    return chosen;
  }

  async close(): Promise<void> {
    try {
      if (this.#intf) await this.device.releaseInterface(this.#intf.interfaceNumber);
    } catch {
      /* the device may be gone already */
    }
    try {
      if (this.device.opened) await this.device.close();
    } catch {
      /* idem */
    }
  }

  // ---- DFU requests ----------------------------------------------------------------------------

  async getStatus(doing = 'reading DFU status'): Promise<DfuStatus> {
    const b = await this.controlIn(this.#cls(DFU_REQUEST.DFU_GETSTATUS), 6, doing);
    if (b.length !== 6) throw new UpdateError('InvalidData', `${doing}: GETSTATUS answered ${b.length} bytes, expected 6`);
    const state = b[4]!;
    if (state > 10) throw new UpdateError('InvalidData', `${doing}: the device reports state ${state}, which DFU 1.1 does not define`);
    // bwPollTimeout is 24 bits, little-endian (DFU 1.1 §6.1.2)
    return { status: b[0]!, pollTimeoutMs: b[1]! | (b[2]! << 8) | (b[3]! << 16), state, iString: b[5]! };
  }

  async getState(): Promise<number> {
    const b = await this.controlIn(this.#cls(DFU_REQUEST.DFU_GETSTATE), 1, 'reading DFU state');
    if (b.length !== 1 || b[0]! > 10) throw new UpdateError('InvalidData', 'GETSTATE answered an impossible state');
    return b[0]!;
  }

  clearStatus(): Promise<void> {
    return this.controlOut(this.#cls(DFU_REQUEST.DFU_CLRSTATUS), undefined, 'clearing the DFU error');
  }
  abort(): Promise<void> {
    return this.controlOut(this.#cls(DFU_REQUEST.DFU_ABORT), undefined, 'aborting the DFU transfer');
  }
  detach(timeoutMs = 1000): Promise<void> {
    return this.controlOut(this.#cls(DFU_REQUEST.DFU_DETACH, Math.min(timeoutMs, this.functional.detachTimeoutMs || timeoutMs)), undefined, 'sending DFU_DETACH');
  }

  /** The device's explanation for a status (iString), when it gives one. */
  async reason(s: DfuStatus): Promise<string> {
    const base = `device reported ${describeStatus(s)} (${DFU_STATUS_TEXT[s.status] ?? 'unknown status'})`;
    const text = s.iString ? await this.readString(s.iString) : undefined;
    return text ? `${base}: ${text}` : base;
  }

  /**
   * Brings the device to dfuIDLE (dfu-util, webdfu): dfuERROR → CLRSTATUS; a half-done transfer
   * (dfuDNLOAD-IDLE, dfuUPLOAD-IDLE) → ABORT. A device still in run-time mode is an error here:
   * detach it first.
   */
  async normalize(): Promise<DfuStatus> {
    let s = await this.getStatus('reading the initial DFU status');
    for (let i = 0; i < 4 && s.state !== DFU_STATE.dfuIDLE; i++) {
      if (s.state === DFU_STATE.appIDLE || s.state === DFU_STATE.appDETACH) throw new UpdateError('NotSupported', 'the device is in run-time mode: detach it into DFU mode first');
      if (s.state === DFU_STATE.dfuERROR) await this.clearStatus();
      else if (s.state === DFU_STATE.dfuDNLOAD_IDLE || s.state === DFU_STATE.dfuUPLOAD_IDLE) await this.abort();
      else if (s.state === DFU_STATE.dfuDNBUSY || s.state === DFU_STATE.dfuMANIFEST) await this.#sleep(Math.max(s.pollTimeoutMs, 1));
      s = await this.getStatus('reading DFU status');
    }
    if (s.state !== DFU_STATE.dfuIDLE) throw new UpdateError('Busy', `the device did not return to dfuIDLE (${describeStatus(s)})`);
    return s;
  }

  /** Polls GETSTATUS, honouring bwPollTimeout, until the state leaves the busy ones; a deadline bounds the whole wait. */
  async #settle(doing: string, first?: DfuStatus): Promise<DfuStatus> {
    const started = Date.now();
    let s = first ?? (await this.getStatus(doing));
    while (s.state === DFU_STATE.dfuDNBUSY || s.state === DFU_STATE.dfuDNLOAD_SYNC || s.state === DFU_STATE.dfuMANIFEST || s.state === DFU_STATE.dfuMANIFEST_SYNC) {
      if (s.status !== DFU_STATUS.OK) break;
      if (Date.now() - started > this.#deadline * 6) throw new UpdateError('TimedOut', `${doing}: the device stayed busy for ${Date.now() - started} ms`);
      // MANIFEST-SYNC after MANIFEST means done (tolerant device): the next GETSTATUS answers dfuIDLE
      await this.#sleep(s.pollTimeoutMs);
      s = await this.getStatus(doing);
    }
    return s;
  }

  /**
   * Downloads `data` in wTransferSize blocks (or `blockSize`), then ends the download and waits
   * through manifestation. Returns the final status; throws UpdateError with the block number, the
   * device's status and its reason on a rejection.
   */
  async download(data: Uint8Array, opts: { blockSize?: number; onProgress?: (p: Progress) => void; signal?: AbortSignal } = {}): Promise<{ final: DfuStatus | undefined; vanishedAfterManifest: boolean }> {
    const f = this.functional;
    if (!f.canDownload) throw new UpdateError('NotSupported', 'the device does not accept downloads (bitCanDnload is clear)');
    const size = Math.min(opts.blockSize ?? f.transferSize, f.transferSize);
    const blocks = Math.ceil(data.length / size);
    if (blocks > 0xffff + 1) throw new UpdateError('InvalidFile', `${data.length} bytes need ${blocks} blocks; wBlockNum is 16-bit (at most 65536 blocks of ${size} bytes)`);
    await this.normalize();
    for (let n = 0; n < blocks; n++) {
      opts.signal?.throwIfAborted();
      const doing = `cannot download block ${n} (of blocks 0..${blocks - 1})`;
      const chunk = data.subarray(n * size, Math.min(data.length, (n + 1) * size));
      await this.controlOut(this.#cls(DFU_REQUEST.DFU_DNLOAD, n & 0xffff), chunk, doing);
      const s = await this.#settle(doing);
      if (s.status !== DFU_STATUS.OK || s.state !== DFU_STATE.dfuDNLOAD_IDLE) {
        const reason = await this.reason(s);
        await this.#cleanUp();
        throw new UpdateError('Rejected', `${doing}: ${reason}`);
      }
      opts.onProgress?.({ done: n * size + chunk.length, total: data.length });
    }
    // zero-length DNLOAD: end of download (DFU 1.1 §6.1.1.1)
    await this.controlOut(this.#cls(DFU_REQUEST.DFU_DNLOAD, blocks & 0xffff), undefined, 'ending the download');
    let s: DfuStatus;
    if (!f.manifestationTolerant) {
      // DFU 1.1 §7: a device that is not manifestation-tolerant goes dfuMANIFEST → dfuMANIFEST-WAIT-RESET
      // and stops answering; with bitWillDetach it resets itself, otherwise the host resets the bus.
      try {
        s = await this.getStatus('starting manifestation');
        if (s.status !== DFU_STATUS.OK) {
          const reason = await this.reason(s);
          throw new UpdateError('Rejected', `manifestation failed: ${reason}`);
        }
        await this.#sleep(s.pollTimeoutMs);
        s = await this.getStatus('waiting for manifestation');
        if (s.status !== DFU_STATUS.OK) throw new UpdateError('Rejected', `manifestation failed: ${await this.reason(s)}`);
      } catch (e) {
        if (e instanceof UpdateError && (e.code === 'NotFound' || e.code === 'Stalled')) {
          if (!f.willDetach) await this.device.reset().catch(() => undefined);
          return { final: undefined, vanishedAfterManifest: true };
        }
        throw e;
      }
      if (!f.willDetach && s.state === DFU_STATE.dfuMANIFEST_WAIT_RESET) await this.device.reset().catch(() => undefined);
      return { final: s, vanishedAfterManifest: false };
    }
    try {
      s = await this.#settle('waiting for manifestation');
    } catch (e) {
      // a device that resets itself during manifestation without saying so is a probable success
      // (reference §1.8 item 5): report it, the caller verifies by reading the version back
      if (e instanceof UpdateError && e.code === 'NotFound') return { final: undefined, vanishedAfterManifest: true };
      throw e;
    }
    if (s.status !== DFU_STATUS.OK) {
      const reason = await this.reason(s);
      await this.#cleanUp();
      throw new UpdateError('Rejected', `manifestation failed: ${reason}`);
    }
    if (s.state !== DFU_STATE.dfuIDLE && s.state !== DFU_STATE.dfuMANIFEST_WAIT_RESET) throw new UpdateError('InvalidData', `after manifestation the device is in ${describeStatus(s)}`);
    return { final: s, vanishedAfterManifest: false };
  }

  /** Leaves the device in dfuIDLE after a rejection when it still answers. */
  async #cleanUp(): Promise<void> {
    try {
      const s = await this.getStatus('cleaning up');
      if (s.state === DFU_STATE.dfuERROR) await this.clearStatus();
      else if (s.state === DFU_STATE.dfuDNLOAD_IDLE) await this.abort();
    } catch {
      /* the device is gone or wedged: the error already thrown says what happened */
    }
  }

  /** Reads the device's image back with UPLOAD until a short block (DFU 1.1 §6.2). */
  async upload(opts: { maxBytes?: number; onProgress?: (p: Progress) => void } = {}): Promise<Uint8Array> {
    const f = this.functional;
    if (!f.canUpload) throw new UpdateError('NotSupported', 'the device does not allow uploads (bitCanUpload is clear)');
    const max = opts.maxBytes ?? 2 ** 31;
    await this.normalize();
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let n = 0; ; n++) {
      const want = Math.min(f.transferSize, max - total);
      if (want <= 0) {
        await this.abort();
        break;
      }
      const block = await this.controlIn(this.#cls(DFU_REQUEST.DFU_UPLOAD, n & 0xffff), want, `cannot upload block ${n + 1}`);
      parts.push(block);
      total += block.length;
      opts.onProgress?.({ done: total, total: max });
      if (block.length < want) break;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}
