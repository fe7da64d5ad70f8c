/** Fetching the app's own files (samples, the demo root), with sentences for a person when offline. */

/**
 * Whether the installed app keeps a sample for offline use. The service worker precaches every
 * sample but `samples/big-*` (vite.config.ts globIgnores): 32 MiB in every install and update of
 * the app is too much for a demo of streaming progress. The page says so beside the sample.
 */
export const storedOffline = (file: string): boolean => !file.startsWith('big-');

/**
 * fetch, with a sentence instead of "Failed to fetch" when the network is gone: a sample that is
 * not stored offline says so, anything else says the app's server cannot be reached.
 */
export async function fetchFromApp(url: string, fetchFn: (url: string, init?: RequestInit) => Promise<Response> = (u, i) => fetch(u, i)): Promise<Response> {
  const file = url.split('/').pop() ?? url;
  let res: Response;
  try {
    // the big sample bypasses the HTTP cache: two reads of it at once (the report's and the
    // update's) would race to write one 32 MiB cache entry, and the loser's body fails mid-way
    res = await fetchFn(url, storedOffline(file) ? undefined : { cache: 'no-store' });
  } catch (e) {
    if (!storedOffline(file)) throw new Error(`${file} is not stored offline (only the small samples are): it needs the server TrustFlash is served from. Reconnect, or choose a local copy of the file.`);
    throw new Error(`${url} could not be fetched: the server cannot be reached (${(e as Error).message})`);
  }
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res;
}

/** The body of `fetchFromApp(url)`; a download cut off mid-way says so. */
export async function fetchBytesFromApp(url: string): Promise<ArrayBuffer> {
  const res = await fetchFromApp(url);
  try {
    return await res.arrayBuffer();
  } catch (e) {
    throw new Error(`the download of ${url} was cut off (${(e as Error).message}); try again`);
  }
}
