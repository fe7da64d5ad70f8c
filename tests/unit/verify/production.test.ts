/**
 * Production mode (issue #14) in core: every demo sample is refused with a row naming production
 * mode, every override is refused, and an image signed by the operator's own (non-demo) key passes.
 * Production mode judges at the host's clock (an override is refused), so these run at the real
 * time; the samples are valid from 2026-10-15 to 2046.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeSamples, type SampleEntry } from '../../../src/cli/make-samples.ts';
import { loadTrustStore, type TrustStore } from '../../../src/core/crypto/trust.ts';
import { parsePem } from '../../../src/core/crypto/pem.ts';
import { parseCertificate } from '../../../src/core/crypto/x509.ts';
import { certificatePem, generateRsaKey, makeCertificate, privateKeyPem } from '../../../src/core/crypto/keygen.ts';
import { importSigningKey } from '../../../src/core/crypto/private-key.ts';
import { signImage } from '../../../src/core/sign/sign-image.ts';
import { verifyImage } from '../../../src/core/verify/verify-image.ts';
import { verifyDetached } from '../../../src/core/verify/verify-detached.ts';
import { PRODUCTION_REFUSES } from '../../../src/core/verify/production.ts';
import { DEMO_KEY_IDS } from '../../../src/core/crypto/demo-keys.ts';
import type { CheckId, Report } from '../../../src/core/verify/report.ts';
import { DEVICE, DRAFT, demoCert, demoKey, demoTrust, payloadOf, smallCertImage } from '../helpers/demo.ts';
import { signCatalog } from '../../../src/core/catalog/catalog-sign.ts';
import { verifyCatalog } from '../../../src/core/catalog/catalog-verify.ts';

/** The checks before the production row: a sample failing one of these never reaches it. */
const BEFORE: readonly CheckId[] = ['size', 'format', 'key', 'chain', 'signature'];

let dir: string;
let entries: SampleEntry[];
let store: TrustStore;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tf-production-'));
  entries = await makeSamples(dir, { big: false });
  store = (await loadTrustStore([{ name: 'root', text: readFileSync(join(dir, 'demo-root.pem'), 'utf8') }])).store;
}, 120_000);

async function verifySample(e: SampleEntry, production: boolean, now?: Date): Promise<Report> {
  const bytes = new Uint8Array(readFileSync(join(dir, e.file)));
  if (e.kind === 'image') return verifyImage(bytes, { trust: store, device: DEVICE, production, ...(now ? { now } : {}) });
  const cert = await parseCertificate(parsePem(readFileSync(join(dir, e.certificate!), 'utf8')).blocks[0]!.der);
  if (!cert.ok) throw new Error(cert.reason);
  return verifyDetached(bytes, new Uint8Array(readFileSync(join(dir, e.signature!))), { trust: store, certificates: [cert.value], production, ...(now ? { now } : {}) });
}

/** A vendor root and a code-signing signer of the operator's own, made here (not demo keys). */
async function ownPki() {
  const notBefore = new Date(Date.now() - 86400_000);
  const notAfter = new Date(Date.now() + 365 * 86400_000);
  const rootKp = await generateRsaKey(2048);
  const root = await makeCertificate({ commonName: 'Own Root', role: 'root', publicKey: rootKp.publicKey, privateKey: rootKp.privateKey, notBefore, notAfter });
  const signerKp = await generateRsaKey(2048);
  const signer = await makeCertificate({ commonName: 'Own Signer', role: 'signer', publicKey: signerKp.publicKey, issuer: { certificate: root, privateKey: rootKp.privateKey }, notBefore, notAfter });
  const key = await importSigningKey(await privateKeyPem(signerKp.privateKey));
  if (!key.ok) throw new Error(key.reason);
  const trust = (await loadTrustStore([{ name: 'own-root', text: certificatePem(root) }])).store;
  return { root, signer, key: key.value, trust };
}

describe('production mode refuses every demo sample', () => {
  it('no sample is accepted, and each one that reaches the row fails it naming production mode', async () => {
    expect(entries.length).toBeGreaterThanOrEqual(14);
    for (const e of entries) {
      const off = await verifySample(e, false);
      const on = await verifySample(e, true);
      expect(on.verdict, `${e.file} (${e.title})`).toBe('reject');
      const row = on.checks.find((c) => c.id === 'production');
      expect(row, `${e.title}: a production-mode report has the row`).toBeDefined();
      expect(off.checks.some((c) => c.id === 'production'), 'off: no row').toBe(false);
      if (off.failed && BEFORE.includes(off.failed.id)) {
        // refused before the signature is trusted: the same failure, the row skipped and saying production mode is on
        expect(on.failed?.id, e.title).toBe(off.failed.id);
        expect(row!.status).toBe('skipped');
        expect(row!.reason).toMatch(/^production mode on/);
      } else {
        expect(on.failed?.id, `${e.title}: ${on.failed?.reason}`).toBe('production');
        expect(on.failed?.reason).toMatch(new RegExp(`^${PRODUCTION_REFUSES}: signed with a DEMO key`));
        expect(on.notices.join(' ')).not.toMatch(/proves nothing outside a demo/);
      }
    }
  }, 120_000);

  it('the demo NIC (it embeds only demo keys) is named as the reason too', async () => {
    const good = entries.find((e) => e.file === 'good.tfw')!;
    const bytes = new Uint8Array(readFileSync(join(dir, good.file)));
    const r = await verifyImage(bytes, { trust: store, device: { ...DEVICE, keyIds: [...DEMO_KEY_IDS].slice(1, 3) }, production: true });
    expect(r.failed?.reason).toMatch(/the device embeds only DEMO keys/);
  });
});

describe('production mode refuses every override', () => {
  it('--now fails the production row before anything else is checked (image and detached)', async () => {
    const now = new Date('2026-11-22T00:00:00Z');
    for (const file of ['good.tfw', 'generic.bin']) {
      const e = entries.find((x) => x.file === file)!;
      const r = await verifySample(e, true, now);
      expect(r.verdict).toBe('reject');
      expect(r.checks[0]!.id).toBe('production');
      expect(r.failed?.id).toBe('production');
      expect(r.failed?.reason).toMatch(/refused in production mode: the check override --now 2026-11-22T00:00:00.000Z/);
      expect(r.checks.filter((c) => c.id !== 'production').every((c) => c.status === 'skipped')).toBe(true);
      expect(r.overrides).toHaveLength(1);
    }
  });

  it('a final image (the signed last-image opt-in), a development image and demo nextKeys are refused', async () => {
    const own = await ownPki();
    const sign = (draft: Partial<typeof DRAFT>) => signImage({ ...DRAFT, nextKeys: [own.key.spki], ...draft }, payloadOf(256), [{ key: own.key, chain: [own.signer] }]);
    const finalImg = await sign({ nextKeys: [], finalImage: true });
    const dev = await sign({ dev: true });
    const demoNext = await sign({ nextKeys: DRAFT.nextKeys });
    const cases: [Uint8Array, RegExp][] = [
      [finalImg, /a final image \(the signed finalImage opt-in/],
      [dev, /a development image \(dev flag set\)/],
      [demoNext, /nextKeys\[0\] is a DEMO key/],
    ];
    for (const [img, why] of cases) {
      expect((await verifyImage(img, { trust: own.trust })).verdict, 'accepted outside production mode').toBe('accept');
      const r = await verifyImage(img, { trust: own.trust, production: true });
      expect(r.failed?.id).toBe('production');
      expect(r.failed?.reason).toMatch(why);
    }
  }, 60_000);
});

describe('production mode with the operator\'s own keys', () => {
  it('an image signed by a non-demo key passes, and the report says production mode is on', async () => {
    const own = await ownPki();
    expect(DEMO_KEY_IDS.size).toBeGreaterThan(0);
    const img = await signImage({ ...DRAFT, nextKeys: [own.key.spki] }, payloadOf(4096), [{ key: own.key, chain: [own.signer] }]);
    const r = await verifyImage(img, { trust: own.trust, device: DEVICE, production: true });
    expect(r.verdict, r.failed?.reason).toBe('accept');
    const row = r.checks.find((c) => c.id === 'production')!;
    expect(row.status).toBe('pass');
    expect(row.title).toBe('Production mode');
    expect(row.reason).toMatch(/^production mode on \(DEMO keys, development images, final images and check overrides are refused\)/);
    // the row sits right after the signature
    expect(r.checks.map((c) => c.id).indexOf('production')).toBe(r.checks.map((c) => c.id).indexOf('signature') + 1);
  }, 60_000);

  it('the same demo image passes outside production mode with its notice', async () => {
    const r = await verifyImage(await smallCertImage(), { trust: await demoTrust() });
    expect(r.verdict).toBe('accept');
    expect(r.notices.join(' ')).toMatch(/DEMO key/);
  });
});

describe('production mode and the release catalog', () => {
  it('an image of my own key with a catalog signed under a DEMO key: the catalog row fails (it vouches for nothing), the verdict is reject', async () => {
    const own = await ownPki();
    const image = await signImage({ ...DRAFT, nextKeys: [own.key.spki] }, payloadOf(256), [{ key: own.key, chain: [own.signer] }]);
    // the page's default: the demo root is still ticked beside the lab's own root
    const demo = await demoTrust();
    const trust: TrustStore = { anchors: [...own.trust.anchors, ...demo.anchors], keys: [...own.trust.keys, ...demo.keys], crls: [] };
    const digest = (await verifyImage(image, { trust })).releaseDigest!;
    const now = new Date();
    const iso = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const json = JSON.stringify({ schema: 'trustflash-release-catalog', schemaVersion: 1, issued: iso(now.getTime() - 86400_000), expires: iso(now.getTime() + 86400_000), sequence: 9, products: [{ psid: DEVICE.psid, current: { version: DRAFT.version, releaseDigest: digest }, minimumVersion: '28.0.0' }] });
    const signed = await signCatalog(json, { privateKey: (await demoKey('signer')).privateKey, certificate: await demoCert('signer') });
    if (!signed.ok) throw new Error(signed.reason);
    const catalog = await verifyCatalog(signed.value.der, { trust, time: now });
    expect(catalog.ok && catalog.value.demo).toBe(true);
    const outside = await verifyImage(image, { trust, device: DEVICE, catalog: { catalog } });
    expect(outside.checks.find((c) => c.id === 'catalog')?.status).toBe('pass');
    const r = await verifyImage(image, { trust, device: DEVICE, catalog: { catalog }, production: true });
    expect(r.checks.find((c) => c.id === 'production')?.status).toBe('pass');
    const row = r.checks.find((c) => c.id === 'catalog')!;
    expect(row.status).toBe('fail');
    expect(row.reason).toMatch(/^refused in production mode: the catalog is signed with a DEMO key/);
    expect(r.verdict).toBe('reject');
  });
});
