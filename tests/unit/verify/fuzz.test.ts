/**
 * Fuzz: ≥ 100 000 random mutations and truncations of valid images per run. None may throw out of
 * the parser or the verifier, hang, hit the internal-error net, or verify. The seed is printed;
 * FUZZ_SEED=<n> reproduces a run, FUZZ_COUNT=<n> changes its size.
 */
import { describe, expect, it } from 'vitest';
import { parseImage, parseImageHead } from '../../../src/core/image/parse.ts';
import { verifyImage, INTERNAL_ERROR } from '../../../src/core/verify/verify-image.ts';
import { DEVICE, NOW, demoTrust, smallBareImage, smallCertImage } from '../helpers/demo.ts';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const COUNT = Number(process.env.FUZZ_COUNT ?? 100_000);

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

const EXTREMES = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

/** One mutation of `img`: flips, random bytes, extreme u16/u32 values, truncation, extension, insert, delete, splice. */
function mutate(img: Uint8Array, r: (n: number) => number, other: Uint8Array): { bytes: Uint8Array; how: string } {
  const kind = r(9);
  const b = img.slice();
  const at = r(img.length);
  switch (kind) {
    case 0: {
      const n = 1 + r(8);
      for (let i = 0; i < n; i++) b[r(b.length)]! ^= 1 << r(8);
      return { bytes: b, how: `flip ${n} bits` };
    }
    case 1:
      b[at] = r(256);
      return { bytes: b, how: `byte ${at} = random` };
    case 2: {
      const v = EXTREMES[r(EXTREMES.length)]!;
      const dv = new DataView(b.buffer);
      if (at + 4 <= b.length) dv.setUint32(at, v, true);
      else if (at + 2 <= b.length) dv.setUint16(at, v & 0xffff, true);
      return { bytes: b, how: `u32 at ${at} = ${v}` };
    }
    case 3:
      return { bytes: img.slice(0, r(img.length)), how: 'truncate' };
    case 4: {
      const extra = new Uint8Array(1 + r(64)).map(() => r(256));
      const out = new Uint8Array(img.length + extra.length);
      out.set(img);
      out.set(extra, img.length);
      return { bytes: out, how: 'extend' };
    }
    case 5: {
      const out = new Uint8Array(img.length + 1);
      out.set(img.subarray(0, at));
      out[at] = r(256);
      out.set(img.subarray(at), at + 1);
      return { bytes: out, how: `insert at ${at}` };
    }
    case 6: {
      const out = new Uint8Array(img.length - 1);
      out.set(img.subarray(0, at));
      out.set(img.subarray(at + 1), at);
      return { bytes: out, how: `delete at ${at}` };
    }
    case 7: {
      // splice a run of another valid image (same structure, different signer/keys)
      const len = 1 + r(64);
      const from = r(Math.max(1, other.length - len));
      b.set(other.subarray(from, from + len).subarray(0, b.length - at), at);
      return { bytes: b, how: `splice ${len} at ${at}` };
    }
    default: {
      // a random run of random bytes
      const len = 1 + r(32);
      for (let i = at; i < Math.min(b.length, at + len); i++) b[i] = r(256);
      return { bytes: b, how: `random run ${len} at ${at}` };
    }
  }
}

describe('fuzz', () => {
  it(`${COUNT} mutations never throw, hang or verify (seed ${SEED})`, async () => {
    console.log(`fuzz seed ${SEED} (FUZZ_SEED=${SEED} to reproduce), ${COUNT} mutations`);
    const r = rng(SEED);
    const trust = await demoTrust(['signer']);
    const bare = await smallBareImage(48);
    const cert = await smallCertImage(48);
    const verifiedBefore = await Promise.all([bare, cert].map((i) => verifyImage(i, { trust, device: DEVICE, now: NOW })));
    expect(verifiedBefore.map((v) => v.verdict)).toEqual(['accept', 'accept']);
    const failures: string[] = [];
    let parsed = 0;
    let slowest = 0;
    const outcomes = new Map<string, number>();
    for (let i = 0; i < COUNT; i++) {
      // one in eight mutations targets the certificate-carrying image (its checks are slower)
      const useCert = r(8) === 0;
      const { bytes, how } = mutate(useCert ? cert : bare, r, useCert ? bare : cert);
      const t0 = performance.now();
      try {
        const head = parseImageHead(bytes.subarray(0, Math.min(bytes.length, 4096)), bytes.length);
        if (head.ok) parsed++;
        parseImage(bytes);
        const rep = await verifyImage(bytes, { trust, device: DEVICE, now: NOW });
        const key = rep.failed?.id ?? rep.verdict;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        if (rep.verdict === 'accept' && !sameBytes(bytes, useCert ? cert : bare)) failures.push(`#${i} ${how}: ACCEPTED`);
        if (rep.checks.some((c) => c.reason.startsWith(INTERNAL_ERROR))) failures.push(`#${i} ${how}: ${rep.failed?.reason}`);
      } catch (e) {
        failures.push(`#${i} ${how}: threw ${(e as Error).message}`);
      }
      slowest = Math.max(slowest, performance.now() - t0);
      if (failures.length > 20) break;
    }
    console.log(`fuzz: ${COUNT} inputs, ${parsed} parsed head, slowest ${slowest.toFixed(1)} ms, outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`);
    expect(failures, failures.join('\n')).toEqual([]);
    expect(slowest, 'no single input may take long (no hang, no unbounded loop)').toBeLessThan(1000);
  }, 600_000);
});

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
