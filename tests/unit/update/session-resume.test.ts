/**
 * The host side of resume (issue #13, protocol §5.6): after a power loss in the middle of a
 * download, a new session for the same release finds the device's kept download (QUERY tag 26),
 * sends RESUME_COMPONENT instead of UPDATE_COMPONENT and goes on from the offset the device gives
 * — at most one hash block is sent again, and the NIC ends with the same image pending as an uncut
 * update. Another release, or a kept download the device can no longer vouch for, starts over.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DfuHost } from '../../../src/core/dfu/host.ts';
import { loadTrustStore } from '../../../src/core/crypto/trust.ts';
import { NicClient } from '../../../src/core/update/nic-client.ts';
import { UpdateSession } from '../../../src/core/update/session.ts';
import { signImage } from '../../../src/core/sign/sign-image.ts';
import { createEmulatedNic, type EmulatedUSBDevice, type Fault } from '../../../src/emulator/index.ts';
import { DRAFT, demoCert, demoKey, payloadOf } from '../helpers/demo.ts';
import { sample } from '../emulator/host.ts';

const NOW = new Date('2026-11-22T00:00:00Z');
const BLOCK = 64 * 1024;
const pem = (p: string) => ({ name: p, text: readFileSync(`src/assets/demo-keys/${p}`, 'utf8') });

async function image(version: string, size = 1024 * 1024): Promise<Uint8Array> {
  const signer = { key: await demoKey('signer'), chain: [await demoCert('signer')] };
  return signImage({ ...DRAFT, version }, payloadOf(size), [signer], { hashBlockSize: BLOCK });
}

async function run(dev: EmulatedUSBDevice, bytes: Uint8Array) {
  const [d] = (await dev.usb.getDevices()).filter((x) => x.serialNumber === dev.serialNumber);
  const host = new DfuHost(d ?? dev);
  await host.open();
  const { store } = await loadTrustStore([pem('root/cert.pem')]);
  const log: string[] = [];
  const result = await new UpdateSession({ host, usb: dev.usb, firmware: { kind: 'image', bytes }, trust: store, now: NOW, onEvent: (e) => void (e.kind === 'log' && log.push(e.text)) }).run();
  return { result, log, nic: new NicClient(host) };
}

async function nicWith(faults: Fault[]): Promise<EmulatedUSBDevice> {
  return createEmulatedNic({ factoryImage: await sample('factory.tfw'), bankSize: 2 * 1024 * 1024, faults });
}

describe('resume after a power loss', () => {
  it('at several transfers of a download: the next session resumes, sends at most one hash block again, and ends like an uncut update', async () => {
    const bytes = await image('28.40.1000');
    const reference = await nicWith([]);
    const uncut = await run(reference, bytes);
    expect(uncut.result.outcome, uncut.result.message).toBe('updated');
    for (const block of [40, 100, 200, 255]) {
      const dev = await nicWith([{ kind: 'power-loss', block }]);
      const first = await run(dev, bytes);
      expect(first.result.outcome, `block ${block}`).toBe('failed');
      const taken = block * 4088;
      const again = await run(dev, bytes);
      expect(again.result.outcome, `${block}: ${again.result.message}`).toBe('updated');
      const { resumedAt, bytesSent } = again.result.download!;
      expect(resumedAt, `block ${block}`).toBeGreaterThan(0);
      // resumed at a verified boundary no more than one hash block before what the device had taken
      expect(taken - resumedAt).toBeLessThanOrEqual(BLOCK);
      expect(resumedAt + bytesSent).toBe(bytes.length);
      expect(again.result.steps.find((s) => s.id === 'update-component')?.detail).toMatch(/^resumed: the device kept \d+ of \d+ bytes/);
      expect(again.log.join('\n')).toMatch(/the download resumes at byte \d+/);
      expect(again.result.after?.fwVersionPending).toBe('28.40.1000');
      expect(again.result.after?.banks).toEqual(uncut.result.after?.banks);
    }
  });

  it('another release does not resume the kept one: it starts over and is installed', async () => {
    const a = await image('28.40.1000');
    const b = await image('28.40.2000');
    const dev = await nicWith([{ kind: 'power-loss', block: 150 }]);
    expect((await run(dev, a)).result.outcome).toBe('failed');
    const other = await run(dev, b);
    expect(other.result.outcome, other.result.message).toBe('updated');
    expect(other.result.download).toEqual({ bytesSent: b.length, resumedAt: 0 });
    expect(other.result.steps.find((s) => s.id === 'update-component')?.detail).toBe('the inactive bank is erased');
    expect(other.result.after?.fwVersionPending).toBe('28.40.2000');
  });
});
