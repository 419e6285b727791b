/**
 * Lease-based leader election (coordination.k8s.io/v1), with client-go's semantics: a
 * lease counts as expired only after its holder has not renewed it for a whole lease
 * duration *as observed by this process's clock* (never by comparing clocks across
 * machines); the leader steps down when it cannot renew within the renew deadline; a
 * leader that stops on purpose releases the lease so a standby takes over at once.
 */
import { isConflict } from '@nicpool/kube';

export interface LeaseRecord {
  readonly holder: string;
  readonly durationSeconds: number;
  readonly acquireTime?: string;
  readonly renewTime?: string;
  readonly transitions: number;
  readonly resourceVersion?: string;
  /**
   * State of the leader's that must outlive its process (the GC's first sightings), an
   * annotation of the Lease: written with every renewal, kept across a takeover.
   */
  readonly note?: string;
}

/** The Lease object; `update` carries `resourceVersion` and throws a 409 on a stale one. */
export interface LeaseStore {
  get(): Promise<LeaseRecord | undefined>;
  create(r: LeaseRecord): Promise<LeaseRecord>;
  update(r: LeaseRecord): Promise<LeaseRecord>;
}

export interface ElectionTiming {
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

export interface ElectionCallbacks {
  onStartedLeading(): void;
  /** Leadership lost without being asked: the process must stop acting at once. */
  onStoppedLeading(): void;
  onNewLeader?(holder: string): void;
}

/** MicroTime as the API server parses it (six fractional digits). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

export class LeaderElector {
  readonly #store: LeaseStore;
  readonly #identity: string;
  readonly #timing: ElectionTiming;
  readonly #clock: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #callbacks: ElectionCallbacks;
  #observed: { key: string; at: number } | undefined;
  #record: LeaseRecord | undefined;
  #leading = false;
  #stopped = false;
  #lastHolder = '';
  /** The attempt last started (release waits for it so it writes on the newest version). */
  #inFlight: Promise<boolean> | undefined;
  /** What this leader writes as the Lease's note (set once leading). */
  #noteOf: (() => string | undefined) | undefined;
  /** The note the Lease carried when this process acquired it (a previous leader's). */
  #inherited: string | undefined;

  constructor(
    store: LeaseStore,
    identity: string,
    timing: ElectionTiming,
    callbacks: ElectionCallbacks,
    // Monotonic: a wall clock stepped by NTP must not make a failing leader think it
    // renewed recently, nor a standby think a lease expired. Lease times are written from Date.
    clock: () => number = () => performance.now(),
    sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {
    this.#store = store;
    this.#identity = identity;
    this.#timing = timing;
    this.#callbacks = callbacks;
    this.#clock = clock;
    this.#sleep = sleep;
  }

  isLeader(): boolean {
    return this.#leading;
  }

  /** The note of the Lease as this process found it when it acquired it. */
  inheritedNote(): string | undefined {
    return this.#inherited;
  }

  /** From the next renewal on, the Lease's note is what `noteOf` returns. */
  setNote(noteOf: () => string | undefined): void {
    this.#noteOf = noteOf;
  }

  /** One attempt to acquire or renew. True when this process holds the lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.#clock();
    const wall = microTime(Date.now());
    const fresh: LeaseRecord = {
      holder: this.#identity,
      durationSeconds: Math.ceil(this.#timing.leaseDurationMs / 1000),
      acquireTime: wall,
      renewTime: wall,
      transitions: 0,
    };
    const current = await this.#store.get();
    if (current === undefined) {
      try {
        this.#record = await this.#store.create(fresh);
        this.#observe(this.#record, now);
        return true;
      } catch (e) {
        if (isConflict(e)) return false;
        throw e;
      }
    }
    this.#observe(current, now);
    const heldByOther = current.holder !== '' && current.holder !== this.#identity;
    if (heldByOther && this.#observed!.at + current.durationSeconds * 1000 > now) return false;
    // Until this process leads and says what to note, the note stays as it was (a previous
    // process of the same identity, or another holder, wrote it); then it is ours.
    if (!this.#leading) this.#inherited = current.note;
    const note = this.#leading && this.#noteOf !== undefined ? this.#noteOf() : current.note;
    const { note: _old, ...base } = current;
    const next: LeaseRecord = {
      ...(current.holder === this.#identity
        ? { ...base, renewTime: wall, durationSeconds: fresh.durationSeconds }
        : {
            ...fresh,
            transitions: current.transitions + 1,
            resourceVersion: current.resourceVersion,
          }),
      ...(note === undefined ? {} : { note }),
    };
    try {
      this.#record = await this.#store.update(next);
      this.#observe(this.#record, now);
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }

  #observe(r: LeaseRecord, now: number): void {
    const key = `${r.holder}|${r.renewTime ?? ''}|${r.resourceVersion ?? ''}`;
    if (this.#observed?.key !== key) this.#observed = { key, at: now };
    if (r.holder !== this.#lastHolder) {
      this.#lastHolder = r.holder;
      if (r.holder !== '') this.#callbacks.onNewLeader?.(r.holder);
    }
  }

  /**
   * One attempt, bounded: a request stuck on a half-open connection must not keep a leader
   * acting past its renew deadline (a late answer is ignored; a deposed leader exits).
   */
  async #attempt(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), Math.max(this.#timing.renewDeadlineMs / 2, 1));
    });
    const attempt = this.tryAcquireOrRenew().catch(() => false);
    this.#inFlight = attempt;
    try {
      return await Promise.race([attempt, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Campaigns until elected, then renews until stopped or the renew deadline passes. */
  async run(): Promise<void> {
    while (!this.#stopped && !(await this.#attempt())) {
      await this.#sleep(this.#jittered());
    }
    if (this.#stopped) return;
    this.#leading = true;
    this.#callbacks.onStartedLeading();
    let lastRenew = this.#clock();
    while (!this.#stopped) {
      await this.#sleep(this.#timing.retryPeriodMs);
      if (this.#stopped) break;
      if (await this.#attempt()) {
        lastRenew = this.#clock();
      } else if (this.#clock() - lastRenew >= this.#timing.renewDeadlineMs) {
        this.#leading = false;
        this.#callbacks.onStoppedLeading();
        return;
      }
    }
  }

  #jittered(): number {
    return this.#timing.retryPeriodMs * (1 + Math.random() * 0.2);
  }

  /** Stops campaigning; a leader gives the lease up so a standby need not wait it out. */
  async release(): Promise<void> {
    this.#stopped = true;
    // A renewal (or a won campaign) may still be on the wire: release on top of its result,
    // not on an older resourceVersion that would make the release fail with 409.
    await this.#inFlight;
    const held = this.#record?.holder === this.#identity;
    if ((!this.#leading && !held) || this.#record === undefined) return;
    this.#leading = false;
    const now = microTime(Date.now());
    try {
      await this.#store.update({
        ...this.#record,
        holder: '',
        durationSeconds: 1,
        acquireTime: now,
        renewTime: now,
      });
    } catch {
      // Someone else holds it already, or the API is gone: the lease simply expires.
    }
  }
}
