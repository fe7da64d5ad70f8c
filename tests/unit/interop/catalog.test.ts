/**
 * The release catalog with the real `openssl`, both ways: a catalog signed by `openssl cms -sign
 * -nodetach -binary` (DER and PEM) with a root and signer made by openssl verifies in `trustflash
 * catalog verify` and lists an image in `trustflash verify --catalog`; a catalog made by
 * `trustflash catalog sign` passes `openssl cms -verify` and gives back the exact JSON signed.
 * openssl's certificates start "now", so the catalog's dates are around the real time (no --now).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENSSL_EXT } from './openssl-ext.ts';
import { manifestJson, mustOpenssl, openssl, tempDir, tf } from '../cli/helpers.ts';

const EXT = OPENSSL_EXT;

let dir = '';
let cleanup: () => Promise<void> = async () => {};
let digest = '';
const p = (f: string) => join(dir, f);
const ossl = (...args: string[]) => mustOpenssl(dir, ...args);
const tfHere = (...argv: string[]) => tf(dir, ...argv);
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function catalogText(sequence: number, releaseDigest: string): string {
  const now = Date.now();
  return JSON.stringify({
    schema: 'trustflash-release-catalog',
    schemaVersion: 1,
    issued: iso(now - 3_600_000),
    expires: iso(now + 30 * 86_400_000),
    sequence,
    products: [{ psid: 'TF_0000000001', current: { version: '28.41.1000', releaseDigest }, minimumVersion: '28.40.0', withdrawn: [{ version: '28.40.5', reason: 'interop test' }] }],
  });
}

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('catalog-interop'));
  await writeFile(p('ext.cnf'), EXT);
  await Promise.all([ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'root.key'), ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'signer.key')]);
  await ossl('req', '-x509', '-new', '-key', 'root.key', '-subj', '/O=Interop/CN=Catalog Root', '-days', '30', '-sha256', '-config', 'ext.cnf', '-extensions', 'v3_root', '-out', 'root.pem');
  await ossl('req', '-new', '-key', 'signer.key', '-subj', '/O=Interop/CN=Catalog Signer', '-config', 'ext.cnf', '-out', 'signer.csr');
  await ossl('x509', '-req', '-in', 'signer.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-set_serial', '0x1234abcd', '-days', '30', '-sha256', '-extfile', 'ext.cnf', '-extensions', 'v3_signer', '-out', 'signer.pem');
  await writeFile(p('manifest.json'), manifestJson());
  await writeFile(p('fw.bin'), new Uint8Array(4096).fill(7));
  const s = await tfHere('sign', '--key', 'signer.key', '--cert', 'signer.pem', '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'fw.tfw');
  if (s.code !== 0) throw new Error(s.stderr);
  digest = (JSON.parse((await tfHere('inspect', 'fw.tfw', '--json')).stdout) as { releaseDigest: string }).releaseDigest;
}, 60_000);
afterAll(() => cleanup());

describe('openssl → trustflash', () => {
  it('a catalog from openssl cms -sign -nodetach -binary (DER) verifies and lists the image', async () => {
    await writeFile(p('c1.json'), catalogText(4, digest));
    await ossl('cms', '-sign', '-nodetach', '-binary', '-outform', 'DER', '-md', 'sha256', '-signer', 'signer.pem', '-inkey', 'signer.key', '-in', 'c1.json', '-out', 'c1.cms');
    const v = await tfHere('catalog', 'verify', 'c1.cms', '--trust', 'root.pem', '--state-dir', 'state');
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/valid catalog sequence 4 .*chained to "O=Interop, CN=Catalog Root"/);
    const r = await tfHere('verify', 'fw.tfw', '--trust', 'root.pem', '--catalog', 'c1.cms', '--state-dir', 'state', '--json');
    const row = (JSON.parse(r.stdout) as { checks: { id: string; status: string; reason: string }[] }).checks.find((c) => c.id === 'catalog')!;
    expect(row.status).toBe('pass');
    expect(row.reason).toContain('the current release 28.41.1000 of PSID TF_0000000001, release digest matches');
    expect(r.code).toBe(0);
  });
  it('PEM output (-outform PEM) verifies too; a different key under another name does not', async () => {
    await ossl('cms', '-sign', '-nodetach', '-binary', '-outform', 'PEM', '-md', 'sha256', '-signer', 'signer.pem', '-inkey', 'signer.key', '-in', 'c1.json', '-out', 'c1.pem');
    expect((await tfHere('catalog', 'verify', 'c1.pem', '--trust', 'root.pem', '--state-dir', 'state')).code).toBe(0);
    // signed by the root key itself (no codeSigning EKU, a CA): refused at the chain
    await ossl('cms', '-sign', '-nodetach', '-binary', '-outform', 'DER', '-md', 'sha256', '-signer', 'root.pem', '-inkey', 'root.key', '-in', 'c1.json', '-out', 'by-root.cms');
    const r = await tfHere('catalog', 'verify', 'by-root.cms', '--trust', 'root.pem', '--state-dir', 'state');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/REFUSED/);
  });
  it('a detached openssl signature is refused: a catalog carries its content', async () => {
    await ossl('cms', '-sign', '-binary', '-outform', 'DER', '-md', 'sha256', '-signer', 'signer.pem', '-inkey', 'signer.key', '-in', 'c1.json', '-out', 'detached.cms');
    const r = await tfHere('catalog', 'verify', 'detached.cms', '--trust', 'root.pem', '--state-dir', 'state');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/detached/);
  });
});

describe('trustflash → openssl', () => {
  it('trustflash catalog sign makes a CMS that openssl cms -verify accepts, giving back the exact JSON', async () => {
    const text = catalogText(5, digest);
    await writeFile(p('c2.json'), text);
    const s = await tfHere('catalog', 'sign', 'c2.json', '--key', 'signer.key', '--cert', 'signer.pem', '-o', 'c2.cms');
    expect(s.code, s.stderr).toBe(0);
    // -purpose any: openssl's default purpose is S/MIME signing; the catalog signer is a code signer
    const v = await openssl(dir, 'cms', '-verify', '-inform', 'DER', '-in', 'c2.cms', '-CAfile', 'root.pem', '-purpose', 'any', '-out', 'c2.out');
    expect(v.code, v.stderr).toBe(0);
    expect(v.stderr).toMatch(/Verification successful/);
    expect(await readFile(p('c2.out'), 'utf8')).toBe(text);
    const pem = await tfHere('catalog', 'sign', 'c2.json', '--key', 'signer.key', '--cert', 'signer.pem', '-o', 'c2.pem', '--pem');
    expect(pem.code).toBe(0);
    expect((await openssl(dir, 'cms', '-verify', '-inform', 'PEM', '-in', 'c2.pem', '-CAfile', 'root.pem', '-purpose', 'any', '-out', 'c2p.out')).code).toBe(0);
  });
  it('openssl refuses our catalog against another root', async () => {
    await ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'other.key');
    await ossl('req', '-x509', '-new', '-key', 'other.key', '-subj', '/O=Elsewhere/CN=Other Root', '-days', '30', '-sha256', '-config', 'ext.cnf', '-extensions', 'v3_root', '-out', 'other.pem');
    const v = await openssl(dir, 'cms', '-verify', '-inform', 'DER', '-in', 'c2.cms', '-CAfile', 'other.pem', '-purpose', 'any', '-out', 'x.out');
    expect(v.code).not.toBe(0);
  });
});
