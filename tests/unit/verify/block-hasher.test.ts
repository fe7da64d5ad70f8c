/** Core's WebCrypto block hasher: digests in block order, progress in order, two blocks in flight at most, failures thrown where they belong. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashBlocksWebCrypto } from '../../../src/core/verify/block-check.ts';
import type { BlockPlan } from '../../../src/core/image/hash-blocks.ts';

const BLOCK = 4096;

function planOf(payload: Uint8Array, offset: number): BlockPlan {
  const count = Math.ceil(payload.length / BLOCK);
  const digests = new Uint8Array(count * 32);
  for (let i = 0; i < count; i++) digests.set(createHash('sha256').update(payload.subarray(i * BLOCK, (i + 1) * BLOCK)).digest(), i * 32);
  return { payloadOffset: offset, payloadSize: payload.length, blockSize: BLOCK, count, digests };
}

function image(size: number, offset = 100): { bytes: Uint8Array; plan: BlockPlan } {
  const bytes = new Uint8Array(offset + size);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + (i >> 9)) & 0xff;
  return { bytes, plan: planOf(bytes.subarray(offset), offset) };
}

/** A Blob-like source that counts reads in progress and can fail one block's read. */
function countingBlob(bytes: Uint8Array, failAt?: number) {
  const seen = { inFlight: 0, most: 0 };
  const blob = {
    size: bytes.length,
    slice: (start = 0, end = bytes.length) => ({
      arrayBuffer: async () => {
        seen.inFlight++;
        seen.most = Math.max(seen.most, seen.inFlight);
        await new Promise((r) => setTimeout(r, 2));
        seen.inFlight--;
        if (failAt !== undefined && start <= failAt && failAt < end) throw new Error(`read failed at ${failAt}`);
        return bytes.slice(start, end).buffer;
      },
    }),
  };
  return { blob, seen };
}

describe('hashBlocksWebCrypto', () => {
  for (const size of [1, BLOCK - 1, BLOCK, BLOCK + 1, 5 * BLOCK + 77]) {
    it(`gives every block's digest of a ${size}-byte payload, from bytes and from a Blob, with progress in order`, async () => {
      const { bytes, plan } = image(size);
      expect(await hashBlocksWebCrypto({ source: bytes, plan })).toEqual(plan.digests);
      const progress: number[] = [];
      const { blob, seen } = countingBlob(bytes);
      expect(await hashBlocksWebCrypto({ source: blob, plan, onProgress: (p) => progress.push(p.done) })).toEqual(plan.digests);
      expect(progress).toEqual(Array.from({ length: plan.count }, (_, i) => Math.min(size, (i + 1) * BLOCK)));
      expect(seen.most).toBeLessThanOrEqual(2);
    });
  }

  it('an empty payload reports its progress once', async () => {
    const { bytes, plan } = image(0);
    const progress: number[] = [];
    expect(await hashBlocksWebCrypto({ source: bytes, plan, onProgress: (p) => progress.push(p.total) })).toEqual(new Uint8Array(0));
    expect(progress).toEqual([0]);
  });

  it('a read failing in a later block while an earlier one is awaited is thrown once, and nothing is left unhandled', async () => {
    const { bytes, plan } = image(6 * BLOCK, 0);
    const unhandled: unknown[] = [];
    const note = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', note);
    try {
      for (const block of [0, 1, 3, 5]) {
        const { blob } = countingBlob(bytes, block * BLOCK + 10);
        await expect(hashBlocksWebCrypto({ source: blob, plan })).rejects.toThrow(`read failed at ${block * BLOCK + 10}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      process.off('unhandledRejection', note);
    }
    expect(unhandled).toEqual([]);
  });

  it('stops on abort before starting the next block', async () => {
    const { bytes, plan } = image(8 * BLOCK, 0);
    const ctl = new AbortController();
    const { blob } = countingBlob(bytes);
    let last = 0;
    const run = hashBlocksWebCrypto({ source: blob, plan, signal: ctl.signal, onProgress: (p) => { last = p.done; if (p.done >= 2 * BLOCK) ctl.abort(new Error('stop')); } });
    await expect(run).rejects.toThrow('stop');
    expect(last).toBeLessThan(plan.payloadSize);
  });
});
