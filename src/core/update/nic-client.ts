/**
 * The host's side of the NIC's vendor requests (docs/protocol.md §4): typed calls over the DFU
 * interface a DfuHost has opened. Every answer is decoded by protocol.ts; a malformed answer is an
 * UpdateError('InvalidData'), never an exception from a decoder.
 */
import type { DfuHost } from '../dfu/host.ts';
import { UpdateError } from '../dfu/errors.ts';
import { CHALLENGE_SIZE, decodeChallenge, decodeLastResult, decodeStatus, encodeControl, encodeData, encodeToken, MAINT_OP, vendorSetup, DATA_BLOCK_MAX, DATA_HEADER_SIZE, type DeviceStatus, type LastResult, type MaintOpName, type SignedToken, type TokenChallenge } from './protocol.ts';
import { decodeQuery, type DeviceQuery } from './query.ts';
import { MCC_INSTRUCTION } from './mcc-codes.ts';
import { type DecodeResult } from './codec.ts';

/** The receipt nonce's size and the largest receipt a host reads (docs/protocol.md §4.11). */
export const RECEIPT_NONCE_SIZE = 32;
export const RECEIPT_MAX = 4096;

/** DATA request buffers kept for reuse (the download keeps a few transfers in flight). */
const SPARE_MAX = 8;

/** A request secure firmware may refuse with a STALL: accepted, or refused with what LAST_RESULT says. */
export type Refusable = { readonly accepted: true } | { readonly accepted: false; readonly last: LastResult | undefined };

function must<T>(r: DecodeResult<T>, what: string): T {
  if (!r.ok) throw new UpdateError('InvalidData', `the device's ${what} answer is malformed: ${r.error.field} at ${r.error.offset}: ${r.error.message}`);
  return r.value;
}

export class NicClient {
  readonly host: DfuHost;
  constructor(host: DfuHost) {
    this.host = host;
  }
  get #intf(): number {
    return this.host.interface.interfaceNumber;
  }

  async query(): Promise<DeviceQuery> {
    return must(decodeQuery(await this.host.controlIn(vendorSetup('QUERY', this.#intf), 4096, 'reading the device identity (QUERY)')), 'QUERY');
  }
  async status(): Promise<DeviceStatus> {
    return must(decodeStatus(await this.host.controlIn(vendorSetup('STATUS', this.#intf), 64, 'reading the update state (STATUS)')), 'STATUS');
  }
  /** Sends an MCC instruction and returns the STATUS that follows it. */
  async control(instruction: number, handle: number, componentSize = 0, doing = `MCC instruction ${instruction}`): Promise<DeviceStatus> {
    await this.host.controlOut(vendorSetup('CONTROL', this.#intf), encodeControl({ instruction, handle, componentSize }), doing);
    return this.status();
  }
  /**
   * RESUME_COMPONENT (docs/protocol.md §5.6): asks the device to continue the download QUERY tag 26
   * reports, of `size` bytes. Returns the STATUS that follows: INITIALIZE while the device re-checks
   * what is on flash (poll STATUS, as after UPDATE_COMPONENT), then DOWNLOAD with `received` = the
   * offset to send the next DATA at; or LOCKED with `error` set when there is nothing to resume.
   */
  async resume(handle: number, size: number): Promise<DeviceStatus> {
    return this.control(MCC_INSTRUCTION.RESUME_COMPONENT, handle, size, 'resuming the download (RESUME_COMPONENT)');
  }
  /**
   * Request buffers of DATA transfers the device has taken, kept for the next ones of the same size:
   * a download is thousands of equal transfers. A buffer is the transport's until its transfer
   * settles (WebUSB copies it at the call, node-usb when the transfer completes), and one whose
   * transfer failed or timed out is never reused.
   */
  readonly #spare: Uint8Array[] = [];
  async data(handle: number, offset: number, block: Uint8Array, doing: string): Promise<void> {
    if (block.length > DATA_BLOCK_MAX) throw new UpdateError('Internal', `a DATA block holds at most ${DATA_BLOCK_MAX} bytes, got ${block.length}`);
    const size = DATA_HEADER_SIZE + block.length;
    const buf = this.#spare.at(-1)?.length === size ? this.#spare.pop()! : new Uint8Array(size);
    await this.host.controlOut(vendorSetup('DATA', this.#intf), encodeData({ handle, offset, block }, buf), doing);
    // kept for the next transfer of this size (a new size, as after a short last block, starts over)
    if (this.#spare[0] !== undefined && this.#spare[0].length !== size) this.#spare.length = 0;
    if (this.#spare.length < SPARE_MAX) this.#spare.push(buf);
  }
  async lastResult(): Promise<LastResult> {
    return must(decodeLastResult(await this.host.controlIn(vendorSetup('LAST_RESULT', this.#intf), 512, 'reading the last result')), 'LAST_RESULT');
  }
  /** Resets the device (it re-enumerates); the transfer itself may fail as the device goes away. */
  async reset(): Promise<void> {
    try {
      await this.host.controlOut(vendorSetup('RESET', this.#intf), undefined, 'resetting the device');
    } catch (e) {
      if (!(e instanceof UpdateError && e.code === 'NotFound')) throw e;
    }
  }
  /**
   * A maintenance command as flint would send it (MAINT, docs/protocol.md §4.6). Secure firmware
   * refuses it with a STALL, and LAST_RESULT then says why: that is an answer, not an error.
   */
  async maintenance(op: MaintOpName, argument: Uint8Array): Promise<Refusable> {
    return this.#refusable(() => this.host.controlOut(vendorSetup('MAINT', this.#intf, MAINT_OP[op]), argument, `MAINT ${op}`));
  }
  /** The device's CS-token challenge (TOKEN_CHALLENGE, protocol §11): a fresh nonce and its PSID. */
  async tokenChallenge(): Promise<TokenChallenge> {
    return must(decodeChallenge(await this.host.controlIn(vendorSetup('TOKEN_CHALLENGE', this.#intf), CHALLENGE_SIZE, 'reading the token challenge')), 'TOKEN_CHALLENGE');
  }
  /** Applies a signed CS token (TOKEN_APPLY): the device checks it, or refuses it with a STALL. */
  async tokenApply(token: SignedToken): Promise<Refusable> {
    return this.#refusable(() => this.host.controlOut(vendorSetup('TOKEN_APPLY', this.#intf), encodeToken(token), 'applying the CS token'));
  }
  /**
   * A device-signed receipt for `nonce` (docs/protocol.md §4.11): RECEIPT_REQUEST with the nonce, then
   * RECEIPT. A device that cannot sign one (no attestation key, not booted) STALLs the RECEIPT and
   * LAST_RESULT says why: that is an answer. The bytes are returned as the device sent them; the
   * caller parses and verifies them (core/receipt/verify.ts).
   */
  async receipt(nonce: Uint8Array): Promise<{ readonly accepted: true; readonly bytes: Uint8Array } | { readonly accepted: false; readonly last: LastResult | undefined }> {
    if (nonce.length !== RECEIPT_NONCE_SIZE) throw new RangeError(`"nonce" expected ${RECEIPT_NONCE_SIZE} bytes, got ${nonce.length}`);
    let bytes: Uint8Array | undefined;
    const r = await this.#refusable(async () => {
      await this.host.controlOut(vendorSetup('RECEIPT_REQUEST', this.#intf), nonce, 'asking for a receipt (RECEIPT_REQUEST)');
      bytes = await this.host.controlIn(vendorSetup('RECEIPT', this.#intf), RECEIPT_MAX, 'reading the receipt (RECEIPT)');
    });
    return r.accepted && bytes ? { accepted: true, bytes } : { accepted: false, last: r.accepted ? undefined : r.last };
  }
  async #refusable(send: () => Promise<unknown>): Promise<Refusable> {
    try {
      await send();
      return { accepted: true };
    } catch (e) {
      if (!(e instanceof UpdateError && e.code === 'Stalled')) throw e;
      return { accepted: false, last: await this.lastResult().catch(() => undefined) };
    }
  }

  /**
   * Does the device speak this protocol? Only a stalled QUERY means "no": that is how a generic DFU
   * device answers a vendor request it does not know. An answer that does not decode is an error
   * (UpdateError 'InvalidData'): a secure device that answers garbage must stop the update, not be
   * taken for a generic device whose PSID, security version and forbidden list go unchecked.
   * Returns the decoded answer, so the caller does not ask twice.
   */
  async probe(): Promise<DeviceQuery | undefined> {
    let raw: Uint8Array;
    try {
      raw = await this.host.controlIn(vendorSetup('QUERY', this.#intf), 4096, 'reading the device identity (QUERY)');
    } catch (e) {
      if (e instanceof UpdateError && e.code === 'Stalled') return undefined;
      throw e;
    }
    return must(decodeQuery(raw), 'QUERY');
  }
  /** Does the device speak this protocol? (See probe: a malformed answer throws, it is not a "no".) */
  async supported(): Promise<boolean> {
    return (await this.probe()) !== undefined;
  }
}
