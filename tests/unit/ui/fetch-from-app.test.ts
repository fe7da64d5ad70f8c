/** Samples from the app's origin: offline, the 32 MiB one says it is not stored offline, never a bare "Failed to fetch". */
import { describe, expect, it } from 'vitest';
import { fetchFromApp, storedOffline } from '../../../src/ui/state/setup.svelte.ts';

const offline = async (): Promise<Response> => {
  throw new TypeError('Failed to fetch');
};

describe('fetchFromApp', () => {
  it('knows which samples the service worker keeps (vite.config.ts globIgnores samples/big-*)', () => {
    expect(storedOffline('good.tfw')).toBe(true);
    expect(storedOffline('big-32mib.tfw')).toBe(false);
  });

  it('offline: the big sample says it is not stored offline; others say the server cannot be reached', async () => {
    await expect(fetchFromApp('samples/big-32mib.tfw', offline)).rejects.toThrow(/^big-32mib\.tfw is not stored offline \(only the small samples are\)/);
    await expect(fetchFromApp('samples/good.tfw', offline)).rejects.toThrow('samples/good.tfw could not be fetched: the server cannot be reached (Failed to fetch)');
    await expect(fetchFromApp('samples/x.tfw', async () => new Response('', { status: 404 }))).rejects.toThrow('samples/x.tfw: HTTP 404');
  });

  it('reads the big sample past the HTTP cache (two reads at once must not race for one cache entry)', async () => {
    const seen: (RequestInit | undefined)[] = [];
    const ok = async (_u: string, init?: RequestInit) => (seen.push(init), new Response('x'));
    await fetchFromApp('samples/big-32mib.tfw', ok);
    await fetchFromApp('samples/good.tfw', ok);
    expect(seen).toEqual([{ cache: 'no-store' }, undefined]);
  });
});
