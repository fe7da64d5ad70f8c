/**
 * Revocation (issue #14) with the real `openssl`, both ways: CRLs made by `openssl ca -gencrl`
 * (revoking the demo signer with `openssl ca -revoke … -crl_reason keyCompromise`) are read by
 * `trustflash verify --crl` and fail the chain row; CRLs made by `trustflash crl` pass
 * `openssl crl -CAfile` and make `openssl verify -crl_check` report the certificate revoked. And the
 * variants: expired, not yet valid, from the rogue root, forged under the vendor root's name,
 * tampered signature and list, the intermediate or the leaf revoked, an unknown critical extension,
 * DER and PEM, two CRLs of one issuer. Fixed dates, checked at --now.
 */
import { readFile, writeFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSamples } from '../../../src/cli/make-samples.ts';
import { DEMO_KEYS, manifestJson, mustOpenssl, openssl, tempDir, tf, type Result } from '../cli/helpers.ts';

const NOW = '2026-11-22T00:00:00Z';
const ROOT_SUBJECT = 'O=TrustFlash Demo, CN=TrustFlash Demo Root CA (TEST KEY, NOT FOR PRODUCTION)';
const SIGNER_SERIAL = '2818d08967ddd6e72fe3e94508ea285f';
const key = (who: string, f = 'cert.pem') => join(DEMO_KEYS, who, f);

let dir = '';
let samples = '';
let cleanup: () => Promise<void> = async () => {};
const p = (f: string) => join(dir, f);
const ossl = (...args: string[]) => mustOpenssl(dir, ...args);
const tfHere = (...argv: string[]) => tf(dir, ...argv);

/** `trustflash verify good.tfw` against the demo root and these CRLs, at NOW. */
const verifyWith = (...crls: string[]) => tfHere('verify', join(samples, 'good.tfw'), '--trust', key('root'), ...crls.flatMap((c) => ['--crl', c]), '--now', NOW, '--json');

function chainRow(r: Result): { status: string; reason: string } {
  const j = JSON.parse(r.stdout) as { checks: { id: string; status: string; reason: string }[] };
  return j.checks.find((c) => c.id === 'chain')!;
}

/**
 * A minimal `openssl ca` in its own folder: the CA certificate and key, an index.txt, a crlnumber,
 * and crl_extensions (AKI, or AKI plus an unknown critical extension, or nothing).
 */
async function opensslCa(name: string, caCert: string, caKey: string, ext: 'aki' | 'critical' | 'none' | { extra: string } = 'aki'): Promise<string> {
  const cnf = p(`${name}.cnf`);
  await writeFile(p(`${name}.index.txt`), '');
  await writeFile(p(`${name}.crlnumber`), '01\n');
  await writeFile(
    cnf,
    `[ca]
default_ca = ca_${name}
[ca_${name}]
database = ${p(`${name}.index.txt`)}
crlnumber = ${p(`${name}.crlnumber`)}
certificate = ${caCert}
private_key = ${caKey}
default_md = sha256
default_crl_days = 30
${ext === 'none' ? '' : 'crl_extensions = crl_ext'}
[crl_ext]
authorityKeyIdentifier = keyid:always
${ext === 'critical' ? '1.3.6.1.4.1.99999.1 = critical,ASN1:NULL' : typeof ext === 'object' ? ext.extra : ''}
`,
  );
  return cnf;
}

/** openssl ca -gencrl with fixed lastUpdate/nextUpdate (YYYYMMDDHHMMSSZ). */
async function gencrl(cnf: string, out: string, last = '20261101000000Z', next = '20261231000000Z'): Promise<string> {
  await ossl('ca', '-config', cnf, '-gencrl', '-crl_lastupdate', last, '-crl_nextupdate', next, '-out', out);
  return p(out);
}

async function revoke(cnf: string, cert: string, reason: string): Promise<void> {
  await ossl('ca', '-config', cnf, '-revoke', cert, '-crl_reason', reason);
}

/** The DER of a PEM CRL, by openssl. */
async function toDer(pem: string, out: string): Promise<string> {
  await ossl('crl', '-in', pem, '-outform', 'DER', '-out', out);
  return p(out);
}

let rootCnf = '';

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('crl'));
  samples = p('samples');
  await makeSamples(samples, { big: false });
  rootCnf = await opensslCa('root', key('root'), key('root', 'key.pem'));
  await gencrl(rootCnf, 'root-empty.crl');
  await revoke(rootCnf, key('signer'), 'keyCompromise');
  await gencrl(rootCnf, 'root-revoked.crl');
}, 120_000);

afterAll(async () => {
  await cleanup();
});

describe('openssl ca -gencrl → trustflash verify --crl', () => {
  it('the openssl CRL is what the test means: the signer revoked, keyCompromise', async () => {
    const text = (await ossl('crl', '-in', p('root-revoked.crl'), '-noout', '-text')).stdout;
    expect(text).toContain(`Serial Number: ${SIGNER_SERIAL.toUpperCase()}`);
    expect(text).toContain('Key Compromise');
  });

  for (const form of ['PEM', 'DER'] as const) {
    it(`a CRL revoking the demo signer (${form}) fails the chain row with serial, reason, issuer and date`, async () => {
      const file = form === 'PEM' ? p('root-revoked.crl') : await toDer(p('root-revoked.crl'), 'root-revoked.der');
      const r = await verifyWith(file);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toBe('');
      const row = chainRow(r);
      expect(row.status).toBe('fail');
      expect(row.reason).toContain(`revoked: serial 0x${SIGNER_SERIAL}, reason keyCompromise, by the CRL of "${ROOT_SUBJECT}" issued 2026-11-01T00:00:00Z`);
    });
  }

  it('an empty CRL: accepted, and the chain row says which CRL vouched for the signer', async () => {
    const r = await verifyWith(p('root-empty.crl'));
    expect(r.code, r.stdout).toBe(0);
    expect(chainRow(r).reason).toMatch(/"O=TrustFlash Demo, CN=TrustFlash Demo Firmware Signer \(TEST KEY\)" not revoked per the CRL of "O=TrustFlash Demo, CN=TrustFlash Demo Root CA[^"]*" number 1 issued 2026-11-01T00:00:00Z, next update 2026-12-31T00:00:00Z/);
  });

  it('without any CRL the chain row says none was loaded (not a silent "not revoked")', async () => {
    const r = await verifyWith();
    expect(r.code).toBe(0);
    expect(chainRow(r).reason).toContain('revocation not checked: no revocation list (CRL) is loaded');
  });

  it('an expired CRL (past nextUpdate) fails closed', async () => {
    const r = await verifyWith(await gencrl(rootCnf, 'expired.crl', '20261001000000Z', '20261101000000Z'));
    expect(r.code).toBe(1);
    expect(chainRow(r).reason).toMatch(/revocation status of "[^"]*Firmware Signer[^"]*" unknown: the CRL of "[^"]*" number \d+ issued 2026-10-01T00:00:00Z expired on 2026-11-01T00:00:00Z \(its nextUpdate\)/);
  });

  it('a CRL not yet valid (thisUpdate after --now) fails closed', async () => {
    const r = await verifyWith(await gencrl(rootCnf, 'future.crl', '20261201000000Z', '20270101000000Z'));
    expect(r.code).toBe(1);
    expect(chainRow(r).reason).toMatch(/unknown: the CRL of .* is not valid until 2026-12-01T00:00:00Z/);
  });

  it('--now decides freshness: at an earlier --now the expired CRL is current, and its revocation of the signer counts', async () => {
    const r = await tfHere('verify', join(samples, 'good.tfw'), '--trust', key('root'), '--crl', p('expired.crl'), '--now', '2026-10-15T00:00:00Z', '--json');
    expect(r.code).toBe(1);
    expect(chainRow(r).reason).toContain(`revoked: serial 0x${SIGNER_SERIAL}, reason keyCompromise, by the CRL of "${ROOT_SUBJECT}" issued 2026-10-01T00:00:00Z`);
  });

  it('a CRL of the rogue root: a load warning, and the chain row names it as not used', async () => {
    const cnf = await opensslCa('rogue', key('rogue-root'), key('rogue-root', 'key.pem'));
    await revoke(cnf, key('rogue-signer'), 'superseded');
    const r = await verifyWith(await gencrl(cnf, 'rogue.crl'));
    expect(r.code, r.stdout).toBe(0);
    expect(r.stderr).toMatch(/^warning: .*rogue\.crl block 1: the CRL of "O=Rogue, CN=Rogue Root CA \(untrusted TEST KEY\)" number 1 issued 2026-11-01T00:00:00Z is from no trusted root/);
    expect(chainRow(r).reason).toContain('the CRL of "O=Rogue, CN=Rogue Root CA (untrusted TEST KEY)" number 1 issued 2026-11-01T00:00:00Z not used: its issuer is neither a trusted root nor on this chain');
  });

  it("a CRL forged under the vendor root's name with the rogue key fails closed (signature does not verify)", async () => {
    await ossl('req', '-x509', '-new', '-key', key('rogue-root', 'key.pem'), '-subj', '/O=TrustFlash Demo/CN=TrustFlash Demo Root CA (TEST KEY, NOT FOR PRODUCTION)', '-days', '3650', '-out', 'fake-root.pem', '-config', '/dev/null');
    // without an AKI it claims the vendor root outright
    const cnf = await opensslCa('forged', p('fake-root.pem'), key('rogue-root', 'key.pem'), 'none');
    const r = await verifyWith(await gencrl(cnf, 'forged.crl'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/warning: .*forged\.crl block 1: the CRL of "O=TrustFlash Demo, CN=TrustFlash Demo Root CA[^"]*" issued 2026-11-01T00:00:00Z was not signed by/);
    expect(chainRow(r).reason).toMatch(/revocation status of "[^"]*Firmware Signer[^"]*" unknown: the CRL of "[^"]*Root CA[^"]*" issued 2026-11-01T00:00:00Z was not signed by "[^"]*Root CA[^"]*" \(signature does not verify\)/);
  });

  it('a tampered CRL fails closed: one flipped byte in the signature, one in the revoked list', async () => {
    const der = await readFile(await toDer(p('root-revoked.crl'), 'tamper-base.der'));
    const sigFlip = Uint8Array.from(der);
    sigFlip[sigFlip.length - 5]! ^= 0x01;
    const at = Buffer.from(der).indexOf(Buffer.from(SIGNER_SERIAL, 'hex'));
    expect(at).toBeGreaterThan(0);
    const listFlip = Uint8Array.from(der);
    listFlip[at + 3]! ^= 0x01;
    for (const [name, bytes] of [['tampered-sig.der', sigFlip], ['tampered-list.der', listFlip]] as const) {
      await writeFile(p(name), bytes);
      const r = await verifyWith(p(name));
      expect(r.code, name).toBe(1);
      expect(chainRow(r).reason, name).toMatch(/unknown: the CRL of .* was not signed by .* \(signature does not verify\)/);
    }
  });

  it('an unknown critical extension: the CRL is refused when loaded (exit 2), naming the extension', async () => {
    const cnf = await opensslCa('crit', key('root'), key('root', 'key.pem'), 'critical');
    const r = await verifyWith(await gencrl(cnf, 'critical.crl'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unsupported critical extension 1.3.6.1.4.1.99999.1');
  });

  it('a delta CRL and a partitioned (issuingDistributionPoint) CRL are refused when loaded, each saying why', async () => {
    const delta = await opensslCa('delta', key('root'), key('root', 'key.pem'), { extra: '2.5.29.27 = critical,ASN1:INTEGER:1' });
    const d = await verifyWith(await gencrl(delta, 'delta.crl'));
    expect(d.code).toBe(2);
    expect(d.stderr).toContain('is a delta CRL (deltaCRLIndicator); only complete CRLs are supported');
    const idp = await opensslCa('idp', key('root'), key('root', 'key.pem'), { extra: 'issuingDistributionPoint = critical, @idp\n[idp]\nfullname = URI:http://crl.example/root.crl\nonlysomereasons = keyCompromise' });
    const i = await verifyWith(await gencrl(idp, 'idp.crl'));
    expect(i.code).toBe(2);
    expect(i.stderr).toContain('has an issuingDistributionPoint (a partitioned or indirect CRL)');
  });

  it('a certificate given as --crl is refused (a root is never trusted by way of a CRL file)', async () => {
    const r = await verifyWith(key('root'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('holds a "CERTIFICATE" block; a CRL file holds "X509 CRL" blocks only');
  });

  it('bytes that are no CRL are a load error, not ignored', async () => {
    await writeFile(p('junk.crl'), new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]));
    const r = await verifyWith(p('junk.crl'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/trust store: .*junk\.crl block 1: the CRL does not parse/);
  });

  it('a detached signature is checked against the CRLs too', async () => {
    const r = await tfHere('verify', join(samples, 'generic.bin'), '--sig', join(samples, 'generic.sig'), '--cert', join(samples, 'demo-signer.pem'), '--trust', key('root'), '--crl', p('root-revoked.crl'), '--now', NOW, '--json');
    expect(r.code).toBe(1);
    expect(chainRow(r).reason).toContain(`revoked: serial 0x${SIGNER_SERIAL}, reason keyCompromise`);
  });
});

describe('an intermediate: revoking it, or its leaf', () => {
  let image = '';
  let interCnf = '';
  beforeAll(async () => {
    const mk = (...a: string[]) => tfHere('keygen', ...a, '--not-before', '2026-01-01', '--days', '3650');
    expect((await mk('--out', 'inter', '--ca', '--cn', 'CRL Test Intermediate', '--ca-key', key('root', 'key.pem'), '--ca-cert', key('root'))).code).toBe(0);
    expect((await mk('--out', 'leaf', '--cn', 'CRL Test Leaf', '--ca-key', p('inter/key.pem'), '--ca-cert', p('inter/cert.pem'))).code).toBe(0);
    await writeFile(p('fw.bin'), new Uint8Array(4096).fill(7));
    await writeFile(p('manifest.json'), manifestJson());
    const s = await tfHere('sign', '--key', 'leaf/key.pem', '--cert', 'leaf/cert.pem', '--chain', 'inter/cert.pem', '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'inter.tfw');
    expect(s.code, s.stderr).toBe(0);
    image = p('inter.tfw');
    interCnf = await opensslCa('inter', p('inter/cert.pem'), p('inter/key.pem'));
    await gencrl(interCnf, 'inter-empty.crl');
  }, 120_000);

  const serialOf = async (cert: string) => (await ossl('x509', '-in', cert, '-noout', '-serial')).stdout.trim().replace('serial=', '').toLowerCase();
  const verifyImage = (...crls: string[]) => tfHere('verify', image, '--trust', key('root'), ...crls.flatMap((c) => ['--crl', c]), '--now', NOW, '--json');

  it("the root's CRL revoking the intermediate fails the chain at the intermediate", async () => {
    const cnf = await opensslCa('root2', key('root'), key('root', 'key.pem'));
    await revoke(cnf, p('inter/cert.pem'), 'cACompromise');
    const r = await verifyImage(await gencrl(cnf, 'root-revokes-inter.crl'), p('inter-empty.crl'));
    expect(r.code).toBe(1);
    expect(chainRow(r).reason).toContain(`certificate "CN=CRL Test Intermediate" revoked: serial 0x${await serialOf(p('inter/cert.pem'))}, reason cACompromise, by the CRL of "${ROOT_SUBJECT}"`);
  });

  it("the intermediate's CRL revoking the leaf fails the chain at the leaf", async () => {
    const cnf = await opensslCa('inter2', p('inter/cert.pem'), p('inter/key.pem'));
    await revoke(cnf, p('leaf/cert.pem'), 'keyCompromise');
    const r = await verifyImage(p('root-empty.crl'), await gencrl(cnf, 'inter-revokes-leaf.crl'));
    expect(r.code).toBe(1);
    expect(chainRow(r).reason).toContain(`certificate "CN=CRL Test Leaf" revoked: serial 0x${await serialOf(p('leaf/cert.pem'))}, reason keyCompromise, by the CRL of "CN=CRL Test Intermediate" issued 2026-11-01T00:00:00Z`);
  });

  it('both CRLs current and empty: accepted, a note for each certificate; the intermediate CRL is not "from no trusted root" once it is on the chain', async () => {
    const r = await verifyImage(p('root-empty.crl'), p('inter-empty.crl'));
    expect(r.code, r.stdout).toBe(0);
    const reason = chainRow(r).reason;
    expect(reason).toContain('"CN=CRL Test Leaf" not revoked per the CRL of "CN=CRL Test Intermediate"');
    expect(reason).toContain('"CN=CRL Test Intermediate" not revoked per the CRL of "O=TrustFlash Demo');
    expect(reason).not.toContain('not used');
    expect(r.stderr).toMatch(/warning: .*inter-empty\.crl block 1: .* is from no trusted root; it is used only if "CN=CRL Test Intermediate" appears as an intermediate/);
  });

  it("only the root's CRL: the leaf is named as not checked, not passed silently", async () => {
    const r = await verifyImage(p('root-empty.crl'));
    expect(r.code).toBe(0);
    expect(chainRow(r).reason).toContain('no CRL of "CN=CRL Test Intermediate" loaded: "CN=CRL Test Leaf" not checked for revocation');
  });

  it("an expired CRL of the intermediate fails closed even with the root's CRL current", async () => {
    const r = await verifyImage(p('root-empty.crl'), await gencrl(interCnf, 'inter-expired.crl', '20261001000000Z', '20261101000000Z'));
    expect(r.code).toBe(1);
    expect(chainRow(r).reason).toMatch(/revocation status of "CN=CRL Test Leaf" unknown: .* expired on 2026-11-01T00:00:00Z/);
  });
});

describe('trustflash crl → openssl and back', () => {
  const issue = (out: string, ...more: string[]) =>
    tfHere('crl', '--ca-key', key('root', 'key.pem'), '--ca-cert', key('root'), '--this-update', '2026-11-01T00:00:00Z', '--next-update', '2026-12-31T00:00:00Z', '--out', out, ...more);
  const atNow = String(Date.parse(NOW) / 1000);

  it('a CRL revoking the signer: openssl checks its signature and reports the signer revoked; trustflash fails the chain', async () => {
    const r = await issue('tf-revoked.crl', '--crl-number', '5', '--revoke', `${key('signer')}:keyCompromise`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`revokes 0x${SIGNER_SERIAL} (keyCompromise)`);
    expect((await ossl('crl', '-in', 'tf-revoked.crl', '-noout', '-CAfile', key('root'))).stderr).toContain('verify OK');
    const text = (await ossl('crl', '-in', 'tf-revoked.crl', '-noout', '-text')).stdout;
    expect(text).toMatch(/CRL Number: \n\s+5/);
    expect(text).toContain('Key Compromise');
    const v = await openssl(dir, 'verify', '-crl_check', '-attime', atNow, '-CRLfile', 'tf-revoked.crl', '-CAfile', key('root'), key('signer'));
    expect(v.code).not.toBe(0);
    expect(v.stdout + v.stderr).toContain('certificate revoked');
    const t = await verifyWith(p('tf-revoked.crl'));
    expect(t.code).toBe(1);
    expect(chainRow(t).reason).toContain(`revoked: serial 0x${SIGNER_SERIAL}, reason keyCompromise, by the CRL of "${ROOT_SUBJECT}" issued 2026-11-01T00:00:00Z`);
  });

  it('an empty CRL (DER): openssl verify -crl_check says OK, and so does trustflash', async () => {
    const r = await issue('tf-empty.der', '--crl-number', '1', '--der');
    expect(r.code, r.stderr).toBe(0);
    expect((await ossl('crl', '-inform', 'DER', '-in', 'tf-empty.der', '-noout', '-CAfile', key('root'))).stderr).toContain('verify OK');
    await ossl('crl', '-inform', 'DER', '-in', 'tf-empty.der', '-out', 'tf-empty.pem');
    const v = await openssl(dir, 'verify', '-crl_check', '-attime', atNow, '-CRLfile', 'tf-empty.pem', '-CAfile', key('root'), key('signer'));
    expect(v.stdout, v.stderr).toContain(': OK');
    expect((await verifyWith(p('tf-empty.der'))).code).toBe(0);
  });

  it('a serial with a reason and a date; reproducible bytes for fixed dates', async () => {
    const args = ['--crl-number', '7', '--revoke', `0x${SIGNER_SERIAL}:superseded:2026-10-01T12:00:00Z`, '--revoke', '12345'];
    expect((await issue('a.crl', ...args)).code).toBe(0);
    expect((await issue('b.crl', ...args)).code).toBe(0);
    expect(await readFile(p('a.crl'))).toEqual(await readFile(p('b.crl')));
    const text = (await ossl('crl', '-in', 'a.crl', '-noout', '-text')).stdout;
    expect(text).toContain('Serial Number: 3039'); // 12345, no reason code: "unspecified" is left out (RFC 5280 §5.3.1)
    expect(text).toMatch(/Serial Number: 2818D08967DDD6E72FE3E94508EA285F\s+Revocation Date: Oct  1 12:00:00 2026 GMT[\s\S]*?Superseded/);
  });

  it('two CRLs of one issuer: the higher CRL number decides, whatever the order', async () => {
    expect((await issue('n2-revokes.crl', '--crl-number', '2', '--revoke', `${key('signer')}:certificateHold`)).code).toBe(0);
    expect((await issue('n3-empty.crl', '--crl-number', '3')).code).toBe(0);
    expect((await issue('n4-revokes.crl', '--crl-number', '4', '--revoke', `${key('signer')}:keyCompromise`)).code).toBe(0);
    const released = await verifyWith(p('n3-empty.crl'), p('n2-revokes.crl'));
    expect(released.code, released.stdout).toBe(0);
    expect(chainRow(released).reason).toContain('not revoked per the CRL of "O=TrustFlash Demo, CN=TrustFlash Demo Root CA (TEST KEY, NOT FOR PRODUCTION)" number 3 issued 2026-11-01T00:00:00Z, next update 2026-12-31T00:00:00Z, superseding 1 older');
    const revoked = await verifyWith(p('n3-empty.crl'), p('n4-revokes.crl'));
    expect(revoked.code).toBe(1);
    expect(chainRow(revoked).reason).toContain('reason keyCompromise');
    // an older CRL that is tampered still fails closed: every CRL an issuer's name claims must verify
    const old = await readFile(p('n2-revokes.crl'), 'utf8');
    await writeFile(p('n2-bad.crl'), old.replace(/(\n[A-Za-z0-9+/]{10})([A-Za-z])/, (_, a: string, b: string) => a + (b === 'A' ? 'B' : 'A')));
    expect((await verifyWith(p('n3-empty.crl'), p('n2-bad.crl'))).code).not.toBe(0);
  });

  it('refuses what would make a bad CRL: no number, a certificate of another CA, nextUpdate not after thisUpdate, an unknown reason, an existing file', async () => {
    const cases: [string[], RegExp][] = [
      [[], /--crl-number N is required/],
      [['--crl-number', '1', '--revoke', key('rogue-signer')], /was issued by "O=Rogue, CN=Rogue Root CA \(untrusted TEST KEY\)", not by/],
      [['--crl-number', '1', '--revoke', '0x01:stolen'], /"stolen" is not a revocation reason/],
      [['--crl-number', '1', '--revoke', '0x01:removeFromCRL'], /not a revocation reason/],
      [['--crl-number', '1', '--revoke', 'nonsense'], /neither a certificate file nor a serial number/],
      [['--crl-number', '1', '--revoke', '0x01', '--revoke', '1'], /already listed/],
    ];
    for (const [more, re] of cases) {
      const r = await issue('refused.crl', ...more);
      expect(r.code, more.join(' ')).toBe(2);
      expect(r.stderr, more.join(' ')).toMatch(re);
    }
    const backwards = await tfHere('crl', '--ca-key', key('root', 'key.pem'), '--ca-cert', key('root'), '--crl-number', '1', '--this-update', '2026-11-01', '--next-update', '2026-10-01', '--out', 'x.crl');
    expect(backwards.code).toBe(2);
    expect(backwards.stderr).toContain('--next-update 2026-10-01T00:00:00Z is not after --this-update 2026-11-01T00:00:00Z');
    await copyFile(p('a.crl'), p('exists.crl'));
    const r = await issue('exists.crl', '--crl-number', '1');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('already exists');
    expect((await issue('exists.crl', '--crl-number', '1', '--force')).code).toBe(0);
  });

  it('a signer certificate cannot issue a CRL (not a CA)', async () => {
    const r = await tfHere('crl', '--ca-key', key('signer', 'key.pem'), '--ca-cert', key('signer'), '--crl-number', '1', '--out', 'x.crl');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('not a CA certificate');
  });
});

describe('update --crl', () => {
  it('the host refuses a revoked signer before anything is sent', async () => {
    const state = p('nic.state');
    expect((await tfHere('emulator', 'init', '--state', state, '--image', join(samples, 'factory.tfw'), '--bank-size', '1')).code).toBe(0);
    const r = await tfHere('update', join(samples, 'good.tfw'), '--trust', key('root'), '--crl', p('root-revoked.crl'), '--emulated', '--state', state, '--now', NOW);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain(`revoked: serial 0x${SIGNER_SERIAL}, reason keyCompromise`);
  });
});
