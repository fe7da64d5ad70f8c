/**
 * The page's update session with the device CAs of a trust bundle (issue #14): the device side
 * checks the NIC's receipt against them instead of the DEMO device CA, as `--bundle` does in the CLI.
 * The emulated NICs are certified by the DEMO device CA, so a bundle naming it attests them and a
 * bundle naming another device CA refuses their receipts (the update itself stands).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DeviceService } from '../../../src/service/device-service.ts';
import { memoryNicStore } from '../../../src/service/nic-store.ts';
import type { DeviceEvent, DeviceRequest } from '../../../src/service/device-protocol.ts';
import { sample } from '../emulator/host.ts';

const TRUST = [{ name: 'root.pem', text: readFileSync('src/assets/demo-keys/root/cert.pem', 'utf8') }];
const ca = (name: string) => readFileSync(`src/assets/demo-keys/${name}/cert.pem`, 'utf8');

async function run(deviceCas?: string[]) {
  const events: DeviceEvent[] = [];
  const service = new DeviceService({ source: 'emulator', post: (e) => events.push(e), store: memoryNicStore(), bankSize: 1024 * 1024, fetchBytes: async (url) => sample(url.split('/').pop()!) });
  await service.handle({ id: 1, kind: 'init', baseUrl: 'http://app.test/' } as DeviceRequest);
  await service.handle({ id: 2, kind: 'start', serial: 'TFN0000001', name: 'good.tfw', image: new Blob([await sample('good.tfw')]), trust: TRUST, mode: 'run', ...(deviceCas ? { deviceCas } : {}) } as DeviceRequest);
  return events.filter((e): e is Extract<DeviceEvent, { kind: 'result' }> => e.kind === 'result').at(-1)!.result;
}

describe('device CAs from a trust bundle in the page', () => {
  it('without any: the DEMO device CA attests; with the bundle naming it: attested; naming another CA: refused, the update stands', async () => {
    const plain = await run();
    expect(plain.outcome).toBe('updated');
    expect(plain.receipt).toMatchObject({ verified: true, detail: expect.stringMatching(/^device-attested: TFN0000001/) });
    const same = await run([ca('device-ca')]);
    expect(same.receipt?.verified).toBe(true);
    const other = await run([ca('rogue-device-ca')]);
    expect(other.outcome).toBe('updated');
    expect(other.receipt).toMatchObject({ verified: false, detail: expect.stringMatching(/^receipt refused: the device certificate is not from a trusted device CA/) });
  });
});
