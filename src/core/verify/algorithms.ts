/**
 * The signature algorithms a device says it verifies (QUERY tag 25, docs/protocol.md §4.1), as
 * plain numbers: importable by the page without the DER and key code of next-keys.ts.
 */

/** Bits of QUERY tag 25, "verifiable signature algorithms". */
export const VERIFIABLE_ALG = {
  /** RSASSA-PKCS1-v1_5 with SHA-256 and an RSA-2048 key, e = 65537 (the firmware's spkiRsa2048Modulus). */
  RSA2048_PKCS1_SHA256: 0x1,
} as const;

/** What this NIC family verifies when no device says otherwise (and what a device without tag 25 verifies). */
export const FAMILY_ALGORITHMS = VERIFIABLE_ALG.RSA2048_PKCS1_SHA256;
