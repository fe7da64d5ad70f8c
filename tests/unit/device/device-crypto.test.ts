/**
 * The emulated NIC's own cryptography (wasm/crypto/*.ts, AssemblyScript), compiled here with asc
 * and driven from Node through raw linear memory, exactly as the firmware calls it:
 *
 * - sha256.ts against the NIST CAVP SHAVS vectors (ShortMsg, LongMsg, Monte Carlo), one-shot and
 *   streamed in awkward chunk sizes, and a 64 MiB buffer against node:crypto (throughput printed).
 * - rsa.ts + spki.ts against Project Wycheproof's RSASSA-PKCS1-v1_5 SHA-256 2048-bit file: the key
 *   goes through spkiRsa2048Modulus (the device's DER reader), the test supplies SHA-256(msg).
 *   e = 65537: valid → true, invalid → false, acceptable (MissingNull) → false;
 *   e = 3 → the key is refused by spki.ts before any signature math.
 * - rsa.ts's modular exponentiation against BigInt on random and carry-heavy moduli, and against
 *   fresh node:crypto keys, signatures and hand-built (mis)encodings.
 * - spki.ts against every truncation, every single-byte substitution, hand-made DER violations and
 *   random garbage.
 *
 * The device shares no code with src/core, and neither does this test: node:crypto and BigInt are
 * the references. Every input whose length matters is placed so that it ends exactly at the end of
 * WebAssembly memory: a single byte read past the declared length is an out-of-bounds trap, and
 * any trap fails the test.
 */
import { execFileSync } from 'node:child_process';
import { constants, createHash, generateKeyPairSync, privateEncrypt, randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The test entry's exports (wasm/crypto-test-entry.ts). Pointers are byte offsets; bool comes back as 0/1. */
interface DeviceCrypto {
  readonly memory: WebAssembly.Memory;
  sha256CtxSize(): number;
  sha256Init(ctx: number): void;
  sha256Update(ctx: number, data: number, len: number): void;
  sha256Final(ctx: number, out: number): void;
  sha256(data: number, len: number, out: number): void;
  rsa2048PublicOp(modulusBE: number, sigBE: number, sigLen: number, outBE: number): number;
  rsa2048VerifySha256(modulusBE: number, sigBE: number, sigLen: number, hash32: number): number;
  spkiRsa2048Modulus(spki: number, len: number, outModulus256: number): number;
  scratch(size: number): number;
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ASC = join(ROOT, 'node_modules/.bin/asc');
const ENTRY = 'wasm/crypto-test-entry.ts';

let dev: DeviceCrypto;
let tmp: string;
/** Fixed buffers at the start of the scratch region; inputs whose length matters go at the end of memory. */
let CTX = 0;
let OUT = 0;
let MOD = 0;
let HASH = 0;
let RES = 0;
let DATA = 0;

const mem = (): Uint8Array => new Uint8Array(dev.memory.buffer);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const read = (p: number, n: number): Uint8Array => mem().slice(p, p + n);
const write = (p: number, b: Uint8Array): number => {
  mem().set(b, p);
  return p;
};
/** Copies b so that its last byte is the last byte of memory; returns its address. */
const placeAtEnd = (b: Uint8Array): number => {
  const m = mem();
  m.set(b, m.length - b.length);
  return m.length - b.length;
};
const nodeSha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();
const log = (line: string): void => console.log(`[device-crypto] ${line}`);

/** Runs a device call; a WebAssembly trap becomes a test failure naming the input. */
function noTrap<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new Error(`device trapped in ${what}: ${String(e)}`);
  }
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'trustflash-device-crypto-'));
  const wasmFile = join(tmp, 'device-crypto.wasm');
  // A build output only: compiled fresh for every run into a temp dir, never committed.
  execFileSync(ASC, [ENTRY, '--outFile', wasmFile, '--runtime', 'stub', '-O3'], { cwd: ROOT, stdio: 'pipe' });
  const module = new WebAssembly.Module(readFileSync(wasmFile));
  // No imports: the device code needs nothing from the host (not even `abort`).
  expect(WebAssembly.Module.imports(module)).toEqual([]);
  dev = new WebAssembly.Instance(module, {}).exports as unknown as DeviceCrypto;
  const base = dev.scratch(1 << 20);
  CTX = base;
  OUT = base + 128;
  MOD = base + 256;
  HASH = base + 512;
  RES = base + 768;
  DATA = base + 4096;
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// -------------------------------------------------------------------------------------------------
// SHA-256

interface MsgVector {
  readonly len: number;
  readonly msg: Uint8Array;
  readonly md: string;
}
const nist = (name: string): string => readFileSync(new URL(`../../vectors/nist-cavp-shs/${name}`, import.meta.url), 'latin1');

/** "Len = / Msg = / MD =" records; Len is in bits, and Len = 0 carries "Msg = 00", i.e. the empty message. */
function parseMsgFile(text: string): MsgVector[] {
  const out: MsgVector[] = [];
  let len: number | undefined;
  let msg: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const m = /^(Len|Msg|MD) = ([0-9a-f]*)$/.exec(raw.trim());
    if (!m) continue;
    if (m[1] === 'Len') len = Number(m[2]);
    else if (m[1] === 'Msg') msg = m[2];
    else {
      if (len === undefined || msg === undefined || len % 8 !== 0) throw new Error(`malformed record before MD = ${m[2]}`);
      out.push({ len, msg: Buffer.from(msg, 'hex').subarray(0, len / 8), md: m[2]! });
      len = msg = undefined;
    }
  }
  return out;
}

const SHORT = parseMsgFile(nist('SHA256ShortMsg.rsp'));
const LONG = parseMsgFile(nist('SHA256LongMsg.rsp'));
const MONTE = (() => {
  const text = nist('SHA256Monte.rsp');
  const seed = /^Seed = ([0-9a-f]{64})\s*$/m.exec(text);
  if (!seed) throw new Error('Monte file has no seed');
  const checkpoints = [...text.matchAll(/^COUNT = (\d+)\s*\r?\nMD = ([0-9a-f]{64})\s*$/gm)].map((m, i) => {
    if (Number(m[1]) !== i) throw new Error(`Monte COUNT ${m[1]} out of order`);
    return m[2]!;
  });
  return { seed: Buffer.from(seed[1]!, 'hex'), checkpoints };
})();

/** Device one-shot sha256() of bytes placed at the end of memory. */
function deviceSha(b: Uint8Array): string {
  const p = placeAtEnd(b);
  noTrap(`sha256(${b.length} B)`, () => dev.sha256(p, b.length, OUT));
  return hex(read(OUT, 32));
}

/** Device streaming: init, updates of sizes cycling through `sizes`, final. Input at the end of memory. */
function deviceShaStreamed(b: Uint8Array, sizes: readonly number[]): string {
  const p = placeAtEnd(b);
  noTrap(`streamed sha256(${b.length} B)`, () => {
    dev.sha256Init(CTX);
    let at = 0;
    for (let i = 0; at < b.length; i++) {
      const n = Math.min(sizes[i % sizes.length]!, b.length - at);
      dev.sha256Update(CTX, p + at, n);
      at += n;
    }
    dev.sha256Final(CTX, OUT);
  });
  return hex(read(OUT, 32));
}

/** Chunk-size cycles: block boundaries ±1, the 55/56 padding boundary, zero-length updates. */
const CHUNKINGS: readonly (readonly number[])[] = [
  [1, 63, 64, 65, 7, 127, 0, 3, 1000],
  [55, 56, 57, 119, 120, 121, 0, 9],
  [13],
];

describe('device SHA-256 (wasm/crypto/sha256.ts, FIPS 180-4)', () => {
  it('has a documented 112-byte context', () => {
    expect(dev.sha256CtxSize()).toBe(112);
  });

  it('harness premise: an input placed at the end of memory traps if read one byte too far', () => {
    const b = randomBytes(100);
    const p = placeAtEnd(b);
    expect(() => dev.sha256(p, b.length + 1, OUT)).toThrow(WebAssembly.RuntimeError);
    expect(deviceSha(b)).toBe(hex(nodeSha(b))); // and the exact length does not
  });

  it('NIST vector files hold the documented number of vectors (Len = 0 is the empty message)', () => {
    expect(SHORT.length).toBe(65);
    expect(LONG.length).toBe(64);
    expect(MONTE.checkpoints.length).toBe(100);
    expect(SHORT[0]!.len).toBe(0);
    expect(SHORT[0]!.msg.length).toBe(0);
  });

  it.each([
    ['ShortMsg', SHORT],
    ['LongMsg', LONG],
  ] as const)('NIST %s: every vector, one-shot and streamed in odd chunk sizes', (name, vectors) => {
    const wrong: string[] = [];
    let checks = 0;
    for (const v of vectors) {
      const results = [deviceSha(v.msg), ...CHUNKINGS.map((c) => deviceShaStreamed(v.msg, c))];
      results.forEach((got, i) => {
        checks++;
        if (got !== v.md) wrong.push(`Len=${v.len} mode ${i}: got ${got}, want ${v.md}`);
      });
    }
    expect(wrong).toEqual([]);
    log(`NIST ${name}: ${vectors.length} vectors × ${1 + CHUNKINGS.length} modes = ${checks} checks passed`);
  });

  it('NIST Monte Carlo (SHAVS §6.4): 100 checkpoints × 1000 chained hashes, each streamed as 40 + 56 bytes', () => {
    // MD0 = MD1 = MD2 = Seed; Mi = MD(i-3) || MD(i-2) || MD(i-1), MDi = SHA-256(Mi), i = 3..1002;
    // checkpoint j is MD1002, which seeds checkpoint j + 1. Mi lives in device memory at DATA.
    const got: string[] = [];
    let seed: Uint8Array = MONTE.seed;
    noTrap('Monte Carlo', () => {
      for (let j = 0; j < 100; j++) {
        const m = mem();
        for (let k = 0; k < 3; k++) m.set(seed, DATA + 32 * k);
        for (let i = 3; i < 1003; i++) {
          dev.sha256Init(CTX);
          dev.sha256Update(CTX, DATA, 40);
          dev.sha256Update(CTX, DATA + 40, 56);
          dev.sha256Final(CTX, OUT);
          m.copyWithin(DATA, DATA + 32, DATA + 96);
          m.copyWithin(DATA + 64, OUT, OUT + 32);
        }
        seed = m.slice(OUT, OUT + 32);
        got.push(hex(seed));
      }
    });
    expect(got).toEqual(MONTE.checkpoints);
    log('NIST Monte Carlo: 100 checkpoints (100 000 hashes) passed');
  });

  it('matches node:crypto on every length 0..300 and across update boundaries', () => {
    const b = randomBytes(300);
    const wrong: number[] = [];
    for (let n = 0; n <= 300; n++) {
      const want = hex(nodeSha(b.subarray(0, n)));
      if (deviceSha(b.subarray(0, n)) !== want || deviceShaStreamed(b.subarray(0, n), [n % 64 || 1, 64 - (n % 64)]) !== want) wrong.push(n);
    }
    expect(wrong).toEqual([]);
  });

  it('a 64 MiB buffer matches node:crypto, in one update and in odd chunks; throughput reported', () => {
    const SIZE = 64 * 1024 * 1024;
    const big = randomBytes(SIZE);
    const want = hex(nodeSha(big));
    const p = dev.scratch(4096 + SIZE) + 4096; // grows memory; views are re-created by mem()
    write(p, big);

    // Warm up so V8 has tiered the compression function up before timing.
    noTrap('warm-up', () => dev.sha256(p, 4 * 1024 * 1024, OUT));

    let best = Infinity;
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      noTrap('sha256 64 MiB', () => {
        dev.sha256Init(CTX);
        dev.sha256Update(CTX, p, SIZE);
        dev.sha256Final(CTX, OUT);
      });
      best = Math.min(best, performance.now() - t0);
      expect(hex(read(OUT, 32))).toBe(want);
    }

    // Streamed in 1 MiB + 13 byte chunks: every update after the first starts mid-block.
    noTrap('sha256 64 MiB chunked', () => {
      dev.sha256Init(CTX);
      const chunk = 1024 * 1024 + 13;
      for (let at = 0; at < SIZE; at += chunk) dev.sha256Update(CTX, p + at, Math.min(chunk, SIZE - at));
      dev.sha256Final(CTX, OUT);
    });
    expect(hex(read(OUT, 32))).toBe(want);

    const t0 = performance.now();
    nodeSha(big);
    const nodeMs = performance.now() - t0;
    const mbps = SIZE / 1e6 / (best / 1000);
    log(`SHA-256 64 MiB: device ${mbps.toFixed(0)} MB/s (best of 3, ${best.toFixed(0)} ms); node:crypto ${(SIZE / 1e6 / (nodeMs / 1000)).toFixed(0)} MB/s`);
    // A loose floor, far below the measured figure, that still catches a de-optimised build.
    expect(mbps).toBeGreaterThan(25);
  });
});

// -------------------------------------------------------------------------------------------------
// RSA

interface WycheproofTest {
  readonly tcId: number;
  readonly comment: string;
  readonly flags: readonly string[];
  readonly msg: string;
  readonly sig: string;
  readonly result: 'valid' | 'invalid' | 'acceptable';
}
interface WycheproofGroup {
  readonly keySize: number;
  readonly publicKey: { readonly modulus: string; readonly publicExponent: string };
  readonly publicKeyDer: string;
  readonly tests: readonly WycheproofTest[];
}
interface WycheproofFile {
  readonly numberOfTests: number;
  readonly testGroups: readonly WycheproofGroup[];
}
const wycheproof = (name: string): WycheproofFile =>
  JSON.parse(readFileSync(new URL(`../../vectors/wycheproof/${name}`, import.meta.url), 'utf8')) as WycheproofFile;

const toBig = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt('0x' + hex(b)));
const to256 = (v: bigint): Buffer => Buffer.from(v.toString(16).padStart(512, '0'), 'hex');
/** Reference RSAVP1 with e = 65537 = 2^16 + 1. */
const modPow65537 = (s: bigint, n: bigint): bigint => {
  let x = s;
  for (let i = 0; i < 16; i++) x = (x * x) % n;
  return (x * s) % n;
};

/** The device's key path: SPKI at the end of memory → spkiRsa2048Modulus → MOD. Returns the modulus or null. */
function deviceModulus(spki: Uint8Array): Uint8Array | null {
  const p = placeAtEnd(spki);
  const ok = noTrap(`spkiRsa2048Modulus(${spki.length} B)`, () => dev.spkiRsa2048Modulus(p, spki.length, MOD));
  return ok === 1 ? read(MOD, 256) : null;
}

/** The device's verify with the modulus already in MOD: signature at the end of memory, hash at HASH. */
function deviceVerify(sig: Uint8Array, hash: Uint8Array): boolean {
  write(HASH, hash);
  const p = placeAtEnd(sig);
  return noTrap(`rsa2048VerifySha256(sigLen ${sig.length})`, () => dev.rsa2048VerifySha256(MOD, p, sig.length, HASH)) === 1;
}

/** rsa2048PublicOp with modulus n and signature s (both as 256-byte strings); the result or null. */
function devicePublicOp(n: Uint8Array, s: Uint8Array): Uint8Array | null {
  write(MOD, n);
  const p = placeAtEnd(s);
  const ok = noTrap('rsa2048PublicOp', () => dev.rsa2048PublicOp(MOD, p, s.length, RES));
  return ok === 1 ? read(RES, 256) : null;
}

describe('device RSA-2048 PKCS#1 v1.5 SHA-256 (wasm/crypto/rsa.ts + spki.ts) on Wycheproof', () => {
  const file = wycheproof('rsa_signature_2048_sha256_test.json');

  it('every test: e = 65537 valid → true, invalid/acceptable → false; e = 3 keys refused by spki.ts', () => {
    const wrong: string[] = [];
    const c = { accepted: 0, rejectedInvalid: 0, rejectedAcceptable: 0, keyRefused: 0, badLength: 0 };
    for (const g of file.testGroups) {
      const e = BigInt('0x' + g.publicKey.publicExponent);
      const n = deviceModulus(Buffer.from(g.publicKeyDer, 'hex'));
      if (e !== 65537n) {
        // The device never gets as far as a signature: its DER reader accepts e = 65537 only.
        if (n !== null) wrong.push(`e=${e} key accepted by spki.ts`);
        c.keyRefused += g.tests.length;
        continue;
      }
      if (n === null) {
        wrong.push(`e=65537 group key refused by spki.ts`);
        continue;
      }
      // The modulus the device extracted is the one Wycheproof states.
      expect(hex(n)).toBe(BigInt('0x' + g.publicKey.modulus).toString(16).padStart(512, '0'));
      for (const t of g.tests) {
        const sig = Buffer.from(t.sig, 'hex');
        if (sig.length !== 256) c.badLength++;
        const got = deviceVerify(sig, nodeSha(Buffer.from(t.msg, 'hex')));
        const want = t.result === 'valid';
        if (got !== want) wrong.push(`tcId ${t.tcId} (${t.result}, ${t.flags.join('+')}, "${t.comment}"): want ${want}, got ${got}`);
        if (got) c.accepted++;
        else if (t.result === 'acceptable') c.rejectedAcceptable++;
        else c.rejectedInvalid++;
      }
    }
    expect(wrong).toEqual([]);
    expect(c).toEqual({ accepted: 7, rejectedInvalid: 249, rejectedAcceptable: 1, keyRefused: 2, badLength: 2 });
    expect(c.accepted + c.rejectedInvalid + c.rejectedAcceptable + c.keyRefused).toBe(file.numberOfTests);
    log(
      `Wycheproof 2048/SHA-256: ${file.numberOfTests} tests — ${c.accepted} valid accepted, ${c.rejectedInvalid} invalid rejected ` +
        `(${c.badLength} of them with length ≠ 256), ${c.rejectedAcceptable} acceptable (MissingNull) rejected, ${c.keyRefused} e = 3 tests refused at the key`,
    );
  });

  it('RSAVP1 (rsa2048PublicOp) equals BigInt s^65537 mod n on every 256-byte Wycheproof signature, and refuses s ≥ n', () => {
    let same = 0;
    let outOfRange = 0;
    for (const g of file.testGroups.filter((x) => x.publicKey.publicExponent === '010001')) {
      const n = BigInt('0x' + g.publicKey.modulus);
      for (const t of g.tests) {
        const s = Buffer.from(t.sig, 'hex');
        if (s.length !== 256) continue;
        const got = devicePublicOp(to256(n), s);
        if (toBig(s) >= n) {
          expect(got, `tcId ${t.tcId}`).toBeNull();
          outOfRange++;
        } else {
          expect(got && hex(got), `tcId ${t.tcId}`).toBe(hex(to256(modPow65537(toBig(s), n))));
          same++;
        }
      }
    }
    expect(same + outOfRange).toBe(255);
    log(`Wycheproof RSAVP1 cross-check: ${same} results equal BigInt, ${outOfRange} with s ≥ n refused`);
  });

  it('spki.ts refuses the 3072- and 4096-bit Wycheproof keys', () => {
    for (const name of ['rsa_signature_3072_sha256_test.json', 'rsa_signature_4096_sha256_test.json']) {
      for (const g of wycheproof(name).testGroups) expect(deviceModulus(Buffer.from(g.publicKeyDer, 'hex')), `${name} ${g.keySize}`).toBeNull();
    }
  });
});

describe('device RSA-2048 arithmetic against BigInt', () => {
  const r = (n: number): bigint => toBig(randomBytes(n));
  const TOP = 1n << 2047n;
  const MAX = (1n << 2048n) - 1n;
  /** Odd 2048-bit moduli: random ones and ones whose limbs are all ones, all zeros, or alternate, to stress every carry path. */
  const MODULI: readonly bigint[] = [
    MAX, // every limb 0xffffffff
    TOP + 1n, // 2^2047 + 1: limbs 1, 0, …, 0, 0x80000000
    MAX - (1n << 1024n), // a zero bit in the middle
    TOP + (1n << 32n) - 1n, // low limb all ones, then zeros
    MAX - 2n * ((1n << 2000n) - 1n) - (1n << 2040n), // long run of zeros then ones
    BigInt('0x' + 'ffffffff00000000'.repeat(32)) | 1n,
    BigInt('0x' + '80000000'.repeat(64)) | 1n,
    ...Array.from({ length: 12 }, () => r(256) | TOP | 1n),
  ];

  it('s^65537 mod n for edge and random s on carry-heavy and random moduli', () => {
    let checks = 0;
    for (const n of MODULI) {
      expect(n % 2n).toBe(1n);
      expect(n >> 2047n).toBe(1n);
      const samples = [0n, 1n, 2n, 3n, n - 1n, n - 2n, (n - 1n) / 2n, TOP - 1n, (1n << 1024n) + 1n, 0xffffffffn, ...Array.from({ length: 8 }, () => r(256) % n)];
      for (const s of samples) {
        const got = devicePublicOp(to256(n), to256(s));
        expect(got && hex(got), `n=${n.toString(16).slice(0, 16)}… s=${s.toString(16).slice(0, 16)}…`).toBe(hex(to256(modPow65537(s, n))));
        checks++;
      }
      // s = n and s = 2^2048 − 1 are out of range (RFC 8017 §5.2.2 step 1).
      expect(devicePublicOp(to256(n), to256(n))).toBeNull();
      if (n !== MAX) expect(devicePublicOp(to256(n), to256(MAX))).toBeNull();
    }
    log(`RSAVP1 vs BigInt: ${checks} exponentiations on ${MODULI.length} moduli agree`);
  });

  it('refuses an even modulus and a modulus below 2^2047', () => {
    const n = r(256) | TOP | 1n;
    expect(devicePublicOp(to256(n), to256(5n))).not.toBeNull();
    expect(devicePublicOp(to256(n - 1n), to256(5n))).toBeNull(); // even
    expect(devicePublicOp(to256(n - TOP), to256(5n))).toBeNull(); // 2047 bits or fewer
  });
});

describe('device RSA-2048 with fresh node:crypto keys', () => {
  interface Key {
    readonly privateKey: KeyObject;
    readonly spki: Buffer;
    readonly n: Buffer;
  }
  let keys: Key[] = [];
  beforeAll(() => {
    keys = Array.from({ length: 3 }, () => {
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
      const jwk = publicKey.export({ format: 'jwk' });
      return { privateKey, spki: publicKey.export({ type: 'spki', format: 'der' }), n: Buffer.from(jwk.n!, 'base64url') };
    });
  });

  /** Device path end to end: SPKI → modulus, device SHA-256 of the message, verify. */
  function deviceVerifiesMessage(k: Key, msg: Uint8Array, sig: Uint8Array): boolean {
    const n = deviceModulus(k.spki);
    if (!n) throw new Error('key refused');
    const h = Buffer.from(deviceSha(msg), 'hex');
    return deviceVerify(sig, h);
  }

  it('extracts the same modulus node:crypto reports, and verifies node:crypto signatures (device-side hashing)', () => {
    let ok = 0;
    for (const k of keys) {
      expect(hex(deviceModulus(k.spki)!)).toBe(hex(k.n));
      for (const len of [0, 1, 55, 64, 1000, 100_003]) {
        const msg = randomBytes(len);
        expect(deviceVerifiesMessage(k, msg, sign('sha256', msg, k.privateKey)), `len ${len}`).toBe(true);
        ok++;
      }
    }
    log(`node:crypto cross-check: ${ok} fresh signatures over ${keys.length} keys verified`);
  });

  it('rejects tampered signatures, hashes, keys and lengths', () => {
    const k = keys[0]!;
    const other = keys[1]!;
    const msg = randomBytes(777);
    const h = nodeSha(msg);
    const sig = sign('sha256', msg, k.privateKey);
    const n = toBig(k.n);
    deviceModulus(k.spki);
    expect(deviceVerify(sig, h)).toBe(true);

    const rejected: string[] = [];
    const expectFalse = (name: string, s: Uint8Array, hash: Uint8Array = h): void => {
      expect(deviceVerify(s, hash), name).toBe(false);
      rejected.push(name);
    };
    for (const i of [0, 1, 100, 128, 254, 255]) {
      for (const bit of [0, 7]) {
        const s = Buffer.from(sig);
        s[i]! ^= 1 << bit;
        expectFalse(`sig byte ${i} bit ${bit}`, s);
      }
    }
    for (const i of [0, 15, 31]) {
      const hh = Buffer.from(h);
      hh[i]! ^= 0x80;
      expectFalse(`hash byte ${i}`, sig, hh);
    }
    expectFalse('s = 0', Buffer.alloc(256));
    expectFalse('s = 1', to256(1n));
    expectFalse('s = n − 1', to256(n - 1n));
    expectFalse('s = n', k.n);
    if (toBig(sig) + n < 1n << 2048n) expectFalse('s = sig + n (≥ n, ≡ sig)', to256(toBig(sig) + n));
    expectFalse('s = ff…ff', Buffer.alloc(256, 0xff));
    expectFalse('sig truncated to 255', sig.subarray(1));
    expectFalse('sig with leading 00 (257 bytes)', Buffer.concat([Buffer.alloc(1), sig]));
    expectFalse('empty sig', Buffer.alloc(0));
    expectFalse('another key’s signature', sign('sha256', msg, other.privateKey));
    expectFalse('SHA-384 signature', sign('sha384', msg, k.privateKey), h);
    expectFalse('RSA-PSS signature', sign('sha256', msg, { key: k.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING }));

    // The right signature under a broken modulus: even, and with the top bit cleared.
    const even = Buffer.from(k.n);
    even[255]! &= 0xfe;
    write(MOD, even);
    expect(deviceVerify(sig, h)).toBe(false);
    const short = Buffer.from(k.n);
    short[0]! &= 0x7f;
    write(MOD, short);
    expect(deviceVerify(sig, h)).toBe(false);
    log(`tamper cross-check: ${rejected.length + 2} variants rejected`);
  });

  it('encode-and-compare: only the exact EMSA-PKCS1-v1_5 encoding verifies (signed raw with the real key)', () => {
    const k = keys[2]!;
    deviceModulus(k.spki);
    const h = randomBytes(32);
    const prefix = Buffer.from('3031300d060960864801650304020105000420', 'hex'); // RFC 8017 §9.2 note 1
    const pkcs1 = (t: Uint8Array): Buffer => privateEncrypt({ key: k.privateKey, padding: constants.RSA_PKCS1_PADDING }, t);
    const raw = (em: Uint8Array): Buffer => privateEncrypt({ key: k.privateKey, padding: constants.RSA_NO_PADDING }, em);
    const em = (ps: number, t: Uint8Array, tail: Uint8Array = Buffer.alloc(0), bt = 1): Buffer =>
      Buffer.concat([Buffer.from([0, bt]), Buffer.alloc(ps, 0xff), Buffer.alloc(1), t, tail]);

    // Control: the canonical T = DigestInfo || H, padded by OpenSSL and by hand.
    expect(deviceVerify(pkcs1(Buffer.concat([prefix, h])), h)).toBe(true);
    expect(deviceVerify(raw(em(202, Buffer.concat([prefix, h]))), h)).toBe(true);

    const cases: [string, Buffer][] = [
      // DigestInfo without the NULL parameters (Wycheproof's "acceptable" MissingNull): not the one encoding.
      ['MissingNull', pkcs1(Buffer.concat([Buffer.from('302f300b0609608648016503040201', 'hex'), Buffer.from('0420', 'hex'), h]))],
      ['SHA-1 OID with a 32-byte hash', pkcs1(Buffer.concat([Buffer.from('302d300906052b0e03021a05000420', 'hex'), h]))],
      ['SHA-512 OID', pkcs1(Buffer.concat([Buffer.from('3031300d060960864801650304020305000420', 'hex'), h]))],
      ['bare hash, no DigestInfo', pkcs1(h)],
      // Bleichenbacher '06 shape: short PS, garbage after the hash. A lenient parser accepts it.
      ['short PS + trailing garbage', raw(em(8, Buffer.concat([prefix, h]), randomBytes(194)))],
      ['block type 2', raw(em(202, Buffer.concat([prefix, h]), Buffer.alloc(0), 2))],
      ['PS byte 0xfe', (() => {
        const e = em(202, Buffer.concat([prefix, h]));
        e[100] = 0xfe;
        return raw(e);
      })()],
      // The same DigestInfo with a non-minimal (long-form) outer length: BER, not DER.
      ['DigestInfo long-form length', raw(em(201, Buffer.concat([Buffer.from('308131300d060960864801650304020105000420', 'hex'), h])))],
    ];
    for (const [name, s] of cases) expect(deviceVerify(s, h), name).toBe(false);
  });

  it('spki.ts refuses e = 3 and non-2048-bit node:crypto keys', () => {
    for (const [bits, e] of [
      [2048, 3],
      [2048, 17],
      [1024, 65537],
      [3072, 65537],
    ] as const) {
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: e });
      expect(deviceModulus(publicKey.export({ type: 'spki', format: 'der' })), `${bits}-bit e=${e}`).toBeNull();
    }
  });

  it('throughput: RSA-2048 verifications per second', () => {
    const k = keys[0]!;
    const msg = randomBytes(64);
    const sig = sign('sha256', msg, k.privateKey);
    deviceModulus(k.spki);
    const h = nodeSha(msg);
    write(HASH, h);
    const p = placeAtEnd(sig);
    for (let i = 0; i < 50; i++) dev.rsa2048VerifySha256(MOD, p, 256, HASH); // warm-up (tier-up)
    const N = 1000;
    const t0 = performance.now();
    let ok = 0;
    for (let i = 0; i < N; i++) ok += dev.rsa2048VerifySha256(MOD, p, 256, HASH);
    const ms = performance.now() - t0;
    expect(ok).toBe(N);
    log(`RSA-2048 verify: ${((N * 1000) / ms).toFixed(0)} verifications/s (${((ms * 1000) / N).toFixed(0)} µs each)`);
  });
});

// -------------------------------------------------------------------------------------------------
// SPKI DER reader

/** Minimal DER length (X.690 §8.1.3, §10.1). */
const derLen = (n: number): number[] => (n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff]);
const tlv = (tag: number, ...parts: Uint8Array[]): Buffer => {
  const c = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag, ...derLen(c.length)]), c]);
};
/** TLV with an explicit (possibly non-minimal or wrong) length encoding. */
const tlvRawLen = (tag: number, lenBytes: number[], ...parts: Uint8Array[]): Buffer => Buffer.concat([Buffer.from([tag, ...lenBytes]), ...parts]);
const H = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const OID_RSA = H('06 09 2a864886f70d010101');
const NULL = H('05 00');
const E65537 = H('02 03 010001');

interface SpkiParts {
  alg?: Buffer;
  bitStringPrefix?: Buffer; // the unused-bits octet
  n?: Buffer; // complete INTEGER TLV
  e?: Buffer; // complete INTEGER TLV
  inKey?: Buffer; // extra bytes inside RSAPublicKey
  inBitString?: Buffer; // extra bytes after RSAPublicKey inside the BIT STRING
  inSpki?: Buffer; // extra bytes after the BIT STRING inside the SPKI
}
function spkiOf(modulus: Buffer, p: SpkiParts = {}): Buffer {
  const nTlv = p.n ?? tlv(0x02, Buffer.from([0]), modulus);
  const key = tlv(0x30, nTlv, p.e ?? E65537, p.inKey ?? Buffer.alloc(0));
  const bits = tlv(0x03, p.bitStringPrefix ?? Buffer.from([0]), key, p.inBitString ?? Buffer.alloc(0));
  return tlv(0x30, p.alg ?? tlv(0x30, OID_RSA, NULL), bits, p.inSpki ?? Buffer.alloc(0));
}

describe('device SPKI reader (wasm/crypto/spki.ts, strict DER)', () => {
  const g0 = wycheproof('rsa_signature_2048_sha256_test.json').testGroups[0]!;
  const VALID = Buffer.from(g0.publicKeyDer, 'hex');
  const MODULUS = to256(BigInt('0x' + g0.publicKey.modulus));
  /** Offset of the 256 modulus bytes in VALID (after 30 82 01 22 | 30 0d … 05 00 | 03 82 01 0f 00 | 30 82 01 0a | 02 82 01 01 00). */
  const MOD_AT = 4 + 15 + 5 + 4 + 5;

  /** Runs the reader on `b` at the end of memory; MOD is pre-filled with a marker to prove "writes nothing on failure". */
  function parse(b: Uint8Array): Uint8Array | null {
    mem().fill(0xa5, MOD, MOD + 256);
    const got = deviceModulus(b);
    if (got === null) expect(read(MOD, 256).every((x) => x === 0xa5)).toBe(true);
    return got;
  }

  it('the test’s DER builder reproduces the Wycheproof key, which the reader accepts', () => {
    expect(hex(spkiOf(MODULUS))).toBe(hex(VALID));
    expect(VALID.length).toBe(294);
    expect(hex(VALID.subarray(MOD_AT, MOD_AT + 256))).toBe(hex(MODULUS));
    expect(hex(parse(VALID)!)).toBe(hex(MODULUS));
  });

  it('every truncation (0..293 bytes) is refused; appended or prepended bytes are refused', () => {
    const accepted: number[] = [];
    for (let len = 0; len < VALID.length; len++) if (parse(VALID.subarray(0, len)) !== null) accepted.push(len);
    expect(accepted).toEqual([]);
    expect(parse(Buffer.concat([VALID, Buffer.from([0])]))).toBeNull();
    expect(parse(Buffer.concat([Buffer.from([0]), VALID]))).toBeNull();
    log(`SPKI: ${VALID.length} truncations refused`);
  });

  it('exhaustive short inputs: every 0–2 byte input, and every 3–4 byte input starting 30 / 30 81 / 30 82', () => {
    // Each ends at the last byte of memory, so a header reader that reads one length octet too many traps.
    let n = 0;
    const accepted: string[] = [];
    const tryAll = (prefix: number[], free: number): void => {
      const b = Buffer.alloc(prefix.length + free);
      b.set(prefix);
      for (let v = 0; v < 1 << (8 * free); v++) {
        for (let k = 0; k < free; k++) b[prefix.length + k] = (v >> (8 * (free - 1 - k))) & 0xff;
        const p = placeAtEnd(b);
        if (noTrap(`spki ${hex(b)}`, () => dev.spkiRsa2048Modulus(p, b.length, MOD)) !== 0) accepted.push(hex(b));
        n++;
      }
    };
    tryAll([], 0);
    tryAll([], 1);
    tryAll([], 2);
    tryAll([0x30], 2);
    tryAll([0x30, 0x81], 2);
    tryAll([0x30, 0x82], 2);
    expect(accepted).toEqual([]);
    log(`SPKI: ${n} exhaustive short inputs refused without a trap`);
  });

  it('every single-byte substitution (294 × 255): structure bytes always refused, modulus-body changes read back exactly', () => {
    // DER cannot tell one 2048-bit modulus from another, so a changed modulus byte that keeps the
    // top bit set is a different, well-formed key: it must be accepted *as that key*. Every other
    // substitution (the 38 structure bytes, or clearing n's top bit) must be refused.
    let refused = 0;
    let otherKey = 0;
    const wrong: string[] = [];
    const b = Buffer.from(VALID);
    for (let i = 0; i < VALID.length; i++) {
      for (let v = 0; v < 256; v++) {
        if (v === VALID[i]) continue;
        b[i] = v;
        const got = parse(b);
        const inModulus = i >= MOD_AT && i < MOD_AT + 256;
        const shouldAccept = inModulus && (i !== MOD_AT || v >= 0x80);
        if (shouldAccept) {
          if (got === null || hex(got) !== hex(b.subarray(MOD_AT, MOD_AT + 256))) wrong.push(`byte ${i} = ${v}: modulus not read back`);
          else otherKey++;
        } else if (got !== null) wrong.push(`byte ${i} = ${v}: accepted`);
        else refused++;
      }
      b[i] = VALID[i]!;
    }
    expect(wrong).toEqual([]);
    expect(refused + otherKey).toBe(294 * 255);
    expect(otherKey).toBe(255 * 255 + 127); // 255 body bytes × 255 values + first byte's 127 other values ≥ 0x80
    log(`SPKI single-byte substitutions: ${refused} refused (all ${38 * 255} on structure bytes + 128 clearing n's top bit), ${otherKey} read back as the substituted 2048-bit modulus`);
  });

  it('refuses hand-made DER violations and wrong keys', () => {
    const m = MODULUS;
    const nTlv = tlv(0x02, Buffer.from([0]), m);
    const keyTlv = tlv(0x30, nTlv, E65537);
    const bitsTlv = tlv(0x03, Buffer.from([0]), keyTlv);
    const algTlv = tlv(0x30, OID_RSA, NULL);
    const cases: [string, Buffer][] = [
      // X.690 §10.1: definite lengths in the minimum number of octets.
      ['outer length 83 00 01 22', tlvRawLen(0x30, [0x83, 0x00, 0x01, 0x22], algTlv, bitsTlv)],
      ['outer length 82 with value < 256', tlvRawLen(0x30, [0x82, 0x00, 0xff], Buffer.alloc(255))],
      ['outer indefinite length', tlvRawLen(0x30, [0x80], algTlv, bitsTlv, Buffer.from([0, 0]))],
      ['AlgorithmIdentifier length 81 0d', tlv(0x30, tlvRawLen(0x30, [0x81, 0x0d], OID_RSA, NULL), bitsTlv)],
      ['AlgorithmIdentifier length 82 00 0d', tlv(0x30, tlvRawLen(0x30, [0x82, 0x00, 0x0d], OID_RSA, NULL), bitsTlv)],
      ['BIT STRING length 83 00 01 0f', tlv(0x30, algTlv, tlvRawLen(0x03, [0x83, 0x00, 0x01, 0x0f], Buffer.from([0]), keyTlv))],
      ['modulus length 84 00 00 01 01', spkiOf(m, { n: tlvRawLen(0x02, [0x84, 0, 0, 0x01, 0x01], Buffer.from([0]), m) })],
      ['exponent length 81 03', spkiOf(m, { e: H('02 81 03 010001') })],
      ['NULL length 81 00', spkiOf(m, { alg: tlv(0x30, OID_RSA, H('05 81 00')) })],
      ['length ff (reserved)', tlvRawLen(0x30, [0xff], algTlv, bitsTlv)],
      // Lengths that disagree with the content.
      ['outer length one too long', tlvRawLen(0x30, [0x82, 0x01, 0x23], algTlv, bitsTlv)],
      ['outer length one too short', tlvRawLen(0x30, [0x82, 0x01, 0x21], algTlv, bitsTlv)],
      ['RSAPublicKey length one too long (30 82 01 0b)', spkiOf(m).fill(0x0b, 27, 28)],
      // An innermost length claiming more than its (consistently sized) containers hold. Each of these
      // ends at the end of memory, so reading the claimed contents would trap.
      ['e claims 3 octets, has 1', spkiOf(m, { e: H('02 03 01') })],
      ['n claims 257 octets, has 2', spkiOf(m, { n: H('02 82 01 01 00 80'), e: Buffer.alloc(0) })],
      ['OID claims 9 octets, has 2', tlv(0x30, tlv(0x30, H('06 09 2a86')))],
      ['NULL claims 1 octet, has 0', tlv(0x30, tlv(0x30, OID_RSA, H('05 01')))],
      ['BIT STRING claims 2 octets, has 1', tlv(0x30, algTlv, H('03 02 00'))],
      // Algorithm identifier.
      ['sha256WithRSAEncryption OID', spkiOf(m, { alg: tlv(0x30, H('06 09 2a864886f70d01010b'), NULL) })],
      ['RSASSA-PSS OID', spkiOf(m, { alg: tlv(0x30, H('06 09 2a864886f70d01010a'), NULL) })],
      ['OID with a trailing byte', spkiOf(m, { alg: tlv(0x30, H('06 0a 2a864886f70d01010100'), NULL) })],
      ['OID truncated', spkiOf(m, { alg: tlv(0x30, H('06 08 2a864886f70d0101'), NULL) })],
      ['parameters absent', spkiOf(m, { alg: tlv(0x30, OID_RSA) })],
      ['parameters NULL with content', spkiOf(m, { alg: tlv(0x30, OID_RSA, H('05 01 00')) })],
      ['parameters OCTET STRING', spkiOf(m, { alg: tlv(0x30, OID_RSA, H('04 00')) })],
      ['extra element after NULL', spkiOf(m, { alg: tlv(0x30, OID_RSA, NULL, NULL) })],
      ['OID tagged as [6]', spkiOf(m, { alg: tlv(0x30, H('86 09 2a864886f70d010101'), NULL) })],
      // BIT STRING.
      ['1 unused bit', spkiOf(m, { bitStringPrefix: Buffer.from([1]) })],
      ['7 unused bits', spkiOf(m, { bitStringPrefix: Buffer.from([7]) })],
      ['no unused-bits octet', tlv(0x30, algTlv, tlv(0x03, keyTlv))],
      ['constructed BIT STRING (0x23)', tlv(0x30, algTlv, tlv(0x23, tlv(0x03, Buffer.from([0]), keyTlv)))],
      ['OCTET STRING instead of BIT STRING', tlv(0x30, algTlv, tlv(0x04, Buffer.from([0]), keyTlv))],
      ['empty BIT STRING', tlv(0x30, algTlv, H('03 00'))],
      // Modulus.
      ['n without its leading 00 (negative)', spkiOf(m, { n: tlv(0x02, m) })],
      ['n with 00 00 (non-minimal)', spkiOf(m, { n: tlv(0x02, Buffer.from([0, 0]), m) })],
      ['n of 2047 bits (minimal)', spkiOf(m, { n: tlv(0x02, Buffer.concat([Buffer.from([m[0]! & 0x7f]), m.subarray(1)])) })],
      ['n of 2047 bits with a leading 00', spkiOf(m, { n: tlv(0x02, Buffer.from([0, m[0]! & 0x7f]), m.subarray(1)) })],
      ['n of 2056 bits', spkiOf(m, { n: tlv(0x02, Buffer.from([0, 0x80]), m) })],
      ['n of 3072 bits', spkiOf(m, { n: tlv(0x02, Buffer.from([0]), m, m.subarray(0, 128)) })],
      ['n = 0', spkiOf(m, { n: H('02 01 00') })],
      ['n tagged as [2]', spkiOf(m, { n: tlv(0x82, Buffer.from([0]), m) })],
      ['n high-tag-number form', spkiOf(m, { n: Buffer.concat([H('1f 02'), Buffer.from(derLen(257)), Buffer.from([0]), m]) })],
      // Exponent.
      ['e = 3', spkiOf(m, { e: H('02 01 03') })],
      ['e = 17', spkiOf(m, { e: H('02 01 11') })],
      ['e = 65539', spkiOf(m, { e: H('02 03 010003') })],
      ['e = 65537 with a leading 00', spkiOf(m, { e: H('02 04 00010001') })],
      ['e = 65537 · 256', spkiOf(m, { e: H('02 04 01000100') })],
      ['e = 2^32 + 1', spkiOf(m, { e: H('02 05 0100000001') })],
      ['e = −65537', spkiOf(m, { e: H('02 03 feffff') })],
      ['e empty', spkiOf(m, { e: H('02 00') })],
      ['e missing', tlv(0x30, algTlv, tlv(0x03, Buffer.from([0]), tlv(0x30, nTlv)))],
      // Shape and trailing bytes, at every level.
      ['e before n', tlv(0x30, algTlv, tlv(0x03, Buffer.from([0]), tlv(0x30, E65537, nTlv)))],
      ['third INTEGER in RSAPublicKey', spkiOf(m, { inKey: H('02 01 00') })],
      ['trailing 00 in RSAPublicKey', spkiOf(m, { inKey: H('00') })],
      ['trailing 00 in BIT STRING', spkiOf(m, { inBitString: H('00') })],
      ['trailing 00 in SubjectPublicKeyInfo', spkiOf(m, { inSpki: H('00') })],
      ['trailing NULL in SubjectPublicKeyInfo', spkiOf(m, { inSpki: NULL })],
      ['outer SET instead of SEQUENCE', tlv(0x31, algTlv, bitsTlv)],
      ['RSAPublicKey as SET', tlv(0x30, algTlv, tlv(0x03, Buffer.from([0]), tlv(0x31, nTlv, E65537)))],
      ['bare PKCS#1 RSAPublicKey', keyTlv],
      ['AlgorithmIdentifier missing', tlv(0x30, bitsTlv)],
      ['BIT STRING missing', tlv(0x30, algTlv)],
      ['empty SEQUENCE', H('30 00')],
      ['empty input', Buffer.alloc(0)],
    ];
    // Sanity: the builder's pieces are right (the unmodified assembly is the valid key).
    expect(hex(tlv(0x30, algTlv, bitsTlv))).toBe(hex(VALID));
    const accepted = cases.filter(([, b]) => parse(b) !== null).map(([name]) => name);
    expect(accepted).toEqual([]);
    // Control: a different well-formed 2048-bit modulus is accepted and read back.
    const other = Buffer.from(m);
    other[128]! ^= 0xff;
    expect(hex(parse(spkiOf(other))!)).toBe(hex(other));
    log(`SPKI: ${cases.length} hand-made DER violations refused`);
  });

  it('random garbage and random mutations never trap and are never accepted', () => {
    let seed = 0x2545f491;
    const rnd = (n: number): number => {
      seed ^= seed << 13;
      seed >>>= 0;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      seed >>>= 0;
      return seed % n;
    };
    let runs = 0;
    for (let i = 0; i < 5000; i++) {
      // Pure garbage, sometimes starting with a plausible SEQUENCE header.
      const g = randomBytes(rnd(400));
      if (g.length > 4 && rnd(2) === 0) g.set(VALID.subarray(0, 4 + rnd(30)).subarray(0, g.length));
      expect(parse(g)).toBeNull();
      // The valid key with 2–6 random bytes replaced inside the first 34 (structure) bytes or the last 5.
      const b = Buffer.from(VALID);
      const k = 2 + rnd(5);
      for (let j = 0; j < k; j++) {
        const at = rnd(2) ? rnd(MOD_AT) : VALID.length - 1 - rnd(5);
        b[at] = rnd(256);
      }
      const got = parse(b);
      // Rarely the random bytes equal the originals; then it is simply the valid key again.
      if (hex(b) !== hex(VALID)) expect(got).toBeNull();
      runs += 2;
    }
    log(`SPKI: ${runs} random inputs, no trap, none accepted`);
  });
});
