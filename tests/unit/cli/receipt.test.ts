/** `trustflash receipt get | verify` and `update --receipt` in-process (issue #14): files, exit codes, refusals, escaping. */
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, tempDir, DEMO_KEYS, NOW, ROOT } from './helpers.ts';
import { unarmorReceipt, armorReceipt } from '../../../src/core/receipt/receipt.ts';
import { loadTrustBundle, trustBundleText } from '../../../src/core/catalog/trust-bundle.ts';

const tmp = tempDir('tf-receipt-cli-');
const dir = tmp.dir;
afterAll(() => tmp.cleanup());
const samples = join(ROOT, 'public/samples');
const CA = join(DEMO_KEYS, 'device-ca/cert.pem');
const ROGUE_CA = join(DEMO_KEYS, 'rogue-device-ca/cert.pem');
const HEX = 'ab'.repeat(32);

beforeAll(async () => {
  const r = await tf(dir, 'emulator', 'init', '--state', 'nic.state', '--image', join(samples, 'factory.tfw'), '--bank-size', '1', '--serial', 'TFN-CLI-1');
  expect(r.code, r.stderr).toBe(0);
});

describe('trustflash update --receipt', () => {
  it('writes the device-signed receipt; the step lines say device-attested; verify accepts it', async () => {
    const u = await tf(dir, 'update', join(samples, 'good.tfw'), '--trust', join(samples, 'demo-root.pem'), '--emulated', '--state', 'nic.state', '--now', NOW, '--receipt', 'update.receipt');
    expect(u.code, u.stderr).toBe(0);
    expect(u.stdout).toMatch(/device-attested: TFN-CLI-1 \(PSID TF_0000000001\) signed that it is running 28\.39\.1002, pending 28\.40\.1000/);
    expect(u.stdout).toContain('receipt: update.receipt (device-attested;');
    expect(readFileSync(join(dir, 'update.receipt'), 'utf8')).toMatch(/^-----BEGIN TRUSTFLASH RECEIPT-----\n/);
    const v = await tf(dir, 'receipt', 'verify', 'update.receipt', '--trust', CA, '--serial', 'TFN-CLI-1', '--now', NOW, '--json');
    expect(v.code, v.stdout).toBe(0);
    const j = JSON.parse(v.stdout);
    expect(j).toMatchObject({ verified: true, fields: { serial: 'TFN-CLI-1', runningVersion: '28.39.1002', pendingVersion: '28.40.1000', lastUpdate: 'activated' } });
    expect(j.notes[0]).toMatch(/freshness not checked/);
  });

  it('--json carries the receipt verdict in the summary', async () => {
    await tf(dir, 'emulator', 'init', '--state', 'j.state', '--image', join(samples, 'factory.tfw'), '--bank-size', '1');
    const u = await tf(dir, 'update', join(samples, 'good.tfw'), '--trust', join(samples, 'demo-root.pem'), '--emulated', '--state', 'j.state', '--now', NOW, '--json');
    expect(u.code).toBe(0);
    expect(JSON.parse(u.stdout).receipt).toMatchObject({ verified: true, detail: expect.stringMatching(/^device-attested: /) });
  });
});

describe('device CAs from a trust bundle', () => {
  const bundle = (name: string, cas: string[]) => writeFileSync(join(dir, name), trustBundleText({ name: 'Lab', production: false, roots: [readFileSync(join(samples, 'demo-root.pem'), 'utf8')], deviceCas: cas.map((c) => readFileSync(c, 'utf8')) }));

  it('update --bundle checks the receipt against the bundle\'s device CAs, not the DEMO default; --device-ca still wins', async () => {
    bundle('lab.json', [CA]);
    await tf(dir, 'emulator', 'init', '--state', 'b.state', '--image', join(samples, 'factory.tfw'), '--bank-size', '1');
    const u = await tf(dir, 'update', join(samples, 'good.tfw'), '--bundle', 'lab.json', '--emulated', '--state', 'b.state', '--now', NOW, '--json');
    expect(u.code, u.stderr).toBe(0);
    expect(JSON.parse(u.stdout).receipt).toMatchObject({ verified: true });
    expect(u.stderr + u.stdout).not.toMatch(/checked against the DEMO device CA/);
    // a bundle naming another device CA: the same NIC's receipt is refused (the update itself stands)
    bundle('rogue.json', [ROGUE_CA]);
    await tf(dir, 'emulator', 'init', '--state', 'r.state', '--image', join(samples, 'factory.tfw'), '--bank-size', '1');
    const r = await tf(dir, 'update', join(samples, 'good.tfw'), '--bundle', 'rogue.json', '--emulated', '--state', 'r.state', '--now', NOW, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).receipt).toMatchObject({ verified: false, detail: expect.stringMatching(/^receipt refused: the device certificate is not from a trusted device CA/) });
    // --device-ca overrides the bundle's
    await tf(dir, 'emulator', 'init', '--state', 'o.state', '--image', join(samples, 'factory.tfw'), '--bank-size', '1');
    const o = await tf(dir, 'update', join(samples, 'good.tfw'), '--bundle', 'rogue.json', '--device-ca', CA, '--emulated', '--state', 'o.state', '--now', NOW, '--json');
    expect(JSON.parse(o.stdout).receipt).toMatchObject({ verified: true });
  });

  it('the bundle loader reads deviceCas as certificates and refuses anything else, naming the entry', async () => {
    const ok = await loadTrustBundle(trustBundleText({ name: 'Lab', production: false, roots: [readFileSync(join(samples, 'demo-root.pem'), 'utf8')], deviceCas: [readFileSync(CA, 'utf8')] }));
    expect(ok.ok && ok.value.deviceCas.map((c) => c.subject)).toEqual([expect.stringMatching(/Device CA/)]);
    const key = readFileSync(join(DEMO_KEYS, 'device-ca/key.pem'), 'utf8');
    const two = readFileSync(CA, 'utf8') + readFileSync(ROGUE_CA, 'utf8');
    for (const [entry, why] of [[key, /bundle.deviceCas\[0\] must be one PEM CERTIFICATE, found PRIVATE KEY/], [two, /bundle.deviceCas\[0\] must be one PEM CERTIFICATE, found CERTIFICATE, CERTIFICATE/], ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', /bundle.deviceCas\[0\]: /]] as const) {
      const b = await loadTrustBundle(trustBundleText({ name: 'Lab', production: false, roots: [readFileSync(join(samples, 'demo-root.pem'), 'utf8')], deviceCas: [entry] }));
      expect(b.ok).toBe(false);
      if (!b.ok) expect(b.reason).toMatch(why);
    }
    const many = Array.from({ length: 17 }, () => readFileSync(CA, 'utf8'));
    const m = await loadTrustBundle(trustBundleText({ name: 'Lab', production: false, roots: [readFileSync(join(samples, 'demo-root.pem'), 'utf8')], deviceCas: many }));
    expect(!m.ok && m.reason).toMatch(/bundle.deviceCas has 17 entries, at most 16/);
  });
});

describe('trustflash receipt get', () => {
  it('asks for a fresh receipt over the given nonce; verify checks the nonce and the serial', async () => {
    const g = await tf(dir, 'receipt', 'get', '--out', 'fresh.receipt', '--emulated', '--state', 'nic.state', '--nonce', HEX);
    expect(g.code, g.stderr).toBe(0);
    expect(g.stdout).toContain(`over nonce ${HEX}`);
    expect(g.stdout).toContain(`trustflash receipt verify fresh.receipt --trust DEVICE-CA.pem --nonce ${HEX}`);
    const ok = await tf(dir, 'receipt', 'verify', 'fresh.receipt', '--trust', CA, '--nonce', HEX, '--serial', 'TFN-CLI-1', '--now', NOW);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/^VERIFIED: fresh\.receipt was signed by device TFN-CLI-1/);
    expect(ok.stdout).toMatch(/pendingVersion: +28\.40\.1000/);
    // an old nonce, another device, a CA nobody trusts: refused, exit 1, the reason named
    const old = await tf(dir, 'receipt', 'verify', 'fresh.receipt', '--trust', CA, '--nonce', 'cd'.repeat(32), '--now', NOW);
    expect(old.code).toBe(1);
    expect(old.stdout).toMatch(/^REFUSED: fresh\.receipt: the receipt answers another nonce/);
    const another = await tf(dir, 'receipt', 'verify', 'fresh.receipt', '--trust', CA, '--serial', 'TFN-OTHER', '--now', NOW);
    expect(another.code).toBe(1);
    expect(another.stdout).toContain('the receipt is from device "TFN-CLI-1", not the expected "TFN-OTHER"');
    const rogue = await tf(dir, 'receipt', 'verify', 'fresh.receipt', '--trust', ROGUE_CA, '--now', NOW);
    expect(rogue.code).toBe(1);
    expect(rogue.stdout).toMatch(/not from a trusted device CA/);
  });

  it('a random nonce by default; an edited receipt is refused; raw bytes are read too', async () => {
    const g = await tf(dir, 'receipt', 'get', '--out', 'r.receipt', '--emulated', '--state', 'nic.state', '--json');
    expect(g.code).toBe(0);
    const { nonce } = JSON.parse(g.stdout);
    expect(nonce).toMatch(/^[0-9a-f]{64}$/);
    expect(nonce).not.toBe(HEX);
    const bytes = unarmorReceipt(readFileSync(join(dir, 'r.receipt')));
    if (!bytes.ok) throw new Error(bytes.reason);
    writeFileSync(join(dir, 'raw.receipt'), bytes.bytes);
    expect((await tf(dir, 'receipt', 'verify', 'raw.receipt', '--trust', CA, '--nonce', nonce, '--now', NOW)).code).toBe(0);
    const edited = bytes.bytes.slice();
    edited[94]! ^= 1; // the running version's minor number
    writeFileSync(join(dir, 'edited.receipt'), armorReceipt(edited));
    const v = await tf(dir, 'receipt', 'verify', 'edited.receipt', '--trust', CA, '--nonce', nonce, '--now', NOW);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/not signed by the device certificate's key/);
    expect(v.stdout).toContain('what it claims (not to be trusted):');
  });

  it('refuses to overwrite without --force, and bad flags are usage errors', async () => {
    expect((await tf(dir, 'receipt', 'get', '--out', 'fresh.receipt', '--emulated', '--state', 'nic.state')).code).toBe(2);
    const short = await tf(dir, 'receipt', 'get', '--out', 'x.receipt', '--emulated', '--state', 'nic.state', '--nonce', 'abcd');
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('--nonce expects 32 bytes as 64 hex digits');
    expect((await tf(dir, 'receipt', 'get', '--out', 'x.receipt')).code).toBe(2);
    expect((await tf(dir, 'receipt', 'verify', 'fresh.receipt')).stderr).toContain('--trust DEVICE-CA.pem is required');
    expect((await tf(dir, 'receipt', 'verfy')).stderr).toContain('did you mean "verify"?');
    writeFileSync(join(dir, 'junk.receipt'), 'hello');
    const junk = await tf(dir, 'receipt', 'verify', 'junk.receipt', '--trust', CA);
    expect(junk.code).toBe(2);
    expect(junk.stderr).toContain('expected one "-----BEGIN TRUSTFLASH RECEIPT-----" block, found 0');
  });

  it('a NIC saved before receipts: exit 1, and it says the NIC has no attestation key', async () => {
    writeFileSync(join(dir, 'legacy.state'), gunzipSync(readFileSync(join(ROOT, 'tests/fixtures/legacy-state/fresh.state.gz'))));
    const g = await tf(dir, 'receipt', 'get', '--out', 'legacy.receipt', '--emulated', '--state', 'legacy.state');
    expect(g.code).toBe(1);
    expect(g.stderr).toMatch(/the device signed no receipt: this NIC has no attestation key \(it was made before device receipts existed\)/);
    const u = await tf(dir, 'update', join(samples, 'good.tfw'), '--trust', join(samples, 'demo-root.pem'), '--emulated', '--state', 'legacy.state', '--now', NOW, '--receipt', 'legacy.receipt');
    expect(u.code).toBe(0);
    expect(u.stdout).toContain('no receipt: the device refused: this NIC has no attestation key');
    expect(u.stderr).toContain('no receipt written to legacy.receipt');
  });

  it('prints what a receipt claims escaped: a control character in a field never reaches the terminal', async () => {
    // the parser refuses non-printable serials outright, so a hostile receipt cannot even be shown
    const bytes = unarmorReceipt(readFileSync(join(dir, 'fresh.receipt')));
    if (!bytes.ok) throw new Error(bytes.reason);
    const evil = bytes.bytes.slice();
    evil[44] = 0x1b;
    writeFileSync(join(dir, 'evil.receipt'), armorReceipt(evil));
    const v = await tf(dir, 'receipt', 'verify', 'evil.receipt', '--trust', CA, '--now', NOW);
    expect(v.code).toBe(1);
    expect(v.stdout).not.toContain('\x1b');
    expect(v.stdout).toContain('not a valid receipt: serial at offset 44: byte 0x1b is not printable ASCII');
  });
});
