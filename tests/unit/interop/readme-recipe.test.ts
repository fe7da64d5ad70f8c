/**
 * The README's "Your own keys (openssl)" recipe, run exactly as written: openssl makes the root and
 * a code-signing signer, trustflash signs, verifies, manufactures an emulated NIC trusting the
 * signer's key and updates it; then "Signing with an HSM" (prepare, openssl pkeyutl, attach, verify
 * in production mode). Then the same NIC refuses an image signed by the demo keys.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSamples } from '../../../src/cli/make-samples.ts';
import { BIN, ROOT, ensureBinary, releaseBinary, tempDir, tf } from '../cli/helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(() => ({ dir, cleanup } = tempDir('recipe')));
afterAll(async () => {
  releaseBinary();
  await cleanup();
});

function recipe(name: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const m = new RegExp(`<!-- recipe:${name} -->\\n\`\`\`sh\\n([\\s\\S]*?)\`\`\`\\n<!-- /recipe:${name} -->`).exec(readme);
  if (!m) throw new Error(`README.md has no recipe:${name} block`);
  return m[1]!;
}

describe('README: your own keys with openssl', () => {
  it('runs as written: sign, verify, a NIC trusting the key, update, reboot', async () => {
    await ensureBinary();
    // the README's `trustflash` is the clone's built executable (it finds the demo factory image
    // through its own location, as `npx trustflash` run from another folder does); set -e: every command must succeed
    const bin = BIN;
    const script = `set -euo pipefail\ntrustflash() { node ${JSON.stringify(bin)} "$@"; }\n${recipe('own-keys')}\ntrustflash query --emulated --state lab.state --json > query.json\n${recipe('hsm')}`;
    const r = spawnSync('bash', ['-c', script], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/ACCEPTED/);
    expect(r.stdout).toMatch(/it accepts updates signed by signer\.pub/);
    expect(r.stdout).toMatch(/UPDATED: /);
    const q = JSON.parse(readFileSync(join(dir, 'query.json'), 'utf8')).query;
    expect(q.fwVersionRunning).toBe('28.41.1000');
    expect(q.vendor).toBe('Example Corp');
    // "Signing with an HSM": prepare, openssl pkeyutl over the digest, attach; cmp passed (set -e), and verify in production mode
    expect(readFileSync(join(dir, 'fw-hsm.tfw')).equals(readFileSync(join(dir, 'fw.tfw')))).toBe(true);
    expect(r.stdout).toMatch(/fw-hsm\.tfw: signed Example NIC firmware 28\.41\.1000 with the signature in fw\.sig/);
    expect(r.stdout).toMatch(/PASS {2}Production mode +production mode on/);
  }, 180_000);

  it('the NIC made to trust your key refuses an image signed by the demo keys, and rejects a key it cannot verify', async () => {
    const samples = join(dir, 'samples');
    await makeSamples(samples, { big: false });
    const s = join(dir, 'own.state');
    const init = await tf(dir, 'emulator', 'init', '--state', s, '--trust-key', 'signer.pub');
    expect(init.code, init.stderr).toBe(0);
    const u = await tf(dir, 'update', join(samples, 'good.tfw'), '--trust', join(samples, 'demo-root.pem'), '--emulated', '--state', s, '--now', '2026-11-22T00:00:00Z');
    expect(u.code, u.stdout).toBe(1);
    expect(u.stdout).toMatch(/REJECTED/);
    // an EC key: the NIC verifies RSA-2048 only, so such a NIC could never be updated
    spawnSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ec.key'], { cwd: dir });
    spawnSync('openssl', ['pkey', '-in', 'ec.key', '-pubout', '-out', 'ec.pub'], { cwd: dir });
    const ec = await tf(dir, 'emulator', 'init', '--state', join(dir, 'ec.state'), '--trust-key', 'ec.pub');
    expect(ec.code).toBe(2);
    expect(ec.stderr).toMatch(/--trust-key: key 1: the NIC verifies RSA-2048 \(e = 65537\) PKCS#1 v1\.5 \/ SHA-256 keys only; this is ECDSA P-256/);
    const none = await tf(dir, 'emulator', 'init', '--state', join(dir, 'x.state'), '--trust-key', 'manifest.json');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no PUBLIC KEY or CERTIFICATE/);
    // a certificate works as well as a public key
    const cert = await tf(dir, 'emulator', 'init', '--state', join(dir, 'c.state'), '--trust-key', 'signer.pem');
    expect(cert.code, cert.stderr).toBe(0);
  });
});
