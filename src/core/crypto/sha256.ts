/**
 * SHA-256, two backends behind one streaming interface (noble-hashes' update/digest shape):
 * - hash-wasm: incremental, so a File/Blob of any size hashes in constant memory;
 * - WebCrypto: one-shot only (SubtleCrypto has no incremental digest), faster where it runs.
 * Both are checked against every NIST CAVP SHA-256 vector (tests/unit/crypto/sha256-nist.test.ts).
 */
import { createSHA256, type IHasher } from 'hash-wasm';
import { aint } from '../bytes/assert.ts';

export interface Sha256 {
  update(bytes: Uint8Array): this;
  digest(): Uint8Array;
}

/**
 * hash-wasm's createSHA256() instantiates a new WebAssembly instance per call (~0.4 ms); finished
 * hashers go back to a small pool and are re-initialised instead.
 */
const pool: IHasher[] = [];
const POOL_MAX = 4;

class WasmSha256 implements Sha256 {
  #h: IHasher | undefined;
  constructor(h: IHasher) {
    this.#h = h.init();
  }
  update(bytes: Uint8Array): this {
    if (!this.#h) throw new Error('sha256: update() after digest()');
    this.#h.update(bytes);
    return this;
  }
  digest(): Uint8Array {
    if (!this.#h) throw new Error('sha256: digest() called twice');
    const out = this.#h.digest('binary');
    if (pool.length < POOL_MAX) pool.push(this.#h);
    this.#h = undefined;
    return out;
  }
}

/** A fresh streaming SHA-256 (hash-wasm). */
export async function createSha256(): Promise<Sha256> {
  return new WasmSha256(pool.pop() ?? (await createSHA256()));
}

/** One-shot SHA-256 with hash-wasm. */
export async function sha256Wasm(bytes: Uint8Array): Promise<Uint8Array> {
  return (await createSha256()).update(bytes).digest();
}

/** One-shot SHA-256 with WebCrypto. */
export async function sha256WebCrypto(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

export const DEFAULT_CHUNK = 2 * 1024 * 1024;

export interface HashProgress {
  readonly done: number;
  readonly total: number;
}

/** Anything with Blob's slice/size/arrayBuffer: a File, a Blob, Node's fs.openAsBlob(). */
export interface BlobLike {
  readonly size: number;
  slice(start?: number, end?: number): { arrayBuffer(): Promise<ArrayBuffer> };
  /**
   * Optional: reads the bytes from `start` into `into` and says how many it read (fewer only where
   * the file ends). A reader that loops over a file uses it to read into buffers it reuses instead
   * of a new one per read (the CLI's files have it; a browser File does not).
   */
  readInto?(start: number, into: Uint8Array): Promise<number>;
}

/**
 * Streams bytes [start, end) of a Blob through SHA-256 in `chunkSize` pieces (1–4 MiB), holding one
 * chunk at a time, and reports progress after each.
 */
export async function sha256Blob(
  blob: BlobLike,
  opts: { start?: number; end?: number; chunkSize?: number; onProgress?: (p: HashProgress) => void; signal?: AbortSignal } = {},
): Promise<Uint8Array> {
  const start = opts.start ?? 0;
  const end = opts.end ?? blob.size;
  const chunk = opts.chunkSize ?? DEFAULT_CHUNK;
  aint('chunkSize', chunk, 1024 * 1024, 4 * 1024 * 1024);
  const h = await createSha256();
  const total = end - start;
  for (let at = start; at < end; at += chunk) {
    opts.signal?.throwIfAborted();
    const piece = new Uint8Array(await blob.slice(at, Math.min(end, at + chunk)).arrayBuffer());
    h.update(piece);
    opts.onProgress?.({ done: Math.min(end, at + chunk) - start, total });
  }
  if (total === 0) opts.onProgress?.({ done: 0, total: 0 });
  return h.digest();
}

/** Streams an in-memory buffer through hash-wasm in chunks, with progress (the update path hashes the one buffer it sends). */
export async function sha256Chunked(bytes: Uint8Array, opts: { chunkSize?: number; onProgress?: (p: HashProgress) => void } = {}): Promise<Uint8Array> {
  const chunk = opts.chunkSize ?? DEFAULT_CHUNK;
  const h = await createSha256();
  for (let at = 0; at < bytes.length; at += chunk) {
    h.update(bytes.subarray(at, at + chunk));
    opts.onProgress?.({ done: Math.min(bytes.length, at + chunk), total: bytes.length });
  }
  return h.digest();
}
