/** What the CLI touches outside itself, injectable so tests can run commands in-process. */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { BlobLike } from '../core/crypto/sha256.ts';
import { fileBlob } from './file-blob.ts';

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
  /** Asks for a secret on the terminal without echo; absent when there is no terminal to ask on. */
  askSecret?(prompt: string): Promise<string>;
  /** A progress line for long steps (a bar on a terminal); absent when stderr is not a terminal. */
  progress?(p: ProgressLine): void;
}

/** What a progress bar shows: a named phase, and bytes when the phase counts them. */
export interface ProgressLine {
  readonly label: string;
  readonly done?: number;
  readonly total?: number;
  /** The phase is over: end the bar's line. */
  readonly end?: boolean;
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
        return fileBlob(abs(p), s.size);
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
    ...(process.stdin.isTTY && process.stderr.isTTY ? { askSecret } : {}),
    ...(process.stderr.isTTY ? { progress: progressBar((t) => void process.stderr.write(t), () => process.stderr.columns ?? 80) } : {}),
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

/** Reads one line from the terminal with echo off (as openssl's passphrase prompt does). */
function askSecret(prompt: string): Promise<string> {
  return new Promise((resolveLine, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let line = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolveLine(line);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new IoError('cancelled (Ctrl-C) at the passphrase prompt'));
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else line += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/**
 * A dfu-util-style bar on one terminal line, redrawn in place with CR:
 * `Download    [=========               ]  38%     1572864 bytes`. A phase without byte counts
 * (erase, device verify) shows its name and a spinner-free "…". At most ~20 redraws a second.
 */
export function progressBar(write: (text: string) => void, columns: () => number): (p: ProgressLine) => void {
  let last = 0;
  let open = false;
  let lastLabel = '';
  let counted = false;
  return (p) => {
    const now = Date.now();
    if (p.end) {
      // a byte bar stays on screen, finished, as dfu-util leaves it; a phase name is wiped
      if (open) write(counted ? '\n' : '\r\u001b[K');
      open = false;
      return;
    }
    const final = p.total !== undefined && p.done === p.total;
    if (open && p.label === lastLabel && !final && now - last < 50) return;
    last = now;
    lastLabel = p.label;
    const label = p.label.padEnd(12).slice(0, 12);
    let line: string;
    counted = !!p.total && p.done !== undefined;
    if (p.total && p.done !== undefined) {
      const frac = Math.min(1, p.done / p.total);
      const width = Math.max(10, Math.min(40, columns() - 40));
      const fill = Math.round(frac * width);
      line = `${label}[${'='.repeat(fill)}${' '.repeat(width - fill)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${String(p.done).padStart(12)} bytes`;
    } else line = `${p.label} …`;
    write(`\r${line}\u001b[K`);
    open = true;
  };
}
