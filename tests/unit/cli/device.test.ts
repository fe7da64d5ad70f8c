/** `trustflash emulator | query | update` in-process: every sample, every fault kind, the audit log, exit codes. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../src/cli/main.ts';
import { nodeIo } from '../../../src/cli/io.ts';
import { makeSamples } from '../../../src/cli/make-samples.ts';
import { verifyAuditLog } from '../../../src/core/update/audit.ts';

let dir: string;
let samples: string;
const NOW = ['--now', '2026-11-22T00:00:00Z'];

async function tf(...argv: string[]) {
  const out: string[] = [];
  const io = { ...nodeIo(), out: (t: string) => void out.push(t), err: (t: string) => void out.push(t) };
  const code = await run(argv, io);
  return { code, text: out.join('\n') };
}

async function freshNic(name: string): Promise<string> {
  const state = join(dir, `${name}.state`);
  const r = await tf('emulator', 'init', '--state', state, '--image', join(samples, 'factory.tfw'), '--bank-size', '1');
  expect(r.code, r.text).toBe(0);
  return state;
}

async function versions(state: string): Promise<{ running?: string; pending?: string }> {
  const r = await tf('query', '--emulated', '--state', state, '--json');
  expect(r.code, r.text).toBe(0);
  const q = JSON.parse(r.text).query;
  return { running: q.fwVersionRunning, pending: q.fwVersionPending };
}

const update = (state: string, file: string, ...more: string[]) => tf('update', join(samples, file), '--trust', join(samples, 'demo-root.pem'), '--emulated', '--state', state, ...NOW, ...more);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tf-cli-device-'));
  samples = join(dir, 'samples');
  await makeSamples(samples, { big: false });
});

describe('emulated NIC through the CLI', () => {
  it('init, query, update, reboot: the new version is pending, then running', async () => {
    const s = await freshNic('a');
    expect(await versions(s)).toEqual({ running: '28.39.1002', pending: undefined });
    const q = await tf('query', '--emulated', '--state', s);
    expect(q.text).toMatch(/^FW Version: +28\.39\.1002$/m);
    expect(q.text).toMatch(/^PSID: +TF_0000000001$/m);
    const log = join(dir, 'audit.jsonl');
    const u = await update(s, 'good.tfw', '--log', log);
    expect(u.code, u.text).toBe(0);
    expect(u.text).toMatch(/device state DOWNLOAD → LOCKED/);
    expect(u.text).toMatch(/UPDATED: .*28\.40\.1000 is pending/);
    expect(await verifyAuditLog(readFileSync(log, 'utf8'))).toMatchObject({ ok: true });
    expect(await versions(s)).toEqual({ running: '28.39.1002', pending: '28.40.1000' });
    expect((await tf('query', '--emulated', '--state', s)).text).toMatch(/^FW Version\(Running\): +28\.39\.1002$/m);
    const b = await tf('emulator', 'reboot', '--state', s);
    expect(b.text).toMatch(/pending image applied\); running 28\.40\.1000/);
    expect(await versions(s)).toEqual({ running: '28.40.1000', pending: undefined });
  });

  it('rejected samples exit 1, name the check or the device code, and change nothing', async () => {
    const s = await freshNic('b');
    for (const [file, text] of [
      ['unsigned.tfw', /Signing key known/],
      ['tampered-manifest.tfw', /Signature/],
      ['tampered-payload.tfw', /Payload digest/],
      ['wrong-psid.tfw', /Meant for this device/],
      ['forbidden-version.tfw', /forbidden/],
      ['downgrade.tfw', /Security version/],
      ['expired.tfw', /expired/],
      ['not-secured.tfw', /not a secured image/],
    ] as const) {
      const r = await update(s, file);
      expect(r.code, `${file}: ${r.text}`).toBe(1);
      expect(r.text, file).toMatch(/REJECTED: Rejected before anything was sent/);
      expect(r.text, file).toMatch(text);
    }
    // the host trusts the rogue root, the NIC does not hold that key: pre-flight predicts the device's 0x04 from QUERY tag 14
    const d = await tf('update', join(samples, 'untrusted-chain.tfw'), '--trust', join(samples, 'demo-root.pem'), '--trust', 'src/assets/demo-keys/rogue-root/cert.pem', '--emulated', '--state', s, ...NOW);
    expect(d.code, d.text).toBe(1);
    expect(d.text).toMatch(/REJECTED: Rejected before anything was sent: Signed by a key the device holds/);
    expect(await versions(s)).toEqual({ running: '28.39.1002', pending: undefined });
  });

  const faults: [string, number, RegExp][] = [
    ['power-loss:LOCKED', 2, /gone|stopped answering/],
    ['power-loss:INITIALIZE', 2, /gone|stopped answering/],
    ['power-loss:DOWNLOAD', 2, /gone|stopped answering/],
    ['power-loss:VERIFY', 2, /gone|stopped answering/],
    ['power-loss:ACTIVATE', 2, /gone|stopped answering/],
    ['power-loss:block=3', 2, /block 3 \(of blocks 0\.\.16\).*(gone|stopped answering)/],
    // a flash fault fails the update (exit 2), it does not reject the image (exit 1)
    ['flash-error', 2, /MCC error 0x28\), a fault of the device, not a verdict on the image/],
    ['flash-error:erase', 2, /MCC error 0x10\), a fault of the device/],
    ['locked-by-other', 2, /another host holds the update handle/],
  ];
  for (const [fault, code, text] of faults) {
    it(`--fault ${fault}: exit ${code}, a clear message, nothing corrupted, a retry succeeds`, async () => {
      const s = await freshNic(fault.replace(/[^a-z0-9]/gi, '_'));
      const r = await update(s, 'good.tfw', '--fault', fault);
      expect(r.code, r.text).toBe(code);
      expect(r.text).toMatch(text);
      expect(r.text).not.toMatch(/\n\s+at /);
      await tf('emulator', 'reboot', '--state', s);
      expect((await versions(s)).running).toBe('28.39.1002');
      // locked-by-other is a property of the bus, not a one-shot: a retry without the fault succeeds once the other host is gone
      const again = await update(s, 'good.tfw');
      expect(again.code, again.text).toBe(0);
      await tf('emulator', 'reboot', '--state', s);
      expect((await versions(s)).running).toBe('28.40.1000');
    });
  }

  it('--fault disconnect:block=N: the command waits for the device to come back, says so, goes on from what it had, exit 0', async () => {
    for (const block of [0, 5, 16]) {
      const s = await freshNic(`cut_${block}`);
      const r = await update(s, 'good.tfw', '--fault', `disconnect:block=${block}`);
      expect(r.code, r.text).toBe(0);
      expect(r.text).toMatch(/the device left the bus during the download .*waiting up to 10 s for it to come back/);
      const m = /the device is back with (\d+) of (\d+) bytes: the download goes on from byte (\d+)/.exec(r.text);
      expect(m, r.text).not.toBeNull();
      // it takes what the device had not taken: the cut transfer, not the image again
      expect(Number(m![1])).toBe(block * 4088);
      const j = await update(await freshNic(`cut_json_${block}`), 'good.tfw', '--fault', `disconnect:block=${block}`, '--json');
      const out = JSON.parse(j.text.slice(j.text.indexOf('{')));
      expect(out.outcome).toBe('updated');
      expect(out.download.resumedAt).toBe(0);
      // every byte the device took, once: the cut transfer is sent again, nothing before it
      expect(out.download.bytesSent).toBe(Number(m![2]));
      await tf('emulator', 'reboot', '--state', s);
      expect((await versions(s)).running).toBe('28.40.1000');
    }
  });

  it('--fault slow and --timing full-speed still update; handle-timeout is survivable', async () => {
    const s = await freshNic('slow');
    expect((await update(s, 'good.tfw', '--fault', 'slow', '--timing', 'full-speed')).code).toBe(0);
    const t = await freshNic('timeout');
    expect((await update(t, 'good.tfw', '--fault', 'handle-timeout')).code).toBe(0);
  });

  it('usage and transport errors exit 2 with a sentence', async () => {
    const s = await freshNic('usage');
    expect((await update(s, 'good.tfw', '--fault', 'meteor')).text).toMatch(/unknown fault "meteor"/);
    expect((await tf('update', join(samples, 'good.tfw'), '--emulated', '--state', s)).code).toBe(2);
    expect((await tf('query', '--emulated', '--state', join(samples, 'good.tfw'))).text).toMatch(/not a valid emulated-NIC state/);
    const usb = await tf('update', join(samples, 'good.tfw'), '--trust', join(samples, 'demo-root.pem'), '--usb', '1209:7a01');
    expect(usb.code).toBe(2);
    expect(usb.text).toMatch(/no USB subsystem|no USB device|USB is not available/);
    expect((await tf('emulator', 'init', '--state', s, '--image', join(samples, 'factory.tfw'))).text).toMatch(/already exists/);
  });
});

describe('trustflash audit verify', () => {
  it('checks an exported log and names the first edited line', async () => {
    const s = await freshNic('audit');
    const log = join(dir, 'a.jsonl');
    expect((await update(s, 'good.tfw', '--log', log)).code).toBe(0);
    const ok = await tf('audit', 'verify', log);
    expect(ok.code).toBe(0);
    expect(ok.text).toMatch(/intact, \d+ records/);
    const { writeFileSync } = await import('node:fs');
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    lines[3] = lines[3]!.replace(/"seq":3/, '"seq":3,"x":1');
    writeFileSync(log, lines.join('\n') + '\n');
    const bad = await tf('audit', 'verify', log);
    expect(bad.code).toBe(1);
    expect(bad.text).toMatch(/BROKEN at line 4/);
  });
});

describe('trustflash update --log and audit verify --head', () => {
  it('update prints the final head (text and JSON); audit verify --head accepts that log and refuses it cut after any complete record', async () => {
    const { writeFileSync } = await import('node:fs');
    const s = await freshNic('head');
    const log = join(dir, 'head.jsonl');
    const u = await update(s, 'good.tfw', '--log', log);
    expect(u.code, u.text).toBe(0);
    const head = /audit log: .*head\.jsonl, head ([0-9a-f]{64}) \(keep it: trustflash audit verify .* --head \1\)/.exec(u.text)?.[1];
    expect(head, u.text).toBeDefined();
    expect(await tf('audit', 'verify', log, '--head', head!)).toMatchObject({ code: 0, text: expect.stringMatching(/intact, \d+ records, head [0-9a-f]{64} \(as expected\)/) });
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    for (const keep of [1, Math.floor(lines.length / 2), lines.length - 1]) {
      const cut = join(dir, `cut-${keep}.jsonl`);
      writeFileSync(cut, lines.slice(0, keep).join('\n') + '\n');
      expect((await tf('audit', 'verify', cut)).code).toBe(0); // a shorter chain, valid on its own
      const r = await tf('audit', 'verify', cut, '--head', head!);
      expect(r.code, r.text).toBe(1);
      expect(r.text).toMatch(/not the expected .*cut from the end/);
    }
    expect((await tf('audit', 'verify', log, '--head', 'abc')).code).toBe(2);

    const s2 = await freshNic('head-json');
    const log2 = join(dir, 'head2.jsonl');
    const j = await update(s2, 'good.tfw', '--log', log2, '--json');
    expect(j.code).toBe(0);
    const summary = JSON.parse(j.text);
    expect(summary.audit).toEqual({ path: log2, head: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect((await tf('audit', 'verify', log2, '--head', summary.audit.head)).code).toBe(0);
  });

  it('a rejected update leaves a log too, with its head printed', async () => {
    const s = await freshNic('head-rej');
    const log = join(dir, 'rej.jsonl');
    const r = await update(s, 'wrong-psid.tfw', '--log', log);
    expect(r.code).toBe(1);
    const head = /head ([0-9a-f]{64})/.exec(r.text)?.[1];
    expect((await tf('audit', 'verify', log, '--head', head!)).code).toBe(0);
  });
});

describe('checks that refuse before anything is sent', () => {
  it('--block-size larger than the device takes is refused before LOCK, naming the limit; a fitting one updates', async () => {
    const s = await freshNic('block');
    for (const size of ['4089', '8192', '65527']) {
      const r = await update(s, 'good.tfw', '--block-size', size);
      expect(r.code, r.text).toBe(2);
      expect(r.text).toMatch(new RegExp(`a block size of ${size} bytes is more than this device takes: at most 4088 bytes of image per transfer \\(wTransferSize 4096 minus the 8-byte DATA header`));
      expect(r.text).toMatch(/nothing was sent to the device/);
      expect(r.text).not.toMatch(/device state LOCKED/);
    }
    expect(await versions(s)).toEqual({ running: '28.39.1002', pending: undefined });
    const ok = await update(s, 'good.tfw', '--block-size', '4088');
    expect(ok.code, ok.text).toBe(0);
  });

  it('--now is an override: shown as one in the report (text and JSON) and recorded as its own audit record', async () => {
    const s = await freshNic('override');
    const log = join(dir, 'override.jsonl');
    const r = await update(s, 'good.tfw', '--log', log);
    expect(r.code, r.text).toBe(0);
    const records = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const overrides = records.filter((x) => x.kind === 'override');
    expect(overrides).toHaveLength(1);
    expect(overrides[0].data).toEqual({ name: 'now', value: '2026-11-22T00:00:00.000Z', effect: expect.stringMatching(/not at this host's clock/) });
    const v = await tf('verify', join(samples, 'good.tfw'), '--trust', join(samples, 'demo-root.pem'), ...NOW);
    expect(v.text).toMatch(/^ {2}OVERRIDE {2}--now 2026-11-22T00:00:00\.000Z: certificate validity, expiry and the release date were judged at this time/m);
    const j = await tf('verify', join(samples, 'good.tfw'), '--trust', join(samples, 'demo-root.pem'), ...NOW, '--json');
    expect(JSON.parse(j.text).overrides).toEqual([{ name: 'now', value: '2026-11-22T00:00:00.000Z', effect: expect.any(String) }]);
    // without --now: no override
    const plain = await tf('verify', join(samples, 'factory.tfw'), '--trust', join(samples, 'demo-root.pem'), '--json');
    expect(JSON.parse(plain.text).overrides).toEqual([]);
  });
});
