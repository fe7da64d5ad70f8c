/** Manifest JSON and dates as a release engineer writes them: duplicated keys, impossible dates, zones. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { DEMO_KEYS, NOW, ensureBinary, manifestJson, releaseBinary, tempDir, tf } from './helpers.ts';
import { parseImageHead } from '../../../src/core/image/parse.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(() => {
  ({ dir, cleanup } = tempDir('input'));
  writeFileSync(join(dir, 'fw.bin'), new Uint8Array(512).fill(3));
});
afterAll(async () => {
  releaseBinary();
  await cleanup();
});

const NEXT = join(DEMO_KEYS, 'signer/pubkey.pem');
const sign = (manifest: string, out = 'out.tfw') => {
  writeFileSync(join(dir, 'm.json'), manifest);
  return tf(dir, 'sign', '--key', join(DEMO_KEYS, 'signer/key.pem'), '--cert', join(DEMO_KEYS, 'signer/cert.pem'), '--manifest', 'm.json', '--payload', 'fw.bin', '-o', out);
};

describe('manifest JSON', () => {
  it('a duplicated key is refused, naming the key, its line and column, whichever field it is', async () => {
    for (const [key, value] of [['securityVersion', '9'], ['version', '"28.99.1000"'], ['psids', '["OTHER"]'], ['releaseDate', '"2020-01-01"'], ['nextKeys', '[]']] as const) {
      const good = manifestJson({ nextKeys: [NEXT] });
      // the duplicate goes last, where JSON.parse would let it win silently
      const text = good.replace(/\n}$/, `,\n  "${key}": ${value}\n}`);
      const line = text.split('\n').length - 1;
      const r = await sign(text);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`m.json:${line}:3: the key "${key}" appears twice in the same object`);
    }
  });

  it('syntax errors name line and column', async () => {
    const r = await sign('{\n  "vendor": "A",\n  "product": "B",\n}\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/m\.json:4:1: expected a string, found "}" \(not valid JSON\)/);
  });

  it('impossible dates are refused with what is wrong, in releaseDate and expires', async () => {
    for (const [field, date, why] of [
      ['releaseDate', '2026-02-31', /February 2026 has no day 31/],
      ['releaseDate', '2025-02-29T10:00:00Z', /February 2025 has no day 29/],
      ['expires', '2027-06-31', /June 2027 has no day 31/],
      ['expires', '2027-01-01T25:00:00Z', /hour 25 does not exist/],
      ['releaseDate', '2026-13-01', /month 13 does not exist/],
    ] as const) {
      const r = await sign(manifestJson({ nextKeys: [NEXT], [field]: date }));
      expect(r.code, `${field} ${date}`).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`"${field}": `));
      expect(r.stderr).toMatch(why);
    }
  });

  it('a date-time without a zone is UTC: the same JSON signs the same dates in any TZ (as docs/image-format.md says)', async () => {
    writeFileSync(join(dir, 'tz.json'), manifestJson({ nextKeys: [NEXT], releaseDate: '2026-03-01T08:30:00', expires: '2027-03-01' }));
    const bin = await ensureBinary();
    // the real executable, started in zones on both sides of UTC: the signed dates must not move
    for (const tz of ['UTC', 'America/New_York', 'Asia/Kolkata', 'Pacific/Kiritimati']) {
      const out = `tz-${tz.replace('/', '-')}.tfw`;
      const r = spawnSync(process.execPath, [bin, 'sign', '--key', join(DEMO_KEYS, 'signer/key.pem'), '--cert', join(DEMO_KEYS, 'signer/cert.pem'), '--manifest', 'tz.json', '--payload', 'fw.bin', '-o', out], { cwd: dir, env: { ...process.env, TZ: tz }, encoding: 'utf8' });
      expect(r.status, `${tz}: ${r.stderr}`).toBe(0);
      const bytes = new Uint8Array(readFileSync(join(dir, out)));
      const head = parseImageHead(bytes, bytes.length);
      if (!head.ok) throw new Error('signed image does not parse');
      expect(head.value.manifest.releaseDate, tz).toBe(Date.UTC(2026, 2, 1, 8, 30) / 1000);
      expect(head.value.manifest.expires, tz).toBe(Date.UTC(2027, 2, 1) / 1000);
    }
    const doc = readFileSync(join(process.cwd(), 'docs/image-format.md'), 'utf8');
    expect(doc).toMatch(/\*\*without\*\* `Z` or an offset is \*\*UTC\*\*/);
  });

  it('--now and --not-before refuse impossible dates too', async () => {
    const bad = await tf(dir, 'verify', 'out.tfw', '--trust', join(DEMO_KEYS, 'root/cert.pem'), '--now', '2026-02-30T00:00:00Z');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--now expects an ISO-8601 time .*February 2026 has no day 30/);
    const upd = await tf(dir, 'update', 'out.tfw', '--trust', join(DEMO_KEYS, 'root/cert.pem'), '--emulated', '--state', 'none.state', '--now', '2026-04-31');
    expect(upd.code).toBe(2);
    expect(upd.stderr).toMatch(/April 2026 has no day 31/);
    const kg = await tf(dir, 'keygen', '--out', 'k', '--not-before', '2026-11-31');
    expect(kg.code).toBe(2);
    expect(kg.stderr).toMatch(/--not-before expects an ISO-8601 date: .*November 2026 has no day 31/);
    const ok = await tf(dir, 'verify', 'out.tfw', '--trust', join(DEMO_KEYS, 'root/cert.pem'), '--now', NOW);
    expect(ok.stderr).not.toMatch(/--now/);
  });
});

describe('versions: one spelling for query and manifests', () => {
  it("accepts flint's zero-padded spelling (what trustflash query prints) and names leading zeros when they are the problem", async () => {
    const { normalizeVersion } = await import('../../../src/core/image/version.ts');
    const { flintVersion } = await import('../../../src/core/update/flint.ts');
    for (const v of ['28.41.1', '28.41.1000', '0.0.0', '65535.65535.65535', '14.22.4020', '28.100.5']) {
      expect(normalizeVersion(v)).toEqual({ ok: true, version: v });
      // what query prints reads back as the same version
      expect(normalizeVersion(flintVersion(v))).toEqual({ ok: true, version: v });
    }
    expect(normalizeVersion('28.41.0001')).toEqual({ ok: true, version: '28.41.1' });
    expect(normalizeVersion('28.0100.0005')).toEqual({ ok: true, version: '28.100.5' });
    for (const bad of ['028.41.1', '28.041.1', '28.41.01', '28.41.00001']) {
      const r = normalizeVersion(bad);
      expect(r.ok, bad).toBe(false);
      expect(!r.ok && r.reason).toMatch(/leading zeros are the problem/);
    }
    expect(normalizeVersion('28.41')).toMatchObject({ ok: false, reason: expect.stringMatching(/is not a version/) });
    expect(normalizeVersion('28.41.70000')).toMatchObject({ ok: false, reason: expect.stringMatching(/0\.\.65535/) });

    const r = await sign(manifestJson({ nextKeys: [NEXT], version: '28.41.0001', forbiddenVersions: ['28.38.1000'] }), 'padded.tfw');
    expect(r.code, r.stderr).toBe(0);
    const head = parseImageHead(new Uint8Array(readFileSync(join(dir, 'padded.tfw'))), readFileSync(join(dir, 'padded.tfw')).length);
    expect(head.ok && head.value.manifest.version).toBe('28.41.1');
    const bad = await sign(manifestJson({ nextKeys: [NEXT], version: '28.041.1' }));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/leading zeros are the problem \(write 28\.41\.1\)/);
  });

  it('a missing field says it is required', async () => {
    const r = await sign(JSON.stringify({ product: 'P', psids: ['A'], securityVersion: 0, nextKeys: [NEXT] }));
    expect(r.code).toBe(2);
    for (const f of ['vendor', 'version', 'releaseDate']) expect(r.stderr).toContain(`"${f}" is required`);
    expect(r.stderr).not.toMatch(/"product"/);
  });
});
