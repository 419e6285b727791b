import { describe, expect, it } from '@jest/globals';
import { WorkQueue } from './queue.ts';

describe('WorkQueue', () => {
  it('retries a failing key only after its backoff, however many events ask sooner', async () => {
    const runs: string[] = [];
    let failing = true;
    const q = new WorkQueue(
      async (key) => {
        runs.push(key);
        if (key === 'bad' && failing) throw new Error('write refused');
      },
      () => undefined,
    );
    q.add('bad');
    await new Promise((r) => setTimeout(r, 20));
    expect(runs).toEqual(['bad']);
    // Events for the failing key during its backoff (200 ms) do not run it again.
    for (let i = 0; i < 50; i++) q.add('bad');
    await new Promise((r) => setTimeout(r, 50));
    expect(runs.filter((k) => k === 'bad')).toHaveLength(1);
    failing = false;
    await new Promise((r) => setTimeout(r, 300));
    expect(runs.filter((k) => k === 'bad')).toHaveLength(2);
    await q.stop();
  });
});
