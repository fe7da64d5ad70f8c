/** Images signed with every algorithm the policy allows verify; keys outside the policy are refused at signing and at verification. */
import { describe, expect, it } from 'vitest';
import { importSigningKey } from '../../../src/core/crypto/private-key.ts';
import { toPem } from '../../../src/core/crypto/pem.ts';
import { loadTrustStore } from '../../../src/core/crypto/trust.ts';
import { signImage } from '../../../src/core/sign/sign-image.ts';
import { verifyImage } from '../../../src/core/verify/verify-image.ts';
import { generateRsaKey, makeCertificate } from '../../../src/core/crypto/keygen.ts';
import { DEVICE, DRAFT, NOW, payloadOf } from '../helpers/demo.ts';

async function pkcs8Pem(params: RsaHashedKeyGenParams | EcKeyGenParams | Algorithm): Promise<{ pem: string; spki: Uint8Array }> {
  const kp = (await crypto.subtle.generateKey(params, true, ['sign', 'verify'])) as CryptoKeyPair;
  return { pem: toPem('PRIVATE KEY', new Uint8Array(await crypto.subtle.exportKey('pkcs8', kp.privateKey))), spki: new Uint8Array(await crypto.subtle.exportKey('spki', kp.publicKey)) };
}

const rsa = (bits: number, e = [1, 0, 1]) => ({ name: 'RSASSA-PKCS1-v1_5', modulusLength: bits, publicExponent: new Uint8Array(e), hash: 'SHA-256' });

describe('signature algorithms', () => {
  for (const [name, params] of [
    ['RSA-2048', rsa(2048)],
    ['RSA-3072', rsa(3072)],
    ['RSA-4096', rsa(4096)],
    ['ECDSA P-256', { name: 'ECDSA', namedCurve: 'P-256' }],
    ['Ed25519', { name: 'Ed25519' }],
  ] as const) {
    it(`${name}: an image signed with a directly trusted key verifies; another key of the same kind is unknown`, async () => {
      const { pem, spki } = await pkcs8Pem(params);
      const key = await importSigningKey(pem);
      expect(key.ok, key.ok ? '' : key.reason).toBe(true);
      if (!key.ok) return;
      const img = await signImage(DRAFT, payloadOf(100), [{ key: key.value }]);
      const { store } = await loadTrustStore([{ name, text: toPem('PUBLIC KEY', spki) }]);
      const r = await verifyImage(img, { trust: store, device: DEVICE, now: NOW });
      expect(r.verdict, r.failed?.reason).toBe('accept');
      const other = await pkcs8Pem(params);
      const { store: wrong } = await loadTrustStore([{ name, text: toPem('PUBLIC KEY', other.spki) }]);
      expect((await verifyImage(img, { trust: wrong, now: NOW })).failed?.id).toBe('key');
    }, 60_000);
  }

  it('an ECDSA P-256 signer certificate chains to an RSA root', async () => {
    const t0 = new Date('2026-01-01T00:00:00Z');
    const t1 = new Date('2030-01-01T00:00:00Z');
    const root = await generateRsaKey();
    const rootCert = await makeCertificate({ commonName: 'Root', role: 'root', publicKey: root.publicKey, privateKey: root.privateKey, notBefore: t0, notAfter: t1 });
    const ec = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const ecCert = await makeCertificate({ commonName: 'EC signer', role: 'signer', publicKey: ec.publicKey, issuer: { certificate: rootCert, privateKey: root.privateKey }, notBefore: t0, notAfter: t1 });
    const key = await importSigningKey(toPem('PRIVATE KEY', new Uint8Array(await crypto.subtle.exportKey('pkcs8', ec.privateKey))));
    if (!key.ok) throw new Error(key.reason);
    const img = await signImage(DRAFT, payloadOf(10), [{ key: key.value, chain: [ecCert] }]);
    const { store } = await loadTrustStore([{ name: 'root', text: toPem('CERTIFICATE', rootCert.der) }]);
    const r = await verifyImage(img, { trust: store, now: NOW });
    expect(r.verdict, r.failed?.reason).toBe('accept');
  }, 60_000);

  it('keys outside the policy are refused: RSA-1024, e = 3, P-384 for image signing', async () => {
    const small = await importSigningKey((await pkcs8Pem(rsa(1024))).pem);
    expect(small.ok).toBe(false);
    if (!small.ok) expect(small.reason).toMatch(/1024 bits/);
    const e3 = await importSigningKey((await pkcs8Pem(rsa(2048, [3]))).pem);
    expect(e3.ok).toBe(false);
    if (!e3.ok) expect(e3.reason).toMatch(/exponent is 3/);
    const p384 = await importSigningKey((await pkcs8Pem({ name: 'ECDSA', namedCurve: 'P-384' })).pem);
    expect(p384.ok).toBe(false);
    const { errors } = await loadTrustStore([{ name: 'e3', text: toPem('PUBLIC KEY', (await pkcs8Pem(rsa(2048, [3]))).spki) }]);
    expect(errors.join()).toMatch(/exponent is 3/);
  }, 60_000);

  it('every signature must verify: a second, corrupted signature rejects the image', async () => {
    const a = await pkcs8Pem(rsa(2048));
    const b = await pkcs8Pem({ name: 'Ed25519' });
    const ka = await importSigningKey(a.pem);
    const kb = await importSigningKey(b.pem);
    if (!ka.ok || !kb.ok) throw new Error('keys');
    const img = await signImage(DRAFT, payloadOf(10), [{ key: ka.value }, { key: kb.value }]);
    const { store } = await loadTrustStore([a, b].map((k, i) => ({ name: `k${i}`, text: toPem('PUBLIC KEY', k.spki) })));
    expect((await verifyImage(img, { trust: store, now: NOW })).verdict).toBe('accept');
    // the Ed25519 signature is the second entry; corrupt its last byte
    const { parseImage } = await import('../../../src/core/image/parse.ts');
    const p = parseImage(img);
    if (!p.ok) throw new Error('parse');
    const t = img.slice();
    t[p.value.payloadOffset - 1]! ^= 1;
    const r = await verifyImage(t, { trust: store, now: NOW });
    expect(r.failed?.id).toBe('signature');
    expect(r.failed?.reason).toMatch(/signature 2/);
  }, 60_000);
});
