import { describe, expect, it } from 'vitest';
import { generateRsaKey, makeCertificate, privateKeyPem } from '../../src/core/crypto/keygen.ts';
import { importSigningKey } from '../../src/core/crypto/private-key.ts';
import { signImage } from '../../src/core/sign/sign-image.ts';
import { verifyImage } from '../../src/core/verify/verify-image.ts';
import { parseImage } from '../../src/core/image/parse.ts';

describe('smoke', () => {
  it('keygen → sign → verify', async () => {
    const t0 = new Date('2026-01-01T00:00:00Z');
    const t1 = new Date('2036-01-01T00:00:00Z');
    const rootKp = await generateRsaKey();
    const root = await makeCertificate({ commonName: 'Root', role: 'root', publicKey: rootKp.publicKey, privateKey: rootKp.privateKey, notBefore: t0, notAfter: t1 });
    const sKp = await generateRsaKey();
    const signer = await makeCertificate({ commonName: 'Signer', role: 'signer', publicKey: sKp.publicKey, issuer: { certificate: root, privateKey: rootKp.privateKey }, notBefore: t0, notAfter: t1 });
    const key = await importSigningKey(await privateKeyPem(sKp.privateKey));
    if (!key.ok) throw new Error(key.reason);
    const payload = new Uint8Array(1000).map((_, i) => i & 0xff);
    const img = await signImage(
      { vendor: 'V', product: 'P', psids: ['MT_1'], deviceIds: [4129], version: '1.2.3', securityVersion: 1, releaseDate: 1767225600, sequence: 1, forbiddenVersions: [], nextKeys: [], secured: true, dev: false },
      payload,
      [{ key: key.value, chain: [signer] }],
    );
    const p = parseImage(img);
    expect(p.ok).toBe(true);
    const trust = { anchors: [root], keys: [{ keyId: root.keyId, spki: root.spki, label: 'root', demo: false, certificate: root }] };
    const r = await verifyImage(img, { trust, now: new Date('2026-06-01T00:00:00Z'), device: { psid: 'MT_1', securityVersion: 1 } });
    console.log(r.checks.map((c) => `${c.id}:${c.status}:${c.reason}`).join('\n'));
    expect(r.verdict).toBe('accept');
    const bad = img.slice();
    bad[bad.length - 1]! ^= 1;
    const r2 = await verifyImage(bad, { trust, now: new Date('2026-06-01T00:00:00Z') });
    expect(r2.verdict).toBe('reject');
    expect(r2.failed?.id).toBe('payload');
  });
});
