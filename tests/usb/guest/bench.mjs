// Throughput through a real kernel USB stack (run inside the usbvm guest: npm run bench:usb).
// The emulated NIC is served by `trustflash emulator gadget` (quiet: no per-request log) on
// dummy_hcd; the same signed image of BENCH_MIB MiB goes down, alternately, with
//   trustflash update --usb   (our host: the whole command, vendor session, host verification included)
//   dfu-util -D               (the baseline, a host written by others: after dfu-util -e, download alone)
// and the running image comes back with dfu-util -U (also after -e), REPS times each, interleaved, every run on a freshly powered
// NIC. Writes results/bench.json and prints a table; the figures go to docs/benchmarks.md.
import { cpus, totalmem } from 'node:os';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assert, Bridge, lastDfuStatus, onBus, R, REPO, ROOT, run, running, S, signBig, STATE, tf, VIDPID } from './lib.mjs';

const MIB = Number(process.env.BENCH_MIB ?? 8);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const IMAGE = '/run/bench.tfw';
const VERSION = '28.41.1000';

const say = (line) => {
  console.log(line);
  writeFileSync(join(R, 'summary.txt'), `${line}\n`, { flag: 'a' });
};
writeFileSync(join(R, 'summary.txt'), '');

/** Writes the table between the BENCH:usb markers of docs/benchmarks.md (the repo is mounted read-write). */
function publish(out) {
  const doc = join(REPO, 'docs/benchmarks.md');
  const start = '<!-- BENCH:usb:start -->';
  const end = '<!-- BENCH:usb:end -->';
  const text = readFileSync(doc, 'utf8');
  if (!text.includes(start) || !text.includes(end)) return;
  const s = (ms) => `${(ms / 1000).toFixed(1)} s`;
  const table = [
    `Run ${new Date().toISOString().slice(0, 16)}Z on ${out.machine.host}; guest: ${out.machine.guest}, kernel ${out.machine.kernel}, Node ${out.machine.node}. One signed image of ${out.image.mib} MiB (${out.image.bytes} bytes), ${out.reps} runs of each, interleaved, every run on a freshly powered NIC; the gadget without its per-request log.`,
    '',
    '| host, through the kernel (usbfs → dummy_hcd → FunctionFS → the emulated NIC) | median | MiB/s | runs | what the time covers |',
    '|---|---:|---:|---|---|',
    ...out.rows.map((r) => `| ${r.name} | ${s(r.medianMs)} | ${r.MiBps} | ${r.runsMs.map(s).join(', ')} | ${r.what} |`),
    '',
    `Speed of trustflash update --usb against dfu-util -D (median time of dfu-util ÷ median time of ours): **${out.ratio} ×** as whole commands; **${out.ratioSession} ×** for our session (all eight steps, host verification included) against dfu-util's whole command.`,
  ].join('\n');
  writeFileSync(doc, text.slice(0, text.indexOf(start) + start.length) + '\n' + table + '\n' + text.slice(text.indexOf(end)));
  console.log(`updated ${doc} (usb)`);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mibps = (bytes, ms) => bytes / 1048576 / (ms / 1000);

let rc = 1;
try {
  rmSync(STATE, { force: true });
  const init = await tf('emulator', 'init', '--state', STATE, '--image', join(S, 'factory.tfw'), '--bank-size', String(MIB + 2));
  assert(init.code === 0, init.all);
  const size = await signBig(IMAGE, VERSION, MIB);
  const bridge = new Bridge({ verbose: false });
  const times = { trustflash: [], trustflashSession: [], trustflashDownload: [], dfuUtil: [], dfuUtilUpload: [] };
  // each run on a freshly powered NIC: a pending image from the run before is applied, nothing is pending
  const powerCycle = async () => {
    await bridge.stop('SIGTERM');
    await bridge.start();
  };
  await bridge.start();
  for (let i = 0; i < REPS; i++) {
    const ours = await tf('update', '--usb', VIDPID, '--trust', ROOT, '--json', IMAGE);
    assert(ours.code === 0, ours.all.slice(-600));
    times.trustflash.push(ours.ms);
    const steps = JSON.parse(ours.out).steps;
    times.trustflashDownload.push(steps.find((x) => x.id === 'download').ms);
    times.trustflashSession.push(steps.reduce((n, x) => n + (x.ms ?? 0), 0));

    await powerCycle();
    const e = await run('dfu-util', ['-d', VIDPID, '-e']);
    assert(e.code === 0, e.all.slice(-400));
    await onBus('dfu');
    const theirs = await run('dfu-util', ['-d', VIDPID, '-a', '0', '-D', IMAGE], { timeoutMs: 300_000 });
    // the final status line: the start of dfu-util's output shows dfuIDLE too, before anything is sent
    assert(theirs.code === 0 && /dfuIDLE, status\(0\)/.test(lastDfuStatus(theirs)), theirs.all.slice(-600));
    times.dfuUtil.push(theirs.ms);

    await powerCycle();
    const e2 = await run('dfu-util', ['-d', VIDPID, '-e']);
    assert(e2.code === 0, e2.all.slice(-400));
    await onBus('dfu');
    rmSync('/tmp/up.bin', { force: true });
    const up = await run('dfu-util', ['-d', VIDPID, '-a', '0', '-U', '/tmp/up.bin'], { timeoutMs: 300_000 });
    assert(up.code === 0, up.all.slice(-400));
    assert(readFileSync('/tmp/up.bin').subarray(0, size).equals(readFileSync(IMAGE)), 'the upload is not the image');
    times.dfuUtilUpload.push(up.ms);
    say(`rep ${i + 1}: trustflash update ${(ours.ms / 1000).toFixed(1)} s, dfu-util -D ${(theirs.ms / 1000).toFixed(1)} s, dfu-util -U ${(up.ms / 1000).toFixed(1)} s`);

    await powerCycle();
    const q = await running();
    assert(q.running === VERSION && !q.pending, JSON.stringify(q));
  }
  await bridge.stop('SIGTERM');

  const row = (name, what, ms) => ({ name, what, medianMs: Math.round(median(ms)), runsMs: ms.map(Math.round), MiBps: +mibps(size, median(ms)).toFixed(2) });
  const out = {
    machine: { host: process.env.USBVM_HOST ?? 'unknown', guest: `QEMU TCG (no KVM), ${cpus().length} vCPU (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 1048576)} MiB`, kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(), node: process.version },
    image: { bytes: size, mib: MIB },
    reps: REPS,
    rows: [
      row('trustflash update --usb', 'whole command: Node start and module loading, opening the device, then the session', times.trustflash),
      row('… its session', 'the eight steps: query, host verification, lock, erase, DATA blocks, device verify, activate, release', times.trustflashSession),
      row('… its download step', 'DATA blocks (4 queued in the host, one on the bus at a time) and a STATUS after the head and every 64 blocks', times.trustflashDownload),
      row('dfu-util -D (baseline)', 'whole command after dfu-util -e: DNLOAD + GETSTATUS per 4096-byte block, manifestation (device verify, activate)', times.dfuUtil),
      row('dfu-util -U', 'whole command after dfu-util -e: UPLOAD of the running image', times.dfuUtilUpload),
    ],
  };
  out.ratio = +(median(times.dfuUtil) / median(times.trustflash)).toFixed(2);
  out.ratioSession = +(median(times.dfuUtil) / median(times.trustflashSession)).toFixed(2);
  writeFileSync(join(R, 'bench.json'), JSON.stringify(out, null, 2));
  say(`${out.machine.guest}; kernel ${out.machine.kernel}; Node ${out.machine.node}; ${MIB} MiB image, median of ${REPS}`);
  for (const r of out.rows) say(`${r.name.padEnd(26)} ${(r.medianMs / 1000).toFixed(1).padStart(6)} s  ${String(r.MiBps).padStart(5)} MiB/s   runs ${r.runsMs.map((m) => (m / 1000).toFixed(1)).join(' / ')} s`);
  say(`trustflash update is ${out.ratio}× the speed of dfu-util -D as whole commands, ${out.ratioSession}× session against dfu-util's whole command`);
  publish(out);
  rc = 0;
} catch (e) {
  say(`bench failed: ${e?.message ?? e}`);
}
process.exit(rc);
