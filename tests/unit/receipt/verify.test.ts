/**
 * Receipts are refused when edited, replayed, from another device or from a device CA nobody
 * trusts (issue #14), and accepted only when all checks hold (core/receipt/verify.ts). Generated
 * manipulations of a good receipt, as MCUboot's negative tests are.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyReceipt, type ReceiptCheck } from '../../../src/core/receipt/verify.ts';
import { armorReceipt, parseReceipt, unarmorReceipt, RECEIPT_BODY_SIZE } from '../../../src/core/receipt/receipt.ts';
import { NOW } from '../helpers/demo.ts';
import { attestedNic, deviceCa, nonce, receiptOf, rogueDeviceCa } from './helpers.ts';
import type { Certificate } from '../../../src/core/crypto/x509.ts';

let ca: Certificate;
let good: Uint8Array;
const n = nonce(0x42);
let check: ReceiptCheck;
let other: Uint8Array;

beforeAll(async () => {
  ca = await deviceCa();
  const [a, b] = await Promise.all([attestedNic({ identity: { serial: 'TFN-A' } }), attestedNic({ identity: { serial: 'TFN-B' } })]);
  good = receiptOf(a, n);
  other = receiptOf(b, n);
  check = { anchors: [ca], time: NOW, nonce: n, serial: 'TFN-A' };
});

describe('a good receipt', () => {
  it('verifies, with the fields the device signed', async () => {
    const v = await verifyReceipt(good, check);
    expect(v.ok, v.ok ? '' : v.reason).toBe(true);
    if (!v.ok) return;
    expect(v.receipt.serial).toBe('TFN-A');
    expect(v.device.subject).toContain('serialNumber=TFN-A');
    expect(v.notes).toEqual([]);
  });
  it('verifies without an expected nonce, saying freshness was not checked', async () => {
    const v = await verifyReceipt(good, { anchors: [ca], time: NOW });
    expect(v.ok && v.notes.join()).toContain('freshness not checked');
  });
  it('round-trips through its armored file, and raw bytes are read as they are', () => {
    const file = new TextEncoder().encode(armorReceipt(good));
    expect(new TextDecoder().decode(file)).toMatch(/^-----BEGIN TRUSTFLASH RECEIPT-----\n/);
    const back = unarmorReceipt(file);
    expect(back.ok && Buffer.from(back.bytes).equals(Buffer.from(good))).toBe(true);
    const raw = unarmorReceipt(good);
    expect(raw.ok && raw.bytes).toBe(good);
    expect(unarmorReceipt(new TextEncoder().encode('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'))).toMatchObject({ ok: false });
    expect(unarmorReceipt(new Uint8Array([0xff, 0xfe, 0x00]))).toMatchObject({ ok: false });
  });
});

describe('refused', () => {
  it('when any single byte is edited, at every position of the receipt (body, signature, certificate, lengths)', async () => {
    const accepted: number[] = [];
    for (let i = 0; i < good.length; i++) {
      const bad = good.slice();
      bad[i]! ^= 1 << (i % 8);
      const v = await verifyReceipt(bad, check);
      if (v.ok) accepted.push(i);
    }
    expect(accepted).toEqual([]);
  }, 120_000);

  it('when bytes are added or cut', async () => {
    for (const bad of [good.subarray(0, good.length - 1), new Uint8Array([...good, 0]), good.subarray(0, RECEIPT_BODY_SIZE), new Uint8Array(0)]) {
      const v = await verifyReceipt(bad, check);
      expect(v.ok).toBe(false);
      expect(!v.ok && v.reason).toMatch(/^not a valid receipt: /);
    }
  });

  it('when it answers an old nonce (a replay)', async () => {
    const v = await verifyReceipt(good, { ...check, nonce: nonce(0x43) });
    expect(!v.ok && v.reason).toMatch(/another nonce/);
  });

  it('when it comes from another device than the one expected', async () => {
    const v = await verifyReceipt(other, check);
    expect(!v.ok && v.reason).toBe('the receipt is from device "TFN-B", not the expected "TFN-A"');
  });

  it("when one device's body is carried with another device's certificate and signature", async () => {
    const bodyA = parseReceipt(good);
    const b = parseReceipt(other);
    if (!bodyA.ok || !b.ok) throw new Error('parse');
    const spliced = new Uint8Array([...bodyA.value.body, ...other.subarray(RECEIPT_BODY_SIZE)]);
    const v = await verifyReceipt(spliced, { anchors: [ca], time: NOW, nonce: n });
    expect(!v.ok && v.reason).toMatch(/not signed by the device certificate's key/);
    // and a body that claims device A, signed by B with B's certificate, cannot exist without B's key; B's own is B's
    const own = await verifyReceipt(other, { anchors: [ca], time: NOW, nonce: n });
    expect(own.ok).toBe(true);
  });

  it('when the device certificate is from a device CA that is not trusted', async () => {
    const rogue = await attestedNic({ identity: { serial: 'TFN-A' } }, 'rogue-device-ca');
    const v = await verifyReceipt(receiptOf(rogue, n), check);
    expect(!v.ok && v.reason).toMatch(/^the device certificate is not from a trusted device CA: /);
    const w = await verifyReceipt(good, { ...check, anchors: [await rogueDeviceCa()] });
    expect(!w.ok && w.reason).toMatch(/not from a trusted device CA/);
    const none = await verifyReceipt(good, { ...check, anchors: [] });
    expect(!none.ok && none.reason).toMatch(/no device CA/);
  });

  it('when the certificate names another device than the body (a certificate for another serial)', async () => {
    // a NIC whose key the CA certified for serial X, while its identity says Y (a mis-provisioned or cloned NIC)
    const issuer = await (await import('./helpers.ts')).issuerOf();
    const liar = await attestedNic({ identity: { serial: 'TFN-Y' }, attestationIssuer: (req) => issuer({ ...req, serial: 'TFN-X' }) });
    const v = await verifyReceipt(receiptOf(liar, n), { anchors: [ca], time: NOW, nonce: n });
    expect(!v.ok && v.reason).toBe('the receipt names device "TFN-Y", its certificate is for "TFN-X"');
    const psidLiar = await attestedNic({ attestationIssuer: (req) => issuer({ ...req, psid: 'OTHER_PSID' }) });
    const w = await verifyReceipt(receiptOf(psidLiar, n), { anchors: [ca], time: NOW, nonce: n });
    expect(!w.ok && w.reason).toMatch(/names PSID "TF_0000000001", its certificate is for "OTHER_PSID"/);
  });

  it('when the certificates are not valid at the time given', async () => {
    const v = await verifyReceipt(good, { ...check, time: new Date('2025-06-01T00:00:00Z') });
    expect(!v.ok && v.reason).toMatch(/not valid until/);
  });
});
