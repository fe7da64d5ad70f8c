import { readFileSync } from 'node:fs';
import { test, expect, tab } from './fixtures.ts';
import type { Page } from '@playwright/test';

/** The page opens with the emulated NIC (in its Worker) connected and queried. */
async function open(page: Page) {
  await page.goto('/');
  await expect(page.getByTestId('nic-running')).toHaveText('28.39.1002', { timeout: 20_000 });
}

const versions = async (page: Page, running: string, pending: string) => {
  await expect(page.getByTestId('nic-running')).toHaveText(running);
  await expect(page.getByTestId('nic-pending')).toHaveText(pending);
};

async function scenario(page: Page, id: string) {
  await tab(page, 'demos');
  await page.locator(`[data-scenario="${id}"]`).click();
  await expect(page.getByTestId('result')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('step')).toBeEnabled();
}

test.describe('emulated NIC', () => {
  test('opens with the emulated NIC connected and its flint q fields shown', async ({ watched: page }) => {
    await open(page);
    await expect(page.getByTestId('nic-psid')).toHaveText('TF_0000000001');
    await expect(page.getByTestId('nic-pending')).toHaveText('none');
    await expect(page.getByTestId('nic-serial')).toHaveText('TFN0000001');
    await expect(page.getByTestId('nic-security')).toHaveText('secure-fw');
    await expect(page.getByTestId('nic-forbidden')).toHaveText('28.38.1000');
    await expect(page.getByTestId('nic-banks')).toContainText('pending none');
    await expect(page.getByTestId('flint-q')).toContainText('PSID:                  TF_0000000001');
    await expect(page.getByTestId('mcc-diagram')).toHaveAttribute('data-current', 'IDLE');
    await expect(page.locator('[data-step]')).toHaveCount(8);
    await page.screenshot({ path: test.info().outputPath('device.png'), fullPage: true });
  });

  test('signed update: pending 28.40.1000, then Reset device runs it; the audit log exports', async ({ watched: page }) => {
    await open(page);
    await scenario(page, 'signed');
    await expect(page.getByTestId('result')).toHaveAttribute('data-outcome', 'updated');
    await versions(page, '28.39.1002', '28.40.1000');
    await expect(page.locator('[data-step][data-status="done"]')).toHaveCount(8);
    await expect(page.getByTestId('scenario-note')).toContainText('inactive bank');
    // the path the device's state machine took, from its STATUS answers
    await expect(page.getByTestId('mcc-diagram')).toHaveAttribute('data-path', 'IDLE LOCKED INITIALIZE DOWNLOAD LOCKED IDLE');
    await expect(page.locator('[data-edge="DOWNLOAD>LOCKED"]')).toHaveClass(/walked/);
    await expect(page.getByTestId('progress')).toContainText('100%');
    await expect(page.getByTestId('progress')).toContainText('66.2 KiB of 66.2 KiB sent');
    await page.screenshot({ path: test.info().outputPath('updated.png'), fullPage: true });

    await page.getByTestId('reset-device').click();
    await expect(page.getByTestId('device-notice')).toContainText('now runs 28.40.1000');
    await versions(page, '28.40.1000', 'none');
    await page.getByTestId('update-panel').screenshot({ path: test.info().outputPath('after-reset.png') });

    // the log has every request and answer; the filter narrows it
    await tab(page, 'log');
    await page.getByTestId('log-filter').fill('VERIFY_COMPONENT');
    await expect(page.getByTestId('log').locator('li')).toHaveCount(1);
    await expect(page.getByTestId('log')).toContainText('CONTROL VERIFY_COMPONENT handle');
    await page.getByTestId('log-filter').fill('');
    await expect(page.getByTestId('log')).toContainText('STATUS: LOCKED');

    const download = page.waitForEvent('download');
    await page.getByTestId('export-audit').click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/^trustflash-audit-.*\.jsonl$/);
    const lines = readFileSync(await file.path(), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number; kind: string; hash: string; prev: string });
    expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i));
    for (let i = 1; i < lines.length; i++) expect(lines[i]!.prev).toBe(lines[i - 1]!.hash);
    expect(lines.map((l) => l.kind)).toEqual(expect.arrayContaining(['session', 'device', 'check', 'step', 'answer', 'result']));
    await expect(page.getByTestId('audit-summary')).toContainText('chain intact');
    await expect(page.getByTestId('results')).toContainText('good.tfw: updated');
  });

  test('rejected images: the check or the MCC code is shown, and the versions do not change', async ({ watched: page }) => {
    await open(page);
    for (const [id, check] of [
      ['unsigned', 'key'],
      ['tampered', 'payload'],
      ['wrong-device', 'device'],
      ['forbidden', 'forbidden'],
      ['downgrade', 'securityVersion'],
    ] as const) {
      await scenario(page, id);
      await expect(page.getByTestId('result'), id).toHaveAttribute('data-outcome', 'rejected-by-host');
      await expect(page.getByTestId('rejection'), id).toHaveAttribute('data-check', check);
      await expect(page.getByTestId('rejection')).toContainText('Nothing was sent to the device');
      await expect(page.locator('[data-step="lock"]')).toHaveAttribute('data-status', 'skipped');
      await versions(page, '28.39.1002', 'none');
      if (id === 'forbidden') await page.getByTestId('update-panel').screenshot({ path: test.info().outputPath('rejected-by-host.png') });
    }
    // the device's own refusal: its MCC code, mstflint's words, the sentence and the action
    await scenario(page, 'flash-error');
    // a flash fault fails the update: it is not a verdict on the image
    await expect(page.getByTestId('result')).toHaveAttribute('data-outcome', 'failed');
    await expect(page.getByTestId('rejection')).toContainText('A fault of the device, not a verdict on the image');
    await expect(page.getByTestId('rejection')).toHaveAttribute('data-code', '0x28');
    await expect(page.getByTestId('rejection')).toContainText('-E- Burning FS4 image failed: Flash is write protected');
    await expect(page.getByTestId('rejection')).toContainText('What to do:');
    await versions(page, '28.39.1002', 'none');
    await expect(page.getByTestId('device-state')).toContainText('IDLE');
    await page.getByTestId('update-panel').screenshot({ path: test.info().outputPath('rejected-by-device.png') });
    // maintenance commands secure firmware blocks: refused with the device's own words
    await tab(page, 'maintenance');
    await page.locator('[data-maint="SET_VSD"]').click();
    await expect(page.getByTestId('maintenance-result')).toHaveAttribute('data-refused', 'true');
    await expect(page.getByTestId('maintenance-result')).toContainText('0x06 METHOD_NOT_SUPP');
    await expect(page.getByTestId('maintenance-result')).toContainText('-E- Failed to set the VSD: Unsupported operation under Secure FW');
  });

  test('power loss at block 3: the old firmware keeps running; a retry succeeds', async ({ watched: page }) => {
    await open(page);
    await scenario(page, 'power-loss');
    await expect(page.getByTestId('result')).toHaveAttribute('data-outcome', 'failed');
    await expect(page.locator('[data-step="download"]')).toHaveAttribute('data-status', 'failed');
    await versions(page, '28.39.1002', 'none');
    await expect(page.getByTestId('nic-boot')).toHaveText('booted the active image');
    await expect(page.getByTestId('mcc-diagram')).toHaveAttribute('data-path', /DOWNLOAD IDLE$/);
    await tab(page, 'log');
    await expect(page.getByTestId('log')).toContainText('power lost during');
    // the device kept what it had verified of the download (protocol §5.6): the page says so, and the retry resumes it
    await expect(page.getByTestId('kept-download')).toContainText(/The device kept \d+ of \d+ bytes of a download/);
    await page.screenshot({ path: test.info().outputPath('power-loss.png'), fullPage: true });
    await page.getByTestId('retry').click();
    await expect(page.getByTestId('result')).toHaveAttribute('data-outcome', 'updated', { timeout: 30_000 });
    await expect(page.locator('[data-step="update-component"]')).toContainText(/resumed: the device kept \d+ of \d+ bytes of this release/);
    await expect(page.getByTestId('kept-download')).toHaveCount(0);
    await versions(page, '28.39.1002', '28.40.1000');
  });

  test('step mode: each Step takes one step; Cancel leaves the device as it was', async ({ watched: page }) => {
    await open(page);
    const status = (id: string) => page.locator(`[data-step="${id}"]`);
    await page.getByTestId('step').click();
    await expect(status('query')).toHaveAttribute('data-status', 'done');
    await expect(status('preflight')).toHaveAttribute('data-status', 'pending');
    await expect(page.getByTestId('announcement')).toContainText('Paused before: Pre-flight checks on this host');
    await page.getByTestId('step').click();
    await expect(status('preflight')).toHaveAttribute('data-status', 'done');
    await expect(status('lock')).toHaveAttribute('data-status', 'pending');
    await page.getByTestId('step').click();
    await expect(status('lock')).toHaveAttribute('data-status', 'done');
    await expect(status('update-component')).toHaveAttribute('data-status', 'pending');
    await expect(page.getByTestId('mcc-diagram')).toHaveAttribute('data-current', 'LOCKED');
    await page.getByTestId('step').click();
    await expect(status('update-component')).toHaveAttribute('data-status', 'done');
    await expect(page.getByTestId('mcc-diagram')).toHaveAttribute('data-current', 'DOWNLOAD');
    await expect(status('download')).toHaveAttribute('data-status', 'pending');
    await page.screenshot({ path: test.info().outputPath('step-mode.png'), fullPage: true });
    await page.getByTestId('cancel').click();
    await expect(page.getByTestId('result')).toHaveAttribute('data-outcome', 'cancelled');
    await expect(status('download')).toHaveAttribute('data-status', 'skipped');
    await versions(page, '28.39.1002', 'none');
    await expect(page.getByTestId('mcc-diagram')).toHaveAttribute('data-current', 'IDLE');
    await tab(page, 'log');
    await expect(page.getByTestId('log')).toContainText('CONTROL CANCEL');
  });

  test('a reload is a reboot: the NIC keeps its state (IndexedDB) and runs the pending image', async ({ watched: page }) => {
    await open(page);
    await scenario(page, 'signed');
    await versions(page, '28.39.1002', '28.40.1000');
    const saved = await page.evaluate(
      () =>
        new Promise<string[]>((resolve, reject) => {
          const r = indexedDB.open('trustflash');
          r.onsuccess = () => {
            const keys = r.result.transaction('nics').objectStore('nics').getAllKeys();
            keys.onsuccess = () => resolve(keys.result.map(String));
            keys.onerror = () => reject(keys.error);
          };
          r.onerror = () => reject(r.error);
        }),
    );
    // the person's NIC and the demo NIC the scenario ran on
    expect(saved).toEqual(['TFN0000001', 'TFNDEMO0001']);
    await page.reload();
    await expect(page.getByTestId('device-select')).toHaveValue('TFN0000001', { timeout: 20_000 });
    await versions(page, '28.39.1002', 'none');
    await page.getByTestId('device-select').selectOption('TFNDEMO0001');
    await versions(page, '28.40.1000', 'none');
    await expect(page.getByTestId('nic-boot')).toHaveText('booted the new image (pending image applied)');
    await tab(page, 'log');
    await expect(page.getByTestId('log')).toContainText('restored from IndexedDB and rebooted');
    // an explicit factory reset goes back to the factory image
    await tab(page, 'faults');
    await page.getByTestId('factory-reset').click();
    await expect(page.getByTestId('device-notice')).toContainText('runs 28.39.1002 again');
    await versions(page, '28.39.1002', 'none');
  });

  test('several NICs: one for the other board takes the image made for it', async ({ watched: page }) => {
    await open(page);
    await page.getByLabel('for the other board (PSID MT_0000000999)').check();
    await page.getByTestId('add-nic').click();
    await expect(page.getByTestId('device-select')).toHaveValue('TFN0000002');
    await expect(page.getByTestId('nic-psid')).toHaveText('MT_0000000999');
    await expect(page.getByTestId('nic-base-mac')).toHaveText('b8:ce:f6:00:00:02');
    // the image made for that board, picked once: the report and the update are about it
    await page.locator('.sample', { hasText: 'Wrong device (PSID)' }).click();
    await expect(page.getByTestId('update-firmware')).toContainText('wrong-psid.tfw to TFN0000002');
    await expect(page.locator('tr[data-check="device"]')).toHaveAttribute('data-status', 'pass');
    await page.getByTestId('run').click();
    await expect(page.getByTestId('result')).toHaveAttribute('data-outcome', 'updated');
    await versions(page, '28.39.1002', '28.40.1000');
    // the first NIC was not touched
    await page.getByTestId('device-select').selectOption('TFN0000001');
    await versions(page, '28.39.1002', 'none');
  });

  test('fault controls and timing: a cable pulled mid-download at full speed — the update waits for the device, goes on from what it had, and completes', async ({ watched: page }) => {
    await open(page);
    await tab(page, 'faults');
    await page.getByTestId('timing').selectOption('full-speed');
    await page.locator('[data-fault="disconnect"]').check();
    await page.getByLabel('Cable pulled at block number').fill('2');
    await page.getByLabel('Cable pulled at block number').press('Tab');
    await page.getByTestId('arm-faults').click();
    await expect(page.getByTestId('armed-faults')).toContainText('disconnect:block=2');
    await page.getByTestId('run').click();
    await expect(page.getByTestId('result')).toHaveAttribute('data-outcome', 'updated', { timeout: 30_000 });
    await expect(page.getByTestId('armed-faults')).toContainText('none');
    await versions(page, '28.39.1002', '28.40.1000');
    await expect(page.getByTestId('progress')).toContainText('/s');
    await page.getByTestId('update-panel').screenshot({ path: test.info().outputPath('cable-pulled.png') });
    await tab(page, 'log');
    await expect(page.getByTestId('log')).toContainText('the device left the bus during the download');
    await expect(page.getByTestId('log')).toContainText(/the device is back with \d+ of \d+ bytes: the download goes on from byte \d+/);
  });

  test('usable at 700 px: one column, nothing overflows sideways', async ({ watched: page }) => {
    await page.setViewportSize({ width: 700, height: 900 });
    await open(page);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(700);
    await page.screenshot({ path: test.info().outputPath('narrow.png'), fullPage: true });
  });
});
