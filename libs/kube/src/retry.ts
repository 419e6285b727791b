import { isConflict } from './errors.ts';

/** The write kept conflicting after the whole budget; retryable by the caller (CNI code 11). */
export class RetriesExhaustedError extends Error {
  readonly attempts: number;
  constructor(what: string, attempts: number, cause: unknown) {
    super(`${what}: still conflicting after ${attempts} attempts`, { cause });
    this.name = 'RetriesExhaustedError';
    this.attempts = attempts;
  }
}

export interface RetryOptions {
  /** Attempts in all, including the first. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Called on each 409, e.g. to count conflicts per pool. */
  readonly onConflict?: (attempt: number) => void;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

export const DEFAULT_RETRY: RetryOptions = { attempts: 8, baseDelayMs: 10, maxDelayMs: 400 };

/**
 * The one optimistic-locking loop: `read` (cached first, fresh after a conflict) →
 * `change` (pure; may decide there is nothing to write) → `write` carrying the read's
 * resourceVersion. Only HTTP 409 is retried, with jittered exponential backoff; any other
 * error propagates at once; an exhausted budget is a {@link RetriesExhaustedError}.
 */
export async function retryOnConflict<S, W, R>(
  what: string,
  read: (fresh: boolean) => Promise<S>,
  change: (state: S) => { write?: W; result: R },
  write: (next: W) => Promise<unknown>,
  options: RetryOptions = DEFAULT_RETRY,
): Promise<{ result: R; written?: unknown; attempts: number }> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = options.random ?? Math.random;
  let last: unknown;
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    const state = await read(attempt > 1);
    const { write: next, result } = change(state);
    if (next === undefined) return { result, attempts: attempt };
    try {
      const written = await write(next);
      return { result, written, attempts: attempt };
    } catch (e) {
      if (!isConflict(e)) throw e;
      last = e;
      options.onConflict?.(attempt);
      if (attempt < options.attempts) {
        const cap = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
        // Full jitter: writers that collided spread out instead of colliding again.
        await sleep(Math.floor(random() * cap));
      }
    }
  }
  throw new RetriesExhaustedError(what, options.attempts, last);
}
