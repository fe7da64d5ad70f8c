/**
 * The Trust panel's CRLs (issue #14): dropped or picked next to the roots, sorted by content (PEM
 * X509 CRL or DER CRL vs PEM root), remembered offline beside them, listed with issuer, dates, count
 * and an expired flag, removable; a store saved by the previous version loads unchanged; and what
 * the page hands the worker makes the chain row fail for a revoked signer.
 */
import { describe, expect, it } from 'vitest';
import { SetupState, TRUST_KEY } from '../../../src/ui/state/setup.svelte.ts';
import { makeCrl } from '../../../src/core/crypto/crl-issue.ts';
import { toPem } from '../../../src/core/crypto/pem.ts';
import { loadTrustStore } from '../../../src/core/crypto/trust.ts';
import { verifyImage } from '../../../src/core/verify/verify-image.ts';
import { demoCert, demoKey, keyPem, NOW } from '../helpers/demo.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const memory = () => {
  const m = new Map<string, string>();
  return { m, store: { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) } };
};
const noFetch = async () => '';
const enc = (s: string) => new TextEncoder().encode(s);

async function revokingSigner(nextUpdate = '2026-12-31T00:00:00Z') {
  const root = await demoCert('root');
  const signer = await demoCert('signer');
  return makeCrl({ issuer: root, privateKey: (await demoKey('root')).privateKey, thisUpdate: new Date('2026-11-01T00:00:00Z'), nextUpdate: new Date(nextUpdate), number: 4n, revoked: [{ serialHex: signer.serialHex, revocationDate: new Date('2026-11-01T00:00:00Z'), reason: 1 }] });
}

describe('SetupState: revocation lists', () => {
  it('a store saved before CRLs existed loads unchanged, and is written back in the same shape', () => {
    const { m, store } = memory();
    const old = JSON.stringify({ version: 1, useDemoRoot: false, roots: [{ name: 'vendor.pem', text: 'PEM A' }] });
    m.set(TRUST_KEY, old);
    const s = new SetupState(noFetch, store);
    expect(s.extraTrust).toEqual([{ name: 'vendor.pem', text: 'PEM A' }]);
    expect(s.crls).toEqual([]);
    s.setUseDemoRoot(false);
    expect(m.get(TRUST_KEY)).toBe(old);
  });

  it('a DER CRL and a PEM CRL are kept as CRLs, a PEM certificate as a root; each CRL listed, remembered and removable', async () => {
    const { m, store } = memory();
    const crl = await revokingSigner();
    const s = new SetupState(noFetch, store, () => NOW);
    await s.addFiles([
      { name: 'root.crl', bytes: crl.der },
      { name: 'root-crl.pem', bytes: enc(toPem('X509 CRL', crl.der)) },
      { name: 'vendor.pem', bytes: enc(keyPem('next-signer', 'cert.pem')) },
    ]);
    expect(s.fileNote).toBeUndefined();
    expect(s.extraTrust.map((t) => t.name)).toEqual(['vendor.pem']);
    expect(s.crls).toHaveLength(2);
    expect(s.crls[0]).toEqual({
      name: 'root.crl',
      issuer: 'O=TrustFlash Demo, CN=TrustFlash Demo Root CA (TEST KEY, NOT FOR PRODUCTION)',
      thisUpdate: '2026-11-01T00:00:00Z',
      nextUpdate: '2026-12-31T00:00:00Z',
      number: '4',
      revokedCount: 1,
      expired: false,
    });
    const saved = JSON.parse(m.get(TRUST_KEY)!) as { crls: { name: string; text: string }[] };
    expect(saved.crls.map((c) => c.name)).toEqual(['root.crl', 'root-crl.pem']);
    expect(saved.crls[0]!.text).toContain('-----BEGIN X509 CRL-----');

    // a reload: the CRLs come back, listed
    const again = new SetupState(noFetch, store, () => NOW);
    await new Promise((r) => setTimeout(r, 50));
    expect(again.crls.map((c) => c.name)).toEqual(['root.crl', 'root-crl.pem']);
    expect(again.trustNote).toBe('Remembered on this computer: vendor.pem, root.crl, root-crl.pem.');
    again.removeCrl('root.crl');
    expect(again.crls.map((c) => c.name)).toEqual(['root-crl.pem']);
    expect((JSON.parse(m.get(TRUST_KEY)!) as { crls: unknown[] }).crls).toHaveLength(1);
    again.removeCrl('root-crl.pem');
    expect(JSON.parse(m.get(TRUST_KEY)!)).toEqual({ version: 1, useDemoRoot: true, roots: [{ name: 'vendor.pem', text: keyPem('next-signer', 'cert.pem') }] });
  });

  it('an expired CRL is flagged by the clock given', async () => {
    const s = new SetupState(noFetch, memory().store, () => new Date('2027-02-01T00:00:00Z'));
    await s.addFiles([{ name: 'old.crl', bytes: (await revokingSigner('2027-01-01T00:00:00Z')).der }]);
    expect(s.crls[0]!.expired).toBe(true);
  });

  it('a file that is neither a PEM root nor a CRL is refused with the reason, not kept', async () => {
    const s = new SetupState(noFetch, memory().store);
    await s.addFiles([{ name: 'photo.jpg', bytes: new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]) }]);
    expect(s.crls).toEqual([]);
    expect(s.extraTrust).toEqual([]);
    expect(s.fileNote).toBe('Not added: photo.jpg: not a PEM root, and the CRL is not a single DER-encoded structure');
  });

  it('what the page hands the worker makes the sample image fail at the chain row, with the serial', async () => {
    const s = new SetupState(noFetch, memory().store, () => NOW);
    await s.addFiles([{ name: 'root.crl', bytes: (await revokingSigner()).der }, { name: 'root.pem', bytes: enc(keyPem('root', 'cert.pem')) }]);
    const { store, errors, warnings } = await loadTrustStore(s.trust);
    expect(errors).toEqual([]);
    expect(warnings).toEqual([]);
    const image = readFileSync(join(process.cwd(), 'public/samples/good.tfw'));
    const report = await verifyImage(new Uint8Array(image), { trust: store, now: NOW });
    expect(report.failed?.id).toBe('chain');
    expect(report.failed?.reason).toContain('revoked: serial 0x2818d08967ddd6e72fe3e94508ea285f, reason keyCompromise');
  });
});

describe('SetupState: nothing kept is dropped to make room', () => {
  it('a 33rd CRL, a 33rd root and a bundle that would overflow are refused with a reason; what was kept stays', async () => {
    const { store } = memory();
    const s = new SetupState(noFetch, store, () => NOW);
    const pem = toPem('X509 CRL', (await revokingSigner()).der);
    await s.addFiles(Array.from({ length: 32 }, (_, i) => ({ name: `crl-${i}.pem`, bytes: enc(pem) })));
    expect(s.crls).toHaveLength(32);
    await s.addFiles([{ name: 'one-more.pem', bytes: enc(pem) }]);
    expect(s.crls).toHaveLength(32);
    expect(s.crls[0]!.name).toBe('crl-0.pem');
    expect(s.fileNote).toBe('Not added: one-more.pem: the page keeps at most 32 revocation lists; remove one first');
    // replacing a kept one by name is not growth
    await s.addFiles([{ name: 'crl-5.pem', bytes: enc(pem) }]);
    expect(s.fileNote).toBeUndefined();
    // a bundle with one more CRL would need room: refused whole, nothing of it kept
    const { trustBundleText } = await import('../../../src/core/catalog/trust-bundle.ts');
    await s.addFiles([{ name: 'lab.json', bytes: enc(trustBundleText({ name: 'Lab', production: true, roots: [keyPem('root', 'cert.pem')], crls: [pem] })) }]);
    expect(s.fileNote).toMatch(/lab\.json: with its 1 revocation lists the page would keep 33, at most 32; remove some first/);
    expect(s.bundle).toBeUndefined();
    expect(s.production).toBe(false);
    expect(s.crls.map((c) => c.name)).not.toContain('Lab (lab.json) CRL 1');
    // roots: the same rule
    for (let i = 0; i < 32; i++) expect(s.addTrust({ name: `root-${i}.pem`, text: keyPem('root', 'cert.pem') })).toBeUndefined();
    expect(s.addTrust({ name: 'root-32.pem', text: keyPem('root', 'cert.pem') })).toBe('root-32.pem: the page keeps at most 32 vendor roots; remove one first');
    expect(s.extraTrust).toHaveLength(32);
  });
});
