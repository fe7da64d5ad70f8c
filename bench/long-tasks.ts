/**
 * The main thread's long tasks (Long Tasks API), as the benchmarks and the page tests record them:
 * an observer installed before any of the app's code runs, and the tasks that end at or after a
 * moment of interest (the file pick), so startup's own tasks are not counted against a verification.
 */
import type { Page } from '@playwright/test';

export interface LongTask {
  readonly start: number;
  readonly duration: number;
}

type Recorded = { __longTasks: LongTask[] };

/** Call before `page.goto`: every long task from then on is kept in the page. */
export async function observeLongTasks(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as { __longTasks: { start: number; duration: number }[] };
    w.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
}

/** The long tasks that ended at or after `from` (page time, ms). */
export function longTasksSince(page: Page, from: number): Promise<LongTask[]> {
  return page.evaluate((t0) => (window as unknown as Recorded).__longTasks.filter((t) => t.start + t.duration >= t0), from);
}

/** How many long tasks were recorded so far (shows the observer reports them). */
export function longTaskCount(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as Recorded).__longTasks.length);
}
