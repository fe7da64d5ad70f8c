/**
 * NIST CAVP SHAVS byte-oriented SHA-256 vectors (tests/vectors/nist-cavp-shs, see SOURCES.md) run
 * against both backends of src/core/crypto/sha256.ts: hash-wasm (streaming, fed whole and in
 * irregular chunks) and WebCrypto (one-shot). Every vector is checked on every backend, so the two
 * agree by construction; the Monte Carlo test also compares them checkpoint by checkpoint.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../src/core/bytes/hex.ts';
import { createSha256, sha256Blob, sha256Chunked, sha256Wasm, sha256WebCrypto, type HashProgress } from '../../../src/core/crypto/sha256.ts';

const dir = new URL('../../vectors/nist-cavp-shs/', import.meta.url);
const rsp = (name: string) => readFileSync(new URL(name, dir), 'latin1');

interface MsgVector {
  readonly len: number;
  readonly msg: Uint8Array;
  readonly md: string;
}

/** Reads "Len = / Msg = / MD =" records. Len is in bits; Len = 0 carries "Msg = 00", so only Len/8 bytes count. */
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
      out.push({ len, msg: fromHex(msg).subarray(0, len / 8), md: m[2]! });
      len = msg = undefined;
    }
  }
  return out;
}

function parseMonte(text: string): { seed: Uint8Array; checkpoints: string[] } {
  const seed = /^Seed = ([0-9a-f]{64})\s*$/m.exec(text);
  if (!seed) throw new Error('Monte file has no seed');
  const checkpoints: string[] = [];
  for (const m of text.matchAll(/^COUNT = (\d+)\s*\r?\nMD = ([0-9a-f]{64})\s*$/gm)) {
    if (Number(m[1]) !== checkpoints.length) throw new Error(`Monte COUNT ${m[1]} out of order`);
    checkpoints.push(m[2]!);
  }
  return { seed: fromHex(seed[1]!), checkpoints };
}

/** hash-wasm streaming, fed in pieces whose sizes cycle through awkward values (block boundaries ±1). */
async function wasmInPieces(msg: Uint8Array): Promise<Uint8Array> {
  const sizes = [1, 63, 64, 65, 7, 127, 0, 1000];
  const h = await createSha256();
  let at = 0;
  for (let i = 0; at < msg.length; i++) {
    const n = sizes[i % sizes.length]!;
    h.update(msg.subarray(at, at + n));
    at += n;
  }
  return h.digest();
}

type Backend = { name: string; hash: (msg: Uint8Array) => Promise<Uint8Array> };
const BACKENDS: Backend[] = [
  { name: 'hash-wasm one update', hash: sha256Wasm },
  { name: 'hash-wasm chunked updates', hash: wasmInPieces },
  { name: 'hash-wasm sha256Chunked(100 B)', hash: (m) => sha256Chunked(m, { chunkSize: 100 }) },
  { name: 'WebCrypto one-shot', hash: sha256WebCrypto },
];

const SHORT = parseMsgFile(rsp('SHA256ShortMsg.rsp'));
const LONG = parseMsgFile(rsp('SHA256LongMsg.rsp'));
const MONTE = parseMonte(rsp('SHA256Monte.rsp'));

describe('NIST CAVP SHA-256 vector files', () => {
  it('hold the documented number of vectors', () => {
    expect(SHORT.length).toBe(65);
    expect(LONG.length).toBe(64);
    expect(MONTE.checkpoints.length).toBe(100);
    expect(SHORT[0]!.len).toBe(0);
    expect(SHORT[0]!.msg.length).toBe(0); // "Msg = 00" with Len = 0 is the empty message
    expect(LONG.at(-1)!.len).toBe(51200);
  });
});

describe.each(BACKENDS)('SHA-256 $name', ({ hash }) => {
  it.each([
    ['ShortMsg', SHORT],
    ['LongMsg', LONG],
  ] as const)('%s: every vector', async (_name, vectors) => {
    const wrong: string[] = [];
    for (const v of vectors) {
      const got = toHex(await hash(v.msg));
      if (got !== v.md) wrong.push(`Len=${v.len}: got ${got}, want ${v.md}`);
    }
    expect(wrong).toEqual([]);
  });
});

/**
 * SHAVS §6.4, one checkpoint: MD0 = MD1 = MD2 = seed; Mi = MD(i-3) || MD(i-2) || MD(i-1), MDi = SHA-256(Mi)
 * for i = 3..1002; the checkpoint is MD1002, which is also the next checkpoint's seed.
 */
async function monteCheckpoint(hash: (m: Uint8Array) => Promise<Uint8Array> | Uint8Array, seed: Uint8Array): Promise<string> {
  let a = seed;
  let b = seed;
  let c = seed;
  const m = new Uint8Array(96);
  for (let i = 3; i < 1003; i++) {
    m.set(a, 0);
    m.set(b, 32);
    m.set(c, 64);
    const d = await hash(m);
    a = b;
    b = c;
    c = d;
  }
  return toHex(c);
}

/**
 * hash-wasm runs the SHAVS procedure exactly: chained from Seed, 100 000 hashes through
 * createSha256() (fast because finished hashers are pooled in sha256.ts). WebCrypto costs an async
 * round trip per digest, so its checkpoints run concurrently: checkpoint j starts from the expected
 * checkpoint j - 1, and all 100 matching is equivalent to the chained run.
 */
describe('SHA-256 Monte Carlo (SHAVS 6.4, 100 checkpoints × 1000 hashes)', () => {
  const wasm: string[] = [];
  it('hash-wasm through createSha256() streaming (two updates per message), chained from Seed', async () => {
    const hash = async (m: Uint8Array) => (await createSha256()).update(m.subarray(0, 40)).update(m.subarray(40)).digest();
    let seed = MONTE.seed;
    for (let j = 0; j < 100; j++) {
      wasm.push(await monteCheckpoint(hash, seed));
      seed = fromHex(wasm[j]!);
    }
    expect(wasm).toEqual(MONTE.checkpoints);
  });

  it('WebCrypto one-shot: all 100 checkpoints, and they agree with hash-wasm', async () => {
    const seedOf = (j: number) => (j === 0 ? MONTE.seed : fromHex(MONTE.checkpoints[j - 1]!));
    const got = await Promise.all(MONTE.checkpoints.map((_, j) => monteCheckpoint(sha256WebCrypto, seedOf(j))));
    expect(got).toEqual(MONTE.checkpoints);
    expect(got).toEqual(wasm);
  });
});

describe('sha256Blob', () => {
  const nodeSha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
  const pattern = (n: number) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >>> 8)) & 0xff;
    return b;
  };

  it('a small Blob (one chunk) matches node:crypto and WebCrypto', async () => {
    const bytes = pattern(1000);
    const progress: HashProgress[] = [];
    const got = await sha256Blob(new Blob([bytes]), { onProgress: (p) => progress.push(p) });
    expect(toHex(got)).toBe(nodeSha(bytes));
    expect(toHex(got)).toBe(toHex(await sha256WebCrypto(bytes)));
    expect(progress).toEqual([{ done: 1000, total: 1000 }]);
  });

  it('a multi-chunk Blob (2.5 MiB + 3 bytes, 1 MiB chunks) matches node:crypto, with monotonic progress', async () => {
    const MiB = 1024 * 1024;
    const bytes = pattern(2.5 * MiB + 3);
    const progress: HashProgress[] = [];
    // Split the Blob's parts off the chunk grid so slices straddle part boundaries.
    const blob = new Blob([bytes.subarray(0, 12345), bytes.subarray(12345, 1_782_579), bytes.subarray(1_782_579)]);
    const got = await sha256Blob(blob, { chunkSize: MiB, onProgress: (p) => progress.push(p) });
    expect(toHex(got)).toBe(nodeSha(bytes));
    expect(progress.map((p) => p.done)).toEqual([MiB, 2 * MiB, bytes.length]);
    expect(progress.every((p) => p.total === bytes.length)).toBe(true);
  });

  it('a byte range [start, end) of a Blob matches node:crypto over the same range', async () => {
    const bytes = pattern(1.5 * 1024 * 1024);
    const got = await sha256Blob(new Blob([bytes]), { start: 17, end: bytes.length - 5, chunkSize: 1024 * 1024 });
    expect(toHex(got)).toBe(nodeSha(bytes.subarray(17, bytes.length - 5)));
  });

  it('an empty Blob hashes to the NIST Len = 0 digest', async () => {
    expect(toHex(await sha256Blob(new Blob([])))).toBe(SHORT[0]!.md);
  });
});
