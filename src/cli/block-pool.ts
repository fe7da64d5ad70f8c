/**
 * `trustflash verify`'s hasher for format v2 images (issue #13): the hash blocks are hashed in
 * parallel by worker threads with Node's crypto, at most os.availableParallelism() of them, each
 * reading its block straight from the file into one reusable buffer. Memory stays bounded (one
 * block per worker, at most 16 MiB each) however large the image; nothing reads the file whole, and
 * nothing hashes the whole payload. Small payloads are not worth the threads' start-up and go
 * through core's WebCrypto hasher.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { DIGEST_SIZE } from '../core/image/layout.ts';
import { hashBlock } from '../core/image/hash-blocks.ts';
import { hashBlocksWebCrypto, type BlockHasher } from '../core/verify/block-check.ts';

/** Below this many payload bytes core's WebCrypto hasher is faster than starting threads. */
const PARALLEL_FROM = 8 * 1024 * 1024;

// The worker: a CommonJS script (eval), so the bundle needs no second entry point.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
const fd = openSync(workerData.path, 'r');
const buf = Buffer.allocUnsafe(workerData.blockSize);
parentPort.on('message', (job) => {
  if (job === null) { closeSync(fd); parentPort.close(); return; }
  try {
    let got = 0;
    while (got < job.length) {
      const n = readSync(fd, buf, got, job.length - got, job.offset + got);
      if (n === 0) throw new Error('the file ended at byte ' + (job.offset + got) + ' (it changed while being verified)');
      got += n;
    }
    parentPort.postMessage({ index: job.index, digest: createHash('sha256').update(buf.subarray(0, job.length)).digest() });
  } catch (e) {
    parentPort.postMessage({ index: job.index, error: String(e && e.message || e) });
  }
});
`;

/** A BlockHasher reading the image from `path` (the file the verifier's Blob is over). */
export function nodeBlockHasher(path: string, threads = availableParallelism()): BlockHasher {
  return async (job) => {
    const { plan } = job;
    if (plan.payloadSize < PARALLEL_FROM || threads < 2) return hashBlocksWebCrypto(job);
    const out = new Uint8Array(plan.count * DIGEST_SIZE);
    const n = Math.min(threads, plan.count);
    const workers = Array.from({ length: n }, () => new Worker(WORKER, { eval: true, workerData: { path, blockSize: plan.blockSize } }));
    let next = 0;
    let done = 0;
    let bytes = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        const abort = () => reject(job.signal?.reason ?? new DOMException('verification cancelled', 'AbortError'));
        if (job.signal?.aborted) return abort();
        job.signal?.addEventListener('abort', abort, { once: true });
        const give = (w: Worker) => {
          if (next >= plan.count) return;
          const b = hashBlock(plan, next++);
          w.postMessage({ index: b.index, offset: plan.payloadOffset + b.start, length: b.end - b.start });
        };
        for (const w of workers) {
          w.on('error', reject);
          w.on('message', (m: { index: number; digest?: Uint8Array; error?: string }) => {
            if (m.error !== undefined || !m.digest) return reject(new Error(m.error ?? 'a hashing thread gave no digest'));
            out.set(m.digest, m.index * DIGEST_SIZE);
            const b = hashBlock(plan, m.index);
            bytes += b.end - b.start;
            job.onProgress?.({ done: bytes, total: plan.payloadSize });
            if (++done === plan.count) resolve();
            else give(w);
          });
          give(w);
        }
      });
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
    return out;
  };
}
