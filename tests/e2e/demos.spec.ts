/**
 * Demo scenarios teach their own lesson whatever ran before: each runs on the dedicated demo NIC,
 * reset to a known state first, with its faults armed for that run only. One page runs the
 * scenarios in an order that puts every scenario after every other one (an Eulerian circuit of the
 * complete directed graph: every ordered pair once), checking each outcome, the versions, that no
 * fault stays armed and that the person's own NIC is never touched. Each result comes into view
 * and takes focus.
 */
import type { Page } from '@playwright/test';
import { test, expect, tab } from './fixtures.ts';
import { SCENARIOS, type Scenario } from '../../src/ui/state/scenarios.ts';

/** Hierholzer: a closed walk using every edge of the complete directed graph on n nodes once. */
function everyOrderedPair(n: number): number[] {
  const next = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => j).filter((j) => j !== i));
  const stack = [0];
  const walk: number[] = [];
  while (stack.length) {
    const v = stack.at(-1)!;
    if (next[v]!.length) stack.push(next[v]!.shift()!);
    else walk.push(stack.pop()!);
  }
  return walk.reverse();
}

async function runScenario(page: Page, s: Scenario) {
  await tab(page, 'demos');
  await page.locator(`[data-scenario="${s.id}"]`).click();
  const result = page.getByTestId('result');
  await expect(result).toHaveAttribute('data-outcome', s.expect.outcome, { timeout: 30_000 });
  await expect(page.getByTestId('update-firmware')).toContainText(`${s.file} to TFNDEMO0001`);
  if (s.expect.check) await expect(page.getByTestId('rejection')).toHaveAttribute('data-check', s.expect.check);
  if (s.expect.deviceError !== undefined) await expect(page.getByTestId('rejection')).toHaveAttribute('data-code', `0x${s.expect.deviceError.toString(16).padStart(2, '0')}`);
  // the result is in view and has focus, wherever the click came from
  await expect(result).toBeInViewport();
  await expect(result).toBeFocused();
  // the report is about the same file
  await expect(page.getByTestId('file-name')).toHaveText(s.file);
  await expect(page.getByTestId('nic-running')).toHaveText('28.39.1002');
  await expect(page.getByTestId('nic-pending')).toHaveText(s.expect.outcome === 'updated' ? '28.40.1000' : 'none');
  // nothing the demo armed outlives it
  await expect(page.getByTestId('device-busy')).toHaveText('');
  await tab(page, 'faults');
  await expect(page.getByTestId('armed-faults')).toHaveText('Armed on TFNDEMO0001: none');
}

test('every scenario after every other one shows its own lesson, on the demo NIC only', async ({ watched: page }) => {
  test.setTimeout(360_000);
  await page.goto('/');
  await expect(page.getByTestId('nic-running')).toHaveText('28.39.1002', { timeout: 20_000 });
  const order = everyOrderedPair(SCENARIOS.length);
  expect(order.length).toBe(SCENARIOS.length * (SCENARIOS.length - 1) + 1);
  for (const [k, i] of order.entries()) {
    await test.step(`${k}: ${SCENARIOS[i]!.id}${k ? ` after ${SCENARIOS[order[k - 1]!]!.id}` : ''}`, () => runScenario(page, SCENARIOS[i]!));
  }
  await tab(page, 'faults');
  await expect(page.getByTestId('armed-faults')).toContainText('Armed on TFNDEMO0001: none');
  // the person's own NIC was never reset, armed or updated by a demo
  await page.getByTestId('device-select').selectOption('TFN0000001');
  await expect(page.getByTestId('nic-running')).toHaveText('28.39.1002');
  await expect(page.getByTestId('nic-pending')).toHaveText('none');
  await expect(page.getByTestId('armed-faults')).toContainText('Armed on TFN0000001: none');
});
