/**
 * crl.ts on its own: round trip through makeCrl, every truncation and every byte flip of a real
 * CRL (never a throw; a changed CRL never both parses and verifies), the refusals makeCrl cannot
 * be talked into, the path check's verdicts, and the trust store's CRL handling.
 */
import { describe, expect, it } from 'vitest';
import { checkPathRevocation, newestFirst, normalizeSerialHex, parseCrl, verifyCrlSignature, type Crl } from '../../../src/core/crypto/crl.ts';
import { makeCrl, type CrlEntryRequest } from '../../../src/core/crypto/crl-issue.ts';
import { toPem } from '../../../src/core/crypto/pem.ts';
import { EMPTY_TRUST, loadTrustStore } from '../../../src/core/crypto/trust.ts';
import { validateChain } from '../../../src/core/crypto/x509.ts';
import { demoCert, demoKey, keyPem, NOW } from '../helpers/demo.ts';

const T0 = new Date('2026-11-01T00:00:00Z');
const T1 = new Date('2026-12-31T00:00:00Z');

async function rootCrl(revoked: CrlEntryRequest[] = [], number = 1n, dates: [Date, Date] = [T0, T1]): Promise<Crl> {
  return makeCrl({ issuer: await demoCert('root'), privateKey: (await demoKey('root')).privateKey, thisUpdate: dates[0], nextUpdate: dates[1], number, revoked });
}

describe('parseCrl and makeCrl', () => {
  it('round trip: issuer, dates, number, entries sorted by serial with their reasons', async () => {
    const crl = await rootCrl([
      { serialHex: 'ff01', revocationDate: T0, reason: 1 },
      { serialHex: '05', revocationDate: T0 },
      { serialHex: '0100', revocationDate: T0, reason: 6 },
    ], 12n);
    const again = parseCrl(crl.der);
    expect(again.ok).toBe(true);
    if (!again.ok) return;
    expect(again.value.issuer).toBe('O=TrustFlash Demo, CN=TrustFlash Demo Root CA (TEST KEY, NOT FOR PRODUCTION)');
    expect(again.value.number).toBe(12n);
    expect([again.value.thisUpdate, again.value.nextUpdate]).toEqual([T0, T1]);
    expect(again.value.revoked.map((r) => [r.serialHex, r.reason])).toEqual([['05', undefined], ['0100', 6], ['00ff01', 1]]);
    expect((await verifyCrlSignature(again.value, await demoCert('root'))).ok).toBe(true);
    expect((await verifyCrlSignature(again.value, await demoCert('rogue-root'))).ok).toBe(false);
  });

  it('serials compare in one spelling', () => {
    expect(normalizeSerialHex('000005')).toBe('05');
    expect(normalizeSerialHex('00ff')).toBe('00ff');
    expect(normalizeSerialHex('ABCD')).toBe('abcd');
  });

  it('what a complete CRL must not hold is refused even when we are asked to write it', async () => {
    await expect(rootCrl([{ serialHex: '05', revocationDate: T0, reason: 8 }])).rejects.toThrow(/removeFromCRL belongs in a delta CRL/);
    await expect(rootCrl([{ serialHex: '05', revocationDate: T0, reason: 7 }])).rejects.toThrow(/reasonCode 7 is not a CRLReason/);
    await expect(rootCrl([{ serialHex: '05', revocationDate: T0 }, { serialHex: '0005', revocationDate: T0 }])).rejects.toThrow(RangeError);
    await expect(rootCrl([], 1n, [T1, T0])).rejects.toThrow(RangeError);
  });

  it('every truncation is a reason, never a throw', async () => {
    const der = (await rootCrl([{ serialHex: '2818d08967ddd6e72fe3e94508ea285f', revocationDate: T0, reason: 1 }])).der;
    for (let n = 0; n < der.length; n++) {
      const r = parseCrl(der.subarray(0, n));
      expect(r.ok, `length ${n}`).toBe(false);
      if (!r.ok) expect(r.reason.length).toBeGreaterThan(10);
    }
  });

  it('every byte flipped (0x01 and 0x80): never a throw, and never a changed CRL that parses AND verifies', async () => {
    const der = (await rootCrl([{ serialHex: '2818d08967ddd6e72fe3e94508ea285f', revocationDate: T0, reason: 1 }])).der;
    const root = await demoCert('root');
    let parsed = 0;
    for (let i = 0; i < der.length; i++) {
      for (const mask of [0x01, 0x80]) {
        const bad = Uint8Array.from(der);
        bad[i]! ^= mask;
        const r = parseCrl(bad);
        if (!r.ok) continue;
        parsed++;
        // a flip that still names the root must fail the signature
        if (r.value.pki.issuer.isEqual(root.pki.subject)) expect((await verifyCrlSignature(r.value, root)).ok, `byte ${i} ^ ${mask}`).toBe(false);
      }
    }
    expect(parsed).toBeGreaterThan(0); // the matrix reached the signature check, not only the parser
  }, 60_000);
});

describe('checkPathRevocation and validateChain', () => {
  it('the newest CRL decides; no CRL of the issuer is a note; a chain without crls checks nothing', async () => {
    const signer = await demoCert('signer');
    const root = await demoCert('root');
    const revoking = await rootCrl([{ serialHex: signer.serialHex, revocationDate: T0, reason: 1 }], 2n);
    const clean = await rootCrl([], 3n);
    expect([revoking, clean].sort(newestFirst)[0]).toBe(clean);
    const path = [signer, root];
    expect(await checkPathRevocation(path, [revoking, clean], NOW)).toMatchObject({ ok: true });
    expect(await checkPathRevocation(path, [revoking], NOW)).toMatchObject({ ok: false, revocation: 'revoked' });
    const none = await checkPathRevocation(path, [], NOW);
    expect(none).toEqual({ ok: true, value: [`no CRL of "${root.subject}" loaded: "${signer.subject}" not checked for revocation`] });
    const chain = await validateChain(signer, [], [root], { time: NOW, crls: [revoking] });
    expect(chain).toMatchObject({ ok: false, revocation: 'revoked' });
    expect((await validateChain(signer, [], [root], { time: NOW })).ok).toBe(true);
  });

  it('a CRL is judged at the chain time: before thisUpdate and after nextUpdate it is status unknown', async () => {
    const path = [await demoCert('signer'), await demoCert('root')];
    const crl = await rootCrl();
    expect(await checkPathRevocation(path, [crl], new Date('2026-10-31T23:59:59Z'))).toMatchObject({ ok: false, revocation: 'unknown' });
    expect(await checkPathRevocation(path, [crl], new Date('2026-12-31T00:00:01Z'))).toMatchObject({ ok: false, revocation: 'unknown' });
    expect(await checkPathRevocation(path, [crl], T1)).toMatchObject({ ok: true });
  });
});

describe('the trust store', () => {
  it('a store without CRLs still types and loads; CRL blocks sit beside roots; a CRL-only source refuses certificates', async () => {
    expect(EMPTY_TRUST.crls).toEqual([]);
    const crl = await rootCrl();
    const mixed = await loadTrustStore([{ name: 'root.pem', text: keyPem('root', 'cert.pem') + toPem('X509 CRL', crl.der) }]);
    expect(mixed.errors).toEqual([]);
    expect(mixed.warnings).toEqual([]);
    expect(mixed.store.crls).toHaveLength(1);
    expect(mixed.store.anchors).toHaveLength(1);
    const onlyCrl = await loadTrustStore([{ name: 'x.crl', text: keyPem('root', 'cert.pem'), kind: 'crl' }]);
    expect(onlyCrl.store.anchors).toHaveLength(0);
    expect(onlyCrl.errors).toEqual(['x.crl block 1: "CERTIFICATE" in a CRL file; roots and keys are trusted separately (--trust)']);
  });

  it('warnings: a CRL from no trusted root, a CRL that does not verify with the root it names', async () => {
    const crl = await rootCrl();
    const alone = await loadTrustStore([{ name: 'r.crl', text: toPem('X509 CRL', crl.der), kind: 'crl' }]);
    expect(alone.warnings[0]).toMatch(/^r\.crl block 1: the CRL of ".*Root CA.*" number 1 issued 2026-11-01T00:00:00Z is from no trusted root/);
    const bad = Uint8Array.from(crl.der);
    bad[bad.length - 3]! ^= 0x01;
    const tampered = await loadTrustStore([{ name: 'root.pem', text: keyPem('root', 'cert.pem') }, { name: 't.crl', text: toPem('X509 CRL', bad), kind: 'crl' }]);
    expect(tampered.errors).toEqual([]);
    expect(tampered.warnings[0]).toMatch(/^t\.crl block 1: .*signature does not verify.*every chain through ".*" will fail \(revocation status unknown\)$/);
  });
});
