/**
 * The image format's numbers: magics, format versions, the header's fields and every cap
 * (docs/image-format.md §2, §7, §13). layout.ts re-exports them.
 */
export const IMAGE_MAGIC = 'TFWI';
export const SIGBLOCK_MAGIC = 'TFSB';
/** Format v1: one SHA-256 over the whole payload (manifest tag 17). */
export const FORMAT_V1 = 1;
/** Format v2 (issue #13): the signed manifest carries the SHA-256 of every hash block (tags 19, 20). */
export const FORMAT_V2 = 2;
/** What `sign` writes unless asked for v1. */
export const FORMAT_VERSION = FORMAT_V2;
export const FORMAT_VERSIONS: readonly number[] = [FORMAT_V1, FORMAT_V2];
export const HEADER_SIZE = 16;

/**
 * Hash blocks (format v2): the payload is cut into blocks of `hashBlockSize` bytes (the last one
 * shorter when the payload is not a multiple), and the manifest signs the SHA-256 of each. 1 MiB by
 * default: per-block overhead is lost in the noise from 256 KiB up with Node's crypto and WebCrypto,
 * and WebCrypto's copy of its input starts to cost above 4 MiB (docs/image-format.md §13.2).
 */
export const HASH_BLOCK_DEFAULT = 1024 * 1024;
export const DIGEST_SIZE = 32;

/** Caps on every length (issue #2). A value over a cap is a format error naming the field. */
export const LIMITS = {
  /** Format v1's cap on header.manifestSize. */
  manifestMax: 64 * 1024,
  /** Format v2's cap: the v1 fields at their maxima (34 694 bytes) plus the largest table (64 KiB + 6). */
  manifestMaxV2: 128 * 1024,
  /** Smallest hash block: one flash sector, one DFU transfer. */
  hashBlockMin: 4 * 1024,
  /** Largest hash block: a device refuses a bad block at most this late. */
  hashBlockMax: 16 * 1024 * 1024,
  /** Most hash blocks: a table of at most 64 KiB, so 2 GiB needs blocks of at least 1 MiB. */
  hashBlocksMax: 2048,
  sigBlockMax: 1024 * 1024,
  signaturesMax: 16,
  certificatesMax: 8,
  chainBytesMax: 64 * 1024,
  cmsMax: 64 * 1024,
  signatureBytesMax: 1024,
  payloadMax: 2 * 1024 * 1024 * 1024,
} as const;

/** The manifest cap of each format version. */
export function manifestMaxOf(formatVersion: number): number {
  return formatVersion === FORMAT_V1 ? LIMITS.manifestMax : LIMITS.manifestMaxV2;
}

/** Largest possible prefix before the payload (either format): a reader of this many bytes can always parse the head. */
export const HEAD_MAX = HEADER_SIZE + LIMITS.manifestMaxV2 + LIMITS.sigBlockMax;
/** Largest possible image. */
export const IMAGE_MAX = HEAD_MAX + LIMITS.payloadMax;

/** Header fields, in order. Offsets are implied by order; sizes by type. */
export const HEADER_FIELDS = [
  { name: 'magic', offset: 0, size: 4 },
  { name: 'formatVersion', offset: 4, size: 2 },
  { name: 'headerSize', offset: 6, size: 2 },
  { name: 'manifestSize', offset: 8, size: 4 },
  { name: 'flags', offset: 12, size: 4 },
] as const;
