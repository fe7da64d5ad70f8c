/**
 * The page's update session with the release catalog the Trust panel keeps (issue #14): the device
 * side verifies the catalog against the session's trust store and its pre-flight gains the catalog
 * row, so a withdrawn release is refused before LOCK and a listed one installs. Dates are around
 * the real clock (the session judges at the host's time).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DeviceService } from '../../../src/service/device-service.ts';
import { memoryNicStore } from '../../../src/service/nic-store.ts';
import type { DeviceEvent, DeviceRequest, SessionCatalog } from '../../../src/service/device-protocol.ts';
import { signCatalog } from '../../../src/core/catalog/catalog-sign.ts';
import { verifyImage } from '../../../src/core/verify/verify-image.ts';
import { loadTrustStore } from '../../../src/core/crypto/trust.ts';
import { sample } from '../emulator/host.ts';
import { demoCert, demoKey } from '../helpers/demo.ts';

const TRUST = [{ name: 'root.pem', text: readFileSync('src/assets/demo-keys/root/cert.pem', 'utf8') }];
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

async function catalogFor(product: Record<string, unknown>): Promise<SessionCatalog> {
  const now = Date.now();
  const json = JSON.stringify({ schema: 'trustflash-release-catalog', schemaVersion: 1, issued: iso(now - 86_400_000), expires: iso(now + 86_400_000), sequence: 3, products: [{ psid: 'TF_0000000001', minimumVersion: '28.0.0', ...product }] });
  const r = await signCatalog(json, { privateKey: (await demoKey('signer')).privateKey, certificate: await demoCert('signer') });
  if (!r.ok) throw new Error(r.reason);
  return { bytes: r.value.der, lastSeen: {} };
}

async function run(catalog: SessionCatalog) {
  const events: DeviceEvent[] = [];
  const service = new DeviceService({ source: 'emulator', post: (e) => events.push(e), store: memoryNicStore(), bankSize: 1024 * 1024, fetchBytes: async (url) => sample(url.split('/').pop()!) });
  await service.handle({ id: 1, kind: 'init', baseUrl: 'http://app.test/' } as DeviceRequest);
  await service.handle({ id: 2, kind: 'start', serial: 'TFN0000001', name: 'good.tfw', image: new Blob([await sample('good.tfw')]), trust: TRUST, mode: 'run', catalog } as DeviceRequest);
  return events.filter((e): e is Extract<DeviceEvent, { kind: 'result' }> => e.kind === 'result').at(-1)!.result;
}

describe('the page update session with a release catalog', () => {
  it('refuses a withdrawn release before anything is sent, and installs the listed one', async () => {
    const good = await sample('good.tfw');
    const { store } = await loadTrustStore(TRUST);
    const digest = (await verifyImage(new Uint8Array(good), { trust: store })).releaseDigest!;
    const withdrawn = await run(await catalogFor({ current: { version: '28.41.0', releaseDigest: 'e'.repeat(64) }, withdrawn: [{ version: '28.40.1000', reason: 'recalled' }] }));
    expect(withdrawn.outcome).toBe('rejected-by-host');
    expect(withdrawn.report?.failed).toMatchObject({ id: 'catalog' });
    expect(withdrawn.report?.failed?.reason).toContain('version 28.40.1000 is withdrawn for PSID TF_0000000001: "recalled"');
    const listed = await run(await catalogFor({ current: { version: '28.40.1000', releaseDigest: digest } }));
    expect(listed.outcome).toBe('updated');
    expect(listed.report?.checks.find((c) => c.id === 'catalog')?.status).toBe('pass');
  });
});
