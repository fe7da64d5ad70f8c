/**
 * The signed image container, declared once. Both parse.ts and write.ts are driven by these
 * tables; docs/image-format.md describes the same layout for people.
 *
 *   header (16 B, signed) | manifest (TLV, signed) | signature block (strictly parsed) | payload
 *
 * Authentication material comes before the payload so that a device can authenticate the
 * manifest from the first few kilobytes and reject a foreign, unsigned or forbidden image before
 * the payload is sent; the payload is then checked against the signed digest as it streams
 * (the SUIT ordering, RFC 9124 REQ.SEC.IMG.COMPLETE_DIGEST). The signed message is exactly
 * header || manifest; the signature block is the one unsigned region and is an allow-list of
 * entry types, every byte of which is checked (secure-update-frameworks §7.4).
 */
import { FORMAT_V1, FORMAT_V2 } from './limits.ts';
import { blockDigests, bool, fixedList, hashBlockSize, payloadSize, sha256, spkiItem, stringCodec, svn, trueFlag, u32, u64, varList, version } from './field-codecs.ts';
import type { Codec } from './field-codecs.ts';

export * from './limits.ts';
export { isSpkiShape, RELEASE_NOTES_FORBIDDEN, SVN_MAX, type Codec } from './field-codecs.ts';

// ---------------------------------------------------------------------------------------------
// The manifest: TLV entries { tag u16, length u32, value }, tags strictly ascending, each at most
// once, unknown tags rejected (allow-list), required tags present.

export interface Manifest {
  vendor: string;
  product: string;
  psids: string[];
  deviceIds: number[];
  version: string;
  securityVersion: number;
  minSecurityVersion?: number | undefined;
  /** Seconds since the Unix epoch (UTC). */
  releaseDate: number;
  expires?: number | undefined;
  /**
   * Tag 10, reserved: earlier images carried an unenforced `sequence`. Parsed when present (an
   * optional u64) and ignored; `sign` never writes it (issue #10, S4).
   */
  sequence?: number | undefined;
  forbiddenVersions: string[];
  /** SubjectPublicKeyInfo DER of the keys the *next* image is checked with (key rotation). */
  nextKeys: Uint8Array[];
  secured: boolean;
  dev: boolean;
  releaseNotes?: string | undefined;
  payloadSize: number;
  /** Format v1 only: SHA-256 of the whole payload. */
  payloadSha256?: Uint8Array | undefined;
  /** Format v2 only: the hash-block size (a power of two). */
  hashBlockSize?: number | undefined;
  /** Format v2 only: SHA-256 of each hash block, concatenated (32 bytes per block). */
  blockDigests?: Uint8Array | undefined;
  /**
   * Tag 18: a deliberate last image. With it the image may leave the device with no key it can
   * verify a further update with (`nextKeys`, issue #10 S2); `sign` writes it only with
   * `--final-image`.
   */
  finalImage?: boolean | undefined;
}

interface ManifestField<K extends keyof Manifest = keyof Manifest> {
  readonly tag: number;
  readonly name: K;
  readonly codec: Codec<NonNullable<Manifest[K]>>;
  /** Required in the format versions that have the field. */
  readonly required: boolean;
  /** The format versions the field belongs to; in any other it is a format error. */
  readonly formats: readonly number[];
}

const BOTH = [FORMAT_V1, FORMAT_V2] as const;

function field<K extends keyof Manifest>(tag: number, name: K, codec: Codec<NonNullable<Manifest[K]>>, required: boolean, formats: readonly number[] = BOTH): ManifestField {
  return { tag, name, codec, required, formats } as unknown as ManifestField;
}

export const MANIFEST_FIELDS: readonly ManifestField[] = [
  field(1, 'vendor', stringCodec(64, { printableAscii: true }), true),
  field(2, 'product', stringCodec(64, { printableAscii: true }), true),
  field(3, 'psids', varList(stringCodec(16, { printableAscii: true }), 64), true),
  field(4, 'deviceIds', fixedList(u32, 4, 64), false),
  field(5, 'version', version, true),
  field(6, 'securityVersion', svn, true),
  field(7, 'minSecurityVersion', svn, false),
  field(8, 'releaseDate', u64, true),
  field(9, 'expires', u64, false),
  field(10, 'sequence', u64, false),
  field(11, 'forbiddenVersions', fixedList(version, 6, 32), false),
  field(12, 'nextKeys', varList(spkiItem(), 8), false),
  field(13, 'secured', bool, true),
  field(14, 'dev', bool, true),
  field(15, 'releaseNotes', stringCodec(16 * 1024), false),
  field(16, 'payloadSize', payloadSize, true),
  field(17, 'payloadSha256', sha256, true, [FORMAT_V1]),
  field(18, 'finalImage', { ...trueFlag, isEmpty: (v: boolean) => !v }, false),
  field(19, 'hashBlockSize', hashBlockSize, true, [FORMAT_V2]),
  field(20, 'blockDigests', blockDigests, true, [FORMAT_V2]),
];

/** Manifest list fields that default to [] when absent. */
export const MANIFEST_LISTS = ['deviceIds', 'forbiddenVersions', 'nextKeys'] as const;

// ---------------------------------------------------------------------------------------------
// The signature block: magic, blockSize (u32, includes these 8 bytes), then entries
// { type u16, reserved u16 = 0, length u32, value }.

export const SIG_ENTRY = {
  SIGNATURE: 1,
  CERTIFICATE: 2,
  CMS: 3,
} as const;
export type SigEntryType = (typeof SIG_ENTRY)[keyof typeof SIG_ENTRY];
export const SIG_ENTRY_NAMES: Record<number, string> = { 1: 'signature', 2: 'certificate', 3: 'cms' };

/** Signature algorithms, by their wire number. RSA key size comes from the key. */
export const SIG_ALG = {
  RSA_PKCS1_SHA256: 1,
  ECDSA_P256_SHA256: 2,
  ED25519: 3,
} as const;
export type SigAlg = (typeof SIG_ALG)[keyof typeof SIG_ALG];
export const SIG_ALG_NAMES: Record<number, string> = {
  1: 'RSASSA-PKCS1-v1_5/SHA-256',
  2: 'ECDSA-P256/SHA-256',
  3: 'Ed25519',
};

export const KEY_ID_SIZE = 32;
/** Value header of a SIGNATURE entry: alg u16, reserved u16, keyId[32]. */
export const SIGNATURE_HEAD = 4 + KEY_ID_SIZE;

export type SigEntry =
  | { type: typeof SIG_ENTRY.SIGNATURE; alg: number; keyId: Uint8Array; signature: Uint8Array }
  | { type: typeof SIG_ENTRY.CERTIFICATE; der: Uint8Array }
  | { type: typeof SIG_ENTRY.CMS; der: Uint8Array };
