/** What the CLI touches outside itself, injectable so tests can run commands in-process. */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { openAsBlob } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { BlobLike } from '../core/crypto/sha256.ts';

export class IoError extends Error {
  override name = 'IoError';
}

/** Keys, certificates, trust files, manifests and device files are small; a bigger "text" file is a mistake, refused unread. */
export const TEXT_FILE_MAX = 16 * 1024 * 1024;

export function tooLargeForText(path: string, size: number): IoError {
  return new IoError(`cannot use ${path}: ${size} bytes is too large for a key, certificate, manifest or device file (at most ${TEXT_FILE_MAX} bytes)`);
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
  readBytes(path: string): Promise<Uint8Array>;
  readText(path: string): Promise<string>;
  /** A Blob over the file, read lazily (size known without reading). */
  openBlob(path: string): Promise<BlobLike>;
  writeBytes(path: string, bytes: Uint8Array | string, opts?: { overwrite?: boolean }): Promise<void>;
  exists(path: string): Promise<boolean>;
  readonly cwd: string;
}

function explain(path: string, e: unknown): IoError {
  const code = (e as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : code === 'EEXIST' ? 'it already exists (pass --force to replace it)' : (e as Error).message;
  return new IoError(`cannot use ${path}: ${why}`);
}

export function nodeIo(cwd = process.cwd()): Io {
  const abs = (p: string) => resolve(cwd, p);
  return {
    cwd,
    out: (t) => void process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
    err: (t) => void process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
    async readBytes(p) {
      try {
        return new Uint8Array(await readFile(abs(p)));
      } catch (e) {
        throw explain(p, e);
      }
    },
    async readText(p) {
      let size: number;
      try {
        size = (await stat(abs(p))).size;
      } catch (e) {
        throw explain(p, e);
      }
      if (size > TEXT_FILE_MAX) throw tooLargeForText(p, size);
      try {
        return await readFile(abs(p), 'utf8');
      } catch (e) {
        throw explain(p, e);
      }
    },
    async openBlob(p) {
      try {
        const s = await stat(abs(p));
        if (s.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
        return await openAsBlob(abs(p));
      } catch (e) {
        throw explain(p, e);
      }
    },
    async writeBytes(p, bytes, opts) {
      try {
        await mkdir(dirname(abs(p)), { recursive: true });
        await writeFile(abs(p), bytes, { flag: opts?.overwrite === false ? 'wx' : 'w' });
      } catch (e) {
        throw explain(p, e);
      }
    },
    async exists(p) {
      try {
        await stat(abs(p));
        return true;
      } catch {
        return false;
      }
    },
  };
}
