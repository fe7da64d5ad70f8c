// The whole product through Chromium's own WebUSB: Debian Chromium in the guest, the NIC's gadget
// allowed for the app's origin by the WebUsbAllowDevicesForUrls policy (no picker), the production
// build served on localhost by `vite preview`, and Playwright updating the NIC through the page.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assert, log, R, REPO, waitFor } from './lib.mjs';

const PORT = 4173;
const ORIGIN = `http://localhost:${PORT}`;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Serves dist/ (the production build) with vite preview; resolves once it answers. */
async function preview() {
  assert(existsSync(join(REPO, 'dist/index.html')), 'dist/ is missing: build the app first (npm run build, or npx vite build)');
  const child = spawn('node', [join(REPO, 'node_modules/vite/bin/vite.js'), 'preview', '--port', String(PORT), '--strictPort'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  await waitFor('vite preview to answer', async () => {
    try {
      return (await fetch(`${ORIGIN}/`)).ok;
    } catch {
      return false;
    }
  }, 60_000, 250);
  return { stop: () => child.kill('SIGTERM'), output: () => out };
}

/**
 * Updates the gadget NIC `serial` with `sample` through the page. Returns what the page showed.
 * vid/pid: the device the policy allows for the app's origin.
 */
export async function updateThroughPage({ serial, sample, vid = 0x1209, pid = 0x7a01 }) {
  assert(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (npm test does, as root)`);
  // managed policy: the app's origin may use the NIC without a chooser (chrome://policy)
  mkdirSync('/etc/chromium/policies/managed', { recursive: true });
  writeFileSync('/etc/chromium/policies/managed/trustflash-webusb.json', JSON.stringify({ WebUsbAllowDevicesForUrls: [{ devices: [{ vendor_id: vid, product_id: pid }], urls: [ORIGIN] }] }));
  const server = await preview();
  const { chromium } = await import('@playwright/test');
  const t0 = performance.now();
  const mark = (what) => log(`browser: ${what} at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    mark('Chromium started');
    const page = await browser.newPage();
    const consoleLines = [];
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    await page.goto(`${ORIGIN}/`, { waitUntil: 'domcontentloaded', timeout: 120_000 });
    // the page connects the devices it may already use at start: the gadget NIC shows up as USB
    const option = page.locator(`[data-testid="device-select"] option[value="${serial}"]`);
    await option.waitFor({ state: 'attached', timeout: 150_000 }).catch((e) => {
      throw new Error(`the page did not list ${serial}: ${e.message}; console: ${consoleLines.slice(-8).join(' | ')}`);
    });
    mark(`${serial} listed`);
    const label = await option.textContent();
    await page.getByTestId('device-select').selectOption(serial);
    await page.getByTestId('nic-serial').filter({ hasText: serial }).waitFor({ timeout: 60_000 });
    const before = { running: await page.getByTestId('nic-running').textContent(), pending: await page.getByTestId('nic-pending').textContent() };
    // one firmware selection: the sample picked in the Firmware panel is what the update sends
    await page.locator(`.sample[data-file="${sample}"]`).click();
    await page.getByTestId('update-firmware').filter({ hasText: `${sample} to ${serial}` }).waitFor({ timeout: 30_000 });
    await page.getByTestId('run').click();
    const result = page.getByTestId('result');
    await result.waitFor({ timeout: 180_000 });
    mark('result shown');
    const outcome = await result.getAttribute('data-outcome');
    const steps = await page.locator('[data-step]').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-step')}:${e.getAttribute('data-status')}`));
    await page.getByTestId('nic-pending').filter({ hasNotText: before.pending ?? '' }).waitFor({ timeout: 30_000 }).catch(() => undefined);
    const after = { running: await page.getByTestId('nic-running').textContent(), pending: await page.getByTestId('nic-pending').textContent() };
    await page.screenshot({ path: join(R, 'browser-update.png'), fullPage: true }).catch(() => undefined);
    return { label, before, after, outcome, steps, message: (await result.textContent())?.replace(/\s+/g, ' ').trim(), console: consoleLines };
  } finally {
    await browser.close();
    server.stop();
  }
}
