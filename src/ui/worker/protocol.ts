/** Typed messages between the page and the verification Worker. */
import type { Report } from '../../core/verify/report.ts';
import type { DeviceIdentity } from '../../core/verify/verify-image.ts';

import type { TrustSource } from '../../core/crypto/trust.ts';
/** A trust file as text (the one definition is core's). */
export type { TrustSource };

/** A release catalog file and the sequences seen before (catalog.svelte.ts): verified in the Worker, at the validation time. */
export interface CatalogForWorker {
  readonly bytes: Uint8Array;
  readonly lastSeen: Readonly<Record<string, number>>;
}

export type WorkerRequest =
  | { id: number; kind: 'image'; file: Blob; trust: readonly TrustSource[]; device?: DeviceIdentity; now?: number; production?: boolean; catalog?: CatalogForWorker }
  | { id: number; kind: 'detached'; file: Blob; signature: Blob; certificates: readonly TrustSource[]; trust: readonly TrustSource[]; now?: number; production?: boolean }
  | { id: number; kind: 'cancel' };

export type WorkerResponse =
  | { id: number; kind: 'progress'; done: number; total: number }
  | { id: number; kind: 'report'; report: Report; trustErrors: string[] }
  | { id: number; kind: 'error'; message: string };
