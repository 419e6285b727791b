/**
 * A deduplicating work queue with one worker: a key queued while it waits is queued once;
 * a failed key comes back after an exponential backoff. One worker keeps every write of
 * the controller in order, so two reconciles never race each other for subnet addresses.
 */
export class WorkQueue {
  readonly #pending = new Set<string>();
  readonly #failures = new Map<string, number>();
  /** A failed key's retry time: events do not bring it back sooner (no hot loop on a write that keeps failing). */
  readonly #retryAt = new Map<string, number>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #handle: (key: string) => Promise<void>;
  readonly #onError: (key: string, e: unknown) => void;
  #running = false;
  #stopped = false;
  #idle: (() => void) | undefined;

  constructor(handle: (key: string) => Promise<void>, onError: (key: string, e: unknown) => void) {
    this.#handle = handle;
    this.#onError = onError;
  }

  add(key: string): void {
    if (this.#stopped) return;
    const at = this.#retryAt.get(key);
    if (at !== undefined && Date.now() < at) return;
    this.#enqueue(key);
  }

  #enqueue(key: string): void {
    if (this.#stopped) return;
    this.#pending.add(key);
    if (!this.#running) void this.#drain();
  }

  /** Queues `key` after `ms`. */
  later(key: string, ms: number): void {
    if (this.#stopped) return;
    const t = setTimeout(() => {
      this.#timers.delete(t);
      // The retry itself, even if the timer fires a hair before the recorded time.
      this.#enqueue(key);
    }, ms);
    t.unref();
    this.#timers.add(t);
  }

  get length(): number {
    return this.#pending.size;
  }

  async #drain(): Promise<void> {
    this.#running = true;
    while (!this.#stopped && this.#pending.size > 0) {
      const key = this.#pending.values().next().value!;
      this.#pending.delete(key);
      try {
        await this.#handle(key);
        this.#failures.delete(key);
        this.#retryAt.delete(key);
      } catch (e) {
        const n = (this.#failures.get(key) ?? 0) + 1;
        this.#failures.set(key, n);
        this.#onError(key, e);
        const delay = Math.min(100 * 2 ** n, 30_000);
        this.#retryAt.set(key, Date.now() + delay);
        this.later(key, delay);
      }
    }
    this.#running = false;
    this.#idle?.();
  }

  /** Stops taking work and resolves when the item in hand is done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    if (this.#running) await new Promise<void>((r) => (this.#idle = r));
  }
}
