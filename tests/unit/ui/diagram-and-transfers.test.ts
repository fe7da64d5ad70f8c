import { describe, expect, it } from 'vitest';
import { EDGES, NODES, VIEW, advancePath, edgePath, nodeForState, pathEdges } from '../../../src/ui/state/mcc-diagram.ts';
import { describeTransfer, StatusTracker } from '../../../src/ui/worker/transfer-log.ts';
import { FaultDraft } from '../../../src/ui/state/fault-draft.svelte.ts';
import { deviceFields } from '../../../src/ui/state/device-view.ts';
import { MCC_STATE } from '../../../src/core/update/mcc-codes.ts';
import { encodeControl, encodeData, vendorSetup } from '../../../src/core/update/protocol.ts';
import { encodeStatus } from '../update/device-side-codec.ts';
import type { TransferLogEntry } from '../../../src/core/dfu/host.ts';

const statusBytes = (state: number, extra: Partial<Parameters<typeof encodeStatus>[0]> = {}) =>
  encodeStatus({ state, error: 0, result: 0, flags: 0, handle: 0, received: 0, componentSize: 0, expectedTotal: 0, elapsedMs: 0, bootStatus: 0, ...extra });
const out = (name: 'CONTROL' | 'DATA', data: Uint8Array): TransferLogEntry => ({ direction: 'out', setup: vendorSetup(name, 0), length: data.length, status: 'ok', data });
const statusIn = (data: Uint8Array): TransferLogEntry => ({ direction: 'in', setup: vendorSetup('STATUS', 0), length: 64, status: 'ok', data });

describe('MCC diagram', () => {
  it('every MCC state the device enters has a node, and no other; every edge joins two nodes and fits the view', () => {
    for (const s of ['IDLE', 'LOCKED', 'INITIALIZE', 'DOWNLOAD', 'UPLOAD', 'UPLOAD_PENDING'] as const) expect(nodeForState(MCC_STATE[s]), s).toBeDefined();
    // VERIFY and ACTIVATE finish within their command (docs/protocol.md §5.1): never drawn as states
    for (const s of ['VERIFY', 'APPLY', 'ACTIVATE'] as const) expect(nodeForState(MCC_STATE[s]), s).toBeUndefined();
    const ids = new Set(NODES.map((n) => n.id));
    for (const e of EDGES) {
      expect(ids.has(e.from) && ids.has(e.to), e.id).toBe(true);
      for (const [x, y] of [[e.x1, e.y1], [e.x2, e.y2], [e.lx, e.ly]] as const) expect(x >= 0 && x <= VIEW.width && y >= 0 && y <= VIEW.height, e.id).toBe(true);
      expect(edgePath(e)).toMatch(/^M[\d.]+,[\d.]+ [LQ]/);
    }
    expect(new Set(EDGES.map((e) => e.id)).size).toBe(EDGES.length);
  });

  it('a successful session walks one loop; a power loss ends in IDLE', () => {
    let p = advancePath([], MCC_STATE.IDLE);
    p = advancePath(p, MCC_STATE.LOCKED, 1);
    p = advancePath(p, MCC_STATE.DOWNLOAD, 3);
    p = advancePath(p, MCC_STATE.DOWNLOAD);
    expect(p).toEqual(['IDLE', 'LOCKED', 'INITIALIZE', 'DOWNLOAD']);
    // a refused instruction (result ≠ 0) does not pass through its state
    expect(advancePath(p, MCC_STATE.DOWNLOAD, 4, 7)).toEqual(p);
    const lost = advancePath(p, MCC_STATE.IDLE);
    expect([...pathEdges(lost)]).toEqual(['IDLE>LOCKED', 'LOCKED>INITIALIZE', 'INITIALIZE>DOWNLOAD', 'DOWNLOAD>IDLE']);
    for (const id of pathEdges(lost)) expect(EDGES.some((e) => e.id === id), id).toBe(true);
    // VERIFY, ACTIVATE, RELEASE as the device answers them: LOCKED, LOCKED, IDLE
    let done = advancePath(p, MCC_STATE.LOCKED, 4);
    done = advancePath(done, MCC_STATE.LOCKED, 6);
    done = advancePath(done, MCC_STATE.IDLE, 2);
    expect(done).toEqual(['IDLE', 'LOCKED', 'INITIALIZE', 'DOWNLOAD', 'LOCKED', 'IDLE']);
    for (const id of pathEdges(done)) expect(EDGES.some((e) => e.id === id), id).toBe(true);
  });
});

describe('transfer log', () => {
  it('names vendor requests and decodes CONTROL, DATA and STATUS', () => {
    expect(describeTransfer(out('CONTROL', encodeControl({ instruction: 3, handle: 0x1234, componentSize: 67728 }))).request).toBe('CONTROL UPDATE_COMPONENT handle 0x001234 size 67728');
    expect(describeTransfer(out('DATA', encodeData({ handle: 1, offset: 8192, block: new Uint8Array(4096) }))).request).toBe('DATA offset 8192, 4096 bytes');
    expect(describeTransfer(statusIn(statusBytes(MCC_STATE.LOCKED, { flags: 1, handle: 0x1234 }))).answer).toBe('STATUS: LOCKED, handle 0x001234');
    expect(describeTransfer(statusIn(statusBytes(MCC_STATE.LOCKED, { error: 0x0f }))).answer).toBe('STATUS: LOCKED, error 0x0f REJECTED_FORBIDDEN_VERSION');
    expect(describeTransfer({ direction: 'in', setup: vendorSetup('QUERY', 0), length: 4096, status: 'stall' }).answer).toBe('QUERY: STALL');
    expect(describeTransfer({ direction: 'out', setup: vendorSetup('RESET', 0), length: 0, status: 'error', error: 'gone' }).answer).toBe('RESET failed: gone');
    expect(describeTransfer({ direction: 'in', setup: { requestType: 'standard', recipient: 'device', request: 6, value: 0x0200, index: 0 }, length: 9, status: 'ok', data: new Uint8Array(9) }).request).toBe('GET_DESCRIPTOR(CONFIGURATION) (up to 9 bytes)');
  });

  it('pairs each CONTROL with the STATUS that answers it, and stays quiet while nothing changes', () => {
    const t = new StatusTracker();
    expect(t.observe(statusIn(statusBytes(0)))).toMatchObject({ status: { state: 0 } });
    expect(t.observe(statusIn(statusBytes(0)))).toBeUndefined();
    expect(t.observe(out('CONTROL', encodeControl({ instruction: 4, handle: 1, componentSize: 0 })))).toBeUndefined();
    expect(t.observe(statusIn(statusBytes(MCC_STATE.LOCKED)))).toMatchObject({ status: { state: 1 }, instruction: 4 });
    expect(t.observe(statusIn(statusBytes(MCC_STATE.LOCKED)))).toBeUndefined();
  });
});

describe('fault form and device rows', () => {
  it('turns the form into the emulator faults; block numbers are clamped', () => {
    const f = new FaultDraft();
    expect(f.any).toBe(false);
    f.toggle('power-loss', true);
    f.setPowerLossBlock(-4);
    f.toggle('disconnect', true);
    f.setDisconnectBlock(1e9);
    f.toggle('slow', true);
    expect(f.toFaults()).toEqual([{ kind: 'power-loss', block: 0 }, { kind: 'disconnect', block: 65535 }, { kind: 'slow' }]);
    f.setPowerLossBlock(Number.NaN);
    expect(f.powerLossBlock).toBe(0);
    f.reset();
    expect(f.toFaults()).toEqual([]);
  });

  it('device strings stay plain strings (the components render text, never HTML)', () => {
    const rows = deviceFields({ description: '<img src=x onerror=alert(1)>', psid: 'TF_0000000001' });
    expect(rows.find((r) => r.id === 'description')?.value).toBe('<img src=x onerror=alert(1)>');
    expect(rows.find((r) => r.id === 'running')?.value).toBe('N/A');
  });
});
