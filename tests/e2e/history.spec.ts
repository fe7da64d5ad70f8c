/**
 * History that survives: the update history and the hash-chained audit log across reloads (and
 * across a reload with the service worker and its caches gone, as after an app update), an update
 * cut off by a reload flagged "interrupted", the reboot on reload said plainly, one tab owning the
 * emulated NICs, and the 32 MiB sample offline.
 */
import { readFileSync } from 'node:fs';
import { preview } from 'vite';
import type { Download, Page } from '@playwright/test';
import { test, expect, tab } from './fixtures.ts';
import { verifyAuditLog } from '../../src/core/update/audit.ts';

async function open(page: Page, url = '/') {
  await page.goto(url);
  await expect(page.getByTestId('nic-running')).toHaveText(/^28\./, { timeout: 20_000 });
}

async function saved(page: Page, click: () => Promise<void>): Promise<string> {
  const [download] = (await Promise.all([page.waitForEvent('download'), click()])) as [Download, void];
  return readFileSync((await download.path())!, 'utf8');
}

/**
 * Like the `watched` fixture, except that the browser's own "Failed to load resource" line for the
 * 32 MiB sample is expected where the test cuts its download (a reload) or the server (offline):
 * the page handles that failure; any other console error or uncaught exception fails the test.
 */
function watchAllowingFailedLoadsOf(page: Page, file: string): () => void {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (m.text().startsWith('Failed to load resource') && m.location().url.endsWith(`/samples/${file}`)) return;
    problems.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return () => expect(problems).toEqual([]);
}

const exportAudit = (page: Page) => saved(page, () => page.getByTestId('export-audit').click());

/** Screenshots of the history tab at desktop and phone width, kept in the test output. */
async function shoot(page: Page, name: string) {
  await tab(page, 'log');
  await page.getByTestId('history-panel').scrollIntoViewIfNeeded();
  await page.screenshot({ path: test.info().outputPath(`${name}-desktop.png`), fullPage: true });
  await page.getByTestId('history-panel').screenshot({ path: test.info().outputPath(`${name}-panel-desktop.png`) });
  const size = page.viewportSize()!;
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByTestId('history-panel').scrollIntoViewIfNeeded();
  await page.screenshot({ path: test.info().outputPath(`${name}-phone.png`), fullPage: true });
  await page.getByTestId('history-panel').screenshot({ path: test.info().outputPath(`${name}-panel-phone.png`) });
  // nothing overflows at phone width
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await page.setViewportSize(size);
}

test('history and audit chain survive a reload and an app update; the reboot that applied the image is said', async ({ watched: page }) => {
  await open(page);
  await expect(page.getByTestId('nic-running')).toHaveText('28.39.1002');
  await page.getByTestId('run').click();
  await expect(page.getByTestId('result')).toHaveAttribute('data-outcome', 'updated', { timeout: 30_000 });
  await expect(page.getByTestId('nic-pending')).toHaveText('28.40.1000');
  await tab(page, 'log');
  await expect(page.getByTestId('history').locator('li')).toHaveCount(1);
  await expect(page.getByTestId('history').locator('li').first()).toHaveAttribute('data-outcome', 'updated');
  const before = await exportAudit(page);
  const first = await verifyAuditLog(before);
  expect(first.ok).toBe(true);

  // 1. a reload: the page is the NIC's power, so the NIC reboots into its pending image — and says so
  await page.reload();
  await expect(page.getByTestId('nic-running')).toHaveText('28.40.1000', { timeout: 20_000 });
  await expect(page.getByTestId('reboot-notice')).toHaveText(
    'The page was reloaded: the emulated NIC TFN0000001 was power-cycled and now runs 28.40.1000 (its pending image was applied).',
  );
  await tab(page, 'log');
  const items = page.locator('[data-testid="history"][data-serial="TFN0000001"] li');
  await expect(items).toHaveCount(2);
  await expect(items.nth(0)).toHaveAttribute('data-outcome', 'power-cycled');
  await expect(items.nth(1)).toHaveAttribute('data-outcome', 'updated');
  await expect(items.nth(1)).toContainText('good.tfw');
  await expect(items.nth(1)).toContainText('28.39.1002 → 28.39.1002 (pending 28.40.1000)');
  await expect(page.getByTestId('audit-resume')).toContainText(`continues the ${first.ok ? first.records : 0} records`);
  const after = await exportAudit(page);
  expect(after.startsWith(before)).toBe(true);
  const second = await verifyAuditLog(after);
  expect(second.ok && first.ok && second.records > first.records).toBe(true);
  await expect(page.getByTestId('audit-summary')).toContainText('chain intact');

  // 2. an app update: the new version's service worker and caches replace the old ones; the
  // history and the chain live in IndexedDB, apart from both (simulated: the service worker is
  // unregistered and every cache deleted before the reload, so the app is fetched and installed anew)
  await page.evaluate(async () => {
    for (const r of await navigator.serviceWorker.getRegistrations()) await r.unregister();
    for (const k of await caches.keys()) await caches.delete(k);
  });
  await page.reload();
  await expect(page.getByTestId('nic-running')).toHaveText('28.40.1000', { timeout: 20_000 });
  await expect(page.getByTestId('reboot-notice')).toHaveCount(0); // nothing was pending this time
  await tab(page, 'log');
  await expect(items).toHaveCount(2);
  const third = await exportAudit(page);
  expect(third.startsWith(after)).toBe(true);
  expect(await verifyAuditLog(third)).toMatchObject({ ok: true });

  const history = JSON.parse(await saved(page, () => page.getByTestId('export-history').click())) as { format: string; schema: number; entries: { outcome: string; serial: string; psid?: string }[] };
  expect(history).toMatchObject({ format: 'trustflash-history', schema: 1 });
  expect(history.entries.map((e) => e.outcome)).toEqual(['updated', 'power-cycled']);
  expect(history.entries[0]).toMatchObject({ serial: 'TFN0000001', psid: 'TF_0000000001' });
  await shoot(page, 'history');
});

test('an update cut off by a reload: the page warns first, flags it "interrupted" on return, and the same update resumes what the NIC kept', async ({ page }) => {
  const check = watchAllowingFailedLoadsOf(page, 'big-32mib.tfw');
  await open(page);
  // a slow update: the 32 MiB sample over a full-speed USB timing model (about 25 s)
  await tab(page, 'faults');
  await page.getByTestId('timing').selectOption('full-speed');
  await page.locator('.sample[data-file="big-32mib.tfw"]').click();
  await expect(page.getByTestId('chosen-firmware')).toContainText('big-32mib.tfw');
  await page.getByTestId('run').click();
  await expect(page.getByTestId('progress')).toContainText(/[1-9]\d*(\.\d)? (KiB|MiB) of 32(\.0)? MiB sent/, { timeout: 30_000 });
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.type());
    void d.accept();
  });
  await page.reload();
  expect(dialogs).toEqual(['beforeunload']);
  await expect(page.getByTestId('nic-running')).toHaveText('28.39.1002', { timeout: 20_000 });
  await expect(page.getByTestId('interrupted-notice')).toContainText('the update of TFN0000001 with big-32mib.tfw');
  await expect(page.getByTestId('interrupted-notice')).toContainText('did not finish: the page was reloaded or closed while it ran');
  await expect(page.getByTestId('interrupted-notice')).toContainText('TFN0000001 now runs 28.39.1002, nothing pending');
  // the NIC's flash was written through to IndexedDB: it kept what it had verified of the download
  await expect(page.getByTestId('kept-download')).toContainText(/The device kept \d+ of \d+ bytes of a download/);
  await page.getByTestId('update-panel').screenshot({ path: test.info().outputPath('interrupted-notice.png') });
  await tab(page, 'log');
  const item = page.locator('[data-testid="history"][data-serial="TFN0000001"] li').first();
  await expect(item).toHaveAttribute('data-outcome', 'interrupted');
  await expect(item).toContainText('big-32mib.tfw');
  await expect(item).toContainText('interrupted');
  const audit = await exportAudit(page);
  expect(audit).toContain('interrupted: the update with big-32mib.tfw');
  expect(await verifyAuditLog(audit)).toMatchObject({ ok: true });
  await shoot(page, 'history-interrupted');
  // the same update again resumes the download the NIC kept (issue #13)
  await page.locator('.sample[data-file="big-32mib.tfw"]').click();
  await page.getByTestId('run').click();
  await expect(page.getByTestId('result')).toHaveAttribute('data-outcome', 'updated', { timeout: 60_000 });
  await expect(page.locator('[data-step="update-component"]')).toContainText(/resumed: the device kept \d+ of \d+ bytes of this release/);
  await expect(page.getByTestId('kept-download')).toHaveCount(0);
  check();
});

test('two tabs: the second says the emulated NICs are open elsewhere, never forks them, and takes over when the first closes', async ({ watched: first, context }) => {
  await open(first);
  const second = await context.newPage();
  const errors: string[] = [];
  second.on('pageerror', (e) => errors.push(e.message));
  await second.goto('/');
  await expect(second.getByTestId('emulator-elsewhere')).toContainText('The emulated NICs are open in another tab of TrustFlash; close it or use that tab');
  await expect(second.getByTestId('nic-fields')).toHaveCount(0);
  // verification still works in the second tab
  await second.locator('.sample', { hasText: 'Tampered payload' }).click();
  await expect(second.getByTestId('failed-check')).toHaveAttribute('data-check', 'payload');
  await second.screenshot({ path: test.info().outputPath('second-tab.png'), fullPage: true });

  // the first tab updates its NIC; the second shows no copy of it to diverge
  await first.getByTestId('run').click();
  await expect(first.getByTestId('result')).toHaveAttribute('data-outcome', 'updated', { timeout: 30_000 });
  await expect(second.getByTestId('nic-fields')).toHaveCount(0);

  // the first tab closes: the second takes the NICs over by itself, as the first left them
  await first.close();
  await expect(second.getByTestId('emulator-takeover')).toBeVisible({ timeout: 20_000 });
  await expect(second.getByTestId('nic-running')).toHaveText('28.40.1000', { timeout: 20_000 });
  await expect(second.getByTestId('reboot-notice')).toContainText('power-cycled and now runs 28.40.1000 (its pending image was applied)');
  await tab(second, 'log');
  await expect(second.locator('[data-testid="history"][data-serial="TFN0000001"] li')).toHaveCount(2);
  expect(errors).toEqual([]);
  await second.close();
});

test('offline: the 32 MiB sample says it is not stored offline, and picking it says why instead of "Failed to fetch"', async ({ page }) => {
  const check = watchAllowingFailedLoadsOf(page, 'big-32mib.tfw');
  const server = await preview({ preview: { port: 4176, strictPort: true }, logLevel: 'silent' });
  const url = 'http://localhost:4176/';
  try {
    await open(page, url);
    await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller), { timeout: 20_000 }).toBe(true);
    await expect.poll(() => page.evaluate(async () => (await caches.keys()).length)).toBeGreaterThan(0);
  } finally {
    (server.httpServer as import('node:http').Server).closeAllConnections?.();
    await server.close();
  }
  await page.reload();
  await expect(page.getByTestId('nic-running')).toHaveText(/^28\./, { timeout: 20_000 });
  const big = page.locator('.sample[data-file="big-32mib.tfw"]');
  await expect(big.getByTestId('not-offline')).toHaveText('Not stored offline (32.0 MiB): needs the server.');
  await big.click();
  await expect(page.getByTestId('sample-error')).toHaveText(
    'big-32mib.tfw is not stored offline (only the small samples are): it needs the server TrustFlash is served from. Reconnect, or choose a local copy of the file.',
  );
  // the update says the same when asked to send it
  await page.getByTestId('run').click();
  await expect(page.getByTestId('update-panel').getByRole('alert')).toContainText('big-32mib.tfw is not stored offline');
  // a stored sample still works offline
  await page.locator('.sample', { hasText: 'Tampered payload' }).click();
  await expect(page.getByTestId('failed-check')).toHaveAttribute('data-check', 'payload');
  await expect(page.getByTestId('sample-error')).toHaveCount(0);
  check();
});
