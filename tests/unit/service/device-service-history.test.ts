/**
 * The device side across page loads, with the real emulated NIC and in-memory stores: the audit
 * chain continues, every session leaves a history entry, an update cut off by a reload is flagged
 * "interrupted", and a reboot on reload that applies a pending image is said plainly.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DeviceService } from '../../../src/service/device-service.ts';
import { memoryNicStore } from '../../../src/service/nic-store.ts';
import { memoryHistoryStore } from '../../../src/service/history-store.ts';
import { verifyAuditLog } from '../../../src/core/update/audit.ts';
import type { DeviceEvent, DeviceRequest, RunMode } from '../../../src/service/device-protocol.ts';
import { sample } from '../emulator/host.ts';

const TRUST = [{ name: 'root.pem', text: readFileSync('src/assets/demo-keys/root/cert.pem', 'utf8') }];
type Body = DeviceRequest extends infer R ? (R extends DeviceRequest ? Omit<R, 'id'> : never) : never;

/** One page load: a new DeviceService over the same stores. */
function page(nics = memoryNicStore(), history = memoryHistoryStore()) {
  const events: DeviceEvent[] = [];
  const service = new DeviceService({ source: 'emulator', post: (e) => events.push(e), store: nics, historyStore: history, bankSize: 1024 * 1024, fetchBytes: async (url) => sample(url.split('/').pop()!) });
  let id = 0;
  const send = (body: Body) => service.handle({ ...body, id: ++id } as DeviceRequest);
  const of = <K extends DeviceEvent['kind']>(kind: K) => events.filter((e): e is Extract<DeviceEvent, { kind: K }> => e.kind === kind);
  const start = async (file: string, mode: RunMode = 'run') => send({ kind: 'start', serial: 'TFN0000001', name: file, image: new Blob([await sample(file)]), trust: TRUST, mode });
  // the export waits for every audit record to be written
  const settle = () => send({ kind: 'export-audit' });
  return { nics, history, events, send, of, start, settle, init: () => send({ kind: 'init', baseUrl: 'http://app.test/' }) };
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
};

describe('DeviceService across page loads', () => {
  it('a refusal by this host records the device as it was: nothing was sent, so its version is unchanged', async () => {
    const a = page();
    await a.init();
    await a.start('wrong-psid.tfw');
    await a.settle();
    expect((await a.history.entries()).entries).toMatchObject([{ file: 'wrong-psid.tfw', outcome: 'rejected-by-host', before: '28.39.1002', after: '28.39.1002' }]);
  });

  it('the audit chain continues after a reload; the history lists the update; the reboot that applied it is said and recorded', async () => {
    const a = page();
    await a.init();
    await a.start('good.tfw');
    await a.settle();
    const first = await a.history.auditText('emulator');
    const firstCheck = await verifyAuditLog(first);
    expect(firstCheck.ok).toBe(true);
    expect((await a.history.entries()).entries).toMatchObject([{ serial: 'TFN0000001', psid: 'TF_0000000001', file: 'good.tfw', before: '28.39.1002', after: '28.39.1002 (pending 28.40.1000)', outcome: 'updated' }]);

    const b = page(a.nics, a.history);
    await b.init();
    await b.settle();
    const restored = b.of('restored')[0]!;
    expect(restored.audit.resumed).toBe(firstCheck.ok ? firstCheck.records : -1);
    expect(restored.reboots).toEqual([{ serial: 'TFN0000001', text: 'The page was reloaded: the emulated NIC TFN0000001 was power-cycled and now runs 28.40.1000 (its pending image was applied)' }]);
    expect(restored.interrupted).toEqual([]);
    const text = await b.history.auditText('emulator');
    expect(text.startsWith(first)).toBe(true);
    const check = await verifyAuditLog(text);
    expect(check.ok && firstCheck.ok && check.records > firstCheck.records).toBe(true);
    expect(text).toContain('was power-cycled and now runs 28.40.1000');
    const entries = (await b.history.entries()).entries;
    expect(entries.map((e) => e.outcome)).toEqual(['updated', 'power-cycled']);
    expect(entries[1]).toMatchObject({ before: '28.39.1002 (pending 28.40.1000)', after: '28.40.1000' });

    // nothing pending: the next reload is a reboot with nothing to say
    const c = page(a.nics, a.history);
    await c.init();
    expect(c.of('restored')[0]!.reboots).toEqual([]);
  });

  it('an update cut off by a reload is flagged interrupted on return, with what the NIC runs now', async () => {
    const a = page();
    await a.init();
    void a.start('good.tfw', 'step');
    await until(() => a.of('waiting').some((w) => w.next !== null));
    expect(await a.history.markers()).toHaveLength(1);
    await a.settle();
    // the page goes away mid-session: no result, no cancel
    const b = page(a.nics, a.history);
    await b.init();
    await b.settle();
    const [e] = b.of('restored')[0]!.interrupted;
    expect(e).toMatchObject({ serial: 'TFN0000001', file: 'good.tfw', outcome: 'interrupted', after: '28.39.1002' });
    expect(e!.message).toMatch(/TFN0000001 now runs 28\.39\.1002, nothing pending/);
    expect(await b.history.markers()).toEqual([]);
    expect((await b.history.entries()).entries.map((x) => x.outcome)).toEqual(['interrupted']);
    expect(await b.history.auditText('emulator')).toContain('interrupted: the update with good.tfw');
  });

  it('a stored audit log that was tampered with is kept aside and reported, never extended', async () => {
    const a = page();
    await a.init();
    await a.settle();
    const lines = a.history.raw.audit.get('emulator')!;
    lines[0] = lines[0]!.replace('manufactured', 'MANUFACTURED');
    const b = page(a.nics, a.history);
    await b.init();
    expect(b.of('restored')[0]!.audit).toMatchObject({ resumed: 0, keptAside: expect.stringMatching(/line 1: hash does not match/) });
    expect(a.history.raw.aside).toHaveLength(1);
    expect(await verifyAuditLog(await b.history.auditText('emulator'))).toMatchObject({ ok: true });
  });
});

describe('DeviceService for real USB devices (in the page)', () => {
  /** A page load with a "real" device: an emulated NIC on its own bus, adopted as WebUSB would give it. */
  async function usbPage(history = memoryHistoryStore(), locks?: LockManager) {
    const { createEmulatedNic, EmulatedUsb } = await import('../../../src/emulator/index.ts');
    const bus = new EmulatedUsb();
    const device = await createEmulatedNic({ factoryImage: await sample('factory.tfw'), usb: bus, bankSize: 1024 * 1024, identity: { serial: 'REAL0001' } });
    const events: DeviceEvent[] = [];
    const service = new DeviceService({ source: 'usb', post: (e) => events.push(e), historyStore: history, ...(locks ? { locks } : {}) });
    let id = 0;
    const send = (body: Body) => service.handle({ ...body, id: ++id } as DeviceRequest);
    await send({ kind: 'adopt-usb', device, bus });
    return { history, events, send };
  }

  it('keeps a history entry per session and continues the usb audit chain on the next page', async () => {
    const a = await usbPage();
    await a.send({ kind: 'start', serial: 'REAL0001', name: 'good.tfw', image: new Blob([await sample('good.tfw')]), trust: TRUST, mode: 'run' });
    await a.send({ kind: 'export-audit' });
    expect((await a.history.entries()).entries).toMatchObject([{ serial: 'REAL0001', device: 'usb', file: 'good.tfw', outcome: 'updated' }]);
    const first = await a.history.auditText('usb');
    expect(await verifyAuditLog(first)).toMatchObject({ ok: true });
    const b = await usbPage(a.history);
    await b.send({ kind: 'maintenance', serial: 'REAL0001', op: 'SET_VSD' });
    await b.send({ kind: 'export-audit' });
    const text = await b.history.auditText('usb');
    expect(text.startsWith(first) && text.length > first.length).toBe(true);
    expect(await verifyAuditLog(text)).toMatchObject({ ok: true });
  });

  it('leaves the usb chain to the tab that has it open: this one keeps its log in memory and says so', async () => {
    const locks = { request: (_name: string, _opts: unknown, cb: (lock: null) => Promise<void>) => cb(null) } as unknown as LockManager;
    const p = await usbPage(memoryHistoryStore(), locks);
    await p.send({ kind: 'export-audit' });
    expect(await p.history.auditText('usb')).toBe('');
    const lines = p.events.flatMap((e) => (e.kind === 'log' ? e.lines.map((l) => l.text) : []));
    expect(lines).toContain("the usb audit chain is open in another tab of TrustFlash: this tab's audit log lasts as long as the page (export it)");
  });
});
