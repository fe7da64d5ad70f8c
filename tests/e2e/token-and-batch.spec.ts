import { test, expect, tab } from './fixtures.ts';
import type { Page } from '@playwright/test';

/** The page opens with the emulated NIC (in its Worker) connected and queried. */
async function open(page: Page) {
  await page.goto('/');
  await expect(page.getByTestId('nic-running')).toHaveText('28.39.1002', { timeout: 20_000 });
}

test.describe('CS token and several NICs', () => {
  test('CS token: SET_VSD refused, the challenge answered with a DEMO-key token, then SET_VSD accepted and shown', async ({ watched: page }) => {
    await open(page);
    await tab(page, 'maintenance');
    await expect(page.getByTestId('maintenance-panel')).toContainText('DEMO signer key, whose private half is public');
    await page.getByTestId('token-vsd').fill('LAB-RACK-7');
    await page.getByTestId('token-unlock').click();
    const steps = page.getByTestId('token-steps');
    await expect(steps.locator('[data-token-step="accepted"]')).toBeVisible({ timeout: 20_000 });
    await expect(steps.locator('[data-token-step="refused"]')).toContainText('Unsupported operation under Secure FW');
    await expect(steps.locator('[data-token-step="challenge"]')).toContainText(/nonce [0-9a-f]{8}…[0-9a-f]{4} for PSID TF_0000000001/);
    await expect(steps.locator('[data-token-step="signed"]')).toContainText('DEMO vendor signer key');
    await expect(steps.locator('[data-token-step="applied"]')).toContainText('unlocked for 300 s');
    await expect(steps.locator('[data-ok="false"]')).toHaveCount(0);
    await expect(page.getByTestId('nic-vsd')).toHaveText('LAB-RACK-7');
    await page.getByTestId('maintenance-panel').screenshot({ path: test.info().outputPath('cs-token.png') });
  });

  test('Update all NICs: two NICs end pending 28.40.1000; the other board is refused by the host pre-flight', async ({ watched: page }) => {
    await open(page);
    await page.getByTestId('add-nic').click();
    await expect(page.getByTestId('device-select')).toHaveValue('TFN0000002', { timeout: 20_000 });
    await page.getByLabel(/for the other board/).check();
    await page.getByTestId('add-nic').click();
    await expect(page.getByTestId('device-select')).toHaveValue('TFN0000003', { timeout: 20_000 });
    await tab(page, 'fleet');
    await expect(page.getByTestId('update-all')).toHaveText('Update all NICs (3)');
    await page.getByTestId('update-all').click();

    await expect(page.getByTestId('batch-summary')).toHaveText('good.tfw: 2 of 3 updated.', { timeout: 30_000 });
    const row = (serial: string) => page.locator(`[data-testid="batch-row"][data-serial="${serial}"]`);
    for (const serial of ['TFN0000001', 'TFN0000002']) {
      await expect(row(serial)).toHaveAttribute('data-outcome', 'updated');
      await expect(row(serial).getByTestId('batch-versions')).toHaveText('running 28.39.1002, pending 28.40.1000');
      await expect(row(serial).locator('progress')).toHaveAttribute('value', '100');
    }
    await expect(row('TFN0000003')).toHaveAttribute('data-outcome', 'rejected-by-host');
    await expect(row('TFN0000003').getByTestId('batch-message')).toContainText('Pre-flight check failed: Meant for this device');
    await expect(row('TFN0000003').getByTestId('batch-versions')).toHaveText('running 28.39.1002, pending none');
    // the device panel agrees for the one selected
    await page.getByTestId('device-select').selectOption('TFN0000002');
    await expect(page.getByTestId('nic-pending')).toHaveText('28.40.1000');
    await page.getByTestId('batch-panel').screenshot({ path: test.info().outputPath('update-all.png') });
  });
});
