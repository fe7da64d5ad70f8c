/**
 * What the page could reach at best on this machine (issue #13): in the same Chromium, over the same
 * picked file, the two halves of the page's work measured apart, each spread over one Worker per core
 * as the page spreads it:
 * - reading the File alone: each Worker reads its half in 8 MiB pieces with a BYOB reader into two
 *   kept buffers (the page's way, src/ui/worker/hash-span.ts), no hashing;
 * - hashing alone: each Worker digests its half's worth of bytes with WebCrypto in 1 MiB blocks,
 *   from one 8 MiB buffer already in memory (no file read).
 * Both run on the same cores in the page, so the page's time is bounded below by the larger of the
 * two and, when both need every core, by their sum.
 * The probe page is served by its own little server (the app's CSP allows no inline Worker).
 */
import { createServer, type Server } from 'node:http';
import type { Browser } from '@playwright/test';
import { freePort } from './app.ts';

const PROBE_HTML = `<!doctype html><meta charset="utf-8"><input type="file" id="f"><script>
const WORKER = \`
self.onmessage = async ({ data: { file, start, end, read, hash } }) => {
  const PIECE = 8 << 20, BLOCK = 1 << 20;
  const free = [new ArrayBuffer(PIECE), new ArrayBuffer(PIECE)];
  const inMemory = new Uint8Array(PIECE);
  const piece = async (s, e) => {
    if (!read) return inMemory.subarray(0, e - s);
    const reader = file.slice(s, e).stream().getReader({ mode: 'byob' });
    let b = free.pop(), off = 0;
    while (off < e - s) {
      const { done, value } = await reader.read(new Uint8Array(b, off, e - s - off));
      if (!value) break;
      b = value.buffer; off += value.byteLength;
      if (done) break;
    }
    await reader.cancel().catch(() => {});
    if (off !== e - s) throw new Error('short read');
    return new Uint8Array(b, 0, off);
  };
  let next = piece(start, Math.min(end, start + PIECE));
  for (let s = start; s < end; s += PIECE) {
    const bytes = await next;
    if (s + PIECE < end) next = piece(s + PIECE, Math.min(end, s + 2 * PIECE));
    if (hash) {
      const all = [];
      for (let o = 0; o < bytes.length; o += BLOCK) all.push(crypto.subtle.digest('SHA-256', bytes.subarray(o, Math.min(bytes.length, o + BLOCK))));
      await Promise.all(all);
    }
    if (read) free.push(bytes.buffer);
  }
  self.postMessage('done');
};\`;
const url = URL.createObjectURL(new Blob([WORKER], { type: 'text/javascript' }));
let workers = [];
window.probe = async (n, read, hash) => {
  while (workers.length < n) workers.push(new Worker(url));
  const file = document.getElementById('f').files[0];
  const per = Math.ceil(file.size / n / (8 << 20)) * (8 << 20);
  const t0 = performance.now();
  await Promise.all(workers.slice(0, n).map((w, i) => new Promise((ok, fail) => {
    w.onmessage = () => ok();
    w.onerror = (e) => fail(new Error(e.message));
    w.postMessage({ file, start: i * per, end: Math.min(file.size, (i + 1) * per), read, hash });
  })));
  return performance.now() - t0;
};
</script>`;

export interface Ceilings {
  readonly readMs: number[];
  readonly hashMs: number[];
}

/** Reads alone and hashes alone over `image`, `runs` times each after a warm-up, with `workers` Workers. */
export async function pageCeilings(browser: Browser, image: string, workers: number, runs: number): Promise<Ceilings> {
  const port = await freePort(4185);
  const server: Server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(PROBE_HTML);
  });
  await new Promise<void>((ok) => server.listen(port, 'localhost', ok));
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    await page.goto(`http://localhost:${port}/`);
    await page.locator('#f').setInputFiles(image);
    const probe = (read: boolean, hash: boolean) => page.evaluate(([n, r, h]) => (window as unknown as { probe: (n: number, r: boolean, h: boolean) => Promise<number> }).probe(n, r, h), [workers, read, hash] as const);
    await probe(true, false);
    await probe(false, true);
    const out: Ceilings = { readMs: [], hashMs: [] };
    for (let i = 0; i < runs; i++) {
      out.readMs.push(await probe(true, false));
      out.hashMs.push(await probe(false, true));
    }
    return out;
  } finally {
    await ctx.close();
    await new Promise<void>((ok) => server.close(() => ok()));
  }
}
