/**
 * The device side the Worker runs, in Node with the real emulated NIC and an in-memory store:
 * sessions, step mode, faults, persistence (a restart is a reboot), several NICs.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DeviceService } from '../../../src/service/device-service.ts';
import { memoryNicStore } from '../../../src/service/nic-store.ts';
import type { DeviceEvent, DeviceRequest, RunMode } from '../../../src/service/device-protocol.ts';
import type { Fault } from '../../../src/emulator/faults.ts';
import { MCC_STATE } from '../../../src/core/update/mcc-codes.ts';
import { sample } from '../emulator/host.ts';

const TRUST = [{ name: 'root.pem', text: readFileSync('src/assets/demo-keys/root/cert.pem', 'utf8') }];
type Body = DeviceRequest extends infer R ? (R extends DeviceRequest ? Omit<R, 'id'> : never) : never;

function harness(store = memoryNicStore()) {
  const events: DeviceEvent[] = [];
  const fetched: string[] = [];
  const service = new DeviceService({
    source: 'emulator',
    post: (e) => events.push(e),
    store,
    bankSize: 1024 * 1024,
    fetchBytes: async (url) => {
      fetched.push(url);
      return sample(url.split('/').pop()!);
    },
  });
  let id = 0;
  const send = async (body: Body) => {
    const req = { ...body, id: ++id } as DeviceRequest;
    await service.handle(req);
    const done = events.find((e): e is Extract<DeviceEvent, { kind: 'done' }> => e.kind === 'done' && e.id === req.id);
    return done?.error?.message;
  };
  const of = <K extends DeviceEvent['kind']>(kind: K) => events.filter((e): e is Extract<DeviceEvent, { kind: K }> => e.kind === kind);
  const lastQuery = (serial = 'TFN0000001') => of('query').filter((q) => q.serial === serial).at(-1)?.query;
  const start = async (file: string, opts: { mode?: RunMode; faults?: Fault[]; serial?: string } = {}) => {
    const image = new Blob([await sample(file)]);
    return send({ kind: 'start', serial: opts.serial ?? 'TFN0000001', name: file, image, trust: TRUST, mode: opts.mode ?? 'run', ...(opts.faults ? { faults: opts.faults } : {}) });
  };
  const result = () => of('result').at(-1)!.result;
  return { service, events, fetched, store, send, of, lastQuery, start, result };
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
};

describe('DeviceService (emulator)', () => {
  it('starts with one NIC manufactured from the factory image, queried and saved', async () => {
    const h = harness();
    expect(await h.send({ kind: 'init', baseUrl: 'http://app.test/sub/' })).toBeUndefined();
    expect(h.of('ready')[0]!.steps.map((s) => [s.id, s.status])).toEqual([
      ['query', 'pending'],
      ['preflight', 'pending'],
      ['lock', 'pending'],
      ['update-component', 'pending'],
      ['download', 'pending'],
      ['verify', 'pending'],
      ['activate', 'pending'],
      ['release', 'pending'],
    ]);
    expect(h.fetched).toEqual(['http://app.test/sub/samples/factory.tfw']);
    expect(h.of('devices').at(-1)).toMatchObject({ source: 'emulator', devices: [{ serial: 'TFN0000001', kind: 'emulated', psid: 'TF_0000000001', faults: [] }] });
    expect(h.lastQuery()).toMatchObject({ fwVersionRunning: '28.39.1002', psid: 'TF_0000000001' });
    expect([...h.store.saved.keys()]).toEqual(['TFN0000001']);
    expect(h.of('log').flatMap((l) => l.lines).some((l) => l.source === 'host' && l.text.startsWith('QUERY'))).toBe(true);
  });

  it('an update: steps, progress, the MCC path, the result, saved; a restart reboots into the new image', async () => {
    const h = harness();
    await h.send({ kind: 'init', baseUrl: 'http://app.test/' });
    expect(await h.start('good.tfw')).toBeUndefined();
    expect(h.result().outcome).toBe('updated');
    expect(h.of('steps').at(-1)!.steps.every((s) => s.status === 'done')).toBe(true);
    expect(h.of('progress').at(-1)!.progress.fraction).toBe(1);
    const instructions = h.of('status').flatMap((s) => (s.instruction !== undefined ? [s.instruction] : []));
    expect(instructions).toEqual(expect.arrayContaining([1, 3, 4, 6, 2]));
    // the session's device-status events, not re-decoded transfers: a re-read that says what the last
    // one said is not posted again (the download reads STATUS after every head block)
    const plain = h.of('status').filter((s) => s.instruction === undefined).map((s) => s.status);
    for (let i = 1; i < plain.length; i++) expect(plain[i]).not.toEqual(plain[i - 1]);
    expect(h.of('status').filter((s) => s.status.state === MCC_STATE.DOWNLOAD && s.instruction === undefined).length).toBeLessThanOrEqual(1);
    expect(h.lastQuery()).toMatchObject({ fwVersionRunning: '28.39.1002', fwVersionPending: '28.40.1000' });
    // the result comes after the save, so a reload right after it keeps the update
    const again = harness(h.store);
    await again.send({ kind: 'init', baseUrl: 'http://app.test/' });
    expect(again.fetched).toEqual([]);
    expect(again.lastQuery()).toMatchObject({ fwVersionRunning: '28.40.1000' });
    expect(again.lastQuery()?.fwVersionPending).toBeUndefined();
    expect(again.of('log').flatMap((l) => l.lines).map((l) => l.text)).toContain('restored from IndexedDB and rebooted: booted the new image (pending image applied)');
  });

  it('step mode: one step per Step; the device panel is refreshed between steps; Cancel leaves the device as it was', async () => {
    const h = harness();
    await h.send({ kind: 'init', baseUrl: 'http://app.test/' });
    const running = h.start('good.tfw', { mode: 'step' });
    const waiting = () => h.of('waiting').filter((w) => w.next !== null).map((w) => w.next);
    await until(() => waiting().length === 1);
    expect(waiting()).toEqual(['preflight']);
    const queriesBefore = h.of('query').length;
    await h.send({ kind: 'step' });
    await until(() => waiting().length === 2);
    expect(waiting()).toEqual(['preflight', 'lock']);
    expect(h.of('query').length).toBeGreaterThan(queriesBefore);
    // another request while the session runs is refused, not interleaved
    expect(await h.send({ kind: 'power-cycle', serial: 'TFN0000001' })).toMatch(/^busy: updating/);
    await h.send({ kind: 'step' });
    await until(() => waiting().length === 3);
    expect(h.of('steps').at(-1)!.steps.find((s) => s.id === 'lock')?.status).toBe('done');
    await h.send({ kind: 'cancel' });
    expect(await running).toBeUndefined();
    expect(h.result().outcome).toBe('cancelled');
    expect(h.lastQuery()?.fwVersionPending).toBeUndefined();
    expect(h.of('status').at(-1)!.status).toMatchObject({ state: 0, handleOwned: false });
  });

  it('a power loss at block 3 keeps the old image; the retry succeeds; faults are one-shot', async () => {
    const h = harness();
    await h.send({ kind: 'init', baseUrl: 'http://app.test/' });
    await h.start('good.tfw', { faults: [{ kind: 'power-loss', block: 3 }] });
    expect(h.result().outcome).toBe('failed');
    expect(h.lastQuery()).toMatchObject({ fwVersionRunning: '28.39.1002' });
    expect(h.lastQuery()?.fwVersionPending).toBeUndefined();
    expect(h.of('devices').at(-1)!.devices[0]!.faults).toEqual([]);
    expect(h.of('log').flatMap((l) => l.lines).some((l) => l.source === 'nic' && l.text.startsWith('power lost during'))).toBe(true);
    await h.start('good.tfw');
    expect(h.result().outcome).toBe('updated');
    expect(await h.send({ kind: 'reset-device', serial: 'TFN0000001' })).toBeUndefined();
    expect(h.lastQuery()).toMatchObject({ fwVersionRunning: '28.40.1000' });
  });

  it("another host's lock: the update fails; clearing the fault power-cycles it away", async () => {
    const h = harness();
    await h.send({ kind: 'init', baseUrl: 'http://app.test/' });
    await h.send({ kind: 'set-faults', serial: 'TFN0000001', faults: [{ kind: 'locked-by-other' }] });
    expect(h.of('devices').at(-1)!.devices[0]!.faults).toEqual(['locked-by-other']);
    await h.start('good.tfw');
    expect(h.result().message).toMatch(/another host holds the update handle/);
    // a scenario with no faults clears them (and the lock with a power cycle)
    await h.start('good.tfw', { faults: [] });
    expect(h.result().outcome).toBe('updated');
  });

  it('several NICs, a factory reset, the timing model, the audit log', async () => {
    const h = harness();
    await h.send({ kind: 'init', baseUrl: 'http://app.test/' });
    expect(await h.send({ kind: 'add-nic', psid: 'MT_0000000999' })).toBeUndefined();
    expect(h.lastQuery('TFN0000002')).toMatchObject({ psid: 'MT_0000000999', baseMac: 'b8cef6000002' });
    await h.start('wrong-psid.tfw', { serial: 'TFN0000002' });
    expect(h.result().outcome).toBe('updated');
    await h.start('wrong-psid.tfw');
    expect(h.result()).toMatchObject({ outcome: 'rejected-by-host', report: { failed: { id: 'device' } } });
    expect(await h.send({ kind: 'factory-reset', serial: 'TFN0000002' })).toBeUndefined();
    expect(h.lastQuery('TFN0000002')?.fwVersionPending).toBeUndefined();
    expect(await h.send({ kind: 'set-timing', serial: 'TFN0000002', timing: 'high-speed' })).toBeUndefined();
    expect(h.of('devices').at(-1)!.devices.find((d) => d.serial === 'TFN0000002')?.timing).toBe('high-speed');
    expect(await h.send({ kind: 'query', serial: 'nope' })).toMatch(/no device with serial "nope"/);
    await h.send({ kind: 'export-audit' });
    const audit = h.of('audit').at(-1)!;
    expect(audit.check).toMatchObject({ ok: true });
    expect(audit.jsonl).toContain('factory reset');
    expect([...h.store.saved.keys()]).toEqual(['TFN0000001', 'TFN0000002']);
  });

  it('maintenance commands are refused by secure firmware, with its LAST_RESULT', async () => {
    const h = harness();
    await h.send({ kind: 'init', baseUrl: 'http://app.test/' });
    expect(await h.send({ kind: 'maintenance', serial: 'TFN0000001', op: 'RAW_FLASH_WRITE' })).toBeUndefined();
    expect(h.of('maintenance').at(-1)).toMatchObject({ op: 'RAW_FLASH_WRITE', refused: true, registerStatus: 0x06, deviceText: 'Unsupported operation under Secure FW', mstflint: '-E- Write block failed: Unsupported operation under Secure FW' });
  });

  it('a damaged saved state is reported and a new NIC made instead', async () => {
    const store = memoryNicStore();
    await store.save('TFN0000001', new Uint8Array([1, 2, 3]));
    const h = harness(store);
    await h.send({ kind: 'init', baseUrl: 'http://app.test/' });
    expect(h.of('log').flatMap((l) => l.lines).some((l) => /saved state for TFN0000001 is unusable/.test(l.text))).toBe(true);
    expect(h.lastQuery()).toMatchObject({ fwVersionRunning: '28.39.1002' });
  });
});
