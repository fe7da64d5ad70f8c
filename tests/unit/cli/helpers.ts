/**
 * Shared by the CLI and interop tests: run `trustflash` in-process (fast) or as the built
 * executable (dist-node/trustflash.js, built on demand), run `openssl`, and make temp dirs.
 * Not a test file itself (no .test.ts suffix).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../../src/cli/main.ts';
import { nodeIo, type Io } from '../../../src/cli/io.ts';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url)).replace(/[\\/]$/, '');
export const BIN = join(ROOT, 'dist-node/trustflash.js');
export const DEMO_KEYS = join(ROOT, 'src/assets/demo-keys');
/** Fixed validation time for the samples and the demo key set. */
export const NOW = '2026-11-22T00:00:00Z';

export interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `trustflash …` in-process, through the real nodeIo but with output captured. */
export async function tf(cwd: string, ...argv: string[]): Promise<Result> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { ...nodeIo(cwd), out: (t) => void out.push(t.endsWith('\n') ? t : t + '\n'), err: (t) => void err.push(t.endsWith('\n') ? t : t + '\n') };
  const code = await run(argv, io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

function exec(file: string, args: readonly string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number }): Promise<Result> {
  return new Promise((res) => {
    execFile(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, timeout: opts.timeout ?? 60_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : -1) : 0;
      res({ code, stdout, stderr: stderr + (error && code === -1 ? `\n[exec: ${error.message}]` : '') });
    });
  });
}

let snapshot: string | undefined;

/** The built executable, as a user runs it (`node dist-node/trustflash.js …`; see ensureBinary for the snapshot). */
export function tfBin(cwd: string, ...argv: string[]): Promise<Result> {
  const env = { ...process.env };
  delete env.TRUSTFLASH_DEBUG;
  return exec(process.execPath, [snapshot ?? BIN, ...argv], { cwd, env });
}

/** `openssl …`; the output is text (use -out files for binary data). */
export function openssl(cwd: string, ...args: string[]): Promise<Result> {
  return exec('openssl', args, { cwd });
}

/** openssl, failing the test with its stderr when it does not exit 0. */
export async function mustOpenssl(cwd: string, ...args: string[]): Promise<Result> {
  const r = await openssl(cwd, ...args);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r;
}

/**
 * Builds dist-node/trustflash.js with `npm run build:node` if it is missing, then runs a private
 * copy of it (see snapshotBinary). Test files run in parallel forks, so the build is guarded by a
 * lock directory (the build empties dist-node first).
 */
export async function ensureBinary(): Promise<string> {
  await buildIfMissing();
  snapshot ??= await snapshotBinary();
  return snapshot;
}

/** Removes this test file's copy of the executable (call from afterAll). */
export function releaseBinary(): void {
  if (snapshot) rmSync(join(snapshot, '..'), { recursive: true, force: true });
  snapshot = undefined;
}

const SNAPSHOTS = join(ROOT, 'node_modules', '.cache', 'trustflash-test-bin');

/**
 * Copies trustflash.js and its chunks into node_modules/.cache/… so that a `npm run build:node`
 * running elsewhere while the tests run (it empties dist-node) cannot pull the file from under a
 * spawned process. Bare imports (asn1js, pkijs, hash-wasm) still resolve from the project's
 * node_modules. Retries while a concurrent build is half-written.
 */
async function snapshotBinary(): Promise<string> {
  for (const old of existsSync(SNAPSHOTS) ? readdirSync(SNAPSHOTS) : []) {
    try {
      if (Date.now() - statSync(join(SNAPSHOTS, old)).mtimeMs > 3_600_000) rmSync(join(SNAPSHOTS, old), { recursive: true, force: true });
    } catch {
      /* another process cleaned it */
    }
  }
  const dest = join(SNAPSHOTS, `${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  for (let attempt = 0; ; attempt++) {
    try {
      rmSync(dest, { recursive: true, force: true });
      mkdirSync(join(dest, 'assets'), { recursive: true });
      writeFileSync(join(dest, 'package.json'), '{ "type": "module" }\n');
      const pending = ['trustflash.js'];
      const done = new Set<string>();
      while (pending.length) {
        const rel = pending.pop()!;
        if (done.has(rel)) continue;
        done.add(rel);
        const text = readFileSync(join(ROOT, 'dist-node', rel), 'utf8');
        writeFileSync(join(dest, rel), text);
        const base = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/') + 1) : '';
        for (const m of text.matchAll(/\b(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) pending.push(posix.normalize(base + m[1]!));
      }
      const bin = join(dest, 'trustflash.js');
      const check = await exec(process.execPath, [bin, '--help'], { cwd: dest });
      if (check.code !== 0 || !check.stdout.includes('Usage:')) throw new Error(`the copied executable does not run: ${check.stderr}`);
      return bin;
    } catch (e) {
      if (attempt >= 50) throw new Error(`could not copy dist-node/trustflash.js: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
      await buildIfMissing();
    }
  }
}

async function buildIfMissing(): Promise<void> {
  if (existsSync(BIN)) return;
  const lock = join(ROOT, 'node_modules', '.trustflash-test-build.lock');
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(BIN) && !existsSync(lock)) return;
      try {
        if (Date.now() - statSync(lock).mtimeMs > 180_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        /* lock went away */
      }
      if (Date.now() > deadline) throw new Error('timed out waiting for another test file to build dist-node');
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (!existsSync(BIN)) {
      const r = await exec(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build:node', '--silent'], { cwd: ROOT, timeout: 170_000 });
      if (r.code !== 0 || !existsSync(BIN)) throw new Error(`npm run build:node failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** A fresh temporary directory and its clean-up. */
export function tempDir(prefix: string): { dir: string; cleanup: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), `tf-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** No stack trace: no "    at fn (file:line)" frame anywhere in what a user sees. */
export function hasStackTrace(r: Result): boolean {
  return r.stdout.includes('    at ') || r.stderr.includes('    at ');
}

/** A manifest for `trustflash sign` aimed at the demo device. */
export function manifestJson(over: Record<string, unknown> = {}): string {
  return JSON.stringify(
    {
      vendor: 'Interop Test',
      product: 'Widget firmware',
      psids: ['TF_0000000001'],
      deviceIds: [4129],
      version: '28.41.1000',
      securityVersion: 2,
      releaseDate: '2026-01-15',
      forbiddenVersions: ['28.38.1000'],
      // a key the device can check the next update with: sign refuses a lock-out image (issue #10)
      nextKeys: [join(process.cwd(), 'src/assets/demo-keys/signer/pubkey.pem')],
      ...over,
    },
    null,
    2,
  );
}
