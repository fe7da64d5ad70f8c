/**
 * Threat T12, the app vouches for itself: the installed app's service worker takes a new release
 * only when its signed release manifest verifies with the pinned release key and every file it
 * caches matches it. Each test installs the built app (dist/, as `npm test` builds it) from a
 * server of its own, then serves a second release from the same origin: one properly signed
 * (accepted, after "Reload to update"), one with a file changed after signing, one signed by
 * another key, one whose signed manifest leaves a file out (each refused: the running version
 * keeps working offline and the page says why). A validly signed but older release served after a
 * newer one is installed is refused too (no downgrade). Once installed, a cached file deleted from
 * Cache Storage is fetched again and served only if it still matches the signed manifest. A first
 * install from a tampered server stores nothing and says why. Screenshots of the version line and the refusal banners (1280x800,
 * 390x844) go to test-results/self-check-*.png.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { createHash, generateKeyPairSync } from 'node:crypto';
import type { Page } from '@playwright/test';
import { test, expect } from './fixtures.ts';
import { CSP } from '../../vite.config.ts';
import { importSigningKey, type SigningKey } from '../../src/core/crypto/private-key.ts';
import { signBytes } from '../../src/core/crypto/signature.ts';
import { buildReleaseManifest, encodeReleaseManifest, parseReleaseManifest, RELEASE_MANIFEST_PATH, RELEASE_SIGNATURE_PATH } from '../../src/core/release/manifest.ts';

const PORT = Number(process.env.E2E_PORT ?? 4173) + 7;
const URL_ = `http://localhost:${PORT}/`;
const DIST = 'dist';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
  '.pem': 'text/plain',
};

/** A static server whose directory the test switches between releases (the origin stays the same, as on a real host). */
class ReleaseServer {
  root = DIST;
  #server: Server | undefined;
  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      let path = decodeURIComponent(new URL(req.url ?? '/', URL_).pathname);
      if (path.endsWith('/')) path += 'index.html';
      const file = normalize(join(this.root, path));
      let body: Buffer;
      try {
        body = readFileSync(file);
      } catch {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, {
        'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
        'Cache-Control': 'no-cache',
        'Content-Security-Policy': CSP,
        'X-Content-Type-Options': 'nosniff',
      });
      res.end(body);
    });
    await new Promise<void>((r) => this.#server!.listen(PORT, 'localhost', r));
  }
  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise((r) => this.#server?.close(r));
    this.#server = undefined;
  }
}

function tree(dir: string, prefix = '', out = new Map<string, Uint8Array>()): Map<string, Uint8Array> {
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) tree(dir, rel, out);
    else out.set(rel, new Uint8Array(readFileSync(join(dir, rel))));
  }
  return out;
}

const demoKey = async () => {
  const k = await importSigningKey(readFileSync('src/assets/demo-keys/release/key.pem', 'utf8'));
  if (!k.ok) throw new Error(k.reason);
  return k.value;
};
const digestOf = (dir: string) => createHash('sha256').update(readFileSync(join(dir, RELEASE_MANIFEST_PATH))).digest('hex');

/**
 * A second release made from dist/: its service worker script differs (so the browser installs
 * it), `edit` changes files before signing, the manifest is signed with `key`, and `after`
 * changes files once it is signed (what an attacker without the key can do).
 */
async function makeRelease(label: string, opts: { key?: SigningKey; version?: string; edit?: (dir: string) => void; drop?: string; after?: (dir: string) => void } = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `trustflash-release-${label}-`));
  cpSync(DIST, dir, { recursive: true });
  writeFileSync(join(dir, 'sw.js'), `${readFileSync(join(dir, 'sw.js'), 'utf8')}\n// release ${label}\n`);
  if (opts.version) setVersion(dir, opts.version);
  opts.edit?.(dir);
  const files = tree(dir);
  files.delete(RELEASE_MANIFEST_PATH);
  files.delete(RELEASE_SIGNATURE_PATH);
  if (opts.drop) files.delete(opts.drop);
  const original = parseReleaseManifest(new Uint8Array(readFileSync(join(DIST, RELEASE_MANIFEST_PATH))));
  if (!original.ok) throw new Error(original.reason);
  const key = opts.key ?? (await demoKey());
  const built = await buildReleaseManifest({ ...original.value.app, version: opts.version ?? original.value.app.version }, key.spki, files);
  if (!built.ok) throw new Error(built.reason);
  const bytes = encodeReleaseManifest(built.value);
  writeFileSync(join(dir, RELEASE_MANIFEST_PATH), bytes);
  writeFileSync(join(dir, RELEASE_SIGNATURE_PATH), await signBytes(key.alg, key.privateKey, bytes));
  opts.after?.(dir);
  return dir;
}

/** The version dist/ was built with (package.json's). */
const builtVersion = () => {
  const m = parseReleaseManifest(new Uint8Array(readFileSync(join(DIST, RELEASE_MANIFEST_PATH))));
  if (!m.ok) throw new Error(m.reason);
  return m.value.app.version;
};

/**
 * What building with another package.json version changes, without a second build: the version
 * pinned into the service worker and the page (`__TRUSTFLASH_RELEASE__`, once in each script).
 */
function setVersion(dir: string, version: string): void {
  const pinned = (v: string) => `version:\`${v}\`,commit:`;
  const scripts = ['sw.js', ...readdirSync(join(dir, 'assets')).filter((f) => f.endsWith('.js')).map((f) => `assets/${f}`)];
  let changed = 0;
  for (const f of scripts) {
    const text = readFileSync(join(dir, f), 'utf8');
    if (!text.includes(pinned(builtVersion()))) continue;
    writeFileSync(join(dir, f), text.split(pinned(builtVersion())).join(pinned(version)));
    changed++;
  }
  expect(changed).toBeGreaterThanOrEqual(2); // the worker and the page
}

/** The app's main script (index-*.js): what an attacker would change. */
const mainScript = (dir: string) => readdirSync(join(dir, 'assets')).find((f) => /^index-.*\.js$/.test(f))!;

async function install(page: Page): Promise<void> {
  await page.goto(URL_);
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
  });
  await expect.poll(() => page.evaluate(async () => (await caches.keys()).filter((k) => k.startsWith('trustflash-release-')).length)).toBe(1);
}

/** Asks the browser to check for a new service worker now (as it does at navigations and every 24 h). */
async function checkForUpdate(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.getRegistration();
    await reg?.update().catch(() => undefined);
  });
}

const servers: ReleaseServer[] = [];
const dirs: string[] = [];
test.afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function refusedRelease(page: Page, label: string, release: string, reason: RegExp, installed = DIST): Promise<void> {
  const server = new ReleaseServer();
  servers.push(server);
  server.root = installed;
  await server.start();
  await install(page);
  const digestA = digestOf(installed);
  await expect(page.getByTestId('app-release-digest')).toHaveText(digestA);
  await expect(page.getByTestId('release-info')).toContainText('checked against the pinned release key by the service worker');
  const scriptBefore = await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.active?.scriptURL);

  server.root = release;
  await checkForUpdate(page);
  const banner = page.getByTestId('update-refused');
  await expect(banner).toBeVisible();
  await expect(banner).toContainText(reason);
  await expect(banner).toContainText('keeps running');
  for (const [w, h] of [[1280, 800], [390, 844]] as const) {
    await page.setViewportSize({ width: w, height: h });
    await page.screenshot({ path: `test-results/self-check-refused-${label}-${w}x${h}.png` });
  }
  // nothing new waits or installs; the running worker and its one cache stay
  const state = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.getRegistration();
    return { waiting: !!reg?.waiting, installing: !!reg?.installing, active: reg?.active?.scriptURL, caches: (await caches.keys()).filter((k) => k.startsWith('trustflash-release-')).length };
  });
  expect(state).toEqual({ waiting: false, installing: false, active: scriptBefore, caches: 1 });

  // the old version keeps working offline, with its own release digest
  await server.stop();
  servers.splice(servers.indexOf(server), 1);
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Firmware', exact: true })).toBeVisible();
  await expect(page.getByTestId('app-release-digest')).toHaveText(digestA);
  await page.locator('.sample', { hasText: 'Tampered payload' }).click();
  await expect(page.getByTestId('failed-check')).toHaveAttribute('data-check', 'payload');
}

test('a file changed after signing is refused: the running version stays, offline, and the page says which file', async ({ watched: page }) => {
  const release = await makeRelease('tampered', { after: (dir) => writeFileSync(join(dir, 'assets', mainScript(dir)), `${readFileSync(join(dir, 'assets', mainScript(dir)), 'utf8')}\n/* injected */\n`) });
  dirs.push(release);
  await refusedRelease(page, 'tampered-file', release, new RegExp(`file assets/${mainScript(release).replace(/[.-]/g, '\\$&')} does not match the signed release manifest`));
});

test('a manifest signed by another key is refused', async ({ watched: page }) => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rogue = await importSigningKey(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  if (!rogue.ok) throw new Error(rogue.reason);
  const release = await makeRelease('rogue-key', { key: rogue.value });
  dirs.push(release);
  await refusedRelease(page, 'rogue-key', release, /signature does not verify with the pinned release key/);
});

test('a signed manifest that leaves out a file the app caches is refused', async ({ watched: page }) => {
  const release = await makeRelease('fewer-files', { drop: 'samples/good.tfw' });
  dirs.push(release);
  await refusedRelease(page, 'fewer-files', release, /file samples\/good\.tfw is not listed in the signed release manifest/);
});

test('an older release, validly signed, served after a newer one is installed is refused: the newer version stays, and the page says why', async ({ watched: page }) => {
  // the installed release is a newer version of this build; the server then goes back to dist/ as built
  const newer = await makeRelease('newer', { version: '9.0.0' });
  dirs.push(newer);
  const older = builtVersion();
  await refusedRelease(page, 'downgrade', DIST, new RegExp(`^\\s*Update refused: version ${older.replace(/\./g, '\\.')} is older than the installed 9\\.0\\.0: a signed older release \\(a stale mirror, a rollback\\) is not installed over a newer one\\. This version \\(9\\.0\\.0\\) keeps running\\.\\s*$`), newer);
  await expect(page.getByTestId('release-version')).toHaveText('9.0.0');
});

test('a cached file missing from Cache Storage is fetched again and served only if it matches the signed manifest', async ({ page }) => {
  // not `watched`: the refused file's 502 is logged by the browser, and that one error is expected
  const errors: string[] = [];
  page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
  page.on('pageerror', (e) => errors.push(e.message));
  const served = mkdtempSync(join(tmpdir(), 'trustflash-release-evicted-'));
  dirs.push(served);
  cpSync(DIST, served, { recursive: true });
  const server = new ReleaseServer();
  servers.push(server);
  server.root = served;
  await server.start();
  await install(page);

  // evicted: a sample the server will change, one it keeps, and the manifest itself
  const evicted = ['samples/device.json', 'samples/demo-root.pem', RELEASE_MANIFEST_PATH];
  const deleted = await page.evaluate(async (paths) => {
    const name = (await caches.keys()).find((k) => k.startsWith('trustflash-release-'))!;
    const cache = await caches.open(name);
    return Promise.all(paths.map((p) => cache.delete(new URL(p, location.href).href)));
  }, evicted);
  expect(deleted).toEqual([true, true, true]);
  const device = readFileSync(join(DIST, 'samples', 'device.json'));
  writeFileSync(join(served, 'samples', 'device.json'), Buffer.concat([device, Buffer.from(' ')]));
  // a file the worker never caches (the big sample) is left to the network, changed or not
  writeFileSync(join(served, 'samples', 'big-32mib.tfw'), 'changed');

  const get = (path: string) =>
    page.evaluate(async (p) => {
      const r = await fetch(p);
      const bytes = new Uint8Array(await r.arrayBuffer());
      const name = (await caches.keys()).find((k) => k.startsWith('trustflash-release-'))!;
      const cached = await (await caches.open(name)).match(new URL(p, location.href).href);
      return { status: r.status, type: r.headers.get('Content-Type'), text: new TextDecoder().decode(bytes), bytes: Array.from(bytes), cached: !!cached };
    }, path);

  const changed = await get('samples/device.json');
  expect(changed).toMatchObject({ status: 502, type: 'text/plain; charset=utf-8', cached: false });
  const reason = `samples/device.json was missing from the offline cache, and the server's copy was not used: file samples/device.json does not match the signed release manifest (${device.length + 1} bytes, signed ${device.length})`;
  expect(changed.text).toBe(`TrustFlash's service worker refused this file: ${reason}\n`);
  const notice = page.getByTestId('file-refused');
  await expect(notice).toHaveText(`Not used: ${reason}. Reload when the server serves this version again.`);
  await expect(page.getByTestId('update-refused')).toHaveCount(0);
  for (const [w, h] of [[1280, 800], [390, 844]] as const) {
    await page.setViewportSize({ width: w, height: h });
    await page.screenshot({ path: `test-results/self-check-evicted-${w}x${h}.png` });
  }

  const unchanged = await get('samples/demo-root.pem');
  expect(unchanged).toMatchObject({ status: 200, cached: true });
  expect(Buffer.from(unchanged.bytes).equals(readFileSync(join(DIST, 'samples', 'demo-root.pem')))).toBe(true);
  // the manifest was fetched again to check them, verified, and put back
  const manifest = await get(RELEASE_MANIFEST_PATH);
  expect(manifest).toMatchObject({ status: 200, cached: true });
  expect(Buffer.from(manifest.bytes).equals(readFileSync(join(DIST, RELEASE_MANIFEST_PATH)))).toBe(true);
  expect(await get('samples/big-32mib.tfw')).toMatchObject({ status: 200, text: 'changed', cached: false });

  // the server back to the signed bytes: the file is served and cached again
  writeFileSync(join(served, 'samples', 'device.json'), device);
  const restored = await get('samples/device.json');
  expect(restored).toMatchObject({ status: 200, cached: true });
  expect(Buffer.from(restored.bytes).equals(device)).toBe(true);
  expect(errors).toEqual(['Failed to load resource: the server responded with a status of 502 (Bad Gateway)']);
});

test('a properly signed new release is accepted; the page then shows its digest, and it works offline', async ({ watched: page }) => {
  // a new release changes a cached file (its revision in sw.js with it, as a build would)
  const release = await makeRelease('good', {
    edit: (dir) => {
      const file = join(dir, 'samples', 'device.json');
      const before = readFileSync(file);
      const after = Buffer.concat([before, Buffer.from('\n')]);
      writeFileSync(file, after);
      const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
      const sw = readFileSync(join(dir, 'sw.js'), 'utf8');
      expect(sw).toContain(md5(before));
      writeFileSync(join(dir, 'sw.js'), sw.replace(md5(before), md5(after)));
    },
  });
  dirs.push(release);
  const server = new ReleaseServer();
  servers.push(server);
  await server.start();
  await install(page);
  await expect(page.getByTestId('app-release-digest')).toHaveText(digestOf(DIST));
  for (const [w, h] of [[1280, 800], [390, 844]] as const) {
    await page.setViewportSize({ width: w, height: h });
    await page.getByTestId('release-info').scrollIntoViewIfNeeded();
    await page.screenshot({ path: `test-results/self-check-version-${w}x${h}.png` });
  }

  server.root = release;
  await checkForUpdate(page);
  await expect.poll(() => page.evaluate(async () => !!(await navigator.serviceWorker.getRegistration())?.waiting), { timeout: 20_000 }).toBe(true);
  await expect(page.getByTestId('update-refused')).toHaveCount(0);
  await page.getByRole('button', { name: 'Reload to update' }).click();
  await expect(page.getByTestId('app-release-digest')).toHaveText(digestOf(release), { timeout: 20_000 });
  await expect(page.getByTestId('release-info')).toContainText('checked against the pinned release key by the service worker');
  await expect.poll(() => page.evaluate(async () => (await caches.keys()).filter((k) => k.startsWith('trustflash-release-')).length)).toBe(1);

  await server.stop();
  servers.splice(0);
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Firmware', exact: true })).toBeVisible();
  await expect(page.getByTestId('app-release-digest')).toHaveText(digestOf(release));
});

test('a first install from a tampered server stores nothing offline, and the page says why', async ({ watched: page }) => {
  const release = await makeRelease('first', { after: (dir) => writeFileSync(join(dir, 'samples', 'good.tfw'), Buffer.concat([readFileSync(join(dir, 'samples', 'good.tfw')), Buffer.from([0])])) });
  dirs.push(release);
  const server = new ReleaseServer();
  servers.push(server);
  server.root = release;
  await server.start();
  await page.goto(URL_);
  const banner = page.getByTestId('update-refused');
  await expect(banner).toContainText(/^\s*Not stored for offline use: file samples\/good\.tfw does not match the signed release manifest \(67821 bytes, signed 67820\)\. This page works only while its server can be reached\.\s*$/);
  const state = await page.evaluate(async () => ({ controlled: !!navigator.serviceWorker.controller, registered: !!(await navigator.serviceWorker.getRegistration())?.active, caches: (await caches.keys()).length }));
  expect(state).toEqual({ controlled: false, registered: false, caches: 0 });
  await expect(page.getByTestId('release-info')).toContainText('not checked yet (no service worker controls this page)');
});
