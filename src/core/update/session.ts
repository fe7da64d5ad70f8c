/**
 * One secure update of one device, step by step (reference/mstflint-secure-update.md §1.7, the
 * sequence mstflint drives): query → pre-flight (src/core/verify with the device's identity) → lock
 * the update handle → update component → download → verify → activate → release. Verification
 * happens before the lock, on the one immutable buffer that is then sent. On any failure after the
 * lock the session sends CANCEL then RELEASE, so the device is left as it was. Progress is weighted
 * in bytes, declared up front, and never goes back. A gate (gate.ts: Step / Run / Cancel) is asked
 * before each step. Everything the session does is one typed event stream (SessionEvent: steps,
 * progress, device status, log lines, waiting) that the page and the CLI render, and is written to
 * the audit log.
 *
 * A generic DFU device (no vendor requests) gets a plain DFU download after the host's checks, and
 * the session says plainly that the device does not verify signatures itself.
 */
import { UpdateError } from '../dfu/errors.ts';
import { plainDfuDownload } from '../dfu/plain-download.ts';
import { downloadImage } from './download.ts';
import { loadImage, readAll, type LoadedImage } from './image-stream.ts';
import type { Report } from '../verify/report.ts';
import { verifyImage } from '../verify/verify-image.ts';
import { verifyDetached, DEVICE_DOES_NOT_VERIFY } from '../verify/verify-detached.ts';
import { NicClient } from './nic-client.ts';
import { identityFromQuery } from './device-identity.ts';
import { deviceRejected, isDeviceFault, MCC_INSTRUCTION, MCC_STATE, REG_STATUS, mccError, mccStateName, regStatus } from './mcc-codes.ts';
import { DATA_BLOCK_MAX, DATA_HEADER_SIZE, type DeviceStatus } from './protocol.ts';
import { type DeviceQuery } from './query.ts';
import { NO_RECEIPT_SUPPORT, receiptAuditRecord, requestReceipt, type ReceiptOutcome } from './session-receipt.ts';
import { STEP_TABLE, STEP_TITLES, STEPS, WEIGHTS, type Outcome, type SessionEvent, type SessionOptions, type SessionResult, type StepId, type StepState, type StepStatus } from './session-model.ts';

export * from './session-model.ts';

export { DATA_IN_FLIGHT } from './download.ts';

const cancelled = () => new UpdateError('Cancelled', 'cancelled');

const sleepMs = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class UpdateSession {
  readonly #o: SessionOptions;
  readonly #steps: StepState[];
  #fraction = 0;
  #cancelled = false;
  /** The MCC instruction last sent, until the STATUS that answers it is reported (device-status). */
  #instruction: number | undefined;
  /** The step being entered: a Cancel at its gate ends that step, not the one before it. */
  #entering: StepId | undefined;
  readonly #clock: () => number;
  /** When each step started running (clock time). */
  readonly #started: (number | undefined)[] = [];
  /** The image as the pre-flight reads it and the download sends it (loadImage). */
  #image: LoadedImage | undefined;
  /** Image bytes this run put on the wire, and the offset it started from. */
  #sent = { bytesSent: 0, resumedAt: 0 };

  constructor(opts: SessionOptions) {
    // one copy, taken before the first await (STYLE.md): the session verifies and sends this buffer,
    // and nothing the caller does to its own array afterwards can change what is sent
    // (a file is read as the session goes: its head once, each v2 hash block checked again as it is sent)
    const f = opts.firmware;
    this.#o = { ...opts, firmware: f.kind === 'file' ? f : f.kind === 'image' ? { kind: 'image', bytes: f.bytes.slice() } : { ...f, bytes: f.bytes.slice(), signature: f.signature.slice() } };
    this.#clock = opts.clock ?? (() => performance.now());
    this.#steps = STEPS.map((id) => ({ id, title: STEP_TITLES[id], status: 'pending' }));
  }

  get steps(): readonly StepState[] {
    return this.#steps.slice();
  }

  /** Asks the session to stop at the next opportunity (then CANCEL + RELEASE). */
  cancel(): void {
    this.#cancelled = true;
  }

  #emit(e: SessionEvent): void {
    this.#o.onEvent?.(e);
  }

  /** Cancel was asked for: by cancel(), the gate or the signal. */
  get #stopping(): boolean {
    return this.#cancelled || !!this.#o.gate?.cancelled || !!this.#o.signal?.aborted;
  }

  #log(text: string): void {
    this.#emit({ kind: 'log', text });
    void this.#o.audit?.add('note', { text });
  }

  #set(id: StepId, status: StepStatus, detail?: string): void {
    const i = STEPS.indexOf(id);
    const now = this.#clock();
    if (status === 'running') this.#started[i] = now;
    const began = this.#started[i];
    const ms = status !== 'running' && began !== undefined ? Math.round(now - began) : undefined;
    this.#steps[i] = { id, title: STEP_TITLES[id], status, ...(detail !== undefined ? { detail } : {}), ...(ms !== undefined ? { ms } : {}) };
    this.#emit({ kind: 'steps', steps: this.steps });
    if (status !== 'running') void this.#o.audit?.add('step', { step: id, status, ...(detail ? { detail } : {}) });
  }

  /** Moves the bar to `within` (0..1) of `id`'s weight; never backwards. */
  #progress(id: StepId, within: number, dl?: { sent: number; total: number; started: number }): void {
    const total = STEPS.reduce((n, s) => n + WEIGHTS[s], 0);
    const before = STEPS.slice(0, STEPS.indexOf(id)).reduce((n, s) => n + WEIGHTS[s], 0);
    this.#fraction = Math.max(this.#fraction, Math.min(1, (before + WEIGHTS[id] * Math.min(1, within)) / total));
    const elapsed = dl ? (this.#clock() - dl.started) / 1000 : 0;
    const rate = dl && elapsed > 0 ? dl.sent / elapsed : 0;
    this.#emit({
      kind: 'progress',
      progress: {
        fraction: this.#fraction,
        bytesSent: dl?.sent ?? 0,
        bytesTotal: dl?.total ?? this.#image?.size ?? 0,
        rate,
        etaMs: dl && rate > 0 ? ((dl.total - dl.sent) / rate) * 1000 : undefined,
      },
    });
  }

  async #enter(id: StepId): Promise<void> {
    this.#entering = id;
    if (this.#stopping) throw cancelled();
    if (this.#o.gate && (await this.#o.gate.pass(id, (next) => this.#emit({ kind: 'waiting', next }))) === 'cancel') throw cancelled();
    if (this.#stopping) throw cancelled();
    this.#set(id, 'running');
  }

  #finish(outcome: Outcome, message: string, extra: Partial<SessionResult> = {}): SessionResult {
    for (const s of this.#steps) if (s.status === 'pending') this.#set(s.id, 'skipped');
    void this.#o.audit?.add('result', { outcome, message, ...(extra.deviceError ? { deviceError: extra.deviceError.code } : {}), ...(extra.after ? { after: { running: extra.after.fwVersionRunning, pending: extra.after.fwVersionPending } } : {}) });
    if (outcome === 'updated') this.#progress('release', 1);
    return { outcome, message, deviceVerifies: true, ...extra, download: { ...this.#sent }, steps: this.steps };
  }

  async run(): Promise<SessionResult> {
    const { host, firmware } = this.#o;
    let image: LoadedImage;
    try {
      image = this.#image = await loadImage(firmware);
    } catch (e) {
      return this.#failure('query', e, undefined);
    }
    void this.#o.audit?.add('session', { tool: 'trustflash', firmware: firmware.kind === 'detached' ? 'detached' : 'image', bytes: image.size, ...image.names });
    let nic = new NicClient(host);
    let before: DeviceQuery | undefined;
    // 1. Query: who is this device? (A generic DFU device has no QUERY.)
    try {
      await this.#enter('query');
      // only a stalled QUERY makes a generic DFU device; an answer that does not decode throws and
      // stops the session here (it must never skip the PSID, security-version and forbidden checks)
      before = firmware.kind !== 'detached' ? await nic.probe() : undefined;
      const secure = before !== undefined;
      if (before) {
        void this.#o.audit?.add('device', before);
        this.#set('query', 'done', `${before.psid ?? '?'} running ${before.fwVersionRunning ?? '?'}${before.fwVersionPending ? `, pending ${before.fwVersionPending}` : ''}`);
      } else {
        this.#set('query', 'done', firmware.kind !== 'detached' ? 'the device has no secure-update protocol: a generic DFU device' : 'a generic DFU device (detached signature)');
      }
      this.#progress('query', 1);
      if (!secure) return await this.#generic();
    } catch (e) {
      return this.#failure('query', e, undefined, before);
    }

    // 2. Pre-flight on this host, against the device's identity, on the bytes that will be sent.
    let report: Report;
    try {
      await this.#enter('preflight');
      const device = identityFromQuery(before!);
      report = await verifyImage(image.verify, {
        trust: this.#o.trust,
        device,
        ...(this.#o.blockHasher ? { blockHasher: this.#o.blockHasher } : {}),
        ...(this.#o.now ? { now: this.#o.now } : {}),
        ...(this.#o.production ? { production: true } : {}),
        ...(this.#o.catalog ? { catalog: this.#o.catalog } : {}),
        onProgress: (p) => this.#progress('preflight', p.total ? p.done / p.total : 1),
      });
      // an override (--now) is a record of its own, not only words inside a check's reason
      for (const o of report.overrides) void this.#o.audit?.add('override', o);
      for (const c of report.checks) void this.#o.audit?.add('check', c);
      if (report.verdict !== 'accept') {
        this.#set('preflight', 'failed', `${report.failed?.title}: ${report.failed?.reason}`);
        return this.#finish('rejected-by-host', `Rejected before anything was sent: ${report.failed?.title}: ${report.failed?.reason}`, { report, before });
      }
      // a block size the device cannot take is refused here, before LOCK, not by a stalled transfer
      const tooBig = this.#blockSizeProblem(Math.min(before!.maxBlockSize ?? DATA_BLOCK_MAX, DATA_BLOCK_MAX, host.functional.transferSize - DATA_HEADER_SIZE), `wTransferSize ${host.functional.transferSize} minus the ${DATA_HEADER_SIZE}-byte DATA header${before!.maxBlockSize !== undefined ? `, and the device's largest data block ${before!.maxBlockSize}` : ''}`);
      if (tooBig) {
        this.#set('preflight', 'failed', tooBig);
        return this.#finish('failed', `${tooBig}; nothing was sent to the device`, { report, before });
      }
      this.#set('preflight', 'done', `all checks passed (${report.checks.filter((c) => c.status === 'pass').length} passed, ${report.checks.filter((c) => c.status === 'skipped').length} skipped)`);
      this.#progress('preflight', 1);
    } catch (e) {
      return this.#failure('preflight', e, undefined, before);
    }

    // 3–8. The device's state machine.
    let handle = 0;
    let locked = false;
    try {
      await this.#enter('lock');
      let s = await this.#control(nic, MCC_INSTRUCTION.QUERY, 0, 0, 'asking for an update handle');
      const offered = s.handle;
      s = await this.#control(nic, MCC_INSTRUCTION.LOCK_UPDATE_HANDLE, offered, 0, 'locking the update handle');
      this.#device(s);
      if (s.result !== 0 || s.state !== MCC_STATE.LOCKED) {
        const why = s.result === REG_STATUS.RES_NOT_AVLBL ? 'another host holds the update handle (wait for it to finish, or for its handle to time out after 60 s without a command from it)' : `${regStatus(s.result).sentence} (state ${mccStateName(s.state)})`;
        throw new UpdateError('Busy', `the device refused the lock: ${why}`);
      }
      handle = offered;
      locked = true;
      this.#set('lock', 'done', `handle 0x${handle.toString(16).padStart(6, '0')}`);
      this.#progress('lock', 1);

      await this.#enter('update-component');
      // the device kept part of this very release (QUERY tag 26, protocol §5.6): it checks what it
      // has against the signed table again and the download goes on after it; anything else, or a
      // refused RESUME, starts over
      let from = -1;
      const kept = before!.resumable;
      if (kept && kept.releaseDigest === report.releaseDigest && kept.size === image.size) {
        s = await this.#control(nic, MCC_INSTRUCTION.RESUME_COMPONENT, handle, image.size, 'resuming the download (RESUME_COMPONENT)');
        s = await this.#waitWhile(nic, s, MCC_STATE.INITIALIZE, 'update-component');
        this.#device(s);
        if (s.error === 0 && s.result === 0 && s.state === MCC_STATE.DOWNLOAD) from = s.received;
        else this.#log(`the device could not resume its kept download (${s.error ? mccError(s.error).mstflint : mccStateName(s.state)}): the download starts over`);
      }
      if (from < 0) {
        from = 0;
        s = await this.#control(nic, MCC_INSTRUCTION.UPDATE_COMPONENT, handle, image.size, 'starting the component update');
        s = await this.#waitWhile(nic, s, MCC_STATE.INITIALIZE, 'update-component');
        this.#check(s, MCC_STATE.DOWNLOAD);
        this.#set('update-component', 'done', 'the inactive bank is erased');
      } else {
        this.#log(`the device kept ${from} of ${image.size} bytes of this release and checked them again: the download resumes at byte ${from}`);
        this.#set('update-component', 'done', `resumed: the device kept ${from} of ${image.size} bytes of this release (checked again against the signed table)`);
      }
      this.#progress('update-component', 1);

      await this.#enter('download');
      nic = await this.#download(nic, handle, from);
      this.#set('download', 'done', `${image.size} bytes`);

      await this.#enter('verify');
      await this.#mcc(nic, 'verify', handle, 'asking the device to verify');
      this.#set('verify', 'done', 'the device verified the signature, its policy and the payload digest');
      this.#progress('verify', 1);

      await this.#enter('activate');
      await this.#mcc(nic, 'activate', handle, 'activating the image');
      this.#set('activate', 'done', 'the new image runs after the next reset; the old one stays as fallback');
      this.#progress('activate', 1);

      await this.#enter('release');
      s = await this.#control(nic, MCC_INSTRUCTION.RELEASE_UPDATE_HANDLE, handle, 0, 'releasing the update handle');
      this.#device(s);
      locked = false;
      this.#set('release', 'done');
      const after = await nic.query();
      void this.#o.audit?.add('device', after);
      const receipt = await this.#receipt(nic, after.serial, report.releaseDigest);
      return this.#finish('updated', `Updated: ${after.fwVersionPending ?? report.manifest?.version} is pending and runs after the next reset (running now: ${after.fwVersionRunning}).`, { report, before, after, receipt });
    } catch (e) {
      return this.#failure(this.#steps.find((x) => x.status === 'running')?.id ?? this.#entering ?? 'lock', e, locked ? { nic, handle } : undefined, before, report);
    }
  }

  /** A step that is one MCC instruction (STEP_TABLE): sends it and requires the state the table names. */
  async #mcc(nic: NicClient, id: 'verify' | 'activate', handle: number, doing: string): Promise<DeviceStatus> {
    const row = STEP_TABLE.find((x): x is Extract<(typeof STEP_TABLE)[number], { id: typeof id }> => x.id === id)!;
    const s = await this.#control(nic, row.instruction, handle, 0, doing);
    this.#check(s, row.expect);
    return s;
  }

  /** CONTROL (then STATUS), remembering the instruction for the device-status event of its answer. */
  async #control(nic: NicClient, instruction: number, handle: number, size: number, doing: string): Promise<DeviceStatus> {
    this.#instruction = instruction;
    return nic.control(instruction, handle, size, doing);
  }

  #device(s: DeviceStatus): void {
    const instruction = this.#instruction;
    this.#instruction = undefined;
    this.#emit({ kind: 'device-status', status: s, ...(instruction !== undefined ? { instruction } : {}) });
    void this.#o.audit?.add('answer', s);
  }

  /** A device answer must show `state` with no error; otherwise the device rejected the image. */
  #check(s: DeviceStatus, state: number): void {
    this.#device(s);
    if (s.error !== 0) throw deviceRejected(s.error);
    if (s.result !== 0) throw new UpdateError('Rejected', `the device refused the command: ${regStatus(s.result).sentence}`);
    if (s.state !== state) throw new UpdateError('InvalidData', `the device is in ${mccStateName(s.state)}, expected ${mccStateName(state)}`);
  }

  async #waitWhile(nic: NicClient, s: DeviceStatus, busy: number, step: StepId): Promise<DeviceStatus> {
    const started = this.#clock();
    const sleep = this.#o.sleep ?? sleepMs;
    while (s.state === busy && s.error === 0) {
      if (this.#clock() - started > 240_000) throw new UpdateError('TimedOut', `the device stayed in ${mccStateName(busy)} for 4 minutes`);
      this.#device(s);
      await sleep(this.#o.pollMs ?? 20);
      s = await nic.status();
      this.#progress(step, Math.min(0.9, (this.#clock() - started) / 5000));
    }
    return s;
  }

  /** Sends the image from `from` (download.ts); returns the client of the device as it is now. */
  #download(nic: NicClient, handle: number, from: number): Promise<NicClient> {
    this.#sent = { bytesSent: 0, resumedAt: from };
    const started = this.#clock();
    return downloadImage({
      nic,
      handle,
      image: this.#image!,
      from,
      // a DATA request (8-byte header + block) is one control write: it must fit in wTransferSize (a
      // Linux gadget's libcomposite stalls anything longer than 4096 before the device sees it)
      size: Math.min(this.#o.blockSize ?? Math.max(1, this.#o.host.functional.transferSize - DATA_HEADER_SIZE), DATA_BLOCK_MAX),
      ...(this.#o.usb ? { usb: this.#o.usb } : {}),
      stopping: () => this.#stopping,
      device: (st) => this.#device(st),
      log: (t) => this.#log(t),
      taken: (n) => void (this.#sent.bytesSent += n),
      progress: (sent, total) => this.#progress('download', sent / total, { sent, total, started }),
    });
  }

  /** Why the requested block size cannot be sent to this device (at most `max` bytes of image per transfer), or undefined. */
  #blockSizeProblem(max: number, why: string): string | undefined {
    const size = this.#o.blockSize;
    if (size === undefined || size <= max) return undefined;
    return `a block size of ${size} bytes is more than this device takes: at most ${max} bytes of image per transfer (${why})`;
  }

  async #generic(): Promise<SessionResult> {
    const { firmware, host } = this.#o;
    for (const id of ['lock', 'update-component', 'verify', 'activate', 'release'] as const) this.#set(id, 'skipped', 'not part of a plain DFU download');
    await this.#enter('preflight');
    // a plain DFU download sends one buffer: a file is read whole here (generic devices take small images)
    const bytes = firmware.kind === 'file' ? await readAll(firmware.file) : firmware.bytes;
    const report =
      firmware.kind === 'detached'
        ? await verifyDetached(bytes, firmware.signature, { trust: this.#o.trust, certificates: firmware.certificates, ...(this.#o.now ? { now: this.#o.now } : {}), ...(this.#o.production ? { production: true } : {}) })
        : await verifyImage(bytes, { trust: this.#o.trust, ...(this.#o.now ? { now: this.#o.now } : {}), ...(this.#o.production ? { production: true } : {}), ...(this.#o.catalog ? { catalog: this.#o.catalog } : {}) });
    for (const o of report.overrides) void this.#o.audit?.add('override', o);
    for (const c of report.checks) void this.#o.audit?.add('check', c);
    if (report.verdict !== 'accept') {
      this.#set('preflight', 'failed', `${report.failed?.title}: ${report.failed?.reason}`);
      return { ...this.#finish('rejected-by-host', `Rejected before anything was sent: ${report.failed?.title}: ${report.failed?.reason}`, { report }), deviceVerifies: false };
    }
    const tooBig = this.#blockSizeProblem(host.functional.transferSize, `the DFU functional descriptor's wTransferSize`);
    if (tooBig) {
      this.#set('preflight', 'failed', tooBig);
      return { ...this.#finish('failed', `${tooBig}; nothing was sent to the device`, { report }), deviceVerifies: false };
    }
    this.#set('preflight', 'done', DEVICE_DOES_NOT_VERIFY);
    this.#log(DEVICE_DOES_NOT_VERIFY);
    await this.#enter('download');
    const started = this.#clock();
    try {
      const r = await plainDfuDownload(host, bytes, {
        ...(this.#o.usb ? { usb: this.#o.usb } : {}),
        ...(this.#o.blockSize ? { blockSize: this.#o.blockSize } : {}),
        ...(this.#o.signal ? { signal: this.#o.signal } : {}),
        onProgress: (done, total) => {
          this.#sent.bytesSent = done;
          this.#progress('download', done / total, { sent: done, total, started });
        },
        onLog: (line) => this.#log(line),
      });
      this.#set('download', 'done', r.vanishedAfterManifest ? 'the device reset itself during manifestation (probably fine: check its version)' : 'manifestation complete');
    } catch (e) {
      const f = await this.#failure('download', e, undefined, undefined, report);
      return { ...f, deviceVerifies: false };
    }
    this.#log(NO_RECEIPT_SUPPORT.detail);
    return { ...this.#finish('updated', `Downloaded with a plain DFU transfer. ${DEVICE_DOES_NOT_VERIFY}`, { report, receipt: NO_RECEIPT_SUPPORT }), deviceVerifies: false };
  }

  /** The device's signed word on the update (session-receipt.ts): logged, audited, never a reason to fail the update. */
  async #receipt(nic: NicClient, serial: string | undefined, sent: string | undefined): Promise<ReceiptOutcome> {
    const o: ReceiptOutcome = await requestReceipt(nic, { deviceCa: this.#o.deviceCa ?? [], serial, time: this.#o.now ?? new Date(), ...(sent ? { pendingRelease: sent } : {}), ...(this.#o.production ? { production: true } : {}) }).catch((e: unknown) => ({ verified: false, detail: `no receipt: internal error: ${(e as Error)?.message ?? String(e)}` }));
    this.#log(o.detail);
    void this.#o.audit?.add('receipt', receiptAuditRecord(o));
    return o;
  }

  /** What a Cancel left behind, truthfully: the steps already done say what the device went through. */
  #cancelledText(): string {
    const done = (id: StepId) => this.#steps.find((x) => x.id === id)?.status === 'done';
    if (done('activate')) return 'Cancelled after ACTIVATE: the new image is pending and runs after the next reset (REACTIVATE_PREVIOUS would undo it).';
    if (done('update-component')) return `Cancelled after the device erased its spare bank${done('download') ? ' and received the image' : ''} (not the running one); CANCEL and RELEASE were sent. Nothing was activated: the device keeps running its current firmware.`;
    if (done('lock')) return 'Cancelled after the lock: the handle was released and nothing was written to the device.';
    return 'Cancelled before anything was sent to the device.';
  }

  async #failure(step: StepId, e: unknown, owned: { nic: NicClient; handle: number } | undefined, before?: DeviceQuery, report?: Report): Promise<SessionResult> {
    const cancelled = (e instanceof UpdateError && e.code === 'Cancelled') || (e instanceof DOMException && e.name === 'AbortError');
    this.#set(step, cancelled ? 'skipped' : 'failed', cancelled ? 'cancelled' : (e as Error).message);
    if (owned) {
      // leave the device as it was: abandon the download, give the handle back (mstflint's cleanup)
      try {
        this.#device(await this.#control(owned.nic, MCC_INSTRUCTION.CANCEL, owned.handle, 0, 'cancelling the update'));
        this.#device(await this.#control(owned.nic, MCC_INSTRUCTION.RELEASE_UPDATE_HANDLE, owned.handle, 0, 'releasing the update handle'));
        this.#log('cleanup: CANCEL and RELEASE sent; the device keeps running its current image');
      } catch (c) {
        this.#log(`cleanup failed: ${(c as Error).message} (the device's handle times out by itself)`);
      }
    }
    const extra = { ...(report ? { report } : {}), ...(before ? { before } : {}) };
    if (cancelled) return this.#finish('cancelled', this.#cancelledText(), extra);
    const info = e instanceof UpdateError && e.code === 'DeviceRejected' && e.mccError !== undefined ? mccError(e.mccError) : undefined;
    if (info && isDeviceFault(info.code)) {
      // a flash or internal fault says nothing about the image: the update failed, it was not rejected
      return this.#finish('failed', `${STEP_TITLES[step]} failed on the device: ${info.mstflint} (MCC error 0x${info.code.toString(16).padStart(2, '0')}), a fault of the device, not a verdict on the image. Nothing was activated: the device keeps running its current firmware. ${info.action}`, { ...extra, deviceError: info });
    }
    if (info) return this.#finish('rejected-by-device', `The device rejected the image: ${(e as Error).message}`, { ...extra, deviceError: info });
    const msg = e instanceof UpdateError ? e.message : `internal error: ${(e as Error)?.message ?? String(e)}`;
    return this.#finish('failed', `${STEP_TITLES[step]} failed: ${msg}`, extra);
  }
}
