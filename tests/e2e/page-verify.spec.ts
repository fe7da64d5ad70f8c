/**
 * Issue #13 in the page: a format v2 image of a few tens of MiB, picked as a file, is verified by
 * the block-hasher Workers while the main thread stays free (no long task over 50 ms, seen by a
 * PerformanceObserver installed before the app's code), and a copy with one byte flipped in its
 * LAST hash block is rejected with that block's index and byte range — the verdict waits for every
 * block. The images are made at test time in a temp dir and deleted afterwards.
 */
import { longTasksSince, observeLongTasks } from '../../bench/long-tasks.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { test, expect } from './fixtures.ts';
import { signImage } from '../../src/core/sign/sign-image.ts';
import { parseImage } from '../../src/core/image/parse.ts';
import { DRAFT, demoKey, demoCert } from '../unit/helpers/demo.ts';

const MiB = 1024 * 1024;
/** 40 hash blocks of 1 MiB and a 12 345-byte 41st: well above the pool's 8 MiB threshold. */
const PAYLOAD = 40 * MiB + 12_345;
const LAST = 40;

const dir = mkdtempSync(join(tmpdir(), 'tf-e2e-v2-'));
const good = join(dir, 'big-v2.tfw');
const bad = join(dir, 'big-v2-last-block-flipped.tfw');
let payloadOffset = 0;

test.beforeAll(async () => {
  const payload = randomFillSync(new Uint8Array(PAYLOAD));
  const img = await signImage({ ...DRAFT, psids: ['TF_0000000001'] }, payload, [{ key: await demoKey('signer'), chain: [await demoCert('signer')] }]);
  const h = parseImage(img);
  if (!h.ok) throw new Error('the test image does not parse');
  payloadOffset = h.value.payloadOffset;
  writeFileSync(good, img);
  img[payloadOffset + LAST * MiB + 6000]! ^= 0x01; // inside the last block only
  writeFileSync(bad, img);
});
test.afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function pick(page: Page, file: string): Promise<number> {
  const t0 = await page.evaluate(() => performance.now());
  await page.getByTestId('file-input').setInputFiles(file);
  return t0;
}

test.describe('v2 image verified in parallel Workers', () => {
  test.beforeEach(async ({ watched: page }) => {
    await observeLongTasks(page);
  });

  test('a 40 MiB image is accepted only after all 41 blocks, with no main-thread task over 50 ms', async ({ watched: page }) => {
    const hashers: string[] = [];
    page.on('worker', (w) => void (w.url().includes('block-hasher') && hashers.push(w.url())));
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto('/');
    await expect(page.getByRole('heading', { name: 'Firmware', exact: true })).toBeVisible();
    await page.waitForTimeout(300); // startup's own tasks are not the verification's
    const t0 = await pick(page, good);
    const verdict = page.getByTestId('verdict');
    await expect(verdict).toHaveAttribute('data-verdict', 'accept', { timeout: 30_000 });
    const tasks = await longTasksSince(page, t0);
    expect(tasks.filter((t) => t.duration > 50)).toEqual([]);
    await expect(page.locator('tr[data-check="payload"]')).toContainText(`all 41 hash blocks of 1048576 bytes (the last one 12345 bytes) match the signed table`);
    await expect(page.locator('tr[data-check="format"]')).toContainText('format v2');
    expect(hashers.length, 'the block-hasher Workers ran').toBeGreaterThanOrEqual(1);
    await verdict.screenshot({ path: test.info().outputPath('v2-accepted-1280x800.png') });
    await page.screenshot({ path: test.info().outputPath('v2-accepted-page-1280x800.png') });
  });

  test('one byte flipped in the LAST hash block: rejected, naming block 40 and its byte range; no long task', async ({ watched: page }) => {
    for (const [width, height] of [[1280, 800], [390, 844]] as const) {
      await page.setViewportSize({ width, height });
      await page.goto('/');
      await expect(page.getByRole('heading', { name: 'Firmware', exact: true })).toBeVisible();
      await page.waitForTimeout(300);
      const t0 = await pick(page, bad);
      await expect(page.getByTestId('verdict')).toHaveAttribute('data-verdict', 'reject', { timeout: 30_000 });
      expect((await longTasksSince(page, t0)).filter((t) => t.duration > 50)).toEqual([]);
      const failed = page.getByTestId('failed-check');
      await expect(failed).toHaveAttribute('data-check', 'payload');
      const start = LAST * MiB;
      await expect(failed).toContainText(`1 of 41 hash blocks does not match the signed table: hash block ${LAST} (payload bytes ${start}..${PAYLOAD - 1}, file offset ${payloadOffset + start})`);
      await expect(page.locator('tr[data-check="payload"]')).toHaveAttribute('data-status', 'fail');
      await page.getByTestId('verdict').scrollIntoViewIfNeeded();
      await page.screenshot({ path: test.info().outputPath(`v2-rejected-${width}x${height}.png`) });
    }
  });
});
