/**
 * Streaming SHA-256 (FIPS 180-4) for the emulated NIC's firmware, written in plain AssemblyScript
 * over raw linear-memory pointers.
 *
 * Device-side code: nothing here is shared with the host's TypeScript (src/core). The device
 * recomputes every digest itself, because it trusts nothing the host says.
 *
 * No allocation anywhere: the caller owns the context (SHA256_CTX_SIZE bytes at any address; 8-byte
 * alignment is best for speed), and compressing keeps its whole working set in locals. Only the
 * one-shot sha256() uses a static context (not re-entrant, fine in single-threaded WebAssembly).
 *
 * Speed: every byte of a firmware image goes through here on the device, so the compression
 * function is written out in full (64 rounds, no schedule array; see compressBlocks) and whole
 * blocks are hashed straight from the caller's memory. About 1.4× the throughput of a version with
 * a 64-word W array in memory and an 8× unrolled round loop (docs/benchmarks.md).
 *
 * Context layout (all fields little-endian, the module's own private format):
 *   [0, 32)    H0..H7, the intermediate hash value (FIPS 180-4 §6.2.2 step 4)
 *   [32, 96)   a partial message block not yet compressed
 *   [96, 104)  total message length so far in bytes (u64); the bit length is this × 8
 *   [104, 108) number of bytes currently held in the partial block (0..63)
 *   [108, 112) padding to a multiple of 8
 *
 * API:
 *   sha256Init(ctx)               set H to the initial value H(0) (§5.3.3), empty message
 *   sha256Update(ctx, data, len)  absorb len bytes at data; any split of a message gives one digest
 *   sha256Final(ctx, out)         pad (§5.1.1), write the 32-byte digest at out, wipe ctx
 *   sha256(data, len, out)        one-shot convenience (uses its own static context)
 * After sha256Final the context must be re-initialised with sha256Init before reuse.
 */

/** Bytes the caller must reserve for one context. */
export const SHA256_CTX_SIZE: u32 = 112;
/** Digest length in bytes. */
export const SHA256_DIGEST_SIZE: u32 = 32;
/** SHA-256 block length in bytes (FIPS 180-4 §1, "Block Size (bits) 512"). */
export const SHA256_BLOCK_SIZE: u32 = 64;

// Field offsets inside a context (see the layout above).
const OFF_BLOCK: usize = 32;
const OFF_TOTAL: usize = 96;
const OFF_FILL: usize = 104;

/** Context used by the one-shot sha256(). */
const ONE_SHOT_CTX: usize = memory.data(112, 8);

// FIPS 180-4 §4.1.2, the six logical functions on 32-bit words. Ch and Maj are written in forms with
// one operation fewer than the spec's and the same truth tables:
//   Ch(x,y,z)  = (x ∧ y) ⊕ (¬x ∧ z)          = z ⊕ (x ∧ (y ⊕ z))
//   Maj(x,y,z) = (x ∧ y) ⊕ (x ∧ z) ⊕ (y ∧ z)  = (x ∧ y) ∨ (z ∧ (x ∨ y))
// @inline: they are expanded at each use, so the rounds below compile to straight-line code.
// @ts-ignore: decorator
@inline function ch(x: u32, y: u32, z: u32): u32 {
  return z ^ (x & (y ^ z));
}
// @ts-ignore: decorator
@inline function maj(x: u32, y: u32, z: u32): u32 {
  return (x & y) | (z & (x | y));
}
// @ts-ignore: decorator
@inline function bigSigma0(x: u32): u32 {
  return rotr<u32>(x, 2) ^ rotr<u32>(x, 13) ^ rotr<u32>(x, 22);
}
// @ts-ignore: decorator
@inline function bigSigma1(x: u32): u32 {
  return rotr<u32>(x, 6) ^ rotr<u32>(x, 11) ^ rotr<u32>(x, 25);
}
// @ts-ignore: decorator
@inline function smallSigma0(x: u32): u32 {
  return rotr<u32>(x, 7) ^ rotr<u32>(x, 18) ^ (x >>> 3);
}
// @ts-ignore: decorator
@inline function smallSigma1(x: u32): u32 {
  return rotr<u32>(x, 17) ^ rotr<u32>(x, 19) ^ (x >>> 10);
}

/**
 * FIPS 180-4 §6.2.2: process `count` consecutive 512-bit blocks M(i) at `p` into the hash value at
 * `state`. Everything lives in WebAssembly locals: the hash value between blocks, the working
 * variables a..h, and the message schedule as a rolling window of 16 words w0..w15 (wt holds Wt
 * for the current t mod 16), so compressing touches memory only to read the message.
 *
 * The 64 rounds are written out, with Kt as literals (§4.2.2: the first 32 bits of the fractional
 * parts of the cube roots of the first 64 primes). Each round is one line:
 *   h += Σ1(e) + Ch(e,f,g) + Kt + Wt   (h is now T1)
 *   d += h                              (d + T1)
 *   h += Σ0(a) + Maj(a,b,c)             (T1 + T2, the new a)
 * and instead of moving h←g←f←e←d←c←b←a, the next round uses the names shifted by one, so every
 * eight rounds each name is back in its own role.
 */
function compressBlocks(state: usize, p: usize, count: usize): void {
  let h0 = load<u32>(state, 0);
  let h1 = load<u32>(state, 4);
  let h2 = load<u32>(state, 8);
  let h3 = load<u32>(state, 12);
  let h4 = load<u32>(state, 16);
  let h5 = load<u32>(state, 20);
  let h6 = load<u32>(state, 24);
  let h7 = load<u32>(state, 28);
  for (const end = p + (count << 6); p < end; p += 64) {
    // Step 1, t = 0..15: Wt = M(i)t, big-endian words (§3.1), hence bswap on little-endian loads.
    let w0 = bswap<u32>(load<u32>(p, 0));
    let w1 = bswap<u32>(load<u32>(p, 4));
    let w2 = bswap<u32>(load<u32>(p, 8));
    let w3 = bswap<u32>(load<u32>(p, 12));
    let w4 = bswap<u32>(load<u32>(p, 16));
    let w5 = bswap<u32>(load<u32>(p, 20));
    let w6 = bswap<u32>(load<u32>(p, 24));
    let w7 = bswap<u32>(load<u32>(p, 28));
    let w8 = bswap<u32>(load<u32>(p, 32));
    let w9 = bswap<u32>(load<u32>(p, 36));
    let w10 = bswap<u32>(load<u32>(p, 40));
    let w11 = bswap<u32>(load<u32>(p, 44));
    let w12 = bswap<u32>(load<u32>(p, 48));
    let w13 = bswap<u32>(load<u32>(p, 52));
    let w14 = bswap<u32>(load<u32>(p, 56));
    let w15 = bswap<u32>(load<u32>(p, 60));

    // Step 2: the working variables start from the (i-1)st hash value.
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    let f = h5;
    let g = h6;
    let h = h7;

    // Step 3: rounds 0..63. Before each group of 16 rounds from t = 16 on, step 1's
    // Wt = σ1(Wt-2) + Wt-7 + σ0(Wt-15) + Wt-16 replaces the window in place: Wt-16 is the word wt holds.
    h += bigSigma1(e) + ch(e, f, g) + 0x428a2f98 + w0; d += h; h += bigSigma0(a) + maj(a, b, c);
    g += bigSigma1(d) + ch(d, e, f) + 0x71374491 + w1; c += g; g += bigSigma0(h) + maj(h, a, b);
    f += bigSigma1(c) + ch(c, d, e) + 0xb5c0fbcf + w2; b += f; f += bigSigma0(g) + maj(g, h, a);
    e += bigSigma1(b) + ch(b, c, d) + 0xe9b5dba5 + w3; a += e; e += bigSigma0(f) + maj(f, g, h);
    d += bigSigma1(a) + ch(a, b, c) + 0x3956c25b + w4; h += d; d += bigSigma0(e) + maj(e, f, g);
    c += bigSigma1(h) + ch(h, a, b) + 0x59f111f1 + w5; g += c; c += bigSigma0(d) + maj(d, e, f);
    b += bigSigma1(g) + ch(g, h, a) + 0x923f82a4 + w6; f += b; b += bigSigma0(c) + maj(c, d, e);
    a += bigSigma1(f) + ch(f, g, h) + 0xab1c5ed5 + w7; e += a; a += bigSigma0(b) + maj(b, c, d);
    h += bigSigma1(e) + ch(e, f, g) + 0xd807aa98 + w8; d += h; h += bigSigma0(a) + maj(a, b, c);
    g += bigSigma1(d) + ch(d, e, f) + 0x12835b01 + w9; c += g; g += bigSigma0(h) + maj(h, a, b);
    f += bigSigma1(c) + ch(c, d, e) + 0x243185be + w10; b += f; f += bigSigma0(g) + maj(g, h, a);
    e += bigSigma1(b) + ch(b, c, d) + 0x550c7dc3 + w11; a += e; e += bigSigma0(f) + maj(f, g, h);
    d += bigSigma1(a) + ch(a, b, c) + 0x72be5d74 + w12; h += d; d += bigSigma0(e) + maj(e, f, g);
    c += bigSigma1(h) + ch(h, a, b) + 0x80deb1fe + w13; g += c; c += bigSigma0(d) + maj(d, e, f);
    b += bigSigma1(g) + ch(g, h, a) + 0x9bdc06a7 + w14; f += b; b += bigSigma0(c) + maj(c, d, e);
    a += bigSigma1(f) + ch(f, g, h) + 0xc19bf174 + w15; e += a; a += bigSigma0(b) + maj(b, c, d);
    w0 += smallSigma1(w14) + w9 + smallSigma0(w1);
    w1 += smallSigma1(w15) + w10 + smallSigma0(w2);
    w2 += smallSigma1(w0) + w11 + smallSigma0(w3);
    w3 += smallSigma1(w1) + w12 + smallSigma0(w4);
    w4 += smallSigma1(w2) + w13 + smallSigma0(w5);
    w5 += smallSigma1(w3) + w14 + smallSigma0(w6);
    w6 += smallSigma1(w4) + w15 + smallSigma0(w7);
    w7 += smallSigma1(w5) + w0 + smallSigma0(w8);
    w8 += smallSigma1(w6) + w1 + smallSigma0(w9);
    w9 += smallSigma1(w7) + w2 + smallSigma0(w10);
    w10 += smallSigma1(w8) + w3 + smallSigma0(w11);
    w11 += smallSigma1(w9) + w4 + smallSigma0(w12);
    w12 += smallSigma1(w10) + w5 + smallSigma0(w13);
    w13 += smallSigma1(w11) + w6 + smallSigma0(w14);
    w14 += smallSigma1(w12) + w7 + smallSigma0(w15);
    w15 += smallSigma1(w13) + w8 + smallSigma0(w0);
    h += bigSigma1(e) + ch(e, f, g) + 0xe49b69c1 + w0; d += h; h += bigSigma0(a) + maj(a, b, c);
    g += bigSigma1(d) + ch(d, e, f) + 0xefbe4786 + w1; c += g; g += bigSigma0(h) + maj(h, a, b);
    f += bigSigma1(c) + ch(c, d, e) + 0x0fc19dc6 + w2; b += f; f += bigSigma0(g) + maj(g, h, a);
    e += bigSigma1(b) + ch(b, c, d) + 0x240ca1cc + w3; a += e; e += bigSigma0(f) + maj(f, g, h);
    d += bigSigma1(a) + ch(a, b, c) + 0x2de92c6f + w4; h += d; d += bigSigma0(e) + maj(e, f, g);
    c += bigSigma1(h) + ch(h, a, b) + 0x4a7484aa + w5; g += c; c += bigSigma0(d) + maj(d, e, f);
    b += bigSigma1(g) + ch(g, h, a) + 0x5cb0a9dc + w6; f += b; b += bigSigma0(c) + maj(c, d, e);
    a += bigSigma1(f) + ch(f, g, h) + 0x76f988da + w7; e += a; a += bigSigma0(b) + maj(b, c, d);
    h += bigSigma1(e) + ch(e, f, g) + 0x983e5152 + w8; d += h; h += bigSigma0(a) + maj(a, b, c);
    g += bigSigma1(d) + ch(d, e, f) + 0xa831c66d + w9; c += g; g += bigSigma0(h) + maj(h, a, b);
    f += bigSigma1(c) + ch(c, d, e) + 0xb00327c8 + w10; b += f; f += bigSigma0(g) + maj(g, h, a);
    e += bigSigma1(b) + ch(b, c, d) + 0xbf597fc7 + w11; a += e; e += bigSigma0(f) + maj(f, g, h);
    d += bigSigma1(a) + ch(a, b, c) + 0xc6e00bf3 + w12; h += d; d += bigSigma0(e) + maj(e, f, g);
    c += bigSigma1(h) + ch(h, a, b) + 0xd5a79147 + w13; g += c; c += bigSigma0(d) + maj(d, e, f);
    b += bigSigma1(g) + ch(g, h, a) + 0x06ca6351 + w14; f += b; b += bigSigma0(c) + maj(c, d, e);
    a += bigSigma1(f) + ch(f, g, h) + 0x14292967 + w15; e += a; a += bigSigma0(b) + maj(b, c, d);
    w0 += smallSigma1(w14) + w9 + smallSigma0(w1);
    w1 += smallSigma1(w15) + w10 + smallSigma0(w2);
    w2 += smallSigma1(w0) + w11 + smallSigma0(w3);
    w3 += smallSigma1(w1) + w12 + smallSigma0(w4);
    w4 += smallSigma1(w2) + w13 + smallSigma0(w5);
    w5 += smallSigma1(w3) + w14 + smallSigma0(w6);
    w6 += smallSigma1(w4) + w15 + smallSigma0(w7);
    w7 += smallSigma1(w5) + w0 + smallSigma0(w8);
    w8 += smallSigma1(w6) + w1 + smallSigma0(w9);
    w9 += smallSigma1(w7) + w2 + smallSigma0(w10);
    w10 += smallSigma1(w8) + w3 + smallSigma0(w11);
    w11 += smallSigma1(w9) + w4 + smallSigma0(w12);
    w12 += smallSigma1(w10) + w5 + smallSigma0(w13);
    w13 += smallSigma1(w11) + w6 + smallSigma0(w14);
    w14 += smallSigma1(w12) + w7 + smallSigma0(w15);
    w15 += smallSigma1(w13) + w8 + smallSigma0(w0);
    h += bigSigma1(e) + ch(e, f, g) + 0x27b70a85 + w0; d += h; h += bigSigma0(a) + maj(a, b, c);
    g += bigSigma1(d) + ch(d, e, f) + 0x2e1b2138 + w1; c += g; g += bigSigma0(h) + maj(h, a, b);
    f += bigSigma1(c) + ch(c, d, e) + 0x4d2c6dfc + w2; b += f; f += bigSigma0(g) + maj(g, h, a);
    e += bigSigma1(b) + ch(b, c, d) + 0x53380d13 + w3; a += e; e += bigSigma0(f) + maj(f, g, h);
    d += bigSigma1(a) + ch(a, b, c) + 0x650a7354 + w4; h += d; d += bigSigma0(e) + maj(e, f, g);
    c += bigSigma1(h) + ch(h, a, b) + 0x766a0abb + w5; g += c; c += bigSigma0(d) + maj(d, e, f);
    b += bigSigma1(g) + ch(g, h, a) + 0x81c2c92e + w6; f += b; b += bigSigma0(c) + maj(c, d, e);
    a += bigSigma1(f) + ch(f, g, h) + 0x92722c85 + w7; e += a; a += bigSigma0(b) + maj(b, c, d);
    h += bigSigma1(e) + ch(e, f, g) + 0xa2bfe8a1 + w8; d += h; h += bigSigma0(a) + maj(a, b, c);
    g += bigSigma1(d) + ch(d, e, f) + 0xa81a664b + w9; c += g; g += bigSigma0(h) + maj(h, a, b);
    f += bigSigma1(c) + ch(c, d, e) + 0xc24b8b70 + w10; b += f; f += bigSigma0(g) + maj(g, h, a);
    e += bigSigma1(b) + ch(b, c, d) + 0xc76c51a3 + w11; a += e; e += bigSigma0(f) + maj(f, g, h);
    d += bigSigma1(a) + ch(a, b, c) + 0xd192e819 + w12; h += d; d += bigSigma0(e) + maj(e, f, g);
    c += bigSigma1(h) + ch(h, a, b) + 0xd6990624 + w13; g += c; c += bigSigma0(d) + maj(d, e, f);
    b += bigSigma1(g) + ch(g, h, a) + 0xf40e3585 + w14; f += b; b += bigSigma0(c) + maj(c, d, e);
    a += bigSigma1(f) + ch(f, g, h) + 0x106aa070 + w15; e += a; a += bigSigma0(b) + maj(b, c, d);
    w0 += smallSigma1(w14) + w9 + smallSigma0(w1);
    w1 += smallSigma1(w15) + w10 + smallSigma0(w2);
    w2 += smallSigma1(w0) + w11 + smallSigma0(w3);
    w3 += smallSigma1(w1) + w12 + smallSigma0(w4);
    w4 += smallSigma1(w2) + w13 + smallSigma0(w5);
    w5 += smallSigma1(w3) + w14 + smallSigma0(w6);
    w6 += smallSigma1(w4) + w15 + smallSigma0(w7);
    w7 += smallSigma1(w5) + w0 + smallSigma0(w8);
    w8 += smallSigma1(w6) + w1 + smallSigma0(w9);
    w9 += smallSigma1(w7) + w2 + smallSigma0(w10);
    w10 += smallSigma1(w8) + w3 + smallSigma0(w11);
    w11 += smallSigma1(w9) + w4 + smallSigma0(w12);
    w12 += smallSigma1(w10) + w5 + smallSigma0(w13);
    w13 += smallSigma1(w11) + w6 + smallSigma0(w14);
    w14 += smallSigma1(w12) + w7 + smallSigma0(w15);
    w15 += smallSigma1(w13) + w8 + smallSigma0(w0);
    h += bigSigma1(e) + ch(e, f, g) + 0x19a4c116 + w0; d += h; h += bigSigma0(a) + maj(a, b, c);
    g += bigSigma1(d) + ch(d, e, f) + 0x1e376c08 + w1; c += g; g += bigSigma0(h) + maj(h, a, b);
    f += bigSigma1(c) + ch(c, d, e) + 0x2748774c + w2; b += f; f += bigSigma0(g) + maj(g, h, a);
    e += bigSigma1(b) + ch(b, c, d) + 0x34b0bcb5 + w3; a += e; e += bigSigma0(f) + maj(f, g, h);
    d += bigSigma1(a) + ch(a, b, c) + 0x391c0cb3 + w4; h += d; d += bigSigma0(e) + maj(e, f, g);
    c += bigSigma1(h) + ch(h, a, b) + 0x4ed8aa4a + w5; g += c; c += bigSigma0(d) + maj(d, e, f);
    b += bigSigma1(g) + ch(g, h, a) + 0x5b9cca4f + w6; f += b; b += bigSigma0(c) + maj(c, d, e);
    a += bigSigma1(f) + ch(f, g, h) + 0x682e6ff3 + w7; e += a; a += bigSigma0(b) + maj(b, c, d);
    h += bigSigma1(e) + ch(e, f, g) + 0x748f82ee + w8; d += h; h += bigSigma0(a) + maj(a, b, c);
    g += bigSigma1(d) + ch(d, e, f) + 0x78a5636f + w9; c += g; g += bigSigma0(h) + maj(h, a, b);
    f += bigSigma1(c) + ch(c, d, e) + 0x84c87814 + w10; b += f; f += bigSigma0(g) + maj(g, h, a);
    e += bigSigma1(b) + ch(b, c, d) + 0x8cc70208 + w11; a += e; e += bigSigma0(f) + maj(f, g, h);
    d += bigSigma1(a) + ch(a, b, c) + 0x90befffa + w12; h += d; d += bigSigma0(e) + maj(e, f, g);
    c += bigSigma1(h) + ch(h, a, b) + 0xa4506ceb + w13; g += c; c += bigSigma0(d) + maj(d, e, f);
    b += bigSigma1(g) + ch(g, h, a) + 0xbef9a3f7 + w14; f += b; b += bigSigma0(c) + maj(c, d, e);
    a += bigSigma1(f) + ch(f, g, h) + 0xc67178f2 + w15; e += a; a += bigSigma0(b) + maj(b, c, d);

    // Step 4: H(i) = working variables + H(i-1), word by word mod 2^32.
    h0 += a;
    h1 += b;
    h2 += c;
    h3 += d;
    h4 += e;
    h5 += f;
    h6 += g;
    h7 += h;
  }
  store<u32>(state, h0, 0);
  store<u32>(state, h1, 4);
  store<u32>(state, h2, 8);
  store<u32>(state, h3, 12);
  store<u32>(state, h4, 16);
  store<u32>(state, h5, 20);
  store<u32>(state, h6, 24);
  store<u32>(state, h7, 28);
}

/** FIPS 180-4 §5.3.3: H(0) for SHA-256, and an empty message (length 0, no buffered bytes). */
export function sha256Init(ctx: usize): void {
  store<u32>(ctx, 0x6a09e667, 0);
  store<u32>(ctx, 0xbb67ae85, 4);
  store<u32>(ctx, 0x3c6ef372, 8);
  store<u32>(ctx, 0xa54ff53a, 12);
  store<u32>(ctx, 0x510e527f, 16);
  store<u32>(ctx, 0x9b05688c, 20);
  store<u32>(ctx, 0x1f83d9ab, 24);
  store<u32>(ctx, 0x5be0cd19, 28);
  memory.fill(ctx + OFF_BLOCK, 0, 64);
  store<u64>(ctx, 0, OFF_TOTAL);
  store<u32>(ctx, 0, OFF_FILL);
  store<u32>(ctx, 0, OFF_FILL + 4);
}

/**
 * Absorbs `len` bytes at `data`. Whole blocks are compressed straight from the caller's memory
 * (no copy); only a partial block at either end goes through the context's block buffer.
 * Reads exactly [data, data + len): nothing before or after.
 */
export function sha256Update(ctx: usize, data: usize, len: u32): void {
  if (len == 0) return;
  // The total is kept in bytes; FIPS 180-4 §5.1.1 limits messages to < 2^64 bits, far beyond any image.
  store<u64>(ctx, load<u64>(ctx, OFF_TOTAL) + (len as u64), OFF_TOTAL);

  let p = data;
  let left = len as usize;
  const block = ctx + OFF_BLOCK;
  const fill = load<u32>(ctx, OFF_FILL) as usize;

  // Top up a partially filled block first.
  if (fill != 0) {
    const room: usize = 64 - fill;
    if (left < room) {
      memory.copy(block + fill, p, left);
      store<u32>(ctx, (fill + left) as u32, OFF_FILL);
      return;
    }
    memory.copy(block + fill, p, room);
    compressBlocks(ctx, block, 1);
    p += room;
    left -= room;
  }
  // Whole blocks directly from the input, in one call.
  const whole = left >>> 6;
  if (whole != 0) {
    compressBlocks(ctx, p, whole);
    p += whole << 6;
    left &= 63;
  }
  // Keep the tail for next time.
  if (left != 0) memory.copy(block, p, left);
  store<u32>(ctx, left as u32, OFF_FILL);
}

/**
 * FIPS 180-4 §5.1.1 padding: append bit "1" (byte 0x80), then k zero bits so the length is 448 mod
 * 512, then the message length in bits as a 64-bit big-endian integer; compress the final block(s)
 * and write H0..H7 big-endian (§6.2.2, "the resulting 256-bit message digest"). Wipes the context.
 */
export function sha256Final(ctx: usize, out: usize): void {
  const block = ctx + OFF_BLOCK;
  const fill = load<u32>(ctx, OFF_FILL) as usize;
  const bits = load<u64>(ctx, OFF_TOTAL) << 3;

  store<u8>(block + fill, 0x80);
  if (fill + 1 > 56) {
    // No room for the 8-byte length: pad this block out, compress, and start an all-padding block.
    memory.fill(block + fill + 1, 0, 63 - fill);
    compressBlocks(ctx, block, 1);
    memory.fill(block, 0, 56);
  } else {
    memory.fill(block + fill + 1, 0, 55 - fill);
  }
  store<u64>(block, bswap<u64>(bits), 56);
  compressBlocks(ctx, block, 1);

  for (let i: usize = 0; i < 32; i += 4) {
    store<u32>(out + i, bswap<u32>(load<u32>(ctx + i)));
  }
  // A finished context holds nothing the caller needs; clear it so stale state cannot be extended.
  memory.fill(ctx, 0, SHA256_CTX_SIZE);
}

/** One-shot SHA-256 of [data, data + len) into 32 bytes at out. Uses a static context (not re-entrant). */
export function sha256(data: usize, len: u32, out: usize): void {
  sha256Init(ONE_SHOT_CTX);
  sha256Update(ONE_SHOT_CTX, data, len);
  sha256Final(ONE_SHOT_CTX, out);
}
