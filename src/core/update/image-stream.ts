/**
 * The image as the session sends it (issue #13). An image in memory is the session's own copy and
 * is sent as it is. A format v2 image read from a file is never held whole: its head is read once
 * and kept (the very bytes the pre-flight verified), and each hash block is read again (while the
 * one before it is on the wire) and checked against the signed table before any byte of it is sent —
 * so what goes on the wire is exactly what was verified, one hash block at a time, whatever happens
 * to the file.
 */
import { UpdateError } from '../dfu/errors.ts';
import { concatBytes, equalBytes } from '../bytes/hex.ts';
import { sha256WebCrypto, type BlobLike } from '../crypto/sha256.ts';
import { hashBlock, signedBlockDigest, type BlockPlan } from '../image/hash-blocks.ts';
import { describeBlock } from '../verify/block-check.ts';
import { toHex } from '../bytes/hex.ts';
import { HEAD_MAX } from '../image/layout.ts';
import { parseImageHead } from '../image/parse.ts';
import { blockPlanOf } from '../image/hash-blocks.ts';
import type { Firmware } from './session-model.ts';

/** One transfer's worth of the image: its offset in the image and its bytes. */
export interface Chunk {
  readonly at: number;
  readonly bytes: Uint8Array;
}

export interface SendSource {
  readonly size: number;
  /**
   * The image from `from` to its end as transfers of `size` bytes (the last may be shorter). A
   * chunk's bytes are valid until the next chunk is asked for: a file source reuses its buffers.
   */
  chunks(from: number, size: number): AsyncGenerator<Chunk>;
}

/** An image the session holds (its own immutable copy). */
export function memorySource(bytes: Uint8Array): SendSource {
  return {
    size: bytes.length,
    chunks: (from, size) => toChunks((async function* () {
      yield bytes.subarray(from);
    })(), from, size),
  };
}

/**
 * How far ahead of the block being sent the file is read and checked. A read completes over several
 * turns of the event loop (open, read, close, digest), and the send loop gives one turn per block,
 * so with one block ahead the loop waited for the rest at every block; 4 MiB ahead (one to four
 * blocks) has the next block ready, and memory stays bounded by the 16 MiB block size cap.
 */
const READ_AHEAD = 4 * 1024 * 1024;

/** One turn of the event loop: a posted message, which is not clamped as a nested setTimeout is in a browser. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(undefined);
  });
}

/**
 * A v2 image in a file: `head` is the image's first `plan.payloadOffset` bytes as verified; the
 * payload is read block by block from `file` and each block checked against `plan` before it is sent.
 */
export function fileSource(file: BlobLike, head: Uint8Array, plan: BlockPlan): SendSource {
  if (head.length !== plan.payloadOffset) throw new RangeError(`"head" expected ${plan.payloadOffset} bytes, got ${head.length}`);
  const size = plan.payloadOffset + plan.payloadSize;
  /** Block buffers done with, for the next reads (when the file can be read into them). */
  const spare: Uint8Array[] = [];
  const bytesOf = async (start: number, end: number): Promise<Uint8Array> => {
    if (!file.readInto) return new Uint8Array(await file.slice(start, end).arrayBuffer());
    const buf = spare.pop() ?? new Uint8Array(plan.blockSize);
    return buf.subarray(0, await file.readInto(start, buf.subarray(0, end - start)));
  };
  /** Block `i` read and checked against the signed table; it fails (when awaited) if the file changed. */
  const load = (i: number): Promise<Uint8Array> => {
    const read = (async () => {
      const b = hashBlock(plan, i);
      const bytes = await bytesOf(plan.payloadOffset + b.start, plan.payloadOffset + b.end);
      if (bytes.length !== b.end - b.start || !equalBytes(await sha256WebCrypto(bytes), signedBlockDigest(plan, i))) {
        throw new UpdateError('InvalidFile', `the file changed after it was verified: ${describeBlock(plan, b)} no longer matches the signed table; none of it was sent`);
      }
      return bytes;
    })();
    read.catch(() => undefined); // thrown where it is awaited, in its turn; never unhandled meanwhile
    return read;
  };
  /** The image from `from` as segments (the head, then each block once read and checked) for transfers of `size` bytes. */
  async function* segments(from: number, size: number): AsyncGenerator<Uint8Array> {
    if (from < plan.payloadOffset) yield head.subarray(from);
    const first = from <= plan.payloadOffset ? 0 : Math.floor((from - plan.payloadOffset) / plan.blockSize);
    // the next blocks are read and checked while this one is on the wire (READ_AHEAD bytes of them)
    const ahead = Math.max(1, Math.min(4, Math.floor(READ_AHEAD / plan.blockSize)));
    const queue: Promise<Uint8Array>[] = [];
    const handedOut: { readonly bytes: Uint8Array; readonly end: number }[] = [];
    for (let i = first, queued = first; i < plan.count; i++) {
      while (queued < plan.count && queued <= i + ahead) queue.push(load(queued++));
      // one turn of the event loop per block: the reads ahead progress, and so do the timers a
      // write-through journal and a cancel wait for (against an instant emulated NIC nothing else
      // in the send loop gives way, so without it a whole image could go out in one task)
      await nextTurn();
      const bytes = await queue.shift()!;
      const b = hashBlock(plan, i);
      yield bytes.subarray(Math.max(0, from - (plan.payloadOffset + b.start)));
      if (!file.readInto) continue;
      // asked for more: the consumer is done with the chunks it had, and toChunks holds at most
      // size - 1 bytes of what came before (a transfer can span several small blocks); the blocks
      // wholly before those are sent, and their buffers are free
      handedOut.push({ bytes, end: b.end });
      while (handedOut.length > 0 && handedOut[0]!.end <= b.end - (size - 1)) {
        const done = handedOut.shift()!.bytes;
        spare.push(new Uint8Array(done.buffer, done.byteOffset, plan.blockSize));
      }
    }
  }
  return { size, chunks: (from, n) => toChunks(segments(from, n), from, n) };
}

/** Cuts contiguous segments into transfers of `size` bytes starting at `from`; copies only where a transfer spans two segments. */
async function* toChunks(segments: AsyncGenerator<Uint8Array>, from: number, size: number): AsyncGenerator<Chunk> {
  if (!Number.isInteger(size) || size <= 0) throw new RangeError(`"size" expected a positive integer, got ${size}`);
  let at = from;
  let parts: Uint8Array[] = [];
  let held = 0;
  const joined = (): Uint8Array => (parts.length === 1 ? parts[0]! : concatBytes(...parts));
  for await (const seg of segments) {
    let off = 0;
    while (off < seg.length) {
      if (held === 0 && seg.length - off >= size) {
        yield { at, bytes: seg.subarray(off, off + size) };
        at += size;
        off += size;
        continue;
      }
      const take = Math.min(size - held, seg.length - off);
      parts.push(seg.subarray(off, off + take));
      held += take;
      off += take;
      if (held === size) {
        yield { at, bytes: joined() };
        at += size;
        parts = [];
        held = 0;
      }
    }
  }
  if (held > 0) yield { at, bytes: joined() };
}

/** The image a session works on: what its pre-flight reads, what its download sends. */
export interface LoadedImage {
  /** The session's own bytes, or the file with its head pinned to the bytes read once. */
  readonly verify: Uint8Array | BlobLike;
  readonly send: SendSource;
  readonly size: number;
  /** Where the head ends (the payload starts); the whole size when the head does not parse. */
  readonly headEnd: number;
  /** What names the image in the audit log: a v2 image's release digest, or the SHA-256 of any other image's bytes. */
  readonly names: { readonly sha256?: string; readonly releaseDigest?: string };
}

/** Reads a Blob whole (a v1 image, a plain DFU image). */
export async function readAll(file: BlobLike): Promise<Uint8Array> {
  const bytes = new Uint8Array(await file.slice(0, file.size).arrayBuffer());
  if (bytes.length !== file.size) throw new UpdateError('InvalidFile', `the file is ${file.size} bytes but ${bytes.length} could be read (it changed while being read)`);
  return bytes;
}

/** The file, with its first `head.length` bytes served from `head` (the copy the session keeps and sends). */
function pinnedHead(head: Uint8Array, file: BlobLike): BlobLike {
  return {
    size: file.size,
    slice(start = 0, end = file.size) {
      if (end <= head.length) return { arrayBuffer: async () => head.slice(start, end).buffer };
      if (start >= head.length) return file.slice(start, end);
      return {
        arrayBuffer: async () => {
          const rest = new Uint8Array(await file.slice(head.length, end).arrayBuffer());
          const out = new Uint8Array(head.length - start + rest.length);
          out.set(head.subarray(start), 0);
          out.set(rest, head.length - start);
          return out.buffer;
        },
      };
    },
  };
}

/**
 * Prepares `firmware` for a session. A v2 image in a file keeps only its head in memory; anything
 * else (bytes given, a v1 file, a file whose head does not parse — the pre-flight says why) is one
 * buffer, verified and sent as it is.
 */
export async function loadImage(firmware: Firmware): Promise<LoadedImage> {
  const whole = async (bytes: Uint8Array): Promise<LoadedImage> => {
    const head = parseImageHead(bytes.subarray(0, HEAD_MAX), bytes.length);
    // a v2 image is named by its release digest, as from a file: no hash of the whole image before the verdict
    const v2 = head.ok && blockPlanOf(head.value) !== undefined;
    const names = head.ok && v2 ? { releaseDigest: toHex(await sha256WebCrypto(bytes.subarray(0, head.value.signedLength))) } : { sha256: toHex(await sha256WebCrypto(bytes)) };
    return { verify: bytes, send: memorySource(bytes), size: bytes.length, headEnd: head.ok ? head.value.payloadOffset : Math.min(bytes.length, HEAD_MAX), names };
  };
  if (firmware.kind !== 'file') return whole(firmware.bytes);
  const file = firmware.file;
  const prefix = new Uint8Array(await file.slice(0, Math.min(file.size, HEAD_MAX)).arrayBuffer());
  const head = parseImageHead(prefix, file.size);
  const plan = head.ok ? blockPlanOf(head.value) : undefined;
  if (!head.ok || !plan) return whole(await readAll(file));
  const kept = prefix.slice(0, plan.payloadOffset);
  return {
    verify: pinnedHead(kept, file),
    send: fileSource(file, kept, plan),
    size: file.size,
    headEnd: plan.payloadOffset,
    names: { releaseDigest: toHex(await sha256WebCrypto(kept.subarray(0, head.value.signedLength))) },
  };
}
