/**
 * The main screens at desktop and phone width: screenshots kept in the test output for review
 * (test-results/), and at 390 px nothing may overflow sideways on any of them. "Connect USB
 * device" (or, without WebUSB, the sentence saying so) is visible without scrolling.
 */
import { test, expect, tab } from './fixtures.ts';

const TABS = ['demos', 'faults', 'maintenance', 'fleet', 'log', 'trust'] as const;

for (const [name, width, height] of [['desktop', 1280, 800], ['phone', 390, 844]] as const) {
  test(`main screens at ${name} width (${width} px): nothing overflows, the first step is in view`, async ({ watched: page }) => {
    await page.setViewportSize({ width, height });
    await page.goto('/');
    await expect(page.getByTestId('nic-running')).toHaveText('28.39.1002', { timeout: 20_000 });
    await expect(page.getByTestId('verdict')).toHaveAttribute('data-verdict', 'accept', { timeout: 20_000 });
    await expect(page.getByTestId('connect-usb')).toBeInViewport();
    const wide = () => page.evaluate(() => document.documentElement.scrollWidth);
    expect(await wide()).toBeLessThanOrEqual(width);
    await page.screenshot({ path: test.info().outputPath(`${name}-flow.png`) });
    await page.screenshot({ path: test.info().outputPath(`${name}-flow-full.png`), fullPage: true });
    // an update's outcome, in view
    await tab(page, 'demos');
    await page.locator('[data-scenario="tampered"]').click();
    await expect(page.getByTestId('result')).toBeInViewport({ timeout: 30_000 });
    expect(await wide()).toBeLessThanOrEqual(width);
    await page.screenshot({ path: test.info().outputPath(`${name}-outcome.png`) });
    for (const t of TABS) {
      await tab(page, t);
      expect(await wide(), `${t} tab at ${width} px`).toBeLessThanOrEqual(width);
      await page.locator('.more').screenshot({ path: test.info().outputPath(`${name}-tab-${t}.png`) });
    }
  });
}
