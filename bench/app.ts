/**
 * `node dist-node/bench.js app` (after `npm run build`): the web app's own figures, each next to a
 * baseline measured in the same run.
 *
 * 1. JavaScript shipped for the first screen, gzip'd: dist/index.html's module script and its
 *    static imports (not the workers, not lazily imported chunks); the workers listed on their
 *    own; pkijs must not be in the first-screen JS.
 * 2. Time to interactive, navigation start → the Firmware heading and the emulated NIC's running
 *    version on screen: reloads served by the service worker's cache (median of 5) against first
 *    loads with the service worker blocked (median of 5, each in a fresh browser context).
 * 3. The main thread while a 256 MiB signed image is verified in the page: long tasks (target: none
 *    over 50 ms) and throughput, against verifyImage in Node on the same file.
 * Debian Chromium (/usr/bin/chromium) headless; the production build is served by Vite's preview().
 */
import { longTaskCount, longTasksSince, observeLongTasks, type LongTask } from './long-tasks.ts';
import { randomFillSync } from 'node:crypto';
import { openAsBlob } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join, posix } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { preview } from 'vite';
import { parsePem } from '../src/core/crypto/pem.ts';
import { importSigningKey } from '../src/core/crypto/private-key.ts';
import { loadTrustStore } from '../src/core/crypto/trust.ts';
import { parseCertificate } from '../src/core/crypto/x509.ts';
import { signImage, type ManifestDraft } from '../src/core/sign/sign-image.ts';
import { verifyImage } from '../src/core/verify/verify-image.ts';

const MiB = 1024 * 1024;
const DIST = 'dist';
const RELOADS = 5;
const VERIFY_RUNS = 3;
const IMAGE_MIB = Number(process.env.BENCH_APP_MIB ?? 256);
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking'];

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const ms = (n: number) => `${Math.round(n)} ms`;

// ---- 1. first-screen JavaScript ------------------------------------------------------------------

/** Static imports of an ES module chunk (`import{a}from"./x.js"`, `import"./x.js"`); dynamic import() is not one. */
function staticImports(code: string): string[] {
  const out: string[] = [];
  for (const m of code.matchAll(/(?:^|[;}\s])(?:import|export)\s*(?:[^"'();=]*?\bfrom\s*)?["']([^"']+\.js)["']/g)) out.push(m[1]!);
  return out;
}

/** The chunk and everything it statically imports, as paths under dist/. */
async function closure(entry: string): Promise<string[]> {
  const seen = new Set<string>();
  const visit = async (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = await readFile(join(DIST, file), 'utf8');
    for (const spec of staticImports(code)) await visit(spec.startsWith('/') ? spec.slice(1) : posix.join(posix.dirname(file), spec));
  };
  await visit(entry);
  return [...seen];
}

interface Sized {
  readonly file: string;
  readonly raw: number;
  readonly gzip: number;
}

async function sized(file: string): Promise<Sized> {
  const bytes = await readFile(join(DIST, file));
  return { file, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

const PKIJS_MARKERS = ['pkijs', 'CertificateChainValidationEngine'];

async function firstScreen() {
  const html = await readFile(join(DIST, 'index.html'), 'utf8');
  const entry = /<script[^>]*type="module"[^>]*src="\/?([^"]+)"/.exec(html)?.[1];
  if (!entry) throw new Error('dist/index.html has no module script');
  const preloads = [...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="\/?([^"]+)"/g)].map((m) => m[1]!);
  const files = new Set<string>();
  for (const f of [entry, ...preloads]) for (const c of await closure(f)) files.add(c);
  const first = await Promise.all([...files].map(sized));
  const pkijsIn: string[] = [];
  for (const f of files) {
    const code = await readFile(join(DIST, f), 'utf8');
    if (PKIJS_MARKERS.some((m) => code.includes(m))) pkijsIn.push(f);
  }
  // where pkijs is (so the check above is known to look for something that exists)
  const assets = (await readdir(join(DIST, 'assets'))).filter((f) => f.endsWith('.js')).map((f) => `assets/${f}`);
  const pkijsChunks: string[] = [];
  for (const f of assets) {
    const code = await readFile(join(DIST, f), 'utf8');
    if (PKIJS_MARKERS.some((m) => code.includes(m))) pkijsChunks.push(f);
  }
  const workers = await Promise.all(
    assets
      .filter((f) => /-worker-[^/]*\.js$/.test(f))
      .map(async (w) => {
        const parts = await Promise.all((await closure(w)).map(sized));
        return { file: w, raw: parts.reduce((a, p) => a + p.raw, 0), gzip: parts.reduce((a, p) => a + p.gzip, 0), chunks: parts.length };
      }),
  );
  const all = await Promise.all(assets.map(sized));
  return { entry, first, pkijsIn, pkijsChunks, workers, all };
}

// ---- 2. time to interactive ----------------------------------------------------------------------

export async function freePort(preferred: number): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(port, 'localhost', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
  return tryPort(preferred).catch(() => tryPort(0));
}

/** Waits until the Firmware heading and the NIC's running version are visible; returns performance.now() then (ms since navigation start). */
export async function interactiveAt(page: Page): Promise<number> {
  const h = await page.waitForFunction(
    () => {
      const heading = document.getElementById('firmware-heading');
      const running = document.querySelector('[data-testid="nic-running"]');
      const visible = (e: Element | null) => !!e && (e as HTMLElement).offsetParent !== null && (e.textContent ?? '').trim() !== '';
      // the heading carries its step number ("2 Firmware")
      return visible(heading) && /(^|\s)Firmware$/.test(heading!.textContent!.trim()) && visible(running) ? performance.now() : false;
    },
    null,
    { polling: 'raf', timeout: 60_000 },
  );
  return (await h.jsonValue()) as number;
}

async function timeToInteractive(browser: Browser, url: string) {
  // baseline: first loads, service worker blocked, each in a fresh context (empty HTTP cache, no IndexedDB)
  const cold: number[] = [];
  for (let i = 0; i < RELOADS; i++) {
    const ctx = await browser.newContext({ serviceWorkers: 'block' });
    const page = await ctx.newPage();
    await page.goto(url, { waitUntil: 'commit' });
    cold.push(await interactiveAt(page));
    await ctx.close();
  }
  // service worker: first visit installs it (precache), then reloads are served from its cache
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(url);
  await interactiveAt(page);
  const controlled = await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    for (let i = 0; i < 300 && !navigator.serviceWorker.controller; i++) await new Promise((r) => setTimeout(r, 50));
    return navigator.serviceWorker.controller !== null;
  });
  if (!controlled) throw new Error('the service worker did not take control of the page');
  const warm: number[] = [];
  let fromSw = 0;
  let total = 0;
  page.on('response', (r) => {
    if (r.request().resourceType() === 'script' || r.request().resourceType() === 'document') {
      total++;
      if (r.fromServiceWorker()) fromSw++;
    }
  });
  for (let i = 0; i < RELOADS; i++) {
    await page.reload({ waitUntil: 'commit' });
    warm.push(await interactiveAt(page));
  }
  await ctx.close();
  return { cold, warm, fromSw, total };
}

// ---- 3. the main thread while a 256 MiB image is verified ------------------------------------------

const DAY = (iso: string) => Date.parse(`${iso}T00:00:00Z`) / 1000;

/** A 256 MiB image signed like good.tfw: the demo signer, its certificate in the chain, for the emulated NIC. */
async function makeBigImage(path: string, size: number): Promise<void> {
  const key = await importSigningKey(await readFile('src/assets/demo-keys/signer/key.pem', 'utf8'));
  if (!key.ok) throw new Error(key.reason);
  const cert = await parseCertificate(parsePem(await readFile('src/assets/demo-keys/signer/cert.pem', 'utf8')).blocks[0]!.der);
  if (!cert.ok) throw new Error(cert.reason);
  const draft: ManifestDraft = {
    vendor: 'TrustFlash Demo',
    product: 'Emulated ConnectX NIC firmware',
    psids: ['TF_0000000001'],
    deviceIds: [4129],
    version: '28.40.1000',
    securityVersion: 2,
    releaseDate: DAY('2026-10-15'),
    forbiddenVersions: ['28.38.1000'],
    nextKeys: [key.value.spki],
    secured: true,
    dev: false,
    releaseNotes: 'Bench image (256 MiB of random payload).',
  };
  const payload = new Uint8Array(size);
  for (let at = 0; at < size; at += 64 * MiB) randomFillSync(payload, at, Math.min(64 * MiB, size - at));
  await writeFile(path, await signImage(draft, payload, [{ key: key.value, chain: [cert.value] }]));
}

export type { LongTask };

/** Called at the file pick and when the verdict is on screen (bench/page-verify.ts samples memory in between). */
export interface PickProbe {
  picked(): void;
  verdict(): void;
}

export async function verifyInPage(browser: Browser, url: string, path: string, probe?: PickProbe) {
  const ctx: BrowserContext = await browser.newContext({ serviceWorkers: 'block' });
  const page = await ctx.newPage();
  await observeLongTasks(page);
  await page.goto(url);
  await interactiveAt(page);
  // startup done (emulator booted): count only what happens from the pick on
  await page.waitForFunction(() => document.querySelector('[data-testid="device-busy"]')?.textContent?.trim() === '', null, { timeout: 60_000 });
  await page.waitForTimeout(500);
  // the images are larger than the emulated NIC's 64 MiB bank: verify them without a device (the device checks are skipped, not passed)
  await page.locator('[data-tab="trust"]').click();
  await page.getByLabel('Emulated NIC identity').uncheck();
  await page.waitForTimeout(300);
  const startup = await longTaskCount(page);
  const t0 = await page.evaluate(() => performance.now());
  probe?.picked();
  await page.getByTestId('file-input').setInputFiles(path);
  const verdict = await page.waitForFunction(
    () => {
      const v = document.querySelector('[data-testid="verdict"]');
      return v && v.querySelector('strong')?.textContent ? { at: performance.now(), text: v.querySelector('strong')!.textContent, failed: document.querySelector('[data-testid="failed-check"]')?.textContent ?? '' } : false;
    },
    null,
    { polling: 'raf', timeout: 300_000 },
  );
  probe?.verdict();
  const v = (await verdict.jsonValue()) as { at: number; text: string; failed: string };
  if (v.text !== 'Accepted') throw new Error(`the page did not accept the bench image: ${v.text} ${v.failed}`);
  const tasks = await longTasksSince(page, t0);
  await ctx.close();
  return { ms: v.at - t0, tasks, startup };
}

async function verifyInNode(path: string) {
  const trust = (await loadTrustStore([{ name: 'root', text: await readFile('src/assets/demo-keys/root/cert.pem', 'utf8') }])).store;
  const run = async () => {
    const t = performance.now();
    const report = await verifyImage(await openAsBlob(path), { trust, chunkSize: 2 * MiB });
    if (report.verdict !== 'accept') throw new Error(`Node did not accept the bench image: ${report.failed?.title}: ${report.failed?.reason}`);
    return performance.now() - t;
  };
  await run(); // warm-up (and page cache)
  const times: number[] = [];
  for (let i = 0; i < VERIFY_RUNS; i++) times.push(await run());
  return times;
}

// ---- the section ---------------------------------------------------------------------------------

export async function appBench(): Promise<string[]> {
  const fs1 = await firstScreen();
  const firstGzip = fs1.first.reduce((a, f) => a + f.gzip, 0);
  const firstRaw = fs1.first.reduce((a, f) => a + f.raw, 0);
  console.log(`first screen: ${fs1.first.map((f) => f.file).join(', ')} = ${kib(firstGzip)} gzip; pkijs in: ${fs1.pkijsIn.join(', ') || 'none'}`);

  const port = await freePort(4181);
  const server = await preview({ preview: { port, strictPort: true, host: 'localhost', open: false }, logLevel: 'error' });
  const url = `http://localhost:${port}/`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  const work = await mkdtemp(join(tmpdir(), 'trustflash-bench-app-'));
  try {
    console.log(`time to interactive: ${RELOADS} cold loads, then ${RELOADS} reloads from the service worker cache (${url})…`);
    const tti = await timeToInteractive(browser, url);
    console.log(`  cold ${tti.cold.map(ms).join(', ')}; from the SW cache ${tti.warm.map(ms).join(', ')}`);

    const image = join(work, 'bench-256m.tfw');
    console.log(`writing a ${IMAGE_MIB} MiB signed image to ${image}…`);
    await makeBigImage(image, IMAGE_MIB * MiB);
    const size = (await openAsBlob(image)).size;
    const page: { ms: number; tasks: LongTask[]; startup: number }[] = [];
    for (let i = 0; i < VERIFY_RUNS; i++) {
      const r = await verifyInPage(browser, url, image);
      console.log(`  page run ${i + 1}: ${ms(r.ms)}, long tasks ${r.tasks.length}, longest ${ms(Math.max(0, ...r.tasks.map((t) => t.duration)))}`);
      page.push(r);
    }
    const node = await verifyInNode(image);
    console.log(`  Node verifyImage: ${node.map(ms).join(', ')}`);

    const mbps = (t: number) => size / 1e6 / (t / 1000);
    const allTasks = page.flatMap((p) => p.tasks);
    const longest = Math.max(0, ...allTasks.map((t) => t.duration));
    const over50 = allTasks.filter((t) => t.duration > 50).length;
    const pageMbps = mbps(median(page.map((p) => p.ms)));
    const nodeMbps = mbps(median(node));
    const cpu = cpus();
    const firstSet = new Set(fs1.first.map((f) => f.file));
    const lazy = fs1.all.filter((f) => !firstSet.has(f.file) && !fs1.workers.some((w) => w.file === f.file));
    return [
      `Run ${new Date().toISOString().slice(0, 16)}Z on ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${release()}, Node ${process.version}, Debian Chromium ${browser.version()} headless (${ARGS.join(' ')}). The production build (\`npm run build\`) served by Vite's preview() on localhost. gzip level 9; KiB = 1024 bytes; MB/s = 10^6 bytes/s.`,
      '',
      '| JavaScript | raw | gzip |',
      '|---|---:|---:|',
      `| **first screen** (${fs1.first.map((f) => `\`${f.file.replace(/^assets\//, '')}\``).join(', ')}: the module script and its static imports) | ${kib(firstRaw)} | **${kib(firstGzip)}** |`,
      ...fs1.workers.map((w) => `| worker \`${w.file.replace(/^assets\//, '')}\` with its static imports (${w.chunks} chunk${w.chunks === 1 ? '' : 's'}; loaded on first use, not on the first screen) | ${kib(w.raw)} | ${kib(w.gzip)} |`),
      `| everything else, imported lazily (${lazy.length} chunks: session, trust/pkijs, emulator, …) | ${kib(lazy.reduce((a, f) => a + f.raw, 0))} | ${kib(lazy.reduce((a, f) => a + f.gzip, 0))} |`,
      '',
      `pkijs (searched for ${PKIJS_MARKERS.map((m) => `\`${m}\``).join(' / ')}) in the first-screen JS: **${fs1.pkijsIn.length ? `yes (${fs1.pkijsIn.join(', ')})` : 'no'}**; it is in ${fs1.pkijsChunks.map((f) => `\`${f.replace(/^assets\//, '')}\``).join(', ') || 'no chunk'}.`,
      '',
      `| time to interactive (navigation start → "Firmware" heading and the NIC's running version shown) | median | runs |`,
      '|---|---:|---|',
      `| first load, service worker blocked, fresh context (baseline) | ${ms(median(tti.cold))} | ${tti.cold.map(ms).join(', ')} |`,
      `| reload served from the service worker cache (${tti.fromSw} of ${tti.total} document/script responses from the SW) | ${ms(median(tti.warm))} (${(median(tti.warm) / median(tti.cold)).toFixed(2)} × baseline) | ${tti.warm.map(ms).join(', ')} |`,
      '',
      `| verifying a ${IMAGE_MIB} MiB signed image (${VERIFY_RUNS} runs) | value | target |`,
      '|---|---:|---:|',
      `| page: longest main-thread long task from the file pick to the "Accepted" verdict | ${ms(longest)} | ≤ 50 ms |`,
      `| page: long tasks over 50 ms / all long tasks (all runs) | ${over50} / ${allTasks.length} | 0 over 50 ms |`,
      `| page: long tasks seen during startup, before the pick (all runs; shows the observer reports them) | ${page.reduce((a, p) => a + p.startup, 0)} | — |`,
      `| page: throughput, file pick → verdict on screen (median; hashing in the verify Worker) | ${pageMbps.toFixed(0)} MB/s (${(pageMbps / nodeMbps).toFixed(2)} × Node) | — |`,
      `| Node: verifyImage over fs.openAsBlob, 2 MiB chunks (baseline, median after a warm-up) | ${nodeMbps.toFixed(0)} MB/s | — |`,
    ];
  } finally {
    await browser.close();
    await server.close();
    await rm(work, { recursive: true, force: true });
  }
}
