/**
 * `trustflash catalog sign|inspect|verify`, `--catalog`, `--bundle` and `--state-dir` on verify and
 * update, in-process with the real file system: the round trip, the catalog row in a report, a
 * rolled-back catalog refused across two runs, a corrupt state file named, and trust bundles.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSamples } from '../../../src/cli/make-samples.ts';
import { catalogStateDir } from '../../../src/cli/catalog-state.ts';
import { loadTrustBundle, trustBundleText } from '../../../src/core/catalog/trust-bundle.ts';
import { nodeIo } from '../../../src/cli/io.ts';
import { DEMO_KEYS, NOW, hasStackTrace, tempDir, tf, type Result } from './helpers.ts';

let dir = '';
let samples = '';
let good = { version: '', digest: '' };
let cleanup: () => Promise<void> = async () => {};
const p = (f: string) => join(dir, f);
const key = (who: string, f = 'cert.pem') => join(DEMO_KEYS, who, f);
const tfHere = (...argv: string[]) => tf(dir, ...argv);
const ROOT = key('root');

function catalog(sequence: number, product: Record<string, unknown> = {}, over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    schema: 'trustflash-release-catalog',
    schemaVersion: 1,
    issued: '2026-11-01T00:00:00Z',
    expires: '2026-12-31T00:00:00Z',
    sequence,
    products: [{ psid: 'TF_0000000001', current: { version: good.version, releaseDigest: good.digest }, minimumVersion: '28.0.0', ...product }],
    ...over,
  });
}

async function signed(name: string, json: string, ...extra: string[]): Promise<string> {
  await writeFile(p(`${name}.json`), json);
  const r = await tfHere('catalog', 'sign', `${name}.json`, '--key', key('signer', 'key.pem'), '--cert', ROOT.replace('root', 'signer'), '-o', `${name}.cms`, ...extra);
  if (r.code !== 0) throw new Error(r.stderr);
  return `${name}.cms`;
}

function catalogRow(r: Result): { status: string; reason: string } {
  return (JSON.parse(r.stdout) as { checks: { id: string; status: string; reason: string }[] }).checks.find((c) => c.id === 'catalog')!;
}

const verifyGood = (...argv: string[]) => tfHere('verify', join(samples, 'good.tfw'), '--now', NOW, '--json', ...argv);

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('catalog-cli'));
  samples = p('samples');
  await makeSamples(samples, { big: false });
  const j = JSON.parse((await tfHere('inspect', join(samples, 'good.tfw'), '--json')).stdout) as { releaseDigest: string; manifest: { version: string } };
  good = { version: j.manifest.version, digest: j.releaseDigest };
}, 120_000);
afterAll(() => cleanup());

describe('trustflash catalog sign | inspect | verify', () => {
  it('round-trips: sign, inspect (text and JSON), verify', async () => {
    const f = await signed('rt', catalog(3, { withdrawn: [{ version: '28.39.1', reason: 'recalled' }] }));
    const text = await tfHere('catalog', 'inspect', f);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('NOT verified');
    expect(text.stdout).toContain(`product TF_0000000001: current ${good.version} (release digest ${good.digest})`);
    expect(text.stdout).toContain('withdrawn: 28.39.1: recalled');
    const json = JSON.parse((await tfHere('catalog', 'inspect', f, '--json')).stdout) as { verified: boolean; catalog: { sequence: number } };
    expect(json).toMatchObject({ verified: false, catalog: { sequence: 3 } });
    const v = await tfHere('catalog', 'verify', f, '--trust', ROOT, '--now', NOW, '--state-dir', 'st-rt');
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/valid catalog sequence 3 .*a DEMO key/);
  });
  it('refuses to sign a catalog that breaks the schema, naming the field', async () => {
    await writeFile(p('bad.json'), catalog(3, { minimumVersion: '99.0.0' }));
    const r = await tfHere('catalog', 'sign', 'bad.json', '--key', key('signer', 'key.pem'), '--cert', key('signer'), '-o', 'bad.cms');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/below the product's own minimumVersion 99.0.0; nothing was signed/);
  });
  it('catalog verify refuses an expired catalog, a foreign one, and a file that is no catalog', async () => {
    const f = await signed('exp', catalog(3));
    const late = await tfHere('catalog', 'verify', f, '--trust', ROOT, '--now', '2027-02-01T00:00:00Z', '--state-dir', 'st-exp');
    expect(late.code).toBe(1);
    expect(late.stdout).toMatch(/REFUSED: expired at 2026-12-31T00:00:00Z/);
    const foreign = await tfHere('catalog', 'verify', f, '--trust', key('rogue-root'), '--now', NOW, '--state-dir', 'st-exp');
    expect(foreign.code).toBe(1);
    const junk = await tfHere('catalog', 'verify', join(samples, 'good.tfw'), '--trust', ROOT, '--now', NOW, '--state-dir', 'st-exp');
    expect(junk.code).toBe(1);
    expect(hasStackTrace(junk)).toBe(false);
    expect(await tfHere('catalog', 'inspect', join(samples, 'good.tfw'))).toMatchObject({ code: 1 });
  });
  it('names a mistyped subcommand', async () => {
    const r = await tfHere('catalog', 'verfy', 'x');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('did you mean "verify"');
  });
});

describe('--catalog on verify and update', () => {
  it('passes the listed release and fails a withdrawn one, naming the reason', async () => {
    const ok = await verifyGood('--trust', ROOT, '--catalog', await signed('ok', catalog(4)), '--state-dir', 'st-a');
    expect(catalogRow(ok).status).toBe('pass');
    expect(ok.code).toBe(0);
    const w = await signed('w', catalog(5, { current: { version: '28.41.0', releaseDigest: 'b'.repeat(64) }, withdrawn: [{ version: good.version, reason: 'breaks RoCE' }] }));
    const bad = await verifyGood('--trust', ROOT, '--catalog', w, '--state-dir', 'st-a');
    expect(bad.code).toBe(1);
    expect(catalogRow(bad).reason).toContain(`version ${good.version} is withdrawn for PSID TF_0000000001: "breaks RoCE"`);
  });
  it('is skipped without --catalog; --state-dir alone is a usage error', async () => {
    expect(catalogRow(await verifyGood('--trust', ROOT)).status).toBe('skipped');
    const r = await verifyGood('--trust', ROOT, '--state-dir', 'x');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--state-dir .* needs --catalog/);
  });
  it('refuses a rolled-back catalog across two runs (the state dir remembers)', async () => {
    const newer = await signed('seq9', catalog(9));
    const older = await signed('seq8', catalog(8));
    expect((await verifyGood('--trust', ROOT, '--catalog', older, '--state-dir', 'st-rb')).code).toBe(0);
    expect((await verifyGood('--trust', ROOT, '--catalog', newer, '--state-dir', 'st-rb')).code).toBe(0);
    const state = JSON.parse(await readFile(p('st-rb/catalog-state.json'), 'utf8')) as { highest: Record<string, number> };
    expect(Object.values(state.highest)).toEqual([9]);
    const again = await verifyGood('--trust', ROOT, '--catalog', older, '--state-dir', 'st-rb');
    expect(again.code).toBe(1);
    expect(catalogRow(again).reason).toMatch(/rolled back: catalog sequence 8 < last seen 9 for PSID TF_0000000001/);
    const cv = await tfHere('catalog', 'verify', older, '--trust', ROOT, '--now', NOW, '--state-dir', 'st-rb');
    expect(cv.code).toBe(1);
    expect(cv.stdout).toMatch(/rolled back: sequence 8 < last seen 9/);
    // a fresh state dir has seen nothing
    expect((await verifyGood('--trust', ROOT, '--catalog', older, '--state-dir', 'st-fresh')).code).toBe(0);
  });
  it('a corrupt state file is named with what to do, not a crash, and is left as it was', async () => {
    const f = await signed('c', catalog(2));
    await mkdir(p('st-bad'), { recursive: true });
    for (const text of ['{"schema": "trustflash-catalog-state", "schemaVersion": 1, "highest": {"x": 1}}', '{ not json', '{"schema":"trustflash-catalog-state","schemaVersion":1,"highest":{"' + 'a'.repeat(64) + '/TF_0000000001":-3}}']) {
      await writeFile(p('st-bad/catalog-state.json'), text);
      const r = await verifyGood('--trust', ROOT, '--catalog', f, '--state-dir', 'st-bad');
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/catalog-state.json is corrupt \(.*\)\. It records the highest release-catalog sequence seen.*move it aside/);
      expect(hasStackTrace(r)).toBe(false);
      expect(await readFile(p('st-bad/catalog-state.json'), 'utf8')).toBe(text);
    }
  });
  it('update refuses a withdrawn release before anything is sent', async () => {
    const state = p('nic.state');
    expect((await tfHere('emulator', 'init', '--state', state, '--image', join(samples, 'factory.tfw'), '--bank-size', '1')).code).toBe(0);
    const before = await readFile(state);
    const w = await signed('upd', catalog(6, { current: { version: '28.41.0', releaseDigest: 'c'.repeat(64) }, withdrawn: [{ version: good.version, reason: 'field failures' }] }));
    const r = await tfHere('update', join(samples, 'good.tfw'), '--trust', ROOT, '--catalog', w, '--state-dir', 'st-upd', '--emulated', '--state', state, '--now', NOW);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/Listed in the release catalog: version .* is withdrawn .* "field failures"/);
    expect((await readFile(state)).equals(before)).toBe(true);
  });
  it('the state directory defaults to $XDG_STATE_HOME/trustflash, else ~/.local/state/trustflash', () => {
    const io = nodeIo(dir);
    expect(catalogStateDir(io, undefined, { XDG_STATE_HOME: '/x/state', HOME: '/home/u' })).toBe('/x/state/trustflash');
    expect(catalogStateDir(io, undefined, { XDG_STATE_HOME: 'relative', HOME: '/home/u' })).toBe('/home/u/.local/state/trustflash');
    expect(catalogStateDir(io, undefined, { HOME: '/home/u' })).toBe('/home/u/.local/state/trustflash');
    expect(catalogStateDir(io, 'st', {})).toBe(join(dir, 'st'));
  });
});

describe('trust bundles', () => {
  it('--bundle brings the roots, the CRLs and the catalog; --catalog replaces its catalog', async () => {
    const cms = await readFile(p(await signed('b', catalog(11))));
    await writeFile(p('lab.json'), trustBundleText({ name: 'Demo lab', production: false, roots: [await readFile(ROOT, 'utf8')], catalog: cms }));
    const r = await verifyGood('--bundle', 'lab.json', '--state-dir', 'st-b');
    expect(r.code, r.stderr).toBe(0);
    expect(catalogRow(r).reason).toMatch(/catalog sequence 11/);
    const w = await signed('bw', catalog(12, { current: { version: '28.41.0', releaseDigest: 'd'.repeat(64) }, withdrawn: [{ version: good.version, reason: 'x' }] }));
    const replaced = await verifyGood('--bundle', 'lab.json', '--catalog', w, '--state-dir', 'st-b');
    expect(replaced.code).toBe(1);
    expect(replaced.stderr).toMatch(/--catalog bw.cms is used instead of the catalog in --bundle lab.json/);
    const cv = await tfHere('catalog', 'verify', w, '--bundle', 'lab.json', '--now', NOW, '--state-dir', 'st-b');
    expect(cv.code).toBe(0);
  });
  it('a bundle with "production": true turns production mode on: demo samples refused, --now a usage error naming the bundle', async () => {
    await writeFile(p('prod.json'), trustBundleText({ name: 'Production lab', production: true, roots: [await readFile(ROOT, 'utf8')] }));
    const v = await tfHere('verify', join(samples, 'good.tfw'), '--bundle', 'prod.json', '--json');
    expect(v.code, v.stderr).toBe(1);
    const j = JSON.parse(v.stdout) as { failedCheck: string; checks: { id: string; reason: string }[] };
    expect(j.failedCheck).toBe('production');
    expect(j.checks.find((c) => c.id === 'production')!.reason).toMatch(/^refused in production mode: signed with a DEMO key/);
    const now = await verifyGood('--bundle', 'prod.json');
    expect(now.code).toBe(2);
    expect(now.stderr).toMatch(/--now cannot be used with production mode \(set by the trust bundle\)/);
    const u = await tfHere('update', join(samples, 'good.tfw'), '--bundle', 'prod.json', '--emulated', '--state', 'none.state', '--now', NOW);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/production mode \(set by the trust bundle\)/);
    // the same bundle without the flag: the demo sample is accepted (no production row at all)
    await writeFile(p('lab2.json'), trustBundleText({ name: 'Demo lab', production: false, roots: [await readFile(ROOT, 'utf8')] }));
    const off = await verifyGood('--bundle', 'lab2.json');
    expect(off.code, off.stdout).toBe(0);
    expect((JSON.parse(off.stdout) as { checks: { id: string }[] }).checks.some((c) => c.id === 'production')).toBe(false);
  });

  it('catalog verify in production mode: a DEMO-signed catalog is refused and its sequence not recorded; --now is a usage error', async () => {
    const f = await signed('pv', catalog(21));
    const r = await tfHere('catalog', 'verify', f, '--trust', ROOT, '--production', '--state-dir', 'st-pv');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/refused in production mode: the catalog is signed with a DEMO key/);
    // nothing was recorded: the same catalog still verifies outside production mode, and records 21
    const ok = await tfHere('catalog', 'verify', f, '--trust', ROOT, '--now', NOW, '--state-dir', 'st-pv');
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const now = await tfHere('catalog', 'verify', f, '--trust', ROOT, '--production', '--now', NOW);
    expect(now.code).toBe(2);
    expect(now.stderr).toMatch(/--now cannot be used with --production/);
    await writeFile(p('prod-cv.json'), trustBundleText({ name: 'Production lab', production: true, roots: [await readFile(ROOT, 'utf8')] }));
    const b = await tfHere('catalog', 'verify', f, '--bundle', 'prod-cv.json', '--now', NOW);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/--now cannot be used with production mode \(set by the trust bundle\)/);
  });

  it('a bundle that does not load is refused with every problem named', async () => {
    await writeFile(p('broken.json'), JSON.stringify({ schema: 'trustflash-trust-bundle', schemaVersion: 1, production: 'yes', roots: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'], extra: 1 }));
    const r = await verifyGood('--bundle', 'broken.json');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown field "extra"/);
    expect(r.stderr).toMatch(/bundle.production must be true or false/);
  });
});

describe('trust bundle loader (core)', () => {
  const root = () => readFile(ROOT, 'utf8');
  it('reads roots, CRLs, the catalog and the production flag', async () => {
    const cms = await readFile(p(await signed('core', catalog(1))));
    const b = await loadTrustBundle(trustBundleText({ name: 'Prod lab', production: true, roots: [await root()], catalog: cms }));
    expect(b.ok).toBe(true);
    if (!b.ok) return;
    expect(b.value.production).toBe(true);
    expect(b.value.trust.anchors).toHaveLength(1);
    expect(b.value.catalog).toEqual(new Uint8Array(cms));
  });
  it('refuses: no roots, a CRL as a root, a root as a CRL, a raw catalog, bad JSON, a duplicated key', async () => {
    const r = await root();
    const cases: [string, RegExp][] = [
      [trustBundleText({ name: 'n', production: false, roots: [] }), /roots is empty/],
      [JSON.stringify({ schema: 'trustflash-trust-bundle', schemaVersion: 1, production: false, roots: [r], crls: [r] }), /"CERTIFICATE" in a CRL file/],
      [JSON.stringify({ schema: 'trustflash-trust-bundle', schemaVersion: 1, production: false, roots: [r], catalog: 'MIIB' }), /bundle.catalog must be PEM text/],
      [JSON.stringify({ schema: 'trustflash-trust-bundle', schemaVersion: 2, production: false, roots: [r] }), /schemaVersion 2 is not supported/],
      ['{"schema": 1, "schema": 2}', /appears twice/],
      ['[]', /a trust bundle is a JSON object/],
    ];
    for (const [text, reason] of cases) {
      const b = await loadTrustBundle(text);
      expect(b.ok, text.slice(0, 80)).toBe(false);
      if (!b.ok) expect(b.reason).toMatch(reason);
    }
  });
});
