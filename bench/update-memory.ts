/**
 * `node dist-node/bench.js update-memory` (issue #13): the peak resident memory of `trustflash
 * update` sending a 200 MiB format v2 image to an emulated NIC with a 256 MiB bank, beyond what the
 * same command needs for a 66 KiB image (the process, its modules, the NIC) and beyond the NIC's own
 * flash model (the pages the image occupies, measured as the growth of the NIC's state file).
 * Target: ≤ 64 MiB — the session holds the image's head and one hash block at a time, never the image.
 * Each run on a freshly made NIC; the two commands interleaved; GNU time is not needed: a preload
 * hook writes the process's VmHWM at exit (/proc/self/status).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { cliImage, PROBE } from './page-verify.ts';

const MiB = 1024 * 1024;
const RUNS = 2;
const SIZE_MIB = Number(process.env.BENCH_UPDATE_MIB ?? 200);
const CLI = resolve('dist-node/trustflash.js');
const ROOT_PEM = resolve('src/assets/demo-keys/root/cert.pem');
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

function run(args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env, maxBuffer: 16 * MiB });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
}

/** A fresh NIC with a 256 MiB bank, `image` installed on it; the command's VmHWM and the state file's size after. */
async function update(dir: string, image: string, probe: string, tag: string): Promise<{ hwm: number; state: number }> {
  const state = join(dir, `${tag}.state`);
  await rm(state, { force: true });
  await rm(`${state}.wal`, { force: true });
  run([CLI, 'emulator', 'init', '--state', state, '--bank-size', '256']);
  const hwmFile = join(dir, `${tag}.hwm`);
  run(['--import', probe, CLI, 'update', image, '--trust', ROOT_PEM, '--emulated', '--state', state, '--quiet'], { ...process.env, TF_BENCH_HWM: hwmFile });
  return { hwm: Number(await readFile(hwmFile, 'utf8')), state: (await stat(state)).size };
}

export async function updateMemoryBench(): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'tf-update-mem-'));
  try {
    const probe = join(dir, 'probe.mjs');
    await writeFile(probe, PROBE);
    const big = await cliImage(dir, SIZE_MIB * MiB);
    const small = resolve('public/samples/good.tfw');
    const load0 = loadavg();
    const base: { hwm: number; state: number }[] = [];
    const large: { hwm: number; state: number }[] = [];
    for (let i = 0; i < RUNS; i++) {
      base.push(await update(dir, small, probe, 'base'));
      large.push(await update(dir, big, probe, 'big'));
      console.log(`  run ${i + 1}: good.tfw peak ${mib(base.at(-1)!.hwm)}, ${SIZE_MIB} MiB image peak ${mib(large.at(-1)!.hwm)} (state ${mib(large.at(-1)!.state)})`);
    }
    const bigSize = (await stat(big)).size;
    const baseHwm = Math.min(...base.map((b) => b.hwm));
    const baseState = Math.min(...base.map((b) => b.state));
    const beyond = large.map((l) => l.hwm - baseHwm - (l.state - baseState));
    const load1 = loadavg();
    const fmt = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
    return [
      `Run ${new Date().toISOString().slice(0, 16)}Z on ${cpus().length} × ${cpus()[0]?.model.split(' ').slice(0, 2).join(' ') ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}, Node ${process.version}; load average ${fmt(load0)} before, ${fmt(load1)} after. Image signed by \`trustflash sign\` (format v2, 1 MiB hash blocks) over ${SIZE_MIB} MiB of random bytes; each run on a NIC freshly made by \`emulator init --bank-size 256\`; peak = the process's VmHWM at exit.`,
      '',
      '| `trustflash update … --emulated --state S --quiet` | peak RSS (each run) | NIC state file after |',
      '|---|---:|---:|',
      `| public/samples/good.tfw (${(await stat(small)).size} bytes): the process with its NIC, the baseline | ${base.map((b) => mib(b.hwm)).join(', ')} | ${base.map((b) => mib(b.state)).join(', ')} |`,
      `| the ${SIZE_MIB} MiB image (${bigSize} bytes) | ${large.map((l) => mib(l.hwm)).join(', ')} | ${large.map((l) => mib(l.state)).join(', ')} |`,
      '',
      '| what | value | target |',
      '|---|---:|---:|',
      `| peak beyond the baseline and the flash model's growth (worst run) | **${mib(Math.max(...beyond))}** | ≤ 64 MiB |`,
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
