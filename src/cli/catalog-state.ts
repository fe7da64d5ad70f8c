/**
 * The highest release-catalog sequence this user has seen, per vendor root and PSID
 * (catalog-verify.ts rollbackKey), kept in a state directory so that a catalog older than one
 * already seen is refused on the next run (docs/catalog.md). The directory is `--state-dir`, else
 * $XDG_STATE_HOME/trustflash, else ~/.local/state/trustflash (XDG Base Directory: state that
 * should persist but is not worth backing up). The file is replaced atomically (a temporary file
 * renamed over it), so a killed run leaves the old state or the new one, never half of either; a
 * file that does not read is an error naming it, never a silent reset (which would reopen rollback).
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseStrictJson } from '../core/bytes/strict-json.ts';
import { rollbackKeys, type VerifiedCatalog } from '../core/catalog/catalog-verify.ts';
import { IoError, type Io } from './io.ts';

export const CATALOG_STATE_FILE = 'catalog-state.json';
const SCHEMA = 'trustflash-catalog-state';
const STATE_MAX = 4 * 1024 * 1024;
const ENTRIES_MAX = 100_000;
const KEY_RE = /^[0-9a-f]{64}\/[\x21-\x7e]{1,16}$/;

export type SeenSequences = Readonly<Record<string, number>>;

/** The state directory: the flag (relative to the working directory), else the XDG default. */
export function catalogStateDir(io: Io, flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined) return resolve(io.cwd, flag);
  const xdg = env.XDG_STATE_HOME;
  // XDG: a relative $XDG_STATE_HOME is invalid and must be ignored
  if (xdg && xdg.startsWith('/')) return join(xdg, 'trustflash');
  return join(env.HOME || homedir(), '.local', 'state', 'trustflash');
}

/** The sequences seen so far; none when the file does not exist yet. */
export async function readSeenSequences(dir: string): Promise<SeenSequences> {
  const path = join(dir, CATALOG_STATE_FILE);
  let text: string;
  try {
    const bytes = await readFile(path);
    if (bytes.length > STATE_MAX) throw new IoError(`${path}: ${bytes.length} bytes is too large for a catalog state file`);
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    if (e instanceof IoError) throw e;
    throw new IoError(`${path}: cannot read the catalog state: ${(e as Error).message}`);
  }
  const corrupt = (why: string) =>
    new IoError(`${path} is corrupt (${why}). It records the highest release-catalog sequence seen, so a rolled-back catalog is refused; move it aside to start over (that forgets what was seen), or restore it from a backup`);
  const j = parseStrictJson(text);
  if (!j.ok) throw corrupt(`not valid JSON: ${j.reason}`);
  const o = j.value as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || Array.isArray(o) || o.schema !== SCHEMA || o.schemaVersion !== 1) throw corrupt(`not a ${SCHEMA} file of version 1`);
  const h = o.highest;
  if (typeof h !== 'object' || h === null || Array.isArray(h)) throw corrupt('"highest" is not an object');
  const entries = Object.entries(h as Record<string, unknown>);
  if (entries.length > ENTRIES_MAX) throw corrupt(`${entries.length} entries, at most ${ENTRIES_MAX}`);
  const out: Record<string, number> = {};
  for (const [k, v] of entries) {
    if (!KEY_RE.test(k)) throw corrupt(`the entry ${JSON.stringify(k)} is not "ROOT-KEY-ID/PSID"`);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw corrupt(`the sequence of ${k} is not a positive integer`);
    out[k] = v;
  }
  return out;
}

/**
 * Records a verified catalog's sequence for each product it lists, when it is higher than the one
 * seen (never lowers one). Returns the keys raised; writes nothing when none is.
 */
export async function recordCatalogSequence(dir: string, seen: SeenSequences, catalog: VerifiedCatalog): Promise<string[]> {
  // read again just before writing: another run may have raised a sequence since this one started,
  // and a write must never lower one (two runs at once can still race; each only ever raises)
  const now = await readSeenSequences(dir);
  const next: Record<string, number> = { ...seen };
  for (const [k, v] of Object.entries(now)) next[k] = Math.max(next[k] ?? 0, v);
  const raised: string[] = [];
  for (const k of rollbackKeys(catalog)) {
    if ((next[k] ?? 0) < catalog.content.sequence) {
      next[k] = catalog.content.sequence;
      raised.push(k);
    }
  }
  if (raised.length === 0) return raised;
  const path = join(dir, CATALOG_STATE_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(tmp, `${JSON.stringify({ schema: SCHEMA, schemaVersion: 1, highest: next }, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    throw new IoError(`cannot record the catalog sequence in ${path}: ${(e as Error).message}`);
  }
  return raised;
}
