import { test as base, expect, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';

export interface SampleEntry {
  file: string;
  title: string;
  expect: { verdict: 'accept' | 'reject'; failedCheck?: string };
  kind: 'image' | 'detached';
  signature?: string;
  certificate?: string;
}
export const SAMPLES_DIR = 'public/samples';
export const index = JSON.parse(readFileSync(`${SAMPLES_DIR}/index.json`, 'utf8')) as { samples: SampleEntry[] };

/** Every page records CSP violations and console errors; each test ends by asserting there were none. */
export const test = base.extend<{ watched: Page }>({
  watched: async ({ page }, use) => {
    const problems: string[] = [];
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        (window as unknown as { __csp: string[] }).__csp ??= [];
        (window as unknown as { __csp: string[] }).__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    await use(page);
    const csp = await page.evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? []).catch(() => []);
    expect([...problems, ...csp.map((c) => `CSP: ${c}`)]).toEqual([]);
  },
});
export { expect };

/** Opens one of the page's secondary tabs (demos, faults, maintenance, fleet, log, trust). */
export async function tab(page: Page, id: 'demos' | 'faults' | 'maintenance' | 'fleet' | 'log' | 'trust'): Promise<void> {
  await page.locator(`[data-tab="${id}"]`).click();
  await expect(page.locator(`[data-tab="${id}"]`)).toHaveAttribute('aria-selected', 'true');
}
