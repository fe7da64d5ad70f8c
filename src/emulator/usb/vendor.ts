/**
 * Vendor requests on the DFU interface, in both personalities (bmRequestType vendor | interface:
 * OUT 0x41, IN 0xC1; wIndex = the DFU interface number). They expose the firmware's secure-update
 * machine step by step, in the spirit of the MCC / MCDA / MCQS registers (DESIGN.md §The device
 * protocol): the host sends commands and bytes, reads STATUS, and the firmware decides.
 *
 *   0x40 QUERY            IN   the firmware's QUERY TLVs (truncated to wLength)
 *   0x41 STATUS           IN   the 28-byte STATUS
 *   0x42 CONTROL          OUT  instruction u32, handle u32, component size u32 (LE) → MCC
 *   0x43 DATA             OUT  handle u32, offset u32, block (≤ 65527 bytes)
 *   0x44 READ             IN   wValue = block number; block size = wTransferSize
 *   0x45 MAINT            OUT  wValue = op 1..5, data = arguments (refused under secure FW: STALL)
 *   0x46 TOKEN_CHALLENGE  IN   48 bytes
 *   0x47 TOKEN_APPLY      OUT  the CS token
 *   0x48 LAST_RESULT      IN   bRequest u8, kind u8 (0 register status, 1 MCC error), code u8, 0, UTF-8 sentence
 *   0x49 RESET            OUT  the NIC resets; the device re-enumerates
 *   0x4A RECEIPT_REQUEST  OUT  nonce[32]: the firmware signs a receipt and holds it (issue #14)
 *   0x4B RECEIPT          IN   the receipt RECEIPT_REQUEST made (STALL when there is none: LAST_RESULT says why)
 *
 * CONTROL and DATA are acknowledged whenever they are well formed: the answer is in STATUS (result,
 * error), as an MCC SET's is in the register. Malformed requests STALL. LAST_RESULT describes the
 * last request other than QUERY, STATUS and LAST_RESULT itself (those only read).
 */
import type { EmulatedNic } from '../nic.ts';
import { CablePulled } from './cable.ts';
import { MCC_INSTRUCTION, REGISTER_STATUS as R, mccErrorSentence, registerStatusSentence } from './mcc.ts';
import { NO_RECEIPT, NO_RECEIPT_TEXT } from '../firmware.ts';

export const VendorRequest = {
  QUERY: 0x40,
  STATUS: 0x41,
  CONTROL: 0x42,
  DATA: 0x43,
  READ: 0x44,
  MAINT: 0x45,
  TOKEN_CHALLENGE: 0x46,
  TOKEN_APPLY: 0x47,
  LAST_RESULT: 0x48,
  RESET: 0x49,
  RECEIPT_REQUEST: 0x4a,
  RECEIPT: 0x4b,
} as const;
export type VendorRequest = (typeof VendorRequest)[keyof typeof VendorRequest];

export const VENDOR_REQUEST_NAMES: Record<VendorRequest, string> = {
  0x40: 'QUERY',
  0x41: 'STATUS',
  0x42: 'CONTROL',
  0x43: 'DATA',
  0x44: 'READ',
  0x45: 'MAINT',
  0x46: 'TOKEN_CHALLENGE',
  0x47: 'TOKEN_APPLY',
  0x48: 'LAST_RESULT',
  0x49: 'RESET',
  0x4a: 'RECEIPT_REQUEST',
  0x4b: 'RECEIPT',
};

const DIRECTION: Record<VendorRequest, 'in' | 'out'> = {
  0x40: 'in',
  0x41: 'in',
  0x42: 'out',
  0x43: 'out',
  0x44: 'in',
  0x45: 'out',
  0x46: 'in',
  0x47: 'out',
  0x48: 'in',
  0x49: 'out',
  0x4a: 'out',
  0x4b: 'in',
};

export const LAST_RESULT_KIND = { REGISTER_STATUS: 0, MCC_ERROR: 1 } as const;
export const CONTROL_LENGTH = 12;
export const DATA_HEADER_LENGTH = 8;
/** 65535 (wLength) − the 8-byte DATA header. */
export const MAX_DATA_BLOCK = 0xffff - DATA_HEADER_LENGTH;
/** The sentence flint prints for a maintenance command secure firmware refuses (reference §5.2). */
export const UNSUPPORTED_UNDER_SECURE_FW = 'Unsupported operation under Secure FW';

export interface VendorSetup {
  readonly request: number;
  readonly value: number;
  readonly length: number;
  readonly direction: 'in' | 'out';
  readonly data: Uint8Array;
}

export type VendorReply = { readonly stall: true } | { readonly stall: false; readonly data: Uint8Array };

interface LastResult {
  request: number;
  kind: number;
  code: number;
  text: string;
}

const STALL: VendorReply = { stall: true };
const ACK: VendorReply = { stall: false, data: new Uint8Array(0) };
const utf8 = new TextEncoder();

function isVendorRequest(n: number): n is VendorRequest {
  return n >= VendorRequest.QUERY && n <= VendorRequest.RECEIPT;
}

export interface VendorOptions {
  /** wTransferSize: the READ block size. */
  readonly transferSize: number;
  /** RESET was acknowledged: the device leaves the bus and the NIC resets. */
  readonly onReset: () => void;
}

export class VendorRequests {
  readonly #nic: EmulatedNic;
  readonly #opts: VendorOptions;
  #last: LastResult = { request: 0, kind: LAST_RESULT_KIND.REGISTER_STATUS, code: R.OK, text: 'OK' };
  /** DATA requests since the last UPDATE_COMPONENT: the block number fault injection counts. */
  #dataIndex = 0;
  /** What the last RECEIPT_REQUEST made: the receipt, or the refusal RECEIPT answers with (function RAM). */
  #receipt: { bytes: Uint8Array } | { status: number; text: string } = { status: R.BAD_PARAM, text: 'no receipt was requested: send RECEIPT_REQUEST with a 32-byte nonce first' };

  constructor(nic: EmulatedNic, opts: VendorOptions) {
    this.#nic = nic;
    this.#opts = opts;
  }

  /** The NIC lost power: the function's RAM is gone. */
  forget(): void {
    this.#last = { request: 0, kind: LAST_RESULT_KIND.REGISTER_STATUS, code: R.OK, text: 'OK' };
    this.#dataIndex = 0;
    this.#receipt = { status: R.BAD_PARAM, text: 'no receipt was requested: send RECEIPT_REQUEST with a 32-byte nonce first' };
  }

  async handle(r: VendorSetup): Promise<VendorReply> {
    if (!isVendorRequest(r.request)) return this.#malformed(r.request, `Unknown vendor request 0x${r.request.toString(16)}`);
    const name = VENDOR_REQUEST_NAMES[r.request];
    if (DIRECTION[r.request] !== r.direction) return this.#malformed(r.request, `${name} is an ${DIRECTION[r.request].toUpperCase()} request`);
    switch (r.request) {
      // QUERY and STATUS only read: LAST_RESULT keeps describing the request they are asked after
      case VendorRequest.QUERY:
        return { stall: false, data: await this.#nic.run('query', (fw) => fw.queryBytes()) };
      case VendorRequest.STATUS:
        return { stall: false, data: await this.#nic.run('status', (fw) => fw.statusBytes()) };
      case VendorRequest.CONTROL:
        return this.#control(r);
      case VendorRequest.DATA:
        return this.#dataBlock(r);
      case VendorRequest.READ:
        return this.#read(r);
      case VendorRequest.MAINT:
        return this.#maint(r);
      case VendorRequest.TOKEN_CHALLENGE:
        return this.#ok(r.request, await this.#nic.run('token', (fw) => fw.tokenChallenge()));
      case VendorRequest.TOKEN_APPLY:
        return this.#tokenApply(r);
      case VendorRequest.LAST_RESULT: {
        const l = this.#last;
        const text = utf8.encode(l.text);
        const out = new Uint8Array(4 + text.length);
        out.set([l.request, l.kind, l.code, 0]);
        out.set(text, 4);
        return { stall: false, data: out };
      }
      case VendorRequest.RECEIPT_REQUEST:
        return this.#receiptRequest(r);
      case VendorRequest.RECEIPT:
        if ('bytes' in this.#receipt) return this.#ok(r.request, this.#receipt.bytes);
        this.#record(r.request, LAST_RESULT_KIND.REGISTER_STATUS, this.#receipt.status, this.#receipt.text);
        return STALL;
      case VendorRequest.RESET:
        if (r.data.length !== 0) return this.#malformed(r.request, `RESET carries no data, got ${r.data.length} bytes`);
        this.#record(r.request, LAST_RESULT_KIND.REGISTER_STATUS, R.OK, 'OK');
        this.#opts.onReset();
        return ACK;
    }
  }

  #record(request: number, kind: number, code: number, text: string): void {
    this.#last = { request, kind, code, text };
  }

  #ok(request: number, data: Uint8Array): VendorReply {
    this.#record(request, LAST_RESULT_KIND.REGISTER_STATUS, R.OK, 'OK');
    return { stall: false, data };
  }

  #malformed(request: number, why: string): VendorReply {
    this.#record(request & 0xff, LAST_RESULT_KIND.REGISTER_STATUS, R.BAD_PARAM, `${why} (${registerStatusSentence(R.BAD_PARAM)})`);
    return STALL;
  }

  /** LAST_RESULT after a command: the register status if the command was not taken, else the FSM's error code. */
  #recordCommand(request: number, rs: number, error: number): void {
    if (rs !== R.OK) this.#record(request, LAST_RESULT_KIND.REGISTER_STATUS, rs, registerStatusSentence(rs));
    else if (error !== 0) this.#record(request, LAST_RESULT_KIND.MCC_ERROR, error, mccErrorSentence(error));
    else this.#record(request, LAST_RESULT_KIND.REGISTER_STATUS, R.OK, 'OK');
  }

  async #control(r: VendorSetup): Promise<VendorReply> {
    if (r.data.length !== CONTROL_LENGTH) return this.#malformed(r.request, `CONTROL expects ${CONTROL_LENGTH} bytes, got ${r.data.length}`);
    const v = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength);
    const instruction = v.getUint32(0, true);
    const handle = v.getUint32(4, true);
    const size = v.getUint32(8, true);
    const a = await this.#nic.run(`mcc:${instruction}`, (fw) => {
      const rs = fw.mcc(instruction, handle, size);
      return { rs, error: fw.statusError() };
    });
    if (instruction === MCC_INSTRUCTION.UPDATE_COMPONENT && a.rs === R.OK) this.#dataIndex = 0;
    this.#recordCommand(r.request, a.rs, a.error);
    return ACK;
  }

  async #dataBlock(r: VendorSetup): Promise<VendorReply> {
    if (r.data.length <= DATA_HEADER_LENGTH) return this.#malformed(r.request, `DATA expects an 8-byte header and a block, got ${r.data.length} bytes`);
    if (r.data.length > this.#opts.transferSize) return this.#malformed(r.request, `DATA carries at most wTransferSize (${this.#opts.transferSize}) bytes, header included, got ${r.data.length}`);
    const v = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength);
    const handle = v.getUint32(0, true);
    const offset = v.getUint32(4, true);
    const block = r.data.subarray(DATA_HEADER_LENGTH);
    const index = this.#dataIndex++;
    if (this.#nic.takeDisconnect(index)) throw new CablePulled(`the USB cable was pulled at DATA block ${index}`);
    const a = await this.#nic.run(
      'block',
      (fw) => {
        const rs = fw.writeBlock(handle, offset, block);
        return { rs, error: fw.statusError() };
      },
      index,
    );
    this.#recordCommand(r.request, a.rs, a.error);
    return ACK;
  }

  async #read(r: VendorSetup): Promise<VendorReply> {
    const size = this.#opts.transferSize;
    const length = Math.min(r.length, size);
    const a = await this.#nic.run('read', (fw) => {
      const st = fw.status();
      const data = fw.readBlock(st.handle, r.value * size, length);
      return { data, rs: fw.status().result };
    });
    if (a.rs !== R.OK) {
      this.#record(r.request, LAST_RESULT_KIND.REGISTER_STATUS, a.rs, registerStatusSentence(a.rs));
      return STALL;
    }
    return this.#ok(r.request, a.data);
  }

  async #maint(r: VendorSetup): Promise<VendorReply> {
    const rs = await this.#nic.run('maint', (fw) => fw.maint(r.value, r.data));
    if (rs === R.OK) return this.#ok(r.request, new Uint8Array(0));
    this.#record(r.request, LAST_RESULT_KIND.REGISTER_STATUS, rs, rs === R.METHOD_NOT_SUPP ? UNSUPPORTED_UNDER_SECURE_FW : registerStatusSentence(rs));
    return STALL;
  }

  /**
   * RECEIPT_REQUEST is acknowledged whenever it is well formed, like CONTROL: a Linux gadget cannot
   * stall an OUT data stage after reading it (§16), so the refusal is RECEIPT's STALL and LAST_RESULT.
   */
  async #receiptRequest(r: VendorSetup): Promise<VendorReply> {
    this.#receipt = { status: R.BAD_PARAM, text: `RECEIPT_REQUEST expects a 32-byte nonce, got ${r.data.length} bytes` };
    if (r.data.length !== 32) return this.#malformed(r.request, this.#receipt.text);
    const a = await this.#nic.run('receipt', (fw) => fw.receipt(r.data));
    if (a.ok) {
      this.#receipt = { bytes: a.bytes };
      return this.#ok(r.request, new Uint8Array(0));
    }
    const status = a.reason === NO_RECEIPT.NOT_BOOTED ? R.DEV_BUSY : a.reason === NO_RECEIPT.BAD_NONCE ? R.BAD_PARAM : a.reason === NO_RECEIPT.NO_KEY ? R.METHOD_NOT_SUPP : R.RES_NOT_AVLBL;
    this.#receipt = { status, text: NO_RECEIPT_TEXT[a.reason] ?? `no receipt (reason ${a.reason})` };
    this.#record(r.request, LAST_RESULT_KIND.REGISTER_STATUS, status, this.#receipt.text);
    return ACK;
  }

  async #tokenApply(r: VendorSetup): Promise<VendorReply> {
    if (r.data.length === 0) return this.#malformed(r.request, 'TOKEN_APPLY expects the token');
    const code = await this.#nic.run('token', (fw) => fw.tokenApply(r.data));
    if (code === 0) return this.#ok(r.request, new Uint8Array(0));
    this.#record(r.request, LAST_RESULT_KIND.MCC_ERROR, code, mccErrorSentence(code));
    return STALL;
  }
}
