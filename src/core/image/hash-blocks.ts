/**
 * Hash blocks of a format v2 image (docs/image-format.md §13): block i covers payload bytes
 * [i·B, min((i+1)·B, P)), so every block is B bytes long but the last, which holds the remainder
 * (1..B bytes) and is hashed as it is, without padding. The signed table holds their SHA-256s in
 * order.
 */
import { DIGEST_SIZE, type Manifest } from './layout.ts';

/** How many hash blocks a `payloadSize`-byte payload has in blocks of `blockSize` (0 for an empty payload). */
export function hashBlockCount(payloadSize: number, blockSize: number): number {
  return Math.ceil(payloadSize / blockSize);
}

/** A hash block: its index and its byte range, relative to the payload's start. */
export interface HashBlock {
  readonly index: number;
  readonly start: number;
  readonly end: number;
}

/** The geometry and the signed digests of a v2 payload: what a block checker needs, and nothing else. */
export interface BlockPlan {
  /** Offset of the payload in the image file. */
  readonly payloadOffset: number;
  readonly payloadSize: number;
  readonly blockSize: number;
  readonly count: number;
  /** SHA-256 of each block, concatenated (from the authenticated manifest). */
  readonly digests: Uint8Array;
}

/** The plan of a parsed v2 head; undefined for a v1 image (one digest over the whole payload). */
export function blockPlanOf(head: { readonly payloadOffset: number; readonly manifest: Manifest }): BlockPlan | undefined {
  const m = head.manifest;
  if (m.hashBlockSize === undefined || m.blockDigests === undefined) return undefined;
  return { payloadOffset: head.payloadOffset, payloadSize: m.payloadSize, blockSize: m.hashBlockSize, count: m.blockDigests.length / DIGEST_SIZE, digests: m.blockDigests };
}

export function hashBlock(plan: Pick<BlockPlan, 'payloadSize' | 'blockSize' | 'count'>, index: number): HashBlock {
  if (!Number.isInteger(index) || index < 0 || index >= plan.count) throw new RangeError(`"index" expected 0..${plan.count - 1}, got ${index}`);
  const start = index * plan.blockSize;
  return { index, start, end: Math.min(plan.payloadSize, start + plan.blockSize) };
}

/** The signed SHA-256 of block `index` (a view of the table). */
export function signedBlockDigest(plan: BlockPlan, index: number): Uint8Array {
  hashBlock(plan, index);
  return plan.digests.subarray(index * DIGEST_SIZE, (index + 1) * DIGEST_SIZE);
}
