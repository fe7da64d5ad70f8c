/**
 * Step / Run / Cancel (src/core/update/gate.ts): on its own, then driving a real session against the
 * emulated NIC, where the session's one event stream shows the pauses and the device's answers.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DfuHost } from '../../../src/core/dfu/host.ts';
import { loadTrustStore } from '../../../src/core/crypto/trust.ts';
import { NicClient } from '../../../src/core/update/nic-client.ts';
import { MCC_INSTRUCTION, MCC_STATE } from '../../../src/core/update/mcc-codes.ts';
import { StepGate } from '../../../src/core/update/gate.ts';
import { UpdateSession, type SessionEvent, type StepId } from '../../../src/core/update/session.ts';
import { newDevice, sample } from '../emulator/host.ts';

const NOW = new Date('2026-11-22T00:00:00Z');
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('StepGate', () => {
  it('run mode opens every gate at once', async () => {
    const g = new StepGate({ mode: 'run' });
    for (const id of ['query', 'preflight', 'lock'] as const) expect(await g.pass(id)).toBe('continue');
    expect(g.waitingFor).toBeUndefined();
  });

  it('step mode: the first step is granted, each Step is one more; Steps given early are kept as credits', async () => {
    const g = new StepGate({ mode: 'step' });
    const waits: (StepId | null)[] = [];
    expect(await g.pass('query', (n) => waits.push(n))).toBe('continue');
    const second = g.pass('preflight', (n) => waits.push(n));
    await tick();
    expect(g.waitingFor).toBe('preflight');
    expect(waits).toEqual(['preflight']);
    g.step();
    expect(await second).toBe('continue');
    expect(waits).toEqual(['preflight', null]);
    // two Steps while a step runs: the next two gates open without a pause
    g.step();
    g.step();
    expect(await g.pass('lock', (n) => waits.push(n))).toBe('continue');
    expect(await g.pass('update-component', (n) => waits.push(n))).toBe('continue');
    expect(waits).toEqual(['preflight', null]);
  });

  it('Run releases a paused session and every later gate', async () => {
    const g = new StepGate({ mode: 'step', credits: 0 });
    const first = g.pass('query');
    await tick();
    g.run();
    expect(await first).toBe('continue');
    expect(g.mode).toBe('run');
    expect(await g.pass('preflight')).toBe('continue');
  });

  it('Cancel answers a paused session at once, and every gate after it', async () => {
    const g = new StepGate({ mode: 'step', credits: 0 });
    const first = g.pass('lock');
    await tick();
    g.cancel();
    expect(await first).toBe('cancel');
    expect(g.cancelled).toBe(true);
    expect(await g.pass('download')).toBe('cancel');
    // a Step after Cancel changes nothing
    g.step();
    expect(await g.pass('verify')).toBe('cancel');
  });

  it('Cancel before the first step holds, in either mode; beforeStep is not run for a cancelled gate', async () => {
    const ran: StepId[] = [];
    for (const mode of ['step', 'run'] as const) {
      const g = new StepGate({ mode, beforeStep: async (n) => void ran.push(n) });
      g.cancel();
      expect(await g.pass('query')).toBe('cancel');
    }
    expect(ran).toEqual([]);
  });

  it('beforeStep runs at each gate before the answer (the bus is free then)', async () => {
    const ran: StepId[] = [];
    const g = new StepGate({ mode: 'run', beforeStep: async (n) => void ran.push(n) });
    await g.pass('query');
    await g.pass('preflight');
    expect(ran).toEqual(['query', 'preflight']);
  });

  it('a negative or fractional credit count is a caller mistake', () => {
    expect(() => new StepGate({ credits: -1 })).toThrow(RangeError);
    expect(() => new StepGate({ credits: 0.5 })).toThrow('"credits" expected a whole number ≥ 0, got 0.5');
  });
});

describe('a session behind a StepGate', () => {
  async function setup() {
    const dev = await newDevice();
    const host = new DfuHost(dev);
    await host.open();
    const { store } = await loadTrustStore([{ name: 'root', text: readFileSync('src/assets/demo-keys/root/cert.pem', 'utf8') }]);
    const events: SessionEvent[] = [];
    return { dev, host, trust: store, events };
  }

  it('pauses before each step, says so in its event stream, and reports each MCC answer with its instruction', async () => {
    const { dev, host, trust, events } = await setup();
    const gate = new StepGate({ mode: 'step' });
    const session = new UpdateSession({ host, usb: dev.usb, firmware: { kind: 'image', bytes: await sample('good.tfw') }, trust, now: NOW, gate, onEvent: (e) => events.push(e) });
    const running = session.run();
    const pauses = () => events.flatMap((e) => (e.kind === 'waiting' && e.next !== null ? [e.next] : []));
    for (const next of ['preflight', 'lock', 'update-component'] as const) {
      while (gate.waitingFor !== next) await tick();
      gate.step();
    }
    while (gate.waitingFor !== 'download') await tick();
    gate.run();
    const result = await running;
    expect(result.outcome, result.message).toBe('updated');
    expect(pauses()).toEqual(['preflight', 'lock', 'update-component', 'download']);
    const answered = events.flatMap((e) => (e.kind === 'device-status' && e.instruction !== undefined ? [[e.instruction, e.status.state]] : []));
    expect(answered).toEqual([
      [MCC_INSTRUCTION.LOCK_UPDATE_HANDLE, MCC_STATE.LOCKED],
      [MCC_INSTRUCTION.UPDATE_COMPONENT, expect.any(Number)],
      [MCC_INSTRUCTION.VERIFY_COMPONENT, MCC_STATE.LOCKED],
      [MCC_INSTRUCTION.ACTIVATE, MCC_STATE.LOCKED],
      [MCC_INSTRUCTION.RELEASE_UPDATE_HANDLE, MCC_STATE.IDLE],
    ]);
  });

  it('Cancel while paused after the lock sends CANCEL and RELEASE; the device keeps its image', async () => {
    const { dev, host, trust, events } = await setup();
    const gate = new StepGate({ mode: 'step', credits: 3 });
    const running = new UpdateSession({ host, usb: dev.usb, firmware: { kind: 'image', bytes: await sample('good.tfw') }, trust, now: NOW, gate, onEvent: (e) => events.push(e) }).run();
    while (gate.waitingFor !== 'update-component') await tick();
    gate.cancel();
    const result = await running;
    expect(result.outcome).toBe('cancelled');
    expect(result.message).toMatch(/^Cancelled after the lock/);
    const answered = events.flatMap((e) => (e.kind === 'device-status' && e.instruction !== undefined ? [e.instruction] : []));
    expect(answered.slice(-2)).toEqual([MCC_INSTRUCTION.CANCEL, MCC_INSTRUCTION.RELEASE_UPDATE_HANDLE]);
    expect(events.filter((e) => e.kind === 'waiting').at(-1)).toEqual({ kind: 'waiting', next: null });
    const nic = new NicClient(host);
    expect((await nic.status()).handleOwned).toBe(false);
    expect((await nic.query()).fwVersionPending).toBeUndefined();
  });

  it('Cancel before the first step: nothing is sent, the session says so', async () => {
    const { dev, host, trust, events } = await setup();
    const gate = new StepGate({ mode: 'step' });
    gate.cancel();
    const result = await new UpdateSession({ host, usb: dev.usb, firmware: { kind: 'image', bytes: await sample('good.tfw') }, trust, now: NOW, gate, onEvent: (e) => events.push(e) }).run();
    expect(result.outcome).toBe('cancelled');
    expect(result.message).toBe('Cancelled before anything was sent to the device.');
    expect(events.some((e) => e.kind === 'device-status')).toBe(false);
  });
});
