/**
 * Hashing a run of consecutive format v2 hash blocks from a File/Blob (docs/image-format.md §13):
 * the run is read in pieces of whole blocks and each block of a piece is digested from a view of
 * it. Chromium reads a File through its browser process: one `arrayBuffer()` of a few MiB costs far
 * less per byte than a stream of small chunks or one read per 1 MiB block (see docs/benchmarks.md,
 * issue #13); memory stays bounded by two pieces per Worker whatever the run's length.
 * WebCrypto (the CPU's SHA extensions) where it runs; hash-wasm where it does not (an insecure
 * context has no `crypto.subtle`). */
import { sha256Wasm } from '../../core/crypto/sha256.ts';

/** Which blocks to hash: the plan's geometry and a run of block indices [first, first + count). */
export interface SpanJob {
  readonly payloadOffset: number;
  readonly payloadSize: number;
  readonly blockSize: number;
  readonly first: number;
  readonly count: number;
}

export type Digest = (bytes: Uint8Array<ArrayBuffer>) => Promise<Uint8Array>;

/** WebCrypto when the context has it, hash-wasm when it does not (an insecure context). */
export function sha256Backend(subtle: SubtleCrypto | undefined = globalThis.crypto?.subtle): Digest {
  if (subtle) return async (b) => new Uint8Array(await subtle.digest('SHA-256', b));
  return (b) => sha256Wasm(b);
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

/** One read is at most this long (whole blocks; a larger block is read alone). */
export const READ_BYTES = 8 * 1024 * 1024;

/** The reads covering a run: whole blocks, at most READ_BYTES each (or one block when blocks are larger). */
function readsOf(job: SpanJob, start: number, end: number): { first: number; start: number; end: number }[] {
  const per = Math.max(1, Math.floor(READ_BYTES / job.blockSize));
  const out: { first: number; start: number; end: number }[] = [];
  for (let i = 0; i < job.count; i += per) {
    const s = start + i * job.blockSize;
    out.push({ first: job.first + i, start: s, end: Math.min(end, s + per * job.blockSize) });
  }
  return out;
}

/** Buffers of finished pieces, kept for the next ones (two per thread: the piece hashed and the one read). */
const spare: ArrayBuffer[] = [];
const SPARE_MAX = 2;

function takeBuffer(n: number): ArrayBuffer {
  const i = spare.findIndex((b) => b.byteLength >= n);
  return i >= 0 ? spare.splice(i, 1)[0]! : new ArrayBuffer(Math.max(n, READ_BYTES));
}

function giveBuffer(b: ArrayBuffer): void {
  if (spare.length < SPARE_MAX && b.byteLength >= READ_BYTES) spare.push(b);
}

/**
 * Bytes [start, end) of `file`, read into a kept buffer through a BYOB reader (a Blob's stream is a
 * byte stream), so a verification of any size reuses the same two buffers per thread instead of
 * leaving one garbage ArrayBuffer per piece for the collector (the renderer's memory grew with the
 * file's size when each piece was `arrayBuffer()`, docs/benchmarks.md). Where the stream is not a
 * byte stream, one `arrayBuffer()` per piece. Shorter than asked only if the file is.
 */
export async function readPiece(file: Blob, start: number, end: number): Promise<Uint8Array<ArrayBuffer>> {
  const n = end - start;
  const stream = file.slice(start, end).stream();
  let reader: ReadableStreamBYOBReader;
  try {
    reader = stream.getReader({ mode: 'byob' });
  } catch {
    await stream.cancel().catch(() => undefined);
    return new Uint8Array(await file.slice(start, end).arrayBuffer());
  }
  let buf = takeBuffer(n);
  let off = 0;
  try {
    while (off < n) {
      // the read transfers `buf` to the stream and hands back a view of it, filled
      const { done, value } = await reader.read(new Uint8Array(buf, off, n - off));
      if (!value) break;
      buf = value.buffer as ArrayBuffer;
      off += value.byteLength;
      if (done) break;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return new Uint8Array(buf, 0, off);
}

/**
 * Hashes blocks first..first+count-1 of `file`, calling `onBlock(index, digest)` for each as its
 * digest is ready. The run is read in pieces of whole blocks, each with one read into a kept buffer
 * (readPiece; one browser-process read per piece is measured 2–3× faster in Chromium than a stream of
 * small chunks, docs/benchmarks.md), the next piece read while this one's blocks are digested, all
 * of a piece's blocks in flight at once (WebCrypto digests off the calling thread). At most two
 * pieces are held. A file shorter than the plan (changed since it was picked) is an error naming the block.
 */
export async function hashSpan(file: Blob, job: SpanJob, digest: Digest, onBlock: (index: number, digest: Uint8Array) => void, signal?: AbortSignal): Promise<void> {
  const { start, end } = spanRange(job);
  const reads = readsOf(job, start, end);
  const read = (k: number) => {
    const r = reads[k]!;
    const p = readPiece(file, r.start, r.end);
    p.catch(() => undefined); // awaited below; a failure before that is not an unhandled rejection
    return p;
  };
  let pending = read(0);
  for (let k = 0; k < reads.length; k++) {
    signal?.throwIfAborted();
    const r = reads[k]!;
    const bytes = await pending;
    if (k + 1 < reads.length) pending = read(k + 1);
    if (bytes.length !== r.end - r.start) {
      const at = r.start + bytes.length;
      throw new RangeError(`the file ended in hash block ${r.first + Math.floor(bytes.length / job.blockSize)}, at byte ${at} (it changed while being verified)`);
    }
    const digests: Promise<void>[] = [];
    for (let off = 0, i = r.first; off < bytes.length; off += job.blockSize, i++) {
      const block = bytes.subarray(off, Math.min(bytes.length, off + job.blockSize));
      digests.push(digest(block).then((d) => onBlock(i, d)));
    }
    await Promise.all(digests);
    // every digest has its bytes (WebCrypto copies them; hash-wasm has finished): the buffer is free
    giveBuffer(bytes.buffer);
  }
}
