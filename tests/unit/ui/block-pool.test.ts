/**
 * The page's v2 block hasher (issue #13): hash-span.ts reading runs of hash blocks from a Blob with
 * WebCrypto and with hash-wasm (both must agree with core's WebCrypto hasher), and block-pool.ts
 * dispatching runs to Workers — here fake Workers that run the very worker code in this thread, so
 * the dispatch, the progress, cancel and a Worker's failure are checked without a browser (the real
 * Workers run in tests/e2e/page-verify.spec.ts).
 */
import { describe, expect, it } from 'vitest';
import { parseImage } from '../../../src/core/image/parse.ts';
import { blockPlanOf, type BlockPlan } from '../../../src/core/image/hash-blocks.ts';
import { signImage } from '../../../src/core/sign/sign-image.ts';
import { badBlocks, hashBlocksWebCrypto } from '../../../src/core/verify/block-check.ts';
import { hashSpan, readPiece, sha256Backend } from '../../../src/ui/worker/hash-span.ts';
import { pageBlockHasher, spansOf, type HasherWorker } from '../../../src/ui/worker/block-pool.ts';
import type { SpanRequest, SpanResponse } from '../../../src/ui/worker/block-protocol.ts';
import { DRAFT, demoKey, demoCert, payloadOf } from '../helpers/demo.ts';

const BLOCK = 4096;

/** A v2 image of `size` payload bytes in 4 KiB blocks (a short last block unless size is a multiple). */
async function image(size: number): Promise<{ bytes: Uint8Array<ArrayBuffer>; plan: BlockPlan }> {
  const bytes = await signImage({ ...DRAFT, psids: ['TF_0000000001'] }, payloadOf(size), [{ key: await demoKey('signer'), chain: [await demoCert('signer')] }], { hashBlockSize: BLOCK });
  const h = parseImage(bytes);
  if (!h.ok) throw new Error('the test image does not parse');
  return { bytes: bytes as Uint8Array<ArrayBuffer>, plan: blockPlanOf(h.value)! };
}

/** A Worker stand-in running block-hasher-worker.ts's logic in this thread, asynchronously. */
class FakeWorker implements HasherWorker {
  onmessage: ((ev: MessageEvent<SpanResponse>) => void) | null = null;
  onerror: ((ev: ErrorEvent) => void) | null = null;
  terminated = false;
  readonly asked: number[] = [];
  constructor(readonly opts: { fail?: boolean; stall?: boolean } = {}) {}
  postMessage({ file, ...job }: SpanRequest): void {
    this.asked.push(job.first);
    const send = (m: SpanResponse) => !this.terminated && this.onmessage?.({ data: m } as MessageEvent<SpanResponse>);
    if (this.opts.fail) return void setTimeout(() => this.onerror?.({ message: 'could not load', preventDefault() {} } as ErrorEvent));
    if (this.opts.stall) return;
    void hashSpan(file, job, sha256Backend(), (index, digest) => send({ kind: 'digest', index, digest }))
      .then(() => send({ kind: 'done', first: job.first }))
      .catch((e: Error) => send({ kind: 'error', first: job.first, name: e.name, message: e.message }));
  }
  terminate(): void {
    this.terminated = true;
  }
}

describe('hash-span: a run of blocks read from a Blob', () => {
  it('WebCrypto and hash-wasm give the digests of core’s WebCrypto hasher, the short last block included', async () => {
    const { bytes, plan } = await image(10 * BLOCK + 7);
    const want = await hashBlocksWebCrypto({ source: bytes, plan });
    for (const backend of [sha256Backend(), sha256Backend(undefined)]) {
      const got = new Uint8Array(want.length);
      // runs of 3 blocks, the last run shorter, in any order
      for (const s of spansOf(plan, 3 * BLOCK).reverse()) {
        await hashSpan(new Blob([bytes]), { ...plan, ...s }, backend, (i, d) => got.set(d, i * 32));
      }
      expect(got).toEqual(want);
    }
  });

  it('a file shorter than the plan (changed after the pick) is an error naming the block, not a digest', async () => {
    const { bytes, plan } = await image(4 * BLOCK);
    const cut = new Blob([bytes.subarray(0, bytes.length - 100)]);
    await expect(hashSpan(cut, { ...plan, first: 0, count: 4 }, sha256Backend(), () => undefined)).rejects.toThrow(/ended in hash block 3/);
    await expect(hashSpan(cut, { ...plan, first: 4, count: 1 }, sha256Backend(), () => undefined)).rejects.toThrow('"job" expected a run of blocks inside the 16384-byte payload, got blocks 4..4');
  });
});

describe('hash-span: readPiece', () => {
  const bytes = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 31 + (i >> 9)) & 0xff);
  const ranges: [number, number][] = [[0, 1], [5, 4096], [0, bytes.length], [1024 * 1024 - 3, 2 * 1024 * 1024 + 5], [bytes.length - 17, bytes.length]];

  it('reads exactly [start, end) of a Blob through its byte stream, each range twice in a row (the second read into a kept buffer)', async () => {
    const blob = new Blob([bytes]);
    for (const [a, b] of [...ranges, ...ranges]) expect(Buffer.from(await readPiece(blob, a, b)).equals(Buffer.from(bytes.subarray(a, b))), `${a}..${b}`).toBe(true);
  });

  it('where the stream is not a byte stream (no BYOB reader), one arrayBuffer() per piece gives the same bytes', async () => {
    const blob = new Blob([bytes]);
    // a Blob whose slices stream as a default (non-byte) stream, as some engines give
    const plain = {
      slice: (a: number, b: number) => {
        const part = blob.slice(a, b);
        return Object.assign(part, { stream: () => new ReadableStream({ start: (c) => c.close() }) });
      },
    } as unknown as Blob;
    for (const [a, b] of ranges) expect(Buffer.from(await readPiece(plain, a, b)).equals(Buffer.from(bytes.subarray(a, b))), `${a}..${b}`).toBe(true);
  });

  it('a file shorter than the range gives the bytes there are (hashSpan then names the block)', async () => {
    const blob = new Blob([bytes.subarray(0, 1000)]);
    expect((await readPiece(blob, 0, 4096)).length).toBe(1000);
  });
});

describe('block-pool: runs of blocks handed to Workers', () => {
  it('three Workers give the sequential digests; progress only grows and ends at the payload size; the Workers are kept for the next verification', async () => {
    const { bytes, plan } = await image(50 * BLOCK + 1);
    const workers: FakeWorker[] = [];
    const hasher = pageBlockHasher({ workers: 3, parallelFrom: 0, spanBytes: 4 * BLOCK, spawn: () => (workers.push(new FakeWorker()), workers.at(-1)!) });
    const progress: number[] = [];
    const got = await hasher({ source: new Blob([bytes]), plan, onProgress: (p) => progress.push(p.done) });
    expect(got).toEqual(await hashBlocksWebCrypto({ source: bytes, plan }));
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(plan.payloadSize);
    expect(progress).toHaveLength(plan.count);
    expect(workers).toHaveLength(3);
    expect(workers.flatMap((w) => w.asked).sort((a, b) => a - b)).toEqual(spansOf(plan, 4 * BLOCK).map((s) => s.first));
    expect(workers.some((w) => w.terminated)).toBe(false);
    // the next verification reuses the same three Workers, and gives the same digests
    expect(await hasher({ source: new Blob([bytes]), plan })).toEqual(got);
    expect(workers).toHaveLength(3);
  });

  it('warm() starts the Workers before the first verification; a failed verification terminates its Workers and the next starts fresh ones', async () => {
    const { bytes, plan } = await image(12 * BLOCK);
    const workers: FakeWorker[] = [];
    const hasher = pageBlockHasher({ workers: 2, parallelFrom: 0, spanBytes: 2 * BLOCK, spawn: () => (workers.push(new FakeWorker()), workers.at(-1)!) });
    hasher.warm();
    expect(workers).toHaveLength(2);
    await hasher({ source: new Blob([bytes]), plan });
    expect(workers).toHaveLength(2);
    // a file that changed after the pick: the Workers answer an error, and are not kept
    await expect(hasher({ source: new Blob([bytes.subarray(0, bytes.length - 5000)]), plan })).rejects.toThrow(/changed while being verified/);
    expect(workers.every((w) => w.terminated)).toBe(true);
    expect(await hasher({ source: new Blob([bytes]), plan })).toEqual(await hashBlocksWebCrypto({ source: bytes, plan }));
    expect(workers).toHaveLength(4);
    expect(workers.slice(2).some((w) => w.terminated)).toBe(false);
  });

  it('a byte flipped in the last block: the pool still answers, and core names that block', async () => {
    const { bytes, plan } = await image(20 * BLOCK + 9);
    bytes[bytes.length - 1]! ^= 1;
    const got = await pageBlockHasher({ workers: 2, parallelFrom: 0, spanBytes: 8 * BLOCK, spawn: () => new FakeWorker() })({ source: new Blob([bytes]), plan });
    expect(badBlocks(plan, got).map((b) => [b.index, b.start, b.end])).toEqual([[20, 20 * BLOCK, 20 * BLOCK + 9]]);
  });

  it('cancel rejects at once with the AbortError and terminates every Worker, even mid-read', async () => {
    const { bytes, plan } = await image(16 * BLOCK);
    const workers: FakeWorker[] = [];
    const ctl = new AbortController();
    const run = pageBlockHasher({ workers: 2, parallelFrom: 0, spanBytes: BLOCK, spawn: () => (workers.push(new FakeWorker({ stall: true })), workers.at(-1)!) })({ source: new Blob([bytes]), plan, signal: ctl.signal });
    await new Promise((r) => setTimeout(r, 10));
    ctl.abort();
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(workers.every((w) => w.terminated)).toBe(true);
  });

  it('a Worker that cannot start is a rejection (verifyImage reports the payload unread), not a hang', async () => {
    const { bytes, plan } = await image(16 * BLOCK);
    await expect(pageBlockHasher({ workers: 2, parallelFrom: 0, spanBytes: BLOCK, spawn: () => new FakeWorker({ fail: true }) })({ source: new Blob([bytes]), plan })).rejects.toThrow('a block-hasher Worker failed: could not load');
  });

  it('small payloads, one core or no Worker: hashed in the calling thread, same digests', async () => {
    const { bytes, plan } = await image(5 * BLOCK + 3);
    const want = await hashBlocksWebCrypto({ source: bytes, plan });
    const spawn = () => {
      throw new Error('no Worker expected');
    };
    expect(await pageBlockHasher({ workers: 4, spawn })({ source: new Blob([bytes]), plan })).toEqual(want);
    expect(await pageBlockHasher({ workers: 1, parallelFrom: 0, spawn })({ source: new Blob([bytes]), plan })).toEqual(want);
    expect(spansOf({ count: 0, blockSize: BLOCK }, BLOCK)).toEqual([]);
    expect(spansOf({ count: 5, blockSize: 2 * BLOCK }, BLOCK)).toHaveLength(5);
  });
});
