/**
 * The page's end of the device side: requests get an id and a promise that settles with their
 * `done`; events go to every subscriber (the device, update and log state classes). The backend —
 * the device Worker, the page-side service for real USB, a fake in unit tests — comes in through
 * the constructor.
 */
import type { DeviceEvent, DeviceRequest } from '../../service/device-protocol.ts';
import { UpdateError } from '../../core/dfu/errors.ts';

/** Distributes Omit over the request union, so each kind keeps its own fields. */
export type RequestBody = DeviceRequest extends infer R ? (R extends DeviceRequest ? Omit<R, 'id'> : never) : never;

export interface DeviceBackend {
  post(req: DeviceRequest, transfer?: Transferable[]): void;
  onMessage(handler: (e: DeviceEvent) => void): void;
}

export class DeviceChannel {
  readonly #backend: DeviceBackend;
  readonly #pending = new Map<number, { resolve: () => void; reject: (e: UpdateError) => void }>();
  readonly #subscribers = new Set<(e: DeviceEvent) => void>();
  #nextId = 1;

  constructor(backend: DeviceBackend) {
    this.#backend = backend;
    backend.onMessage((e) => this.#receive(e));
  }

  subscribe(handler: (e: DeviceEvent) => void): () => void {
    this.#subscribers.add(handler);
    return () => this.#subscribers.delete(handler);
  }

  /** Sends a request; resolves when the device side is done with it, rejects with its error (an UpdateError with the code it was born with). */
  request(body: RequestBody, transfer?: Transferable[]): Promise<void> {
    const id = this.#nextId++;
    const done = new Promise<void>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.#backend.post({ ...body, id } as DeviceRequest, transfer);
    return done;
  }

  #receive(e: DeviceEvent): void {
    for (const s of this.#subscribers) s(e);
    if (e.kind === 'done' && e.id === -1) {
      // the device side itself failed: nothing in flight will be answered
      for (const p of this.#pending.values()) p.reject(UpdateError.fromWire(e.error ?? { code: 'Internal', message: 'the device side stopped' }));
      this.#pending.clear();
    } else if (e.kind === 'done') {
      const p = this.#pending.get(e.id);
      this.#pending.delete(e.id);
      if (e.error !== undefined) p?.reject(UpdateError.fromWire(e.error));
      else p?.resolve();
    }
  }
}
