/**
 * The web app's signed release manifest (threat T12, docs/release.md): every file of a built
 * `dist/` with its size and SHA-256, the app's version, and the id of the release key, signed
 * detached by that key. The build writes it (scripts/release-plugin.ts); the service worker
 * verifies it against the key pinned into it at build time, and every file it caches against it,
 * before a new version may activate (src/sw/sw.ts).
 *
 * One encoding only: the manifest file is exactly `canonicalJson(manifest) + "\n"` (sorted keys,
 * no spaces, files sorted by path), and a file that parses but is not byte-for-byte that encoding
 * is refused, so the bytes signed, the bytes hashed into the release digest and the object
 * checked are one and the same. The signature is raw `openssl dgst -sha256 -sign` output
 * (RSASSA-PKCS1-v1_5 / SHA-256, or Ed25519): both are deterministic, so the build stays
 * reproducible. ECDSA is refused for a release key for that reason.
 */
import { toHex } from '../bytes/hex.ts';
import type { Result } from '../bytes/result.ts';
import { keyIdOf, parseSpki, sigAlgForKey } from '../crypto/keys.ts';
import { sha256WebCrypto } from '../crypto/sha256.ts';
import { verifySignature } from '../crypto/signature.ts';
import { SIG_ALG } from '../image/layout.ts';
import { canonicalJson } from '../update/audit.ts';

export const RELEASE_FORMAT = 'trustflash-release-manifest/1';
/** Where the build puts the manifest and its signature, relative to the app's root. */
export const RELEASE_MANIFEST_PATH = 'release-manifest.json';
export const RELEASE_SIGNATURE_PATH = 'release-manifest.json.sig';
/** A manifest larger than this is refused before it is parsed (a dist has a few dozen files). */
export const RELEASE_MANIFEST_MAX = 1024 * 1024;

export interface ReleaseFile {
  /** Relative to the app's root, `/`-separated, no `.` or `..` segment. */
  readonly path: string;
  readonly size: number;
  /** Lower-case hex. */
  readonly sha256: string;
}

export interface ReleaseManifest {
  readonly format: typeof RELEASE_FORMAT;
  readonly app: { readonly name: string; readonly version: string; readonly commit: string };
  /** SHA-256 of the release key's SPKI, lower-case hex. */
  readonly keyId: string;
  /** Sorted by path (UTF-16 code unit order, what `Array.prototype.sort` gives), no duplicates. */
  readonly files: readonly ReleaseFile[];
}

const enc = new TextEncoder();
const HEX64 = /^[0-9a-f]{64}$/;

/** The manifest file's bytes: the only encoding accepted. */
export function encodeReleaseManifest(m: ReleaseManifest): Uint8Array {
  return enc.encode(`${canonicalJson(m)}\n`);
}

/** The release digest: SHA-256 of the manifest file's exact bytes, lower-case hex. */
export async function releaseDigest(manifestBytes: Uint8Array): Promise<string> {
  return toHex(await sha256WebCrypto(manifestBytes));
}

/** Why a path is not one a manifest may list, or undefined. */
export function badReleasePath(path: string): string | undefined {
  if (path === '' || path.length > 1024) return 'is empty or longer than 1024 characters';
  if (path.startsWith('/') || path.includes('\\')) return 'must be relative and use "/"';
  if (path.split('/').some((s) => s === '' || s === '.' || s === '..')) return 'has an empty, "." or ".." segment';
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'contains a control character';
  return undefined;
}

const exactKeys = (o: Record<string, unknown>, keys: readonly string[]) => Object.keys(o).length === keys.length && keys.every((k) => Object.hasOwn(o, k));
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a manifest file, strictly: its schema, its order and its one encoding. Never throws. */
export function parseReleaseManifest(bytes: Uint8Array): Result<ReleaseManifest> {
  if (bytes.length > RELEASE_MANIFEST_MAX) return { ok: false, reason: `the release manifest is ${bytes.length} bytes; at most ${RELEASE_MANIFEST_MAX} are read` };
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    return { ok: false, reason: `the release manifest is not UTF-8 JSON: ${(e as Error).message}` };
  }
  if (!isObject(v) || !exactKeys(v, ['format', 'app', 'keyId', 'files'])) return { ok: false, reason: 'the release manifest must be an object with exactly format, app, keyId and files' };
  if (v.format !== RELEASE_FORMAT) return { ok: false, reason: `the release manifest's format is ${JSON.stringify(v.format)}; this app reads ${RELEASE_FORMAT}` };
  const app = v.app;
  if (!isObject(app) || !exactKeys(app, ['name', 'version', 'commit']) || ![app.name, app.version, app.commit].every((s) => typeof s === 'string' && s.length <= 200)) {
    return { ok: false, reason: 'the release manifest\'s "app" must have exactly name, version and commit, each a string of at most 200 characters' };
  }
  if (typeof v.keyId !== 'string' || !HEX64.test(v.keyId)) return { ok: false, reason: 'the release manifest\'s keyId must be 64 lower-case hex digits' };
  if (!Array.isArray(v.files)) return { ok: false, reason: 'the release manifest\'s "files" must be a list' };
  let previous: string | undefined;
  for (const [i, f] of v.files.entries()) {
    if (!isObject(f) || !exactKeys(f, ['path', 'size', 'sha256'])) return { ok: false, reason: `file entry ${i} must have exactly path, size and sha256` };
    if (typeof f.path !== 'string') return { ok: false, reason: `file entry ${i}: the path must be a string` };
    const bad = badReleasePath(f.path);
    if (bad) return { ok: false, reason: `file entry ${i}: the path ${JSON.stringify(f.path)} ${bad}` };
    if (typeof f.size !== 'number' || !Number.isSafeInteger(f.size) || f.size < 0) return { ok: false, reason: `${f.path}: the size must be a whole number of bytes` };
    if (typeof f.sha256 !== 'string' || !HEX64.test(f.sha256)) return { ok: false, reason: `${f.path}: sha256 must be 64 lower-case hex digits` };
    if (previous !== undefined && !(previous < f.path)) return { ok: false, reason: `${f.path}: the files must be sorted by path, each listed once` };
    previous = f.path;
  }
  const manifest = v as unknown as ReleaseManifest;
  const again = encodeReleaseManifest(manifest);
  if (again.length !== bytes.length || again.some((b, i) => b !== bytes[i])) {
    return { ok: false, reason: 'the release manifest is not in its canonical encoding (sorted keys, no spaces, one final newline)' };
  }
  return { ok: true, value: manifest };
}

/** A release key's signature algorithm, or why it cannot be one (ECDSA: randomised, the build would not reproduce). */
export function releaseKeyAlg(spki: Uint8Array): Result<number> {
  const key = parseSpki(spki);
  if (!key.ok) return key;
  const alg = sigAlgForKey(key.value);
  if (alg !== SIG_ALG.RSA_PKCS1_SHA256 && alg !== SIG_ALG.ED25519) {
    return { ok: false, reason: 'a release key must be RSA (PKCS#1 v1.5) or Ed25519: their signatures are deterministic, so the build is reproducible' };
  }
  return { ok: true, value: alg };
}

export interface VerifiedRelease {
  readonly manifest: ReleaseManifest;
  /** SHA-256 of the manifest file, lower-case hex. */
  readonly digest: string;
}

/**
 * Checks a manifest file and its detached signature against the pinned release key: the signature
 * first (nothing unsigned is parsed), then the strict parse, then that the manifest names the
 * pinned key. Never throws.
 */
export async function verifyReleaseManifest(bytes: Uint8Array, signature: Uint8Array, pinnedSpki: Uint8Array): Promise<Result<VerifiedRelease>> {
  const alg = releaseKeyAlg(pinnedSpki);
  if (!alg.ok) return { ok: false, reason: `the pinned release key: ${alg.reason}` };
  if (bytes.length > RELEASE_MANIFEST_MAX) return { ok: false, reason: `the release manifest is ${bytes.length} bytes; at most ${RELEASE_MANIFEST_MAX} are read` };
  const sig = await verifySignature(alg.value, pinnedSpki, signature, bytes);
  if (!sig.ok) return { ok: false, reason: `the release manifest's signature does not verify with the pinned release key (${sig.reason})` };
  const parsed = parseReleaseManifest(bytes);
  if (!parsed.ok) return parsed;
  const pinnedId = toHex(await keyIdOf(pinnedSpki));
  if (parsed.value.keyId !== pinnedId) return { ok: false, reason: `the release manifest names release key ${parsed.value.keyId.slice(0, 16)}…, not the pinned key ${pinnedId.slice(0, 16)}…` };
  return { ok: true, value: { manifest: parsed.value, digest: await releaseDigest(bytes) } };
}

/** One file against its manifest entry: listed, same size, same SHA-256. */
export async function checkReleaseFile(manifest: ReleaseManifest, path: string, bytes: Uint8Array): Promise<Result<ReleaseFile>> {
  const entry = manifest.files.find((f) => f.path === path);
  if (!entry) return { ok: false, reason: `file ${path} is not listed in the signed release manifest` };
  if (entry.size !== bytes.length) return { ok: false, reason: `file ${path} does not match the signed release manifest (${bytes.length} bytes, signed ${entry.size})` };
  const digest = toHex(await sha256WebCrypto(bytes));
  if (digest !== entry.sha256) return { ok: false, reason: `file ${path} does not match the signed release manifest (SHA-256 ${digest.slice(0, 16)}…, signed ${entry.sha256.slice(0, 16)}…)` };
  return { ok: true, value: entry };
}

/**
 * A whole directory against the manifest, both ways: every file listed and matching, no file
 * missing, none extra (the build's own check and a release engineer's, `paths` as found on disk).
 */
export async function checkReleaseTree(manifest: ReleaseManifest, files: ReadonlyMap<string, Uint8Array>): Promise<Result<number>> {
  for (const f of manifest.files) if (!files.has(f.path)) return { ok: false, reason: `file ${f.path} is listed in the signed release manifest but missing` };
  for (const [path, bytes] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const r = await checkReleaseFile(manifest, path, bytes);
    if (!r.ok) return r;
  }
  return { ok: true, value: files.size };
}

/** Builds the manifest for a set of files (the build's side). */
export async function buildReleaseManifest(app: ReleaseManifest['app'], releaseSpki: Uint8Array, files: ReadonlyMap<string, Uint8Array>): Promise<Result<ReleaseManifest>> {
  const entries: ReleaseFile[] = [];
  for (const [path, bytes] of files) {
    const bad = badReleasePath(path);
    if (bad) return { ok: false, reason: `the path ${JSON.stringify(path)} ${bad}` };
    entries.push({ path, size: bytes.length, sha256: toHex(await sha256WebCrypto(bytes)) });
  }
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { ok: true, value: { format: RELEASE_FORMAT, app, keyId: toHex(await keyIdOf(releaseSpki)), files: entries } };
}
