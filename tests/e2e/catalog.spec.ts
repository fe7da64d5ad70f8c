/**
 * The release catalog in the page (issue #14): a vendor-signed catalog picked in the Trust panel is
 * summarised, makes the `catalog` row pass for the listed sample (release digest matched) and fail
 * for a withdrawn one (naming the catalog's reason, shown as text, never as HTML); it is kept in
 * IndexedDB across a reload; an older catalog dropped later is refused and the kept one stays.
 * The catalogs are signed here with the demo signer, with dates around this machine's clock, since
 * the page verifies at the real time.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, tab, SAMPLES_DIR } from './fixtures.ts';
import { signCatalog } from '../../src/core/catalog/catalog-sign.ts';
import { parseImageHead } from '../../src/core/image/parse.ts';
import { HEAD_MAX } from '../../src/core/image/layout.ts';
import { demoCert, demoKey } from '../unit/helpers/demo.ts';

const GOOD = 'Signed update 28.40.1000';
const DOWNGRADE = 'Downgrade below security version';
const REASON = 'recalled: <b>link flaps</b>';

/** SHA-256 of header ‖ manifest: the release digest the report computes. */
function releaseDigest(file: string): string {
  const bytes = new Uint8Array(readFileSync(join(SAMPLES_DIR, file)));
  const head = parseImageHead(bytes.subarray(0, Math.min(bytes.length, HEAD_MAX)), bytes.length);
  if (!head.ok) throw new Error(head.reason);
  return createHash('sha256').update(bytes.subarray(0, head.value.signedLength)).digest('hex');
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

async function catalogFile(dir: string, sequence: number): Promise<string> {
  const now = Date.now();
  const json = JSON.stringify({
    schema: 'trustflash-release-catalog',
    schemaVersion: 1,
    issued: iso(now - 86_400_000),
    expires: iso(now + 30 * 86_400_000),
    sequence,
    products: [{ psid: 'TF_0000000001', current: { version: '28.40.1000', releaseDigest: releaseDigest('good.tfw') }, minimumVersion: '28.30.0', withdrawn: [{ version: '28.35.1000', reason: REASON }] }],
  });
  const r = await signCatalog(json, { privateKey: (await demoKey('signer')).privateKey, certificate: await demoCert('signer') });
  if (!r.ok) throw new Error(r.reason);
  const path = join(dir, `vendor-catalog-${sequence}.cms`);
  writeFileSync(path, r.value.der);
  return path;
}

test('a release catalog: the listed sample passes the catalog row, a withdrawn one fails; kept across a reload; an older catalog refused', async ({ watched: page }) => {
  test.setTimeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'tf-catalog-'));
  const newer = await catalogFile(dir, 7);
  const older = await catalogFile(dir, 6);

  await page.goto('/');
  await page.evaluate(async () => {
    localStorage.clear();
    await new Promise((resolve) => {
      const r = indexedDB.deleteDatabase('trustflash-catalog');
      r.onsuccess = r.onerror = r.onblocked = () => resolve(undefined);
    });
  });
  await page.reload();

  // no catalog: the row is skipped, never passed
  await page.locator('.sample', { hasText: GOOD }).click();
  await expect(page.getByTestId('verdict')).toHaveAttribute('data-verdict', 'accept', { timeout: 20_000 });
  await expect(page.locator('tr[data-check="catalog"]')).toHaveAttribute('data-status', 'skipped');

  await tab(page, 'trust');
  await page.getByTestId('trust-input').setInputFiles([newer]);
  await expect(page.getByTestId('catalog-summary')).toContainText('sequence 7');
  await expect(page.getByTestId('catalog-summary')).toContainText('TF_0000000001 28.40.1000');

  await page.locator('.sample', { hasText: GOOD }).click();
  await expect(page.getByTestId('verdict')).toHaveAttribute('data-verdict', 'accept', { timeout: 20_000 });
  const row = page.locator('tr[data-check="catalog"]');
  await expect(row).toHaveAttribute('data-status', 'pass');
  await expect(row.locator('.reason')).toContainText('the current release 28.40.1000 of PSID TF_0000000001, release digest matches; catalog sequence 7');

  await page.locator('.sample', { hasText: DOWNGRADE }).click();
  await expect(page.getByTestId('verdict')).toHaveAttribute('data-verdict', 'reject', { timeout: 20_000 });
  await expect(row).toHaveAttribute('data-status', 'fail');
  await expect(row.locator('.reason')).toContainText(`version 28.35.1000 is withdrawn for PSID TF_0000000001: "${REASON}"`);
  await expect(row.locator('b')).toHaveCount(0);
  await page.screenshot({ path: test.info().outputPath('catalog-withdrawn.png'), fullPage: true });

  // kept in IndexedDB: after a reload the catalog is still there and still judged
  await page.reload();
  await tab(page, 'trust');
  await expect(page.getByTestId('catalog-summary')).toContainText('sequence 7');
  await page.locator('.sample', { hasText: GOOD }).click();
  await expect(page.locator('tr[data-check="catalog"]')).toHaveAttribute('data-status', 'pass', { timeout: 20_000 });

  // an older catalog dropped later is refused, and the kept one stays
  await page.getByTestId('trust-input').setInputFiles([older]);
  await expect(page.getByTestId('catalog-error')).toContainText('catalog sequence 6 is older than sequence 7 already seen for PSID TF_0000000001 (a rolled-back catalog)');
  await expect(page.getByTestId('catalog-summary')).toContainText('sequence 7');
  // removed, the older one is still refused: what was seen is not forgotten
  await page.getByTestId('catalog-summary').getByRole('button', { name: 'remove' }).click();
  await page.getByTestId('trust-input').setInputFiles([older]);
  await expect(page.getByTestId('catalog-error')).toContainText('a rolled-back catalog');
  await page.locator('section[aria-labelledby="setup-heading"]').screenshot({ path: test.info().outputPath('trust-panel-catalog.png') });
});
