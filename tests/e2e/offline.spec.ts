import { preview } from 'vite';
import { test, expect } from './fixtures.ts';

test('installed app works offline: reload with the server stopped still verifies', async ({ watched: page }) => {
  // Our own server on another port, so the test can really stop it.
  // its own server, one port above the suite's (E2E_PORT lets two checkouts run side by side)
  const port = Number(process.env.E2E_PORT ?? 4173) + 1;
  const server = await preview({ preview: { port, strictPort: true }, logLevel: 'silent' });
  const url = `http://localhost:${port}/`;
  await page.goto(url);
  await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
    return reg.active?.state;
  });
  await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
  // precache complete: samples are in the cache
  await expect.poll(() => page.evaluate(async () => (await caches.keys()).length)).toBeGreaterThan(0);
  (server.httpServer as import('node:http').Server).closeAllConnections?.();
  await server.close();
  await expect(fetch(url)).rejects.toThrow();
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Firmware', exact: true })).toBeVisible();
  await page.locator('.sample', { hasText: 'Tampered payload' }).click();
  await expect(page.getByTestId('failed-check')).toHaveAttribute('data-check', 'payload');
  await page.screenshot({ path: test.info().outputPath('offline.png'), fullPage: true });
});
