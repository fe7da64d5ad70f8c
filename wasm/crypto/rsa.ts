/**
 * RSASSA-PKCS1-v1_5 signature verification with SHA-256 and a 2048-bit modulus, e = 65537
 * (RFC 8017 §8.2.2), for the emulated NIC's firmware. Plain AssemblyScript over raw pointers.
 *
 * Device-side code: shares nothing with the host's TypeScript (src/core). The caller hands in the
 * modulus, the signature and the SHA-256 of the signed data the device computed itself.
 *
 * Verification is "encode and compare" (RFC 8017 §8.2.2 step 3 and the note after §8.2.2): the
 * expected encoded message EM' is built from the hash with EMSA-PKCS1-v1_5 (§9.2) and compared to
 * the full 256-byte result of RSAVP1. The recovered block is never parsed, so there is no padding
 * parser to fool (Bleichenbacher '06 and every lenient-parser forgery since).
 *
 * Arithmetic: numbers are 64 little-endian 32-bit limbs (limb 0 least significant) in static
 * memory; products are accumulated in u64, where a·b + c + d < 2^64 for 32-bit a, b, c, d, so no
 * carry is ever lost. Multiplication is Montgomery's (CIOS form, Koç–Acar–Kaliski 1996) with
 * R = 2^2048. Nothing allocates; the module is not re-entrant (static scratch), which is fine in
 * single-threaded WebAssembly. Verification is not constant time: it is a public-key operation on
 * public data. Signing (rsa2048SignSha256, at the end: the NIC's device receipts, issue #14) reuses
 * the same Montgomery product with the private exponent; see its comment for what it does not hide.
 */

/** Modulus length k in bytes (RFC 8017 §8.2.2 step 1: the signature must be exactly k octets). */
export const RSA2048_BYTES: u32 = 256;

const LIMBS: usize = 64; // 2048 / 32
const NUM_BYTES: usize = 256; // one number, LIMBS × 4

// Static scratch numbers (64 limbs each). T has two extra limbs for the CIOS accumulator.
const N: usize = memory.data(256, 16); // modulus n
const S: usize = memory.data(256, 16); // signature representative s
const RR: usize = memory.data(256, 16); // R^2 mod n, then reused
const X: usize = memory.data(256, 16); // running power
const T: usize = memory.data(264, 16); // CIOS accumulator t[0..65]
const EM: usize = memory.data(256, 16); // m as big-endian bytes / expected EM

/**
 * RFC 8017 §9.2 note 1: DER of DigestInfo { AlgorithmIdentifier { id-sha256, NULL }, OCTET STRING (32) }
 * without the hash itself, "(0x)30 31 30 0d 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20 || H".
 * The one canonical form: the variant without the NULL is not accepted.
 */
const DIGEST_INFO_SHA256: usize = memory.data<u8>([
  0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
]);
const DIGEST_INFO_LEN: usize = 19;

// -------------------------------------------------------------------------------------------------
// Limb helpers. `@inline` keeps these as straight-line code inside the loops that call them.

// @ts-ignore: decorator
@inline function limb(p: usize, i: usize): u32 {
  return load<u32>(p + (i << 2));
}
// @ts-ignore: decorator
@inline function setLimb(p: usize, i: usize, v: u32): void {
  store<u32>(p + (i << 2), v);
}

/** Big-endian k-byte string → little-endian limbs (RFC 8017 §4.2 OS2IP). */
function fromBigEndian(dst: usize, src: usize): void {
  for (let i: usize = 0; i < LIMBS; i++) {
    // Limb i holds bytes [256 - 4(i+1), 256 - 4i) of the big-endian string.
    setLimb(dst, i, bswap<u32>(load<u32>(src + NUM_BYTES - 4 - (i << 2))));
  }
}

/** Little-endian limbs → big-endian 256-byte string (RFC 8017 §4.1 I2OSP with xLen = k). */
function toBigEndian(dst: usize, src: usize): void {
  for (let i: usize = 0; i < LIMBS; i++) {
    store<u32>(dst + NUM_BYTES - 4 - (i << 2), bswap<u32>(limb(src, i)));
  }
}

/** a ≥ b as unsigned 2048-bit numbers. */
function geq(a: usize, b: usize): bool {
  for (let i: isize = <isize>LIMBS - 1; i >= 0; i--) {
    const x = limb(a, <usize>i);
    const y = limb(b, <usize>i);
    if (x != y) return x > y;
  }
  return true;
}

/** a -= b over 64 limbs; returns the final borrow (0 or 1). */
function subInPlace(a: usize, b: usize): u32 {
  let borrow: u64 = 0;
  for (let i: usize = 0; i < LIMBS; i++) {
    // (a_i - b_i - borrow) in 64 bits: the high half is all ones exactly when it went negative.
    const d = (limb(a, i) as u64) - (limb(b, i) as u64) - borrow;
    setLimb(a, i, d as u32);
    borrow = (d >> 63) as u64; // 1 if negative
  }
  return borrow as u32;
}

/**
 * -n^-1 mod 2^32 from n0 = n mod 2^32 (odd). Newton–Hensel: for odd n0, x = n0 is already an inverse
 * mod 2^3 (n0² ≡ 1 mod 8), and each step x ← x(2 − n0·x) doubles the correct bits: 3→6→12→24→48.
 */
function negInv32(n0: u32): u32 {
  let x = n0;
  x *= 2 - n0 * x;
  x *= 2 - n0 * x;
  x *= 2 - n0 * x;
  x *= 2 - n0 * x;
  return 0 - x;
}

/**
 * Montgomery product out = a·b·R^-1 mod n, R = 2^2048, for a, b < n (CIOS). The result is fully
 * reduced (< n). `out` may alias `a` or `b`: the product is built in T and copied at the end.
 *
 * Per outer step i: t += a_i·b, then add m·n with m = t_0·(−n^-1) mod 2^32 so t_0 becomes 0, and
 * shift t down one limb. Bounds: t < 2n throughout, so t fits 64 limbs plus one carry limb (t[64]);
 * t[65] catches the carry of the first half-step before the shift folds it back.
 */
function montMul(out: usize, a: usize, b: usize, n0inv: u32): void {
  memory.fill(T, 0, 264);
  for (let i: usize = 0; i < LIMBS; i++) {
    // t += a_i · b
    const ai = limb(a, i) as u64;
    let carry: u64 = 0;
    for (let j: usize = 0; j < LIMBS; j++) {
      // ≤ (2^32−1) + (2^32−1)² + (2^32−1) = 2^64 − 1: fits.
      const x = (limb(T, j) as u64) + ai * (limb(b, j) as u64) + carry;
      setLimb(T, j, x as u32);
      carry = x >> 32;
    }
    let x = (limb(T, LIMBS) as u64) + carry;
    setLimb(T, LIMBS, x as u32);
    setLimb(T, LIMBS + 1, (x >> 32) as u32);

    // t = (t + m·n) / 2^32 with m chosen so the low limb vanishes.
    const m = (limb(T, 0) * n0inv) as u64;
    x = (limb(T, 0) as u64) + m * (limb(N, 0) as u64);
    carry = x >> 32; // low half is 0 by construction
    for (let j: usize = 1; j < LIMBS; j++) {
      x = (limb(T, j) as u64) + m * (limb(N, j) as u64) + carry;
      setLimb(T, j - 1, x as u32);
      carry = x >> 32;
    }
    x = (limb(T, LIMBS) as u64) + carry;
    setLimb(T, LIMBS - 1, x as u32);
    setLimb(T, LIMBS, limb(T, LIMBS + 1) + ((x >> 32) as u32));
  }
  // t < 2n: one conditional subtraction reduces it. If t[64] is set, t ≥ 2^2048 > n.
  if (limb(T, LIMBS) != 0 || geq(T, N)) subInPlace(T, N);
  memory.copy(out, T, NUM_BYTES);
}

/**
 * RR = R^2 mod n, needed to enter the Montgomery domain. R mod n = 2^2048 − n (a single
 * subtraction, because 2^2047 < n < 2^2048), the Montgomery form of 1. Doubling it 32 times gives
 * the Montgomery form of 2^32; six Montgomery squarings take that to 2^64, 2^128, …, 2^2048, whose
 * Montgomery form is 2^2048·R = R^2 mod n.
 */
function computeRR(n0inv: u32): void {
  // 2^2048 − n = (~n) + 1 in 2048-bit two's complement; n is odd so the +1 never carries past limb 0.
  for (let i: usize = 0; i < LIMBS; i++) setLimb(RR, i, ~limb(N, i));
  setLimb(RR, 0, limb(RR, 0) + 1);

  for (let k = 0; k < 32; k++) {
    // RR = 2·RR mod n. RR < n so 2·RR < 2n: at most one subtraction. The bit shifted out of the
    // top limb (worth 2^2048) means "≥ n" on its own; the subtraction's borrow then cancels it.
    let top: u32 = 0;
    for (let i: usize = 0; i < LIMBS; i++) {
      const v = limb(RR, i);
      setLimb(RR, i, (v << 1) | top);
      top = v >>> 31;
    }
    if (top != 0 || geq(RR, N)) subInPlace(RR, N);
  }
  for (let k = 0; k < 6; k++) montMul(RR, RR, RR, n0inv);
}

/**
 * Loads and checks the public key. RFC 8017 §3.1 and this device's policy: n is odd (Montgomery
 * needs it, and every RSA modulus is), and exactly 2048 bits (top bit of the first byte set).
 */
function loadModulus(modulusBE: usize): bool {
  fromBigEndian(N, modulusBE);
  if ((limb(N, 0) & 1) == 0) return false;
  if ((limb(N, LIMBS - 1) >>> 31) == 0) return false;
  return true;
}

/**
 * RSAVP1 (RFC 8017 §5.2.2) with e = 65537 = 2^16 + 1: m = s^65537 mod n, as 256 big-endian bytes at
 * outBE. Returns false, writing nothing, if the modulus is not an odd 2048-bit number, the signature
 * length is not 256 (§8.2.2 step 1) or s ≥ n (§5.2.2 step 1, "signature representative out of
 * range"). Reads exactly 256 bytes at modulusBE and sigLen bytes at sigBE, and only when sigLen = 256.
 */
export function rsa2048PublicOp(modulusBE: usize, sigBE: usize, sigLen: u32, outBE: usize): bool {
  if (sigLen != RSA2048_BYTES) return false; // before touching sigBE: never read past sigLen
  if (!loadModulus(modulusBE)) return false;
  fromBigEndian(S, sigBE); // OS2IP (§8.2.2 step 2a)
  if (geq(S, N)) return false;

  const n0inv = negInv32(limb(N, 0));
  computeRR(n0inv);
  // X = s·R mod n (Montgomery form of s), then square 16 times: Montgomery form of s^(2^16).
  montMul(X, S, RR, n0inv);
  for (let k = 0; k < 16; k++) montMul(X, X, X, n0inv);
  // One more product with plain s leaves the Montgomery domain at the same time:
  // (s^65536·R)·s·R^-1 = s^65537 mod n.
  montMul(X, X, S, n0inv);
  toBigEndian(outBE, X); // I2OSP(m, k) (§8.2.2 step 2c)
  return true;
}

/**
 * RSASSA-PKCS1-V1_5-VERIFY (RFC 8017 §8.2.2) for RSA-2048, e = 65537, SHA-256.
 *   modulusBE  256 bytes: n big-endian, top bit set (e.g. from spkiRsa2048Modulus)
 *   sigBE      sigLen bytes: the signature S
 *   hash32     32 bytes: SHA-256 of the signed data, computed by the device
 * Returns true only if S^65537 mod n equals, byte for byte, EM' = 0x00 || 0x01 || PS (202 × 0xFF)
 * || 0x00 || DER(DigestInfo{sha256, NULL}) || H (§9.2 step 5; PS length k − tLen − 3 = 256 − 51 − 3).
 */
export function rsa2048VerifySha256(modulusBE: usize, sigBE: usize, sigLen: u32, hash32: usize): bool {
  // Steps 1–2: length check, then RSAVP1 into EM (as big-endian bytes).
  if (!rsa2048PublicOp(modulusBE, sigBE, sigLen, EM)) return false;

  // Step 3 (EMSA-PKCS1-v1_5 encoding of H, §9.2 steps 2–5) and step 4 (compare), fused: walk the
  // expected encoding and OR together every difference, so the answer depends on all 256 bytes.
  let diff: u32 = 0;
  diff |= load<u8>(EM, 0) ^ 0x00;
  diff |= load<u8>(EM, 1) ^ 0x01;
  const psEnd: usize = NUM_BYTES - 32 - DIGEST_INFO_LEN - 1; // 2 + 202 = 204
  for (let i: usize = 2; i < psEnd; i++) diff |= load<u8>(EM + i) ^ 0xff;
  diff |= load<u8>(EM + psEnd) ^ 0x00;
  for (let i: usize = 0; i < DIGEST_INFO_LEN; i++) {
    diff |= load<u8>(EM + psEnd + 1 + i) ^ load<u8>(DIGEST_INFO_SHA256 + i);
  }
  for (let i: usize = 0; i < 32; i++) {
    diff |= load<u8>(EM + NUM_BYTES - 32 + i) ^ load<u8>(hash32 + i);
  }
  return diff == 0;
}

// -------------------------------------------------------------------------------------------------
// Signing (device attestation receipts): RSASSA-PKCS1-V1_5-SIGN, RFC 8017 §8.2.1.

const D: usize = memory.data(256, 16); // private exponent d
const M: usize = memory.data(256, 16); // message representative m, in Montgomery form

/**
 * RSASSA-PKCS1-V1_5-SIGN (RFC 8017 §8.2.1) for RSA-2048 with SHA-256, then the signature checked
 * with the public key (e = 65537) before it is released: a fault during the private-key operation
 * (a glitch, a flipped bit in RAM) would otherwise hand out a faulty signature, which for RSA can
 * leak the key (Boneh–DeMillo–Lipton 1997). A check that fails zeroes `sigOut` and returns false.
 *   modulusBE  256 bytes: n big-endian, top bit set
 *   dBE        256 bytes: the private exponent d big-endian (d < n)
 *   hash32     32 bytes: SHA-256 of the message, computed by the device
 *   sigOut     256 bytes: the signature S
 *
 * RSASP1 (§5.2.1, the first form: s = m^d mod n) by left-to-right square-and-multiply over the
 * Montgomery product above. Not constant time and without CRT or blinding: the emulated NIC keeps
 * its key in a state file anyway (docs/threat-model.md); a real NIC signs inside its silicon.
 */
export function rsa2048SignSha256(modulusBE: usize, dBE: usize, hash32: usize, sigOut: usize): bool {
  if (!loadModulus(modulusBE)) return false;
  // EMSA-PKCS1-v1_5 (§9.2 step 5): EM = 0x00 || 0x01 || PS (0xFF × 202) || 0x00 || DigestInfo || H
  const psEnd: usize = NUM_BYTES - 32 - DIGEST_INFO_LEN - 1;
  store<u8>(EM, 0x00);
  store<u8>(EM + 1, 0x01);
  memory.fill(EM + 2, 0xff, psEnd - 2);
  store<u8>(EM + psEnd, 0x00);
  memory.copy(EM + psEnd + 1, DIGEST_INFO_SHA256, DIGEST_INFO_LEN);
  memory.copy(EM + NUM_BYTES - 32, hash32, 32);
  fromBigEndian(S, EM); // OS2IP: m < 2^2040 < n, so m is already reduced
  fromBigEndian(D, dBE);
  if (geq(D, N)) return false; // d < n for every RSA key (§3.2)
  let top: i32 = <i32>LIMBS * 32 - 1;
  while (top >= 0 && ((limb(D, <usize>(top >> 5)) >>> (<u32>top & 31)) & 1) == 0) top--;
  if (top < 0) return false; // d = 0 is no key

  const n0inv = negInv32(limb(N, 0));
  computeRR(n0inv);
  montMul(M, S, RR, n0inv); // m·R mod n
  memory.copy(X, M, NUM_BYTES); // the top bit of d is 1: start from m
  for (let i: i32 = top - 1; i >= 0; i--) {
    montMul(X, X, X, n0inv);
    if (((limb(D, <usize>(i >> 5)) >>> (<u32>i & 31)) & 1) != 0) montMul(X, X, M, n0inv);
  }
  // leave the Montgomery domain: X·1·R^-1
  memory.fill(S, 0, NUM_BYTES);
  setLimb(S, 0, 1);
  montMul(X, X, S, n0inv);
  toBigEndian(sigOut, X); // I2OSP(s, k) (§8.2.1 step 2c)
  memory.fill(D, 0, NUM_BYTES); // the exponent does not stay in scratch RAM

  if (rsa2048VerifySha256(modulusBE, sigOut, RSA2048_BYTES, hash32)) return true;
  memory.fill(sigOut, 0, NUM_BYTES);
  return false;
}
