/**
 * The attestation key's flash structure obeys the single-fault rule (docs/protocol.md §8.10): one
 * flipped byte in either copy never bricks the NIC nor loses the key, and the boot rewrites the
 * damaged copy. A NIC saved before receipts existed (tests/fixtures/legacy-state) still loads, boots
 * and updates; it has no attestation key and refuses receipts, with a sentence saying so, on every
 * path a host uses: the firmware call, the vendor requests over USB, and the update session.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { EmulatedNic, type NicState } from '../../../src/emulator/nic.ts';
import { NicFirmware, NO_RECEIPT } from '../../../src/emulator/firmware.ts';
import { ATTEST_A, ATTEST_B, Flash, Fuses } from '../../../src/emulator/flash.ts';
import { createEmulatedNic } from '../../../src/emulator/index.ts';
import { decodeState } from '../../../src/emulator/persist.ts';
import { verifyReceipt } from '../../../src/core/receipt/verify.ts';
import { DfuHost } from '../../../src/core/dfu/host.ts';
import { NicClient } from '../../../src/core/update/nic-client.ts';
import { UpdateSession } from '../../../src/core/update/session.ts';
import { requestReceipt } from '../../../src/core/update/session-receipt.ts';
import { AuditLog } from '../../../src/core/update/audit.ts';
import { demoTrust, NOW } from '../helpers/demo.ts';
import { sample } from '../device/nic-helpers.ts';
import { attestedNic, deviceCa, issuerOf, nonce, receiptOf } from './helpers.ts';
import type { Certificate } from '../../../src/core/crypto/x509.ts';

/** The flash with the byte at `addr` XORed with `mask` (only that page copied). */
function flipped(s: NicState, addr: number, mask: number): NicState {
  const index = Math.floor(addr / 65536);
  const flash = s.flash.map(([i, p]) => [i, i === index ? p.slice() : p] as const);
  flash.find(([i]) => i === index)![1][addr % 65536]! ^= mask;
  return { ...s, flash };
}

const copyLength = (s: NicState) => {
  const page = s.flash.find(([i]) => i === 0)![1];
  return 8 + 512 + (page[ATTEST_A + 6]! | (page[ATTEST_A + 7]! << 8)) + 32;
};
const region = (f: Flash, addr: number, n: number) => Buffer.from(f.read(addr, n)!);

let ca: Certificate;
beforeAll(async () => {
  ca = await deviceCa();
});

describe('the attestation key at rest: single faults', () => {
  it('a flipped bit in any byte of either copy keeps the key (the other copy), and the boot rewrites the damaged copy', async () => {
    const nic = await attestedNic();
    const state = nic.snapshot();
    const len = copyLength(state);
    const original = region(nic.flash, ATTEST_A, len);
    expect(region(nic.flash, ATTEST_B, len).equals(original)).toBe(true);
    const hw = { flash: Flash.restore({ bankSize: state.bankSize, pages: state.flash }), fuses: Fuses.restore(state.fuses), now: () => 1000, random: () => {} };
    const fw = await NicFirmware.powerOn(hw);
    const wrong: string[] = [];
    let flips = 0;
    for (const base of [ATTEST_A, ATTEST_B]) {
      for (let i = 0; i < len; i++, flips++) {
        const mask = 1 << (i % 8);
        const bad = flipped(state, base + i, mask);
        hw.flash = Flash.restore({ bankSize: bad.bankSize, pages: bad.flash });
        const status = fw.boot();
        const where = `0x${(base + i).toString(16)} ^ 0x${mask.toString(16)}`;
        if (status !== 0) wrong.push(`${where}: boot status ${status}`);
        if (!fw.hasAttestationKey) wrong.push(`${where}: the key is lost`);
        if (!region(hw.flash, ATTEST_A, len).equals(original) || !region(hw.flash, ATTEST_B, len).equals(original)) wrong.push(`${where}: the copies were not both restored`);
        if ((fw.repairs() & 32) === 0) wrong.push(`${where}: no repair reported`);
        if (i % 211 === 0) {
          // the restored key still signs receipts that verify
          const n = nonce(i & 0xff);
          const r = fw.receipt(n);
          const v = r.ok ? await verifyReceipt(r.bytes, { anchors: [ca], time: NOW, nonce: n }) : undefined;
          if (!v?.ok) wrong.push(`${where}: receipt ${r.ok ? (v as { reason: string }).reason : `refused ${r.reason}`}`);
        }
      }
    }
    expect(flips).toBe(2 * len);
    expect(wrong.slice(0, 10), wrong.slice(0, 10).join('\n')).toEqual([]);
  }, 120_000);

  it('with both copies damaged the NIC has no key: it still boots and updates, and refuses receipts', async () => {
    const nic = await attestedNic();
    const bad = flipped(flipped(nic.snapshot(), ATTEST_A + 300, 1), ATTEST_B + 9, 4);
    const again = await EmulatedNic.create({ state: bad, start: 'boot' });
    expect(again.firmware.bootStatus()).toBe(0);
    expect(again.firmware.hasAttestationKey).toBe(false);
    expect(again.firmware.receipt(nonce())).toEqual({ ok: false, reason: NO_RECEIPT.NO_KEY });
  });

  it('a cold power-on of a NIC with one damaged copy reports the repair', async () => {
    const nic = await attestedNic();
    const again = await EmulatedNic.create({ state: flipped(nic.snapshot(), ATTEST_B + 700, 0x10), start: 'boot' });
    expect(again.repairNotes).toContain('rewrote a damaged attestation-key copy from the other copy');
    expect(again.firmware.hasAttestationKey).toBe(true);
  });
});

const legacy = (name: string): NicState => {
  const r = decodeState(new Uint8Array(gunzipSync(readFileSync(`tests/fixtures/legacy-state/${name}.state.gz`))));
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

describe('a NIC saved before receipts (tests/fixtures/legacy-state)', () => {
  it('loads and boots, has no attestation key, and its firmware refuses receipts saying why', async () => {
    for (const name of ['fresh', 'pending']) {
      const nic = await EmulatedNic.create({ state: legacy(name) });
      expect(nic.firmware.bootStatus(), name).toBe(0);
      expect(nic.firmware.hasAttestationKey).toBe(false);
      expect(nic.firmware.receipt(nonce())).toEqual({ ok: false, reason: NO_RECEIPT.NO_KEY });
    }
  });

  it('over USB, RECEIPT_REQUEST is acknowledged and RECEIPT stalls; LAST_RESULT says the NIC has no attestation key', async () => {
    const dev = await createEmulatedNic({ state: legacy('fresh') });
    const host = new DfuHost(dev);
    await host.open();
    const r = await new NicClient(host).receipt(nonce());
    expect(r.accepted).toBe(false);
    expect(!r.accepted && r.last?.text).toMatch(/no attestation key \(it was made before device receipts existed\)/);
    expect(!r.accepted && r.last?.code).toBe(0x06);
  });

  it('an update session still updates it, and notes "no receipt"', async () => {
    const dev = await createEmulatedNic({ state: legacy('fresh') });
    const host = new DfuHost(dev);
    await host.open();
    const audit = new AuditLog();
    const result = await new UpdateSession({ host, usb: dev.usb, firmware: { kind: 'image', bytes: sample('good') }, trust: await demoTrust(), now: NOW, audit, deviceCa: [ca] }).run();
    expect(result.outcome).toBe('updated');
    expect(result.receipt).toEqual({ verified: false, detail: expect.stringMatching(/^no receipt: the device refused: this NIC has no attestation key/) });
    expect((await audit.records()).some((r) => r.kind === 'receipt')).toBe(true);
  });
});

describe('over USB and in the session', () => {
  it('NicClient gets a receipt that verifies; a nonce of the wrong size is the caller\'s mistake', async () => {
    const dev = await createEmulatedNic({ factoryImage: sample('factory'), bankSize: 1024 * 1024, attestationIssuer: await issuerOf() });
    const host = new DfuHost(dev);
    await host.open();
    const nic = new NicClient(host);
    const n = nonce();
    const r = await nic.receipt(n);
    expect(r.accepted).toBe(true);
    if (!r.accepted) return;
    expect((await verifyReceipt(r.bytes, { anchors: [ca], time: NOW, nonce: n, serial: dev.serialNumber! })).ok).toBe(true);
    await expect(nic.receipt(new Uint8Array(31))).rejects.toThrow(/"nonce" expected 32 bytes, got 31/);
    // a malformed RECEIPT_REQUEST stalls and leaves nothing to read: RECEIPT stalls too, LAST_RESULT says why
    await expect(host.controlOut({ requestType: 'vendor', recipient: 'interface', request: 0x4a, value: 0, index: host.interface.interfaceNumber }, new Uint8Array(8), 'short nonce')).rejects.toThrow();
    await expect(host.controlIn({ requestType: 'vendor', recipient: 'interface', request: 0x4b, value: 0, index: host.interface.interfaceNumber }, 4096, 'receipt')).rejects.toThrow();
    expect((await nic.lastResult()).text).toBe('RECEIPT_REQUEST expects a 32-byte nonce, got 8 bytes');
  });

  it('after an update the session asks for a receipt and reports it device-attested, in its log and its audit', async () => {
    const dev = await createEmulatedNic({ factoryImage: sample('factory'), bankSize: 1024 * 1024, attestationIssuer: await issuerOf() });
    const host = new DfuHost(dev);
    await host.open();
    const audit = new AuditLog();
    const logs: string[] = [];
    const result = await new UpdateSession({ host, usb: dev.usb, firmware: { kind: 'image', bytes: sample('good') }, trust: await demoTrust(), now: NOW, audit, deviceCa: [ca], onEvent: (e) => void (e.kind === 'log' && logs.push(e.text)) }).run();
    expect(result.outcome).toBe('updated');
    expect(result.receipt?.verified).toBe(true);
    expect(result.receipt?.detail).toMatch(new RegExp(`^device-attested: ${dev.serialNumber} \\(PSID TF_0000000001\\) signed that it is running 28\\.39\\.1002, pending 28\\.40\\.1000`));
    expect(logs.some((l) => l.startsWith('device-attested: '))).toBe(true);
    const rec = (await audit.records()).find((r) => r.kind === 'receipt')!.data as { verified: boolean; receipt: string };
    expect(rec.verified).toBe(true);
    expect(rec.receipt).toMatch(/^-----BEGIN TRUSTFLASH RECEIPT-----/);
  });

  it('the session keeps but does not vouch for a receipt it cannot check (no device CA, or another CA)', async () => {
    const dev = await createEmulatedNic({ factoryImage: sample('factory'), bankSize: 1024 * 1024, attestationIssuer: await issuerOf('rogue-device-ca') });
    const host = new DfuHost(dev);
    await host.open();
    const result = await new UpdateSession({ host, usb: dev.usb, firmware: { kind: 'image', bytes: sample('good') }, trust: await demoTrust(), now: NOW, deviceCa: [ca] }).run();
    expect(result.outcome).toBe('updated');
    expect(result.receipt?.verified).toBe(false);
    expect(result.receipt?.bytes?.length).toBeGreaterThan(400);
    expect(result.receipt?.detail).toMatch(/^receipt refused: the device certificate is not from a trusted device CA/);
  });

  it('an attested receipt must name the release the session sent as pending: the same receipt held to another release is refused', async () => {
    const dev = await createEmulatedNic({ factoryImage: sample('factory'), bankSize: 1024 * 1024, attestationIssuer: await issuerOf() });
    const host = new DfuHost(dev);
    await host.open();
    const result = await new UpdateSession({ host, usb: dev.usb, firmware: { kind: 'image', bytes: sample('good') }, trust: await demoTrust(), now: NOW, deviceCa: [ca] }).run();
    expect(result.outcome).toBe('updated');
    expect(result.receipt?.verified, result.receipt?.detail).toBe(true);
    expect(result.receipt?.detail).toMatch(/pending 28\.40\.1000 \(the release this session sent\)/);
    expect(result.receipt?.fields?.pendingDigest).toBe(result.report?.releaseDigest);
    // the same device asked again, but the host expects another release: refused, naming both digests
    const nic = new NicClient(host);
    const other = 'ab'.repeat(32);
    const again = await requestReceipt(nic, { deviceCa: [ca], serial: undefined, time: NOW, pendingRelease: other });
    expect(again.verified).toBe(false);
    expect(again.detail).toBe(`receipt refused: the device signed that release digest ${result.report?.releaseDigest} is pending, not the image this session sent (release digest ${other})`);
  });

  it('a plain DFU device: "no receipt", and the update is not failed for it', async () => {
    const dev = await createEmulatedNic({ factoryImage: sample('factory'), bankSize: 1024 * 1024, vendorRequests: false, attestationIssuer: await issuerOf() });
    const host = new DfuHost(dev);
    await host.open();
    const result = await new UpdateSession({ host, usb: dev.usb, firmware: { kind: 'image', bytes: sample('good') }, trust: await demoTrust(), now: NOW, deviceCa: [ca] }).run();
    expect(result.outcome).toBe('updated');
    expect(result.receipt).toEqual({ verified: false, detail: 'no receipt: a plain DFU device does not sign update receipts' });
  });
});
