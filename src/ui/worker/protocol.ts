/** Typed messages between the page and the verification Worker. */
import type { Report } from '../../core/verify/report.ts';
import type { DeviceIdentity } from '../../core/verify/verify-image.ts';

import type { TrustSource } from '../../core/crypto/trust.ts';
/** A trust file as text (the one definition is core's). */
export type { TrustSource };

export type WorkerRequest =
  | { id: number; kind: 'image'; file: Blob; trust: readonly TrustSource[]; device?: DeviceIdentity; now?: number; production?: boolean }
  | { id: number; kind: 'detached'; file: Blob; signature: Blob; certificates: readonly TrustSource[]; trust: readonly TrustSource[]; now?: number; production?: boolean }
  | { id: number; kind: 'cancel' };

export type WorkerResponse =
  | { id: number; kind: 'progress'; done: number; total: number }
  | { id: number; kind: 'report'; report: Report; trustErrors: string[] }
  | { id: number; kind: 'error'; message: string };
