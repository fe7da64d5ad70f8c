/** The secure update session end to end against the emulated NIC's USB function. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DfuHost } from '../../../src/core/dfu/host.ts';
import { loadTrustStore } from '../../../src/core/crypto/trust.ts';
import { AuditLog, verifyAuditLog } from '../../../src/core/update/audit.ts';
import { NicClient } from '../../../src/core/update/nic-client.ts';
import { DATA_IN_FLIGHT, UpdateSession, type SessionProgress, type StepId } from '../../../src/core/update/session.ts';
import { newDevice, sample } from '../emulator/host.ts';
import type { Fault } from '../../../src/emulator/faults.ts';

const NOW = new Date('2026-11-22T00:00:00Z');
const pem = (p: string) => ({ name: p, text: readFileSync(`src/assets/demo-keys/${p}`, 'utf8') });

async function setup(opts: { faults?: Fault[]; vendorRequests?: boolean; trust?: string[] } = {}) {
  const dev = await newDevice({ ...(opts.faults ? { faults: opts.faults } : {}), ...(opts.vendorRequests === false ? { vendorRequests: false } : {}) });
  const host = new DfuHost(dev);
  await host.open();
  const { store } = await loadTrustStore((opts.trust ?? ['root/cert.pem']).map(pem));
  return { dev, host, trust: store };
}

async function runSession(file: string, opts: Parameters<typeof setup>[0] & { gate?: (s: StepId) => Promise<'continue' | 'cancel'> } = {}) {
  const { dev, host, trust } = await setup(opts);
  const audit = new AuditLog();
  const progress: SessionProgress[] = [];
  const session = new UpdateSession({ host, usb: dev.usb, firmware: { kind: 'image', bytes: await sample(file) }, trust, now: NOW, audit, onEvent: (e) => void (e.kind === 'progress' && progress.push(e.progress)), ...(opts.gate ? { gate: { pass: opts.gate, cancelled: false } } : {}) });
  const result = await session.run();
  return { dev, host, result, audit, progress };
}

describe('secure update session', () => {
  it('updates the NIC: every step done, the image pending, progress never goes back, the audit log checks out', async () => {
    const { result, audit, progress, host } = await runSession('good.tfw');
    expect(result.outcome, result.message).toBe('updated');
    expect(result.steps.map((s) => s.status)).toEqual(Array(8).fill('done'));
    // each step says how long it ran
    expect(result.steps.every((s) => Number.isInteger(s.ms) && s.ms! >= 0)).toBe(true);
    expect(result.before?.fwVersionRunning).toBe('28.39.1002');
    expect(result.after).toMatchObject({ fwVersionRunning: '28.39.1002', fwVersionPending: '28.40.1000' });
    expect(result.message).toMatch(/28\.40\.1000 is pending/);
    expect(progress.at(-1)!.fraction).toBe(1);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.fraction).toBeGreaterThanOrEqual(progress[i - 1]!.fraction);
    expect(progress.some((p) => p.bytesSent > 0 && p.rate > 0)).toBe(true);
    const log = await audit.toJsonl();
    expect(await verifyAuditLog(log)).toMatchObject({ ok: true });
    const kinds = log.trim().split('\n').map((l) => JSON.parse(l).kind);
    for (const k of ['session', 'device', 'check', 'step', 'answer', 'result']) expect(kinds).toContain(k);
    // the device is idle again; after a reset the new version runs
    expect((await new NicClient(host).status()).state).toBe(0);
  });

  it('a host-side rejection sends nothing: the device never sees a lock', async () => {
    for (const [file, check] of [['unsigned.tfw', 'key'], ['wrong-psid.tfw', 'device'], ['forbidden-version.tfw', 'forbidden'], ['downgrade.tfw', 'securityVersion'], ['expired.tfw', 'expiry'], ['tampered-payload.tfw', 'payload']] as const) {
      const { result, host } = await runSession(file);
      expect(result.outcome, file).toBe('rejected-by-host');
      expect(result.report?.failed?.id, file).toBe(check);
      expect(result.steps.find((s) => s.id === 'lock')?.status).toBe('skipped');
      const s = await new NicClient(host).status();
      expect(s.handleOwned).toBe(false);
      expect((await new NicClient(host).query()).fwVersionPending).toBeUndefined();
    }
  });

  it("an image the host trusts but the device cannot check is refused before LOCK, naming the device's keys", async () => {
    // trusting the rogue root, the host accepts the untrusted-chain image's signature; the device does
    // not hold that key (QUERY tag 14), so pre-flight predicts the device's 0x04 and sends nothing
    const { result, host } = await runSession('untrusted-chain.tfw', { trust: ['root/cert.pem', 'rogue-root/cert.pem'] });
    expect(result.outcome).toBe('rejected-by-host');
    expect(result.report?.failed?.id).toBe('deviceKey');
    expect(result.report?.failed?.reason).toMatch(/no RSA-2048 signature in the image is by a key the device holds/);
    expect(result.steps.find((s) => s.id === 'lock')?.status).toBe('skipped');
    const nic = new NicClient(host);
    expect((await nic.status()).handleOwned).toBe(false);
    const q = await nic.query();
    expect([q.fwVersionRunning, q.fwVersionPending]).toEqual(['28.39.1002', undefined]);
  });

  it('another host holding the handle: a clear Busy failure', async () => {
    const { result } = await runSession('good.tfw', { faults: [{ kind: 'locked-by-other' }] });
    expect(result.outcome).toBe('failed');
    expect(result.message).toMatch(/another host holds the update handle/);
  });

  it('a flash error during download is a fault of the device, not a verdict on the image: the update failed; nothing changes', async () => {
    const { result, host } = await runSession('good.tfw', { faults: [{ kind: 'flash-error', op: 'write' }] });
    expect(result.outcome).toBe('failed');
    expect(result.deviceError?.code).toBe(0x28);
    expect(result.message).toMatch(/a fault of the device, not a verdict on the image\. Nothing was activated/);
    expect((await new NicClient(host).query()).fwVersionPending).toBeUndefined();
  });

  it('a power loss mid-download: the device is gone, comes back running the old image, and a new session succeeds', async () => {
    const { dev, result } = await runSession('good.tfw', { faults: [{ kind: 'power-loss', block: 3 }] });
    expect(result.outcome).toBe('failed');
    expect(result.message).toMatch(/gone|stopped answering/);
    const back = await new Promise<USBDevice>((resolve) => {
      const found = () => dev.usb.getDevices().then((d) => d.find((x) => x.serialNumber === dev.serialNumber && x !== dev));
      const poll = () => void found().then((d) => (d ? resolve(d) : setTimeout(poll, 10)));
      poll();
    });
    const host = new DfuHost(back);
    await host.open();
    expect((await new NicClient(host).query()).fwVersionRunning).toBe('28.39.1002');
    const { store } = await loadTrustStore([pem('root/cert.pem')]);
    const again = await new UpdateSession({ host, firmware: { kind: 'image', bytes: await sample('good.tfw') }, trust: store, now: NOW }).run();
    expect(again.outcome, again.message).toBe('updated');
  });

  it('step mode: the gate sees every step in order; cancelling before the download leaves the device as it was', async () => {
    const seen: StepId[] = [];
    const { result, host } = await runSession('good.tfw', { gate: async (s) => (seen.push(s), s === 'download' ? 'cancel' : 'continue') });
    expect(seen).toEqual(['query', 'preflight', 'lock', 'update-component', 'download']);
    expect(result.outcome).toBe('cancelled');
    const nic = new NicClient(host);
    expect((await nic.status()).handleOwned).toBe(false);
    expect((await nic.query()).fwVersionPending).toBeUndefined();
  });

  it('generic DFU device: host checks, then a plain DFU download, labelled as not verified by the device', async () => {
    const { result } = await runSession('good.tfw', { vendorRequests: false });
    expect(result.outcome, result.message).toBe('updated');
    expect(result.deviceVerifies).toBe(false);
    expect(result.message).toMatch(/does not verify signatures itself/);
    const rejected = await runSession('unsigned.tfw', { vendorRequests: false });
    expect(rejected.result.outcome).toBe('rejected-by-host');
  });

  it('several NICs at once, each in its own session', async () => {
    const runs = await Promise.all([runSession('good.tfw'), runSession('good.tfw'), runSession('wrong-psid.tfw')]);
    expect(runs.map((r) => r.result.outcome)).toEqual(['updated', 'updated', 'rejected-by-host']);
    expect(new Set(runs.map((r) => r.dev.serialNumber)).size).toBe(3);
  });
});

describe('generic DFU files and non-tolerant devices', () => {
  it('a .dfu file with a detached signature: suffix checked against the device, payload sent without it', async () => {
    const { writeDfuFile } = await import('../../../src/core/dfu/dfu-file.ts');
    const { importSigningKey } = await import('../../../src/core/crypto/private-key.ts');
    const { signBytes } = await import('../../../src/core/crypto/signature.ts');
    const { parseCertificate } = await import('../../../src/core/crypto/x509.ts');
    const { parsePem } = await import('../../../src/core/crypto/pem.ts');
    const key = await importSigningKey(pem('signer/key.pem').text);
    if (!key.ok) throw new Error(key.reason);
    const cert = await parseCertificate(parsePem(pem('signer/cert.pem').text).blocks[0]!.der);
    if (!cert.ok) throw new Error(cert.reason);
    for (const [vid, outcome] of [[0x1209, 'updated'], [0x0483, 'failed']] as const) {
      const { dev, host, trust } = await setup({ vendorRequests: false });
      const file = writeDfuFile(await sample('good.tfw'), { idVendor: vid, idProduct: 0x7a01 });
      const signature = await signBytes(key.value.alg, key.value.privateKey, file);
      const r = await new UpdateSession({ host, usb: dev.usb, firmware: { kind: 'detached', bytes: file, signature, certificates: [cert.value] }, trust, now: NOW }).run();
      expect(r.outcome, r.message).toBe(outcome);
      expect(r.deviceVerifies).toBe(false);
      if (outcome === 'failed') expect(r.message).toMatch(/not for this device: the file is for vendor id 0483/);
    }
  });

  it('a device without bitManifestationTolerant resets itself after manifestation; the host reports it and the image is pending', async () => {
    const dev = await newDevice({ manifestationTolerant: false });
    const h = new DfuHost(dev);
    await h.open();
    const back = new Promise<USBDevice>((r) => dev.usb.addEventListener('connect', (e) => r((e as unknown as { device: USBDevice }).device), { once: true }));
    await h.detach();
    const dfu = new DfuHost(await back);
    await dfu.open();
    expect(dfu.functional.manifestationTolerant).toBe(false);
    const r = await dfu.download(await sample('good.tfw'));
    expect(r.vanishedAfterManifest || r.final?.state === 8).toBe(true);
    const again = await (await import('../../../src/core/dfu/reconnect.ts')).reconnect(dev.usb, dfu.device);
    const h2 = new DfuHost(again);
    await h2.open();
    // the USB function re-enumerated; the NIC itself was not reset, so the image waits for its reset (MCC pending reset)
    const q = await new NicClient(h2).query();
    expect([q.fwVersionRunning, q.fwVersionPending]).toEqual(['28.39.1002', '28.40.1000']);
  });
});

describe('the one buffer', () => {
  it('the session sends the bytes it verified, whatever the caller does to its array afterwards', async () => {
    const { dev, host, trust } = await setup();
    const bytes = await sample('good.tfw');
    const session = new UpdateSession({ host, usb: dev.usb, firmware: { kind: 'image', bytes }, trust, now: NOW });
    const running = session.run();
    bytes.fill(0); // the caller scribbles over its array right away
    expect((await running).outcome).toBe('updated');
  });
});

describe('pipelined download after the head', () => {
  const MIB = 1024 * 1024;
  /** A 2.5 MiB image (past the 1.06 MiB head limit) on a NIC with banks big enough for it. */
  async function bigSetup(faults: Fault[] = [], corrupt?: (offset: number) => number, opts: { noBus?: boolean } = {}) {
    const { smallCertImage } = await import('../helpers/demo.ts');
    const { createEmulatedNic } = await import('../../../src/emulator/index.ts');
    const bytes = await smallCertImage(2.5 * MIB);
    const dev = await createEmulatedNic({ factoryImage: await sample('factory.tfw'), bankSize: 4 * MIB, faults });
    // watch the DATA requests on their way to the device: order, and how many are queued at once
    const offsets: number[] = [];
    const requests: number[] = [];
    let queued = 0;
    let maxQueued = 0;
    const out = dev.controlTransferOut.bind(dev);
    dev.controlTransferOut = async (setup, data) => {
      requests.push(setup.request === 0x42 ? 0x4200 | (data as Uint8Array)[0]! : setup.request);
      if (setup.request !== 0x43) return out(setup, data);
      let view = data as Uint8Array<ArrayBuffer>;
      const offset = new DataView(view.buffer, view.byteOffset).getUint32(4, true);
      offsets.push(offset);
      if (corrupt && corrupt(offset) !== offset) {
        view = view.slice();
        new DataView(view.buffer).setUint32(4, corrupt(offset), true);
      }
      data = view;
      maxQueued = Math.max(maxQueued, ++queued);
      try {
        return await out(setup, data);
      } finally {
        queued--;
      }
    };
    const host = new DfuHost(dev);
    await host.open();
    // and how many the session has handed to the host at once
    let issued = 0;
    let maxIssued = 0;
    const controlOut = host.controlOut.bind(host);
    host.controlOut = async (setup, data, doing) => {
      if (setup.request !== 0x43) return controlOut(setup, data, doing);
      maxIssued = Math.max(maxIssued, ++issued);
      try {
        return await controlOut(setup, data, doing);
      } finally {
        issued--;
      }
    };
    const { store } = await loadTrustStore([pem('root/cert.pem')]);
    const session = new UpdateSession({ host, ...(opts.noBus ? {} : { usb: dev.usb }), firmware: { kind: 'image', bytes }, trust: store, now: NOW });
    return { dev, host, bytes, session, watch: () => ({ offsets, maxQueued, maxIssued, requests }) };
  }

  it(`keeps ${DATA_IN_FLIGHT} DATA requests queued in the host, one on the bus at a time, in order; the device takes the image`, async () => {
    const { host, bytes, session, watch } = await bigSetup();
    const result = await session.run();
    expect(result.outcome, result.message).toBe('updated');
    const { offsets, maxQueued, maxIssued } = watch();
    expect(maxIssued).toBe(DATA_IN_FLIGHT);
    expect(maxQueued).toBe(1);
    expect(offsets).toEqual(Array.from({ length: Math.ceil(bytes.length / 4088) }, (_, i) => i * 4088));
    expect((await new NicClient(host).query()).fwVersionPending).toBe('28.40.1000');
  });

  it('a cable pull while blocks are queued: the device comes back holding the handle, the download goes on from what it took, every byte taken once', async () => {
    const { bytes, session, watch } = await bigSetup([{ kind: 'disconnect', block: 400 }]);
    const result = await session.run();
    expect(result.outcome, result.message).toBe('updated');
    expect(result.after?.fwVersionPending).toBe('28.40.1000');
    // before the cut the offsets run in order up to the cut transfer and the few queued behind it
    const { offsets } = watch();
    expect(offsets).toEqual(Array.from({ length: offsets.length }, (_, i) => i * 4088));
    expect(offsets.length).toBeLessThanOrEqual(400 + DATA_IN_FLIGHT);
    // the device took 400 transfers before the cut; the rest were sent once, to the device found again
    expect(result.steps.find((x) => x.id === 'download')?.status).toBe('done');
    expect(result.download).toEqual({ bytesSent: bytes.length, resumedAt: 0 });
  });

  it('a cable pull with no bus to find the device again: a clear failure, nothing after the queued blocks, the NIC unchanged', async () => {
    const { dev, session, watch } = await bigSetup([{ kind: 'disconnect', block: 400 }], undefined, { noBus: true });
    const result = await session.run();
    expect(result.outcome).toBe('failed');
    expect(result.message).toMatch(/Download the image failed: cannot download block \d+ \(of blocks 0\.\.641\): .*(gone|stopped answering)/);
    expect(result.steps.find((s) => s.id === 'download')?.status).toBe('failed');
    expect(Math.max(...watch().offsets) / 4088).toBeLessThan(400 + DATA_IN_FLIGHT);
    const back = await new Promise<USBDevice>((resolve) => {
      const poll = () => void dev.usb.getDevices().then((d) => { const x = d.find((y) => y.serialNumber === dev.serialNumber && y !== dev); if (x) resolve(x); else setTimeout(poll, 10); });
      poll();
    });
    const host = new DfuHost(back);
    await host.open();
    const q = await new NicClient(host).query();
    expect([q.fwVersionRunning, q.fwVersionPending]).toEqual(['28.39.1002', undefined]);
  });

  it('a block the device refuses while others are queued is caught at the next STATUS checkpoint; CANCEL + RELEASE go out after the queue', async () => {
    // block 500 arrives with a wrong offset (as a corrupted request would): the device refuses it and every later one
    const { host, session, watch } = await bigSetup([], (offset) => (offset === 500 * 4088 ? offset + 4088 : offset));
    const result = await session.run();
    expect(result.outcome).toBe('failed');
    expect(result.message).toMatch(/^Download the image failed: block 511: .*wrong offset/); // the first checkpoint after block 500 (every 64 blocks, numbered from 0)
    const { requests, offsets } = watch();
    expect(Math.max(...offsets) / 4088).toBeLessThan(512);
    // after the last DATA: CANCEL (0x08) then RELEASE (0x02), nothing interleaved with the queued blocks
    const lastData = requests.lastIndexOf(0x43);
    expect(requests.slice(lastData + 1).filter((r) => r !== 0x41 && r !== 0x40)).toEqual([0x4208, 0x4202]);
    const q = await new NicClient(host).query();
    expect([q.fwVersionRunning, q.fwVersionPending]).toEqual(['28.39.1002', undefined]);
  });
});

describe('a QUERY answer that does not decode stops the update (issue #10)', () => {
  /** QUERY answers a lying or broken device might give, each a class of decode failure. */
  const CORRUPT: [string, (q: Uint8Array) => Uint8Array][] = [
    ['a TLV length past the end', (q) => Uint8Array.from([...q, 3, 0x10, 0x00, 0x41])],
    ['the PSID twice', (q) => Uint8Array.from([...q, 3, 2, 0, 0x41, 0x42])],
    ['a PSID with a control byte', () => Uint8Array.from([3, 2, 0, 0x41, 0x1b])],
    ['a security-version field of 3 bytes', (q) => Uint8Array.from([11, 3, 0, 1, 0, 0, ...q])],
    ['a bank state naming bank 7', (q) => Uint8Array.from([16, 10, 0, 7, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, ...q])],
    ['tag 25 of 2 bytes', (q) => Uint8Array.from([...q, 25, 2, 0, 1, 0])],
  ];

  for (const [what, corrupt] of CORRUPT) {
    it(`${what}: the session fails at QUERY, runs no pre-flight, never locks, and the NIC is unchanged`, async () => {
      const { dev, host, trust } = await setup();
      const realIn = dev.controlTransferIn.bind(dev);
      dev.controlTransferIn = async (setup: USBControlTransferParameters, length: number) => {
        const r = await realIn(setup, length);
        if (setup.requestType !== 'vendor' || setup.request !== 0x40 || !r.data) return r;
        const bytes = corrupt(new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength));
        return { status: r.status, data: new DataView(bytes.buffer) } as USBInTransferResult;
      };
      const result = await new UpdateSession({ host, usb: dev.usb, firmware: { kind: 'image', bytes: await sample('good.tfw') }, trust, now: NOW }).run();
      expect(result.outcome, result.message).toBe('failed');
      expect(result.message).toMatch(/QUERY answer is malformed/);
      expect(result.deviceVerifies).toBe(true);
      expect(result.report).toBeUndefined();
      expect(result.steps.find((s) => s.id === 'query')?.status).toBe('failed');
      for (const id of ['preflight', 'lock', 'download'] as const) expect(result.steps.find((s) => s.id === id)?.status).toBe('skipped');
      dev.controlTransferIn = realIn;
      const nic = new NicClient(host);
      expect((await nic.status()).handleOwned).toBe(false);
      expect((await nic.query()).fwVersionPending).toBeUndefined();
    });
  }

  it('a device that stalls QUERY is a generic DFU device (the only "no")', async () => {
    const { result } = await runSession('good.tfw', { vendorRequests: false });
    expect(result.deviceVerifies).toBe(false);
  });
});
