/**
 * One closed set of error codes for everything that talks to a device (fwupd's FwupdError habit),
 * each with a cause and context added on the way up ("cannot download block 12 of 2048: device
 * reported errWRITE in dfuERROR"). WebUSB failures — DOMExceptions and stall results — are
 * translated here and nowhere else.
 */
export type UpdateErrorCode =
  | 'InvalidFile'
  | 'InvalidData'
  | 'SignatureInvalid'
  | 'NotSupported'
  | 'Rejected'
  /** The device answered the request with a STALL (a protocol-level refusal, DFU 1.1 §6.1.1; MAINT under secure firmware). */
  | 'Stalled'
  | 'Read'
  | 'Write'
  | 'TimedOut'
  | 'Busy'
  | 'NotFound'
  | 'PermissionDenied'
  /** Cancelled by the person (Cancel, an AbortSignal): not a failure of the device or the image. */
  | 'Cancelled'
  /** The device refused the image or an instruction with an MCC error (`mccError` carries its code). */
  | 'DeviceRejected'
  | 'Internal';

/** An UpdateError as plain data (structured-clone and JSON safe). */
export interface WireError {
  readonly code: UpdateErrorCode;
  readonly message: string;
  readonly mccError?: number;
}

export class UpdateError extends Error {
  override name = 'UpdateError';
  constructor(
    readonly code: UpdateErrorCode,
    message: string,
    options?: { cause?: unknown; mccError?: number },
  ) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    if (options?.mccError !== undefined) this.mccError = options.mccError;
  }

  /** For DeviceRejected: the MCC error code the device answered with (mcc-codes.ts names it). */
  readonly mccError?: number;

  /** The same error with context in front: "cannot download block 12: …". */
  withContext(context: string): UpdateError {
    return new UpdateError(this.code, `${context}: ${this.message}`, { cause: this, ...(this.mccError !== undefined ? { mccError: this.mccError } : {}) });
  }

  /** What crosses a Worker or process boundary: the code, the sentence and the device's error, never a class. */
  toWire(): WireError {
    return { code: this.code, message: this.message, ...(this.mccError !== undefined ? { mccError: this.mccError } : {}) };
  }

  /** The same error again on the other side of a boundary. */
  static fromWire(w: WireError): UpdateError {
    return new UpdateError(w.code, w.message, w.mccError !== undefined ? { mccError: w.mccError } : undefined);
  }

  /** Any thrown value as an UpdateError: an UpdateError as it is, anything else as Internal. */
  static from(e: unknown): UpdateError {
    if (e instanceof UpdateError) return e;
    if (e instanceof DOMException && e.name === 'AbortError') return new UpdateError('Cancelled', 'cancelled', { cause: e });
    return new UpdateError('Internal', `${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}

/** Translates a thrown WebUSB (or node `usb`) error into an UpdateError. */
export function fromUsbError(e: unknown, doing: string): UpdateError {
  if (e instanceof UpdateError) return e.withContext(doing);
  const name = (e as { name?: string })?.name;
  const message = (e as { message?: string })?.message ?? String(e);
  switch (name) {
    case 'NotFoundError':
      return new UpdateError('NotFound', `${doing}: the device is gone (unplugged, reset or re-enumerated)`, { cause: e });
    case 'NetworkError':
      return new UpdateError('NotFound', `${doing}: the transfer failed; the device stopped answering (${message})`, { cause: e });
    case 'SecurityError':
    case 'NotAllowedError':
      return new UpdateError('PermissionDenied', `${doing}: the browser refused access to the device (${message})`, { cause: e });
    case 'InvalidStateError':
      return new UpdateError('Internal', `${doing}: the device is not open or the interface is not claimed (${message})`, { cause: e });
    case 'AbortError':
      return new UpdateError('Cancelled', `${doing}: cancelled`, { cause: e });
    case 'TimeoutError':
      return new UpdateError('TimedOut', `${doing}: ${message}`, { cause: e });
    case 'NotSupportedError':
      return new UpdateError('NotSupported', `${doing}: ${message}`, { cause: e });
    default:
      return new UpdateError('Internal', `${doing}: ${message}`, { cause: e });
  }
}

/** A STALL is a result in WebUSB, not an exception: it becomes one here. */
export function checkTransfer(status: USBTransferStatus | undefined, doing: string): void {
  if (status === 'ok') return;
  if (status === 'stall') throw new UpdateError('Stalled', `${doing}: the device stalled the request`);
  throw new UpdateError('Read', `${doing}: transfer status "${status}"`);
}

interface Pending {
  readonly due: number;
  readonly ms: number;
  readonly doing: string;
  readonly fail: (e: Error) => void;
}

/** Node's Timeout can stop holding the process open; a browser's timer id has no such method. */
type Timer = ReturnType<typeof setTimeout> & { ref?: () => unknown; unref?: () => unknown };

/**
 * Deadlines for one device's operations (WebUSB has none of its own), on one timer. An update is
 * tens of thousands of transfers, each a few microseconds on an emulated NIC, and arming and
 * clearing a timer per transfer cost about as much as the transfer. The timer is armed for the
 * earliest pending deadline; when it fires, what is overdue fails with TimedOut and the timer is
 * armed again for the next. While nothing is pending it stays armed but no longer holds a Node
 * process open.
 */
export class Deadlines {
  readonly #pending = new Set<Pending>();
  #timer: Timer | undefined;
  #armedFor = Infinity;

  run<T>(ms: number, doing: string, op: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { due: performance.now() + ms, ms, doing, fail: reject };
      this.#pending.add(entry);
      this.#arm(entry.due);
      let result: Promise<T>;
      try {
        result = op();
      } catch (e) {
        result = Promise.reject(e);
      }
      result.then(
        (v) => {
          this.#settled(entry);
          resolve(v);
        },
        (e: unknown) => {
          this.#settled(entry);
          reject(e);
        },
      );
    });
  }

  #arm(due: number): void {
    if (this.#timer !== undefined && this.#armedFor <= due) {
      this.#timer.ref?.();
      return;
    }
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedFor = due;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, due - performance.now())) as Timer;
  }

  #settled(entry: Pending): void {
    this.#pending.delete(entry);
    if (this.#pending.size === 0) this.#timer?.unref?.();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const p of [...this.#pending]) {
      if (p.due > now) {
        next = Math.min(next, p.due);
        continue;
      }
      this.#pending.delete(p);
      p.fail(new UpdateError('TimedOut', `${p.doing}: no answer within ${p.ms} ms (the device may be wedged; reconnect it)`));
    }
    if (next !== Infinity) this.#arm(next);
  }
}
