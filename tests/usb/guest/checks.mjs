// The real-USB checks, run inside the usbvm guest by run.sh. The emulated NIC is served as a Linux
// gadget (`trustflash emulator gadget`: FunctionFS on dummy_hcd) and driven through the guest
// kernel's USB host stack by tools written by others (lsusb, dfu-util) and by our own CLI over
// Node's `usb`. Each check prints one PASS/FAIL line; the summary ends with "N passed, N failed".
// Usage: node checks.mjs [name-filter]   (env BIG=0 skips the 32 MiB image checks)
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const REPO = process.env.USBVM_REPO ?? process.cwd();
const R = process.env.USBVM_RESULTS ?? join(REPO, '.cache/usbvm/results');
const FILTER = process.argv[2];
const CLI = join(REPO, 'dist-node/trustflash.js');
const S = join(REPO, 'public/samples');
const ROOT = join(S, 'demo-root.pem');
const STATE = '/run/nic.state';
const READY = '/run/gadget.ready';
const VIDPID = '1209:7a01';
const GADGET = '/sys/kernel/config/usb_gadget/trustflash';
const FACTORY = '28.39.1002';
const GOOD = '28.40.1000';
const BIG = process.env.BIG !== '0';

const t0 = performance.now();
const secs = () => ((performance.now() - t0) / 1000).toFixed(1);
let passed = 0;
let failed = 0;
const results = {};
writeFileSync(join(R, 'summary.txt'), '');
function record(line) {
  console.log(line);
  appendFileSync(join(R, 'summary.txt'), `${line}\n`);
}
function log(text) {
  appendFileSync(join(R, 'checks.log'), `[${secs()}s] ${text}\n`);
}

async function check(name, fn, { always = false } = {}) {
  if (FILTER && !always && !name.includes(FILTER)) return;
  const start = performance.now();
  log(`=== ${name}`);
  try {
    const detail = await fn();
    passed++;
    record(`PASS  ${name}${detail ? `  (${String(detail).replace(/\s+/g, ' ').slice(0, 160)})` : ''}  [${((performance.now() - start) / 1000).toFixed(1)}s]`);
  } catch (e) {
    failed++;
    record(`FAIL  ${name}: ${String(e?.message ?? e).replace(/\s+/g, ' ').slice(0, 400)}  [${((performance.now() - start) / 1000).toFixed(1)}s]`);
    log(String(e?.stack ?? e));
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, pred, timeoutMs = 15_000, everyMs = 50) {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (performance.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Runs a command; resolves with its exit code, output and wall time (never rejects on exit code). */
function run(cmd, args, { timeoutMs = 120_000, onStart } = {}) {
  return new Promise((resolve) => {
    const start = performance.now();
    const child = spawn(cmd, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    onStart?.(child);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = performance.now() - start;
      log(`$ ${cmd} ${args.join(' ')}  → ${code ?? signal} in ${ms.toFixed(0)} ms\n${out}${err ? `--- stderr\n${err}` : ''}`);
      resolve({ code: code ?? -1, signal, out, err, all: out + err, ms });
    });
  });
}
const tf = (...args) => run('node', [CLI, ...args]);

/** The host's view of the device: sysfs of the guest's USB host side. */
function hostView() {
  for (const d of readdirSync('/sys/bus/usb/devices')) {
    const dir = join('/sys/bus/usb/devices', d);
    try {
      if (readFileSync(join(dir, 'idVendor'), 'utf8').trim() !== '1209' || readFileSync(join(dir, 'idProduct'), 'utf8').trim() !== '7a01') continue;
      const protocols = readdirSync(dir)
        .filter((x) => x.startsWith(`${d}:`))
        .map((x) => readFileSync(join(dir, x, 'bInterfaceProtocol'), 'utf8').trim());
      return { path: d, devnum: Number(readFileSync(join(dir, 'devnum'), 'utf8')), personality: protocols.includes('02') ? 'dfu' : 'runtime' };
    } catch {
      /* appearing or leaving */
    }
  }
  return undefined;
}
const onBus = (personality) => waitFor(`the device on the bus${personality ? ` in ${personality} mode` : ''}`, () => {
  const v = hostView();
  return v && (!personality || v.personality === personality) ? v : undefined;
});

/** The gadget bridge process: the NIC's power. Killing it is a power cut. */
class Bridge {
  static count = 0;
  child;
  exited;
  logFile;
  async start(extra = []) {
    rmSync(READY, { force: true });
    this.logFile = join(R, `gadget-${++Bridge.count}.log`);
    this.child = spawn('node', [CLI, 'emulator', 'gadget', '--state', STATE, '--ready', READY, '--verbose', ...extra], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr.on('data', (d) => appendFileSync(this.logFile, d));
    this.exited = new Promise((r) => this.child.on('close', (code, signal) => r({ code, signal })));
    await waitFor('the gadget to bind', () => existsSync(READY), 20_000);
    return onBus();
  }
  async stop(signal = 'SIGTERM') {
    if (!this.child) return undefined;
    this.child.kill(signal);
    const r = await this.exited;
    this.child = undefined;
    await waitFor('the device to leave the bus', () => !hostView());
    if (signal === 'SIGKILL') {
      // a killed bridge leaves its gadget bound to nothing: unbind so the next one can bind
      try {
        writeFileSync(join(GADGET, 'UDC'), '\n');
      } catch {
        /* not bound */
      }
    }
    return r;
  }
  text() {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }
}

const running = async () => {
  const q = await tf('query', '--usb', VIDPID, '--json');
  assert(q.code === 0, `query failed (${q.code}): ${q.err.trim()}`);
  const j = JSON.parse(q.out);
  return { running: j.query.fwVersionRunning, pending: j.query.fwVersionPending, state: j.status.stateName, handleOwned: j.status.handleOwned };
};

// ---------------------------------------------------------------------------------------------
const bridge = new Bridge();

await check('manufacture a NIC state (trustflash emulator init, 40 MiB banks)', async () => {
  rmSync(STATE, { force: true });
  const r = await tf('emulator', 'init', '--state', STATE, '--image', join(S, 'factory.tfw'), '--bank-size', '40');
  assert(r.code === 0, r.all);
  return r.out.trim();
}, { always: true });

await check('gadget binds and the host enumerates it (run-time personality)', async () => {
  const v = await bridge.start();
  assert(v.personality === 'runtime', `enumerated as ${v.personality}`);
  return `usb ${v.path}, devnum ${v.devnum}`;
}, { always: true });

await check('lsusb -v decodes the descriptors the model answers with', async () => {
  const r = await run('lsusb', ['-v', '-d', VIDPID]);
  writeFileSync(join(R, 'lsusb-v.txt'), r.all);
  const want = [
    /idVendor\s+0x1209/,
    /idProduct\s+0x7a01/,
    /bcdDevice\s+1\.00/,
    /iManufacturer\s+\d+ TrustFlash Demo/,
    /iProduct\s+\d+ Emulated ConnectX NIC/,
    /iSerial\s+\d+ TFN\d+/,
    /bNumInterfaces\s+2/,
    /bmAttributes\s+0xc0\s+Self Powered/,
    /bInterfaceClass\s+255 Vendor Specific Class/,
    /iInterface\s+\d+ NIC function/,
    /bInterfaceClass\s+254 Application Specific Interface/,
    /bInterfaceSubClass\s+1 Device Firmware Update/,
    /bInterfaceProtocol\s+1/,
    /iInterface\s+\d+ NIC firmware \(secure update\)/,
    /Device Firmware Upgrade Interface Descriptor/,
    /bmAttributes\s+15/,
    /wDetachTimeout\s+1000 milliseconds/,
    /wTransferSize\s+4096 bytes/,
    /bcdDFUVersion\s+1\.10/,
  ];
  const missing = want.filter((re) => !re.test(r.out));
  assert(missing.length === 0, `lsusb -v lacks ${missing.join(', ')}`);
  return `${want.length} fields as built by src/emulator/usb/descriptors.ts`;
});

await check('dfu-util -l finds the run-time DFU interface', async () => {
  const r = await run('dfu-util', ['-l']);
  const line = r.out.split('\n').find((l) => l.includes('[1209:7a01]'));
  assert(line && /Found Runtime/.test(line) && /name="NIC firmware \(secure update\)"/.test(line) && /serial="TFN\d+"/.test(line), `dfu-util -l: ${r.all}`);
  return line.trim();
});

await check('trustflash devices lists it over Node usb', async () => {
  const r = await tf('devices');
  assert(r.code === 0 && /1209:7a01:TFN\d+/.test(r.out) && /run-time/.test(r.out), r.all);
  return r.out.trim();
});

await check('trustflash query --usb reads the factory firmware', async () => {
  const q = await running();
  assert(q.running === FACTORY && !q.pending && q.state === 'IDLE', JSON.stringify(q));
  const r = await tf('query', '--usb', VIDPID);
  assert(/FW Version:\s+28\.39\.1002/.test(r.out) && /PSID:\s+TF_0000000001/.test(r.out), r.all);
  return `running ${q.running}, update state ${q.state}`;
});

// ---- the device rejects, through a host that checks nothing (dfu-util) -----------------------
const REJECTIONS = [
  ['unsigned.tfw', 'errVERIFY', 7],
  ['tampered-payload.tfw', 'errVERIFY', 7],
  ['tampered-manifest.tfw', 'errVERIFY', 7],
  ['wrong-psid.tfw', 'errTARGET', 1],
  ['downgrade.tfw', 'errVENDOR', 11],
  ['forbidden-version.tfw', 'errVENDOR', 11],
  ['not-secured.tfw', 'errVENDOR', 11],
];
for (const [file, status, code] of REJECTIONS) {
  await check(`dfu-util -D ${file}: the device refuses it (${status}) and keeps ${FACTORY}`, async () => {
    const r = await run('dfu-util', ['-d', VIDPID, '-a', '0', '-D', join(S, file)]);
    // dfu-util exits 0 when only manifestation fails; its last status line is the device's verdict
    const last = r.all.split('\n').filter((l) => /DFU state\(\d+\) = \w+, status\(\d+\)/.test(l)).pop() ?? '';
    assert(new RegExp(`state\\(10\\) = dfuERROR, status\\(${code}\\) `).test(last), `expected dfuERROR with status(${code}) = ${status}, got ${JSON.stringify(last)}: ${r.all.slice(-300)}`);
    const q = await running();
    assert(q.running === FACTORY && !q.pending, `after the rejection: ${JSON.stringify(q)}`);
    return `${last.trim()} (dfu-util exit ${r.code})`;
  });
}

await check(`dfu-util -U uploads the running image (${FACTORY}) byte for byte`, async () => {
  rmSync('/run/upload.bin', { force: true });
  const r = await run('dfu-util', ['-d', VIDPID, '-a', '0', '-U', '/run/upload.bin']);
  assert(r.code === 0, r.all);
  const up = readFileSync('/run/upload.bin');
  const factory = readFileSync(join(S, 'factory.tfw'));
  assert(up.length >= factory.length && up.subarray(0, factory.length).equals(factory), `uploaded ${up.length} bytes, not the factory image (${factory.length})`);
  return `${up.length} bytes`;
});

await check(`dfu-util -D good.tfw: accepted; ${GOOD} pending, then running after trustflash reset`, async () => {
  const r = await run('dfu-util', ['-d', VIDPID, '-a', '0', '-D', join(S, 'good.tfw')]);
  assert(r.code === 0 && /Download done/.test(r.out), r.all);
  const q = await running();
  assert(q.running === FACTORY && q.pending === GOOD, JSON.stringify(q));
  const x = await tf('reset', '--usb', VIDPID);
  assert(x.code === 0 && x.out.includes(`now running ${GOOD}`), x.all);
  return x.out.trim();
});

// ---- our own host over the same bus --------------------------------------------------------------
await check('trustflash update --usb refuses tampered-payload.tfw before sending a byte', async () => {
  const before = bridge.text().length;
  const r = await tf('update', '--usb', VIDPID, '--trust', ROOT, join(S, 'tampered-payload.tfw'));
  assert(r.code === 1 && /REJECTED: Rejected before anything was sent/.test(r.out), r.all);
  const sent = bridge.text().slice(before).match(/bRequest=43/g)?.length ?? 0;
  assert(sent === 0, `${sent} DATA requests reached the device`);
  return 'no DATA request reached the device';
});

await check('trustflash update --usb downgrade.tfw: the host refuses it (security version) before the device sees it', async () => {
  const r = await tf('update', '--usb', VIDPID, '--trust', ROOT, join(S, 'downgrade.tfw'));
  assert(r.code === 1 && /REJECTED/.test(r.out), r.all);
  return r.out.trim().split('\n').pop();
});

if (BIG) {
  const big = join(S, 'big-32mib.tfw');
  const bigVersion = JSON.parse((await tf('inspect', big, '--json')).out).manifest?.version;

  await check('cable pulled (UDC unbound) during trustflash update --usb: clear error, nothing changed', async () => {
    let child;
    const done = run('node', [CLI, 'update', '--usb', VIDPID, '--trust', ROOT, big], { onStart: (c) => (child = c) });
    await waitFor('the download to start', () => (bridge.text().match(/bRequest=43/g)?.length ?? 0) > 200, 60_000, 100);
    writeFileSync(join(GADGET, 'UDC'), '\n');
    const r = await done;
    assert(r.code === 2 && /FAILED/.test(r.out), `exit ${r.code}: ${r.all.slice(-600)}`);
    const msg = r.out.split('\n').find((l) => /^FAILED/.test(l));
    await onBus('runtime');
    const q = await running();
    assert(q.running === GOOD && !q.pending, JSON.stringify(q));
    return `${msg}; device: ${JSON.stringify(q)}`;
  });

  await check('power cut (bridge killed) after the cable pull: the NIC boots its old firmware and forgets the handle', async () => {
    await bridge.stop('SIGKILL');
    await bridge.start();
    const q = await running();
    assert(q.running === GOOD && !q.pending && !q.handleOwned && q.state === 'IDLE', JSON.stringify(q));
    return JSON.stringify(q);
  });

  await check('power cut in the middle of the download: old firmware boots, the retry succeeds', async () => {
    const done = run('node', [CLI, 'update', '--usb', VIDPID, '--trust', ROOT, big]);
    await waitFor('the download to be under way', () => (bridge.text().match(/bRequest=43/g)?.length ?? 0) > 1000, 90_000, 100);
    await bridge.stop('SIGKILL');
    const r = await done;
    assert(r.code === 2, `update exit ${r.code}: ${r.all.slice(-400)}`);
    await bridge.start();
    const q = await running();
    assert(q.running === GOOD && !q.pending, JSON.stringify(q));
    return `update: ${r.out.split('\n').find((l) => /^FAILED/.test(l))}`;
  });

  await check(`throughput: trustflash update --usb vs dfu-util -D, 32 MiB image through the kernel`, async () => {
    const ours = await tf('update', '--usb', VIDPID, '--trust', ROOT, '--json', big);
    assert(ours.code === 0, ours.all.slice(-800));
    const summary = JSON.parse(ours.out);
    const q1 = await running();
    assert(q1.pending === bigVersion, JSON.stringify(q1));
    // dfu-util sends the same image by plain DFU; the device verifies it at manifestation
    const theirs = await run('dfu-util', ['-d', VIDPID, '-a', '0', '-D', big], { timeoutMs: 300_000 });
    assert(theirs.code === 0, theirs.all.slice(-800));
    const size = statSync(big).size;
    const rate = (ms) => size / 1048576 / (ms / 1000);
    results.throughput = { bytes: size, trustflash: { ms: Math.round(ours.ms), MiBps: +rate(ours.ms).toFixed(2), steps: summary.steps?.map?.((s) => s.id) }, dfuUtil: { ms: Math.round(theirs.ms), MiBps: +rate(theirs.ms).toFixed(2) } };
    results.throughput.ratio = +(theirs.ms / ours.ms).toFixed(2);
    return `trustflash ${rate(ours.ms).toFixed(2)} MiB/s (${(ours.ms / 1000).toFixed(1)} s incl. host verification), dfu-util ${rate(theirs.ms).toFixed(2)} MiB/s (${(theirs.ms / 1000).toFixed(1)} s); ratio ${results.throughput.ratio}`;
  });
}

await check('generic DFU device (--generic): trustflash update --usb takes the plain DFU path, the device verifies', async () => {
  await bridge.stop();
  await bridge.start(['--generic']);
  const r = await tf('update', '--usb', VIDPID, '--trust', ROOT, join(S, 'good.tfw'));
  assert(r.code === 0 && /does not verify signatures itself/.test(r.all), r.all);
  return r.out.trim().split('\n').pop();
});

await check('the gadget stops cleanly on SIGTERM and leaves the bus', async () => {
  const r = await bridge.stop('SIGTERM');
  assert(r.code === 0, `exit ${JSON.stringify(r)}`);
  const stats = bridge.text().split('\n').find((l) => /stopped after/.test(l));
  assert(stats, 'no closing statistics');
  assert(!existsSync(GADGET), 'the configfs gadget was not removed');
  return stats.replace(/^gadget: /, '');
});

if (bridge.child) await bridge.stop('SIGKILL');
writeFileSync(join(R, 'results.json'), JSON.stringify({ passed, failed, ...results }, null, 2));
record(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
