/** A device backend for the state classes' tests: records requests, and the test plays the device side's events. */
import type { UpdateErrorCode } from '../../../src/core/dfu/errors.ts';
import type { DeviceBackend } from '../../../src/ui/state/device-channel.ts';
import type { DeviceEvent, DeviceRequest } from '../../../src/service/device-protocol.ts';

export class FakeBackend implements DeviceBackend {
  readonly sent: { req: DeviceRequest; transfer: Transferable[] | undefined }[] = [];
  /** Answers each request as it arrives (default: nothing; the test calls done()). */
  reply: ((req: DeviceRequest, fake: FakeBackend) => void) | undefined;
  #handler: ((e: DeviceEvent) => void) | undefined;

  post(req: DeviceRequest, transfer?: Transferable[]): void {
    this.sent.push({ req, transfer });
    this.reply?.(req, this);
  }
  onMessage(handler: (e: DeviceEvent) => void): void {
    this.#handler = handler;
  }
  emit(e: DeviceEvent): void {
    this.#handler?.(e);
  }
  done(id: number, error?: string, code: UpdateErrorCode = 'Internal'): void {
    this.emit({ kind: 'done', id, ...(error !== undefined ? { error: { code, message: error } } : {}) });
  }
  last<K extends DeviceRequest['kind']>(kind: K): Extract<DeviceRequest, { kind: K }> | undefined {
    return this.sent.map((s) => s.req).filter((r): r is Extract<DeviceRequest, { kind: K }> => r.kind === kind).at(-1);
  }
}

/** Lets queued promise continuations run. */
export const tick = () => new Promise<void>((r) => setTimeout(r, 0));
