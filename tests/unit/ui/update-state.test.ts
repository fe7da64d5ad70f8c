import { describe, expect, it } from 'vitest';
import { DeviceChannel } from '../../../src/ui/state/device-channel.ts';
import { DevicesState } from '../../../src/ui/state/devices.svelte.ts';
import { UpdateState } from '../../../src/ui/state/update.svelte.ts';
import { SCENARIOS } from '../../../src/ui/state/scenarios.ts';
import { STEPS, STEP_TITLES, type SessionResult, type StepState } from '../../../src/core/update/session.ts';
import { mccError } from '../../../src/core/update/mcc-codes.ts';
import type { DeviceStatus } from '../../../src/core/update/protocol.ts';
import { FakeBackend, tick } from './fake-backend.ts';

const pending: StepState[] = STEPS.map((id) => ({ id, title: STEP_TITLES[id], status: 'pending' }));
const status = (state: number, extra: Partial<DeviceStatus> = {}): DeviceStatus => ({
  state,
  error: 0,
  result: 0,
  flags: 0,
  handle: 0,
  received: 0,
  componentSize: 0,
  expectedTotal: 0,
  elapsedMs: 0,
  bootStatus: 0,
  handleOwned: false,
  pendingReset: false,
  booted: true,
  tokenActive: false,
  ...extra,
});
const result = (r: Partial<SessionResult>): SessionResult => ({ outcome: 'updated', message: 'ok', deviceVerifies: true, steps: pending, ...r });

function setup() {
  const fake = new FakeBackend();
  const channel = new DeviceChannel(fake);
  const devices = new DevicesState({ channel, baseUrl: 'http://app.test/', usbSupport: 'no-webusb' });
  const fetched: string[] = [];
  const update = new UpdateState({
    channel,
    devices,
    trust: () => [{ name: 'root.pem', text: 'PEM' }],
    fetchBytes: async (url) => {
      fetched.push(url);
      return new Uint8Array([1, 2, 3]).buffer;
    },
  });
  fake.emit({ kind: 'ready', steps: pending });
  fake.emit({ kind: 'devices', source: 'emulator', devices: [{ serial: 'TFN0000001', kind: 'emulated', label: 'Emulated NIC', faults: [] }] });
  return { fake, devices, update, fetched };
}

describe('UpdateState', () => {
  it('shows the 8 steps before any session, from the device side', () => {
    const { update } = setup();
    expect(update.steps.map((s) => s.id)).toEqual([...STEPS]);
    expect(update.running).toBe(false);
  });

  it('Step starts a step-by-step session with the file handed over (no copy kept); later Steps resume the gate', async () => {
    const { fake, update, fetched } = setup();
    update.choose({ kind: 'sample', file: 'good.tfw', title: 'Signed update' });
    const started = update.step();
    await tick();
    const start = fake.last('start')!;
    expect(fetched).toEqual(['samples/good.tfw']);
    expect(start).toMatchObject({ serial: 'TFN0000001', name: 'good.tfw', mode: 'step', trust: [{ name: 'root.pem', text: 'PEM' }] });
    expect(start.faults).toBeUndefined();
    // the file itself goes to the device side (a fetched sample as a Blob): the page keeps no copy to send
    expect(start.image).toBeInstanceOf(Blob);
    expect(fake.sent.at(-1)!.transfer).toBeUndefined();
    expect(update.running).toBe(true);

    fake.emit({ kind: 'session-start', serial: 'TFN0000001', name: 'good.tfw', size: 3, mode: 'step' });
    fake.emit({ kind: 'steps', serial: 'TFN0000001', steps: pending.map((s) => (s.id === 'query' ? { ...s, status: 'done', detail: 'TF_0000000001 running 28.39.1002' } : s)) });
    fake.emit({ kind: 'waiting', serial: 'TFN0000001', next: 'preflight' });
    expect(update.waiting).toBe('preflight');
    expect(update.announcement).toBe('Paused before: Pre-flight checks on this host. Press Step to continue.');

    const stepped = update.step();
    const step = fake.last('step')!;
    fake.done(step.id);
    await stepped;
    expect(fake.sent.filter((s) => s.req.kind === 'start')).toHaveLength(1);

    const ran = update.run();
    expect(update.mode).toBe('run');
    fake.done(fake.last('run')!.id);
    await ran;

    fake.emit({ kind: 'result', serial: 'TFN0000001', name: 'good.tfw', result: result({}) });
    fake.done(start.id);
    await started;
    expect(update.running).toBe(false);
    expect(update.result?.outcome).toBe('updated');
  });

  it('builds the MCC path from STATUS answers: only states the device enters (VERIFY and ACTIVATE finish within their command, protocol §5.1)', () => {
    const { fake, update } = setup();
    fake.emit({ kind: 'status', serial: 'TFN0000001', status: status(0) });
    fake.emit({ kind: 'session-start', serial: 'TFN0000001', name: 'good.tfw', size: 3, mode: 'run' });
    expect(update.path).toEqual(['IDLE']);
    const seq: [number, number | undefined][] = [
      [0, 0], // QUERY: a handle is offered
      [1, 1], // LOCK
      [2, 3], // UPDATE_COMPONENT: erasing
      [3, undefined],
      [1, 4], // VERIFY_COMPONENT: back in LOCKED already
      [1, 6], // ACTIVATE
      [0, 2], // RELEASE
    ];
    for (const [state, instruction] of seq) fake.emit({ kind: 'status', serial: 'TFN0000001', status: status(state), ...(instruction !== undefined ? { instruction } : {}) });
    expect(update.path).toEqual(['IDLE', 'LOCKED', 'INITIALIZE', 'DOWNLOAD', 'LOCKED', 'IDLE']);
    expect(update.current).toBe('IDLE');
    fake.emit({ kind: 'status', serial: 'TFN0000001', status: status(1, { handleOwned: true, handle: 0xabc, pendingReset: true }) });
    expect(update.stateText).toBe('LOCKED, handle 0x000abc held, new image pending reset');
  });

  it('progress: one measure (bytes and percent agree), a named phase outside the download, no ETA once it ended', () => {
    const { fake, update } = setup();
    const step = (id: string, status: string) => ({ id, title: id === 'download' ? 'Download the image' : id === 'verify' ? 'Device verifies the image' : 'Update component (erase the inactive bank)', status });
    fake.emit({ kind: 'session-start', serial: 'TFN0000001', name: 'good.tfw', size: 8192, mode: 'run' });
    // during the erase: the phase is named, no frozen "0 B · ETA –"
    fake.emit({ kind: 'steps', serial: 'TFN0000001', steps: [step('update-component', 'running')] as never });
    fake.emit({ kind: 'progress', serial: 'TFN0000001', progress: { fraction: 0.3, bytesSent: 0, bytesTotal: 8192, rate: 0, etaMs: undefined } });
    expect(update.progressView).toEqual({ percent: 0, bytes: '0 B of 8.0 KiB sent', rate: '', eta: '', phase: 'Update component (erase the inactive bank)…' });
    // the download: percent is the bytes' percent, not the session's weighted fraction
    fake.emit({ kind: 'steps', serial: 'TFN0000001', steps: [step('update-component', 'done'), step('download', 'running')] as never });
    fake.emit({ kind: 'progress', serial: 'TFN0000001', progress: { fraction: 0.62, bytesSent: 4096, bytesTotal: 8192, rate: 2048, etaMs: 2000 } });
    expect(update.progressView).toEqual({ percent: 50, bytes: '4.0 KiB of 8.0 KiB sent', rate: '2.0 KiB/s', eta: 'about 2.0 s left', phase: undefined });
    // the device verifies: named again
    fake.emit({ kind: 'progress', serial: 'TFN0000001', progress: { fraction: 0.9, bytesSent: 8192, bytesTotal: 8192, rate: 4096, etaMs: 0 } });
    fake.emit({ kind: 'steps', serial: 'TFN0000001', steps: [step('download', 'done'), step('verify', 'running')] as never });
    expect(update.progressView).toMatchObject({ percent: 100, phase: 'Device verifies the image…', eta: '' });
    // ended: what was sent, no ETA
    fake.emit({ kind: 'result', serial: 'TFN0000001', name: 'good.tfw', result: result({ outcome: 'updated' }) });
    expect(update.progressView).toEqual({ percent: 100, bytes: '8.0 KiB of 8.0 KiB sent', rate: '4.0 KiB/s', eta: '', phase: undefined });
  });

  it('progress after a failure says how far it got, with no ETA', () => {
    const { fake, update } = setup();
    fake.emit({ kind: 'session-start', serial: 'TFN0000001', name: 'good.tfw', size: 8192, mode: 'run' });
    fake.emit({ kind: 'progress', serial: 'TFN0000001', progress: { fraction: 0.5, bytesSent: 2048, bytesTotal: 8192, rate: 1024, etaMs: 6000 } });
    fake.emit({ kind: 'result', serial: 'TFN0000001', name: 'good.tfw', result: result({ outcome: 'failed' }) });
    expect(update.progressView).toEqual({ percent: 25, bytes: '2.0 KiB of 8.0 KiB sent before it stopped', rate: '1.0 KiB/s', eta: '', phase: undefined });
  });

  it('a rejection says who refused: the host check, or the device with its MCC code and mstflint text', () => {
    const { fake, update } = setup();
    const failed = { id: 'forbidden', title: 'Forbidden version', reason: '28.38.1000 is forbidden', status: 'fail' as const };
    fake.emit({ kind: 'result', serial: 'TFN0000001', name: 'x.tfw', result: result({ outcome: 'rejected-by-host', report: { failed } as unknown as SessionResult['report'] }) });
    expect(update.rejection).toEqual({ by: 'host', check: 'forbidden', title: 'Forbidden version', reason: '28.38.1000 is forbidden' });
    fake.emit({ kind: 'result', serial: 'TFN0000001', name: 'x.tfw', result: result({ outcome: 'rejected-by-device', deviceError: mccError(0x0f) }) });
    expect(update.rejection).toMatchObject({ by: 'device', code: '0x0f', name: 'REJECTED_FORBIDDEN_VERSION', mstflint: '-E- Burning FS4 image failed: Forbidden version rejected', action: 'Choose another release.', fault: false });
    fake.emit({ kind: 'result', serial: 'TFN0000001', name: 'x.tfw', result: result({ outcome: 'failed' }) });
    expect(update.rejection).toBeUndefined();
    // a flash fault: the device's own words, marked as a fault (the update failed, the image was not refused)
    fake.emit({ kind: 'result', serial: 'TFN0000001', name: 'x.tfw', result: result({ outcome: 'failed', deviceError: mccError(0x28) }) });
    expect(update.rejection).toMatchObject({ by: 'device', code: '0x28', fault: true });
  });

  it("a scenario arms its faults for its run; Retry runs the same image again without them", async () => {
    const { fake, update } = setup();
    const powerLoss = SCENARIOS.find((s) => s.id === 'power-loss')!;
    fake.reply = (req, f) => {
      if (req.kind === 'start') {
        f.emit({ kind: 'session-start', serial: req.serial, name: req.name, size: 3, mode: req.mode });
        f.emit({ kind: 'result', serial: req.serial, name: req.name, result: result({ outcome: 'failed' }) });
        f.done(req.id);
      }
    };
    await update.runScenario(powerLoss);
    expect(fake.last('start')).toMatchObject({ name: 'good.tfw', mode: 'run', faults: [{ kind: 'power-loss', block: 3 }] });
    expect(update.scenario?.id).toBe('power-loss');
    expect(update.canRetry).toBe(true);
    await update.retry();
    const starts = fake.sent.filter((s) => s.req.kind === 'start');
    expect(starts).toHaveLength(2);
    expect(fake.last('start')!.faults).toBeUndefined();
  });

  it('a start the device side refuses leaves a message and no running session', async () => {
    const { fake, update } = setup();
    update.choose({ kind: 'file', file: new File([new Uint8Array([9, 9])], 'mine.tfw') });
    fake.reply = (req, f) => f.done(req.id, 'busy: resetting; wait for it to finish');
    await update.run();
    expect(fake.last('start')!.name).toBe('mine.tfw');
    expect(new Uint8Array(await fake.last('start')!.image.arrayBuffer())).toEqual(new Uint8Array([9, 9]));
    expect(update.running).toBe(false);
    expect(update.error).toBe('The update could not run: busy: resetting; wait for it to finish');
    expect(update.announcement).toBe(update.error);
  });
});
