/** The page's own release line (T12): the digest of the manifest it came with, and why an update was refused. */
import { describe, expect, it } from 'vitest';
import { ReleaseState } from '../../../src/ui/state/release.svelte.ts';
import { encodeReleaseManifest, releaseDigest, RELEASE_FORMAT } from '../../../src/core/release/manifest.ts';
import { RELEASE_CHANNEL } from '../../../src/core/release/messages.ts';

const BUILD = { name: 'TrustFlash', version: '0.1.0', commit: 'abc', keySpki: '', demoKey: true };
const manifest = (version: string) => encodeReleaseManifest({ format: RELEASE_FORMAT, app: { name: 'TrustFlash', version, commit: 'abc' }, keyId: '0'.repeat(64), files: [] });

describe('ReleaseState', () => {
  it('shows the digest of its own manifest, and whether the service worker checked it', async () => {
    const bytes = manifest('0.1.0');
    const asked: string[] = [];
    const s = new ReleaseState(BUILD, { fetchBytes: async (u) => (asked.push(u), bytes), controlled: () => true });
    expect(s.digest).toEqual({ kind: 'loading' });
    await s.load();
    expect(asked).toEqual(['release-manifest.json']);
    expect(s.digest).toEqual({ kind: 'known', digest: await releaseDigest(bytes), checkedBy: 'service-worker' });
    const unchecked = new ReleaseState(BUILD, { fetchBytes: async () => bytes, controlled: () => false });
    await unchecked.load();
    expect(unchecked.digest).toMatchObject({ kind: 'known', checkedBy: 'none' });
  });

  it("says so when the manifest is another build's, unreadable or unreachable", async () => {
    const other = new ReleaseState(BUILD, { fetchBytes: async () => manifest('0.2.0'), controlled: () => true });
    await other.load();
    expect(other.digest).toEqual({ kind: 'unknown', why: "the server's release manifest is for 0.2.0 (abc), not this page's build" });
    const bad = new ReleaseState(BUILD, { fetchBytes: async () => new TextEncoder().encode('{}'), controlled: () => true });
    await bad.load();
    expect(bad.digest).toMatchObject({ kind: 'unknown', why: expect.stringContaining('cannot be read') });
    const gone = new ReleaseState(BUILD, { fetchBytes: async () => Promise.reject(new Error('offline')), controlled: () => true });
    await gone.load();
    expect(gone.digest).toEqual({ kind: 'unknown', why: 'the release manifest cannot be fetched (offline)' });
  });

  it('keeps the reason of a refused update until a release is accepted; ignores anything else', () => {
    let controlled = true;
    const s = new ReleaseState(BUILD, { fetchBytes: async () => new Uint8Array(), controlled: () => controlled });
    s.onMessage({ kind: 'refused', version: '0.1.0', commit: 'abc', reason: 'file a.js does not match the signed release manifest' });
    expect(s.refused).toEqual({ version: '0.1.0', commit: 'abc', reason: 'file a.js does not match the signed release manifest', running: true });
    s.onMessage({ kind: 'bogus' });
    s.onMessage('refused');
    expect(s.refused?.reason).toContain('a.js');
    s.onMessage({ kind: 'verified', version: '0.1.0', commit: 'abc', digest: 'd' });
    expect(s.refused).toBeUndefined();
    // a first install refused: no checked version runs from the cache
    controlled = false;
    s.onMessage({ kind: 'refused', version: '0.1.0', commit: 'abc', reason: 'release-manifest.json could not be fetched (HTTP 404)' });
    expect(s.refused?.running).toBe(false);
    // a file missing from the cache whose server copy was refused: its own notice, the update reason untouched
    expect(s.unverified).toBeUndefined();
    s.onMessage({ kind: 'unverified', version: '0.1.0', commit: 'abc', path: 'samples/good.tfw', reason: 'samples/good.tfw was missing from the offline cache' });
    expect(s.unverified).toEqual({ path: 'samples/good.tfw', reason: 'samples/good.tfw was missing from the offline cache' });
    expect(s.refused?.reason).toContain('HTTP 404');
    expect(RELEASE_CHANNEL).toBe('trustflash-release');
  });
});
