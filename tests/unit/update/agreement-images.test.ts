/**
 * Host and device agree on images (issue #10, "Host and device agree on images"). The existing
 * tests/unit/device/agreement.test.ts compares the crypto (SHA-256, RSA vectors); this one
 * compares whole verdicts. For each variant of tests/unit/update/variants.ts the device's verdict
 * is learnt by driving the NIC directly (no host in between), and the host verifier is run with
 * what an update session knows: the trust store = the demo root plus the keys the running image
 * embeds, and the identity from the NIC's own QUERY. The two must decide the same, except where
 * the host is the authority (issue #10 items 2 and 5: the device reads no certificates and has no
 * clock), where the host's failing row says "checked by this host only".
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DfuHost } from '../../../src/core/dfu/host.ts';
import { loadTrustStore } from '../../../src/core/crypto/trust.ts';
import { NicClient } from '../../../src/core/update/nic-client.ts';
import { identityFromQuery } from '../../../src/core/update/device-identity.ts';
import { verifyImage } from '../../../src/core/verify/verify-image.ts';
import { NOW } from '../helpers/demo.ts';
import { buildVariants, deviceVerdict, nicFor, type AgreementItem, type Variant } from './variants.ts';

const pem = (p: string) => ({ name: p, text: readFileSync(`src/assets/demo-keys/${p}`, 'utf8') });
/** The factory image embeds the signer and next-signer keys; the demo root is the vendor PKI. */
const TRUST = ['root/cert.pem', 'signer/pubkey.pem', 'next-signer/pubkey.pem'];
const HOST_AUTHORITY: readonly AgreementItem[] = [2, 5];
const ITEMS: Record<AgreementItem, string> = {
  1: 'an extra signature by an unknown key',
  2: 'repeated, corrupt, missing or unused certificate entries',
  3: 'release notes with control characters, invalid UTF-8 or bidi formatting',
  4: 'a garbage nextKeys entry',
  5: 'expired and future-dated images',
  6: 'a development image on a production device',
  7: 'an image larger than the bank',
};

let variants: Variant[];

beforeAll(async () => {
  variants = await buildVariants();
}, 120_000);

async function both(v: Variant) {
  const device = await deviceVerdict(await nicFor(v.nic), v.image);
  const dev = await nicFor(v.nic);
  const host = new DfuHost(dev);
  await host.open();
  const q = await new NicClient(host).query();
  await host.close();
  const { store } = await loadTrustStore(TRUST.map(pem));
  const report = await verifyImage(v.image, { trust: store, device: identityFromQuery(q), now: NOW });
  return { device, report };
}

describe('host and device decide the same on whole images', () => {
  for (const item of [1, 2, 3, 4, 5, 6, 7] as const) {
    const needsDevice = item === 3 || item === 4;
    it(`item ${item}: ${ITEMS[item]}${HOST_AUTHORITY.includes(item) ? ' (the host is the authority)' : ''}${needsDevice ? ' (needs the device branch)' : ''}`, async () => {
      const mine = variants.filter((v) => v.item === item);
      expect(mine.length, `variants for item ${item}`).toBeGreaterThanOrEqual(2);
      const rows: string[] = [];
      const wrong: string[] = [];
      for (const v of mine) {
        const { device, report } = await both(v);
        rows.push(`${v.name}: device ${device.accepted ? 'accepts' : `refuses 0x${device.code.toString(16)}`}; host ${report.verdict}${report.failed ? ` (${report.failed.id}: ${report.failed.reason})` : ''}`);
        if (HOST_AUTHORITY.includes(item)) {
          // the device cannot judge these: it accepts; the host decides and says it alone checked
          if (!device.accepted) wrong.push(`${v.name}: the device refused 0x${device.code.toString(16)}, but it reads no certificates and has no clock`);
          if (report.verdict === 'reject' && !/checked by this host only/.test(report.failed!.reason)) wrong.push(`${v.name}: the host refused without saying it is the only one to check this: ${report.failed!.reason}`);
        } else if ((report.verdict === 'accept') !== device.accepted) {
          wrong.push(`${v.name}: host ${report.verdict}, device ${device.accepted ? 'accepts' : 'refuses'}`);
        }
      }
      expect(wrong, rows.join('\n')).toEqual([]);
    }, 120_000);
  }

  it('the host rows for certificates and dates say that only this host checks them', async () => {
    const v = variants.find((x) => x.name === 'sample good.tfw')!;
    const { report } = await both(v);
    expect(report.checks.find((c) => c.id === 'chain')?.reason).toMatch(/checked by this host only \(the device reads no certificates\)/);
    expect(report.checks.find((c) => c.id === 'expiry')?.reason).toMatch(/checked by this host only \(the device has no clock\)/);
  });
});
