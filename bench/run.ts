/**
 * `npm run bench`: performance figures for docs/benchmarks.md, each next to a baseline measured in
 * the same run on the same file (never a timed unit test).
 *
 * 1. SHA-256 throughput over one 256 MiB file: hash-wasm streaming (our verifier's path), WebCrypto
 *    one-shot, Node's crypto streaming, and `openssl dgst -sha256` (the baseline, 1.00).
 * 2. verifyImage streaming a 256 MiB signed image from disk, in a child process that reports its
 *    peak RSS growth over its own idle baseline (target ≤ 64 MiB), and its throughput.
 * 3. (bench/update.ts, device.ts, app.ts, page-verify.ts: the update session, the NIC firmware, the
 *    web app, and format v2 verification in the page and the CLI against openssl, issue #13.)
 * Writes the tables between the BENCH markers in docs/benchmarks.md and prints them.
 */
import { resumeBench } from './resume.ts';
import { createHash } from 'node:crypto';
import { createReadStream, openAsBlob } from 'node:fs';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem, release } from 'node:os';
import { join, resolve } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { encodeSignedPart, encodeSigBlock } from '../src/core/image/write.ts';
import { SIG_ENTRY } from '../src/core/image/layout.ts';
import { keyIdOf } from '../src/core/crypto/keys.ts';
import { importSigningKey } from '../src/core/crypto/private-key.ts';
import { loadTrustStore } from '../src/core/crypto/trust.ts';
import { createSha256, sha256Blob, sha256WebCrypto } from '../src/core/crypto/sha256.ts';
import { signBytes } from '../src/core/crypto/signature.ts';
import { verifyImage } from '../src/core/verify/verify-image.ts';
import { deviceBench } from './device.ts';
import { updateBench } from './update.ts';
import { appBench } from './app.ts';
import { pageVerifyBench } from './page-verify.ts';
import { updateMemoryBench } from './update-memory.ts';

const MiB = 1024 * 1024;
const WORK = resolve('bench/.work');
const SIZE = Number(process.env.BENCH_MIB ?? 256) * MiB;
const RUNS = 3;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);

async function time(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** Writes `size` bytes of deterministic data in 4 MiB pieces, feeding `onChunk` (so nothing large is held). */
async function writeData(path: string, size: number, onChunk?: (b: Uint8Array) => void): Promise<void> {
  const fh = await open(path, 'w');
  const chunk = new Uint8Array(4 * MiB);
  let s = 0x9e3779b9;
  for (let done = 0; done < size; done += chunk.length) {
    const dv = new DataView(chunk.buffer);
    for (let i = 0; i < chunk.length; i += 4) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      dv.setUint32(i, s, true);
    }
    const piece = chunk.subarray(0, Math.min(chunk.length, size - done));
    onChunk?.(piece);
    await fh.write(piece);
  }
  await fh.close();
}

/** A signed image with a `size`-byte payload, written without holding the payload in memory. */
async function makeImage(path: string, size: number): Promise<void> {
  const key = await importSigningKey(await readFile('src/assets/demo-keys/signer/key.pem', 'utf8'));
  if (!key.ok) throw new Error(key.reason);
  const payloadPath = `${path}.payload`;
  const h = await createSha256();
  await writeData(payloadPath, size, (b) => h.update(b));
  const manifest = {
    vendor: 'TrustFlash Bench', product: 'Bench NIC', psids: ['TF_0000000001'], deviceIds: [], version: '1.0.0', securityVersion: 1,
    releaseDate: 1_780_000_000, forbiddenVersions: [], nextKeys: [key.value.spki], secured: true, dev: false, payloadSize: size, payloadSha256: h.digest(),
  };
  const signed = encodeSignedPart(manifest);
  const block = encodeSigBlock([{ type: SIG_ENTRY.SIGNATURE, alg: key.value.alg, keyId: await keyIdOf(key.value.spki), signature: await signBytes(key.value.alg, key.value.privateKey, signed) }]);
  const fh = await open(path, 'w');
  await fh.write(signed);
  await fh.write(block);
  const src = createReadStream(payloadPath, { highWaterMark: 4 * MiB });
  for await (const piece of src) await fh.write(piece as Buffer);
  await fh.close();
  await rm(payloadPath);
}

/**
 * Kernel-kept resident-set figures of this process (/proc/self/status): VmHWM is the peak since
 * exec, exact rather than sampled. (process.resourceUsage().maxRSS is not usable here: Linux carries
 * ru_maxrss across fork+exec, so a child reports its parent's high-water mark.)
 */
async function procStatus(): Promise<{ rss: number; hwm: number } | undefined> {
  try {
    const text = await readFile('/proc/self/status', 'utf8');
    const kib = (k: string) => Number(new RegExp(String.raw`^${k}:\s+(\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
    return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
  } catch {
    return undefined;
  }
}

/** Child mode: verify the image, report peak RSS growth over the idle baseline. */
async function child(path: string): Promise<void> {
  const trust = (await loadTrustStore([{ name: 'signer', text: await readFile('src/assets/demo-keys/signer/pubkey.pem', 'utf8') }])).store;
  // warm up the code paths on a tiny input so the baseline includes loaded modules and WASM
  await sha256WebCrypto(new Uint8Array(16));
  (await createSha256()).update(new Uint8Array(16)).digest();
  globalThis.gc?.();
  const before = await procStatus();
  if (!before) throw new Error('/proc/self/status is needed to measure peak memory');
  const t = performance.now();
  const report = await verifyImage(await openAsBlob(path), { trust, chunkSize: 2 * MiB });
  const ms = performance.now() - t;
  const after = (await procStatus())!;
  if (!Number.isFinite(after.hwm) || !Number.isFinite(before.rss)) throw new Error('could not read VmHWM/VmRSS');
  // conservative: the peak since exec (module loading included) minus the idle resident set
  process.stdout.write(JSON.stringify({ verdict: report.verdict, ms, baseRss: before.rss, peakRss: after.hwm }) + '\n');
}

/** Writes `table` between the BENCH:<name> markers of docs/benchmarks.md. */
async function publish(name: string, table: string): Promise<void> {
  const doc = 'docs/benchmarks.md';
  const text = await readFile(doc, 'utf8');
  const start = `<!-- BENCH:${name}:start -->`;
  const end = `<!-- BENCH:${name}:end -->`;
  if (!text.includes(start)) return;
  await writeFile(doc, text.slice(0, text.indexOf(start) + start.length) + '\n' + table + '\n' + text.slice(text.indexOf(end)));
  console.log(`updated ${doc} (${name})`);
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') return child(process.argv[3]!);
  const sections = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const want = (s: string) => sections.length === 0 || sections.includes(s);
  if (want('verify')) await verifySection();
  if (want('update')) {
    console.log('\nupdate: secure-update sessions over the emulated NIC…');
    const table = (await updateBench()).join('\n');
    console.log(table);
    await publish('update', table);
  }
  if (want('resume')) {
    console.log('\nresume: a 64 MiB v2 image end to end, a cut at 50 % resumed, a tampered block refused on arrival…');
    const table = (await resumeBench()).join('\n');
    console.log(table);
    await publish('resume', table);
  }
  if (want('device')) {
    console.log('\ndevice: the NIC firmware verifying a 64 MiB image…');
    const table = (await deviceBench()).join('\n');
    console.log(table);
    await publish('device', table);
  }
  if (want('app')) {
    console.log('\napp: first-screen JavaScript, time to interactive, the main thread during a 256 MiB verification…');
    const table = (await appBench()).join('\n');
    console.log(table);
    await publish('app', table);
  }
  if (want('update-memory')) {
    console.log('\nupdate-memory: trustflash update of a 200 MiB v2 image, peak RSS beyond the baseline and the flash model…');
    const table = (await updateMemoryBench()).join('\n');
    console.log(table);
    await publish('update-memory', table);
  }
  if (want('page-verify')) {
    console.log('\npage-verify: v2 images of 256 MiB and 1 GiB in the page and the CLI against openssl dgst -sha256…');
    const table = (await pageVerifyBench()).join('\n');
    console.log(table);
    await publish('page-verify', table);
  }
}

async function verifySection(): Promise<void> {
  await mkdir(WORK, { recursive: true });
  const dataPath = join(WORK, 'data.bin');
  const imagePath = join(WORK, 'image.tfw');
  console.log(`preparing ${SIZE / MiB} MiB files in ${WORK}…`);
  await writeData(dataPath, SIZE);
  await makeImage(imagePath, SIZE);

  const results: { method: string; ms: number[] }[] = [];
  const add = async (method: string, fn: () => Promise<unknown> | unknown) => {
    await fn(); // warm-up (and page cache)
    const ms: number[] = [];
    for (let i = 0; i < RUNS; i++) ms.push(await time(fn));
    results.push({ method, ms });
    console.log(`${method}: ${mbps(SIZE, median(ms)).toFixed(0)} MB/s`);
  };
  const digests = new Set<string>();
  await add('openssl dgst -sha256 (baseline)', () => digests.add(execFileSync('openssl', ['dgst', '-sha256', '-r', dataPath], { encoding: 'utf8' }).slice(0, 64)));
  await add('Node crypto createHash, 4 MiB stream', async () => {
    const h = createHash('sha256');
    for await (const b of createReadStream(dataPath, { highWaterMark: 4 * MiB })) h.update(b as Buffer);
    digests.add(h.digest('hex'));
  });
  await add('hash-wasm streaming over a Blob, 2 MiB chunks (sha256Blob)', async () => digests.add(Buffer.from(await sha256Blob(await openAsBlob(dataPath))).toString('hex')));
  const whole = new Uint8Array(await readFile(dataPath));
  await add('WebCrypto subtle.digest one-shot (file already in memory)', async () => digests.add(Buffer.from(await sha256WebCrypto(whole)).toString('hex')));
  if (digests.size !== 1) throw new Error(`the methods disagree: ${[...digests].join(', ')}`);

  const verify: { ms: number; growth: number; peak: number; verdict: string }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync(process.execPath, ['--expose-gc', process.argv[1]!, '--child', imagePath], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
    const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
    verify.push({ ms: j.ms, growth: j.peakRss - j.baseRss, peak: j.peakRss, verdict: j.verdict });
  }
  if (verify.some((v) => v.verdict !== 'accept')) throw new Error('the bench image did not verify');

  const base = mbps(SIZE, median(results[0]!.ms));
  const cpu = cpus();
  const opensslVersion = execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim();
  const lines = [
    `Run ${new Date().toISOString().slice(0, 16)}Z on ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${release()}, Node ${process.version}, ${opensslVersion}. File: ${SIZE / MiB} MiB, page-cached; median of ${RUNS} runs after one warm-up. MB/s = 10^6 bytes/s.`,
    '',
    '| SHA-256 method | MB/s | vs openssl |',
    '|---|---:|---:|',
    ...results.map((r) => {
      const v = mbps(SIZE, median(r.ms));
      return `| ${r.method} | ${v.toFixed(0)} | ${(v / base).toFixed(2)} |`;
    }),
    '',
    `| verifyImage, ${SIZE / MiB} MiB image streamed from disk (child process, ${RUNS} runs) | value | target |`,
    '|---|---:|---:|',
    `| throughput (median) | ${mbps(SIZE, median(verify.map((v) => v.ms))).toFixed(0)} MB/s (${(mbps(SIZE, median(verify.map((v) => v.ms))) / base).toFixed(2)} × openssl) | — |`,
    `| peak RSS growth: VmHWM after verifying minus idle VmRSS before (worst run) | ${(Math.max(...verify.map((v) => v.growth)) / MiB).toFixed(1)} MiB | ≤ 64 MiB |`,
    `| peak RSS of the whole process, VmHWM (worst run) | ${(Math.max(...verify.map((v) => v.peak)) / MiB).toFixed(1)} MiB | — |`,
  ];
  const table = lines.join('\n');
  console.log(`\n${table}`);
  await publish('verify', table);
  const growth = Math.max(...verify.map((v) => v.growth)) / MiB;
  if (growth > 64) {
    console.error(`peak memory growth ${growth.toFixed(1)} MiB exceeds the 64 MiB target`);
    process.exitCode = 1;
  }
  if (!process.env.BENCH_KEEP) await rm(WORK, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(`bench: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
});
