// A structural DER check of SubjectPublicKeyInfo (RFC 5280 §4.1.2.7, X.690 §8.1, §10.1), split out of
// image.ts (the project's ~450-line rule).
//
// Every nextKeys entry must be a well-formed SPKI, whatever its algorithm (hardening spec S2): an
// entry a verifier cannot even parse is a signing mistake, refused as a format error. Which of the
// keys this device can *use* is decided later (update.ts, the RSA-2048 rule).

let derAt: u32 = 0; // where the last header's contents start
let derLen: u32 = 0; // and how long they are

/**
 * One DER identifier + length at `at`, inside a container ending at `end` (at ≤ end). Single-octet
 * identifiers only (X.690 §8.1.2.4 high tag numbers are refused: nothing in an SPKI needs them);
 * definite lengths in the fewest octets (§10.1); at most 3 length octets (a key is < 64 KiB here).
 */
function derHeader(p: usize, at: u32, end: u32): i32 {
  if (end - at < 2) return -1;
  const tag = <u32>load<u8>(p + at);
  if ((tag & 0x1f) == 0x1f) return -1;
  const first = <u32>load<u8>(p + at + 1);
  at += 2;
  let len: u32 = 0;
  if (first < 0x80) len = first;
  else {
    const count = first & 0x7f;
    if (count == 0 || count > 3 || end - at < count) return -1; // 0x80 is the indefinite form (§8.1.3.6)
    if (load<u8>(p + at) == 0) return -1; // a leading zero octet is not minimal
    for (let i: u32 = 0; i < count; i++) len = (len << 8) | <u32>load<u8>(p + at + i);
    at += count;
    if (len < 0x80) return -1; // the short form should have been used
  }
  if (len > end - at) return -1;
  derAt = at;
  derLen = len;
  return <i32>tag;
}

/** SEQUENCE { SEQUENCE { OID, [one parameters element] }, BIT STRING }, nothing before, between or after. */
export function spkiWellFormed(p: usize, len: u32): bool {
  if (derHeader(p, 0, len) != 0x30 || derAt + derLen != len) return false;
  const spkiEnd = len;
  if (derHeader(p, derAt, spkiEnd) != 0x30) return false;
  const algEnd = derAt + derLen;
  const bitsAt = algEnd;
  if (derHeader(p, derAt, algEnd) != 0x06 || derLen == 0) return false;
  // OID (X.690 §8.19): each subidentifier in base 128, minimal (no leading 0x80), the last octet ends it
  const oidEnd = derAt + derLen;
  if (load<u8>(p + derAt) == 0x80 || (load<u8>(p + oidEnd - 1) & 0x80) != 0) return false;
  for (let i = derAt + 1; i < oidEnd; i++) if (load<u8>(p + i) == 0x80 && (load<u8>(p + i - 1) & 0x80) == 0) return false;
  if (oidEnd != algEnd) {
    // the parameters: one element, which must fill the rest of AlgorithmIdentifier
    if (derHeader(p, oidEnd, algEnd) < 0 || derAt + derLen != algEnd) return false;
  }
  if (derHeader(p, bitsAt, spkiEnd) != 0x03 || derLen == 0 || derAt + derLen != spkiEnd) return false;
  const unused = <u32>load<u8>(p + derAt);
  if (unused > 7 || (derLen == 1 && unused != 0)) return false; // X.690 §8.6.2.2-3
  return true;
}
