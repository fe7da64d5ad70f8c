/**
 * The service worker's two rules beyond the signature (threat T12, src/core/release/succession.ts):
 * no older release over a newer one, and a file fetched again after a cache miss served only when
 * it matches its signed entry.
 */
import { describe, expect, it } from 'vitest';
import { buildReleaseManifest } from '../../../src/core/release/manifest.ts';
import { checkRefetchedFile, checkSuccession, compareReleaseVersions, parseReleaseVersion, releaseEntry } from '../../../src/core/release/succession.ts';
import { importSigningKey } from '../../../src/core/crypto/private-key.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../cli/helpers.ts';

const app = (version: string, commit = 'c1') => ({ name: 'TrustFlash', version, commit });
const v = (s: string) => {
  const r = parseReleaseVersion(s);
  if (!r.ok) throw new Error(r.reason);
  return r.value;
};

describe('release versions', () => {
  it('reads major.minor.patch and nothing else', () => {
    expect(parseReleaseVersion('0.1.0')).toEqual({ ok: true, value: [0, 1, 0] });
    expect(parseReleaseVersion('12.345.6789')).toEqual({ ok: true, value: [12, 345, 6789] });
    for (const bad of ['', '1', '1.2', '1.2.3.4', '01.2.3', '1.2.3-rc.1', 'v1.2.3', ' 1.2.3', '1.2.3 ', '-1.2.3', '1.2.x', '1.2.3\n', '1234567890.0.0']) {
      const r = parseReleaseVersion(bad);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.reason).toContain('is not major.minor.patch');
    }
  });

  it('compares numerically, not as text', () => {
    expect(compareReleaseVersions(v('0.10.0'), v('0.9.9'))).toBeGreaterThan(0);
    expect(compareReleaseVersions(v('0.9.9'), v('0.10.0'))).toBeLessThan(0);
    expect(compareReleaseVersions(v('2.0.0'), v('1.99.99'))).toBeGreaterThan(0);
    expect(compareReleaseVersions(v('1.2.10'), v('1.2.9'))).toBeGreaterThan(0);
    expect(compareReleaseVersions(v('1.2.3'), v('1.2.3'))).toBe(0);
  });
});

describe('checkSuccession', () => {
  it('accepts a first install, a newer version, the same build and a rebuild of the same version', () => {
    expect(checkSuccession([], app('0.1.0'))).toEqual({ ok: true, value: 'first' });
    expect(checkSuccession([app('0.1.0')], app('0.1.1'))).toEqual({ ok: true, value: 'upgrade' });
    expect(checkSuccession([app('0.9.0')], app('0.10.0'))).toEqual({ ok: true, value: 'upgrade' });
    expect(checkSuccession([app('0.1.0')], app('0.1.0'))).toEqual({ ok: true, value: 'same' });
    expect(checkSuccession([app('0.1.0', 'c1')], app('0.1.0', 'c2'))).toEqual({ ok: true, value: 'rebuild' });
  });

  it('refuses an older version, naming both, judged against the highest installed', () => {
    expect(checkSuccession([app('0.2.0')], app('0.1.0'))).toEqual({
      ok: false,
      reason: 'version 0.1.0 is older than the installed 0.2.0: a signed older release (a stale mirror, a rollback) is not installed over a newer one',
    });
    expect(checkSuccession([app('0.10.0')], app('0.9.9')).ok).toBe(false);
    // a running 0.1.0 and a checked 0.3.0 waiting for "Reload to update": 0.2.0 is older than the waiting one
    const r = checkSuccession([app('0.1.0'), app('0.3.0'), app('0.2.5')], app('0.2.0'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/^version 0\.2\.0 is older than the installed 0\.3\.0:/);
    expect(checkSuccession([app('0.3.0', 'a'), app('0.3.0', 'b')], app('0.3.0', 'b'))).toEqual({ ok: true, value: 'same' });
  });

  it('fails closed on a version it cannot compare, incoming or installed', () => {
    const incoming = checkSuccession([app('0.1.0')], app('0.2.0-rc.1'));
    expect(incoming.ok).toBe(false);
    if (!incoming.ok) expect(incoming.reason).toBe('the version "0.2.0-rc.1" is not major.minor.patch (three whole numbers), so it cannot be compared with the installed release');
    expect(checkSuccession([], app('next')).ok).toBe(false);
    const installed = checkSuccession([app('banana')], app('0.2.0'));
    expect(installed.ok).toBe(false);
    if (!installed.ok) expect(installed.reason).toBe('the installed release\'s version "banana" is not major.minor.patch, so whether 0.2.0 is older cannot be told');
  });
});

describe('a file fetched again after a cache miss', () => {
  it('is served only when its size and SHA-256 are the signed ones', async () => {
    const key = await importSigningKey(readFileSync(join(ROOT, 'src/assets/demo-keys/release/key.pem'), 'utf8'));
    if (!key.ok) throw new Error(key.reason);
    const good = new Uint8Array(300).map((_, i) => i & 0xff);
    const built = await buildReleaseManifest(app('0.1.0'), key.value.spki, new Map([['samples/good.tfw', good], ['index.html', new TextEncoder().encode('<!doctype html>')]]));
    if (!built.ok) throw new Error(built.reason);
    const m = built.value;
    expect(releaseEntry(m, 'samples/good.tfw')).toMatchObject({ path: 'samples/good.tfw', size: 300 });
    expect(releaseEntry(m, 'samples/big-32mib.tfw')).toBeUndefined();
    expect(await checkRefetchedFile(m, 'samples/good.tfw', good)).toMatchObject({ ok: true, value: { size: 300 } });
    // every single byte changed, one byte more, one byte less: each refused, naming the path
    for (let i = 0; i < good.length; i += 37) {
      const bad = good.slice();
      bad[i]! ^= 0x01;
      const r = await checkRefetchedFile(m, 'samples/good.tfw', bad);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/^samples\/good\.tfw was missing from the offline cache, and the server's copy was not used: file samples\/good\.tfw does not match the signed release manifest \(SHA-256 /);
    }
    const longer = await checkRefetchedFile(m, 'samples/good.tfw', new Uint8Array([...good, 0]));
    expect(longer).toEqual({ ok: false, reason: "samples/good.tfw was missing from the offline cache, and the server's copy was not used: file samples/good.tfw does not match the signed release manifest (301 bytes, signed 300)" });
    expect((await checkRefetchedFile(m, 'samples/good.tfw', good.subarray(0, 299))).ok).toBe(false);
    const unlisted = await checkRefetchedFile(m, 'other.js', good);
    expect(unlisted.ok).toBe(false);
  });
});
