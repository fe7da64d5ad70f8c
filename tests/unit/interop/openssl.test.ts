/**
 * Interoperability with OpenSSL 3, both directions: keys, certificates and signatures made by
 * `openssl` are used and checked by `trustflash`, and what `trustflash` makes is checked by
 * `openssl`. Everything is generated at test time in a temp dir (no committed keys).
 *
 * Certificates made with `openssl req/x509` start "now", so these tests verify at the real current
 * time (no --now).
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImage } from '../../../src/core/image/parse.ts';
import { SIG_ENTRY, type SigEntry } from '../../../src/core/image/layout.ts';
import { writeImage } from '../../../src/core/image/write.ts';
import { OPENSSL_EXT } from './openssl-ext.ts';
import { ensureBinary, releaseBinary, hasStackTrace, manifestJson, mustOpenssl, openssl, tempDir, tf, tfBin, type Result } from '../cli/helpers.ts';

const EXT = OPENSSL_EXT;

let dir = '';
let cleanup: () => Promise<void> = async () => {};
const p = (f: string) => join(dir, f);
const ossl = (...args: string[]) => mustOpenssl(dir, ...args);
const tfHere = (...argv: string[]) => tf(dir, ...argv);

/** openssl x509 -req: a certificate for `key` issued by caCert/caKey with the given extension section. */
async function issue(name: string, key: string, subject: string, section: string, caCert: string, caKey: string): Promise<void> {
  await ossl('req', '-new', '-key', key, '-subj', subject, '-config', 'ext.cnf', '-out', `${name}.csr`);
  await ossl('x509', '-req', '-in', `${name}.csr`, '-CA', caCert, '-CAkey', caKey, '-set_serial', `0x${createHash('sha256').update(name).digest('hex').slice(0, 16)}`, '-days', '365', '-sha256', '-extfile', 'ext.cnf', '-extensions', section, '-out', `${name}.pem`);
}

function expectAccepted(r: Result): void {
  expect(r.stderr, r.stdout + r.stderr).toBe('');
  expect(r.stdout).toMatch(/\nACCEPTED\n?$/);
  expect(r.code).toBe(0);
}

function json(r: Result): { verdict: string; failedCheck?: string; signers: { subject?: string; via: string; keyId: string }[]; checks: { id: string; status: string; reason: string }[] } {
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('interop'));
  await ensureBinary();
  await writeFile(p('ext.cnf'), EXT);
  // Firmware and a manifest.
  await writeFile(p('fw.bin'), createHash('sha512').update('firmware').digest().toString('hex').repeat(200));
  await writeFile(p('manifest.json'), manifestJson());
  const tampered = await readFile(p('fw.bin'));
  tampered[100]! ^= 0x01;
  await writeFile(p('fw-tampered.bin'), tampered);
  // Keys: PKCS#8 RSA (genpkey), PKCS#1 RSA (genrsa -traditional), EC P-256 (PKCS#8), all in parallel.
  await Promise.all([
    ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'root.key'),
    ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'other-root.key'),
    ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'ica.key'),
    ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'rsa8.key'),
    ossl('genrsa', '-traditional', '-out', 'rsa1.key', '2048'),
    ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ec.key'),
    ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'tls.key'),
    ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'leaf.key'),
    ossl('genpkey', '-algorithm', 'ED25519', '-out', 'ed.key'),
  ]);
  await ossl('req', '-x509', '-new', '-key', 'root.key', '-subj', '/O=Interop/CN=OpenSSL Test Root', '-days', '3650', '-sha256', '-config', 'ext.cnf', '-extensions', 'v3_root', '-out', 'root.pem');
  await ossl('req', '-x509', '-new', '-key', 'other-root.key', '-subj', '/O=Elsewhere/CN=Other Root', '-days', '3650', '-sha256', '-config', 'ext.cnf', '-extensions', 'v3_root', '-out', 'other-root.pem');
  await Promise.all([
    issue('rsa8', 'rsa8.key', '/O=Interop/CN=RSA PKCS8 Signer', 'v3_signer', 'root.pem', 'root.key'),
    issue('rsa1', 'rsa1.key', '/O=Interop/CN=RSA PKCS1 Signer', 'v3_signer', 'root.pem', 'root.key'),
    issue('ec', 'ec.key', '/O=Interop/CN=EC P-256 Signer', 'v3_signer', 'root.pem', 'root.key'),
    issue('tls', 'tls.key', '/O=Interop/CN=TLS Server', 'v3_tls', 'root.pem', 'root.key'),
    issue('ica', 'ica.key', '/O=Interop/CN=OpenSSL Intermediate', 'v3_ca', 'root.pem', 'root.key'),
  ]);
  await issue('leaf', 'leaf.key', '/O=Interop/CN=Leaf Under Intermediate', 'v3_signer', 'ica.pem', 'ica.key');
  await issue('ed', 'ed.key', '/O=Interop/CN=Ed25519 Signer', 'v3_signer', 'root.pem', 'root.key');
  await Promise.all(['rsa8', 'rsa1', 'ec', 'leaf', 'ed'].map((n) => ossl('pkey', '-in', `${n}.key`, '-pubout', '-out', `${n}.pub`)));
});

afterAll(async () => {
  releaseBinary();
  await cleanup();
});

describe('openssl keys and certificates → trustflash sign → trustflash verify', () => {
  it('the PEM headers are the forms under test (PKCS#8, PKCS#1 "RSA PRIVATE KEY", PKCS#8 EC)', async () => {
    expect((await readFile(p('rsa8.key'), 'utf8')).startsWith('-----BEGIN PRIVATE KEY-----')).toBe(true);
    expect((await readFile(p('rsa1.key'), 'utf8')).startsWith('-----BEGIN RSA PRIVATE KEY-----')).toBe(true);
    expect((await readFile(p('ec.key'), 'utf8')).startsWith('-----BEGIN PRIVATE KEY-----')).toBe(true);
  });

  for (const [name, desc, keyText] of [
    ['rsa8', 'RSA-2048 PKCS#8 (openssl genpkey)', 'RSA-2048'],
    ['rsa1', 'RSA-2048 PKCS#1 (openssl genrsa -traditional)', 'RSA-2048'],
    ['ec', 'ECDSA P-256 (openssl genpkey -algorithm EC)', 'ECDSA P-256'],
  ] as const) {
    for (const cms of [false, true]) {
      it(`${desc}, ${cms ? 'CMS SignedData entry' : 'raw signature entry'}: accepted against the openssl root`, async () => {
        const out = `${name}${cms ? '-cms' : ''}.tfw`;
        // the NIC verifies RSA-2048 only: an EC image is for other targets, and sign says so unless told
        const forOther = name === 'ec' ? ['--other-target'] : [];
        if (name === 'ec') {
          const refused = await tfHere('sign', '--key', `${name}.key`, '--cert', `${name}.pem`, ...(cms ? ['--cms'] : []), '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', out);
          expect(refused.code).toBe(2);
          expect(refused.stderr).toMatch(/refusing to sign:\n {2}the key is ECDSA P-256, but this NIC family verifies RSA-2048 .*MCC 0x07/);
        }
        const s = await tfHere('sign', '--key', `${name}.key`, '--cert', `${name}.pem`, ...(cms ? ['--cms'] : []), ...forOther, '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', out);
        expect(s.stderr).toEqual(name === 'ec' ? expect.stringMatching(/^warning \(--other-target\): the key is ECDSA P-256/) : '');
        expect(s.code).toBe(0);
        expect(s.stdout).toContain(keyText);
        const v = await tfHere('verify', out, '--trust', 'root.pem');
        expectAccepted(v);
        const j = json(await tfHere('verify', out, '--trust', 'root.pem', '--json'));
        expect(j.verdict).toBe('accept');
        expect(j.signers.map((x) => x.subject)).toEqual([expect.stringContaining('Signer')]);
        expect(j.signers[0]!.via).toBe(cms ? 'cms' : 'certificate');
        // Signed by a key the trust store knows nothing of: rejected at the chain.
        const other = json(await tfHere('verify', out, '--trust', 'other-root.pem', '--json'));
        expect(other.verdict).toBe('reject');
        expect(other.failedCheck).toBe('chain');
      });
    }
  }

  it('end to end through the built executable: PKCS#1 key, sign then verify', async () => {
    const s = await tfBin(dir, 'sign', '--key', 'rsa1.key', '--cert', 'rsa1.pem', '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'bin-rsa1.tfw');
    expect(s.code, s.stderr).toBe(0);
    const v = await tfBin(dir, 'verify', 'bin-rsa1.tfw', '--trust', 'root.pem', '--device', join(dir, 'device.json'));
    // no device.json yet: an I/O error, exit 2, one line, no stack
    expect(v.code).toBe(2);
    expect(v.stderr).toMatch(/device\.json: no such file/);
    expect(hasStackTrace(v)).toBe(false);
    await writeFile(p('device.json'), JSON.stringify({ psid: 'TF_0000000001', deviceId: 4129, version: '28.40.1000', securityVersion: 2, forbiddenVersions: ['28.38.1000'] }));
    const v2 = await tfBin(dir, 'verify', 'bin-rsa1.tfw', '--trust', 'root.pem', '--device', 'device.json');
    expectAccepted(v2);
    expect(v2.stdout).toMatch(/PASS\s+Meant for this device/);
  });

  it('a chain through an openssl intermediate (--chain) verifies to the root', async () => {
    const s = await tfHere('sign', '--key', 'leaf.key', '--cert', 'leaf.pem', '--chain', 'ica.pem', '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'leaf.tfw');
    expect(s.code, s.stderr).toBe(0);
    const v = await tfHere('verify', 'leaf.tfw', '--trust', 'root.pem');
    expectAccepted(v);
    expect(v.stdout).toContain('OpenSSL Intermediate');
    // Without the intermediate the chain cannot be built.
    await tfHere('sign', '--key', 'leaf.key', '--cert', 'leaf.pem', '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'leaf-noint.tfw');
    const j = json(await tfHere('verify', 'leaf-noint.tfw', '--trust', 'root.pem', '--json'));
    expect(j.failedCheck).toBe('chain');
    // And as CMS with the intermediate inside the SignedData.
    await tfHere('sign', '--key', 'leaf.key', '--cert', 'leaf.pem', '--chain', 'ica.pem', '--cms', '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'leaf-cms.tfw');
    expectAccepted(await tfHere('verify', 'leaf-cms.tfw', '--trust', 'root.pem'));
  });

  it('an openssl serverAuth (TLS) certificate is refused for code signing', async () => {
    // sign runs verify's certificate rules first, naming the fix
    const refused = await tfHere('sign', '--key', 'tls.key', '--cert', 'tls.pem', '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'tls.tfw');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refusing to sign:\n {2}certificate "O=Interop, CN=TLS Server" is not allowed for code signing .*verify would refuse this image at the chain check \(a signer needs extendedKeyUsage codeSigning/);
    // for another target it signs, warning; verify still refuses the certificate
    const s = await tfHere('sign', '--key', 'tls.key', '--cert', 'tls.pem', '--other-target', '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'tls.tfw');
    expect(s.code).toBe(0);
    expect(s.stderr).toMatch(/warning \(--other-target\): certificate "O=Interop, CN=TLS Server" is not allowed for code signing/);
    const v = await tfHere('verify', 'tls.tfw', '--trust', 'root.pem');
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/REJECTED: Certificate chain: .*not allowed for code signing/);
  });

  it('keys openssl can make but the policy refuses get an actionable message (exit 2)', async () => {
    await Promise.all([
      ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-aes-256-cbc', '-pass', 'pass:secret', '-out', 'enc.key'),
      ossl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'sec1.key'),
      ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', 'rsa1024.key'),
      ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-pkeyopt', 'rsa_keygen_pubexp:3', '-out', 'e3.key'),
      ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1', '-out', 'k1.key'),
    ]);
    const sign = (key: string) => tfHere('sign-detached', 'fw.bin', '--key', key, '-o', `${key}.sig`);
    const enc = await sign('enc.key');
    expect(enc.code).toBe(2);
    expect(enc.stderr).toMatch(/enc\.key is encrypted: give its passphrase with --passin/);
    expect((await tfHere('sign-detached', 'fw.bin', '--key', 'enc.key', '--passin', 'pass:secret', '-o', 'enc.sig')).code).toBe(0);
    const sec1 = await sign('sec1.key');
    expect(sec1.code).toBe(2);
    expect(sec1.stderr).toMatch(/SEC1 EC keys .*openssl pkcs8 -topk8 -nocrypt/);
    // The suggested command does fix it.
    await ossl('pkcs8', '-topk8', '-nocrypt', '-in', 'sec1.key', '-out', 'sec1-pkcs8.key');
    expect((await sign('sec1-pkcs8.key')).code).toBe(0);
    const small = await sign('rsa1024.key');
    expect(small.code).toBe(2);
    expect(small.stderr).toMatch(/1024 bits/);
    const e3 = await sign('e3.key');
    expect(e3.code).toBe(2);
    expect(e3.stderr).toMatch(/exponent is 3/);
    const k1 = await sign('k1.key');
    expect(k1.code).toBe(2);
    expect(k1.stderr).toMatch(/not supported/);
    for (const r of [enc, sec1, small, e3, k1]) expect(r.stderr).not.toMatch(/internal error/);
  });
});

describe('Ed25519 (openssl genpkey -algorithm ED25519)', () => {
  it('image signed with the openssl key and certificate verifies; --cms is refused with a clear message', async () => {
    const s = await tfHere('sign', '--key', 'ed.key', '--cert', 'ed.pem', '--other-target', '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'ed.tfw');
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toContain('Ed25519');
    expectAccepted(await tfHere('verify', 'ed.tfw', '--trust', 'root.pem'));
    const cms = await tfHere('sign', '--key', 'ed.key', '--cert', 'ed.pem', '--cms', '--other-target', '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'ed-cms.tfw');
    expect(cms.code).toBe(2);
    expect(cms.stderr).toMatch(/--cms signs with RSA or ECDSA P-256 keys, not Ed25519; drop --cms/);
    expect(cms.stderr).not.toMatch(/internal error/);
    const det = await tfHere('sign-detached', 'fw.bin', '--key', 'ed.key', '--cert', 'ed.pem', '--cms', '-o', 'ed.p7s');
    expect(det.code).toBe(2);
    expect(det.stderr).toMatch(/--cms signs with RSA or ECDSA P-256 keys/);
  });

  it('raw detached signatures both ways (openssl pkeyutl -rawin)', async () => {
    await ossl('pkeyutl', '-sign', '-rawin', '-inkey', 'ed.key', '-in', 'fw.bin', '-out', 'ossl-ed.sig');
    expectAccepted(await tfHere('verify', 'fw.bin', '--sig', 'ossl-ed.sig', '--cert', 'ed.pem', '--trust', 'root.pem'));
    expect((await tfHere('verify', 'fw-tampered.bin', '--sig', 'ossl-ed.sig', '--cert', 'ed.pem', '--trust', 'root.pem')).code).toBe(1);
    const s = await tfHere('sign-detached', 'fw.bin', '--key', 'ed.key', '-o', 'tf-ed.sig');
    expect(s.code, s.stderr).toBe(0);
    const v = await openssl(dir, 'pkeyutl', '-verify', '-rawin', '-pubin', '-inkey', 'ed.pub', '-in', 'fw.bin', '-sigfile', 'tf-ed.sig');
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toContain('Signature Verified Successfully');
  });

  it('OpenSSL 3.0 itself cannot make an Ed25519 CMS signature (documents why --cms refuses Ed25519)', async () => {
    const r = await openssl(dir, 'cms', '-sign', '-binary', '-outform', 'DER', '-md', 'sha512', '-in', 'fw.bin', '-signer', 'ed.pem', '-inkey', 'ed.key', '-out', 'ossl-ed.p7s');
    const version = (await openssl(dir, 'version')).stdout;
    if (/^OpenSSL 3\.0\./.test(version)) expect(r.code, r.stderr).not.toBe(0);
  });
});

describe('openssl detached signatures → trustflash verify --sig', () => {
  for (const name of ['rsa8', 'rsa1', 'ec'] as const) {
    it(`openssl dgst -sha256 -sign (${name}) verifies; a one-bit change is rejected`, async () => {
      await ossl('dgst', '-sha256', '-sign', `${name}.key`, '-out', `${name}.sig`, 'fw.bin');
      expectAccepted(await tfHere('verify', 'fw.bin', '--sig', `${name}.sig`, '--cert', `${name}.pem`, '--trust', 'root.pem'));
      const bad = await tfHere('verify', 'fw-tampered.bin', '--sig', `${name}.sig`, '--cert', `${name}.pem`, '--trust', 'root.pem', '--json');
      expect(bad.code).toBe(1);
      expect(json(bad).failedCheck).toBe('signature');
      // A signature by one key with another key's certificate fails too.
      const other = name === 'rsa8' ? 'rsa1' : 'rsa8';
      const wrong = await tfHere('verify', 'fw.bin', '--sig', `${name}.sig`, '--cert', `${other}.pem`, '--trust', 'root.pem');
      expect(wrong.code).toBe(1);
    });
  }

  for (const name of ['rsa8', 'rsa1', 'ec'] as const) {
    it(`openssl cms -sign -binary -outform DER -md sha256 (${name}) verifies; tampered is rejected`, async () => {
      await ossl('cms', '-sign', '-binary', '-outform', 'DER', '-md', 'sha256', '-in', 'fw.bin', '-signer', `${name}.pem`, '-inkey', `${name}.key`, '-out', `${name}.p7s`);
      // The signer certificate travels inside the CMS; --cert is optional.
      expectAccepted(await tfHere('verify', 'fw.bin', '--sig', `${name}.p7s`, '--cert', `${name}.pem`, '--trust', 'root.pem'));
      expectAccepted(await tfHere('verify', 'fw.bin', '--sig', `${name}.p7s`, '--trust', 'root.pem'));
      const bad = await tfHere('verify', 'fw-tampered.bin', '--sig', `${name}.p7s`, '--trust', 'root.pem', '--json');
      expect(bad.code).toBe(1);
      expect(json(bad).failedCheck).toBe('signature');
      const untrusted = await tfHere('verify', 'fw.bin', '--sig', `${name}.p7s`, '--trust', 'other-root.pem', '--json');
      expect(untrusted.code).toBe(1);
      expect(json(untrusted).failedCheck).toBe('chain');
    });
  }

  it('openssl cms with the intermediate (-certfile) verifies to the root; spawned binary', async () => {
    await ossl('cms', '-sign', '-binary', '-outform', 'DER', '-md', 'sha256', '-in', 'fw.bin', '-signer', 'leaf.pem', '-inkey', 'leaf.key', '-certfile', 'ica.pem', '-out', 'leaf.p7s');
    expectAccepted(await tfBin(dir, 'verify', 'fw.bin', '--sig', 'leaf.p7s', '--trust', 'root.pem'));
    const bad = await tfBin(dir, 'verify', 'fw-tampered.bin', '--sig', 'leaf.p7s', '--trust', 'root.pem');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/REJECTED: Signature/);
    expect(hasStackTrace(bad)).toBe(false);
  });

  it('openssl cms -sign without -md (openssl picks the digest) verifies', async () => {
    await ossl('cms', '-sign', '-binary', '-outform', 'DER', '-in', 'fw.bin', '-signer', 'rsa8.pem', '-inkey', 'rsa8.key', '-out', 'nomd.p7s');
    expectAccepted(await tfHere('verify', 'fw.bin', '--sig', 'nomd.p7s', '--trust', 'root.pem'));
  });
});

describe('trustflash output → openssl', () => {
  it('sign-detached (raw) verifies with openssl dgst -verify: RSA PKCS#8, RSA PKCS#1, ECDSA P-256', async () => {
    for (const name of ['rsa8', 'rsa1', 'ec']) {
      const s = await tfHere('sign-detached', 'fw.bin', '--key', `${name}.key`, '-o', `tf-${name}.sig`);
      expect(s.code, s.stderr).toBe(0);
      const v = await openssl(dir, 'dgst', '-sha256', '-verify', `${name}.pub`, '-signature', `tf-${name}.sig`, 'fw.bin');
      expect(v.stdout.trim(), `${name}: ${v.stdout}${v.stderr}`).toBe('Verified OK');
      expect(v.code).toBe(0);
      const bad = await openssl(dir, 'dgst', '-sha256', '-verify', `${name}.pub`, '-signature', `tf-${name}.sig`, 'fw-tampered.bin');
      expect(bad.code).not.toBe(0);
      expect(bad.stdout).toContain('Verification failure');
      // And trustflash reads its own .sig the same way.
      expectAccepted(await tfHere('verify', 'fw.bin', '--sig', `tf-${name}.sig`, '--cert', `${name}.pem`, '--trust', 'root.pem'));
    }
  });

  it('the ECDSA .sig is DER (what openssl writes), not WebCrypto raw r||s', async () => {
    const sig = await readFile(p('tf-ec.sig'));
    expect(sig[0]).toBe(0x30);
    expect(sig.length).toBeGreaterThanOrEqual(8);
    expect(sig.length).toBeLessThanOrEqual(72);
    await ossl('asn1parse', '-inform', 'DER', '-in', 'tf-ec.sig');
  });

  it('sign-detached --cms verifies with openssl cms -verify -purpose any; without -purpose any OpenSSL 3.0 refuses a codeSigning-only certificate', async () => {
    for (const name of ['rsa8', 'rsa1', 'ec']) {
      const s = await tfHere('sign-detached', 'fw.bin', '--key', `${name}.key`, '--cert', `${name}.pem`, '--cms', '-o', `tf-${name}.p7s`);
      expect(s.code, s.stderr).toBe(0);
      const v = await openssl(dir, 'cms', '-verify', '-binary', '-inform', 'DER', '-in', `tf-${name}.p7s`, '-content', 'fw.bin', '-CAfile', 'root.pem', '-purpose', 'any', '-out', `tf-${name}.out`);
      expect(v.code, v.stderr).toBe(0);
      expect(v.stderr).toContain('Verification successful');
      expect(await readFile(p(`tf-${name}.out`))).toEqual(await readFile(p('fw.bin')));
      // openssl's default purpose for cms -verify is S/MIME signing, which an EKU of codeSigning alone does not allow.
      const strict = await openssl(dir, 'cms', '-verify', '-binary', '-inform', 'DER', '-in', `tf-${name}.p7s`, '-content', 'fw.bin', '-CAfile', 'root.pem', '-out', '/dev/null');
      expect(strict.code).not.toBe(0);
      expect(strict.stderr).toMatch(/unsuitable certificate purpose/);
      // Detached content really is detached: the wrong content fails in openssl too.
      const bad = await openssl(dir, 'cms', '-verify', '-binary', '-inform', 'DER', '-in', `tf-${name}.p7s`, '-content', 'fw-tampered.bin', '-CAfile', 'root.pem', '-purpose', 'any', '-out', '/dev/null');
      expect(bad.code).not.toBe(0);
    }
  });

  it('sign-detached --cms with a chain includes the intermediate for openssl', async () => {
    const s = await tfHere('sign-detached', 'fw.bin', '--key', 'leaf.key', '--cert', 'leaf.pem', '--chain', 'ica.pem', '--cms', '-o', 'tf-leaf.p7s');
    expect(s.code, s.stderr).toBe(0);
    const v = await openssl(dir, 'cms', '-verify', '-binary', '-inform', 'DER', '-in', 'tf-leaf.p7s', '-content', 'fw.bin', '-CAfile', 'root.pem', '-purpose', 'any', '-out', '/dev/null');
    expect(v.code, v.stderr).toBe(0);
    const certs = await ossl('cms', '-cmsout', '-print', '-inform', 'DER', '-in', 'tf-leaf.p7s');
    expect(certs.stdout).toContain('OpenSSL Intermediate');
  });

  describe('trustflash keygen', () => {
    const kg = (d: string) => `kg/${d}`;
    const outs: Record<string, Result> = {};
    beforeAll(async () => {
      outs.root = await tfHere('keygen', '--out', kg('root'), '--ca', '--path-len', '1', '--cn', 'KG Root', '--org', 'KG Org');
      outs.ica = await tfHere('keygen', '--out', kg('ica'), '--ca', '--ca-key', `${kg('root')}/key.pem`, '--ca-cert', `${kg('root')}/cert.pem`, '--cn', 'KG Intermediate');
      outs.signer = await tfHere('keygen', '--out', kg('signer'), '--ca-key', `${kg('root')}/key.pem`, '--ca-cert', `${kg('root')}/cert.pem`, '--cn', 'KG Signer');
      outs.leaf = await tfHere('keygen', '--out', kg('leaf'), '--ca-key', `${kg('ica')}/key.pem`, '--ca-cert', `${kg('ica')}/cert.pem`, '--cn', 'KG Leaf');
      outs.self = await tfHere('keygen', '--out', kg('self'), '--cn', 'KG Self-signed');
      for (const [k, r] of Object.entries(outs)) if (r.code !== 0) throw new Error(`keygen ${k}: ${r.stderr}`);
    });

    it('certificates verify with openssl verify -CAfile (root → signer, root → intermediate → leaf, self-signed)', async () => {
      expect((await ossl('verify', '-CAfile', `${kg('root')}/cert.pem`, `${kg('signer')}/cert.pem`)).stdout).toMatch(/: OK/);
      expect((await ossl('verify', '-CAfile', `${kg('root')}/cert.pem`, `${kg('ica')}/cert.pem`)).stdout).toMatch(/: OK/);
      expect((await ossl('verify', '-CAfile', `${kg('root')}/cert.pem`, '-untrusted', `${kg('ica')}/cert.pem`, `${kg('leaf')}/cert.pem`)).stdout).toMatch(/: OK/);
      expect((await ossl('verify', '-CAfile', `${kg('self')}/cert.pem`, `${kg('self')}/cert.pem`)).stdout).toMatch(/: OK/);
      // and does not verify against the wrong root
      expect((await openssl(dir, 'verify', '-CAfile', 'root.pem', `${kg('signer')}/cert.pem`)).code).not.toBe(0);
    });

    it('openssl reads the extensions keygen writes', async () => {
      const root = (await ossl('x509', '-in', `${kg('root')}/cert.pem`, '-noout', '-text')).stdout;
      expect(root).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:1/);
      expect(root).toMatch(/Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
      const signer = (await ossl('x509', '-in', `${kg('signer')}/cert.pem`, '-noout', '-text')).stdout;
      expect(signer).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
      expect(signer).toMatch(/Key Usage: critical\s+Digital Signature/);
      expect(signer).toMatch(/Extended Key Usage:\s+Code Signing/);
      expect(signer).toMatch(/Public-Key: \(2048 bit\)/);
      expect(signer).toMatch(/Signature Algorithm: sha256WithRSAEncryption/);
    });

    it('printed key ids equal SHA-256 of the SPKI DER from openssl (pubkey.pem and the certificate)', async () => {
      for (const name of ['root', 'ica', 'signer', 'leaf', 'self']) {
        const printed = /key id ([0-9a-f]{64})/.exec(outs[name]!.stdout)?.[1];
        expect(printed, outs[name]!.stdout).toBeDefined();
        await ossl('pkey', '-pubin', '-in', `${kg(name)}/pubkey.pem`, '-outform', 'DER', '-out', `${kg(name)}/pub.der`);
        expect(createHash('sha256').update(await readFile(p(`${kg(name)}/pub.der`))).digest('hex')).toBe(printed);
        await ossl('x509', '-in', `${kg(name)}/cert.pem`, '-noout', '-pubkey', '-out', `${kg(name)}/cert-pub.pem`);
        await ossl('pkey', '-pubin', '-in', `${kg(name)}/cert-pub.pem`, '-outform', 'DER', '-out', `${kg(name)}/cert-pub.der`);
        expect(createHash('sha256').update(await readFile(p(`${kg(name)}/cert-pub.der`))).digest('hex')).toBe(printed);
        // The private key is PKCS#8 that openssl reads, and it is the certificate's key.
        expect((await readFile(p(`${kg(name)}/key.pem`), 'utf8')).startsWith('-----BEGIN PRIVATE KEY-----')).toBe(true);
        await ossl('pkey', '-in', `${kg(name)}/key.pem`, '-pubout', '-outform', 'DER', '-out', `${kg(name)}/key-pub.der`);
        expect(createHash('sha256').update(await readFile(p(`${kg(name)}/key-pub.der`))).digest('hex')).toBe(printed);
      }
    });

    it('openssl can sign with a keygen key and a keygen chain: dgst and cms → trustflash accepts', async () => {
      await ossl('dgst', '-sha256', '-sign', `${kg('leaf')}/key.pem`, '-out', 'kg-leaf.sig', 'fw.bin');
      expectAccepted(await tfHere('verify', 'fw.bin', '--sig', 'kg-leaf.sig', '--cert', `${kg('leaf')}/cert.pem`, '--cert', `${kg('ica')}/cert.pem`, '--trust', `${kg('root')}/cert.pem`));
      await ossl('cms', '-sign', '-binary', '-outform', 'DER', '-md', 'sha256', '-in', 'fw.bin', '-signer', `${kg('leaf')}/cert.pem`, '-inkey', `${kg('leaf')}/key.pem`, '-certfile', `${kg('ica')}/cert.pem`, '-out', 'kg-leaf.p7s');
      expectAccepted(await tfHere('verify', 'fw.bin', '--sig', 'kg-leaf.p7s', '--trust', `${kg('root')}/cert.pem`));
    });
  });
});

describe('CMS entries inside images ↔ openssl cms', () => {
  async function cmsParts(image: string): Promise<{ signed: Uint8Array; cms: Uint8Array; parsed: ReturnType<typeof parseImage> }> {
    const bytes = new Uint8Array(await readFile(p(image)));
    const parsed = parseImage(bytes);
    if (!parsed.ok) throw new Error(`${image} does not parse`);
    const entry = parsed.value.entries.find((e): e is Extract<SigEntry, { type: 3 }> => e.type === SIG_ENTRY.CMS);
    if (!entry) throw new Error(`${image} has no CMS entry`);
    expect(parsed.value.signedLength).toBe(16 + parsed.value.manifestSize);
    return { signed: bytes.slice(0, 16 + parsed.value.manifestSize), cms: entry.der, parsed };
  }

  for (const [name, extra] of [
    ['rsa8', [] as string[]],
    ['rsa1', []],
    ['ec', []],
    ['leaf', ['--chain', 'ica.pem']],
  ] as const) {
    it(`trustflash sign --cms (${name}): openssl cms -verify accepts the entry over header || manifest`, async () => {
      const img = `img-${name}-cms.tfw`;
      const s = await tfHere('sign', '--key', `${name}.key`, '--cert', `${name}.pem`, ...extra, ...(name === 'ec' ? ['--other-target'] : []), '--cms', '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', img);
      expect(s.code, s.stderr).toBe(0);
      const { signed, cms } = await cmsParts(img);
      await writeFile(p(`${img}.signed`), signed);
      await writeFile(p(`${img}.p7s`), cms);
      const v = await openssl(dir, 'cms', '-verify', '-binary', '-inform', 'DER', '-in', `${img}.p7s`, '-content', `${img}.signed`, '-CAfile', 'root.pem', '-purpose', 'any', '-out', '/dev/null');
      expect(v.code, v.stderr).toBe(0);
      expect(v.stderr).toContain('Verification successful');
      // The manifest (inside the signed part) changed by one bit: openssl refuses too.
      const tampered = signed.slice();
      tampered[signed.length - 1]! ^= 0x01;
      await writeFile(p(`${img}.signed-bad`), tampered);
      const bad = await openssl(dir, 'cms', '-verify', '-binary', '-inform', 'DER', '-in', `${img}.p7s`, '-content', `${img}.signed-bad`, '-CAfile', 'root.pem', '-purpose', 'any', '-out', '/dev/null');
      expect(bad.code).not.toBe(0);
      // The entry is detached (no eContent): openssl cms -verify without -content has nothing to check.
      const noContent = await openssl(dir, 'cms', '-verify', '-binary', '-inform', 'DER', '-in', `${img}.p7s`, '-CAfile', 'root.pem', '-purpose', 'any', '-out', '/dev/null');
      expect(noContent.code).not.toBe(0);
    });
  }

  it('an openssl cms -sign over header || manifest, spliced in as the CMS entry, is accepted by trustflash verify', async () => {
    // Start from an unsigned-but-complete image: sign raw to get header||manifest and payload, then replace the entries.
    const s = await tfHere('sign', '--key', 'rsa8.key', '--cert', 'rsa8.pem', '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'base.tfw');
    expect(s.code, s.stderr).toBe(0);
    const bytes = new Uint8Array(await readFile(p('base.tfw')));
    const parsed = parseImage(bytes);
    if (!parsed.ok) throw new Error('base.tfw does not parse');
    await writeFile(p('base.signed'), parsed.value.signed);
    for (const [name, extra] of [
      ['rsa1', [] as string[]],
      ['ec', []],
      ['leaf', ['-certfile', 'ica.pem']],
    ] as const) {
      await ossl('cms', '-sign', '-binary', '-outform', 'DER', '-md', 'sha256', '-in', 'base.signed', '-signer', `${name}.pem`, '-inkey', `${name}.key`, ...extra, '-out', `base-${name}.p7s`);
      const der = new Uint8Array(await readFile(p(`base-${name}.p7s`)));
      const image = writeImage({ signed: parsed.value.signed, entries: [{ type: SIG_ENTRY.CMS, der }], payload: parsed.value.payload });
      await writeFile(p(`ossl-${name}.tfw`), image);
      const v = await tfHere('verify', `ossl-${name}.tfw`, '--trust', 'root.pem');
      expectAccepted(v);
      expect(v.stdout).toMatch(/CMS signer/);
      // And the same CMS spliced onto a tampered manifest is rejected at the signature.
      const badSigned = parsed.value.signed.slice();
      badSigned[badSigned.length - 1]! ^= 0x01;
      const bad = writeImage({ signed: badSigned, entries: [{ type: SIG_ENTRY.CMS, der }], payload: parsed.value.payload });
      await writeFile(p(`ossl-${name}-bad.tfw`), bad);
      const r = await tfHere('verify', `ossl-${name}-bad.tfw`, '--trust', 'root.pem', '--json');
      expect(r.code).toBe(1);
      expect(json(r).failedCheck).toBe('signature');
    }
  });
});
