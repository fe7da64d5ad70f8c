/**
 * The device Worker's CS-token demo and "update all NICs", in Node against the real emulated NIC:
 * SET_VSD refused, the challenge answered by a token signed with the DEMO signer key, SET_VSD
 * accepted; several NICs updated at once, each by its own session, the other board's refused.
 */
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DeviceService } from '../../../src/service/device-service.ts';
import type { SignedTokenParts } from '../../../src/service/maintenance.ts';
import { memoryNicStore } from '../../../src/service/nic-store.ts';
import type { DeviceEvent, DeviceRequest } from '../../../src/service/device-protocol.ts';
import { parsePem } from '../../../src/core/crypto/pem.ts';
import { sample } from '../emulator/host.ts';

const TRUST = [{ name: 'root.pem', text: readFileSync('src/assets/demo-keys/root/cert.pem', 'utf8') }];
type Body = DeviceRequest extends infer R ? (R extends DeviceRequest ? Omit<R, 'id'> : never) : never;

/** Signs like the Worker does, with a demo key from the fixtures (openssl-compatible node:crypto). */
function signer(key: string) {
  return async (body: Uint8Array): Promise<SignedTokenParts> => {
    const spki = parsePem(readFileSync(`src/assets/demo-keys/${key}/pubkey.pem`, 'utf8')).blocks[0]!.der;
    return {
      keyId: createHash('sha256').update(spki).digest(),
      signature: sign('sha256', body, createPrivateKey(readFileSync(`src/assets/demo-keys/${key}/key.pem`, 'utf8'))),
      signer: `${key} (demo)`,
    };
  };
}

function harness(key = 'signer') {
  const events: DeviceEvent[] = [];
  const service = new DeviceService({
    source: 'emulator',
    post: (e) => events.push(e),
    store: memoryNicStore(),
    bankSize: 1024 * 1024,
    fetchBytes: async (url) => sample(url.split('/').pop()!),
    signToken: signer(key),
  });
  let id = 0;
  const send = async (body: Body) => {
    const req = { ...body, id: ++id } as DeviceRequest;
    await service.handle(req);
    return events.find((e): e is Extract<DeviceEvent, { kind: 'done' }> => e.kind === 'done' && e.id === req.id)?.error?.message;
  };
  const of = <K extends DeviceEvent['kind']>(kind: K) => events.filter((e): e is Extract<DeviceEvent, { kind: K }> => e.kind === kind);
  const lastQuery = (serial: string) => of('query').filter((q) => q.serial === serial).at(-1)?.query;
  return { events, send, of, lastQuery };
}

describe('CS-token demo', () => {
  it('SET_VSD is refused, the challenge is answered with a signed token, then SET_VSD is accepted', async () => {
    const h = harness();
    expect(await h.send({ kind: 'init', baseUrl: 'http://app.test/' })).toBeUndefined();
    expect(await h.send({ kind: 'cs-token', serial: 'TFN0000001', vsd: 'LAB-RACK-7' })).toBeUndefined();
    const steps = h.of('cs-token');
    expect(steps.map((s) => [s.step, s.ok])).toEqual([
      ['refused', true],
      ['challenge', true],
      ['signed', true],
      ['applied', true],
      ['accepted', true],
    ]);
    expect(steps[0]!.text).toContain('Unsupported operation under Secure FW');
    expect(steps[1]!.text).toMatch(/nonce [0-9a-f]{8}…[0-9a-f]{4} for PSID TF_0000000001/);
    expect(steps[3]!.text).toContain('300 s');
    expect(h.lastQuery('TFN0000001')?.deviceVsd?.text).toBe('LAB-RACK-7');
  });

  it('a token by a key the firmware does not embed is refused, and SET_VSD stays closed', async () => {
    const h = harness('rogue-signer');
    await h.send({ kind: 'init', baseUrl: 'http://app.test/' });
    expect(await h.send({ kind: 'cs-token', serial: 'TFN0000001', vsd: 'X' })).toBeUndefined();
    const steps = h.of('cs-token');
    expect(steps.map((s) => [s.step, s.ok])).toEqual([
      ['refused', true],
      ['challenge', true],
      ['signed', true],
      ['applied', false],
    ]);
    expect(h.lastQuery('TFN0000001')?.deviceVsd?.text ?? '').toBe('');
  });

  it('refuses an empty or oversized VSD before touching the device', async () => {
    const h = harness();
    await h.send({ kind: 'init', baseUrl: 'http://app.test/' });
    expect(await h.send({ kind: 'cs-token', serial: 'TFN0000001', vsd: '' })).toMatch(/"vsd" expected 1\.\.64 bytes, got 0/);
    expect(await h.send({ kind: 'cs-token', serial: 'TFN0000001', vsd: 'x'.repeat(65) })).toMatch(/got 65/);
    expect(h.of('cs-token')).toEqual([]);
  });
});

describe('update all NICs', () => {
  it('runs one session per NIC concurrently; each NIC gets its own result; the other board is refused by the host', async () => {
    const h = harness();
    await h.send({ kind: 'init', baseUrl: 'http://app.test/' });
    expect(await h.send({ kind: 'add-nic' })).toBeUndefined();
    expect(await h.send({ kind: 'add-nic', psid: 'MT_0000000999' })).toBeUndefined();
    // with a USB timing model each transfer takes time, so the sessions' transfers interleave
    for (const serial of ['TFN0000001', 'TFN0000002']) expect(await h.send({ kind: 'set-timing', serial, timing: 'high-speed' })).toBeUndefined();
    const image = new Blob([await sample('good.tfw')]);
    expect(await h.send({ kind: 'start-all', name: 'good.tfw', image, trust: TRUST })).toBeUndefined();

    expect(h.of('batch-start')[0]!.serials).toEqual(['TFN0000001', 'TFN0000002', 'TFN0000003']);
    const results = Object.fromEntries(h.of('batch-result').map((r) => [r.serial, r.result]));
    expect(results['TFN0000001']!.outcome).toBe('updated');
    expect(results['TFN0000002']!.outcome).toBe('updated');
    expect(results['TFN0000003']!.outcome).toBe('rejected-by-host');
    expect(results['TFN0000003']!.report?.failed?.title).toBe('Meant for this device');
    expect(h.lastQuery('TFN0000001')).toMatchObject({ fwVersionRunning: '28.39.1002', fwVersionPending: '28.40.1000' });
    expect(h.lastQuery('TFN0000002')).toMatchObject({ fwVersionRunning: '28.39.1002', fwVersionPending: '28.40.1000' });
    expect(h.lastQuery('TFN0000003')?.fwVersionPending).toBeUndefined();

    // concurrent: both downloads were under way before either session finished
    const at = (pred: (e: DeviceEvent) => boolean) => h.events.findIndex(pred);
    const firstResult = at((e) => e.kind === 'batch-result' && e.result.outcome === 'updated');
    for (const serial of ['TFN0000001', 'TFN0000002']) {
      expect(at((e) => e.kind === 'log' && e.lines.some((l) => l.serial === serial && l.source === 'host' && l.text.startsWith('DATA')))).toBeLessThan(firstResult);
    }
    // the single-session panel's events are not used: they would repaint its steps
    expect(h.of('session-start')).toEqual([]);
  });

  it('is refused when there is no device to update', async () => {
    const h = harness();
    const image = new Blob([await sample('good.tfw')]);
    expect(await h.send({ kind: 'start-all', name: 'good.tfw', image, trust: TRUST })).toMatch(/no device to update/);
  });
});
