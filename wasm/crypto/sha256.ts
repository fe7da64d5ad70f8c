/**
 * Streaming SHA-256 (FIPS 180-4) for the emulated NIC's firmware, written in plain AssemblyScript
 * over raw linear-memory pointers.
 *
 * Device-side code: nothing here is shared with the host's TypeScript (src/core). The device
 * recomputes every digest itself, because it trusts nothing the host says.
 *
 * No allocation anywhere: the caller owns the context (SHA256_CTX_SIZE bytes at any address; 8-byte
 * alignment is best for speed), and the message schedule W lives in one static 256-byte segment.
 * The module is not re-entrant (that static W), which is fine in single-threaded WebAssembly.
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

/** FIPS 180-4 §4.2.2: the 64 constants K0..K63 (first 32 bits of the fractional parts of the cube roots of the first 64 primes). */
const K: usize = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** The message schedule W0..W63 (FIPS 180-4 §6.2.2 step 1): static, so compressing never allocates. */
const W: usize = memory.data(256, 16);

/** Context used by the one-shot sha256(). */
const ONE_SHOT_CTX: usize = memory.data(112, 8);

/**
 * FIPS 180-4 §6.2.2: process one 512-bit block M(i) at `block` into the hash value at `state`.
 * Words are big-endian (FIPS 180-4 §3.1), hence bswap on WebAssembly's little-endian loads.
 * The eight working variables a..h stay in locals; the §4.1.2 functions are written out inline:
 *   Ch(x,y,z)  = (x ∧ y) ⊕ (¬x ∧ z)          computed as z ⊕ (x ∧ (y ⊕ z))        (same truth table)
 *   Maj(x,y,z) = (x ∧ y) ⊕ (x ∧ z) ⊕ (y ∧ z)  computed as (x ∧ y) ∨ (z ∧ (x ∨ y)) (same truth table)
 *   Σ0(x) = ROTR2 ⊕ ROTR13 ⊕ ROTR22, Σ1(x) = ROTR6 ⊕ ROTR11 ⊕ ROTR25
 *   σ0(x) = ROTR7 ⊕ ROTR18 ⊕ SHR3,   σ1(x) = ROTR17 ⊕ ROTR19 ⊕ SHR10
 */
function compress(state: usize, block: usize): void {
  // Step 1: prepare the message schedule. Wt = M(i)t for 0 ≤ t ≤ 15 ...
  for (let t: usize = 0; t < 64; t += 4) {
    store<u32>(W + t, bswap<u32>(load<u32>(block + t)));
  }
  // ... and Wt = σ1(Wt-2) + Wt-7 + σ0(Wt-15) + Wt-16 (mod 2^32) for 16 ≤ t ≤ 63.
  for (let p: usize = W + 64; p < W + 256; p += 4) {
    const w15 = load<u32>(p - 60);
    const w2 = load<u32>(p - 8);
    const s0 = rotr<u32>(w15, 7) ^ rotr<u32>(w15, 18) ^ (w15 >>> 3);
    const s1 = rotr<u32>(w2, 17) ^ rotr<u32>(w2, 19) ^ (w2 >>> 10);
    store<u32>(p, s1 + load<u32>(p - 28) + s0 + load<u32>(p - 64));
  }

  // Step 2: initialise the working variables with the (i-1)st hash value.
  let a = load<u32>(state, 0);
  let b = load<u32>(state, 4);
  let c = load<u32>(state, 8);
  let d = load<u32>(state, 12);
  let e = load<u32>(state, 16);
  let f = load<u32>(state, 20);
  let g = load<u32>(state, 24);
  let h = load<u32>(state, 28);

  // Step 3: the 64 rounds, unrolled by 8 so the register rotation h←g←f←e←d←c←b←a becomes
  // renaming instead of moves. Each ROUND(a..h, t) computes T1 = h + Σ1(e) + Ch(e,f,g) + Kt + Wt,
  // T2 = Σ0(a) + Maj(a,b,c), then d += T1 and h = T1 + T2; the next round uses the names shifted.
  for (let t: usize = 0; t < 256; t += 32) {
    let t1: u32;
    // round t+0: (a,b,c,d,e,f,g,h)
    t1 = h + (rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25)) + (g ^ (e & (f ^ g))) + load<u32>(K + t, 0) + load<u32>(W + t, 0);
    d += t1;
    h = t1 + (rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22)) + ((a & b) | (c & (a | b)));
    // round t+1: (h,a,b,c,d,e,f,g)
    t1 = g + (rotr<u32>(d, 6) ^ rotr<u32>(d, 11) ^ rotr<u32>(d, 25)) + (f ^ (d & (e ^ f))) + load<u32>(K + t, 4) + load<u32>(W + t, 4);
    c += t1;
    g = t1 + (rotr<u32>(h, 2) ^ rotr<u32>(h, 13) ^ rotr<u32>(h, 22)) + ((h & a) | (b & (h | a)));
    // round t+2: (g,h,a,b,c,d,e,f)
    t1 = f + (rotr<u32>(c, 6) ^ rotr<u32>(c, 11) ^ rotr<u32>(c, 25)) + (e ^ (c & (d ^ e))) + load<u32>(K + t, 8) + load<u32>(W + t, 8);
    b += t1;
    f = t1 + (rotr<u32>(g, 2) ^ rotr<u32>(g, 13) ^ rotr<u32>(g, 22)) + ((g & h) | (a & (g | h)));
    // round t+3: (f,g,h,a,b,c,d,e)
    t1 = e + (rotr<u32>(b, 6) ^ rotr<u32>(b, 11) ^ rotr<u32>(b, 25)) + (d ^ (b & (c ^ d))) + load<u32>(K + t, 12) + load<u32>(W + t, 12);
    a += t1;
    e = t1 + (rotr<u32>(f, 2) ^ rotr<u32>(f, 13) ^ rotr<u32>(f, 22)) + ((f & g) | (h & (f | g)));
    // round t+4: (e,f,g,h,a,b,c,d)
    t1 = d + (rotr<u32>(a, 6) ^ rotr<u32>(a, 11) ^ rotr<u32>(a, 25)) + (c ^ (a & (b ^ c))) + load<u32>(K + t, 16) + load<u32>(W + t, 16);
    h += t1;
    d = t1 + (rotr<u32>(e, 2) ^ rotr<u32>(e, 13) ^ rotr<u32>(e, 22)) + ((e & f) | (g & (e | f)));
    // round t+5: (d,e,f,g,h,a,b,c)
    t1 = c + (rotr<u32>(h, 6) ^ rotr<u32>(h, 11) ^ rotr<u32>(h, 25)) + (b ^ (h & (a ^ b))) + load<u32>(K + t, 20) + load<u32>(W + t, 20);
    g += t1;
    c = t1 + (rotr<u32>(d, 2) ^ rotr<u32>(d, 13) ^ rotr<u32>(d, 22)) + ((d & e) | (f & (d | e)));
    // round t+6: (c,d,e,f,g,h,a,b)
    t1 = b + (rotr<u32>(g, 6) ^ rotr<u32>(g, 11) ^ rotr<u32>(g, 25)) + (a ^ (g & (h ^ a))) + load<u32>(K + t, 24) + load<u32>(W + t, 24);
    f += t1;
    b = t1 + (rotr<u32>(c, 2) ^ rotr<u32>(c, 13) ^ rotr<u32>(c, 22)) + ((c & d) | (e & (c | d)));
    // round t+7: (b,c,d,e,f,g,h,a)
    t1 = a + (rotr<u32>(f, 6) ^ rotr<u32>(f, 11) ^ rotr<u32>(f, 25)) + (h ^ (f & (g ^ h))) + load<u32>(K + t, 28) + load<u32>(W + t, 28);
    e += t1;
    a = t1 + (rotr<u32>(b, 2) ^ rotr<u32>(b, 13) ^ rotr<u32>(b, 22)) + ((b & c) | (d & (b | c)));
    // After eight renamings every name is back in its own role.
  }

  // Step 4: H(i) = working variables + H(i-1), word by word mod 2^32.
  store<u32>(state, load<u32>(state, 0) + a, 0);
  store<u32>(state, load<u32>(state, 4) + b, 4);
  store<u32>(state, load<u32>(state, 8) + c, 8);
  store<u32>(state, load<u32>(state, 12) + d, 12);
  store<u32>(state, load<u32>(state, 16) + e, 16);
  store<u32>(state, load<u32>(state, 20) + f, 20);
  store<u32>(state, load<u32>(state, 24) + g, 24);
  store<u32>(state, load<u32>(state, 28) + h, 28);
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
    compress(ctx, block);
    p += room;
    left -= room;
  }
  // Whole blocks directly from the input.
  while (left >= 64) {
    compress(ctx, p);
    p += 64;
    left -= 64;
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
    compress(ctx, block);
    memory.fill(block, 0, 56);
  } else {
    memory.fill(block + fill + 1, 0, 55 - fill);
  }
  store<u64>(block, bswap<u64>(bits), 56);
  compress(ctx, block);

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
