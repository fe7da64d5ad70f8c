/**
 * A release engineer's own key in the page: an emulated NIC made to trust it, the public key added
 * to the trust store (remembered after a reload), an image signed with it verified and installed,
 * and the same NIC refusing the demo-signed image before anything is sent.
 */
import { ownKeyImage } from './own-key.ts';
import { test, expect, tab } from './fixtures.ts';

test('my own key: a NIC that trusts it, my root remembered, my image installed, the demo image refused', async ({ watched: page }) => {
  test.setTimeout(120_000);
  const { pub, file } = await ownKeyImage('tf-own-');

  await page.goto('/');
  await expect(page.getByTestId('nic-running')).toHaveText('28.39.1002', { timeout: 20_000 });
  await page.getByTestId('trust-key-input').setInputFiles(pub);
  await expect(page.getByTestId('device-select')).toHaveValue('TFN0000002', { timeout: 20_000 });
  await expect(page.getByTestId('nic-running')).toHaveText('28.39.1002');
  // my public key as a trust root for the host's checks
  await tab(page, 'trust');
  await page.getByTestId('trust-input').setInputFiles(pub);
  await expect(page.getByText('my-key.pub')).toBeVisible();
  // my image: the report and the update are about it
  await page.getByTestId('file-input').setInputFiles(file);
  await expect(page.getByTestId('verdict')).toHaveAttribute('data-verdict', 'accept');
  await expect(page.getByTestId('update-firmware')).toContainText('mine.tfw to TFN0000002');
  await page.getByTestId('run').click();
  await expect(page.getByTestId('result')).toHaveAttribute('data-outcome', 'updated', { timeout: 30_000 });
  await expect(page.getByTestId('nic-pending')).toHaveText('28.41.1000');
  await page.screenshot({ path: test.info().outputPath('own-key-updated.png'), fullPage: true });

  // the demo-signed image: refused by the pre-flight, because this NIC does not hold the demo key
  await page.locator('.sample', { hasText: 'Signed update 28.40.1000' }).click();
  await expect(page.getByTestId('update-firmware')).toContainText('good.tfw to TFN0000002');
  await page.getByTestId('run').click();
  await expect(page.getByTestId('result')).toHaveAttribute('data-outcome', 'rejected-by-host', { timeout: 30_000 });
  await expect(page.getByTestId('rejection')).toContainText('Nothing was sent to the device');
  await expect(page.getByTestId('choose-another')).toBeVisible();

  // the trust store is remembered across a reload
  await page.reload();
  await tab(page, 'trust');
  await expect(page.getByTestId('trust-note')).toContainText('Remembered on this computer: my-key.pub');
});
