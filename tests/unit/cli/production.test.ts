/**
 * `--production` (issue #14) in the CLI: every demo sample is refused by verify, the demo NIC
 * cannot be updated or made, overrides (--now, --final-image) are usage errors naming both flags,
 * sign refuses demo keys; and the operator's own keys (trustflash keygen) work end to end: a NIC
 * made to trust them is updated in production mode.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSamples, type SampleEntry } from '../../../src/cli/make-samples.ts';
import { DEMO_KEYS, manifestJson, tempDir, tf } from './helpers.ts';

let dir = '';
let cleanup: () => Promise<void> = async () => {};
let samples = '';
let entries: SampleEntry[] = [];
const t = (...argv: string[]) => tf(dir, ...argv);

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('production'));
  samples = join(dir, 'samples');
  entries = await makeSamples(samples, { big: false });
  await writeFile(join(dir, 'fw.bin'), new Uint8Array(5000).map((_, i) => (i * 13 + 1) & 0xff));
  // the operator's own PKI, made by trustflash keygen (no demo key anywhere)
  expect((await t('keygen', '--out', 'own-root', '--ca', '--cn', 'Own Root')).code).toBe(0);
  expect((await t('keygen', '--out', 'own-signer', '--ca-key', 'own-root/key.pem', '--ca-cert', 'own-root/cert.pem', '--cn', 'Own Signer')).code).toBe(0);
  await writeFile(join(dir, 'own.json'), manifestJson({ vendor: 'Own Corp', version: '28.41.1000', releaseDate: '2026-11-01', nextKeys: ['own-signer/pubkey.pem'] }));
  await writeFile(join(dir, 'demo.json'), manifestJson());
}, 120_000);

afterAll(async () => cleanup());

describe('verify --production', () => {
  it('refuses every demo sample (exit 1), and every report says production mode is on', async () => {
    for (const e of entries) {
      const args = e.kind === 'image' ? [join(samples, e.file), '--device', join(samples, 'device.json')] : [join(samples, e.file), '--sig', join(samples, e.signature!), '--cert', join(samples, e.certificate!)];
      const r = await t('verify', ...args, '--trust', join(samples, 'demo-root.pem'), '--production', '--json');
      expect(r.code, `${e.title}: ${r.stdout}`).toBe(1);
      const j = JSON.parse(r.stdout) as { verdict: string; failedCheck: string; checks: { id: string; status: string; reason: string }[] };
      expect(j.verdict).toBe('reject');
      const row = j.checks.find((c) => c.id === 'production');
      expect(row, e.title).toBeDefined();
      expect(row!.reason).toMatch(/production mode/);
      if (e.expect.verdict === 'accept') {
        expect(j.failedCheck, e.title).toBe('production');
        expect(row!.reason).toMatch(/^refused in production mode: signed with a DEMO key/);
      }
    }
    const text = await t('verify', join(samples, 'good.tfw'), '--trust', join(samples, 'demo-root.pem'), '--production');
    expect(text.stdout).toMatch(/FAIL {2}Production mode +refused in production mode: signed with a DEMO key/);
    expect(text.stdout).toMatch(/REJECTED: Production mode: /);
  }, 120_000);

  it('--now with --production is a usage error naming both, for verify and update', async () => {
    const v = await t('verify', join(samples, 'good.tfw'), '--trust', join(samples, 'demo-root.pem'), '--production', '--now', '2026-11-22T00:00:00Z');
    expect(v.code).toBe(2);
    expect(v.stderr).toMatch(/--now cannot be used with --production: production mode refuses check overrides/);
    const u = await t('update', join(samples, 'good.tfw'), '--trust', join(samples, 'demo-root.pem'), '--emulated', '--state', 'none.state', '--now', '2026-11-22T00:00:00Z', '--production');
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/--now cannot be used with --production/);
    expect(existsSync(join(dir, 'none.state'))).toBe(false);
  });

  it('is in every honouring command\'s help (one table)', async () => {
    for (const cmd of ['verify', 'update', 'sign', 'emulator init']) {
      const h = await t(...cmd.split(' '), '--help');
      expect(h.stdout, cmd).toMatch(/--production/);
    }
  });
});

describe('the emulated NIC in production mode', () => {
  it('emulator init --production refuses a NIC that trusts only the demo keys', async () => {
    const r = await t('emulator', 'init', '--state', 'demo.state', '--production');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot manufacture the NIC, refused in production mode: this NIC trusts only DEMO keys .*pass --trust-key YOUR\.pub/);
    expect(existsSync(join(dir, 'demo.state'))).toBe(false);
    const demoKey = await t('emulator', 'init', '--state', 'demo2.state', '--production', '--trust-key', join(DEMO_KEYS, 'signer', 'pubkey.pem'));
    expect(demoKey.code).toBe(2);
    expect(demoKey.stderr).toMatch(/trusts only DEMO keys/);
  });

  it('the demo NIC refuses an update in production mode, naming the demo keys', async () => {
    expect((await t('emulator', 'init', '--state', 'demo.state')).code).toBe(0);
    const u = await t('update', join(samples, 'good.tfw'), '--trust', join(samples, 'demo-root.pem'), '--emulated', '--state', 'demo.state', '--production');
    expect(u.code, u.stdout).toBe(1);
    expect(u.stdout).toMatch(/Production mode: refused in production mode: signed with a DEMO key.*the device embeds only DEMO keys/);
  });

  it('own keys: sign, a NIC trusting them, update in production mode', async () => {
    const s = await t('sign', '--key', 'own-signer/key.pem', '--cert', 'own-signer/cert.pem', '--manifest', 'own.json', '--payload', 'fw.bin', '--production', '-o', 'own.tfw');
    expect(s.code, s.stderr).toBe(0);
    const v = await t('verify', 'own.tfw', '--trust', 'own-root/cert.pem', '--production');
    expect(v.code, v.stdout).toBe(0);
    expect(v.stdout).toMatch(/PASS {2}Production mode +production mode on/);
    const init = await t('emulator', 'init', '--state', 'own.state', '--trust-key', 'own-signer/pubkey.pem', '--production');
    expect(init.code, init.stderr).toBe(0);
    const u = await t('update', 'own.tfw', '--trust', 'own-root/cert.pem', '--emulated', '--state', 'own.state', '--production');
    expect(u.code, u.stdout + u.stderr).toBe(0);
    expect(u.stdout).toMatch(/UPDATED/);
    // the NIC's receipt is certified by the DEMO device CA: kept, but not counted as attestation here
    expect(u.stdout).toMatch(/receipt not counted in production mode: its certificate is by "[^"]*", a DEMO device CA/);
    expect(u.stdout).not.toMatch(/device-attested/);
  }, 60_000);
});

describe('sign --production', () => {
  it('refuses a key of its own certified under the DEMO root (a demo signer whatever its key); the same key self-signed is accepted', async () => {
    const kg = await t('keygen', '--out', 'demo-issued', '--cn', 'Signer under the demo root', '--ca-key', join(DEMO_KEYS, 'root', 'key.pem'), '--ca-cert', join(DEMO_KEYS, 'root', 'cert.pem'));
    expect(kg.code, kg.stderr).toBe(0);
    const r = await t('sign', '--key', 'demo-issued/key.pem', '--cert', 'demo-issued/cert.pem', '--manifest', 'own.json', '--payload', 'fw.bin', '--production', '-o', 'demo-issued.tfw');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to sign, refused in production mode: signed with a DEMO key \(key [0-9a-f]+… under "[^"]*TrustFlash Demo Root CA[^"]*"\)/);
    expect(existsSync(join(dir, 'demo-issued.tfw'))).toBe(false);
    // the operator's own signer, under the operator's own root, is accepted
    const own = await t('sign', '--key', 'own-signer/key.pem', '--cert', 'own-signer/cert.pem', '--manifest', 'own.json', '--payload', 'fw.bin', '--production', '-o', 'own-ok.tfw');
    expect(own.code, own.stderr).toBe(0);
  });

  it('refuses a demo key, a demo nextKeys and --final-image', async () => {
    const demo = await t('sign', '--key', join(DEMO_KEYS, 'signer', 'key.pem'), '--cert', join(DEMO_KEYS, 'signer', 'cert.pem'), '--manifest', 'demo.json', '--payload', 'fw.bin', '--production', '-o', 'demo.tfw');
    expect(demo.code).toBe(2);
    expect(demo.stderr).toMatch(/refusing to sign, refused in production mode: signed with a DEMO key/);
    expect(existsSync(join(dir, 'demo.tfw'))).toBe(false);
    const demoNext = await t('sign', '--key', 'own-signer/key.pem', '--cert', 'own-signer/cert.pem', '--manifest', 'demo.json', '--payload', 'fw.bin', '--production', '-o', 'demo-next.tfw');
    expect(demoNext.code).toBe(2);
    expect(demoNext.stderr).toMatch(/nextKeys\[0\] is a DEMO key/);
    const last = await t('sign', '--key', 'own-signer/key.pem', '--manifest', 'own.json', '--payload', 'fw.bin', '--final-image', '--production', '-o', 'last.tfw');
    expect(last.code).toBe(2);
    expect(last.stderr).toMatch(/--final-image cannot be used with --production/);
    const prep = await t('sign', '--prepare', 'demo.head', '--manifest', 'demo.json', '--payload', 'fw.bin', '--production');
    expect(prep.code).toBe(2);
    expect(prep.stderr).toMatch(/nextKeys\[0\] is a DEMO key/);
  });
});
