#!/usr/bin/env node
/**
 * `npm test`: every test, in the order the issue asks — typecheck (svelte-check), Vitest, the
 * production build, the reproducible-build check (one test), Playwright in Debian Chromium, a smoke test in Debian's firefox-esr — and one closing line `N passed, N failed,
 * N skipped` that sums unit and browser tests. A gate step (firmware build, typecheck, web build)
 * adds nothing when it passes and one failure when it fails, so the line can never read "0 failed"
 * on a broken tree. Exit status 0 only when
 * nothing failed and something ran.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const reports = 'reports';
rmSync(reports, { recursive: true, force: true });
mkdirSync(reports, { recursive: true });

let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];

function step(name, cmd, args, env = {}) {
  const t0 = Date.now();
  console.log(`\n=== ${name}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  const ok = r.status === 0;
  console.log(`=== ${name}: ${ok ? 'ok' : `FAILED (exit ${r.status ?? r.signal})`} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return ok;
}

/** A build or typecheck step: it adds nothing to the test count when it passes, one failure when it does not. */
function gate(name, ok) {
  if (!ok) {
    failed++;
    failures.push(name);
  }
}

/** A Debian browser package: present, or installed with apt-get when this runs as root, or the exact command to run. */
function ensureBrowser(pkg, path) {
  if (existsSync(path)) return true;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && existsSync('/usr/bin/apt-get')) {
    console.log(`${pkg} not found at ${path}; installing Debian's ${pkg} with apt-get…`);
    step('apt-get update', 'apt-get', ['update']);
    step(`install ${pkg}`, 'apt-get', ['install', '-y', pkg], { DEBIAN_FRONTEND: 'noninteractive' });
    if (existsSync(path)) return true;
  }
  console.error(`\n${pkg} is missing (looked for ${path}). Install it, then run npm test again:\n  sudo apt-get update && sudo apt-get install -y ${pkg}`);
  return false;
}

const FIREFOX = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';
const haveChromium = ensureBrowser('chromium', CHROMIUM);

gate('NIC firmware build (AssemblyScript)', step('firmware build', 'node', ['tests/build-firmware.mjs']));
gate('node build (CLI, samples generator)', step('node build', 'npx', ['vite', 'build', '--config', 'vite.node.config.ts', '--logLevel', 'warn']));
gate('samples', step('samples', 'node', ['dist-node/make-samples.js', 'public/samples']));
gate('typecheck', step('typecheck', 'npx', ['svelte-check', '--tsconfig', './tsconfig.json', '--fail-on-warnings', '--output', 'human']));
// src/core against its own platform contract only (no DOM, no Node types): the layering rule, checked
gate('core-only typecheck', step('core-only typecheck', 'npx', ['tsc', '-p', 'tsconfig.core.json']));

step('unit tests', 'npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${reports}/vitest.json`]);
try {
  const v = JSON.parse(readFileSync(`${reports}/vitest.json`, 'utf8'));
  passed += v.numPassedTests;
  failed += v.numFailedTests;
  skipped += v.numPendingTests + v.numTodoTests;
  if (v.numFailedTests) failures.push(`${v.numFailedTests} unit test(s)`);
  // a test file that fails to load counts as a failure even though it has no test results
  const broken = v.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
  if (broken) {
    failed += broken;
    failures.push(`${broken} unit test file(s) failed to load`);
  }
} catch {
  gate('unit test report', false);
}

gate('web build', step('web build', 'npx', ['vite', 'build', '--logLevel', 'warn']));
// threat T12: the same tree builds the same bytes (samples and dist/, two builds each, ~25 s); one counted test
if (step('reproducible build', 'node', ['tests/repro-build.mjs'])) passed++;
else {
  failed++;
  failures.push('reproducible build (tests/repro-build.mjs)');
}

if (haveChromium) {
  step('browser tests', 'npx', ['playwright', 'test'], { PLAYWRIGHT_JSON_OUTPUT_FILE: `${reports}/playwright.json`, CHROMIUM_PATH: CHROMIUM });
  try {
    const p = JSON.parse(readFileSync(`${reports}/playwright.json`, 'utf8'));
    passed += p.stats.expected + (p.stats.flaky ?? 0);
    failed += p.stats.unexpected;
    skipped += p.stats.skipped;
    if (p.stats.unexpected) failures.push(`${p.stats.unexpected} browser test(s)`);
    if (p.errors?.length) {
      failed += p.errors.length;
      failures.push(`${p.errors.length} Playwright error(s)`);
    }
  } catch {
    gate('browser test report', false);
  }
} else {
  gate('chromium available', false);
}

// A second engine: Debian's firefox-esr through puppeteer-core (WebDriver BiDi), a smoke test of the same build
if (ensureBrowser('firefox-esr', FIREFOX)) {
  step('Firefox smoke test', 'node', ['tests/firefox/smoke.mjs'], { FIREFOX_PATH: FIREFOX });
  try {
    const f = JSON.parse(readFileSync(`${reports}/firefox.json`, 'utf8'));
    passed += f.passed;
    failed += f.failed;
    if (f.failed) failures.push(`${f.failed} Firefox check(s)`);
  } catch {
    gate('Firefox smoke report', false);
  }
} else {
  gate('firefox-esr available', false);
}

if (failures.length) console.log(`\nFailed: ${failures.join(', ')}`);
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
