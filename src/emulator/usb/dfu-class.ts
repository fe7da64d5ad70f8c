/**
 * The USB DFU 1.1 class, device side, as a table: `TABLE[state][request]` is the handler of every
 * legal request (DFU 1.1 Appendix A); a missing cell is answered in one place, `refuse`. The class
 * knows nothing about the NIC: it calls its application (the secure-update flow, the bus) through
 * `DfuApplication`, which reports slow work as busy milliseconds that the class turns into
 * bwPollTimeout (DFU 1.1 §6.1.2).
 */
import type { Personality } from './descriptors.ts';
import { DFU_ATTRIBUTE } from './descriptors.ts';
import { DfuRequest, DfuState, DfuStatus, DFU_REQUEST_NAMES, DFU_STATE_NAMES } from './dfu-spec.ts';


/** Direction of each request's data stage (DFU 1.1 §3: 0x21 = OUT, 0xA1 = IN). */
const REQUEST_DIRECTION: Record<DfuRequest, 'in' | 'out'> = { 0: 'out', 1: 'out', 2: 'in', 3: 'in', 4: 'out', 5: 'in', 6: 'out' };

/** Index of the string descriptor that holds the last error sentence (DFU GETSTATUS iString). */
export const ERROR_STRING_INDEX = 0x20;

/** The result of slow work the application did for a block or the manifestation. */
export type DfuOutcome =
  /** Done (or `pending`: more to do at the next poll); the device stays busy `busyMs` longer. */
  | { readonly ok: true; readonly busyMs: number; readonly pending?: boolean }
  | { readonly ok: false; readonly status: DfuStatus; readonly text: string };

/** What the class needs from the device it serves (TinyUSB's tud_dfu_*_cb, as one interface). */
export interface DfuApplication {
  /** Milliseconds, monotonic: the device's clock (bwPollTimeout is measured on it). */
  now(): number;
  /** A DNLOAD block; `blockIndex` counts from 0 per download (0 starts a new one). */
  download(block: Uint8Array, blockIndex: number): Promise<DfuOutcome>;
  /** Finishes work an earlier outcome left pending. */
  poll(): Promise<DfuOutcome>;
  /** Why the image is not complete yet (DNLOAD wLength = 0 too early), or undefined when it is. */
  incomplete(): Promise<string | undefined>;
  manifest(): Promise<DfuOutcome>;
  /** Ends any download in progress (idempotent). */
  abort(): Promise<void>;
  upload(offset: number, length: number): Promise<Uint8Array>;
  firmwareValid(): boolean;
  firmwareInvalidText(): string;
  /** bitWillDetach: after `afterMs`, reset by itself (leave the bus; `usbReset` decides how it comes back). */
  selfReset(afterMs: number): void;
  cancelSelfReset(): void;
}

/** One request as the class sees it: bRequest, wValue, wLength, direction and the OUT data. */
export interface DfuSetup {
  readonly request: number;
  readonly value: number;
  readonly length: number;
  readonly direction: 'in' | 'out';
  readonly data: Uint8Array;
}

export type DfuReply = { readonly stall: true } | { readonly stall: false; readonly data: Uint8Array };

const STALL: DfuReply = { stall: true };
const ACK: DfuReply = { stall: false, data: new Uint8Array(0) };
/** A handler's way to say "not legal here after all" (DNLOAD wLength = 0 in dfuIDLE, say): the cell is missing. */
const NOT_HERE = Symbol('not-here');
type Answer = DfuReply | typeof NOT_HERE;
type Handler = (c: DfuCore, r: DfuSetup) => Answer | Promise<Answer>;

/** The class's variables; handlers get this, the outside world gets DfuClass. */
interface DfuCore {
  readonly app: DfuApplication;
  readonly attributes: number;
  readonly transferSize: number;
  readonly detachTimeoutMs: number;
  state: DfuState;
  status: DfuStatus;
  text: string;
  /** dfuDNBUSY / dfuMANIFEST last until this time (device clock). */
  pollUntil: number;
  /** appDETACH without bitWillDetach lasts until this time. */
  detachUntil: number;
  /** Block work not yet reported by GETSTATUS, or 'poll' when the application must finish it. */
  work: DfuOutcome | 'poll' | undefined;
  manifested: boolean;
  nextBlockNum: number;
  blockIndex: number;
  uploadOffset: number;
}

function statusReply(c: DfuCore, bState: DfuState, pollMs = 0): DfuReply {
  const poll = Math.min(Math.max(0, Math.ceil(pollMs)), 0xffffff);
  // DFU 1.1 §6.1.2: bStatus, bwPollTimeout (3 bytes LE), bState, iString
  const data = Uint8Array.from([c.status, poll & 0xff, (poll >> 8) & 0xff, poll >> 16, bState, c.status === DfuStatus.OK ? 0 : ERROR_STRING_INDEX]);
  return { stall: false, data };
}

async function fail(c: DfuCore, status: DfuStatus, text: string): Promise<void> {
  c.state = DfuState.dfuERROR;
  c.status = status;
  c.text = text;
  c.work = undefined;
  await c.app.abort();
}

/**
 * The one answer to a request that has no cell (DFU 1.1 Appendix A "any other request"): STALL.
 * In DFU mode the device goes to dfuERROR with errSTALLEDPKT, except where Appendix A has it not
 * servicing requests at all (dfuMANIFEST, dfuMANIFEST-WAIT-RESET) and in dfuERROR, which keeps the
 * status that explains it. In run-time a stall in appDETACH cancels the detach (→ appIDLE).
 */
async function refuse(c: DfuCore, r: DfuSetup): Promise<DfuReply> {
  switch (c.state) {
    case DfuState.appIDLE:
    case DfuState.dfuERROR:
    case DfuState.dfuMANIFEST:
    case DfuState.dfuMANIFEST_WAIT_RESET:
      break;
    case DfuState.appDETACH:
      c.app.cancelSelfReset();
      c.state = DfuState.appIDLE;
      break;
    default: {
      const name = DFU_REQUEST_NAMES[r.request as DfuRequest] ?? `class request 0x${r.request.toString(16)}`;
      await fail(c, DfuStatus.errSTALLEDPKT, `${name} is not accepted in state ${DFU_STATE_NAMES[c.state]}: the request was stalled`);
    }
  }
  return STALL;
}

const getStatus: Handler = (c) => statusReply(c, c.state);
const getState: Handler = (c) => ({ stall: false, data: Uint8Array.of(c.state) });

const detach: Handler = (c, r) => {
  c.state = DfuState.appDETACH;
  if (c.attributes & DFU_ATTRIBUTE.bitWillDetach) c.app.selfReset(0);
  // DFU 1.1 §5.1: without bitWillDetach the device waits min(wTimeout, wDetachTimeOut) for a USB reset
  else c.detachUntil = c.app.now() + Math.min(r.value, c.detachTimeoutMs);
  return ACK;
};

async function acceptBlock(c: DfuCore, r: DfuSetup, first: boolean): Promise<Answer> {
  if (!(c.attributes & DFU_ATTRIBUTE.bitCanDnload) || r.data.length > c.transferSize) return NOT_HERE;
  if (first) {
    c.blockIndex = 0;
  } else if (r.value !== c.nextBlockNum) {
    // DFU 1.1 §6.1.1: wBlockNum increments by one per block (and wraps at 65536)
    await fail(c, DfuStatus.errADDRESS, `Block ${r.value} arrived out of order: block ${c.nextBlockNum} was expected`);
    return STALL;
  }
  const index = c.blockIndex;
  const outcome = await c.app.download(r.data, index);
  c.blockIndex = index + 1;
  c.nextBlockNum = (r.value + 1) & 0xffff;
  c.work = outcome;
  c.state = DfuState.dfuDNLOAD_SYNC;
  return ACK;
}

const downloadFirst: Handler = (c, r) => (r.data.length === 0 ? NOT_HERE : acceptBlock(c, r, true));

const downloadNext: Handler = async (c, r) => {
  if (r.data.length > 0) return acceptBlock(c, r, false);
  // DFU 1.1 §7.2: a zero-length DNLOAD ends the download; errNOTDONE if the device knows data is missing
  const missing = await c.app.incomplete();
  if (missing !== undefined) {
    await fail(c, DfuStatus.errNOTDONE, missing);
    return STALL;
  }
  c.manifested = false;
  c.state = DfuState.dfuMANIFEST_SYNC;
  return ACK;
};

/** GETSTATUS in dfuDNLOAD-SYNC: report the block (busy → dfuDNBUSY with bwPollTimeout, done → dfuDNLOAD-IDLE). */
const blockStatus: Handler = async (c) => {
  let w = c.work ?? { ok: true, busyMs: 0 };
  if (w === 'poll') w = await c.app.poll();
  if (!w.ok) {
    await fail(c, w.status, w.text);
    return statusReply(c, DfuState.dfuERROR);
  }
  const poll = Math.max(Math.ceil(w.busyMs), w.pending ? 1 : 0);
  if (poll > 0) {
    c.work = w.pending ? 'poll' : { ok: true, busyMs: 0 };
    c.pollUntil = c.app.now() + poll;
    c.state = DfuState.dfuDNBUSY;
    return statusReply(c, DfuState.dfuDNBUSY, poll);
  }
  c.work = undefined;
  c.state = DfuState.dfuDNLOAD_IDLE;
  return statusReply(c, DfuState.dfuDNLOAD_IDLE);
};

/** GETSTATUS in dfuMANIFEST-SYNC: start the manifestation (→ dfuMANIFEST), or report it done (→ dfuIDLE). */
const manifestStatus: Handler = async (c) => {
  if (c.manifested) {
    c.state = DfuState.dfuIDLE;
    return statusReply(c, DfuState.dfuIDLE);
  }
  const w = await c.app.manifest();
  if (!w.ok) {
    await fail(c, w.status, w.text);
    return statusReply(c, DfuState.dfuERROR);
  }
  c.manifested = true;
  const poll = Math.ceil(w.busyMs);
  c.pollUntil = c.app.now() + poll;
  c.state = DfuState.dfuMANIFEST;
  // not manifestation-tolerant: the device resets itself once done (bitWillDetach) or waits for a reset
  if (!(c.attributes & DFU_ATTRIBUTE.bitManifestationTolerant) && c.attributes & DFU_ATTRIBUTE.bitWillDetach) c.app.selfReset(poll);
  return statusReply(c, DfuState.dfuMANIFEST, poll);
};

const upload: Handler = async (c, r) => {
  if (!(c.attributes & DFU_ATTRIBUTE.bitCanUpload) || r.length === 0 || r.length > c.transferSize) return NOT_HERE;
  if (c.state === DfuState.dfuIDLE) c.uploadOffset = 0;
  const data = await c.app.upload(c.uploadOffset, r.length);
  c.uploadOffset += data.length;
  // DFU 1.1 §6.2: a short frame ends the upload
  c.state = data.length < r.length ? DfuState.dfuIDLE : DfuState.dfuUPLOAD_IDLE;
  return { stall: false, data };
};

const abortTransfer: Handler = async (c) => {
  await c.app.abort();
  c.work = undefined;
  c.state = DfuState.dfuIDLE;
  return ACK;
};

const clearStatus: Handler = (c) => {
  c.status = DfuStatus.OK;
  c.state = DfuState.dfuIDLE;
  return ACK;
};

/** DFU 1.1 Appendix A, state by state. Anything not here is refused by `refuse`. */
const TABLE: Record<DfuState, Partial<Record<DfuRequest, Handler>>> = {
  [DfuState.appIDLE]: {
    [DfuRequest.DFU_DETACH]: detach,
    [DfuRequest.DFU_GETSTATUS]: getStatus,
    [DfuRequest.DFU_GETSTATE]: getState,
  },
  [DfuState.appDETACH]: {
    [DfuRequest.DFU_GETSTATUS]: getStatus,
    [DfuRequest.DFU_GETSTATE]: getState,
  },
  [DfuState.dfuIDLE]: {
    [DfuRequest.DFU_DNLOAD]: downloadFirst,
    [DfuRequest.DFU_UPLOAD]: upload,
    [DfuRequest.DFU_ABORT]: abortTransfer,
    [DfuRequest.DFU_GETSTATUS]: getStatus,
    [DfuRequest.DFU_GETSTATE]: getState,
  },
  [DfuState.dfuDNLOAD_SYNC]: {
    [DfuRequest.DFU_GETSTATUS]: blockStatus,
    [DfuRequest.DFU_GETSTATE]: getState,
  },
  // any request before bwPollTimeout has passed is an error (the timed exit is in `elapse`)
  [DfuState.dfuDNBUSY]: {},
  [DfuState.dfuDNLOAD_IDLE]: {
    [DfuRequest.DFU_DNLOAD]: downloadNext,
    [DfuRequest.DFU_ABORT]: abortTransfer,
    [DfuRequest.DFU_GETSTATUS]: getStatus,
    [DfuRequest.DFU_GETSTATE]: getState,
  },
  [DfuState.dfuMANIFEST_SYNC]: {
    [DfuRequest.DFU_GETSTATUS]: manifestStatus,
    [DfuRequest.DFU_GETSTATE]: getState,
  },
  // manifesting: requests are not serviced until bwPollTimeout has passed
  [DfuState.dfuMANIFEST]: {},
  [DfuState.dfuMANIFEST_WAIT_RESET]: {},
  [DfuState.dfuUPLOAD_IDLE]: {
    [DfuRequest.DFU_UPLOAD]: upload,
    [DfuRequest.DFU_ABORT]: abortTransfer,
    [DfuRequest.DFU_GETSTATUS]: getStatus,
    [DfuRequest.DFU_GETSTATE]: getState,
  },
  [DfuState.dfuERROR]: {
    [DfuRequest.DFU_GETSTATUS]: getStatus,
    [DfuRequest.DFU_CLRSTATUS]: clearStatus,
    [DfuRequest.DFU_GETSTATE]: getState,
  },
};

/** Transitions driven by time rather than by a request (Appendix A: "bwPollTimeout elapses", detach timer). */
function elapse(c: DfuCore): void {
  const now = c.app.now();
  if (c.state === DfuState.dfuDNBUSY && now >= c.pollUntil) c.state = DfuState.dfuDNLOAD_SYNC;
  else if (c.state === DfuState.dfuMANIFEST && now >= c.pollUntil) {
    c.state = c.attributes & DFU_ATTRIBUTE.bitManifestationTolerant ? DfuState.dfuMANIFEST_SYNC : DfuState.dfuMANIFEST_WAIT_RESET;
  } else if (c.state === DfuState.appDETACH && !(c.attributes & DFU_ATTRIBUTE.bitWillDetach) && now >= c.detachUntil) c.state = DfuState.appIDLE;
}

function isRequest(n: number): n is DfuRequest {
  return Number.isInteger(n) && n >= 0 && n <= 6;
}

export interface DfuClassOptions {
  readonly attributes: number;
  readonly transferSize: number;
  readonly detachTimeoutMs: number;
}

export class DfuClass {
  readonly #c: DfuCore;

  constructor(app: DfuApplication, opts: DfuClassOptions) {
    this.#c = {
      app,
      attributes: opts.attributes,
      transferSize: opts.transferSize,
      detachTimeoutMs: opts.detachTimeoutMs,
      state: DfuState.appIDLE,
      status: DfuStatus.OK,
      text: '',
      pollUntil: 0,
      detachUntil: 0,
      work: undefined,
      manifested: false,
      nextBlockNum: 0,
      blockIndex: 0,
      uploadOffset: 0,
    };
    this.powerOn();
  }

  get state(): DfuState {
    return this.#c.state;
  }
  get status(): DfuStatus {
    return this.#c.status;
  }
  /** The last error sentence (string descriptor ERROR_STRING_INDEX); empty if none yet. */
  get errorText(): string {
    return this.#c.text;
  }
  get personality(): Personality {
    return this.#c.state <= DfuState.appDETACH ? 'runtime' : 'dfu';
  }

  /** A class request addressed to the DFU interface. */
  async handle(r: DfuSetup): Promise<DfuReply> {
    const c = this.#c;
    elapse(c);
    if (!isRequest(r.request)) return refuse(c, r);
    // a request whose direction or data stage does not fit its definition has no cell either
    const noData = r.request === DfuRequest.DFU_DETACH || r.request === DfuRequest.DFU_CLRSTATUS || r.request === DfuRequest.DFU_ABORT;
    if (REQUEST_DIRECTION[r.request] !== r.direction || (noData && r.data.length > 0)) return refuse(c, r);
    const handler = TABLE[c.state][r.request];
    if (!handler) return refuse(c, r);
    const answer = await handler(c, r);
    return answer === NOT_HERE ? refuse(c, r) : answer;
  }

  /**
   * A USB reset (from the host, or the device's own after DETACH or manifestation). Returns the
   * personality the device enumerates with next: appDETACH → DFU mode; any DFU state → run-time if
   * the firmware is valid (Appendix A), else dfuERROR / errFIRMWARE.
   */
  async usbReset(): Promise<Personality> {
    const c = this.#c;
    c.app.cancelSelfReset();
    if (c.state === DfuState.appIDLE) return 'runtime';
    if (c.state === DfuState.appDETACH) {
      this.#reset(DfuState.dfuIDLE);
      return 'dfu';
    }
    await c.app.abort();
    return this.#boot();
  }

  /** The bus went away (cable pulled): any download ends; the function starts over when it comes back. */
  async busLost(): Promise<void> {
    this.#c.app.cancelSelfReset();
    await this.#c.app.abort();
    this.#boot();
  }

  /** The device powered on (RAM lost): run-time if the firmware is valid. */
  powerOn(): Personality {
    this.#c.text = '';
    return this.#boot();
  }

  #boot(): Personality {
    if (this.#c.app.firmwareValid()) {
      this.#reset(DfuState.appIDLE);
      return 'runtime';
    }
    this.#reset(DfuState.dfuERROR);
    this.#c.status = DfuStatus.errFIRMWARE;
    this.#c.text = this.#c.app.firmwareInvalidText();
    return 'dfu';
  }

  #reset(state: DfuState): void {
    const c = this.#c;
    c.state = state;
    c.status = DfuStatus.OK;
    c.work = undefined;
    c.manifested = false;
    c.pollUntil = 0;
    c.uploadOffset = 0;
  }
}
