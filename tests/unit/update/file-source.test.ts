/**
 * A v2 image sent from a file (image-stream.ts fileSource): every transfer size and resume offset
 * gives exactly the image's bytes, also when the file is read into reused buffers (readInto, as the
 * CLI's files are) — each chunk stays intact until the next is asked for — and a block changed
 * after the pre-flight is refused before any of it is handed out.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileSource } from '../../../src/core/update/image-stream.ts';
import { blockPlanOf } from '../../../src/core/image/hash-blocks.ts';
import { parseImageHead } from '../../../src/core/image/parse.ts';
import { HEAD_MAX } from '../../../src/core/image/layout.ts';
import { importSigningKey } from '../../../src/core/crypto/private-key.ts';
import { signImage } from '../../../src/core/sign/sign-image.ts';
import { fileBlob } from '../../../src/cli/file-blob.ts';
import type { BlobLike } from '../../../src/core/crypto/sha256.ts';
import { readFileSync } from 'node:fs';

const BLOCK = 4096;
let image: Uint8Array;
let dir = '';

beforeAll(async () => {
  const key = await importSigningKey(readFileSync('src/assets/demo-keys/signer/key.pem', 'utf8'));
  if (!key.ok) throw new Error(key.reason);
  const payload = Uint8Array.from({ length: 9 * BLOCK + 1234 }, (_, i) => (i * 13 + (i >> 10)) & 0xff);
  image = await signImage(
    { vendor: 'T', product: 'P', psids: ['TF_0000000001'], deviceIds: [4129], version: '28.41.1000', securityVersion: 2, releaseDate: 1_790_000_000, forbiddenVersions: [], nextKeys: [key.value.spki], secured: true, dev: false },
    payload,
    [{ key: key.value }],
    { hashBlockSize: BLOCK },
  );
  dir = await mkdtemp(join(tmpdir(), 'tf-file-source-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

function plan() {
  const head = parseImageHead(image.subarray(0, HEAD_MAX), image.length);
  if (!head.ok) throw new Error(head.reason);
  return { plan: blockPlanOf(head.value)!, headBytes: image.slice(0, head.value.payloadOffset) };
}

/** A BlobLike over `bytes` with readInto; `change(start, into)` may edit what one read returns. */
function readable(bytes: Uint8Array, change?: (start: number, into: Uint8Array) => void): BlobLike & { into: number } {
  const f = {
    into: 0,
    size: bytes.length,
    slice: (s = 0, e = bytes.length) => ({ arrayBuffer: async () => bytes.slice(s, e).buffer }),
    readInto: async (start: number, into: Uint8Array) => {
      f.into++;
      const n = Math.max(0, Math.min(into.length, bytes.length - start));
      into.set(bytes.subarray(start, start + n));
      change?.(start, into.subarray(0, n));
      return n;
    },
  };
  return f;
}

/** Every chunk from `from`, each checked against the image when it arrives and again when the next one has arrived. */
async function drain(file: BlobLike, from: number, size: number): Promise<number> {
  const { plan: p, headBytes } = plan();
  let expectAt = from;
  let last: { at: number; bytes: Uint8Array } | undefined;
  for await (const c of fileSource(file, headBytes, p).chunks(from, size)) {
    expect(c.at).toBe(expectAt);
    expect(Buffer.from(c.bytes).equals(image.subarray(c.at, c.at + c.bytes.length)), `chunk at ${c.at} (size ${size}, from ${from}, payload at ${p.payloadOffset}, reused ${'into' in file})`).toBe(true);
    if (last) expect(Buffer.from(last.bytes).equals(image.subarray(last.at, last.at + last.bytes.length)), `chunk at ${last.at}, after the next one`).toBe(true);
    last = c;
    expectAt += c.bytes.length;
    expect(c.bytes.length).toBe(Math.min(size, image.length - c.at));
  }
  return expectAt;
}

describe('fileSource', () => {
  it('hands out exactly the image for every transfer size and resume offset, read into reused buffers or not', async () => {
    const { plan: p } = plan();
    const froms = [0, 1, p.payloadOffset, p.payloadOffset + BLOCK, p.payloadOffset + 3 * BLOCK + 17, image.length - 5];
    for (const size of [1000, 4088, 4096, 5000, 65527]) {
      for (const from of froms) {
        const reused = readable(image);
        expect(await drain(reused, from, size)).toBe(image.length);
        expect(reused.into).toBeGreaterThan(0);
        expect(await drain({ size: image.length, slice: (s = 0, e = image.length) => ({ arrayBuffer: async () => image.slice(s, e).buffer }) }, from, size)).toBe(image.length);
      }
    }
  });

  it('reads a real file with the CLI reader the same way', async () => {
    const path = join(dir, 'image.tfw');
    await writeFile(path, image);
    for (const size of [4088, 777]) expect(await drain(fileBlob(path, image.length), 0, size)).toBe(image.length);
  });

  it('a block that changed since the pre-flight is refused before any of it is handed out, also when read into a reused buffer', async () => {
    const { plan: p, headBytes } = plan();
    for (const target of [0, 4, 9]) {
      const at = p.payloadOffset + target * BLOCK;
      const file = readable(image, (start, into) => {
        if (start === at) into[into.length >> 1]! ^= 1;
      });
      let handed = 0;
      const run = (async () => {
        for await (const c of fileSource(file, headBytes, p).chunks(0, 4088)) handed = c.at + c.bytes.length;
      })();
      await expect(run).rejects.toThrow(new RegExp(`the file changed after it was verified: hash block ${target} `));
      expect(handed).toBeLessThanOrEqual(at);
    }
  });
});
