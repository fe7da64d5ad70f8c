/**
 * TrustFlash's service worker (threat T12, docs/release.md). It keeps the app working offline as
 * the generated Workbox worker did (the same files precached, the page's navigations answered
 * with index.html, everything else — the 32 MiB sample — left to the network), and it adds one
 * rule: **a release is cached only once it has proved itself.** At install it fetches
 * release-manifest.json and its signature past every cache, verifies the signature with the
 * release key pinned into this script at build time, fetches every file it is about to cache
 * (and its own script) and compares each with the manifest's size and SHA-256. Only then does it
 * fill its cache. It also refuses a release older than the one installed (a stale mirror serving a
 * whole, validly signed older dist/). Any failure fails the install: the browser keeps the running
 * version, and the open pages are told why on the `trustflash-release` BroadcastChannel. Once
 * active, a listed file missing from its cache is fetched again and served only if it matches the
 * signed manifest; otherwise the page gets a 502 and is told why.
 *
 * Registered as a classic script (vite-plugin-pwa's injectManifest build, iife), same-origin, no
 * eval: the page's strict CSP (`worker-src 'self'`) holds.
 */
import { base64Decode } from '../core/crypto/pem.ts';
import type { Result } from '../core/bytes/result.ts';
import { toHex } from '../core/bytes/hex.ts';
import { sha256WebCrypto } from '../core/crypto/sha256.ts';
import type { ReleaseBuildInfo } from '../core/release/build-info.ts';
import { checkReleaseFile, parseReleaseManifest, RELEASE_MANIFEST_PATH, RELEASE_SIGNATURE_PATH, verifyReleaseManifest, type ReleaseManifest, type VerifiedRelease } from '../core/release/manifest.ts';
import { checkRefetchedFile, checkSuccession, releaseEntry } from '../core/release/succession.ts';
import { RELEASE_CHANNEL, type ReleaseMessage } from '../core/release/messages.ts';

declare const __TRUSTFLASH_RELEASE__: ReleaseBuildInfo;

/** The parts of the ServiceWorkerGlobalScope used here (the app's tsconfig has the DOM types, not WebWorker's). */
interface ExtendableEvent extends Event {
  waitUntil(p: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(r: Promise<Response>): void;
}
interface ExtendableMessageEvent extends ExtendableEvent {
  readonly data: unknown;
}
interface ServiceWorkerScope {
  readonly location: Location;
  readonly registration: { readonly scope: string };
  readonly clients: { claim(): Promise<void> };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'install' | 'activate', l: (e: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', l: (e: FetchEvent) => void): void;
  addEventListener(type: 'message', l: (e: ExtendableMessageEvent) => void): void;
}
interface PrecacheEntry {
  readonly url: string;
  readonly revision: string | null;
}

const sw = globalThis as unknown as ServiceWorkerScope;
/** Filled in by the build (workbox-build's injectManifest): every file this release caches. */
const PRECACHE: readonly PrecacheEntry[] = (self as unknown as { __WB_MANIFEST: PrecacheEntry[] }).__WB_MANIFEST;
const RELEASE = __TRUSTFLASH_RELEASE__;
const PINNED_SPKI = base64Decode(RELEASE.keySpki)!;
/** Caches this worker does not own and may delete once it is active: the older releases', and the Workbox worker's it replaces. */
const RELEASE_CACHE_PREFIX = 'trustflash-release-';
const OWNED_PREFIXES = [RELEASE_CACHE_PREFIX, 'workbox-precache-'];

/** Paths relative to the scope: what is cached, and what the fetch handler answers from the cache. */
const SERVED = new Set([...PRECACHE.map((e) => e.url), RELEASE_MANIFEST_PATH, RELEASE_SIGNATURE_PATH]);

/**
 * This release's cache, named by what the worker knows of itself when it starts: its file list
 * (URLs and revisions are content hashes) and its build info. Two builds with the same name hold
 * the same bytes in every cached file, so a newer one writing into the older one's cache changes
 * nothing the older one serves but release-manifest.json (only a hand-edited sw.js can do that).
 */
let cacheName: Promise<string> | undefined;
function ownCache(): Promise<string> {
  cacheName ??= sha256WebCrypto(new TextEncoder().encode(JSON.stringify([PRECACHE, RELEASE]))).then((h) => `${RELEASE_CACHE_PREFIX}${toHex(h).slice(0, 32)}`);
  return cacheName;
}

const scopeUrl = (path: string) => new URL(path, sw.registration.scope).href;

function tell(message: ReleaseMessage): void {
  const channel = new BroadcastChannel(RELEASE_CHANNEL);
  channel.postMessage(message);
  channel.close();
}

/**
 * Fetches past the HTTP cache and this worker; a non-200 answer is a failure with its status.
 * With `limit`, at most limit + 1 bytes of the body are read (enough to tell it is too long).
 */
async function fetchFresh(path: string, limit?: number): Promise<Result<{ bytes: Uint8Array; response: Response }>> {
  let response: Response;
  try {
    response = await fetch(scopeUrl(path), { cache: 'no-store', redirect: 'error' });
  } catch (e) {
    return { ok: false, reason: `${path} could not be fetched (${(e as Error).message})` };
  }
  if (response.status !== 200) return { ok: false, reason: `${path} could not be fetched (HTTP ${response.status})` };
  try {
    return { ok: true, value: { bytes: limit === undefined ? new Uint8Array(await response.arrayBuffer()) : await readAtMost(response, limit + 1), response } };
  } catch (e) {
    return { ok: false, reason: `${path} could not be read (${(e as Error).message})` };
  }
}

/** The first `max` bytes of a body (all of it when shorter); the rest is not read. */
async function readAtMost(response: Response, max: number): Promise<Uint8Array> {
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let length = 0;
  while (length < max) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.length;
  }
  await reader.cancel().catch(() => undefined);
  const out = new Uint8Array(Math.min(length, max));
  let at = 0;
  for (const c of chunks) {
    const part = c.subarray(0, out.length - at);
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A signed manifest and signature: verified with the pinned key, and this worker's own build. */
async function verifyOwnManifest(manifest: Uint8Array, signature: Uint8Array): Promise<Result<VerifiedRelease>> {
  const verified = await verifyReleaseManifest(manifest, signature, PINNED_SPKI);
  if (!verified.ok) return verified;
  const { app } = verified.value.manifest;
  if (app.version !== RELEASE.version || app.commit !== RELEASE.commit) {
    return { ok: false, reason: `the signed release manifest is for ${app.name} ${app.version} (${app.commit}), not this service worker's ${RELEASE.version} (${RELEASE.commit})` };
  }
  return verified;
}

/**
 * The releases installed before this one: the app of every release manifest in the existing
 * release caches (the running version's; a checked version waiting for "Reload to update").
 * Read as stored: each was verified when its release was installed, possibly with an older key.
 * A cache without a readable manifest says nothing and is skipped.
 */
async function installedApps(): Promise<ReleaseManifest['app'][]> {
  const apps: ReleaseManifest['app'][] = [];
  for (const name of await caches.keys()) {
    if (!name.startsWith(RELEASE_CACHE_PREFIX)) continue;
    const stored = await (await caches.open(name)).match(scopeUrl(RELEASE_MANIFEST_PATH));
    if (!stored) continue;
    const parsed = parseReleaseManifest(new Uint8Array(await stored.arrayBuffer()));
    if (parsed.ok) apps.push(parsed.value.app);
  }
  return apps;
}

/** The path of this worker's own script, relative to its scope. */
function ownScriptPath(): string {
  const script = new URL(sw.location.href);
  const scope = new URL(sw.registration.scope);
  return script.pathname.startsWith(scope.pathname) ? script.pathname.slice(scope.pathname.length) : script.pathname.replace(/^\//, '');
}

/**
 * The whole check, before anything is cached: the signed manifest, then every file against it.
 * Returns the responses to cache (rebuilt from the bytes that were checked).
 */
async function checkRelease(): Promise<Result<{ release: VerifiedRelease; responses: Map<string, Response> }>> {
  const manifest = await fetchFresh(RELEASE_MANIFEST_PATH);
  if (!manifest.ok) return manifest;
  const signature = await fetchFresh(RELEASE_SIGNATURE_PATH);
  if (!signature.ok) return signature;
  const verified = await verifyOwnManifest(manifest.value.bytes, signature.value.bytes);
  if (!verified.ok) return verified;
  const { manifest: m } = verified.value;
  const succession = checkSuccession(await installedApps(), m.app);
  if (!succession.ok) return succession;
  const responses = new Map<string, Response>();
  const paths = [ownScriptPath(), ...PRECACHE.map((e) => e.url)];
  for (const path of paths) {
    const file = await fetchFresh(path);
    if (!file.ok) return file;
    const checked = await checkReleaseFile(m, path, file.value.bytes);
    if (!checked.ok) return checked;
    const { response, bytes } = file.value;
    responses.set(path, new Response(bytes as Uint8Array<ArrayBuffer>, { status: 200, statusText: 'OK', headers: response.headers }));
  }
  for (const [path, r] of [[RELEASE_MANIFEST_PATH, manifest], [RELEASE_SIGNATURE_PATH, signature]] as const) {
    if (r.ok) responses.set(path, new Response(r.value.bytes as Uint8Array<ArrayBuffer>, { status: 200, headers: r.value.response.headers }));
  }
  return { ok: true, value: { release: verified.value, responses } };
}

async function install(): Promise<void> {
  const checked = await checkRelease();
  if (!checked.ok) {
    tell({ kind: 'refused', version: RELEASE.version, commit: RELEASE.commit, reason: checked.reason });
    // a failed install: the browser discards this worker and keeps the running one
    throw new Error(`update refused: ${checked.reason}`);
  }
  const name = await ownCache();
  const cache = await caches.open(name);
  try {
    for (const [path, response] of checked.value.responses) if (path !== ownScriptPath()) await cache.put(scopeUrl(path), response);
  } catch (e) {
    tell({ kind: 'refused', version: RELEASE.version, commit: RELEASE.commit, reason: `the verified files could not be stored (${(e as Error).message})` });
    throw e;
  }
  tell({ kind: 'verified', version: RELEASE.version, commit: RELEASE.commit, digest: checked.value.release.digest });
}

async function activate(): Promise<void> {
  const own = await ownCache();
  for (const name of await caches.keys()) if (name !== own && OWNED_PREFIXES.some((p) => name.startsWith(p))) await caches.delete(name);
  await sw.clients.claim();
}

/** The cached path a GET answers with, or undefined to leave it to the network (as Workbox's precache and navigation routes did). */
function cachedPathFor(request: Request): string | undefined {
  if (request.method !== 'GET') return undefined;
  const url = new URL(request.url);
  const scope = new URL(sw.registration.scope);
  if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return undefined;
  let path: string;
  try {
    path = decodeURI(url.pathname.slice(scope.pathname.length));
  } catch {
    return undefined;
  }
  if (path === '' || path.endsWith('/')) path += 'index.html';
  if (SERVED.has(path)) return path;
  return request.mode === 'navigate' ? 'index.html' : undefined;
}

/**
 * The installed release's manifest, verified once per worker start: the cached copy and its
 * signature, or, when either is missing from the cache, fresh ones (then cached again). Either
 * way it must verify with the pinned key and be this worker's build.
 */
let installedManifest: Promise<Result<VerifiedRelease>> | undefined;
function ownManifest(cache: Cache): Promise<Result<VerifiedRelease>> {
  installedManifest ??= (async (): Promise<Result<VerifiedRelease>> => {
    const [m, s] = await Promise.all([RELEASE_MANIFEST_PATH, RELEASE_SIGNATURE_PATH].map((p) => cache.match(scopeUrl(p))));
    if (m && s) return verifyOwnManifest(new Uint8Array(await m.arrayBuffer()), new Uint8Array(await s.arrayBuffer()));
    const manifest = await fetchFresh(RELEASE_MANIFEST_PATH);
    if (!manifest.ok) return manifest;
    const signature = await fetchFresh(RELEASE_SIGNATURE_PATH);
    if (!signature.ok) return signature;
    const verified = await verifyOwnManifest(manifest.value.bytes, signature.value.bytes);
    if (verified.ok) {
      for (const [path, r] of [[RELEASE_MANIFEST_PATH, manifest.value], [RELEASE_SIGNATURE_PATH, signature.value]] as const) {
        await cache.put(scopeUrl(path), new Response(r.bytes as Uint8Array<ArrayBuffer>, { status: 200, headers: r.response.headers })).catch(() => undefined);
      }
    }
    return verified;
  })().catch((e: unknown): Result<VerifiedRelease> => ({ ok: false, reason: `the release manifest could not be read (${(e as Error).message})` }));
  const pending = installedManifest;
  void pending.then((r) => {
    if (!r.ok && installedManifest === pending) installedManifest = undefined;
  });
  return pending;
}

/** A listed file missing from the cache, fetched again: the checked bytes, or why they are not served. */
async function refetch(cache: Cache, path: string): Promise<Result<Response>> {
  const own = await ownManifest(cache);
  if (!own.ok) return { ok: false, reason: `${path} was missing from the offline cache and cannot be checked: ${own.reason}` };
  if (path === RELEASE_MANIFEST_PATH || path === RELEASE_SIGNATURE_PATH) {
    // ownManifest fetched both again, verified them and put them back
    const again = await cache.match(scopeUrl(path));
    return again ? { ok: true, value: again } : { ok: false, reason: `${path} was missing from the offline cache and could not be stored again` };
  }
  const entry = releaseEntry(own.value.manifest, path);
  if (!entry) return { ok: false, reason: `${path} was missing from the offline cache and is not listed in the signed release manifest` };
  const file = await fetchFresh(path, entry.size);
  if (!file.ok) return { ok: false, reason: `${path} was missing from the offline cache: ${file.reason}` };
  const checked = await checkRefetchedFile(own.value.manifest, path, file.value.bytes);
  if (!checked.ok) return checked;
  const response = new Response(file.value.bytes as Uint8Array<ArrayBuffer>, { status: 200, statusText: 'OK', headers: file.value.response.headers });
  await cache.put(scopeUrl(path), response.clone()).catch(() => undefined);
  return { ok: true, value: response };
}

async function fromCache(path: string): Promise<Response> {
  const cache = await caches.open(await ownCache());
  const hit = await cache.match(scopeUrl(path));
  if (hit) return hit;
  const again = await refetch(cache, path);
  if (again.ok) return again.value;
  tell({ kind: 'unverified', version: RELEASE.version, commit: RELEASE.commit, path, reason: again.reason });
  return new Response(`TrustFlash's service worker refused this file: ${again.reason}\n`, {
    status: 502,
    statusText: 'Bad Gateway',
    headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' },
  });
}

sw.addEventListener('install', (e) => e.waitUntil(install()));
sw.addEventListener('activate', (e) => e.waitUntil(activate()));
sw.addEventListener('fetch', (e) => {
  const path = cachedPathFor(e.request);
  if (path !== undefined) e.respondWith(fromCache(path));
});
// the page's "Reload to update" (workbox-window's messageSkipWaiting): a verified worker that waits takes over
sw.addEventListener('message', (e) => {
  if ((e.data as { type?: unknown } | null)?.type === 'SKIP_WAITING') void sw.skipWaiting();
});
