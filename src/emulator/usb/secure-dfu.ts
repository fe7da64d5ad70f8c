/**
 * Secure update over plain DFU: a generic DFU host (dfu-util, webdfu) sends blocks and a
 * zero-length DNLOAD; the device drives its own MCC flow underneath, the way mstflint would
 * (reference/mstflint-secure-update.md §1.7): QUERY (offers a handle) → LOCK_UPDATE_HANDLE →
 * UPDATE_COMPONENT (size 0: not given) → one data write per block → VERIFY_COMPONENT → ACTIVATE →
 * RELEASE_UPDATE_HANDLE; on any rejection CANCEL + RELEASE. The firmware decides; this file only
 * moves bytes and translates its answers into DFU status (a rejection as early as the firmware
 * knows it: a bad signature on the first blocks, a bad hash block (format v2) the moment it is
 * complete, a v1 payload digest at manifestation).
 */
import type { EmulatedNic } from '../nic.ts';
import type { RawStatus } from '../firmware.ts';
import { BOOT_STATUS_NAMES } from '../firmware.ts';
import type { DfuOutcome } from './dfu-class.ts';
import { DfuStatus } from './dfu-spec.ts';
import { MCC_INSTRUCTION as I, MCC_STATE, REGISTER_STATUS as R, STATUS_FLAG, mccErrorSentence, registerStatusSentence } from './mcc.ts';
import { CablePulled } from './cable.ts';

/** MCC error code → DFU bStatus (errVENDOR ones carry the reason in iString). */
export function dfuStatusForMccError(code: number): DfuStatus {
  switch (code) {
    case 0x02: // REJECTED_DIGEST_ERR
    case 0x04: // REJECTED_UNKNOWN_KEY
    case 0x05: // REJECTED_AUTH_FAILED
    case 0x06: // REJECTED_UNSIGNED
    case 0x07: // REJECTED_KEY_NOT_APPLICABLE
      return DfuStatus.errVERIFY;
    case 0x03: // REJECTED_NOT_APPLICABLE
      return DfuStatus.errTARGET;
    case 0x08: // REJECTED_BAD_FORMAT
      return DfuStatus.errFILE;
    case 0x09: // BLOCKED_PENDING_RESET
    case 0x0a: // REJECTED_NOT_A_SECURED_FW
    case 0x0f: // REJECTED_FORBIDDEN_VERSION
    case 0x19: // FW_BURN_REJECTED_INVALID_SECURITY_VERSION
    case 0x32: // REJECTED_DEV_IMAGE_ON_PROD_DEVICE
      return DfuStatus.errVENDOR;
    case 0x10: // FLASH_ERASE_ERROR
      return DfuStatus.errERASE;
    case 0x28: // FW_BURN_REJECTED_FLASH_WRITE_PROTECTED
      return DfuStatus.errWRITE;
    case 0x1e: // FW_BURN_REJECTED_NO_PLACE
      return DfuStatus.errADDRESS;
    default:
      return DfuStatus.errUNKNOWN;
  }
}

interface Flow {
  readonly handle: number;
  /** Bytes written so far: the offset of the next block. */
  offset: number;
  /** A block that arrived while the bank was still being erased (MCC state INITIALIZE). */
  deferred?: { readonly data: Uint8Array; readonly index: number };
}

type Answer = { rs: number; st: RawStatus };

export class SecureDfuFlow {
  readonly #nic: EmulatedNic;
  #flow: Flow | undefined;

  constructor(nic: EmulatedNic) {
    this.#nic = nic;
  }

  /** True while this function owns the firmware's update handle. */
  get active(): boolean {
    return this.#flow !== undefined;
  }

  async #mcc(instruction: number, handle: number, size = 0): Promise<Answer> {
    return this.#nic.run(`mcc:${instruction}`, (fw) => ({ rs: fw.mcc(instruction, handle, size), st: fw.status() }));
  }

  async download(block: Uint8Array, index: number): Promise<DfuOutcome> {
    // the disconnect fault: the cable is pulled as block `index` arrives (the NIC keeps running)
    if (this.#nic.takeDisconnect(index)) throw new CablePulled(`the USB cable was pulled at DFU block ${index}`);
    const t0 = this.#nic.flash.busyMs;
    if (index === 0) {
      await this.abort();
      const begun = await this.#begin();
      if (begun) return this.#busy(t0, begun);
    }
    const flow = this.#flow;
    if (!flow) return { ok: false, status: DfuStatus.errUNKNOWN, text: 'No update in progress: the download must start again from its first block' };
    if (flow.deferred) return this.#fail(DfuStatus.errUNKNOWN, `Block ${index} arrived while block ${flow.deferred.index} was still pending`);
    return this.#busy(t0, await this.#write(flow, block.slice(), index));
  }

  /** QUERY, LOCK, UPDATE_COMPONENT. Returns an outcome only if the flow could not start. */
  async #begin(): Promise<DfuOutcome | undefined> {
    const q = await this.#nic.run('mcc:0', (fw) => ({ rs: fw.mcc(I.QUERY, 0, 0), handle: fw.status().handle }));
    if (q.rs !== R.OK) return { ok: false, status: DfuStatus.errVENDOR, text: `QUERY refused: ${registerStatusSentence(q.rs)}` };
    const lock = await this.#mcc(I.LOCK_UPDATE_HANDLE, q.handle);
    if (lock.rs === R.RES_NOT_AVLBL) return { ok: false, status: DfuStatus.errVENDOR, text: 'Update handle held by another host (register status 0x08)' };
    if (lock.rs !== R.OK) return { ok: false, status: DfuStatus.errVENDOR, text: `LOCK_UPDATE_HANDLE refused: ${registerStatusSentence(lock.rs)}` };
    this.#flow = { handle: q.handle, offset: 0 };
    // size 0 = not given: a plain DFU host does not announce the image size; the head will tell
    const upd = await this.#mcc(I.UPDATE_COMPONENT, q.handle, 0);
    if (upd.rs !== R.OK) return this.#fail(DfuStatus.errVENDOR, `UPDATE_COMPONENT refused: ${registerStatusSentence(upd.rs)}`);
    if (upd.st.error !== 0) return this.#fail(dfuStatusForMccError(upd.st.error), mccErrorSentence(upd.st.error));
    return undefined;
  }

  async #write(flow: Flow, data: Uint8Array, index: number): Promise<DfuOutcome> {
    const w = await this.#nic.run('block', (fw) => ({ rs: fw.writeBlock(flow.handle, flow.offset, data), st: fw.status(), bad: fw.badBlock() }), index);
    if (w.rs === R.DEV_BUSY && w.st.state === MCC_STATE.INITIALIZE) {
      // the inactive bank is still being erased: keep the block and report busy (bwPollTimeout)
      flow.deferred = { data, index };
      return { ok: true, busyMs: 0, pending: true };
    }
    if (w.rs !== R.OK) return this.#fail(DfuStatus.errVENDOR, `Block ${index} refused: ${registerStatusSentence(w.rs)}`);
    // a format v2 hash block that does not match the signed table is refused as it completes: say which
    const which = w.st.error === 0x02 && w.bad !== undefined ? `: hash block ${w.bad} does not match its signed digest (DFU block ${index})` : '';
    if (w.st.error !== 0) return this.#fail(dfuStatusForMccError(w.st.error), mccErrorSentence(w.st.error) + which);
    flow.offset += data.length;
    return { ok: true, busyMs: 0 };
  }

  #busy(t0: number, o: DfuOutcome): DfuOutcome {
    return o.ok ? { ...o, busyMs: o.busyMs + (this.#nic.flash.busyMs - t0) } : o;
  }

  /** Writes a deferred block (the erase has had its time). */
  async poll(): Promise<DfuOutcome> {
    const flow = this.#flow;
    const d = flow?.deferred;
    if (!flow || !d) return { ok: true, busyMs: 0 };
    flow.deferred = undefined;
    const t0 = this.#nic.flash.busyMs;
    return this.#busy(t0, await this.#write(flow, d.data, d.index));
  }

  async incomplete(): Promise<string | undefined> {
    const flow = this.#flow;
    if (!flow) return 'No image data has been received';
    if (flow.deferred) return `Block ${flow.deferred.index} has not been written yet`;
    const st = await this.#nic.run('status', (fw) => fw.status());
    if (st.expectedTotal === 0) return `The image is incomplete: ${st.received} bytes received and its header is not complete`;
    if (st.received < st.expectedTotal) return `The image is incomplete: ${st.received} of ${st.expectedTotal} bytes received`;
    return undefined;
  }

  /** VERIFY_COMPONENT (the payload digest), ACTIVATE (the image becomes pending), RELEASE. */
  async manifest(): Promise<DfuOutcome> {
    const flow = this.#flow;
    if (!flow) return { ok: false, status: DfuStatus.errUNKNOWN, text: 'No update in progress to manifest' };
    const t0 = this.#nic.flash.busyMs;
    for (const [instruction, name] of [
      [I.VERIFY_COMPONENT, 'VERIFY_COMPONENT'],
      [I.ACTIVATE, 'ACTIVATE'],
    ] as const) {
      const a = await this.#mcc(instruction, flow.handle);
      if (a.rs !== R.OK) return this.#fail(DfuStatus.errVENDOR, `${name} refused: ${registerStatusSentence(a.rs)}`);
      if (a.st.error !== 0) return this.#fail(dfuStatusForMccError(a.st.error), mccErrorSentence(a.st.error));
    }
    await this.#mcc(I.RELEASE_UPDATE_HANDLE, flow.handle);
    this.#flow = undefined;
    return { ok: true, busyMs: this.#nic.flash.busyMs - t0 };
  }

  async #fail(status: DfuStatus, text: string): Promise<DfuOutcome> {
    await this.abort();
    return { ok: false, status, text };
  }

  /** CANCEL + RELEASE the handle this function owns (as mstflint's cleanup does); idempotent. */
  async abort(): Promise<void> {
    const flow = this.#flow;
    if (!flow) return;
    this.#flow = undefined;
    await this.#mcc(I.CANCEL, flow.handle);
    await this.#mcc(I.RELEASE_UPDATE_HANDLE, flow.handle);
  }

  /** The NIC lost power: the firmware's RAM (and the handle) is gone, there is nothing to release. */
  forget(): void {
    this.#flow = undefined;
  }

  upload(offset: number, length: number): Promise<Uint8Array> {
    return this.#nic.run('upload', (fw) => fw.upload(offset, length));
  }

  firmwareValid(): boolean {
    if (!this.#nic.poweredOn) return false;
    return (this.#nic.firmware.status().flags & STATUS_FLAG.BOOTED) !== 0;
  }

  firmwareInvalidText(): string {
    if (!this.#nic.poweredOn) return 'The NIC is powered off';
    const boot = this.#nic.firmware.bootStatus();
    return `No valid firmware to run: ${BOOT_STATUS_NAMES[boot] ?? `boot status ${boot}`}`;
  }
}
