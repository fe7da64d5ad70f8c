/// <reference lib="webworker" />
/**
 * A block-hasher Worker (issue #13): hashes the runs of format v2 hash blocks the verification
 * Worker's pool hands it, reading each run straight from the File and answering one digest per
 * block. It holds no state between runs, so the pool may give any run to any Worker.
 */
import { hashSpan, sha256Backend } from './hash-span.ts';
import type { SpanRequest, SpanResponse } from './block-protocol.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = (m: SpanResponse) => scope.postMessage(m);
const digest = sha256Backend();

scope.onmessage = async (ev: MessageEvent<SpanRequest>) => {
  const { file, ...job } = ev.data;
  try {
    await hashSpan(file, job, digest, (index, d) => post({ kind: 'digest', index, digest: d }));
    post({ kind: 'done', first: job.first });
  } catch (e) {
    post({ kind: 'error', first: job.first, name: (e as Error)?.name ?? 'Error', message: (e as Error)?.message ?? String(e) });
  }
};
