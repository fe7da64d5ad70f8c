/**
 * Production mode in the page (issue #14): the setting at the top of the page, remembered after a
 * reload; every demo sample refused with a "Production mode" row; the demo scenarios hidden; the
 * demo NIC refusing an update with a pointer to "Add emulated NIC trusting my key…"; an image signed
 * by the operator's own key installed on a NIC made to trust it; turning it off a confirmed step.
 * Screenshots at desktop and phone width go to test-results/, and nothing overflows at 390 px.
 */
import type { Page } from '@playwright/test';
import { ownKeyImage } from './own-key.ts';
import { test, expect, tab, index } from './fixtures.ts';

const wide = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth);

async function turnOn(page: Page): Promise<void> {
  await page.getByTestId('production-on-button').click();
  await expect(page.getByTestId('production-on')).toContainText('Production mode is on');
}

test('production mode: every demo sample refused, demo scenarios hidden, the demo NIC refused, remembered', async ({ watched: page }) => {
  test.setTimeout(180_000);
  await page.goto('/');
  await expect(page.getByTestId('nic-running')).toHaveText('28.39.1002', { timeout: 20_000 });
  await expect(page.getByTestId('verdict')).toHaveAttribute('data-verdict', 'accept', { timeout: 20_000 });
  await expect(page.getByTestId('production-off-state')).toBeVisible();
  await expect(page.locator('[data-tab="demos"]')).toHaveCount(1);

  await turnOn(page);
  // the report on screen is checked again under the new rule
  await expect(page.getByTestId('verdict')).toHaveAttribute('data-verdict', 'reject', { timeout: 20_000 });
  await expect(page.getByTestId('failed-check')).toHaveAttribute('data-check', 'production');
  await expect(page.locator('[data-tab="demos"]')).toHaveCount(0);

  // every sample the page ships is refused, and each report has the row
  for (const s of index.samples) {
    if (s.file === 'big-32mib.tfw') continue; // 32 MiB, not needed to show the rule
    await page.locator(`.sample[data-sample="${s.title}"]`).click();
    await expect(page.getByTestId('file-name')).toHaveText(s.file);
    await expect(page.getByTestId('verdict'), s.title).toHaveAttribute('data-verdict', 'reject', { timeout: 20_000 });
    const row = page.locator('tr[data-check="production"]');
    await expect(row, s.title).toHaveCount(1);
    if (s.expect.verdict === 'accept') {
      await expect(page.getByTestId('failed-check'), s.title).toHaveAttribute('data-check', 'production');
      await expect(row).toHaveAttribute('data-status', 'fail');
      await expect(row.locator('.reason')).toContainText('refused in production mode: signed with a DEMO key');
    }
  }

  // the demo NIC: refused before anything starts, with the way out named
  await page.locator('.sample[data-sample="Signed update 28.40.1000"]').click();
  await expect(page.getByTestId('verdict')).toHaveAttribute('data-verdict', 'reject', { timeout: 20_000 });
  await expect(page.getByTestId('production-nic-note')).toContainText('Add emulated NIC trusting my key…');
  await expect(page.getByTestId('add-nic')).toBeDisabled();
  await page.getByTestId('run').click();
  await expect(page.getByRole('alert').filter({ hasText: 'Production mode is on, and this NIC trusts only the DEMO keys' })).toContainText('Add emulated NIC trusting my key…');
  await expect(page.getByTestId('nic-pending')).not.toHaveText('28.40.1000');
  // a NIC made to trust a demo key is not made in production mode
  await page.getByTestId('trust-key-input').setInputFiles('src/assets/demo-keys/signer/pubkey.pem');
  await expect(page.getByTestId('device-error')).toContainText('the NIC was not made: refused in production mode: this NIC trusts only DEMO keys', { timeout: 20_000 });
  await expect(page.getByTestId('device-select')).toHaveCount(0);

  // remembered: a reload keeps it on, and the demos stay hidden
  await page.reload();
  await expect(page.getByTestId('production-on')).toBeVisible({ timeout: 20_000 });
  await expect(page.locator('[data-tab="demos"]')).toHaveCount(0);
  await expect(page.getByTestId('verdict')).toHaveAttribute('data-verdict', 'reject', { timeout: 20_000 });

  // off again is an explicit, confirmed step
  await page.getByTestId('production-off').click();
  await page.getByTestId('production-keep').click();
  await expect(page.getByTestId('production-on')).toBeVisible();
  await page.getByTestId('production-off').click();
  await page.getByTestId('production-off-confirm').click();
  await expect(page.getByTestId('production-off-state')).toBeVisible();
  await expect(page.locator('[data-tab="demos"]')).toHaveCount(1);
  await expect(page.getByTestId('verdict')).toHaveAttribute('data-verdict', 'accept', { timeout: 20_000 });
  await expect(page.locator('tr[data-check="production"]')).toHaveCount(0);
});

test('production mode with my own key: a NIC trusting it takes my image', async ({ watched: page }) => {
  test.setTimeout(120_000);
  const { pub, file } = await ownKeyImage('tf-prod-');

  await page.goto('/');
  await expect(page.getByTestId('nic-running')).toHaveText('28.39.1002', { timeout: 20_000 });
  await turnOn(page);
  await page.getByTestId('trust-key-input').setInputFiles(pub);
  await expect(page.getByTestId('device-select')).toHaveValue('TFN0000002', { timeout: 20_000 });
  await tab(page, 'trust');
  await page.getByTestId('trust-input').setInputFiles(pub);
  await expect(page.getByText('my-key.pub')).toBeVisible();
  await page.getByTestId('file-input').setInputFiles(file);
  await expect(page.getByTestId('verdict')).toHaveAttribute('data-verdict', 'accept', { timeout: 20_000 });
  const row = page.locator('tr[data-check="production"]');
  await expect(row).toHaveAttribute('data-status', 'pass');
  await expect(row.locator('.reason')).toContainText('production mode on');
  await page.getByTestId('run').click();
  await expect(page.getByTestId('result')).toHaveAttribute('data-outcome', 'updated', { timeout: 30_000 });
  await expect(page.getByTestId('nic-pending')).toHaveText('28.41.1000');
});

for (const [name, width, height] of [['desktop', 1280, 800], ['phone', 390, 844]] as const) {
  test(`production mode at ${name} width (${width} px): nothing overflows, the setting and the first step in view`, async ({ watched: page }) => {
    await page.setViewportSize({ width, height });
    await page.goto('/');
    await expect(page.getByTestId('nic-running')).toHaveText('28.39.1002', { timeout: 20_000 });
    await expect(page.getByTestId('production-setting')).toBeInViewport();
    await page.screenshot({ path: test.info().outputPath(`${name}-production-off.png`) });
    await turnOn(page);
    await expect(page.getByTestId('verdict')).toHaveAttribute('data-verdict', 'reject', { timeout: 20_000 });
    expect(await wide(page)).toBeLessThanOrEqual(width);
    await page.screenshot({ path: test.info().outputPath(`${name}-production-on.png`) });
    await page.screenshot({ path: test.info().outputPath(`${name}-production-report.png`), fullPage: true });
    await page.getByTestId('production-off').click();
    await expect(page.getByTestId('production-off-confirm')).toBeVisible();
    expect(await wide(page)).toBeLessThanOrEqual(width);
    await page.getByTestId('production-setting').screenshot({ path: test.info().outputPath(`${name}-production-confirm.png`) });
  });
}
