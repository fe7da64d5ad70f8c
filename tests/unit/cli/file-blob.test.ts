/** The CLI's file reader: a slice is one positioned read; a file that shrank is a read error naming it. */
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileBlob } from '../../../src/cli/file-blob.ts';
import { verifyImage } from '../../../src/core/verify/verify-image.ts';
import { loadTrustStore } from '../../../src/core/crypto/trust.ts';

let dir = '';
const bytes = Uint8Array.from({ length: 3 * 65536 + 7 }, (_, i) => (i * 7 + (i >> 8)) & 0xff);
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tf-file-blob-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('fileBlob', () => {
  it('reads any slice as Blob.slice would, clamped to the file', async () => {
    const path = join(dir, 'a.bin');
    await writeFile(path, bytes);
    const f = fileBlob(path, bytes.length);
    const blob = new Blob([bytes]);
    for (const [s, e] of [[0, undefined], [0, 1], [5, 65536 * 2 + 3], [bytes.length - 1, bytes.length], [bytes.length, bytes.length + 10], [10, 5], [100, 10 ** 9]] as const) {
      const want = new Uint8Array(await blob.slice(s, e).arrayBuffer());
      const got = new Uint8Array(await f.slice(s, e).arrayBuffer());
      expect(Buffer.from(got).equals(want), `${s}..${e}: ${got.length} bytes, want ${want.length}`).toBe(true);
    }
    expect(Buffer.from(await f.slice().arrayBuffer()).equals(bytes)).toBe(true);
    expect(() => f.slice(-5)).toThrow(RangeError);
  });

  it('a file that became shorter than when it was opened is a read error that names it and the byte it ends at', async () => {
    const path = join(dir, 'shrinks.bin');
    await writeFile(path, bytes);
    const f = fileBlob(path, bytes.length);
    await truncate(path, 1000);
    await expect(f.slice(0, 4000).arrayBuffer()).rejects.toThrow(`${path} could not be read: it ends at byte 1000, before byte 4000 (it changed after it was opened)`);
    await rm(path);
    await expect(f.slice(0, 10).arrayBuffer()).rejects.toThrow(/ENOENT/);
  });

  it('verifyImage over a file that vanished gives a clean rejection, not an exception', async () => {
    const path = join(dir, 'gone.tfw');
    await writeFile(path, bytes);
    const f = fileBlob(path, bytes.length);
    await rm(path);
    const r = await verifyImage(f, { trust: (await loadTrustStore([])).store });
    expect(r.verdict).toBe('reject');
    expect(r.failed?.reason).toMatch(/could not be read.*ENOENT/);
  });
});
