/**
 * The page's release catalog (issue #14): dropped in the Trust panel it is sorted from roots and
 * CRLs by content, checked, kept in the catalog store with the highest sequence seen, recalled on
 * the next load; an older catalog (or one by a foreign signer) is refused and the kept one stays;
 * removing it does not forget what was seen; stored values of an unknown schema are set aside.
 */
import { describe, expect, it } from 'vitest';
import { SetupState } from '../../../src/ui/state/setup.svelte.ts';
import { CatalogState } from '../../../src/ui/state/catalog.svelte.ts';
import { memoryCatalogStore, readStoredCatalog } from '../../../src/service/catalog-store.ts';
import { signCatalog } from '../../../src/core/catalog/catalog-sign.ts';
import { toPem } from '../../../src/core/crypto/pem.ts';
import { demoCert, demoKey, keyPem, NOW } from '../helpers/demo.ts';

const noFetch = async () => '';

async function catalog(sequence: number, who = 'signer'): Promise<Uint8Array> {
  const json = JSON.stringify({
    schema: 'trustflash-release-catalog',
    schemaVersion: 1,
    issued: '2026-11-01T00:00:00Z',
    expires: '2026-12-31T00:00:00Z',
    sequence,
    products: [{ psid: 'TF_0000000001', current: { version: '28.40.1000', releaseDigest: 'a'.repeat(64) }, minimumVersion: '28.0.0' }],
  });
  const r = await signCatalog(json, { privateKey: (await demoKey(who)).privateKey, certificate: await demoCert(who) });
  if (!r.ok) throw new Error(r.reason);
  return r.value.der;
}

function setupWith(store = memoryCatalogStore()) {
  const cat = new CatalogState(store, () => NOW);
  const s = new SetupState(noFetch, undefined, () => NOW, cat);
  s.addTrust({ name: 'root.pem', text: keyPem('root', 'cert.pem') });
  return { s, cat, store };
}

describe('CatalogState', () => {
  it('a dropped catalog (DER or PEM) is kept, not taken for a root or a CRL, and recalled on the next load', async () => {
    const { s, cat, store } = setupWith();
    await s.load();
    await s.addFiles([{ name: 'vendor.cms', bytes: await catalog(3) }]);
    expect(cat.error).toBeUndefined();
    expect(cat.summary).toMatchObject({ name: 'vendor.cms', sequence: 3, products: ['TF_0000000001 28.40.1000'], demo: true, expired: false });
    expect(s.extraTrust.map((t) => t.name)).toEqual(['root.pem']);
    expect(s.crls).toEqual([]);
    await s.addFiles([{ name: 'vendor.pem', bytes: new TextEncoder().encode(toPem('CMS', await catalog(4))) }]);
    expect(cat.summary?.sequence).toBe(4);
    const again = setupWith(store);
    await again.s.load();
    expect(again.cat.summary).toMatchObject({ name: 'vendor.pem', sequence: 4 });
    expect(again.cat.forVerify?.lastSeen).toEqual(Object.fromEntries(Object.entries((await store.load()).seen)));
    expect(Object.values((await store.load()).seen)).toEqual([4]);
  });
  it('refuses an older catalog with a message and keeps the newer one, even after the newer one is removed', async () => {
    const { s, cat } = setupWith();
    await s.load();
    await s.addFiles([{ name: 'new.cms', bytes: await catalog(9) }]);
    await s.addFiles([{ name: 'old.cms', bytes: await catalog(8) }]);
    expect(cat.error).toBe('old.cms was refused: catalog sequence 8 is older than sequence 9 already seen for PSID TF_0000000001 (a rolled-back catalog)');
    expect(cat.summary?.name).toBe('new.cms');
    await cat.remove();
    expect(cat.summary).toBeUndefined();
    expect(cat.forVerify).toBeUndefined();
    await s.addFiles([{ name: 'old.cms', bytes: await catalog(8) }]);
    expect(cat.error).toMatch(/a rolled-back catalog/);
    // the same sequence again is not a rollback
    await s.addFiles([{ name: 'same.cms', bytes: await catalog(9) }]);
    expect(cat.summary?.name).toBe('same.cms');
  });
  it('refuses a catalog by a signer the trust store does not know', async () => {
    const { s, cat } = setupWith();
    await s.load();
    await s.addFiles([{ name: 'rogue.cms', bytes: await catalog(5, 'rogue-signer') }]);
    expect(cat.error).toMatch(/^rogue.cms was not loaded: /);
    expect(cat.summary).toBeUndefined();
  });
});

describe('catalog store values', () => {
  it('reads what it wrote; sets aside a value of an unknown schema or shape, naming it', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const key = `${'b'.repeat(64)}/TF_0000000001`;
    expect(readStoredCatalog({ v: 1, value: { name: 'c.cms', bytes } }, { v: 1, value: { [key]: 4 } })).toEqual({ current: { name: 'c.cms', bytes }, seen: { [key]: 4 }, refused: [] });
    expect(readStoredCatalog(undefined, undefined)).toEqual({ current: undefined, seen: {}, refused: [] });
    const newer = readStoredCatalog({ v: 2, value: {} }, { v: 1, value: { [key]: 4, junk: 5, [`${'c'.repeat(64)}/X`]: -1 } });
    expect(newer.current).toBeUndefined();
    expect(newer.refused[0]).toMatch(/schema this TrustFlash does not read \(2; it reads 1\)/);
    expect(newer.seen).toEqual({ [key]: 4 });
    // the two malformed sequences are named, and both raw records are handed back to be kept aside
    expect(newer.refused[1]).toBe('2 stored catalog sequences were malformed; the record was set aside and the readable ones kept');
    expect(newer.setAside).toEqual({ current: { v: 2, value: {} }, seen: { v: 1, value: { [key]: 4, junk: 5, [`${'c'.repeat(64)}/X`]: -1 } } });
    expect(readStoredCatalog({ v: 1, value: { name: 1 } }, undefined).refused).toEqual(['the stored catalog is malformed; it was set aside']);
    // a "seen" record of a newer schema is refused whole and set aside, not overwritten by the next save
    const future = readStoredCatalog(undefined, { v: 2, value: { [key]: 9 } });
    expect(future.seen).toEqual({});
    expect(future.setAside).toEqual({ seen: { v: 2, value: { [key]: 9 } } });
    expect(readStoredCatalog(undefined, { v: 1, value: { [key]: 4 } }).setAside).toBeUndefined();
  });
});

describe('a trust bundle dropped in the Trust panel', () => {
  it('adds its roots, CRLs and catalog, and remembers its name and production flag', async () => {
    const { trustBundleText } = await import('../../../src/core/catalog/trust-bundle.ts');
    const m = new Map<string, string>();
    const memory = { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) };
    const cat = new CatalogState(memoryCatalogStore(), () => NOW);
    const s = new SetupState(noFetch, memory, () => NOW, cat);
    await s.load();
    const text = trustBundleText({ name: 'Lab A', production: true, roots: [keyPem('root', 'cert.pem')], catalog: await catalog(2) });
    await s.addFiles([{ name: 'lab.json', bytes: new TextEncoder().encode(text) }]);
    expect(s.fileNote).toBeUndefined();
    expect(s.extraTrust.map((t) => t.name)).toEqual(['Lab A (lab.json) root 1']);
    // the bundle turned production mode on first, so its catalog, signed under the DEMO key, is refused (it would vouch for nothing)
    expect(cat.summary).toBeUndefined();
    expect(cat.error).toBe('Lab A (lab.json) catalog was refused in production mode: it is signed with a DEMO key, whose private half is public');
    expect(s.bundle).toEqual({ name: 'Lab A', production: true });
    expect(s.bundleProduction).toBe(true);
    // the administrator's flag turned production mode on, remembered, and the page says by what
    expect(s.production).toBe(true);
    expect(s.productionNote).toBe('Production mode was turned on by the trust bundle "Lab A" (lab.json).');
    expect(new SetupState(noFetch, memory, () => NOW).production).toBe(true);
    // remembered: a new page load reads it back
    const again = new SetupState(noFetch, memory, () => NOW);
    expect(again.bundleProduction).toBe(true);
    // a broken bundle is refused whole, with its reason
    await s.addFiles([{ name: 'bad.json', bytes: new TextEncoder().encode('{"schema": "trustflash-trust-bundle", "schemaVersion": 1, "roots": []}') }]);
    expect(s.fileNote).toMatch(/^Not added: bad.json: .*bundle.production must be true or false/);
    expect(s.bundle?.name).toBe('Lab A');
  });

  it("a bundle's device CAs are remembered with it and offered to the update sessions; an old record without them still loads", async () => {
    const { trustBundleText } = await import('../../../src/core/catalog/trust-bundle.ts');
    const { readStoredTrust, storedTrustText } = await import('../../../src/ui/state/trust-memory.ts');
    const m = new Map<string, string>();
    const memory = { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) };
    const s = new SetupState(noFetch, memory, () => NOW, new CatalogState(memoryCatalogStore(), () => NOW));
    await s.load();
    expect(s.deviceCaTexts).toEqual([]);
    const ca = keyPem('device-ca', 'cert.pem');
    await s.addFiles([{ name: 'lab.json', bytes: new TextEncoder().encode(trustBundleText({ name: 'Lab', production: false, roots: [keyPem('root', 'cert.pem')], deviceCas: [ca] })) }]);
    expect(s.fileNote).toBeUndefined();
    expect(s.deviceCaTexts).toEqual([ca]);
    expect(new SetupState(noFetch, memory, () => NOW).deviceCaTexts).toEqual([ca]);
    // a record written before device CAs existed reads as none; a malformed list is refused by name
    expect(readStoredTrust(storedTrustText(true, [], [], { name: 'Old lab', production: false })).bundle).toEqual({ name: 'Old lab', production: false });
    expect(() => readStoredTrust(JSON.stringify({ version: 1, useDemoRoot: true, roots: [], bundle: { name: 'x', production: false, deviceCas: [1] } }))).toThrow('an unknown list of device CAs in the trust bundle record');
  });

  it('a bundle without the production flag leaves production mode as it was; a listener (the flow) is asked to turn it on', async () => {
    const { trustBundleText } = await import('../../../src/core/catalog/trust-bundle.ts');
    const m = new Map<string, string>();
    const memory = { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) };
    const s = new SetupState(noFetch, memory, () => NOW, new CatalogState(memoryCatalogStore(), () => NOW));
    await s.load();
    await s.addFiles([{ name: 'dev.json', bytes: new TextEncoder().encode(trustBundleText({ name: 'Dev lab', production: false, roots: [keyPem('root', 'cert.pem')] })) }]);
    expect(s.production).toBe(false);
    let asked = 0;
    s.onBundleProduction = () => {
      asked++;
      s.setProduction(true);
    };
    await s.addFiles([{ name: 'prod.json', bytes: new TextEncoder().encode(trustBundleText({ name: 'Prod lab', production: true, roots: [keyPem('root', 'cert.pem')] })) }]);
    expect(asked).toBe(1);
    expect(s.production).toBe(true);
  });
});

describe('CatalogState before the page has loaded', () => {
  it('a catalog dropped before load() is still judged against the stored sequences, and they are not lowered', async () => {
    const store = memoryCatalogStore();
    const first = new CatalogState(store, () => NOW);
    const trust = [{ name: 'root.pem', text: keyPem('root', 'cert.pem') }];
    await first.add({ name: 'new.cms', bytes: await catalog(9) }, trust);
    const early = new CatalogState(store, () => NOW); // load() never called
    await early.add({ name: 'old.cms', bytes: await catalog(8) }, trust);
    expect(early.error).toMatch(/a rolled-back catalog/);
    expect(Object.values((await store.load()).seen)).toEqual([9]);
  });
});
