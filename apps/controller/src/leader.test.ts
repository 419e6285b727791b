import { describe, expect, it } from '@jest/globals';
import { LeaderElector, microTime, type LeaseRecord, type LeaseStore } from './leader.ts';

/** A Lease with optimistic locking, as the API server keeps it. */
class MemoryLease implements LeaseStore {
  record: LeaseRecord | undefined;
  #rv = 0;
  async get(): Promise<LeaseRecord | undefined> {
    return this.record;
  }
  async create(r: LeaseRecord): Promise<LeaseRecord> {
    if (this.record !== undefined) throw Object.assign(new Error('exists'), { code: 409 });
    this.record = { ...r, resourceVersion: String(++this.#rv) };
    return this.record;
  }
  async update(r: LeaseRecord): Promise<LeaseRecord> {
    if (r.resourceVersion !== this.record?.resourceVersion)
      throw Object.assign(new Error('conflict'), { code: 409 });
    this.record = { ...r, resourceVersion: String(++this.#rv) };
    return this.record;
  }
}

const timing = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
const noop = { onStartedLeading: (): void => {}, onStoppedLeading: (): void => {} };

describe('LeaderElector', () => {
  it('writes MicroTime as the API server parses it', () => {
    expect(microTime(Date.UTC(2026, 10, 27, 20, 0, 0, 993))).toBe('2026-11-27T20:00:00.993000Z');
  });

  it('lets one of two candidates lead; the other takes over only after a full lease duration of silence', async () => {
    const lease = new MemoryLease();
    let now = 0;
    const a = new LeaderElector(lease, 'a', timing, noop, () => now);
    const b = new LeaderElector(lease, 'b', timing, noop, () => now);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    now = 5_000;
    expect(await a.tryAcquireOrRenew()).toBe(true); // renews
    now = 6_000;
    expect(await b.tryAcquireOrRenew()).toBe(false); // b observes the renewal at 6 s
    now = 20_999; // a died after 5 s; b's clock: 6 s + 15 s not yet passed
    expect(await b.tryAcquireOrRenew()).toBe(false);
    now = 21_000;
    expect(await b.tryAcquireOrRenew()).toBe(true);
    expect(lease.record).toMatchObject({ holder: 'b', transitions: 1 });
    // The old leader, back from a pause, cannot renew: the lease is b's now.
    expect(await a.tryAcquireOrRenew()).toBe(false);
  });

  it('gives the lease up on release, so a standby takes it after the 1 s duration', async () => {
    const lease = new MemoryLease();
    const now = 0;
    const started: string[] = [];
    const a = new LeaderElector(
      lease,
      'a',
      timing,
      { ...noop, onStartedLeading: () => started.push('a') },
      () => now,
      () => new Promise((r) => setImmediate(r)),
    );
    const run = a.run();
    await new Promise((r) => setTimeout(r, 0));
    expect(started).toEqual(['a']);
    await a.release();
    await run;
    expect(lease.record).toMatchObject({ holder: '', durationSeconds: 1 });
    const b = new LeaderElector(lease, 'b', timing, noop, () => now);
    expect(await b.tryAcquireOrRenew()).toBe(true);
  });

  it('steps down when it cannot renew within the deadline', async () => {
    const lease = new MemoryLease();
    let now = 0;
    let stopped = false;
    const a = new LeaderElector(
      lease,
      'a',
      timing,
      { onStartedLeading: () => {}, onStoppedLeading: () => (stopped = true) },
      () => now,
      async (ms) => {
        now += ms;
        // From the first renewal on, the API server is unreachable.
        lease.get = () => Promise.reject(new Error('connection refused'));
      },
    );
    await a.run();
    expect(stopped).toBe(true);
    expect(a.isLeader()).toBe(false);
    expect(now).toBeGreaterThanOrEqual(10_000);
  });

  it('releases on top of a renewal still in flight (no lost release, no wait for expiry)', async () => {
    const lease = new MemoryLease();
    let slow = false;
    const update = lease.update.bind(lease);
    lease.update = async (r) => {
      if (slow) await new Promise((res) => setTimeout(res, 50));
      return update(r);
    };
    const a = new LeaderElector(lease, 'a', { ...timing, retryPeriodMs: 5 }, noop);
    const run = a.run();
    await new Promise((res) => setTimeout(res, 20));
    expect(lease.record?.holder).toBe('a');
    slow = true; // the next renewal takes 50 ms
    await new Promise((res) => setTimeout(res, 10));
    await a.release();
    await run;
    expect(lease.record).toMatchObject({ holder: '', durationSeconds: 1 });
  });

  it('carries the leader’s note on each renewal, and hands it to the next leader', async () => {
    const lease = new MemoryLease();
    let now = 0;
    let note = 'n1';
    const gate: (() => void)[] = [];
    const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
    const a: LeaderElector = new LeaderElector(
      lease,
      'a',
      timing,
      { ...noop, onStartedLeading: () => a.setNote(() => note) },
      () => now,
      () => new Promise<void>((r) => gate.push(r)),
    );
    const run = a.run();
    await tick();
    expect(a.isLeader()).toBe(true);
    expect(a.inheritedNote()).toBeUndefined();
    expect(lease.record?.note).toBeUndefined(); // won before it had anything to note
    now = 2_000;
    gate.shift()!();
    await tick();
    expect(lease.record?.note).toBe('n1');
    note = 'n2';
    now = 4_000;
    gate.shift()!();
    await tick();
    expect(lease.record?.note).toBe('n2');
    // Stepping down keeps the note on the Lease; the next leader inherits it.
    const released = a.release();
    gate.shift()?.();
    await released;
    await run;
    expect(lease.record).toMatchObject({ holder: '', note: 'n2' });
    const b = new LeaderElector(lease, 'b', timing, noop, () => now);
    expect(await b.tryAcquireOrRenew()).toBe(true); // released: nobody holds it
    expect(b.inheritedNote()).toBe('n2');
    expect(lease.record).toMatchObject({ holder: 'b', note: 'n2' });
  });

  it('a restarted process of the same identity keeps the note until it leads', async () => {
    const lease = new MemoryLease();
    lease.record = {
      holder: 'soak',
      durationSeconds: 15,
      transitions: 3,
      resourceVersion: '7',
      note: 'from-before',
    };
    const again = new LeaderElector(lease, 'soak', timing, noop, () => 0);
    again.setNote(() => undefined);
    expect(await again.tryAcquireOrRenew()).toBe(true);
    expect(again.inheritedNote()).toBe('from-before');
    expect(lease.record?.note).toBe('from-before');
  });
});
