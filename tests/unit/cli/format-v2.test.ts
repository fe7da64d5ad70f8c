/**
 * `trustflash sign` writes format v2 by default (--format 1 keeps v1, --block-size sets the hash
 * block), and `trustflash verify` checks v2 hash blocks in parallel worker threads straight from
 * the file, naming a bad block with its index and byte range (issue #13).
 */
import { writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseImage } from '../../../src/core/image/parse.ts';
import { blockPlanOf } from '../../../src/core/image/hash-blocks.ts';
import { nodeBlockHasher } from '../../../src/cli/block-pool.ts';
import { hashBlocksWebCrypto } from '../../../src/core/verify/block-check.ts';
import { DEMO_KEYS, NOW, manifestJson, tempDir, tf } from './helpers.ts';

const { dir, cleanup } = tempDir('v2');
afterAll(cleanup);
const t = (...argv: string[]) => tf(dir, ...argv);
const K = join(DEMO_KEYS, 'signer');
const ROOT_PEM = join(DEMO_KEYS, 'root/cert.pem');
const sign = (out: string, ...extra: string[]) => t('sign', '--key', join(K, 'key.pem'), '--cert', join(K, 'cert.pem'), '--manifest', 'm.json', '--payload', 'p.bin', '-o', out, ...extra);

/** 9 MiB + 5 bytes of deterministic bytes: above the pool's threshold, a short last block. */
function payload(): Uint8Array {
  const p = new Uint8Array(9 * 1024 * 1024 + 5);
  let s = 1;
  for (let i = 0; i < p.length; i += 4) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    p[i] = s >>> 24;
  }
  return p;
}

describe('sign: format v2 by default, --format 1, --block-size', () => {
  it('writes v2 in 1 MiB blocks, v1 with --format 1, and the block size asked for; the same inputs give the same bytes', async () => {
    await writeFile(join(dir, 'm.json'), manifestJson());
    await writeFile(join(dir, 'p.bin'), payload());
    expect((await sign('a.tfw')).code).toBe(0);
    expect((await sign('a2.tfw')).code).toBe(0);
    expect((await sign('v1.tfw', '--format', '1')).code).toBe(0);
    expect((await sign('b.tfw', '--block-size', '65536')).code).toBe(0);
    const a = parseImage(new Uint8Array(await readFile(join(dir, 'a.tfw'))));
    const v1 = parseImage(new Uint8Array(await readFile(join(dir, 'v1.tfw'))));
    const b = parseImage(new Uint8Array(await readFile(join(dir, 'b.tfw'))));
    expect(a.ok && [a.value.formatVersion, a.value.manifest.hashBlockSize, blockPlanOf(a.value)!.count]).toEqual([2, 1048576, 10]);
    expect(v1.ok && [v1.value.formatVersion, v1.value.manifest.hashBlockSize, v1.value.manifest.payloadSha256?.length]).toEqual([1, undefined, 32]);
    expect(b.ok && [b.value.formatVersion, b.value.manifest.hashBlockSize]).toEqual([2, 65536]);
    // Buffer.compare: a deep toEqual over 9 MiB takes a minute
    expect(Buffer.compare(await readFile(join(dir, 'a.tfw')), await readFile(join(dir, 'a2.tfw')))).toBe(0);
  }, 60_000);

  it('refuses a bad --format or --block-size before signing, saying what would do', async () => {
    for (const [args, msg] of [
      [['--format', '3'], /--format expects 1 or 2, got "3"/],
      [['--block-size', '1000'], /--block-size 1000: expected a power of two in 4096\.\.16777216, got 1000/],
      [['--block-size', '4096'], /--block-size 4096: cuts the 9437189-byte payload into 2305 blocks, more than the 2048 the table holds; use 8192 or more/],
      [['--format', '1', '--block-size', '4096'], /--block-size applies to format 2 only/],
    ] as const) {
      const r = await sign('x.tfw', ...args);
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 2]);
      expect(r.stderr).toMatch(msg);
    }
  });
});

describe('verify: v2 blocks in parallel threads', () => {
  it('accepts v2 and v1, prints the release digest, and names a bad block with its index and range', async () => {
    const ok = await t('verify', 'a.tfw', '--trust', ROOT_PEM, '--now', NOW);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/PASS {2}Payload digest +all 10 hash blocks of 1048576 bytes \(the last one 5 bytes\) match the signed table/);
    expect(ok.stdout).toMatch(/release digest \(SHA-256 of header and manifest, the hash-block table included\): [0-9a-f]{64}/);
    expect((await t('verify', 'v1.tfw', '--trust', ROOT_PEM, '--now', NOW)).code).toBe(0);
    const bytes = new Uint8Array(await readFile(join(dir, 'a.tfw')));
    const h = parseImage(bytes);
    if (!h.ok) throw new Error('does not parse');
    bytes[h.value.payloadOffset + 7 * 1048576 + 3]! ^= 1;
    bytes[h.value.payloadOffset + 9 * 1048576 + 4]! ^= 1; // the 5-byte last block
    await writeFile(join(dir, 'bad.tfw'), bytes);
    const bad = await t('verify', 'bad.tfw', '--trust', ROOT_PEM, '--now', NOW, '--json');
    expect(bad.code).toBe(1);
    const j = JSON.parse(bad.stdout);
    expect(j.failedCheck).toBe('payload');
    expect(j.badBlocks.map((b: { index: number; start: number; end: number }) => [b.index, b.start, b.end])).toEqual([
      [7, 7 * 1048576, 8 * 1048576],
      [9, 9 * 1048576, 9 * 1048576 + 5],
    ]);
    expect(j.checks.find((c: { id: string }) => c.id === 'payload').reason).toMatch(/^2 of 10 hash blocks do not match the signed table: hash block 7 \(payload bytes 7340032\.\.8388607, file offset \d+\)/);
  }, 60_000);

  it('the thread pool and core’s WebCrypto hasher give the same digests', async () => {
    const bytes = new Uint8Array(await readFile(join(dir, 'b.tfw')));
    const h = parseImage(bytes);
    if (!h.ok) throw new Error('does not parse');
    const plan = blockPlanOf(h.value)!;
    let last = 0;
    const pooled = await nodeBlockHasher(join(dir, 'b.tfw'), 3)({ source: bytes, plan, onProgress: (p) => void (last = p.done) });
    expect(pooled).toEqual(await hashBlocksWebCrypto({ source: bytes, plan }));
    expect(last).toBe(plan.payloadSize);
  }, 60_000);
});
