/**
 * A file as the CLI reads it: a {@link BlobLike} whose every slice is one positioned read into a
 * buffer of its own. Node's `openAsBlob` reads a slice in small pieces and joins them, which for the
 * 1 MiB hash blocks `verify` and `update` read took five times as long and left twice the garbage.
 * `readInto` reads into the caller's buffer, so the session's download reuses a few block buffers
 * instead of leaving one garbage buffer per hash block. The file is opened for each read, so nothing
 * stays open after a command; a slice of a file that has become shorter than it was is a read error
 * that says so (the size is taken once, when it is opened).
 */
import { open } from 'node:fs/promises';
import type { BlobLike } from '../core/crypto/sha256.ts';

export function fileBlob(path: string, size: number): BlobLike {
  return {
    size,
    readInto: (start, into) => readAt(path, start, into),
    slice(start = 0, end = size) {
      if (start < 0 || end < 0) throw new RangeError(`a slice of ${path} starts and ends at 0 or later, got ${start}..${end}`);
      const from = Math.min(start, size);
      const to = Math.max(from, Math.min(end, size));
      return { arrayBuffer: () => readRange(path, from, to) };
    },
  };
}

/** Reads from `from` into `into` until it is full or the file ends; the count read. */
async function readAt(path: string, from: number, into: Uint8Array): Promise<number> {
  if (!Number.isSafeInteger(from) || from < 0) throw new RangeError(`a read of ${path} starts at 0 or later, got ${from}`);
  const fh = await open(path, 'r');
  try {
    let got = 0;
    while (got < into.length) {
      const { bytesRead } = await fh.read(into, got, into.length - got, from + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got;
  } finally {
    await fh.close();
  }
}

async function readRange(path: string, from: number, to: number): Promise<ArrayBuffer> {
  const out = new Uint8Array(to - from);
  const got = await readAt(path, from, out);
  if (got < out.length) throw new Error(`${path} could not be read: it ends at byte ${from + got}, before byte ${to} (it changed after it was opened)`);
  return out.buffer;
}
