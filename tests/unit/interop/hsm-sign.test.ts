/**
 * Signing without the key on disk (issue #14), with real openssl standing in for the HSM:
 * `trustflash sign --prepare` → `openssl pkeyutl -sign -pkeyopt digest:sha256` over the digest (or
 * `openssl dgst -sha256 -sign` over the prepared bytes, or `openssl cms -sign`) → `trustflash sign
 * --attach` → `trustflash verify` accepts; the image is byte for byte the one `sign --key` makes.
 * A signature over other bytes, a truncated one and one by another key are refused, and nothing is
 * written.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBinary, mustOpenssl, releaseBinary, tempDir, tf, tfBin } from '../cli/helpers.ts';

let dir = '';
let cleanup: () => Promise<void> = async () => {};
const p = (f: string) => join(dir, f);
const ossl = (...args: string[]) => mustOpenssl(dir, ...args);
const tfHere = (...argv: string[]) => tf(dir, ...argv);
const inputs = ['--manifest', 'manifest.json', '--payload', 'fw.bin'];
const bytes = (f: string) => readFileSync(p(f));

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('hsm-sign'));
  await ensureBinary();
  await writeFile(p('signer.ext'), ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=codeSigning', 'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid', ''].join('\n'));
  await Promise.all([
    ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'root.key'),
    ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'signer.key'),
    ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'other.key'),
  ]);
  await ossl('req', '-x509', '-new', '-key', 'root.key', '-sha256', '-days', '3650', '-subj', '/O=HSM Test/CN=HSM Test Root', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'root.pem');
  await ossl('req', '-new', '-key', 'signer.key', '-subj', '/O=HSM Test/CN=HSM Signer', '-out', 'signer.csr');
  await ossl('x509', '-req', '-in', 'signer.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-set_serial', '0x1234', '-days', '825', '-sha256', '-extfile', 'signer.ext', '-out', 'signer.pem');
  await ossl('pkey', '-in', 'signer.key', '-pubout', '-out', 'signer.pub');
  await writeFile(p('manifest.json'), JSON.stringify({ vendor: 'HSM Test', product: 'Widget firmware', psids: ['TF_0000000001'], version: '28.41.1000', securityVersion: 2, releaseDate: '2026-12-01', nextKeys: ['signer.pub'] }, null, 2));
  await writeFile(p('other.json'), JSON.stringify({ vendor: 'HSM Test', product: 'Widget firmware', psids: ['TF_0000000001'], version: '28.41.1001', securityVersion: 2, releaseDate: '2026-12-01', nextKeys: ['signer.pub'] }, null, 2));
  await writeFile(p('fw.bin'), createHash('sha512').update('hsm firmware').digest().toString('hex').repeat(300));
  const direct = await tfHere('sign', '--key', 'signer.key', '--cert', 'signer.pem', ...inputs, '-o', 'direct.tfw');
  expect(direct.code, direct.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  releaseBinary();
  await cleanup();
});

describe('sign --prepare', () => {
  it('writes the signed head and its SHA-256, with no key, reproducibly; the head is the image\'s first bytes', async () => {
    const a = await tfHere('sign', '--prepare', 'a.head', ...inputs);
    expect(a.code, a.stderr).toBe(0);
    const b = await tfBin(dir, 'sign', '--prepare', 'b.head', ...inputs);
    expect(b.code, b.stderr).toBe(0);
    expect(bytes('a.head').equals(bytes('b.head'))).toBe(true);
    const digest = createHash('sha256').update(bytes('a.head')).digest();
    expect(bytes('a.head.sha256').equals(digest)).toBe(true);
    expect(a.stdout).toContain(`SHA-256 ${digest.toString('hex')}`);
    expect(bytes('direct.tfw').subarray(0, bytes('a.head').length).equals(bytes('a.head'))).toBe(true);
    // the release digest verify prints is the same number
    const v = await tfHere('verify', 'direct.tfw', '--trust', 'root.pem');
    expect(v.stdout).toContain(digest.toString('hex'));
  });

  it('refuses flags of the other step and a key', async () => {
    for (const [extra, why] of [
      [['--key', 'signer.key'], /--prepare is for a key that is not on this machine/],
      [['-o', 'x.tfw'], /--o belongs to --attach/],
      [['--cert', 'signer.pem'], /--cert belongs to --attach/],
      [['--attach', 'x.sig'], /--prepare and --attach are two steps/],
    ] as const) {
      const r = await tfHere('sign', '--prepare', 'x.head', ...inputs, ...extra);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(why);
    }
    expect(existsSync(p('x.head'))).toBe(false);
  });
});

describe('openssl signs the prepared bytes, sign --attach builds the image', () => {
  beforeAll(async () => {
    expect((await tfHere('sign', '--prepare', 'fw.head', ...inputs)).code).toBe(0);
  });

  it('openssl pkeyutl over the digest: byte-identical to sign --key, and verify accepts it', async () => {
    await ossl('pkeyutl', '-sign', '-inkey', 'signer.key', '-pkeyopt', 'digest:sha256', '-in', 'fw.head.sha256', '-out', 'pkeyutl.sig');
    const r = await tfBin(dir, 'sign', '--attach', 'pkeyutl.sig', '--cert', 'signer.pem', ...inputs, '-o', 'pkeyutl.tfw');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/verified over the prepared bytes/);
    expect(bytes('pkeyutl.tfw').equals(bytes('direct.tfw'))).toBe(true);
    const v = await tfBin(dir, 'verify', 'pkeyutl.tfw', '--trust', 'root.pem');
    expect(v.code, v.stdout).toBe(0);
    expect(v.stdout).toMatch(/\nACCEPTED\n?$/);
  });

  it('openssl dgst -sha256 -sign over the prepared file gives the same image', async () => {
    await ossl('dgst', '-sha256', '-sign', 'signer.key', '-out', 'dgst.sig', 'fw.head');
    const r = await tfHere('sign', '--attach', 'dgst.sig', '--cert', 'signer.pem', ...inputs, '-o', 'dgst.tfw');
    expect(r.code, r.stderr).toBe(0);
    expect(bytes('dgst.tfw').equals(bytes('direct.tfw'))).toBe(true);
  });

  it('with --pubkey (no certificate in the image): verify accepts it against the public key', async () => {
    await ossl('pkeyutl', '-sign', '-inkey', 'signer.key', '-pkeyopt', 'digest:sha256', '-in', 'fw.head.sha256', '-out', 'bare.sig');
    const r = await tfHere('sign', '--attach', 'bare.sig', '--pubkey', 'signer.pub', ...inputs, '-o', 'bare.tfw');
    expect(r.code, r.stderr).toBe(0);
    const direct = await tfHere('sign', '--key', 'signer.key', ...inputs, '-o', 'bare-direct.tfw');
    expect(direct.code).toBe(0);
    expect(bytes('bare.tfw').equals(bytes('bare-direct.tfw'))).toBe(true);
    const v = await tfHere('verify', 'bare.tfw', '--trust', 'signer.pub');
    expect(v.code, v.stdout).toBe(0);
  });

  it('a CMS detached signature from openssl cms -sign -binary -outform DER (--cms)', async () => {
    await ossl('cms', '-sign', '-binary', '-in', 'fw.head', '-signer', 'signer.pem', '-inkey', 'signer.key', '-outform', 'DER', '-out', 'fw.p7s');
    const r = await tfHere('sign', '--attach', 'fw.p7s', '--cms', '--cert', 'signer.pem', ...inputs, '-o', 'cms.tfw');
    expect(r.code, r.stderr).toBe(0);
    const v = await tfHere('verify', 'cms.tfw', '--trust', 'root.pem', '--json');
    expect(v.code, v.stdout).toBe(0);
    expect(JSON.parse(v.stdout).signers[0].via).toBe('cms');
  });

  it('refuses a signature over other bytes, a truncated one and one by another key, and writes nothing', async () => {
    // the same key over another manifest's head
    expect((await tfHere('sign', '--prepare', 'other.head', '--manifest', 'other.json', '--payload', 'fw.bin')).code).toBe(0);
    await ossl('pkeyutl', '-sign', '-inkey', 'signer.key', '-pkeyopt', 'digest:sha256', '-in', 'other.head.sha256', '-out', 'other-bytes.sig');
    await writeFile(p('truncated.sig'), bytes('pkeyutl.sig').subarray(0, 255));
    await ossl('pkeyutl', '-sign', '-inkey', 'other.key', '-pkeyopt', 'digest:sha256', '-in', 'fw.head.sha256', '-out', 'other-key.sig');
    await writeFile(p('empty.sig'), '');
    const cases: [string, string[], RegExp][] = [
      ['other-bytes.sig', [], /refusing to attach: the signature is by this key but over other bytes: it signs SHA-256 [0-9a-f]{64}, the prepared bytes' digest is [0-9a-f]{64}/],
      ['truncated.sig', [], /refusing to attach: the signature is 255 bytes; an RSA-2048 signature is exactly 256 \(truncated\?\)/],
      ['other-key.sig', [], /refusing to attach: the signature was not made with this key/],
      ['empty.sig', [], /refusing to attach: the signature file is empty/],
      // the right signature, but attached with other format flags: other bytes
      ['pkeyutl.sig', ['--format', '1'], /over other bytes/],
      // a raw signature is not a CMS
      ['pkeyutl.sig', ['--cms'], /the CMS signature is refused/],
    ];
    for (const [sig, extra, why] of cases) {
      const r = await tfHere('sign', '--attach', sig, '--cert', 'signer.pem', ...inputs, ...extra, '-o', 'refused.tfw');
      expect(r.code, `${sig}: ${r.stdout}`).toBe(2);
      expect(r.stderr, sig).toMatch(why);
      expect(r.stderr).toMatch(/nothing was written/);
      expect(existsSync(p('refused.tfw')), sig).toBe(false);
    }
    // without the signer there is nothing to check the signature against
    const missing = await tfHere('sign', '--attach', 'pkeyutl.sig', ...inputs, '-o', 'refused.tfw');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--attach needs the signer: --cert C\.pem .* or --pubkey PUB\.pem/);
  });
});
