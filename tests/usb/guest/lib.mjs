// Shared by the real-USB guest scripts (checks.mjs, bench.mjs): paths, running commands, the
// host's view of the bus (sysfs) and the gadget bridge process.
import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

export const REPO = process.env.USBVM_REPO ?? process.cwd();
export const R = process.env.USBVM_RESULTS ?? join(REPO, '.cache/usbvm/results');
export const CLI = join(REPO, 'dist-node/trustflash.js');
export const S = join(REPO, 'public/samples');
export const ROOT = join(S, 'demo-root.pem');
export const STATE = '/run/nic.state';
export const READY = '/run/gadget.ready';
export const VIDPID = '1209:7a01';
export const GADGET = '/sys/kernel/config/usb_gadget/trustflash';

const t0 = performance.now();
export const secs = () => ((performance.now() - t0) / 1000).toFixed(1);
/** Appends to results/<file> (default checks.log) with the time since start. */
export function log(text, file = 'checks.log') {
  appendFileSync(join(R, file), `[${secs()}s] ${text}\n`);
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what, pred, timeoutMs = 15_000, everyMs = 50) {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (performance.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Runs a command; resolves with its exit code, output and wall time (never rejects on exit code). */
export function run(cmd, args, { timeoutMs = 120_000, onStart } = {}) {
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
/** dfu-util's last "DFU state(N) = …, status(N) = …" line: the device's final verdict. */
export const lastDfuStatus = (r) => r.all.split('\n').filter((l) => /DFU state\(\d+\) = \w+, status\(\d+\)/.test(l)).pop()?.trim() ?? '';

export const tf = (...args) => run('node', [CLI, ...args]);

/** The host's view of the device: sysfs of the guest's USB host side. */
export function hostView() {
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
export const onBus = (personality) => waitFor(`the device on the bus${personality ? ` in ${personality} mode` : ''}`, () => {
  const v = hostView();
  return v && (!personality || v.personality === personality) ? v : undefined;
});

/**
 * The gadget bridge process: the NIC's power. Killing it is a power cut. Its verbose log (one line
 * per control request) goes to the guest's tmpfs, not to the slow results share, while it runs:
 * writing it there costs more than serving the request. Requests are counted as lines arrive.
 */
export class Bridge {
  static count = 0;
  child;
  exited;
  logFile;
  /** Vendor DATA (0x43) and DFU_DNLOAD requests served so far, over all starts. */
  counts = { data: 0, dnload: 0 };
  #partial = '';
  /** verbose: one log line per request (the checks count them); off for benchmarks. */
  constructor({ verbose = true } = {}) {
    this.verbose = verbose;
  }
  async start(extra = []) {
    rmSync(READY, { force: true });
    this.logFile = `/tmp/gadget-${++Bridge.count}.log`;
    this.child = spawn('node', [CLI, 'emulator', 'gadget', '--state', STATE, '--ready', READY, ...(this.verbose ? ['--verbose'] : []), ...extra], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    const file = this.logFile;
    this.child.stderr.on('data', (d) => {
      appendFileSync(file, d);
      const lines = (this.#partial + d).split('\n');
      this.#partial = lines.pop();
      for (const l of lines) {
        if (l.includes(' bRequest=43 ')) this.counts.data++;
        else if (l.includes('bmRequestType=21 bRequest=01 ')) this.counts.dnload++;
      }
    });
    this.exited = new Promise((r) => this.child.on('close', (code, signal) => r({ code, signal })));
    await waitFor('the gadget to bind', () => existsSync(READY), 20_000);
    return onBus();
  }
  async stop(signal = 'SIGTERM') {
    if (!this.child) return undefined;
    this.child.kill(signal);
    const r = await this.exited;
    this.child = undefined;
    this.save();
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
  /** Copies the current log to the results. */
  save() {
    if (this.logFile && existsSync(this.logFile)) copyFileSync(this.logFile, join(R, basename(this.logFile)));
  }
  text() {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }
}

export const running = async () => {
  const q = await tf('query', '--usb', VIDPID, '--json');
  assert(q.code === 0, `query failed (${q.code}): ${q.err.trim()}`);
  const j = JSON.parse(q.out);
  return { running: j.query.fwVersionRunning, pending: j.query.fwVersionPending, state: j.status.stateName, handleOwned: j.status.handleOwned, banks: j.query.banks };
};

/**
 * Signs a MIB-MiB release `version` of random payload into `file` with the demo signer (the
 * trustflash CLI, as a vendor would). `payload` reuses a payload file so two releases can share it.
 */
export async function signBig(file, version, mib, payload = '/run/big.bin') {
  if (!existsSync(payload) || statSync(payload).size !== mib * 1048576) {
    const bytes = new Uint8Array(mib * 1048576);
    for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
    writeFileSync(payload, bytes);
  }
  const K = join(REPO, 'src/assets/demo-keys');
  writeFileSync('/run/big.json', JSON.stringify({
    vendor: 'TrustFlash Demo', product: 'Emulated ConnectX NIC firmware', psids: ['TF_0000000001'], deviceIds: [4129],
    version, securityVersion: 2, releaseDate: '2026-11-01', forbiddenVersions: ['28.38.1000'],
    nextKeys: [join(K, 'signer/pubkey.pem'), join(K, 'next-signer/pubkey.pem')], secured: true, dev: false, releaseNotes: 'real-USB test image',
  }));
  const r = await tf('sign', '--key', join(K, 'signer/key.pem'), '--cert', join(K, 'signer/cert.pem'), '--manifest', '/run/big.json', '--payload', payload, '-o', file);
  assert(r.code === 0, r.all);
  return statSync(file).size;
}
