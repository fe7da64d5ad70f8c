/**
 * The page's hasher for format v2 images (issue #13), the counterpart of the CLI's
 * src/cli/block-pool.ts: the verification Worker hands runs of hash blocks to a few dedicated
 * Workers, each reading its run straight from the File (hash-span.ts) and hashing with WebCrypto.
 * The File is posted as a handle, never read whole; memory stays bounded by a few blocks per Worker
 * whatever the file's size. verify-image.ts still decides: this only answers the digests.
 * Small payloads are not worth starting Workers and are hashed in the calling thread.
 */
import { DIGEST_SIZE } from '../../core/image/layout.ts';
import { hashBlock, type BlockPlan } from '../../core/image/hash-blocks.ts';
import { hashBlocksWebCrypto, type BlockHasher, type BlockJob } from '../../core/verify/block-check.ts';
import { hashSpan, sha256Backend } from './hash-span.ts';
import type { SpanRequest, SpanResponse } from './block-protocol.ts';

/** Below this many payload bytes one thread is faster than starting Workers. */
export const PARALLEL_FROM = 8 * 1024 * 1024;
/** A Worker is handed runs of blocks this long (read in pieces of READ_BYTES, the next read while this one is hashed). */
export const SPAN_BYTES = 16 * 1024 * 1024;
/** Workers at most, whatever navigator.hardwareConcurrency says (each holds a few blocks). */
export const WORKERS_MAX = 8;

/** The part of a Worker the pool uses (a fake in unit tests). */
export interface HasherWorker {
  postMessage(m: SpanRequest): void;
  onmessage: ((ev: MessageEvent<SpanResponse>) => void) | null;
  onerror: ((ev: ErrorEvent) => void) | null;
  terminate(): void;
}

export interface PoolOptions {
  /** How many Workers (default: hardwareConcurrency, 1..WORKERS_MAX). */
  readonly workers?: number;
  /** Starts one Worker (default: block-hasher-worker.ts, built by Vite as its own chunk). */
  readonly spawn?: () => HasherWorker;
  readonly parallelFrom?: number;
  readonly spanBytes?: number;
}

const cores = () => (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) || 1;
const abortError = (signal?: AbortSignal) => signal?.reason ?? new DOMException('verification cancelled', 'AbortError');
const spawnHasher = (): HasherWorker => new Worker(new URL('./block-hasher-worker.ts', import.meta.url), { type: 'module', name: 'block-hasher' });

/** Runs of at most `spanBlocks` consecutive blocks covering the plan, in payload order. */
export function spansOf(plan: Pick<BlockPlan, 'count' | 'blockSize'>, spanBytes: number): { first: number; count: number }[] {
  const per = Math.max(1, Math.floor(spanBytes / plan.blockSize));
  const out: { first: number; count: number }[] = [];
  for (let first = 0; first < plan.count; first += per) out.push({ first, count: Math.min(per, plan.count - first) });
  return out;
}

/** One thread: the whole payload as one run (hash-span.ts), WebCrypto or hash-wasm. */
async function hashInThread(file: Blob, job: BlockJob): Promise<Uint8Array> {
  const { plan } = job;
  const out = new Uint8Array(plan.count * DIGEST_SIZE);
  let bytes = 0;
  await hashSpan(file, { ...geometry(plan), first: 0, count: plan.count }, sha256Backend(), (i, d) => {
    out.set(d, i * DIGEST_SIZE);
    const b = hashBlock(plan, i);
    bytes += b.end - b.start;
    job.onProgress?.({ done: bytes, total: plan.payloadSize });
  }, job.signal);
  return out;
}

const geometry = (plan: BlockPlan) => ({ payloadOffset: plan.payloadOffset, payloadSize: plan.payloadSize, blockSize: plan.blockSize });

/** The pool's hasher, and `warm()` to start its Workers ahead of the first verification. */
export interface PageBlockHasher extends BlockHasher {
  /** Starts the Workers now (at the verify Worker's start), so no verification pays for their start. */
  warm(): void;
}

/**
 * Workers are started once and kept between verifications: starting them is the costly part of a
 * verification's first milliseconds (docs/benchmarks.md, issue #13), and an idle Worker holds no
 * file bytes. A verification that is cancelled or fails terminates the Workers it used (they may be
 * mid-read) and the next one starts fresh ones.
 */
export function pageBlockHasher(opts: PoolOptions = {}): PageBlockHasher {
  const wanted = Math.min(WORKERS_MAX, Math.max(1, Math.floor(opts.workers ?? cores())));
  const spawn = opts.spawn ?? (typeof Worker === 'function' ? spawnHasher : undefined);
  const idle: HasherWorker[] = [];
  const take = (n: number) => {
    while (idle.length < n) idle.push(spawn!());
    return idle.splice(0, n);
  };
  const hasher = async (job: BlockJob): Promise<Uint8Array> => {
    const { plan, source, signal } = job;
    signal?.throwIfAborted();
    if (source instanceof Uint8Array) return hashBlocksWebCrypto(job);
    const file = source as Blob;
    if (plan.count === 0) {
      job.onProgress?.({ done: 0, total: 0 });
      return new Uint8Array(0);
    }
    const spans = spansOf(plan, opts.spanBytes ?? SPAN_BYTES);
    const n = Math.min(wanted, spans.length);
    if (!spawn || n < 2 || plan.payloadSize < (opts.parallelFrom ?? PARALLEL_FROM)) return hashInThread(file, job);

    const out = new Uint8Array(plan.count * DIGEST_SIZE);
    const seen = new Uint8Array(plan.count);
    const workers = take(n);
    let next = 0;
    let done = 0;
    let busy = 0;
    let bytes = 0;
    let clean = false;
    let abort = () => undefined as void;
    try {
      await new Promise<void>((resolve, reject) => {
        // cancel: reject at once; the finally below terminates every Worker mid-read
        abort = () => reject(abortError(signal));
        signal?.addEventListener('abort', abort, { once: true });
        const give = (w: HasherWorker) => {
          const s = spans[next++];
          if (s) {
            busy++;
            w.postMessage({ file, ...geometry(plan), ...s });
          } else if (busy === 0) {
            if (done === plan.count) resolve();
            else reject(new Error(`the block-hasher Workers finished with ${plan.count - done} of ${plan.count} blocks unanswered`));
          }
        };
        for (const w of workers) {
          w.onerror = (e) => {
            e.preventDefault?.();
            reject(new Error(`a block-hasher Worker failed: ${e.message || 'it could not start'}`));
          };
          w.onmessage = ({ data: m }) => {
            if (m.kind === 'error') return reject(Object.assign(new Error(m.message), { name: m.name }));
            if (m.kind === 'done') {
              busy--;
              return give(w);
            }
            // a Worker answers only for blocks of the run it was given: anything else is a bug, not a verdict
            if (!Number.isInteger(m.index) || m.index < 0 || m.index >= plan.count || seen[m.index] || m.digest.length !== DIGEST_SIZE) return reject(new Error(`a block-hasher Worker answered block ${m.index} unasked`));
            seen[m.index] = 1;
            out.set(m.digest, m.index * DIGEST_SIZE);
            const b = hashBlock(plan, m.index);
            bytes += b.end - b.start;
            job.onProgress?.({ done: bytes, total: plan.payloadSize });
            done++;
          };
          give(w);
        }
      });
      clean = true;
    } finally {
      signal?.removeEventListener('abort', abort);
      for (const w of workers) {
        w.onmessage = null;
        w.onerror = null;
        // resolved only once every Worker answered 'done' for its last run: nothing is in flight
        if (clean) idle.push(w);
        else w.terminate();
      }
    }
    return out;
  };
  return Object.assign(hasher, {
    warm: () => {
      if (spawn && wanted >= 2) take(wanted).forEach((w) => idle.push(w));
    },
  });
}
