/**
 * Issue #10 on the host alone (no device needed): the SVN cap and floor (S1), the nextKeys lock-out
 * rule and the final image (S2), signatures by keys the host does not hold (S3), tag 10 reserved
 * (S4), the release-notes character set (S5), and the pre-flight rows fed by a device identity.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyIdOf } from '../../../src/core/crypto/keys.ts';
import { signBytes } from '../../../src/core/crypto/signature.ts';
import { SIG_ENTRY, SVN_MAX, type Manifest } from '../../../src/core/image/layout.ts';
import { parseImage } from '../../../src/core/image/parse.ts';
import { encodeSignedPart, writeImage } from '../../../src/core/image/write.ts';
import { manifestFromJson } from '../../../src/core/sign/manifest-json.ts';
import { completeManifest, signImage } from '../../../src/core/sign/sign-image.ts';
import { identityFromQuery } from '../../../src/core/update/device-identity.ts';
import { reportToText } from '../../../src/core/verify/format-report.ts';
import { checkNextKeys, FINAL_IMAGE_NOTICE } from '../../../src/core/verify/next-keys.ts';
import { verifyImage, type DeviceIdentity } from '../../../src/core/verify/verify-image.ts';
import { tf } from '../cli/helpers.ts';
import { DEVICE, DRAFT, NOW, demoCert, demoKey, demoTrust, keyPem, payloadOf, smallCertImage } from '../helpers/demo.ts';

const spki = (name: string) => new Uint8Array(Buffer.from(keyPem(name, 'pubkey.pem').replace(/-----[^-]+-----|\s/g, ''), 'base64'));
const SIGNER_ID = async () => Buffer.from(await keyIdOf(spki('signer'))).toString('hex');

/** Signs a manifest without signImage's own parse check, so that format errors can be tried. */
async function rawImage(over: Partial<Manifest>): Promise<Uint8Array> {
  const payload = payloadOf(32);
  const m = await completeManifest({ ...DRAFT, ...over }, payload);
  const signed = encodeSignedPart({ ...m, ...(over.sequence !== undefined ? { sequence: over.sequence } : {}) });
  const key = await demoKey('signer');
  return writeImage({ signed, entries: [{ type: SIG_ENTRY.SIGNATURE, alg: key.alg, keyId: await keyIdOf(key.spki), signature: await signBytes(key.alg, key.privateKey, signed) }, { type: SIG_ENTRY.CERTIFICATE, der: (await demoCert('signer')).der }], payload });
}

describe('S1: security versions are 0..64, and the floor is the largest of the fuses and the running image', () => {
  it('the parser refuses 65 in either field, naming it; 64 parses', async () => {
    for (const [over, field] of [[{ securityVersion: 65 }, 'securityVersion'], [{ securityVersion: 64, minSecurityVersion: 65 }, 'minSecurityVersion'], [{ securityVersion: 0xffffffff }, 'securityVersion']] as const) {
      const r = parseImage(await rawImage(over));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(`${r.error.field}: ${r.error.message}`).toMatch(new RegExp(`manifest\\.${field}: \\d+ exceeds 64, the number of anti-rollback fuses`));
    }
    expect(parseImage(await rawImage({ securityVersion: SVN_MAX, minSecurityVersion: SVN_MAX })).ok).toBe(true);
  });

  it('sign refuses 65 naming the cap', async () => {
    const r = await manifestFromJson({ vendor: 'V', product: 'P', psids: ['X'], version: '1.0.0', securityVersion: 65, releaseDate: '2026-01-01', nextKeys: [keyPem('signer', 'pubkey.pem')] }, async () => '');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors).toContain('"securityVersion" must be an integer in 0..64');
  });

  it('each part of the floor is named when it decides', async () => {
    const image = await smallCertImage(16, { securityVersion: 4 });
    const trust = await demoTrust();
    const cases: [Partial<DeviceIdentity>, RegExp][] = [
      [{ fusedSvn: 5, runningSvn: 3, runningMinSvn: 3 }, /below 5, the device's fused security version/],
      [{ fusedSvn: 2, runningSvn: 5, runningMinSvn: 3 }, /below 5, the device's running image's security version/],
      [{ fusedSvn: 2, runningSvn: 3, runningMinSvn: 5 }, /below 5, the device's running image's minimum security version/],
    ];
    for (const [d, reason] of cases) {
      const r = await verifyImage(image, { trust, device: { psid: DEVICE.psid, ...d }, now: NOW });
      expect(r.failed?.id).toBe('securityVersion');
      expect(r.failed?.reason).toMatch(reason);
    }
    const ok = await verifyImage(image, { trust, device: { psid: DEVICE.psid, fusedSvn: 4, runningSvn: 4, runningMinSvn: 1 }, now: NOW });
    expect(ok.verdict).toBe('accept');
  });
});

describe('S2: no image may leave the device without a key it can verify the next update with', () => {
  it('the rule: RSA-2048 with e = 65537, against the family rule or the device mask', () => {
    expect(checkNextKeys([spki('signer')]).ok).toBe(true);
    expect(checkNextKeys([]).ok).toBe(false);
    expect(checkNextKeys([spki('signer')], { mask: 0 }).ok).toBe(false);
    const none = checkNextKeys([]);
    expect(!none.ok && none.reason).toMatch(/^after this image the device could verify no further update: nextKeys is empty/);
    expect(checkNextKeys([], { finalImage: true }).ok).toBe(true);
  });

  it('verify refuses a lock-out image with the nextKeys row; a final image passes with a loud notice', async () => {
    const trust = await demoTrust();
    const lock = await verifyImage(await smallCertImage(16, { nextKeys: [] }), { trust, now: NOW });
    expect(lock.failed?.id).toBe('nextKeys');
    const final = await verifyImage(await smallCertImage(16, { nextKeys: [], finalImage: true }), { trust, now: NOW });
    expect(final.verdict).toBe('accept');
    expect(final.notices).toContain(FINAL_IMAGE_NOTICE);
    expect(reportToText(final, 'final.tfw')).toMatch(/NOTE {2}FINAL IMAGE: after it the device accepts no further update\./);
    // a device that says (tag 25) it verifies nothing this host knows: nothing is usable
    const masked = await verifyImage(await smallCertImage(16), { trust, device: { psid: DEVICE.psid, verifiableAlgorithms: 0 }, now: NOW });
    expect(masked.checks.find((c) => c.id === 'nextKeys')?.status).toBe('fail');
  });

  it('a nextKeys item that is not a well-formed SubjectPublicKeyInfo is a format error naming the item', async () => {
    const garbage = [new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x05]), Uint8Array.from([...spki('signer'), 0]), new Uint8Array([0x30, 0x80, 0, 0]), spki('signer').slice(0, 100)];
    for (const g of garbage) {
      const r = parseImage(await rawImage({ nextKeys: [spki('signer'), g] }));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(`${r.error.field}: ${r.error.message}`).toBe('manifest.nextKeys[1]: is not a well-formed DER SubjectPublicKeyInfo');
    }
  });

  it('finalImage has one encoding: 1', async () => {
    const img = await rawImage({ finalImage: true });
    const at = Buffer.from(img).indexOf(Buffer.from([0x12, 0, 1, 0, 0, 0, 1]));
    const zero = img.slice();
    zero[at + 6] = 0;
    const r = parseImage(zero);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.field).toBe('manifest.finalImage');
  });

  it('trustflash sign refuses a lock-out manifest, and --final-image signs it with a loud warning that verify repeats', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tf-final-'));
    writeFileSync(join(dir, 'm.json'), JSON.stringify({ vendor: 'V', product: 'P', psids: ['TF_0000000001'], version: '28.40.1000', securityVersion: 2, releaseDate: '2026-10-15' }));
    writeFileSync(join(dir, 'fw.bin'), payloadOf(64));
    const k = join(process.cwd(), 'src/assets/demo-keys/signer');
    const refused = await tf(dir, 'sign', '--key', `${k}/key.pem`, '--cert', `${k}/cert.pem`, '--manifest', 'm.json', '--payload', 'fw.bin', '-o', 'out.tfw');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/"nextKeys": after this image the device could verify no further update: nextKeys is empty/);
    const signed = await tf(dir, 'sign', '--key', `${k}/key.pem`, '--cert', `${k}/cert.pem`, '--manifest', 'm.json', '--payload', 'fw.bin', '-o', 'out.tfw', '--final-image');
    expect(signed.code, signed.stderr).toBe(0);
    expect(signed.stderr).toMatch(/WARNING: out\.tfw is a FINAL IMAGE/);
    const v = await tf(dir, 'verify', 'out.tfw', '--trust', join(process.cwd(), 'src/assets/demo-keys/root/cert.pem'), '--now', '2026-11-22T00:00:00Z');
    expect(v.code, v.stdout).toBe(0);
    expect(v.stdout).toMatch(/FINAL IMAGE: after it the device accepts no further update/);
    expect(readFileSync(join(dir, 'out.tfw')).includes(Buffer.from([0x12, 0, 1, 0, 0, 0, 1]))).toBe(true);
  });
});

describe('S3: signatures by keys the host does not hold are ignored and reported as not checked', () => {
  it('an extra signature by an unknown key does not refuse the image; a trusted key whose signature fails still does', async () => {
    const trust = await demoTrust();
    const extra = await signImage({ ...DRAFT }, payloadOf(16), [{ key: await demoKey('signer'), chain: [await demoCert('signer')] }, { key: await demoKey('unknown') }]);
    const r = await verifyImage(extra, { trust, device: DEVICE, now: NOW });
    expect(r.verdict).toBe('accept');
    expect(r.checks.find((c) => c.id === 'signature')?.reason).toMatch(/signature 2 \(key [0-9a-f]{16}…\): not checked: key not trusted/);
    const p = parseImage(extra);
    if (!p.ok) throw new Error('parse');
    const bad = extra.slice();
    bad[p.value.sigBlockOffset + 8 + 8 + 36 + 3]! ^= 1; // a byte of the trusted signer's signature
    expect((await verifyImage(bad, { trust, device: DEVICE, now: NOW })).failed?.id).toBe('signature');
    const onlyUnknown = await signImage({ ...DRAFT }, payloadOf(16), [{ key: await demoKey('unknown') }]);
    expect((await verifyImage(onlyUnknown, { trust, now: NOW })).failed?.id).toBe('key');
  });

  it('the device-key row: held keys from QUERY, the key copy from the image, at least one held signature', async () => {
    const trust = await demoTrust();
    const image = await smallCertImage(16);
    const held = { psid: DEVICE.psid, keyIds: [await SIGNER_ID()] };
    expect((await verifyImage(image, { trust, device: held, now: NOW })).checks.find((c) => c.id === 'deviceKey')?.status).toBe('pass');
    const other = await verifyImage(image, { trust, device: { psid: DEVICE.psid, keyIds: ['00'.repeat(32)] }, now: NOW });
    expect(other.failed?.id).toBe('deviceKey');
    expect((await verifyImage(image, { trust, device: { psid: DEVICE.psid, keyIds: [] }, now: NOW })).failed?.reason).toMatch(/reports no embedded keys/);
    // a held key this host has no copy of (no certificate carried, not in the trust store)
    const bare = await signImage({ ...DRAFT }, payloadOf(16), [{ key: await demoKey('signer'), chain: [await demoCert('signer')] }, { key: await demoKey('unknown') }]);
    const unknownId = Buffer.from(await keyIdOf(spki('unknown'))).toString('hex');
    const noCopy = await verifyImage(bare, { trust, device: { psid: DEVICE.psid, keyIds: [await SIGNER_ID(), unknownId] }, now: NOW });
    expect(noCopy.failed?.id).toBe('deviceKey');
    expect(noCopy.failed?.reason).toMatch(/this host has no copy of that key/);
  });
});

describe('S4, S5 and the identity from QUERY', () => {
  it('tag 10 is read and ignored; sign never writes it, and the manifest JSON refuses it', async () => {
    const old = parseImage(await rawImage({ sequence: 1792022400 }));
    expect(old.ok).toBe(true);
    const fresh = parseImage(await smallCertImage(16, { sequence: 5 }));
    expect(fresh.ok && fresh.value.manifest.sequence).toBe(undefined);
    const r = await manifestFromJson({ vendor: 'V', product: 'P', psids: ['X'], version: '1.0.0', securityVersion: 1, releaseDate: '2026-01-01', sequence: 3, nextKeys: [keyPem('signer', 'pubkey.pem')] }, async () => '');
    expect(!r.ok && r.errors.join()).toMatch(/"sequence" is no longer part of the format/);
  });

  it('release notes: C1 controls, bidi embeddings, overrides and isolates are format errors', async () => {
    for (const ch of ['\u0080', '\u0085', '\u009f', '\u202a', '\u202e', '\u2066', '\u2069', '\u0007', '\u007f']) {
      const r = parseImage(await rawImage({ releaseNotes: `a${ch}b` }));
      expect(r.ok, JSON.stringify(ch)).toBe(false);
      if (!r.ok) expect(r.error.field).toBe('manifest.releaseNotes');
    }
    for (const ok of ['tab\there', 'line\r\nbreak', '\u00a0ç ✓ 日本 \u200f \u2067'.replace('\u2067', '')]) expect(parseImage(await rawImage({ releaseNotes: ok })).ok, JSON.stringify(ok)).toBe(true);
  });

  it('identityFromQuery: tag 25 absent means bit 0; a pending bank without a version is still pending', () => {
    const base = { psid: 'TF_0000000001', keyIds: [] };
    expect(identityFromQuery(base).verifiableAlgorithms).toBe(1);
    expect(identityFromQuery({ ...base, verifiableAlgorithms: 0 }).verifiableAlgorithms).toBe(0);
    expect(identityFromQuery({ ...base, banks: { active: 0, pending: 1, lengths: [1, 1] } }).pending).toBe(true);
    expect(identityFromQuery({ ...base, fwVersionPending: '28.40.1000' }).pending).toBe('28.40.1000');
    expect(identityFromQuery({ psid: 'X' }).keyIds).toEqual([]);
    expect(identityFromQuery(base).pending).toBe(false);
  });
});
