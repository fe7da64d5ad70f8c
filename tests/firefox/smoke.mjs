#!/usr/bin/env node
/**
 * A smoke test in a second browser engine: Debian's firefox-esr (Gecko), driven by puppeteer-core
 * over WebDriver BiDi (Playwright's own Firefox cannot be downloaded here). The production build is
 * served by `vite preview`. It checks what a Firefox user gets: the page loads, says plainly that
 * real devices need a WebUSB browser, verifies a sample, updates the emulated NIC, and logs no
 * console error. Screenshots at desktop and phone width go to test-results/firefox/. Results go to
 * reports/firefox.json ({ passed, failed, tests }) for tests/run.mjs to count.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import puppeteer from 'puppeteer-core';

const FIREFOX = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';
const PORT = Number(process.env.FIREFOX_PORT ?? 4175);
const ORIGIN = `http://localhost:${PORT}`;
const SHOTS = 'test-results/firefox';
mkdirSync(SHOTS, { recursive: true });
mkdirSync('reports', { recursive: true });

const results = [];
const consoleErrors = [];

async function waitForServer(url, ms) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > until) throw new Error(`${url} did not answer within ${ms} ms`);
    await sleep(250);
  }
}

/** Polls `fn` in the page until it returns a truthy value. */
async function until(page, what, fn, arg, ms = 30_000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    last = await page.evaluate(fn, arg).catch((e) => `evaluate failed: ${e.message}`);
    if (last && !(typeof last === 'string' && last.startsWith('evaluate failed'))) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await sleep(200);
  }
}

/** Clicks a sample button once the list has it (a click before the list renders would do nothing). */
const clickSample = (page, title) =>
  until(page, `the sample "${title}"`, (t) => {
    const b = [...document.querySelectorAll('.sample')].find((x) => x.textContent.includes(t));
    if (!b || b.disabled) return false;
    b.click();
    return true;
  }, title);

async function check(name, fn) {
  const t0 = Date.now();
  try {
    const detail = await fn();
    results.push({ name, ok: true, ms: Date.now() - t0, ...(detail ? { detail } : {}) });
    console.log(`  ✓ ${name}${detail ? ` — ${detail}` : ''}`);
  } catch (e) {
    results.push({ name, ok: false, ms: Date.now() - t0, error: String(e?.message ?? e) });
    console.log(`  ✘ ${name}: ${e?.message ?? e}`);
  }
}

const server = spawn('npx', ['vite', 'preview', '--port', String(PORT), '--strictPort'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
let browser;
try {
  await waitForServer(ORIGIN, 60_000);
  browser = await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true, protocol: 'webDriverBiDi', args: ['--width=1280', '--height=900'] });
  const version = await browser.version();
  console.log(`Firefox smoke test: ${version} against ${ORIGIN}`);
  const page = await browser.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message ?? e}`));
  await page.setViewport({ width: 1280, height: 900 });

  await check('the page loads and says real devices need a WebUSB browser', async () => {
    await page.goto(ORIGIN, { waitUntil: 'load' });
    const title = await page.title();
    if (!/TrustFlash/.test(title)) throw new Error(`title is ${JSON.stringify(title)}`);
    const text = await until(page, 'the no-WebUSB notice', () => document.body.innerText.match(/no WebUSB[^\n]*/)?.[0]);
    if (!/Chrome or Edge/.test(text)) throw new Error(`the notice does not say which browsers have WebUSB: ${text}`);
    return text;
  });

  await check('a sample verifies (Signed update 28.40.1000 is accepted)', async () => {
    await clickSample(page, 'Signed update 28.40.1000');
    const verdict = await until(page, 'the verdict', () => document.querySelector('[data-testid="verdict"]')?.getAttribute('data-verdict'));
    if (verdict !== 'accept') throw new Error(`verdict ${verdict}`);
    const failed = await page.evaluate(() => document.querySelectorAll('tr[data-status="fail"]').length);
    if (failed) throw new Error(`${failed} failed check rows`);
    return 'Accepted, no failed check';
  });

  await check('a tampered sample is rejected by the payload check', async () => {
    await clickSample(page, 'Tampered payload');
    const failedCheck = await until(page, 'the failed check', () => document.querySelector('[data-testid="failed-check"]')?.getAttribute('data-check'));
    if (failedCheck !== 'payload') throw new Error(`failed check ${failedCheck}`);
  });

  await check('the emulated NIC updates: pending 28.40.1000', async () => {
    await until(page, 'the emulated NIC', () => document.querySelector('[data-testid="nic-running"]')?.textContent === '28.39.1002');
    await until(page, 'the "signed" scenario', () => {
      const b = document.querySelector('[data-scenario="signed"]');
      if (!b || b.disabled) return false;
      b.click();
      return true;
    });
    const outcome = await until(page, 'the update result', () => document.querySelector('[data-testid="result"]')?.getAttribute('data-outcome'), undefined, 60_000);
    if (outcome !== 'updated') throw new Error(`outcome ${outcome}: ${await page.evaluate(() => document.querySelector('[data-testid="result"]')?.textContent)}`);
    const pending = await until(page, 'the pending version', () => document.querySelector('[data-testid="nic-pending"]')?.textContent === '28.40.1000' && '28.40.1000');
    await page.screenshot({ path: `${SHOTS}/desktop.png`, fullPage: true });
    return `pending ${pending}`;
  });

  await check('at phone width (390 px) nothing overflows, before and after a verification', async () => {
    // a separate browser context: the first page still holds the emulated NICs (one tab at a time)
    const phoneContext = await browser.createBrowserContext();
    const phone = await phoneContext.newPage();
    phone.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    await phone.setViewport({ width: 390, height: 844 });
    await phone.goto(ORIGIN, { waitUntil: 'load' });
    await until(phone, 'the emulated NIC', () => /^28\./.test(document.querySelector('[data-testid="nic-running"]')?.textContent ?? ''));
    const widths = [await phone.evaluate(() => document.documentElement.scrollWidth)];
    await clickSample(phone, 'Signed update 28.40.1000');
    await until(phone, 'the verdict', () => document.querySelector('[data-testid="verdict"]')?.getAttribute('data-verdict'));
    widths.push(await phone.evaluate(() => document.documentElement.scrollWidth));
    await phone.screenshot({ path: `${SHOTS}/phone.png`, fullPage: true });
    await phoneContext.close();
    if (widths.some((w) => w > 390)) throw new Error(`the page is ${widths.join(' then ')} px wide at a 390 px viewport (horizontal overflow)`);
    return `${widths.join(', ')} px`;
  });

  await check('no console errors', async () => {
    if (consoleErrors.length) throw new Error(consoleErrors.join(' | '));
  });
} catch (e) {
  results.push({ name: 'Firefox smoke test setup', ok: false, error: String(e?.message ?? e) });
  console.log(`  ✘ setup: ${e?.message ?? e}`);
} finally {
  await browser?.close().catch(() => undefined);
  try {
    process.kill(-server.pid, 'SIGTERM');
  } catch {
    /* already gone */
  }
}

const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
writeFileSync('reports/firefox.json', JSON.stringify({ passed, failed, tests: results }, null, 2));
console.log(`Firefox: ${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
