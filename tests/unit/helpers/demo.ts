/** Shared test fixtures: the committed demo keys, a trust store over them, and small signed images. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importSigningKey, type SigningKey } from '../../../src/core/crypto/private-key.ts';
import { parsePem } from '../../../src/core/crypto/pem.ts';
import { parseCertificate, type Certificate } from '../../../src/core/crypto/x509.ts';
import { loadTrustStore, type TrustStore } from '../../../src/core/crypto/trust.ts';
import { signImage, type ManifestDraft, type Signer } from '../../../src/core/sign/sign-image.ts';

export const KEYS_DIR = join(process.cwd(), 'src/assets/demo-keys');
export const NOW = new Date('2026-11-22T00:00:00Z');

export function keyPem(name: string, file = 'key.pem'): string {
  return readFileSync(join(KEYS_DIR, name, file), 'utf8');
}

export async function demoKey(name: string): Promise<SigningKey> {
  const k = await importSigningKey(keyPem(name));
  if (!k.ok) throw new Error(k.reason);
  return k.value;
}

export async function demoCert(name: string): Promise<Certificate> {
  const c = await parseCertificate(parsePem(keyPem(name, 'cert.pem')).blocks[0]!.der);
  if (!c.ok) throw new Error(c.reason);
  return c.value;
}

/** Trust: the demo root certificate, plus optional bare public keys of other demo folders. */
export async function demoTrust(bareKeys: string[] = []): Promise<TrustStore> {
  const sources = [{ name: 'root', text: keyPem('root', 'cert.pem') }, ...bareKeys.map((n) => ({ name: n, text: keyPem(n, 'pubkey.pem') }))];
  const { store, errors } = await loadTrustStore(sources);
  if (errors.length) throw new Error(errors.join('; '));
  return store;
}

export const DEVICE = { psid: 'TF_0000000001', deviceId: 4129, version: '28.39.1002', securityVersion: 2, forbiddenVersions: ['28.38.1000'] };

export const DRAFT: ManifestDraft = {
  vendor: 'TrustFlash Test',
  product: 'Test NIC',
  psids: [DEVICE.psid],
  deviceIds: [DEVICE.deviceId],
  version: '28.40.1000',
  securityVersion: 2,
  releaseDate: Date.parse('2026-10-15T00:00:00Z') / 1000,
  forbiddenVersions: ['28.38.1000'],
  // a key the device can check the next update with (issue #10: no image may lock the device out)
  nextKeys: [parsePem(keyPem('signer', 'pubkey.pem')).blocks[0]!.der],
  secured: true,
  dev: false,
};

export function payloadOf(n: number, seed = 7): Uint8Array {
  const p = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    p[i] = s >>> 24;
  }
  return p;
}

/** A small image signed by the demo signer, its certificate carried in the image. */
export async function smallCertImage(payloadSize = 64, draft: Partial<ManifestDraft> = {}): Promise<Uint8Array> {
  const signer: Signer = { key: await demoKey('signer'), chain: [await demoCert('signer')] };
  return signImage({ ...DRAFT, ...draft }, payloadOf(payloadSize), [signer]);
}

/** A small image signed by the demo signer with no certificates (the key must be trusted directly). */
export async function smallBareImage(payloadSize = 64, draft: Partial<ManifestDraft> = {}): Promise<Uint8Array> {
  return signImage({ ...DRAFT, ...draft }, payloadOf(payloadSize), [{ key: await demoKey('signer') }]);
}
