import { describe, expect, it } from 'vitest';
import { EDGES, NODES, VIEW, advancePath, edgePath, nodeForState, pathEdges } from '../../../src/ui/state/mcc-diagram.ts';
import { FaultDraft } from '../../../src/ui/state/fault-draft.svelte.ts';
import { deviceFields } from '../../../src/ui/state/device-view.ts';
import { MCC_STATE } from '../../../src/core/update/mcc-codes.ts';

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
