/** Typed messages between the verification Worker and its block-hasher Workers (block-pool.ts). */
import type { SpanJob } from './hash-span.ts';

/** Hash a run of blocks of `file` (a Blob is posted as a handle: no bytes are copied). */
export interface SpanRequest extends SpanJob {
  readonly file: Blob;
}

export type SpanResponse =
  | { kind: 'digest'; index: number; digest: Uint8Array }
  | { kind: 'done'; first: number }
  /** `name` survives the Worker boundary so the caller need not match on message text. */
  | { kind: 'error'; first: number; name: string; message: string };
