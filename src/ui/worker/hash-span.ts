/**
 * Hashing a run of consecutive format v2 hash blocks from a File/Blob (docs/image-format.md §13):
 * one `slice(start, end).stream()` over the run, each block assembled into its own buffer and
 * digested the moment its last byte arrives (WebCrypto copies it, so one buffer serves the run). Chromium reads a File through its browser process, and
 * one stream over several blocks costs far less per byte than one `arrayBuffer()` per block (see
 * docs/benchmarks.md, issue #13); memory stays bounded by a few blocks whatever the run's length.
 * WebCrypto (the CPU's SHA extensions) where it runs; hash-wasm where it does not (an insecure
 * context has no `crypto.subtle`).
 */
import { sha256Wasm } from '../../core/crypto/sha256.ts';

/** Which blocks to hash: the plan's geometry and a run of block indices [first, first + count). */
export interface SpanJob {
  readonly payloadOffset: number;
  readonly payloadSize: number;
  readonly blockSize: number;
  readonly first: number;
  readonly count: number;
}

export interface Digest {
  (bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array>;
  /** The bytes are copied before the call returns, so the caller may refill them at once. */
  readonly copiesInput: boolean;
}

/** A block's digest is computed while the next block is read; at most this many wait at once. */
const DIGESTS_IN_FLIGHT = 2;

/** WebCrypto when the context has it, hash-wasm when it does not (an insecure context). */
export function sha256Backend(subtle: SubtleCrypto | undefined = globalThis.crypto?.subtle): Digest {
  // WebCrypto §14.3.5 digest() step 2: "get a copy of the bytes held by the data parameter", before the promise is returned
  if (subtle) return Object.assign(async (b: Uint8Array<ArrayBuffer>) => new Uint8Array(await subtle.digest('SHA-256', b)), { copiesInput: true });
  return Object.assign((b: Uint8Array<ArrayBuffer>) => sha256Wasm(b), { copiesInput: false });
}

/** The file range [start, end) of a run of blocks, and each block's payload range. */
export function spanRange(job: SpanJob): { start: number; end: number } {
  const { payloadOffset, payloadSize, blockSize, first, count } = job;
  const ok = (n: number) => Number.isSafeInteger(n) && n >= 0;
  if (!ok(payloadOffset) || !ok(payloadSize) || !ok(first) || !ok(blockSize) || blockSize === 0 || !ok(count) || count === 0 || (first + count - 1) * blockSize >= payloadSize) {
    throw new RangeError(`"job" expected a run of blocks inside the ${payloadSize}-byte payload, got blocks ${first}..${first + count - 1} of ${blockSize} bytes at offset ${payloadOffset}`);
  }
  return { start: payloadOffset + first * blockSize, end: payloadOffset + Math.min(payloadSize, (first + count) * blockSize) };
}

/**
 * Hashes blocks first..first+count-1 of `file`, calling `onBlock(index, digest)` for each as its
 * digest is ready.
 * A file shorter than the plan (changed since it was picked) is an error naming the block.
 */
export async function hashSpan(file: Blob, job: SpanJob, digest: Digest, onBlock: (index: number, digest: Uint8Array) => void, signal?: AbortSignal): Promise<void> {
  const { start, end } = spanRange(job);
  const reader = file.slice(start, end).stream().getReader();
  const waiting: Promise<void>[] = [];
  let index = job.first;
  let pos = start;
  // one buffer per run when the digest copies its input (WebCrypto): no garbage per block
  const reused = digest.copiesInput ? new Uint8Array(Math.min(job.blockSize, end - pos)) : undefined;
  const nextBlock = () => (reused ? reused.subarray(0, Math.min(job.blockSize, end - pos)) : new Uint8Array(Math.min(job.blockSize, end - pos)));
  let block = nextBlock();
  let fill = 0;
  try {
    for (;;) {
      signal?.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      for (let off = 0; off < value.length; ) {
        if (index >= job.first + job.count) throw new RangeError(`the file has more bytes than hash blocks ${job.first}..${job.first + job.count - 1} (it changed while being verified)`);
        const n = Math.min(block.length - fill, value.length - off);
        block.set(value.subarray(off, off + n), fill);
        fill += n;
        off += n;
        if (fill < block.length) continue;
        const i = index++;
        const p = digest(block).then((d) => onBlock(i, d));
        p.catch(() => undefined); // awaited below; a failure before that is not an unhandled rejection
        waiting.push(p);
        pos += fill;
        fill = 0;
        block = nextBlock();
        if (waiting.length >= DIGESTS_IN_FLIGHT) await waiting.shift();
      }
    }
  } catch (e) {
    await reader.cancel(e).catch(() => undefined);
    throw e;
  }
  await Promise.all(waiting);
  if (index !== job.first + job.count) throw new RangeError(`the file ended in hash block ${index}, at byte ${pos + fill} (it changed while being verified)`);
}
