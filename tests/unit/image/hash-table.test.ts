/**
 * Format v2 (issue #13): the hash-block table in the signed manifest. Every bound is a format error
 * naming its field; the table covers the payload exactly, the last block short; v1 and v2 fields do
 * not mix; the writer and the parser round-trip both formats.
 */
import { describe, expect, it } from 'vitest';
import { parseImage } from '../../../src/core/image/parse.ts';
import { encodeSignedPart, writeImage } from '../../../src/core/image/write.ts';
import { HASH_BLOCK_DEFAULT, HEAD_MAX, LIMITS, type Manifest } from '../../../src/core/image/layout.ts';
import { blockPlanOf, hashBlock, hashBlockCount, signedBlockDigest } from '../../../src/core/image/hash-blocks.ts';
import { blockDigestsOf, completeManifest, hashBlockSizeProblem, signImage } from '../../../src/core/sign/sign-image.ts';
import { ByteWriter } from '../../../src/core/bytes/writer.ts';
import { sha256WebCrypto } from '../../../src/core/crypto/sha256.ts';
import { DRAFT, demoKey, payloadOf } from '../helpers/demo.ts';

const v2 = (payloadSize: number, blockSize: number, over: Partial<Manifest> = {}): Manifest => ({
  ...DRAFT,
  payloadSize,
  hashBlockSize: blockSize,
  blockDigests: new Uint8Array(hashBlockCount(payloadSize, blockSize) * 32).fill(9),
  ...over,
});

/** header ‖ manifest with raw TLVs appended or replaced: for values the writer would not produce. */
function withTlvs(m: Manifest, patch: (tag: number, value: Uint8Array) => Uint8Array | undefined | null, extra: [number, Uint8Array][] = [], version = 2): Uint8Array {
  const signed = encodeSignedPart(m);
  const dv = new DataView(signed.buffer);
  const entries: [number, Uint8Array][] = [];
  for (let at = 16; at < signed.length; ) {
    const tag = dv.getUint16(at, true);
    const len = dv.getUint32(at + 2, true);
    const v = signed.subarray(at + 6, at + 6 + len);
    const p = patch(tag, v);
    if (p !== null) entries.push([tag, p ?? v]);
    at += 6 + len;
  }
  entries.push(...extra);
  entries.sort((a, b) => a[0] - b[0]);
  const body = new ByteWriter();
  for (const [t, v] of entries) body.u16(t).u32(v.length).bytes(v);
  const b = body.finish();
  return new ByteWriter().bytes(new TextEncoder().encode('TFWI')).u16(version).u16(16).u32(b.length).u32(0).bytes(b).finish();
}

const u32 = (n: number) => new ByteWriter().u32(n).finish();

function parseErr(signed: Uint8Array, payloadSize: number) {
  const r = parseImage(writeImage({ signed, entries: [], payload: new Uint8Array(payloadSize) }));
  expect(r.ok, 'should not parse').toBe(false);
  return r.ok ? undefined : r.error;
}

describe('format v2: the hash-block table', () => {
  it('round-trips, with the last block short and its digest the SHA-256 of exactly its bytes', async () => {
    const payload = payloadOf(3 * 4096 + 100);
    const image = await signImage(DRAFT, payload, [], { hashBlockSize: 4096 }); // layout only: no signer needed
    const r = parseImage(image);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.formatVersion).toBe(2);
    expect(r.value.manifest.payloadSha256).toBeUndefined();
    const plan = blockPlanOf(r.value)!;
    expect(plan.count).toBe(4);
    expect(hashBlock(plan, 3)).toEqual({ index: 3, start: 12288, end: 12388 });
    for (let i = 0; i < 4; i++) {
      const b = hashBlock(plan, i);
      expect(signedBlockDigest(plan, i)).toEqual(await sha256WebCrypto(payload.subarray(b.start, b.end)));
    }
    expect(encodeSignedPart(r.value.manifest)).toEqual(r.value.signed);
  });

  it('writes v2 by default with 1 MiB blocks, v1 on request; both parse', async () => {
    const key = await demoKey('signer');
    const a = parseImage(await signImage(DRAFT, payloadOf(100), [{ key }]));
    const b = parseImage(await signImage(DRAFT, payloadOf(100), [{ key }], { format: 1 }));
    expect(a.ok && a.value.formatVersion === 2 && a.value.manifest.hashBlockSize === HASH_BLOCK_DEFAULT).toBe(true);
    expect(b.ok && b.value.formatVersion === 1 && b.value.manifest.payloadSha256?.length === 32 && b.value.manifest.hashBlockSize === undefined).toBe(true);
  });

  it('is reproducible: same inputs, same bytes', async () => {
    const key = await demoKey('signer');
    const one = await signImage(DRAFT, payloadOf(20000), [{ key }], { hashBlockSize: 8192 });
    const two = await signImage(DRAFT, payloadOf(20000), [{ key }], { hashBlockSize: 8192 });
    expect(one).toEqual(two);
  });

  it('an empty payload has an empty table (the tag is still present: required)', async () => {
    const m = await completeManifest(DRAFT, new Uint8Array(0));
    expect(m.blockDigests!.length).toBe(0);
    const r = parseImage(writeImage({ signed: encodeSignedPart(m), entries: [], payload: new Uint8Array(0) }));
    expect(r.ok).toBe(true);
  });

  it('refuses a zero, non-power-of-two or out-of-range block size, naming the field', () => {
    for (const [size, msg] of [
      [0, /is 0, expected a power of two/],
      [5000, /5000 is not a power of two/],
      [4097, /not a power of two/],
      [2048, /2048 is outside 4096\.\.16777216/],
      [32 * 1024 * 1024, /is outside 4096\.\.16777216/],
      [0x80000000, /is outside/],
    ] as const) {
      const e = parseErr(withTlvs(v2(4096, 4096), (t, v) => (t === 19 ? u32(size) : v)), 4096);
      expect(e?.field).toBe('manifest.hashBlockSize');
      expect(e?.message).toMatch(msg);
    }
  });

  it('refuses a table whose length does not match the payload', () => {
    // one digest short, one too many, and a ragged length
    let e = parseErr(withTlvs(v2(3 * 4096 + 1, 4096), (t, v) => (t === 20 ? v.subarray(0, 96) : v)), 3 * 4096 + 1);
    expect(e?.field).toBe('manifest.blockDigests');
    expect(e?.message).toMatch(/has 3 digests; a 12289-byte payload in 4096-byte hash blocks needs 4/);
    e = parseErr(withTlvs(v2(8192, 4096), (t, v) => (t === 20 ? new Uint8Array(96) : v)), 8192);
    expect(e?.message).toMatch(/has 3 digests; .* needs 2/);
    e = parseErr(withTlvs(v2(8192, 4096), (t, v) => (t === 20 ? new Uint8Array(63) : v)), 8192);
    expect(e?.field).toBe('manifest.blockDigests');
    expect(e?.message).toMatch(/length 63 is not a multiple of 32/);
    // an exact multiple has no short last block: 2 blocks, not 3
    e = parseErr(withTlvs(v2(8192, 4096), (t, v) => (t === 20 ? new Uint8Array(96) : v)), 8192);
    expect(e).toBeDefined();
  });

  it('bounds the table at 2048 digests, so 2 GiB needs blocks of at least 1 MiB', () => {
    const e = parseErr(withTlvs(v2(4096, 4096), (t, v) => (t === 20 ? new Uint8Array(2049 * 32) : v)), 4096);
    expect(e?.field).toBe('manifest.blockDigests');
    expect(e?.message).toMatch(/has 2049 digests, at most 2048 allowed/);
    // a declared payload too big for the block size: the message says what block size would do
    const big = withTlvs(v2(4096, 4096), (t, v) => (t === 16 ? new ByteWriter().u64(LIMITS.payloadMax).finish() : v));
    const r = parseImage(big); // the payload is not there: only the head is parsed
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.field).toBe('manifest.blockDigests');
      expect(r.error.message).toMatch(/needs 524288, more than the 2048-block cap: sign with hash blocks of at least 1048576 bytes/);
    }
    expect(hashBlockSizeProblem(HASH_BLOCK_DEFAULT, LIMITS.payloadMax)).toBeUndefined();
    expect(hashBlockSizeProblem(512 * 1024, LIMITS.payloadMax)).toMatch(/4096 blocks.*use 1048576 or more/);
    // the largest v2 manifest (every field at its maximum, the largest table) fits the v2 cap and HEAD_MAX
    expect(34_694 + 6 + 2048 * 32 + 10).toBeLessThanOrEqual(LIMITS.manifestMaxV2);
    expect(HEAD_MAX).toBe(16 + LIMITS.manifestMaxV2 + LIMITS.sigBlockMax);
  });

  it('keeps v1 and v2 fields apart, and each format\'s required fields', () => {
    // tag 17 in v2
    let e = parseErr(withTlvs(v2(4, 4096), (_t, v) => v, [[17, new Uint8Array(32)]]), 4);
    expect(e?.field).toBe('manifest.payloadSha256');
    expect(e?.message).toMatch(/tag 17 is not part of format v2/);
    // tags 19/20 in v1
    const v1: Manifest = { ...DRAFT, payloadSize: 4, payloadSha256: new Uint8Array(32) };
    e = parseErr(withTlvs(v1, (_t, v) => v, [[19, u32(4096)]], 1), 4);
    expect(e?.field).toBe('manifest.hashBlockSize');
    expect(e?.message).toMatch(/not part of format v1/);
    // v2 without its table
    e = parseErr(withTlvs(v2(4, 4096), (t, v) => (t === 20 ? null : v)), 4);
    expect(e?.field).toBe('manifest.blockDigests');
    expect(e?.message).toMatch(/required field is missing/);
    e = parseErr(withTlvs(v2(4, 4096), (t, v) => (t === 19 ? null : v)), 4);
    expect(e?.field).toBe('manifest.hashBlockSize');
    // a v2 manifest over the v1 cap is fine in v2, and refused when the header says v1
    const bigNotes = { releaseNotes: 'x'.repeat(16384) };
    const fat = withTlvs(v2(2048 * 4096, 4096, bigNotes), (_t, v) => v);
    expect(fat.length - 16).toBeGreaterThan(LIMITS.manifestMax);
    expect(parseImage(writeImage({ signed: fat, entries: [], payload: new Uint8Array(2048 * 4096) })).ok).toBe(true);
    const asV1 = fat.slice();
    asV1[4] = 1;
    e = parseErr(asV1, 2048 * 4096);
    expect(e?.field).toBe('header.manifestSize');
    expect(e?.message).toMatch(/outside 1\.\.65536/);
  });

  it('blockDigestsOf and the writer refuse what the parser would', async () => {
    await expect(completeManifest(DRAFT, payloadOf(10), { hashBlockSize: 1000 })).rejects.toThrow(/power of two in 4096\.\.16777216, got 1000/);
    await expect(completeManifest(DRAFT, payloadOf(10), { format: 1, hashBlockSize: 4096 })).rejects.toThrow(TypeError);
    expect(() => encodeSignedPart({ ...v2(4, 4096), payloadSha256: new Uint8Array(32) })).toThrow(/payloadSha256.*no value in format v2/);
    expect((await blockDigestsOf(payloadOf(4096 * 2), 4096)).length).toBe(64);
  });
});
