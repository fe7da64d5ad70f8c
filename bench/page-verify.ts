/**
 * `node dist-node/bench.js page-verify` (after `npm run build`), issue #13: verifying format v2
 * images at openssl speed. For a 256 MiB and a 1 GiB v2 image (made by the CLI's `sign`, 1 MiB hash
 * blocks, in a temp dir), interleaved in each run:
 *
 * - `openssl dgst -sha256` over the image file: the baseline (1.00);
 * - the page in Debian Chromium, production build: file pick → verdict "Accepted" on screen, with
 *   the RSS of the browser's processes sampled from the pick to the verdict;
 * - `trustflash verify` as a whole command (Node's start included), with its peak RSS (VmHWM, read
 *   by a preload hook at exit) against the same command on a 64 KiB image.
 *
 * Median of 3 after one warm-up; the machine's load average is recorded, since the figures move
 * with it.
 */
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { open, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from '@playwright/test';
import { preview } from 'vite';
import { ARGS, CHROMIUM, freePort, verifyInPage, type LongTask } from './app.ts';
import { pageCeilings } from './page-ceiling.ts';

const MiB = 1024 * 1024;
const RUNS = 3;
const SIZES_MIB = (process.env.BENCH_PAGE_MIB ?? '256,1024').split(',').map(Number);
const CLI = resolve('dist-node/trustflash.js');
const KEYS = resolve('src/assets/demo-keys');
const ROOT_PEM = join(KEYS, 'root/cert.pem');

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

/** A v2 image signed by the CLI (`trustflash sign`, default 1 MiB hash blocks) over `size` random bytes. */
export async function cliImage(dir: string, size: number): Promise<string> {
  const payload = join(dir, `payload-${size}.bin`);
  const fh = await open(payload, 'w');
  const chunk = new Uint8Array(16 * MiB);
  for (let done = 0; done < size; done += chunk.length) await fh.write(randomFillSync(chunk).subarray(0, Math.min(chunk.length, size - done)));
  await fh.close();
  const manifest = join(dir, 'manifest.json');
  await writeFile(
    manifest,
    JSON.stringify({
      vendor: 'TrustFlash Demo', product: 'Emulated ConnectX NIC firmware', psids: ['TF_0000000001'], deviceIds: [4129], version: '28.40.1000',
      securityVersion: 2, releaseDate: '2026-10-15', forbiddenVersions: ['28.38.1000'], nextKeys: [join(KEYS, 'signer/pubkey.pem')], releaseNotes: 'Bench image (random payload).',
    }),
  );
  const out = join(dir, `v2-${size / MiB}m.tfw`);
  const r = spawnSync(process.execPath, [CLI, 'sign', '--key', join(KEYS, 'signer/key.pem'), '--cert', join(KEYS, 'signer/cert.pem'), '--manifest', manifest, '--payload', payload, '-o', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`trustflash sign failed: ${r.stderr}`);
  await rm(payload);
  return out;
}

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): { ms: number; stdout: string } {
  const t = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, maxBuffer: 64 * MiB });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

/** `trustflash verify` as a user runs it (exit 0: accepted); the preload hook writes the process's VmHWM at exit. */
async function cliVerify(image: string, probe: string, hwmFile: string): Promise<{ ms: number; hwm: number }> {
  const r = timed(process.execPath, ['--import', probe, CLI, 'verify', image, '--trust', ROOT_PEM, '--quiet'], { ...process.env, TF_BENCH_HWM: hwmFile });
  return { ms: r.ms, hwm: Number(await readFile(hwmFile, 'utf8')) };
}

export const PROBE = `import { readFileSync, writeFileSync } from 'node:fs';
process.on('exit', () => {
  const s = readFileSync('/proc/self/status', 'utf8');
  writeFileSync(process.env.TF_BENCH_HWM, String(Number(/^VmHWM:\\s+(\\d+) kB/m.exec(s)[1]) * 1024));
});
`;

/**
 * RSS of every process descended from this one (the browser, its renderers, GPU and utility
 * processes), and of the renderers alone (`--type=renderer`: the page and its Workers, apart from
 * the browser process that reads the file).
 */
async function descendantsRss(): Promise<{ all: number; renderer: number }> {
  const parent = new Map<number, number>();
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const stat = await readFile(`/proc/${d}/stat`, 'utf8').catch(() => '');
    const m = /\) \S (\d+)/.exec(stat);
    if (m) parent.set(Number(d), Number(m[1]));
  }
  const ours = (pid: number): boolean => {
    for (let p = parent.get(pid), n = 0; p !== undefined && n < 64; p = parent.get(p), n++) if (p === process.pid) return true;
    return false;
  };
  let all = 0;
  let renderer = 0;
  for (const pid of parent.keys()) {
    if (!ours(pid)) continue;
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
    all += rss;
    if ((await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes('--type=renderer')) renderer += rss;
  }
  return { all, renderer };
}

/** Samples descendantsRss() every 20 ms between the pick and the verdict: peak minus the value at the pick. */
function rssSampler() {
  let base = { all: 0, renderer: 0 };
  let peak = { all: 0, renderer: 0 };
  let timer: NodeJS.Timeout | undefined;
  let busy = false;
  const take = (r: { all: number; renderer: number }) => {
    peak = { all: Math.max(peak.all, r.all), renderer: Math.max(peak.renderer, r.renderer) };
  };
  const sample = async () => {
    if (busy) return;
    busy = true;
    take(await descendantsRss());
    busy = false;
  };
  return {
    probe: {
      picked: () => {
        void descendantsRss().then((r) => {
          base = r;
          take(r);
        });
        timer = setInterval(() => void sample(), 20);
      },
      verdict: () => clearInterval(timer),
    },
    growth: () => Math.max(0, peak.all - base.all),
    rendererGrowth: () => Math.max(0, peak.renderer - base.renderer),
  };
}

interface SizeResult {
  readonly mib: number;
  readonly bytes: number;
  readonly openssl: number[];
  readonly page: number[];
  readonly cli: number[];
  readonly pageRss: number[];
  readonly rendererRss: number[];
  readonly cliHwm: number[];
  readonly tasks: LongTask[];
  readonly readOnly: number[];
  readonly hashOnly: number[];
}

export async function pageVerifyBench(): Promise<string[]> {
  const work = await mkdtemp(join(tmpdir(), 'trustflash-bench-v2-'));
  const port = await freePort(4182);
  const server = await preview({ preview: { port, strictPort: true, host: 'localhost', open: false }, logLevel: 'error' });
  const url = `http://localhost:${port}/`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  const loadBefore = loadavg();
  try {
    const probe = join(work, 'hwm-probe.mjs');
    await writeFile(probe, PROBE);
    const hwmFile = join(work, 'hwm');
    const hwmOf = (image: string) => cliVerify(image, probe, hwmFile);
    const smallHwm: number[] = [];
    for (let i = 0; i < RUNS; i++) smallHwm.push((await hwmOf(resolve('public/samples/good.tfw'))).hwm);
    const concurrency = await (async () => {
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      await page.goto(url);
      const n = await page.evaluate(() => navigator.hardwareConcurrency);
      await ctx.close();
      return n;
    })();

    const results: SizeResult[] = [];
    for (const size of SIZES_MIB) {
      console.log(`page-verify: signing a ${size} MiB v2 image with trustflash sign…`);
      const image = await cliImage(work, size * MiB);
      const bytes = (await stat(image)).size;
      const r: SizeResult = { mib: size, bytes, openssl: [], page: [], cli: [], pageRss: [], rendererRss: [], cliHwm: [], tasks: [], readOnly: [], hashOnly: [] };
      // warm-up: page cache, the browser's HTTP cache, Node's compile cache
      timed('openssl', ['dgst', '-sha256', image]);
      await verifyInPage(browser, url, image);
      await hwmOf(image);
      // timed runs: nothing else of ours runs meanwhile (the RSS sampler reads /proc every 20 ms,
      // which on two cores took CPU from the page; memory is measured in runs of its own below)
      for (let i = 0; i < RUNS; i++) {
        r.openssl.push(timed('openssl', ['dgst', '-sha256', image]).ms);
        const p = await verifyInPage(browser, url, image);
        r.page.push(p.ms);
        r.tasks.push(...p.tasks);
        const c = await hwmOf(image);
        r.cli.push(c.ms);
        r.cliHwm.push(c.hwm);
        console.log(`  ${size} MiB run ${i + 1}: openssl ${secs(r.openssl.at(-1)!)}, page ${secs(p.ms)}, trustflash verify ${secs(c.ms)} (VmHWM ${mib(c.hwm)}); load ${loadavg()[0]!.toFixed(2)}`);
      }
      for (let i = 0; i < RUNS; i++) {
        const sampler = rssSampler();
        const p = await verifyInPage(browser, url, image, sampler.probe);
        r.tasks.push(...p.tasks);
        r.pageRss.push(sampler.growth());
        r.rendererRss.push(sampler.rendererGrowth());
        console.log(`  ${size} MiB memory run ${i + 1}: browser RSS +${mib(r.pageRss.at(-1)!)}, renderer +${mib(r.rendererRss.at(-1)!)}`);
      }
      const c = await pageCeilings(browser, image, Math.min(8, concurrency), RUNS);
      r.readOnly.push(...c.readMs);
      r.hashOnly.push(...c.hashMs);
      console.log(`  ${size} MiB apart: reads alone ${c.readMs.map(secs).join(', ')}; WebCrypto hashing alone ${c.hashMs.map(secs).join(', ')}`);
      await rm(image);
      results.push(r);
    }
    const loadAfter = loadavg();

    const cpu = cpus();
    const mbps = (bytes: number, ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(0);
    const lines = [
      `Run ${new Date().toISOString().slice(0, 16)}Z on ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'} (shared with other work: load average ${loadBefore.map((l) => l.toFixed(2)).join(' / ')} (1 / 5 / 15 min) before, ${loadAfter.map((l) => l.toFixed(2)).join(' / ')} after), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${release()}, Node ${process.version}, Debian Chromium ${browser.version()} headless (navigator.hardwareConcurrency ${concurrency}), ${spawnSync('openssl', ['version'], { encoding: 'utf8' }).stdout.trim()}. Images signed by \`trustflash sign\` (format v2, 1 MiB hash blocks) in a temp dir, page-cached; each figure the median of ${RUNS} runs after a warm-up, the three tools interleaved in each run; the page's memory sampled in runs of its own. MB/s = 10^6 bytes/s; ratio = openssl's median time ÷ the tool's (above 1.00: faster than openssl).`,
      '',
      '| image | tool | median | runs | MB/s | vs openssl |',
      '|---|---|---:|---|---:|---:|',
    ];
    for (const r of results) {
      const base = median(r.openssl);
      const row = (tool: string, xs: number[]) => `| ${r.mib} MiB (${r.bytes} bytes) | ${tool} | ${secs(median(xs))} | ${xs.map(secs).join(', ')} | ${mbps(r.bytes, median(xs))} | ${(base / median(xs)).toFixed(2)} |`;
      lines.push(row('`openssl dgst -sha256` (baseline)', r.openssl));
      lines.push(row(`page: file pick → "Accepted" on screen (${Math.min(8, concurrency)} block-hasher Workers)`, r.page));
      lines.push(row('`trustflash verify` (whole command, Node start included)', r.cli));
    }
    const workers = Math.min(8, concurrency);
    lines.push(
      '',
      `The page's two halves measured apart in the same Chromium over the same file (bench/page-ceiling.ts: ${workers} Workers, each over its share of the file), against the same openssl median:`,
      '',
      '| image | what | median | runs | vs openssl |',
      '|---|---|---:|---|---:|',
    );
    for (const r of results) {
      const base = median(r.openssl);
      const row = (what: string, xs: number[]) => `| ${r.mib} MiB | ${what} | ${secs(median(xs))} | ${xs.map(secs).join(', ')} | ${(base / median(xs)).toFixed(2)} |`;
      lines.push(row(`reading the File alone (8 MiB BYOB reads, no hashing), ${workers} Workers`, r.readOnly));
      lines.push(row(`WebCrypto SHA-256 alone over as many bytes in 1 MiB blocks (from memory, no reading), ${workers} Workers`, r.hashOnly));
    }
    const smallPeak = median(smallHwm);
    lines.push('', '| memory | ' + results.map((r) => `${r.mib} MiB`).join(' | ') + ' | target |', '|---|' + results.map(() => '---:|').join('') + '---:|');
    lines.push(`| \`trustflash verify\`: peak RSS (VmHWM, worst run) | ${results.map((r) => mib(Math.max(...r.cliHwm))).join(' | ')} | — |`);
    lines.push(`| \`trustflash verify\`: peak RSS growth over the same command on good.tfw (64 KiB payload; VmHWM ${mib(smallPeak)}) | ${results.map((r) => `**${mib(Math.max(...r.cliHwm) - smallPeak)}**`).join(' | ')} | ≤ 64 MiB |`);
    lines.push(`| page: RSS growth of all the browser's processes from the pick to the verdict (peak of 20 ms samples, worst of ${RUNS} runs apart from the timed ones) | ${results.map((r) => `**${mib(Math.max(...r.pageRss))}**`).join(' | ')} | bounded (no growth with size) |`);
    lines.push(`| page: RSS growth of the renderer alone (the page and its Workers; peak of 20 ms samples, worst of ${RUNS} runs apart from the timed ones) | ${results.map((r) => `**${mib(Math.max(...r.rendererRss))}**`).join(' | ')} | ≤ 64 MiB |`);
    lines.push(`| page: longest main-thread long task from the pick to the verdict (all runs) | ${results.map((r) => `${Math.round(Math.max(0, ...r.tasks.map((t) => t.duration)))} ms`).join(' | ')} | ≤ 50 ms |`);
    return lines;
  } finally {
    await browser.close();
    await server.close();
    await rm(work, { recursive: true, force: true });
  }
}
