/**
 * Checking a format v2 payload block by block against the signed table (issue #13). The verifier
 * asks a {@link BlockHasher} for the SHA-256 of every hash block and compares each with the
 * table; where the hashing runs is the caller's choice: the WebCrypto hasher here (core, any
 * platform), the CLI's worker_threads pool (src/cli/block-pool.ts), the page's block-hasher Workers
 * (src/ui/worker/block-pool.ts).
 * No verdict waits on a digest of the whole payload.
 */
import { toHex, equalBytes } from '../bytes/hex.ts';
import { DIGEST_SIZE } from '../image/layout.ts';
import { hashBlock, signedBlockDigest, type BlockPlan, type HashBlock } from '../image/hash-blocks.ts';
import { sha256WebCrypto, type BlobLike, type HashProgress } from '../crypto/sha256.ts';

export interface BlockJob {
  /** The whole image (the plan's offsets are file offsets). */
  readonly source: Uint8Array | BlobLike;
  readonly plan: BlockPlan;
  readonly onProgress?: (p: HashProgress) => void;
  readonly signal?: AbortSignal;
}

/** SHA-256 of every block of `job.plan`, concatenated in block order (plan.count × 32 bytes). */
export type BlockHasher = (job: BlockJob) => Promise<Uint8Array>;

/** The bytes of block `b` of the image `source`, read one block at a time. */
async function blockBytes(source: Uint8Array | BlobLike, plan: BlockPlan, b: HashBlock): Promise<Uint8Array> {
  const from = plan.payloadOffset + b.start;
  const to = plan.payloadOffset + b.end;
  return source instanceof Uint8Array ? source.subarray(from, to) : new Uint8Array(await source.slice(from, to).arrayBuffer());
}

/** Blocks {@link hashBlocksWebCrypto} keeps in flight: the platform runs WebCrypto digests on its own threads. */
const IN_FLIGHT = 2;

/**
 * The core hasher: WebCrypto one-shot per block, two blocks in flight (both cores busy, at most two
 * blocks in memory when the source is a Blob). Progress is reported in block order.
 */
export const hashBlocksWebCrypto: BlockHasher = async ({ source, plan, onProgress, signal }) => {
  const out = new Uint8Array(plan.count * DIGEST_SIZE);
  const hashOne = async (i: number): Promise<HashBlock> => {
    const b = hashBlock(plan, i);
    out.set(await sha256WebCrypto(await blockBytes(source, plan, b)), i * DIGEST_SIZE);
    return b;
  };
  const pending: Promise<HashBlock>[] = [];
  for (let next = 0; pending.length > 0 || next < plan.count; ) {
    while (next < plan.count && pending.length < IN_FLIGHT) {
      signal?.throwIfAborted();
      const p = hashOne(next++);
      // a failure is thrown where it is awaited, in order; a later one is not left unhandled meanwhile
      p.catch(() => undefined);
      pending.push(p);
    }
    const b = await pending.shift()!;
    onProgress?.({ done: b.end, total: plan.payloadSize });
  }
  if (plan.count === 0) onProgress?.({ done: 0, total: 0 });
  return out;
};

/** A block whose bytes do not hash to the signed digest. */
export interface BadBlock extends HashBlock {
  /** SHA-256 of the block as read (hex). */
  readonly actual: string;
  /** The digest the signed table holds (hex). */
  readonly expected: string;
}

/** One block's verdict, for a caller that hashes blocks itself (checkBlock(i, bytes) style). */
export function checkBlockDigest(plan: BlockPlan, index: number, digest: Uint8Array): { ok: true } | { ok: false; bad: BadBlock } {
  const b = hashBlock(plan, index);
  const expected = signedBlockDigest(plan, index);
  if (digest.length === DIGEST_SIZE && equalBytes(digest, expected)) return { ok: true };
  return { ok: false, bad: { ...b, actual: toHex(digest), expected: toHex(expected) } };
}

/** Hashes block `index` from its bytes (WebCrypto) and checks it against the table. */
export async function checkBlock(plan: BlockPlan, index: number, bytes: Uint8Array): Promise<{ ok: true } | { ok: false; bad: BadBlock }> {
  const b = hashBlock(plan, index);
  if (bytes.length !== b.end - b.start) throw new RangeError(`"bytes" expected ${b.end - b.start} bytes for hash block ${index}, got ${bytes.length}`);
  return checkBlockDigest(plan, index, await sha256WebCrypto(bytes));
}

/** Every block whose digest (from a hasher's output) differs from the table, in block order. */
export function badBlocks(plan: BlockPlan, digests: Uint8Array): BadBlock[] {
  if (digests.length !== plan.count * DIGEST_SIZE) throw new RangeError(`"digests" expected ${plan.count * DIGEST_SIZE} bytes, got ${digests.length}`);
  const out: BadBlock[] = [];
  for (let i = 0; i < plan.count; i++) {
    const r = checkBlockDigest(plan, i, digests.subarray(i * DIGEST_SIZE, (i + 1) * DIGEST_SIZE));
    if (!r.ok) out.push(r.bad);
  }
  return out;
}

/** "hash block 3 (payload bytes 49152..65535, file offset 51330)": what a person needs to find it. */
export function describeBlock(plan: BlockPlan, b: HashBlock): string {
  return `hash block ${b.index} (payload bytes ${b.start}..${b.end - 1}, file offset ${plan.payloadOffset + b.start})`;
}

const SHOWN = 4;

/** The `payload` row's text for a table that does not match: each bad block (the first few), with its range. */
export function describeBadBlocks(plan: BlockPlan, bad: readonly BadBlock[]): string {
  const shown = bad.slice(0, SHOWN).map((b) => `${describeBlock(plan, b)} hashes to ${b.actual.slice(0, 16)}…, the signed table says ${b.expected.slice(0, 16)}…`);
  const more = bad.length > SHOWN ? `; and ${bad.length - SHOWN} more` : '';
  return `${bad.length} of ${plan.count} hash block${plan.count === 1 ? '' : 's'} ${bad.length === 1 ? 'does' : 'do'} not match the signed table: ${shown.join('; ')}${more}. The payload was changed after signing.`;
}
