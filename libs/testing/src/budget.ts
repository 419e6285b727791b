/**
 * Time budgets as tests (issue #12, item 4): the worst input the limits allow must finish
 * within a stated, generous bound. These are bounds, not benchmarks: the best of a few runs
 * is compared, so a GC pause or a neighbour on the shared machine does not fail a run,
 * while a super-linear blow-up (seconds) still does.
 */

import { expect } from '@jest/globals';

/**
 * With NICPOOL_BUDGET_REPORT=1, each measurement is printed with its test's name (the
 * figures in docs/reliability.md); otherwise budgets stay quiet.
 */
function report(ms: number): number {
  if (process.env['NICPOOL_BUDGET_REPORT'] === '1')
    console.info(`budget ${ms.toFixed(1)} ms: ${expect.getState().currentTestName ?? '?'}`);
  return ms;
}

/** Runs `fn` `runs` times (after one warm-up) and returns the fastest run in milliseconds. */
export function bestOfMs(fn: () => unknown, runs = 3): number {
  fn(); // warm-up: JIT and lazily built memos are not what a budget is about
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    fn();
    best = Math.min(best, performance.now() - start);
  }
  return report(best);
}

/** One timed run, for budgets blown today by seconds (`it.failing`): no need to repeat them. */
export function onceMs(fn: () => unknown): number {
  const start = performance.now();
  fn();
  return report(performance.now() - start);
}

/** {@link bestOfMs} for async work (each run awaited before the next starts). */
export async function bestOfMsAsync(fn: () => Promise<unknown>, runs = 3): Promise<number> {
  await fn();
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    best = Math.min(best, performance.now() - start);
  }
  return report(best);
}

/** Jest's timeout for one budget test: a blown budget should fail, not hang the suite. */
export const BUDGET_TEST_TIMEOUT_MS = 120_000;
