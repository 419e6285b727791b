/**
 * The knobs every `*.fuzz.test.ts` shares, in one place (issue #12, item 5): how many cases,
 * which seed, how long one case may take. `make test` runs a small sample with a fixed seed
 * (deterministic, fast); `make fuzz` (NICPOOL_FUZZ=full) runs every target at full size with
 * a fresh seed. `FUZZ_SEED=n` replays one run in either mode. Test support only: production
 * code never imports this.
 */
import type { Parameters } from 'fast-check';

/** `sample`: the fixed-seed slice `make test` runs; `full`: `make fuzz`. */
export const FuzzMode = { sample: 'sample', full: 'full' } as const;
export type FuzzMode = (typeof FuzzMode)[keyof typeof FuzzMode];

/** The seed of every sample run, so `make test` is deterministic. */
export const SAMPLE_SEED = 20261201;

/** One full-size case in `sample` mode out of this many (at least {@link MIN_SAMPLE_RUNS}). */
export const SAMPLE_DIVISOR = 40;
export const MIN_SAMPLE_RUNS = 25;

/**
 * What one case may take. Generous on purpose (a shared 2-core machine, GC pauses): it
 * catches hangs and super-linear blow-ups (a backtracking regex takes seconds), not a
 * slow millisecond.
 */
export const CASE_BUDGET_MS = 1000;

/** Jest's timeout for one fuzz test: far above the measured full-size runs. */
export const FUZZ_TEST_TIMEOUT_MS = 280_000;

export interface FuzzKnobs {
  readonly mode: FuzzMode;
  readonly seed: number;
  /** True when the seed came from FUZZ_SEED. */
  readonly replay: boolean;
}

/**
 * Reads NICPOOL_FUZZ and FUZZ_SEED. Tests are the only readers of these two variables; a
 * malformed FUZZ_SEED is an error naming it rather than a silently random run.
 */
export function fuzzKnobs(
  env: Readonly<Record<string, string | undefined>> = process.env,
): FuzzKnobs {
  const mode = env['NICPOOL_FUZZ'] === FuzzMode.full ? FuzzMode.full : FuzzMode.sample;
  const raw = env['FUZZ_SEED'];
  if (raw !== undefined && raw !== '') {
    if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(Number(raw)))
      throw new Error(
        `FUZZ_SEED must be an integer (the seed a fuzz run printed), got ${JSON.stringify(raw)}`,
      );
    return { mode, seed: Number(raw) | 0, replay: true };
  }
  // fast-check seeds are 32-bit; a fresh one per full run explores new inputs each time.
  const seed = mode === FuzzMode.full ? (Math.random() * 2 ** 32) | 0 : SAMPLE_SEED;
  return { mode, seed, replay: false };
}

/** How many cases a target runs in a mode, given its full-size count. */
export function fuzzRuns(fullRuns: number, mode: FuzzMode): number {
  return mode === FuzzMode.full
    ? fullRuns
    : Math.max(MIN_SAMPLE_RUNS, Math.ceil(fullRuns / SAMPLE_DIVISOR));
}

/**
 * fast-check parameters for one target, printing the seed and count so a failure (or a
 * long `make fuzz`) can be replayed: `FUZZ_SEED=<seed> make fuzz`. Async properties also
 * get the per-case budget as fast-check's `timeout`.
 */
export function fuzzParams<T>(
  target: string,
  fullRuns: number,
  knobs: FuzzKnobs = fuzzKnobs(),
): Parameters<T> {
  const numRuns = fuzzRuns(fullRuns, knobs.mode);
  console.info(
    `fuzz ${target}: ${numRuns} cases, seed ${knobs.seed} (${knobs.mode}${knobs.replay ? ', FUZZ_SEED' : ''}); replay: FUZZ_SEED=${knobs.seed}${knobs.mode === FuzzMode.full ? ' make fuzz' : ''}`,
  );
  return { seed: knobs.seed, numRuns, timeout: CASE_BUDGET_MS, endOnFailure: false };
}

/**
 * Runs `fn` and throws when it took longer than the per-case budget, naming `what`: the
 * budget check of synchronous properties (fast-check's `timeout` covers async ones only).
 */
export function withinBudget<T>(what: string, fn: () => T, budgetMs: number = CASE_BUDGET_MS): T {
  const start = performance.now();
  const out = fn();
  const took = performance.now() - start;
  if (took > budgetMs)
    throw new Error(`${what} took ${took.toFixed(0)} ms, over the ${budgetMs} ms case budget`);
  return out;
}

const PROTOTYPES = [Object.prototype, Array.prototype, Function.prototype, String.prototype];
const pristine = PROTOTYPES.map((p) => new Set(Reflect.ownKeys(p)));

/**
 * Properties added to the built-in prototypes since this module loaded (a `__proto__` or
 * `constructor.prototype` key that reached an assignment), as `Object.prototype.polluted`;
 * empty when clean.
 */
export function prototypePollution(): string[] {
  const names = ['Object', 'Array', 'Function', 'String'];
  const found: string[] = [];
  PROTOTYPES.forEach((p, i) => {
    for (const k of Reflect.ownKeys(p))
      if (!pristine[i]!.has(k)) found.push(`${names[i]!}.prototype.${String(k)}`);
  });
  return found;
}
