/**
 * A strict DER reader for exactly one key form: an RSA-2048 public key with e = 65537 in a
 * SubjectPublicKeyInfo (RFC 5280 §4.1.2.7, RFC 3279 §2.3.1, RFC 8017 Appendix A.1.1):
 *
 *   SubjectPublicKeyInfo ::= SEQUENCE {                       30 82 01 22
 *     algorithm AlgorithmIdentifier ::= SEQUENCE {            30 0d
 *       algorithm  OBJECT IDENTIFIER rsaEncryption,           06 09 2a 86 48 86 f7 0d 01 01 01
 *       parameters NULL },                                     05 00
 *     subjectPublicKey BIT STRING (0 unused bits) {           03 82 01 0f 00
 *       RSAPublicKey ::= SEQUENCE {                           30 82 01 0a
 *         modulus         INTEGER n (2048 bits),              02 82 01 01 00 <256 bytes, first ≥ 0x80>
 *         publicExponent  INTEGER 65537 } } }                 02 03 01 00 01
 *
 * Device-side code: shares nothing with the host's TypeScript (src/core). Anything that is not
 * this exact shape is refused: other tags, indefinite or non-minimal lengths, lengths running past
 * their container, bytes left over in any container, non-zero unused bits, another algorithm or
 * parameters, a modulus that is not exactly 2048 bits or not minimally encoded, any other exponent.
 * Every length is compared with the bytes remaining *before* it is used, and all arithmetic is on
 * offsets bounded by `len`, so no input can make the reader touch memory outside [spki, spki + len).
 *
 * The reader does not check that n is odd; rsa2048VerifySha256 refuses an even modulus.
 */

/** Universal tags used here (X.690 §8.1.2: class universal, single-octet identifiers). */
const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03; // primitive form only: DER forbids the constructed form (X.690 §10.2)
const TAG_NULL: u8 = 0x05;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30; // constructed (X.690 §8.9.1)

/** Content octets of OID 1.2.840.113549.1.1.1 rsaEncryption (X.690 §8.19). */
const OID_RSA_ENCRYPTION: usize = memory.data<u8>([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]);
const OID_RSA_ENCRYPTION_LEN: u32 = 9;

/** Results of the last successful readHeader: where the contents start and how long they are. */
let contentAt: u32 = 0;
let contentLen: u32 = 0;

/**
 * Reads one identifier + length header at offset `at` of the buffer, whose current container ends
 * at `end` (at ≤ end ≤ buffer length). Succeeds only if the identifier octet is `tag` and the
 * length is a DER definite length whose contents fit before `end`; then sets contentAt/contentLen.
 *
 * X.690 §8.1.3: short form (one octet 0..127) or long form (0x80 | count, then count octets).
 * DER (§10.1) requires the definite form with the minimum number of octets, so:
 *   0x00..0x7f  short form
 *   0x80        indefinite form (§8.1.3.6): refused
 *   0x81 L      L ≥ 0x80, else the short form should have been used
 *   0x82 H L    H ≠ 0, else one length octet would do (value ≥ 0x100)
 *   0x83..0xff  refused: ≥ 2^16 bytes is larger than this key could ever be, and 0xff is reserved (§8.1.3.5 c)
 */
function readHeader(buf: usize, at: u32, end: u32, tag: u8): bool {
  // Invariant kept below: at ≤ end, so `end - at` never wraps.
  if (end - at < 2) return false; // identifier + first length octet
  if (load<u8>(buf + at) != tag) return false;
  const first = load<u8>(buf + at + 1) as u32;
  at += 2;
  let len: u32;
  if (first < 0x80) {
    len = first;
  } else if (first == 0x81) {
    if (end - at < 1) return false;
    len = load<u8>(buf + at) as u32;
    at += 1;
    if (len < 0x80) return false;
  } else if (first == 0x82) {
    if (end - at < 2) return false;
    len = ((load<u8>(buf + at) as u32) << 8) | (load<u8>(buf + at + 1) as u32);
    at += 2;
    if (len < 0x100) return false;
  } else {
    return false;
  }
  if (len > end - at) return false; // contents must fit in what is left of the container
  contentAt = at;
  contentLen = len;
  return true;
}

/** Compares n bytes at a and b. */
function bytesEqual(a: usize, b: usize, n: u32): bool {
  for (let i: u32 = 0; i < n; i++) {
    if (load<u8>(a + i) != load<u8>(b + i)) return false;
  }
  return true;
}

/**
 * Parses a DER SubjectPublicKeyInfo of `len` bytes at `spki` and, if it is exactly an RSA-2048 /
 * e = 65537 key in the form above, copies the modulus (256 big-endian bytes, top bit set) to
 * `outModulus256` and returns true. Otherwise returns false and writes nothing.
 */
export function spkiRsa2048Modulus(spki: usize, len: u32, outModulus256: usize): bool {
  // SubjectPublicKeyInfo: a SEQUENCE that is the whole input, nothing after it.
  if (!readHeader(spki, 0, len, TAG_SEQUENCE)) return false;
  if (contentLen != len - contentAt) return false;
  const spkiEnd = len;
  let at = contentAt;

  // algorithm: SEQUENCE { OID rsaEncryption, NULL } (RFC 3279 §2.3.1: parameters MUST be NULL).
  if (!readHeader(spki, at, spkiEnd, TAG_SEQUENCE)) return false;
  const algEnd = contentAt + contentLen;
  at = contentAt;
  if (!readHeader(spki, at, algEnd, TAG_OID)) return false;
  if (contentLen != OID_RSA_ENCRYPTION_LEN) return false;
  if (!bytesEqual(spki + contentAt, OID_RSA_ENCRYPTION, OID_RSA_ENCRYPTION_LEN)) return false;
  at = contentAt + contentLen;
  if (!readHeader(spki, at, algEnd, TAG_NULL)) return false;
  if (contentLen != 0) return false; // X.690 §8.8.2: NULL has no contents
  if (contentAt != algEnd) return false; // nothing after the NULL
  at = algEnd;

  // subjectPublicKey: BIT STRING, the rest of the SPKI. X.690 §8.6.2.2 / §11.2: first content
  // octet is the unused-bit count, which must be 0 for a byte-aligned DER structure.
  if (!readHeader(spki, at, spkiEnd, TAG_BIT_STRING)) return false;
  if (contentAt + contentLen != spkiEnd) return false;
  if (contentLen < 1) return false;
  if (load<u8>(spki + contentAt) != 0) return false;
  at = contentAt + 1;

  // RSAPublicKey ::= SEQUENCE, filling the BIT STRING exactly.
  if (!readHeader(spki, at, spkiEnd, TAG_SEQUENCE)) return false;
  if (contentAt + contentLen != spkiEnd) return false;
  at = contentAt;

  // modulus INTEGER: X.690 §8.3.2 two's complement, minimal. A positive 2048-bit n has its top bit
  // set, so DER needs exactly one leading 0x00: 257 content octets, 0x00 then a byte ≥ 0x80.
  // (256 octets would be negative, 258 with 00 00 non-minimal, a smaller first byte < 2048 bits.)
  if (!readHeader(spki, at, spkiEnd, TAG_INTEGER)) return false;
  if (contentLen != 257) return false;
  if (load<u8>(spki + contentAt) != 0x00) return false;
  if (load<u8>(spki + contentAt + 1) < 0x80) return false;
  const modulusAt = contentAt + 1;
  at = contentAt + contentLen;

  // publicExponent INTEGER: exactly 65537 = 01 00 01 (minimal, positive). Small exponents are what
  // PKCS#1 v1.5 forgeries rely on; the device accepts this one value only.
  if (!readHeader(spki, at, spkiEnd, TAG_INTEGER)) return false;
  if (contentLen != 3) return false;
  if (load<u8>(spki + contentAt) != 0x01 || load<u8>(spki + contentAt + 1) != 0x00 || load<u8>(spki + contentAt + 2) != 0x01) return false;
  if (contentAt + contentLen != spkiEnd) return false; // nothing after e, in any container

  memory.copy(outModulus256, spki + modulusAt, 256);
  return true;
}
