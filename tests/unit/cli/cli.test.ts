/**
 * `trustflash` commands: every happy path, the usage and input errors a person makes, and the
 * sample set held to its index.json (public/samples, or generated into a temp dir if absent).
 * Most cases run in-process through run() with the real nodeIo; a few spawn the built executable.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSamples, type SampleEntry } from '../../../src/cli/make-samples.ts';
import { CHECK_TITLES, type CheckId } from '../../../src/core/verify/report.ts';
import { DEMO_KEYS, ROOT, NOW, ensureBinary, releaseBinary, hasStackTrace, manifestJson, tempDir, tf, tfBin, type Result } from './helpers.ts';

// ---------------------------------------------------------------------------------------------
// Samples: the committed-by-script set in public/samples, or a fresh one (without the 32 MiB image).

const published = join(ROOT, 'public/samples');
const generated = existsSync(join(published, 'index.json')) ? undefined : tempDir('samples');
if (generated) await makeSamples(generated.dir, { big: false });
const SAMPLES = generated?.dir ?? published;
const INDEX = JSON.parse(await readFile(join(SAMPLES, 'index.json'), 'utf8')) as { trust: string; device: string; samples: SampleEntry[] };

const key = (name: string, file: 'key.pem' | 'cert.pem' | 'pubkey.pem') => join(DEMO_KEYS, name, file);
const ROOT_PEM = key('root', 'cert.pem');

let dir = '';
let cleanup: () => Promise<void> = async () => {};
const t = (...argv: string[]) => tf(dir, ...argv);

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('cli'));
  await ensureBinary();
  await writeFile(join(dir, 'fw.bin'), new Uint8Array(3000).map((_, i) => (i * 7 + 3) & 0xff));
  await writeFile(join(dir, 'manifest.json'), manifestJson());
  await writeFile(join(dir, 'device.json'), JSON.stringify({ psid: 'TF_0000000001', deviceId: 4129, version: '28.40.1000', securityVersion: 2, forbiddenVersions: ['28.38.1000'] }));
});

afterAll(async () => {
  releaseBinary();
  await cleanup();
  await generated?.cleanup();
});

/** A usage or I/O error: exit 2, nothing on stdout, one short message on stderr naming the command. */
function expectError(r: Result, pattern: RegExp, cmd?: string): void {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(pattern);
  if (cmd) expect(r.stderr.startsWith(`trustflash ${cmd}: `)).toBe(true);
  expect(r.stderr).not.toMatch(/internal error/);
  expect(hasStackTrace(r)).toBe(false);
}

function expectAccepted(r: Result): void {
  expect(r.stderr, r.stdout).toBe('');
  expect(r.stdout).not.toMatch(/^\s+FAIL /m);
  expect(r.stdout).toMatch(/\nACCEPTED\n?$/);
  expect(r.code).toBe(0);
}

describe('dispatch and help', () => {
  it('the built bin is an executable script (`npx trustflash` from a clone runs the file itself)', async () => {
    const bin = join(ROOT, 'dist-node/trustflash.js');
    expect((await stat(bin)).mode & 0o111).toBe(0o111);
    expect((await readFile(bin, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('--help / help / -h print the usage and exit 0', async () => {
    for (const h of ['--help', '-h', 'help']) {
      const r = await t(h);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Usage:');
      for (const c of ['keygen', 'sign', 'sign-detached', 'inspect', 'verify']) expect(r.stdout).toContain(`trustflash ${c} `);
      expect(r.stdout).toContain('Exit status: 0 accepted / updated / done, 1 rejected (by the host or the device), 2 usage, I/O or transport error');
    }
  });

  it('no command prints the usage and exits 2; an unknown command is named', async () => {
    const none = await t();
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage:'); // a usage error: on stderr, so a pipe gets nothing
    const bad = await t('flash', 'x.tfw');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^trustflash: unknown command "flash"/);
  });
});

describe('keygen', () => {
  it('makes a root, an intermediate, a signer under it and a self-signed signer; the chain verifies', async () => {
    const nb = ['--not-before', '2026-01-01', '--days', '3650'];
    const root = await t('keygen', '--out', 'kg/root', '--ca', '--path-len', '1', '--cn', 'Test Root', '--org', 'Test Org', ...nb);
    expect(root.code, root.stderr).toBe(0);
    expect(root.stdout).toMatch(/kg\/root: RSA-2048 key \(key\.pem, PKCS#8\), root certificate "O=Test Org, CN=Test Root" \(self-signed\), valid 2026-01-01T00:00:00\.000Z … 2035-12-30T00:00:00\.000Z, key id [0-9a-f]{64}\n$/);
    for (const f of ['key.pem', 'cert.pem', 'pubkey.pem']) expect(existsSync(join(dir, 'kg/root', f))).toBe(true);
    const ica = await t('keygen', '--out', 'kg/ica', '--ca', '--ca-key', 'kg/root/key.pem', '--ca-cert', 'kg/root/cert.pem', '--cn', 'Test Intermediate', ...nb);
    expect(ica.code, ica.stderr).toBe(0);
    expect(ica.stdout).toContain('intermediate certificate "CN=Test Intermediate" issued by "O=Test Org, CN=Test Root"');
    const signer = await t('keygen', '--out', 'kg/signer', '--ca-key', 'kg/ica/key.pem', '--ca-cert', 'kg/ica/cert.pem', '--cn', 'Test Signer', ...nb);
    expect(signer.code, signer.stderr).toBe(0);
    expect(signer.stdout).toContain('signer certificate "CN=Test Signer" issued by "CN=Test Intermediate"');
    const self = await t('keygen', '--out', 'kg/self', ...nb);
    expect(self.code, self.stderr).toBe(0);
    expect(self.stdout).toContain('self-signed-signer certificate "CN=TrustFlash Firmware Signer" (self-signed)');

    const s = await t('sign', '--key', 'kg/signer/key.pem', '--cert', 'kg/signer/cert.pem', '--chain', 'kg/ica/cert.pem', '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'kg.tfw');
    expect(s.code, s.stderr).toBe(0);
    const v = await t('verify', 'kg.tfw', '--trust', 'kg/root/cert.pem', '--now', NOW);
    expectAccepted(v);
    expect(v.stdout).toContain('"CN=Test Signer" → "CN=Test Intermediate" → "O=Test Org, CN=Test Root"');
    // The self-signed signer is trusted by its own certificate.
    await t('sign', '--key', 'kg/self/key.pem', '--cert', 'kg/self/cert.pem', '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'self.tfw');
    expectAccepted(await t('verify', 'self.tfw', '--trust', 'kg/self/cert.pem', '--now', NOW));
    // Outside the validity window the chain fails.
    const late = await t('verify', 'kg.tfw', '--trust', 'kg/root/cert.pem', '--now', '2040-01-01T00:00:00Z', '--json');
    expect(late.code).toBe(1);
    expect(JSON.parse(late.stdout).failedCheck).toBe('chain');
  });

  it('refuses to overwrite an existing key without --force, and replaces it with --force', async () => {
    const first = await t('keygen', '--out', 'kg/once');
    expect(first.code, first.stderr).toBe(0);
    const before = await readFile(join(dir, 'kg/once/key.pem'), 'utf8');
    const again = await t('keygen', '--out', 'kg/once');
    expectError(again, /kg\/once\/key\.pem already exists \(pass --force to replace it\)/, 'keygen');
    expect(await readFile(join(dir, 'kg/once/key.pem'), 'utf8')).toBe(before);
    const forced = await t('keygen', '--out', 'kg/once', '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(await readFile(join(dir, 'kg/once/key.pem'), 'utf8')).not.toBe(before);
  });

  it('a cert.pem alone (no key.pem) also blocks keygen', async () => {
    await mkdir(join(dir, 'kg/certonly'), { recursive: true });
    await writeFile(join(dir, 'kg/certonly/cert.pem'), 'precious');
    expectError(await t('keygen', '--out', 'kg/certonly'), /cert\.pem already exists/, 'keygen');
    expect(existsSync(join(dir, 'kg/certonly/key.pem'))).toBe(false);
  });

  it.each([
    [['keygen'], /--out is required/],
    [['keygen', '--out', 'kg/x', 'extra'], /unexpected argument extra/],
    [['keygen', '--out', 'kg/x', '--days', '0'], /--days must be a whole number of days, 1\.\.36500/],
    [['keygen', '--out', 'kg/x', '--days', 'ten'], /--days must be a whole number/],
    [['keygen', '--out', 'kg/x', '--days', '1.5'], /--days must be a whole number/],
    [['keygen', '--out', 'kg/x', '--path-len', '9'], /--path-len must be 0\.\.8/],
    [['keygen', '--out', 'kg/x', '--not-before', 'new year'], /--not-before expects an ISO-8601 date/],
    [['keygen', '--out', 'kg/x', '--ca-key', 'k.pem'], /--ca-key and --ca-cert go together/],
    [['keygen', '--out', 'kg/x', '--bits', '4096'], /unknown option --bits/],
    [['keygen', '--out', 'kg/x', '--force=yes'], /--force takes no value/],
  ])('usage error: %j', async (argv, pattern) => {
    expectError(await t(...argv), pattern, 'keygen');
    expect(existsSync(join(dir, 'kg/x'))).toBe(false);
  });

  it('--ca-cert must be a CA and must match --ca-key', async () => {
    expectError(await t('keygen', '--out', 'kg/y', '--ca-key', key('signer', 'key.pem'), '--ca-cert', key('signer', 'cert.pem')), /not a CA certificate \(basicConstraints cA is not set\)/, 'keygen');
    expectError(await t('keygen', '--out', 'kg/y', '--ca-key', key('signer', 'key.pem'), '--ca-cert', ROOT_PEM), /the CA certificate is not for --ca-key/, 'keygen');
    expectError(await t('keygen', '--out', 'kg/y', '--ca-key', 'missing.pem', '--ca-cert', ROOT_PEM), /cannot use missing\.pem: no such file/, 'keygen');
  });
});

describe('sign', () => {
  const signArgs = (out: string, ...extra: string[]) => ['sign', '--key', key('signer', 'key.pem'), '--cert', key('signer', 'cert.pem'), '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', out, ...extra];

  it('signs with the demo signer; verify accepts it with the device and says it is a demo key', async () => {
    const s = await t(...signArgs('s.tfw'));
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/^s\.tfw: signed Widget firmware 28\.41\.1000 \(\d+ bytes, RSA-2048 \(e = 65537\), signer "O=TrustFlash Demo, CN=TrustFlash Demo Firmware Signer \(TEST KEY\)"\)\n$/);
    const v = await t('verify', 's.tfw', '--trust', ROOT_PEM, '--device', 'device.json', '--now', NOW);
    expectAccepted(v);
    expect(v.stdout).toMatch(/PASS\s+Meant for this device\s+PSID TF_0000000001, device id 4129 is listed/);
    expect(v.stdout).toMatch(/NOTE\s+Signed with a DEMO key/);
    expect(v.stdout).toContain('image: Interop Test Widget firmware 28.41.1000 (security version 2) for TF_0000000001');
  });

  it('-o and --out are the same; the output directory is created', async () => {
    const r = await t('sign', '--key', key('signer', 'key.pem'), '--manifest', 'manifest.json', '--payload', 'fw.bin', '--out', 'nested/dir/o.tfw');
    expect(r.code, r.stderr).toBe(0);
    expect((await stat(join(dir, 'nested/dir/o.tfw'))).size).toBeGreaterThan(3000);
  });

  it('a bare key (no certificate) verifies against its public key and not against the root', async () => {
    const s = await t('sign', '--key', key('signer', 'key.pem'), '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'bare.tfw');
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toContain('no certificates');
    const v = await t('verify', 'bare.tfw', '--trust', key('signer', 'pubkey.pem'), '--now', NOW);
    expectAccepted(v);
    expect(v.stdout).toMatch(/SKIP\s+Certificate chain\s+no certificates/);
    const r = await t('verify', 'bare.tfw', '--trust', key('root', 'cert.pem'), '--now', NOW, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).failedCheck).toBe('key');
  });

  it('--cms makes a CMS entry that verifies', async () => {
    const s = await t(...signArgs('cms.tfw', '--cms'));
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/, CMS\)\n$/);
    const v = await t('verify', 'cms.tfw', '--trust', ROOT_PEM, '--now', NOW);
    expectAccepted(v);
    expect(v.stdout).toContain('CMS signer "O=TrustFlash Demo, CN=TrustFlash Demo Firmware Signer (TEST KEY)"');
  });

  it('refuses a certificate for another key', async () => {
    const r = await t('sign', '--key', key('signer', 'key.pem'), '--cert', key('next-signer', 'cert.pem'), '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'mismatch.tfw');
    expectError(r, /next-signer\/cert\.pem: the certificate is for a different key than --key/, 'sign');
    expect(existsSync(join(dir, 'mismatch.tfw'))).toBe(false);
  });

  it.each([
    [['sign', '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'x.tfw'], /--key is required/],
    [['sign', '--key', 'K', '--manifest', 'manifest.json', '--payload', 'fw.bin'], /-o OUT is required/],
    [['sign', 'fw.bin', '--key', 'K', '-o', 'x.tfw'], /unexpected argument fw\.bin/],
    [['sign', '--key', 'K', '-o', 'x.tfw', '--sig', 'x'], /unknown option --sig/],
    [['sign', '--key', 'K', '-o', 'x.tfw', '--key', 'K2'], /--key given twice/],
    [['sign', '--key'], /--key needs a value/],
    [['sign', '--key', '--cms', '-o', 'x.tfw'], /--key needs a value/],
  ])('usage error: %j', async (argv, pattern) => {
    expectError(await t(...argv), pattern, 'sign');
  });

  it('I/O and consistency errors name the file', async () => {
    expectError(await t('sign', '--key', 'nokey.pem', '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'x.tfw'), /cannot use nokey\.pem: no such file/, 'sign');
    expectError(await t('sign', '--key', key('signer', 'cert.pem'), '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'x.tfw'), /no PRIVATE KEY block found/, 'sign');
    expectError(await t('sign', '--key', key('signer', 'key.pem'), '--cms', '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'x.tfw'), /--cms needs --cert/, 'sign');
    expectError(await t('sign', '--key', key('signer', 'key.pem'), '--chain', ROOT_PEM, '--manifest', 'manifest.json', '--payload', 'fw.bin', '-o', 'x.tfw'), /--chain needs --cert/, 'sign');
    expectError(await t('sign', '--key', key('signer', 'key.pem'), '--payload', 'fw.bin', '-o', 'x.tfw'), /--manifest is required/, 'sign');
    expectError(await t('sign', '--key', key('signer', 'key.pem'), '--manifest', 'manifest.json', '-o', 'x.tfw'), /--payload is required/, 'sign');
    expectError(await t('sign', '--key', key('signer', 'key.pem'), '--manifest', 'manifest.json', '--payload', 'nofw.bin', '-o', 'x.tfw'), /cannot use nofw\.bin: no such file/, 'sign');
    expectError(await t('sign', '--key', key('signer', 'key.pem'), '--manifest', 'nomanifest.json', '--payload', 'fw.bin', '-o', 'x.tfw'), /cannot use nomanifest\.json: no such file/, 'sign');
    expectError(await t('sign', '--key', key('signer', 'key.pem'), '--manifest', 'manifest.json', '--payload', '.', '-o', 'x.tfw'), /cannot use \.: it is a directory/, 'sign');
    expect(existsSync(join(dir, 'x.tfw'))).toBe(false);
  });

  describe('manifest JSON errors are listed with their field names', () => {
    const signWith = async (name: string, text: string) => {
      await writeFile(join(dir, name), text);
      return t('sign', '--key', key('signer', 'key.pem'), '--manifest', name, '--payload', 'fw.bin', '-o', `${name}.tfw`);
    };

    it('not JSON at all', async () => {
      const r = await signWith('m-syntax.json', '{ "vendor": "V", ');
      expectError(r, /m-syntax\.json:1:18: expected a string, found the end of the file \(not valid JSON\)/, 'sign');
    });

    it('not an object', async () => {
      expectError(await signWith('m-array.json', '[1, 2]'), /m-array\.json:\n {2}the manifest must be a JSON object/, 'sign');
      expectError(await signWith('m-null.json', 'null'), /the manifest must be a JSON object/, 'sign');
    });

    it('every problem at once, one per line, each naming its field', async () => {
      const bad = {
        vendor: '',
        product: 42,
        psids: [],
        deviceIds: ['eth0'],
        version: '28.41',
        securityVersion: -1,
        releaseDate: 'last tuesday',
        expires: '2026-02-30T99:00:00Z',
        forbiddenVersions: ['28.038.1000'],
        secured: 'yes',
        dev: 1,
        colour: 'blue',
        payloadSha256: '00',
        nextKeys: ['no-such-key.pem'],
      };
      const r = await signWith('m-many.json', JSON.stringify(bad));
      expectError(r, /^trustflash sign: m-many\.json:\n/, 'sign');
      const lines = r.stderr.trimEnd().split('\n').slice(1).map((l) => l.trim());
      const expected: [string, RegExp][] = [
        ['colour', /^"colour" is not a manifest field$/],
        ['payloadSha256', /^"payloadSha256" is filled in by sign; remove it from the manifest$/],
        ['vendor', /^"vendor" must be printable ASCII text of 1\.\.64 characters$/],
        ['product', /^"product" must be printable ASCII text/],
        ['psids', /^"psids" must be a list of 1\.\.64 entries$/],
        ['deviceIds[0]', /^"deviceIds\[0\]" must be an integer/],
        ['version', /^"version" must be a version "major\.minor\.subminor".*got "28\.41"$/],
        ['securityVersion', /^"securityVersion" must be an integer in 0\.\.64$/],
        ['releaseDate', /^"releaseDate": .* is not an ISO-8601 date/],
        ['expires', /^"expires": "2026-02-30T99:00:00Z": February 2026 has no day 30/],
        ['forbiddenVersions[0]', /^"forbiddenVersions\[0\]" must be a version.*got "28\.038\.1000"$/],
        ['secured', /^"secured" must be true or false$/],
        ['dev', /^"dev" must be true or false$/],
        ['nextKeys[0]', /^"nextKeys\[0\]": cannot read no-such-key\.pem/],
      ];
      for (const [field, re] of expected) expect(lines.some((l) => re.test(l)), `${field} in:\n${lines.join('\n')}`).toBe(true);
      expect(lines).toHaveLength(expected.length);
      expect(existsSync(join(dir, 'm-many.json.tfw'))).toBe(false);
    });

    it('cross-field and key problems', async () => {
      const r = await signWith('m-svn.json', manifestJson({ securityVersion: 2, minSecurityVersion: 3 }));
      expectError(r, /"minSecurityVersion" \(3\) cannot exceed "securityVersion" \(2\)/, 'sign');
      const cert = await signWith('m-certkey.json', manifestJson({ nextKeys: [key('next-signer', 'cert.pem')] }));
      expectError(cert, /"nextKeys\[0\]" must hold a PUBLIC KEY PEM block \(openssl pkey -pubout\)/, 'sign');
      const missingVendor = await signWith('m-missing.json', JSON.stringify({ product: 'P', psids: ['A'], version: '1.0.0', securityVersion: 0 }));
      expectError(missingVendor, /"vendor" is required/, 'sign');
      expect(missingVendor.stderr).toMatch(/"releaseDate" is required/);
      const psid = await signWith('m-psid.json', manifestJson({ psids: ['THIS_PSID_IS_WAY_TOO_LONG'] }));
      expectError(psid, /"psids\[0\]" must be 1\.\.16 printable characters/, 'sign');
    });

    it('nextKeys paths are relative to the manifest file; inspect shows them', async () => {
      await mkdir(join(dir, 'rel/keys'), { recursive: true });
      await writeFile(join(dir, 'rel/keys/next.pem'), await readFile(key('next-signer', 'pubkey.pem')));
      // relative to the manifest, absolute, and inline PEM text
      await writeFile(join(dir, 'rel/m.json'), manifestJson({ nextKeys: ['keys/next.pem', key('unknown', 'pubkey.pem'), await readFile(key('signer', 'pubkey.pem'), 'utf8')] }));
      const r = await t('sign', '--key', key('signer', 'key.pem'), '--manifest', 'rel/m.json', '--payload', 'fw.bin', '-o', 'rel.tfw');
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse((await t('inspect', 'rel.tfw', '--json')).stdout);
      expect(j.manifest.nextKeys).toHaveLength(3);
    });
  });
});

describe('sign-detached', () => {
  it('raw and CMS signatures verify with verify --sig', async () => {
    const raw = await t('sign-detached', 'fw.bin', '--key', key('signer', 'key.pem'), '-o', 'fw.sig');
    expect(raw.code, raw.stderr).toBe(0);
    expect(raw.stdout).toBe('fw.sig: raw signature over fw.bin (3000 bytes, RSA-2048 (e = 65537))\n');
    expect((await stat(join(dir, 'fw.sig'))).size).toBe(256);
    const v = await t('verify', 'fw.bin', '--sig', 'fw.sig', '--cert', key('signer', 'cert.pem'), '--trust', ROOT_PEM, '--now', NOW);
    expectAccepted(v);
    expect(v.stdout).toMatch(/NOTE\s+This device does not verify signatures itself/);
    const cms = await t('sign-detached', 'fw.bin', '--key', key('signer', 'key.pem'), '--cert', key('signer', 'cert.pem'), '--cms', '-o', 'fw.p7s');
    expect(cms.code, cms.stderr).toBe(0);
    expect(cms.stdout).toContain('CMS SignedData over fw.bin');
    expectAccepted(await t('verify', 'fw.bin', '--sig', 'fw.p7s', '--trust', ROOT_PEM, '--now', NOW));
    // A raw signature needs the certificate to know the key.
    const nocert = await t('verify', 'fw.bin', '--sig', 'fw.sig', '--trust', ROOT_PEM, '--now', NOW, '--json');
    expect(nocert.code).toBe(1);
    expect(JSON.parse(nocert.stdout).failedCheck).toBe('format');
  });

  it('usage errors', async () => {
    expectError(await t('sign-detached', '--key', key('signer', 'key.pem'), '-o', 'x.sig'), /expected exactly one FILE to sign, got 0/, 'sign-detached');
    expectError(await t('sign-detached', 'a', 'b', '--key', key('signer', 'key.pem'), '-o', 'x.sig'), /expected exactly one FILE to sign, got 2/, 'sign-detached');
    expectError(await t('sign-detached', 'fw.bin', '--key', key('signer', 'key.pem')), /-o OUT is required/, 'sign-detached');
    expectError(await t('sign-detached', 'fw.bin', '--key', key('signer', 'key.pem'), '--cms', '-o', 'x.p7s'), /--cms needs --cert/, 'sign-detached');
    expectError(await t('sign-detached', 'nofile.bin', '--key', key('signer', 'key.pem'), '-o', 'x.sig'), /cannot use nofile\.bin: no such file/, 'sign-detached');
    expectError(await t('sign-detached', 'fw.bin', '--key', key('signer', 'key.pem'), '--cert', ROOT_PEM, '-o', 'x.sig'), /the certificate is for a different key than --key/, 'sign-detached');
  });
});

describe('inspect', () => {
  it('prints the manifest fields and says the image is NOT verified', async () => {
    const r = await t('inspect', join(SAMPLES, 'good.tfw'));
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const first = r.stdout.split('\n')[0]!;
    expect(first).toMatch(/good\.tfw: TrustFlash image, format v2, \d+ bytes \(NOT verified: use `trustflash verify`\)$/);
    for (const line of [
      /^ {2}layout: header 0\+16, manifest 16\+\d+, signatures \d+\+\d+, payload \d+\+65536$/m,
      /^ {2}hash blocks: 4 of 16384 bytes, each SHA-256 in the signed table$/m,
      /^ {2}release digest: [0-9a-f]{64} \(SHA-256 of header and manifest, the table included; NOT verified\)$/m,
      /^ {2}hashBlockSize: 16384$/m,
      /^ {2}vendor: TrustFlash Demo$/m,
      /^ {2}product: Emulated ConnectX NIC firmware$/m,
      /^ {2}psids: TF_0000000001$/m,
      /^ {2}deviceIds: 4129$/m,
      /^ {2}version: 28\.40\.1000$/m,
      /^ {2}securityVersion: 2$/m,
      /^ {2}releaseDate: 2026-10-15T00:00:00Z$/m,
      /^ {2}forbiddenVersions: 28\.38\.1000$/m,
      /^ {2}secured: true$/m,
      /^ {2}dev: false$/m,
      /^ {2}payloadSize: 65536$/m,
      /^ {2}hashBlocks: 4$/m,
      /^ {2}signature block \[0\]: type=signature algorithm=RSASSA-PKCS1-v1_5\/SHA-256 keyId=[0-9a-f]{64} bytes=256$/m,
      /^ {2}signature block \[1\]: type=certificate bytes=\d+$/m,
      /^ {2}certificate: O=TrustFlash Demo, CN=TrustFlash Demo Firmware Signer \(TEST KEY\) \(issuer O=TrustFlash Demo, CN=TrustFlash Demo Root CA/m,
    ]) {
      expect(r.stdout).toMatch(line);
    }
  });

  it('shows a tampered manifest as it is, still NOT verified (inspect checks no signature)', async () => {
    const r = await t('inspect', join(SAMPLES, 'tampered-manifest.tfw'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('NOT verified');
    expect(r.stdout).toMatch(/^ {2}version: 28\.99\.1000$/m);
  });

  it('--json gives the layout, manifest and entries with verified: false', async () => {
    const r = await t('inspect', join(SAMPLES, 'cms-signed.tfw'), '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.ok).toBe(true);
    expect(j.verified).toBe(false);
    expect(j.manifest.version).toBe('28.40.1000');
    expect(j.manifest.psids).toEqual(['TF_0000000001']);
    expect(j.layout.formatVersion).toBe(2);
    expect(j.layout.hashBlocks).toEqual({ size: 16384, count: 4, lastBlockSize: 16384 });
    expect(j.releaseDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(j.layout.manifest[0]).toBe(16);
    // the device checks the raw RSA signature; the host also checks the CMS against the vendor PKI
    expect(j.signatureBlock.map((e: { type: string }) => e.type)).toEqual(['signature', 'cms', 'certificate']);
  });

  it('an unsigned image inspects fine (nothing to show) and a non-image exits 1 with the format error', async () => {
    const u = await t('inspect', join(SAMPLES, 'unsigned.tfw'));
    expect(u.code).toBe(0);
    expect(u.stdout).not.toContain('signature block [0]');
    const bad = await t('inspect', 'fw.bin');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('fw.bin: not a valid TrustFlash image: header.magic (offset 0): is "....", expected "TFWI" (not a TrustFlash image)\n');
    const j = JSON.parse((await t('inspect', 'fw.bin', '--json')).stdout);
    expect(j).toEqual({ ok: false, error: { field: 'header.magic', offset: 0, message: expect.stringContaining('expected "TFWI"') } });
  });

  it('usage errors', async () => {
    expectError(await t('inspect'), /expected exactly one FILE to inspect, got 0/, 'inspect');
    expectError(await t('inspect', 'a', 'b'), /got 2/, 'inspect');
    expectError(await t('inspect', 'x', '--trust', ROOT_PEM), /unknown option --trust/, 'inspect');
    expectError(await t('inspect', 'missing.tfw'), /cannot use missing\.tfw: no such file/, 'inspect');
  });
});

describe('verify: usage and input errors', () => {
  const good = () => join(SAMPLES, 'good.tfw');
  it.each([
    [['--bogus'], /unknown option --bogus/],
    [['--bogus=1'], /unknown option --bogus$/m],
    [['-x'], /unknown option -x/],
    [['--trust'], /--trust needs a value/],
    [['--trust', ROOT_PEM, '--json=yes'], /--json takes no value/],
    [['--trust', ROOT_PEM, '--now', NOW, '--now', NOW], /--now given twice/],
  ])('option error %j', async (extra, pattern) => {
    const r = await t('verify', good(), ...extra);
    expectError(r, pattern, 'verify');
    expect(r.stderr).toContain('(see trustflash verify --help)');
  });

  it('missing --trust says what it is for', async () => {
    expectError(await t('verify', good()), /--trust ROOT\.pem \(or --bundle BUNDLE\.json\) is required: verification needs at least one vendor root or public key/, 'verify');
  });

  it.each(['yesterday', '2026-13-45T00:00:00Z', '22/11/2026', '2026-11-22T25:00:00Z', '', '1969-12-31T23:59:59Z'])('bad --now %j', async (now) => {
    expectError(await t('verify', good(), '--trust', ROOT_PEM, '--now', now), /--now expects an ISO-8601 time such as 2026-11-22T12:00:00Z: /, 'verify');
  });

  it('--now accepts a date, a time with offset, and fractional seconds', async () => {
    for (const now of ['2026-11-22', '2026-11-22T01:00:00+01:00', '2026-11-22T00:00:00.123Z']) expectAccepted(await t('verify', good(), '--trust', ROOT_PEM, '--now', now));
  });

  it('--device: bad JSON, wrong fields, missing file, a directory', async () => {
    await writeFile(join(dir, 'dev-syntax.json'), '{"psid": "TF_0000000001",');
    expectError(await t('verify', good(), '--trust', ROOT_PEM, '--device', 'dev-syntax.json'), /dev-syntax\.json:\d+:\d+: .*\(not valid JSON\)/, 'verify');
    await writeFile(join(dir, 'dev-fields.json'), JSON.stringify({ deviceId: '4129', version: '28.40', securityVersion: -2, forbiddenVersions: '28.38.1000' }));
    const r = await t('verify', good(), '--trust', ROOT_PEM, '--device', 'dev-fields.json');
    expectError(r, /dev-fields\.json: "psid" must be a non-empty string; "deviceId" must be an integer; "version" must be "major\.minor\.subminor"; "securityVersion" must be a non-negative integer; "forbiddenVersions" must be a list of versions/, 'verify');
    await writeFile(join(dir, 'dev-array.json'), '[]');
    expectError(await t('verify', good(), '--trust', ROOT_PEM, '--device', 'dev-array.json'), /"psid" must be a non-empty string/, 'verify');
    expectError(await t('verify', good(), '--trust', ROOT_PEM, '--device', 'no-device.json'), /cannot use no-device\.json: no such file/, 'verify');
    expectError(await t('verify', good(), '--trust', ROOT_PEM, '--device', '.'), /cannot use \.: it is a directory/, 'verify');
  });

  it('options that do not fit the mode', async () => {
    expectError(await t('verify', good(), '--trust', ROOT_PEM, '--cert', ROOT_PEM), /--cert is for detached signatures \(with --sig\)/, 'verify');
    expectError(await t('verify', 'fw.bin', '--sig', 'fw.sig', '--cert', ROOT_PEM, '--trust', ROOT_PEM, '--device', 'device.json'), /--device does not apply to a detached signature/, 'verify');
    expectError(await t('verify', '--trust', ROOT_PEM), /expected exactly one FILE to verify, got 0/, 'verify');
    expectError(await t('verify', good(), good(), '--trust', ROOT_PEM), /got 2/, 'verify');
  });

  it('trust files: missing, a private key, a certificate that does not parse', async () => {
    expectError(await t('verify', good(), '--trust', 'no-root.pem'), /cannot use no-root\.pem: no such file/, 'verify');
    expectError(await t('verify', good(), '--trust', key('root', 'key.pem')), /trust store: .*"PRIVATE KEY" is not a CERTIFICATE or PUBLIC KEY/, 'verify');
    await writeFile(join(dir, 'bad-cert.pem'), '-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n');
    expectError(await t('verify', good(), '--trust', 'bad-cert.pem'), /trust store: bad-cert\.pem block 1: /, 'verify');
    await writeFile(join(dir, 'bad-b64.pem'), '-----BEGIN CERTIFICATE-----\n!!not base64!!\n-----END CERTIFICATE-----\n');
    expectError(await t('verify', good(), '--trust', 'bad-b64.pem'), /malformed base64 body/, 'verify');
  });

  it('a second --trust adds roots (any one may anchor the chain)', async () => {
    expectAccepted(await t('verify', good(), '--trust', key('rogue-root', 'cert.pem'), '--trust', ROOT_PEM, '--now', NOW));
  });
});

// ---------------------------------------------------------------------------------------------

describe(`the sample set (${generated ? 'generated into a temp dir' : 'public/samples'}) against its index.json`, () => {
  const trust = () => join(SAMPLES, INDEX.trust);
  const device = () => join(SAMPLES, INDEX.device);
  const argsFor = (s: SampleEntry) =>
    s.kind === 'image'
      ? ['verify', join(SAMPLES, s.file), '--trust', trust(), '--device', device(), '--now', NOW]
      : ['verify', join(SAMPLES, s.file), '--sig', join(SAMPLES, s.signature!), '--cert', join(SAMPLES, s.certificate!), '--trust', trust(), '--now', NOW];

  it('the index lists accepts and rejects, and every file it names exists', () => {
    expect(INDEX.samples.length).toBeGreaterThanOrEqual(10);
    expect(INDEX.samples.some((s) => s.expect.verdict === 'accept')).toBe(true);
    expect(INDEX.samples.some((s) => s.expect.verdict === 'reject')).toBe(true);
    for (const s of INDEX.samples) {
      expect(existsSync(join(SAMPLES, s.file)), s.file).toBe(true);
      if (s.kind === 'detached') expect(existsSync(join(SAMPLES, s.signature!)) && existsSync(join(SAMPLES, s.certificate!))).toBe(true);
      if (s.expect.verdict === 'reject') expect(Object.keys(CHECK_TITLES)).toContain(s.expect.failedCheck);
    }
  });

  for (const s of INDEX.samples) {
    const label = `${s.file}${s.signature ? ` + ${s.signature}` : ''}: ${s.expect.verdict}${s.expect.failedCheck ? ` at ${s.expect.failedCheck}` : ''}`;
    it(label, async () => {
      const r = await t(...argsFor(s));
      expect(r.stderr).toBe('');
      if (s.expect.verdict === 'accept') {
        expectAccepted(r);
      } else {
        const title = CHECK_TITLES[s.expect.failedCheck as CheckId];
        expect(r.code, r.stdout).toBe(1);
        expect(r.stdout).toContain(`  FAIL  ${title}`);
        expect(r.stdout).toMatch(new RegExp(`\\nREJECTED: ${title.replace(/[()]/g, '\\$&')}: .+\\n?$`));
        expect(r.stdout.match(/^ {2}FAIL /gm)).toHaveLength(1);
      }
      const j = await t(...argsFor(s), '--json');
      expect(j.code).toBe(r.code);
      const report = JSON.parse(j.stdout);
      expect(report.verdict).toBe(s.expect.verdict);
      expect(report.failedCheck).toBe(s.expect.failedCheck);
      expect(report.deviceVerifies).toBe(s.kind === 'image');
      expect(report.fileSize).toBe(s.size);
      // every row but "Production mode", which a report has only in production mode (production.test.ts)
      expect(report.checks.map((c: { id: string }) => c.id).sort()).toEqual(Object.keys(CHECK_TITLES).filter((id) => id !== 'production').sort());
    });
  }

  it('every image sample inspects: manifest fields and NOT verified', async () => {
    for (const s of INDEX.samples.filter((x) => x.kind === 'image')) {
      const r = await t('inspect', join(SAMPLES, s.file));
      expect(r.code, s.file).toBe(0);
      expect(r.stdout).toContain('(NOT verified: use `trustflash verify`)');
      expect(r.stdout).toMatch(/^ {2}vendor: /m);
      expect(r.stdout).toMatch(/^ {2}version: \d+\.\d+\.\d+$/m);
      expect(r.stdout).toMatch(/^ {2}psids: /m);
    }
  });

  it('through the built executable: good.tfw exit 0, tampered-payload.tfw exit 1, generic.bin + .p7s exit 0', async () => {
    const g = await tfBin(SAMPLES, 'verify', 'good.tfw', '--trust', INDEX.trust, '--device', INDEX.device, '--now', NOW);
    expectAccepted(g);
    const bad = await tfBin(SAMPLES, 'verify', 'tampered-payload.tfw', '--trust', INDEX.trust, '--device', INDEX.device, '--now', NOW);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/\nREJECTED: Payload digest: 1 of 4 hash blocks does not match the signed table: hash block 2 \(payload bytes 32768\.\.49151, file offset \d+\) hashes to [0-9a-f]{16}…, the signed table says [0-9a-f]{16}…\. The payload was changed after signing\.\n$/);
    expect(bad.stderr).toBe('');
    const det = await tfBin(SAMPLES, 'verify', 'generic.bin', '--sig', 'generic.p7s', '--trust', INDEX.trust, '--now', NOW, '--json');
    expect(det.code).toBe(0);
    expect(JSON.parse(det.stdout).verdict).toBe('accept');
    const usage = await tfBin(SAMPLES, 'verify', 'good.tfw');
    expect(usage.code).toBe(2);
    expect(usage.stdout).toBe('');
    expect(usage.stderr).toBe('trustflash verify: --trust ROOT.pem (or --bundle BUNDLE.json) is required: verification needs at least one vendor root or public key\n(see trustflash verify --help)\n');
  });
});
