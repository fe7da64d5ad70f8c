/**
 * Revocation in the page (issue #14): a CRL revoking the demo signer, picked in the Trust panel,
 * is listed (issuer, dates, count) and makes the signed sample fail at the chain row with the
 * signer's serial; it is remembered after a reload; removed, the same sample is accepted again.
 * The CRL is made by `trustflash crl`'s core with dates around this machine's clock, since the page
 * verifies at the real time.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, tab } from './fixtures.ts';
import { makeCrl } from '../../src/core/crypto/crl-issue.ts';
import { toPem } from '../../src/core/crypto/pem.ts';
import { demoCert, demoKey } from '../unit/helpers/demo.ts';

const SIGNER_SERIAL = '2818d08967ddd6e72fe3e94508ea285f';
const GOOD = 'Signed update 28.40.1000';

test('a CRL revoking the demo signer: listed, the sample rejected at the chain row with the serial; removed, accepted', async ({ watched: page }) => {
  test.setTimeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'tf-crl-'));
  const day = 86_400_000;
  const now = Math.floor(Date.now() / 1000) * 1000;
  const crl = await makeCrl({
    issuer: await demoCert('root'),
    privateKey: (await demoKey('root')).privateKey,
    thisUpdate: new Date(now - day),
    nextUpdate: new Date(now + 30 * day),
    number: 9n,
    revoked: [{ serialHex: SIGNER_SERIAL, revocationDate: new Date(now - day), reason: 1 }],
  });
  const der = join(dir, 'vendor-root.crl');
  writeFileSync(der, crl.der);
  // the same CRL as PEM, with markup in its file name: shown as text, never as HTML
  const ODD = '<img src=x onerror=alert(1)>.crl.pem';
  const odd = join(dir, ODD);
  writeFileSync(odd, toPem('X509 CRL', crl.der));

  for (const [width, height] of [[1280, 800], [390, 844]] as const) {
    await page.setViewportSize({ width, height });
    await page.goto('/');
    await page.evaluate(() => localStorage.clear());
    await page.reload();
    await tab(page, 'trust');
    await page.getByTestId('trust-input').setInputFiles([der, odd]);
    const items = page.getByTestId('crl-item');
    await expect(items).toHaveCount(2);
    await expect(items.first()).toContainText('vendor-root.crl');
    await expect(items.first()).toContainText('from O=TrustFlash Demo, CN=TrustFlash Demo Root CA (TEST KEY, NOT FOR PRODUCTION), number 9');
    await expect(items.first()).toContainText('1 revoked serial');
    await expect(items.nth(1)).toContainText(ODD);
    await expect(page.locator('[data-testid="crl-list"] img')).toHaveCount(0);
    await expect(page.getByTestId('crl-expired')).toHaveCount(0);

    await page.locator('.sample', { hasText: GOOD }).click();
    await expect(page.getByTestId('verdict')).toHaveAttribute('data-verdict', 'reject', { timeout: 20_000 });
    await expect(page.getByTestId('failed-check')).toHaveAttribute('data-check', 'chain');
    const chain = page.locator('tr[data-check="chain"] .reason');
    await expect(chain).toContainText(`revoked: serial 0x${SIGNER_SERIAL}, reason keyCompromise, by the CRL of "O=TrustFlash Demo, CN=TrustFlash Demo Root CA (TEST KEY, NOT FOR PRODUCTION)"`);
    await page.getByTestId('trust-drop').scrollIntoViewIfNeeded();
    await page.screenshot({ path: test.info().outputPath(`revoked-${width}x${height}.png`), fullPage: true });
    // close-ups for a phone-sized page, where the full page is too tall to read
    await page.locator('section[aria-labelledby="setup-heading"]').screenshot({ path: test.info().outputPath(`trust-panel-${width}x${height}.png`) });
    await page.getByTestId('verdict').screenshot({ path: test.info().outputPath(`verdict-${width}x${height}.png`) });

    // remembered offline: a reload lists the CRLs again
    await page.reload();
    await tab(page, 'trust');
    await expect(page.getByTestId('trust-note')).toContainText('vendor-root.crl');
    await expect(page.getByTestId('crl-item')).toHaveCount(2);

    // removed: the same sample passes, and the chain row says no CRL is loaded
    for (const name of ['vendor-root.crl', ODD]) await page.getByTestId('crl-item').filter({ hasText: name }).getByRole('button', { name: 'remove' }).click();
    await expect(page.getByTestId('crl-item')).toHaveCount(0);
    await page.locator('.sample', { hasText: GOOD }).click();
    await expect(page.getByTestId('verdict')).toHaveAttribute('data-verdict', 'accept', { timeout: 20_000 });
    await expect(page.locator('tr[data-check="chain"] .reason')).toContainText('revocation not checked: no revocation list (CRL) is loaded');
    await page.screenshot({ path: test.info().outputPath(`accepted-${width}x${height}.png`), fullPage: true });
  }
});
