import { describe, expect, it } from '@jest/globals';
import { RetriesExhaustedError, retryOnConflict } from './index.ts';

const conflict = Object.assign(new Error('Conflict'), { code: 409 });

describe('retryOnConflict', () => {
  const opts = {
    attempts: 4,
    baseDelayMs: 10,
    maxDelayMs: 25,
    sleep: async () => {},
    random: () => 0.5,
  };

  it('writes once when there is no conflict, from the cached read', async () => {
    const reads: boolean[] = [];
    const r = await retryOnConflict(
      'pool p',
      async (fresh) => (reads.push(fresh), 1),
      (s) => ({ write: s + 1, result: 'ok' }),
      async (n) => n,
      opts,
    );
    expect(r).toEqual({ result: 'ok', written: 2, attempts: 1 });
    expect(reads).toEqual([false]);
  });

  it('on 409: fresh read, recompute, retry with growing capped jittered delays', async () => {
    const delays: number[] = [];
    const reads: boolean[] = [];
    let writes = 0;
    const conflicts: number[] = [];
    const r = await retryOnConflict(
      'pool p',
      async (fresh) => (reads.push(fresh), reads.length * 10),
      (s) => ({ write: s, result: s }),
      async (n) => {
        if (++writes < 3) throw conflict;
        return n;
      },
      { ...opts, sleep: async (ms) => void delays.push(ms), onConflict: (a) => conflicts.push(a) },
    );
    expect(r).toEqual({ result: 30, written: 30, attempts: 3 });
    expect(reads).toEqual([false, true, true]);
    expect(delays).toEqual([5, 10]);
    expect(conflicts).toEqual([1, 2]);
  });

  it('gives up with a typed error after the budget', async () => {
    const p = retryOnConflict(
      'pool p',
      async () => 0,
      () => ({ write: 1, result: 0 }),
      async () => {
        throw conflict;
      },
      opts,
    );
    await expect(p).rejects.toBeInstanceOf(RetriesExhaustedError);
    await expect(p).rejects.toThrow('pool p: still conflicting after 4 attempts');
  });

  it('does not retry other errors', async () => {
    let writes = 0;
    const boom = Object.assign(new Error('Forbidden'), { code: 403 });
    const p = retryOnConflict(
      'pool p',
      async () => 0,
      () => ({ write: 1, result: 0 }),
      async () => {
        writes++;
        throw boom;
      },
      opts,
    );
    await expect(p).rejects.toBe(boom);
    expect(writes).toBe(1);
  });

  it('skips the write when the change decides there is nothing to write', async () => {
    const r = await retryOnConflict(
      'pool p',
      async () => 0,
      () => ({ result: 'noop' }),
      async () => {
        throw new Error('no write expected');
      },
      opts,
    );
    expect(r).toEqual({ result: 'noop', attempts: 1 });
  });
});
