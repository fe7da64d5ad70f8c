/**
 * The signed release catalog (docs/catalog.md): the schema's bounds, the CMS checks (foreign
 * signer, tampered bytes, unsigned content, detached), and every verdict of the `catalog` row,
 * through verifyImage on real signed images so the release digest is the one a report computes.
 */
import { describe, expect, it } from 'vitest';
import { parseCatalogJson, CATALOG_PRODUCTS_MAX, CATALOG_REASON_MAX, CATALOG_WITHDRAWN_MAX } from '../../../src/core/catalog/catalog-json.ts';
import { signCatalog } from '../../../src/core/catalog/catalog-sign.ts';
import { rollbackKey, verifyCatalog, type CatalogResult } from '../../../src/core/catalog/catalog-verify.ts';
import { createCms } from '../../../src/core/crypto/cms.ts';
import { toPem } from '../../../src/core/crypto/pem.ts';
import { verifyImage } from '../../../src/core/verify/verify-image.ts';
import type { Report } from '../../../src/core/verify/report.ts';
import { DEVICE, DRAFT, NOW, demoCert, demoKey, demoTrust, keyPem, smallCertImage } from '../helpers/demo.ts';

const D = (c: string) => c.repeat(64);

export function catalogJson(over: Record<string, unknown> = {}, product: Record<string, unknown> = {}): string {
  return JSON.stringify({
    schema: 'trustflash-release-catalog',
    schemaVersion: 1,
    issued: '2026-11-01T00:00:00Z',
    expires: '2026-12-31T00:00:00Z',
    sequence: 5,
    products: [{ psid: DEVICE.psid, current: { version: DRAFT.version, releaseDigest: D('a') }, minimumVersion: '28.39.0', withdrawn: [], accepted: [], ...product }],
    ...over,
  });
}

async function sign(json: string, who = 'signer'): Promise<Uint8Array> {
  const r = await signCatalog(json, { privateKey: (await demoKey(who)).privateKey, certificate: await demoCert(who), signingTime: NOW });
  if (!r.ok) throw new Error(r.reason);
  return r.value.der;
}

const trust = demoTrust();
const verify = async (der: Uint8Array, time = NOW) => verifyCatalog(der, { trust: await trust, time });

/** The image's real release digest, for listing it. */
async function imageAndDigest(version = DRAFT.version): Promise<{ image: Uint8Array; digest: string }> {
  const image = await smallCertImage(64, { version });
  const r = await verifyImage(image, { trust: await trust, now: NOW });
  return { image, digest: r.releaseDigest! };
}

async function row(image: Uint8Array, catalog: CatalogResult, lastSeen?: Record<string, number>, now = NOW): Promise<{ status: string; reason: string; report: Report }> {
  const report = await verifyImage(image, { trust: await trust, now, device: DEVICE, catalog: { catalog, ...(lastSeen ? { lastSeen } : {}) } });
  const c = report.checks.find((x) => x.id === 'catalog')!;
  return { status: c.status, reason: c.reason, report };
}

describe('catalog JSON: schema and bounds', () => {
  it('reads a well-formed catalog', () => {
    const r = parseCatalogJson(catalogJson());
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value.sequence).toBe(5);
  });
  const bad: [string, string, RegExp][] = [
    ['unknown top-level key', catalogJson({ extra: 1 }), /unknown field "extra"/],
    ['wrong schema', catalogJson({ schema: 'x' }), /catalog.schema must be/],
    ['future schema version', catalogJson({ schemaVersion: 2 }), /schemaVersion 2 is not supported/],
    ['zoneless date', catalogJson({ issued: '2026-11-01T00:00:00' }), /catalog.issued must be a UTC date-time/],
    ['impossible date', catalogJson({ expires: '2026-02-31T00:00:00Z' }), /February 2026 has no day 31/],
    ['expires before issued', catalogJson({ expires: '2026-10-01T00:00:00Z' }), /expires must be after/],
    ['validity over a year', catalogJson({ expires: '2028-01-01T00:00:00Z' }), /at most 366 are allowed/],
    ['sequence 0', catalogJson({ sequence: 0 }), /sequence must be an integer from 1/],
    ['fractional sequence', catalogJson({ sequence: 1.5 }), /sequence must be an integer/],
    ['sequence beyond 2^53', catalogJson({ sequence: 2 ** 60 }), /sequence must be an integer/],
    ['string sequence', catalogJson({ sequence: '5' }), /sequence must be an integer/],
    ['no products', catalogJson({ products: [] }), /products is empty/],
    ['uppercase digest', catalogJson({}, { current: { version: DRAFT.version, releaseDigest: D('A') } }), /64 lowercase hex/],
    ['short digest', catalogJson({}, { current: { version: DRAFT.version, releaseDigest: 'ab' } }), /64 lowercase hex/],
    ['version with leading zero', catalogJson({}, { minimumVersion: '28.01.0' }), /minimumVersion must be a version/],
    ['long PSID', catalogJson({}, { psid: 'X'.repeat(17) }), /psid must be 1 to 16/],
    ['current below minimum', catalogJson({}, { minimumVersion: '29.0.0' }), /below the product's own minimumVersion/],
    ['current withdrawn', catalogJson({}, { withdrawn: [{ version: DRAFT.version, reason: 'x' }] }), /current release .* is also withdrawn/],
    ['withdrawn without reason', catalogJson({}, { withdrawn: [{ version: '28.39.5' }] }), /reason is missing/],
    ['empty reason', catalogJson({}, { withdrawn: [{ version: '28.39.5', reason: ' ' }] }), /non-empty text/],
    ['control character in a reason', catalogJson({}, { withdrawn: [{ version: '28.39.5', reason: 'ok\u001b[2J' }] }), /control or bidi-control/],
    ['bidi override in a reason', catalogJson({}, { withdrawn: [{ version: '28.39.5', reason: 'ok\u202e' }] }), /control or bidi-control/],
    ['reason too long', catalogJson({}, { withdrawn: [{ version: '28.39.5', reason: 'r'.repeat(CATALOG_REASON_MAX + 1) }] }), /at most 256/],
    ['too many withdrawn', catalogJson({}, { withdrawn: Array.from({ length: CATALOG_WITHDRAWN_MAX + 1 }, (_, i) => ({ version: `1.0.${i}`, reason: 'r' })) }), /at most 256 are allowed/],
    ['accepted not older', catalogJson({}, { accepted: [{ version: '28.41.0', releaseDigest: D('b'), reason: 'r' }] }), /not older than the current/],
    ['accepted below minimum', catalogJson({}, { accepted: [{ version: '28.38.0', releaseDigest: D('b'), reason: 'r' }] }), /below the minimumVersion/],
    ['both withdrawn and accepted', catalogJson({}, { withdrawn: [{ version: '28.39.5', reason: 'r' }], accepted: [{ version: '28.39.5', releaseDigest: D('b'), reason: 'r' }] }), /both withdrawn and accepted/],
    ['duplicate PSID', catalogJson({ products: [JSON.parse(catalogJson()).products[0], JSON.parse(catalogJson()).products[0]] }), /PSID TF_0000000001 twice/],
    ['too many products', catalogJson({ products: Array.from({ length: CATALOG_PRODUCTS_MAX + 1 }, () => ({})) }), /at most 1024 are allowed/],
    ['duplicate key', catalogJson().replace('"sequence":5', '"sequence":5,"sequence":9'), /"sequence" appears twice/],
    ['not JSON', '{', /not valid JSON/],
  ];
  for (const [name, text, reason] of bad) {
    it(`refuses: ${name}`, () => {
      const r = parseCatalogJson(text);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(reason);
    });
  }
});

describe('catalog signature', () => {
  it('verifies a catalog signed by the vendor signer, DER and PEM', async () => {
    const der = await sign(catalogJson());
    const r = await verify(der);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.anchor.subject).toMatch(/Demo Root CA/);
    expect(r.value.demo).toBe(true);
    expect((await verify(new TextEncoder().encode(toPem('CMS', der)))).ok).toBe(true);
  });
  it('refuses a foreign signer (a chain to a root not trusted)', async () => {
    const r = await verify(await sign(catalogJson(), 'rogue-signer'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.kind).toBe('chain');
  });
  it('refuses a tampered catalog (one byte of the signed JSON changed)', async () => {
    const der = await sign(catalogJson());
    const text = new TextEncoder().encode('"sequence":5');
    const at = der.findIndex((_, i) => text.every((b, j) => der[i + j] === b));
    const bad = der.slice();
    bad[at + text.length - 1] = '9'.charCodeAt(0);
    const r = await verify(bad);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/messageDigest does not match the content/);
  });
  it('refuses every single flipped byte (never a crash, never a pass)', async () => {
    const der = await sign(catalogJson());
    for (let i = 0; i < der.length; i++) {
      const bad = der.slice();
      bad[i]! ^= 0x01;
      expect((await verify(bad)).ok, `byte ${i}`).toBe(false);
    }
  });
  it('refuses a catalog whose signer a loaded CRL revokes (the same revocation as image signers)', async () => {
    const { makeCrl } = await import('../../../src/core/crypto/crl-issue.ts');
    const signer = await demoCert('signer');
    const crl = await makeCrl({ issuer: await demoCert('root'), privateKey: (await demoKey('root')).privateKey, thisUpdate: new Date('2026-11-01T00:00:00Z'), nextUpdate: new Date('2026-12-31T00:00:00Z'), number: 3n, revoked: [{ serialHex: signer.serialHex, revocationDate: new Date('2026-11-01T00:00:00Z'), reason: 1 }] });
    const { loadTrustStore } = await import('../../../src/core/crypto/trust.ts');
    const { store } = await loadTrustStore([{ name: 'root', text: keyPem('root', 'cert.pem') }, { name: 'crl', text: toPem('X509 CRL', crl.der), kind: 'crl' }]);
    const r = await verifyCatalog(await sign(catalogJson()), { trust: store, time: NOW });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.kind).toBe('chain');
      expect(r.reason).toMatch(/revoked: serial 0x2818d08967ddd6e72fe3e94508ea285f, reason keyCompromise/);
    }
  });
  it('refuses unsigned JSON and a detached CMS', async () => {
    const plain = await verify(new TextEncoder().encode(catalogJson()));
    expect(plain.ok).toBe(false);
    if (!plain.ok) expect(plain.kind).toBe('malformed');
    const detached = await createCms({ content: new TextEncoder().encode(catalogJson()), privateKey: (await demoKey('signer')).privateKey, signer: await demoCert('signer') });
    const r = await verify(detached);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/detached/);
  });
  it('refuses a signed catalog whose content breaks the schema', async () => {
    const der = await createCms({ content: new TextEncoder().encode(catalogJson({ sequence: -1 })), privateKey: (await demoKey('signer')).privateKey, signer: await demoCert('signer'), attached: true });
    const r = await verify(der);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.kind).toBe('schema');
  });
  it('refuses to sign a catalog that would not verify', async () => {
    const r = await signCatalog(catalogJson({ sequence: 0 }), { privateKey: (await demoKey('signer')).privateKey, certificate: await demoCert('signer') });
    expect(r.ok).toBe(false);
  });
});

describe('the catalog row', () => {
  it('is skipped (never passed) without a catalog', async () => {
    const { image } = await imageAndDigest();
    const r = await verifyImage(image, { trust: await trust, now: NOW, device: DEVICE });
    expect(r.checks.find((c) => c.id === 'catalog')?.status).toBe('skipped');
  });
  it('passes the current release with its digest', async () => {
    const { image, digest } = await imageAndDigest();
    const r = await row(image, await verify(await sign(catalogJson({}, { current: { version: DRAFT.version, releaseDigest: digest } }))));
    expect(r.status).toBe('pass');
    expect(r.reason).toMatch(/current release 28.40.1000 .* release digest matches; catalog sequence 5/);
    expect(r.report.verdict).toBe('accept');
  });
  it('fails on a release digest mismatch', async () => {
    const { image, digest } = await imageAndDigest();
    const r = await row(image, await verify(await sign(catalogJson())));
    expect(r.status).toBe('fail');
    expect(r.reason).toContain(`the image's is ${digest}, the catalog lists ${D('a')}`);
    expect(r.report.verdict).toBe('reject');
  });
  it('fails a withdrawn version, naming the reason', async () => {
    const { image, digest } = await imageAndDigest('28.39.1500');
    const cat = catalogJson({}, { current: { version: DRAFT.version, releaseDigest: D('a') }, withdrawn: [{ version: '28.39.1500', reason: 'link flaps under load (advisory TF-2026-7)' }], accepted: [{ version: '28.39.1600', releaseDigest: digest, reason: 'x' }] });
    const r = await row(image, await verify(await sign(cat)));
    expect(r.status).toBe('fail');
    expect(r.reason).toMatch(/version 28.39.1500 is withdrawn for PSID TF_0000000001: "link flaps under load \(advisory TF-2026-7\)"/);
  });
  it('passes an older release the catalog accepts, naming its reason; fails one it does not list', async () => {
    const { image, digest } = await imageAndDigest('28.39.1500');
    const ok = await row(image, await verify(await sign(catalogJson({}, { accepted: [{ version: '28.39.1500', releaseDigest: digest, reason: 'long-term support branch' }] }))));
    expect(ok.status).toBe('pass');
    expect(ok.reason).toMatch(/older release 28.39.1500 .* "long-term support branch" \(current 28.40.1000\)/);
    const no = await row(image, await verify(await sign(catalogJson())));
    expect(no.status).toBe('fail');
    expect(no.reason).toMatch(/28.39.1500 is not listed for PSID TF_0000000001: an older release the catalog does not accept/);
  });
  it('fails a version below the minimum', async () => {
    const { image } = await imageAndDigest('28.39.1500');
    const r = await row(image, await verify(await sign(catalogJson({}, { minimumVersion: '28.39.2000' }))));
    expect(r.status).toBe('fail');
    expect(r.reason).toMatch(/below the minimum acceptable version 28.39.2000/);
  });
  it('fails a version newer than the current one, and a product the catalog does not list', async () => {
    const { image } = await imageAndDigest('28.41.0');
    expect((await row(image, await verify(await sign(catalogJson())))).reason).toMatch(/newer than the catalog's current release 28.40.1000/);
    const other = await row(image, await verify(await sign(catalogJson({}, { psid: 'OTHER_PSID' }))));
    expect(other.reason).toMatch(/not listed: the catalog lists no product with PSID TF_0000000001/);
  });
  it('fails an expired catalog and one not yet valid, naming the date', async () => {
    const { image, digest } = await imageAndDigest();
    const cat = await verify(await sign(catalogJson({}, { current: { version: DRAFT.version, releaseDigest: digest } })));
    const late = await row(image, cat, undefined, new Date('2027-01-05T00:00:00Z'));
    expect(late.status).toBe('fail');
    expect(late.reason).toMatch(/the catalog expired at 2026-12-31T00:00:00Z/);
    const early = await row(image, cat, undefined, new Date('2026-10-20T00:00:00Z'));
    expect(early.reason).toMatch(/not valid yet .* issued at 2026-11-01T00:00:00Z/);
  });
  it('fails a rolled-back catalog: sequence below the last seen for that root and product', async () => {
    const { image, digest } = await imageAndDigest();
    const cat = await verify(await sign(catalogJson({}, { current: { version: DRAFT.version, releaseDigest: digest } })));
    if (!cat.ok) throw new Error(cat.reason);
    const key = rollbackKey(cat.value.anchor.keyId, DEVICE.psid);
    expect((await row(image, cat, { [key]: 5 })).status).toBe('pass');
    const r = await row(image, cat, { [key]: 6 });
    expect(r.status).toBe('fail');
    expect(r.reason).toMatch(/rolled back: catalog sequence 5 < last seen 6 for PSID TF_0000000001/);
    // another product's state does not apply
    expect((await row(image, cat, { [rollbackKey(cat.value.anchor.keyId, 'OTHER')]: 99 })).status).toBe('pass');
  });
  it('rollback is judged per PSID across roots: the same PSID seen at 6 under another root still refuses sequence 5', async () => {
    const { image, digest } = await imageAndDigest();
    const cat = await verify(await sign(catalogJson({}, { current: { version: DRAFT.version, releaseDigest: digest } })));
    if (!cat.ok) throw new Error(cat.reason);
    // the root a catalog chains to is chosen by the certificates the CMS carries, which no signature covers
    const otherRoot = rollbackKey('f'.repeat(64), DEVICE.psid);
    const r = await row(image, cat, { [otherRoot]: 6 });
    expect(r.status).toBe('fail');
    expect(r.reason).toMatch(/rolled back: catalog sequence 5 < last seen 6 for PSID TF_0000000001/);
    expect((await row(image, cat, { [otherRoot]: 5, [rollbackKey(cat.value.anchor.keyId, DEVICE.psid)]: 4 })).status).toBe('pass');
  });

  it('without a device, every PSID the image names must be listed', async () => {
    const image = await smallCertImage(64, { psids: [DEVICE.psid, 'TF_0000000002'] });
    const digest = (await verifyImage(image, { trust: await trust, now: NOW })).releaseDigest!;
    const cat = await verify(await sign(catalogJson({}, { current: { version: DRAFT.version, releaseDigest: digest } })));
    const noDevice = await verifyImage(image, { trust: await trust, now: NOW, catalog: { catalog: cat } });
    const c = noDevice.checks.find((x) => x.id === 'catalog')!;
    expect(c.status).toBe('fail');
    expect(c.reason).toMatch(/not listed: the image is also for PSID TF_0000000002, which the catalog does not list/);
    // with the device, only its PSID is judged
    expect((await row(image, cat)).status).toBe('pass');
  });

  it('fails when the catalog itself was refused (foreign signer), naming why', async () => {
    const { image } = await imageAndDigest();
    const r = await row(image, await verify(await sign(catalogJson(), 'rogue-signer')));
    expect(r.status).toBe('fail');
    expect(r.reason).toMatch(/the release catalog was refused \(its signer is not trusted\)/);
  });
  it('is not judged before the image is authenticated', async () => {
    const { image, digest } = await imageAndDigest();
    const bad = image.slice();
    bad[40]! ^= 1; // inside the manifest
    const r = await row(bad, await verify(await sign(catalogJson({}, { current: { version: DRAFT.version, releaseDigest: digest } }))));
    expect(r.status).toBe('skipped');
  });
});
