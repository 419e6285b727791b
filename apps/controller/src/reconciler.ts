/**
 * The controller's reconcilers (controllers.md): auto-pools of workloads, counters and
 * finalizers of pools and subnets, and garbage collection of leaked records. Level-
 * triggered: every handler reads the current state and converges it, so a repeated or
 * missed event does no harm; a periodic resync catches anything else.
 */
import { createHash } from 'node:crypto';
import {
  applicationString,
  autoPoolApplication,
  isAutoPoolOf,
  isWorkloadKind,
  Label,
  labelValueOf,
  type ApplicationRef,
} from '@nicpool/annotations';
import {
  API_VERSION,
  decodeAllocatedIPs,
  decodeControlledIPPools,
  encodeAllocatedIPs,
  specFamily,
  type SpiderIPPool,
  type SpiderSubnet,
} from '@nicpool/crds';
import { RangeSet } from '@nicpool/ip';
import { retryOnConflict, type RetryOptions } from '@nicpool/kube';
import {
  allocatedSet,
  alternateName,
  freeAddresses,
  newAutoPool,
  poolAddresses,
  poolHoldings,
  shrinkTo,
  updatedAutoPool,
  withClaim,
} from './autopool.ts';
import {
  claimWanted,
  poolCounters,
  poolFinalizer,
  poolsOfSubnet,
  subnetFinalizer,
  subnetStatus,
  withFinalizer,
} from './bookkeeping.ts';
import { Reason, type EventTarget } from './events.ts';
import {
  DueTracker,
  endpointCandidates,
  judgeRecords,
  leakReason,
  RecordIndex,
  type GCView,
  type RecordCandidate,
} from './gc.ts';
import type { ControllerMetrics } from './metrics.ts';
import { WorkQueue } from './queue.ts';
import type { Change, ControllerStore } from './store.ts';
import { poolIntents, type PoolIntent, type Workload } from './workload.ts';

export interface ReconcilerOptions {
  readonly retry: RetryOptions;
  readonly resyncMs: number;
  readonly gcIntervalMs: number;
  /** The previous leader's GC first sightings (`gcNote()` of its reconciler, via the Lease). */
  readonly inheritedGcNote?: string;
  readonly gcDelayMs: number;
}

type Log = { info(msg: string): void; warn(msg: string, err?: unknown): void };

const GC = 'gc';
const gcOf = (pod: string): string => `gc:${pod}`;
/** A GC pass whose release or delete failed runs again this soon. */
const GC_RETRY_MS = 5000;

/**
 * What the subnet and workload reconcilers read of a pool's spec and metadata: its
 * addresses, labels, owners and whether it is being deleted. Its status matters to the
 * subnet only through records outside the spec (a claim covers spec ∪ records,
 * autopool.ts `poolHoldings`), checked apart. A hash, so that 10k pools cost 10k short
 * strings.
 */
/** Per pool object (the caches replace objects on change): decoded once per version. */
const outsideMemo = new WeakMap<SpiderIPPool, boolean>();

/** Does the pool record addresses outside its spec (they keep its subnet claim wider)? */
function recordsOutsideSpec(p: SpiderIPPool): boolean {
  let out = outsideMemo.get(p);
  if (out === undefined) {
    const held = poolHoldings(p);
    out = held.ok && held.value.count() > poolAddresses(p).count();
    outsideMemo.set(p, out);
  }
  return out;
}

function claimSignature(p: SpiderIPPool): string {
  return createHash('sha1')
    .update(
      JSON.stringify([
        p.spec.ipVersion,
        p.spec.subnet,
        p.spec.ips,
        p.spec.excludeIPs,
        p.metadata.labels,
        p.metadata.ownerReferences?.map((o) => o.uid),
        p.metadata.deletionTimestamp !== undefined,
      ]),
    )
    .digest('base64');
}

function workloadTarget(w: Workload): EventTarget {
  const version = w.app.kind === 'Job' || w.app.kind === 'CronJob' ? 'batch/v1' : 'apps/v1';
  return {
    apiVersion: version,
    kind: w.app.kind,
    namespace: w.app.namespace,
    name: w.app.name,
    uid: w.uid,
  };
}

function poolTarget(p: SpiderIPPool): EventTarget {
  return {
    apiVersion: API_VERSION,
    kind: 'SpiderIPPool',
    name: p.metadata.name,
    ...(p.metadata.uid ? { uid: p.metadata.uid } : {}),
  };
}

const workloadKey = (app: ApplicationRef): string =>
  `workload:${app.kind}/${app.namespace}/${labelValueOf(app.name)}`;

/** The subnet's free addresses cannot be judged: something that may hold them is unreadable. */
class SubnetUnreadableError extends Error {}

export class Reconciler {
  readonly #store: ControllerStore;
  readonly #opts: ReconcilerOptions;
  readonly #metrics: ControllerMetrics;
  readonly #log: Log;
  readonly #queue: WorkQueue;
  readonly #due: DueTracker;
  #timers: NodeJS.Timeout[] = [];
  #gcTimer: NodeJS.Timeout | undefined;
  /** One timer per pod whose GC candidates wait out their grace. */
  readonly #podTimers = new Map<string, NodeJS.Timeout>();
  #synced = false;
  /** Pool objects whose counters were found right. */
  readonly #countsOk = new WeakSet<SpiderIPPool>();
  /** Records of every pool, decoded once per pool version (GC reads them from here). */
  readonly #records = new RecordIndex();
  /** claimSignature of each pool as last seen: a pool event that leaves it alone is status only. */
  readonly #poolSigs = new Map<string, string>();
  /** Pools last seen recording addresses outside their spec (see recordsOutsideSpec). */
  readonly #outside = new Set<string>();
  /** Auto-pools that could not shrink for addresses in use: their releases are worth a workload pass. */
  readonly #shrinkPending = new Set<string>();
  /** Workloads (queue keys) waiting for a subnet: to appear, to stop terminating, to have room. */
  readonly #waiting = new Map<string, Set<string>>();
  /** Keys held back while a cache is not synced (a watch down too long): never act on a frozen cache. */
  readonly #held = new Set<string>();
  #heldTimer: NodeJS.Timeout | undefined;

  constructor(
    store: ControllerStore,
    opts: ReconcilerOptions,
    metrics: ControllerMetrics,
    log: Log,
  ) {
    this.#store = store;
    this.#opts = opts;
    this.#metrics = metrics;
    this.#log = log;
    this.#due = new DueTracker(opts.gcDelayMs);
    this.#due.adopt(opts.inheritedGcNote, Date.now());
    this.#queue = new WorkQueue(
      (key) => this.#handle(key),
      (key, e) => {
        this.#metrics.reconciles.inc({ kind: key.split(':')[0], result: 'error' });
        this.#log.warn(`reconcile of ${key} failed; retrying`, e);
      },
    );
  }

  /** The GC's first sightings, for the Lease (so the next leader's clocks go on from them). */
  gcNote(): string | undefined {
    return this.#due.note();
  }

  /** Begins work once the caches are synced (waits for them). */
  async start(): Promise<void> {
    while (!this.#store.ready()) await new Promise((r) => setTimeout(r, 100));
    this.#synced = true;
    this.resyncAll();
    this.#queue.add(GC);
    this.#timers = [
      setInterval(() => this.resyncAll(), this.#opts.resyncMs),
      setInterval(() => this.#queue.add(GC), this.#opts.gcIntervalMs),
    ];
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    if (this.#gcTimer !== undefined) clearTimeout(this.#gcTimer);
    if (this.#heldTimer !== undefined) clearInterval(this.#heldTimer);
    for (const t of this.#podTimers.values()) clearTimeout(t);
    await this.#queue.stop();
  }

  /**
   * Queues every subnet-annotated workload, every pool and subnet (the level-triggered
   * safety net). The full GC pass has its own timer.
   */
  resyncAll(): void {
    for (const s of this.#store.subnets()) this.#queue.add(`subnet:${s.metadata.name}`);
    for (const p of this.#store.pools()) {
      this.#queue.add(`pool:${p.metadata.name}`);
      this.#poolSigs.set(p.metadata.name, claimSignature(p));
      if (p.metadata.labels?.[Label.ownerSpiderSubnet] !== undefined)
        this.#outsideChanged(p.metadata.name, p);
      const app = autoPoolApplication(p.metadata.labels);
      if (app !== undefined)
        this.#queue.add(`workload:${app.kind}/${app.namespace}/${app.nameLabel}`);
    }
    for (const w of this.#store.workloads())
      if (this.#wantsPools(w)) this.#queue.add(workloadKey(w.app));
  }

  #wantsPools(w: Workload): boolean {
    const r = poolIntents(w);
    return !r.ok || r.value.length > 0;
  }

  /**
   * Watch events → queued keys: only what the event can affect (review #8). Under churn
   * of 10–50k pods the one worker must not spend itself on passes that find nothing.
   */
  onChange(c: Change): void {
    // Until every watch has listed, a missing workload or pool means "not seen yet", not
    // "gone": acting on it would reclaim live pools. The first resync covers these events.
    if (!this.#synced) return;
    switch (c.kind) {
      case 'workload': {
        const [kind, ns, name] = c.key.split('/') as [string, string, string];
        if (isWorkloadKind(kind)) this.#queue.add(workloadKey({ kind, namespace: ns, name }));
        break;
      }
      case 'pool':
        this.#onPool(c);
        break;
      case 'subnet': {
        this.#queue.add(`subnet:${c.key}`);
        // Only the workloads that wait for this subnet try again, not every workload.
        const waiting = this.#waiting.get(c.key);
        if (waiting !== undefined && c.type !== 'delete')
          for (const k of waiting) this.#queue.add(k);
        break;
      }
      case 'pod': {
        // Only what can leak: a pod gone, or one that has finished, and only its own
        // records. Other pod updates (status churn) queue nothing.
        const [ns, name] = c.key.split('/') as [string, string];
        if (c.type === 'delete' || this.#store.pod(ns, name)?.finished === true)
          this.#queue.add(gcOf(c.key));
        break;
      }
      case 'endpoint':
      case 'reservedip':
        break;
    }
  }

  #onPool(c: Change): void {
    // Its own counters and finalizer: one pool, whatever changed.
    this.#queue.add(`pool:${c.key}`);
    const pool = c.type === 'delete' ? undefined : this.#store.pool(c.key);
    const sig = pool === undefined ? undefined : claimSignature(pool);
    const before = this.#poolSigs.get(c.key);
    if (sig === undefined) {
      this.#poolSigs.delete(c.key);
      this.#shrinkPending.delete(c.key);
    } else this.#poolSigs.set(c.key, sig);
    const app = autoPoolApplication(c.labels);
    const workload =
      app === undefined ? undefined : `workload:${app.kind}/${app.namespace}/${app.nameLabel}`;
    const subnet = c.labels?.[Label.ownerSpiderSubnet];
    if (sig !== undefined && sig === before) {
      // A status write (allocation or release): no pool size changes. Only a pool waiting
      // to shrink may now give addresses back, and its subnet's claim changes only while
      // records lie outside the spec (decoding this one pool, never all of them).
      if (workload !== undefined && this.#shrinkPending.has(c.key)) this.#queue.add(workload);
      if (subnet !== undefined && pool !== undefined && this.#outsideChanged(c.key, pool))
        this.#queue.add(`subnet:${subnet}`);
      return;
    }
    if (pool === undefined) this.#outside.delete(c.key);
    else if (subnet !== undefined) this.#outsideChanged(c.key, pool);
    if (subnet !== undefined) this.#queue.add(`subnet:${subnet}`);
    if (workload !== undefined) this.#queue.add(workload);
  }

  /** Notes whether `pool` records addresses outside its spec; true when it does or did. */
  #outsideChanged(name: string, pool: SpiderIPPool): boolean {
    const was = this.#outside.has(name);
    const now = recordsOutsideSpec(pool);
    if (now) this.#outside.add(name);
    else this.#outside.delete(name);
    return now || was;
  }

  /** Holds `key` until the caches are synced again; checks twice a second. */
  #hold(key: string): void {
    this.#held.add(key);
    this.#heldTimer ??= setInterval(() => {
      if (!this.#store.ready()) return;
      clearInterval(this.#heldTimer);
      this.#heldTimer = undefined;
      const keys = [...this.#held];
      this.#held.clear();
      for (const k of keys) this.#queue.add(k);
    }, 500);
    this.#heldTimer.unref();
  }

  /** Records that `workload` waits for `subnet` (until its next pass). */
  #wait(subnet: string, workload: string): void {
    let set = this.#waiting.get(subnet);
    if (set === undefined) this.#waiting.set(subnet, (set = new Set()));
    set.add(workload);
  }

  #unwait(workload: string): void {
    for (const [subnet, set] of this.#waiting) {
      set.delete(workload);
      if (set.size === 0) this.#waiting.delete(subnet);
    }
  }

  async #handle(key: string): Promise<void> {
    if (!this.#store.ready()) {
      this.#hold(key);
      return;
    }
    const colon = key.indexOf(':');
    const kind = colon < 0 ? key : key.slice(0, colon);
    const rest = colon < 0 ? undefined : key.slice(colon + 1);
    if (kind === 'workload' && rest !== undefined) await this.#reconcileWorkload(rest);
    else if (kind === 'pool' && rest !== undefined) await this.#reconcilePool(rest);
    else if (kind === 'subnet' && rest !== undefined) await this.#reconcileSubnet(rest);
    else if (kind === GC) await this.#collect(rest);
    this.#metrics.reconciles.inc({ kind, result: 'ok' });
  }

  // ---- auto-pools -------------------------------------------------------------------

  #findWorkload(kind: string, namespace: string, nameLabel: string): Workload | undefined {
    if (!isWorkloadKind(kind)) return undefined;
    // Names of up to 63 characters are their own label value: one lookup. Longer ones
    // were truncated into the label, so only a scan of the namespace finds them.
    const direct = this.#store.workload(kind, namespace, nameLabel);
    if (direct !== undefined && labelValueOf(direct.app.name) === nameLabel) return direct;
    return this.#store
      .workloads(kind, namespace)
      .find((w) => labelValueOf(w.app.name) === nameLabel);
  }

  async #reconcileWorkload(key: string): Promise<void> {
    const [kind, ns, nameLabel] = key.split('/') as [string, string, string];
    if (!isWorkloadKind(kind)) return;
    // This pass records afresh what it still waits for.
    this.#unwait(`workload:${key}`);
    const w = this.#findWorkload(kind, ns, nameLabel);
    let intents: PoolIntent[] = [];
    if (w !== undefined) {
      const r = poolIntents(w);
      if (!r.ok) {
        this.#store.events.emit(
          workloadTarget(w),
          'Warning',
          Reason.invalidAnnotation,
          `no auto-pool made: ${r.error}`,
        );
        return;
      }
      intents = r.value;
      for (const intent of intents) await this.#ensurePool(w, intent);
    }
    await this.#sweep(kind, ns, nameLabel, w, intents);
  }

  /** Pools of this application it no longer wants: reclaimed (deleted) unless `ippool-reclaim` is false. */
  async #sweep(
    kind: string,
    namespace: string,
    nameLabel: string,
    w: Workload | undefined,
    intents: readonly PoolIntent[],
  ): Promise<void> {
    for (const p of this.#store.autoPoolsOf(kind, namespace, nameLabel)) {
      const app = autoPoolApplication(p.metadata.labels);
      if (app?.kind !== kind || app.namespace !== namespace || app.nameLabel !== nameLabel)
        continue;
      if (p.metadata.deletionTimestamp !== undefined) continue;
      const reclaim = p.metadata.labels?.[Label.ippoolReclaim] !== 'false';
      const wanted =
        w !== undefined &&
        app.uid === w.uid &&
        intents.some((i) => p.metadata.name === i.poolName || this.#serves(p, w, i));
      if (wanted || !reclaim) continue;
      // A reclaim=true pool of a workload that is gone (or re-created, or no longer asks
      // for it) is deleted; its finalizer keeps it until its last address is released.
      await this.#store.deletePool(p.metadata.name);
      this.#metrics.autoPools.inc({ action: 'deleted' });
      this.#store.events.emit(
        poolTarget(p),
        'Normal',
        Reason.poolDeleted,
        `deleted: its workload ${kind} ${namespace}/${w?.app.name ?? nameLabel} ${w === undefined ? 'is gone' : 'no longer uses it'} and ippool-reclaim is true; it stays Terminating until its last address is released`,
      );
    }
  }

  #serves(p: SpiderIPPool, w: Workload, i: PoolIntent): boolean {
    return isAutoPoolOf(p.metadata.labels, w.app, i.ifName, i.family);
  }

  /** The pool serving this intent: its own, or a kept (`ippool-reclaim: false`) one to adopt. */
  #poolFor(w: Workload, intent: PoolIntent): SpiderIPPool | undefined {
    const mine = this.#store
      .autoPoolsOf(w.app.kind, w.app.namespace, labelValueOf(w.app.name))
      .filter((p) => p.metadata.deletionTimestamp === undefined && this.#serves(p, w, intent));
    return (
      mine.find((p) => p.metadata.labels?.[Label.ownerApplicationUID] === w.uid) ??
      mine.find((p) => p.metadata.labels?.[Label.ippoolReclaim] === 'false')
    );
  }

  async #ensurePool(w: Workload, intent: PoolIntent): Promise<void> {
    const target = workloadTarget(w);
    const subnet = this.#store.subnet(intent.subnet);
    // Each way this intent can go unmet below is the subnet's (missing, deleting, wrong
    // family, full): the workload waits for the subnet's next change.
    const wait = (): void => this.#wait(intent.subnet, workloadKey(w.app));
    if (subnet === undefined) {
      wait();
      this.#store.events.emit(
        target,
        'Warning',
        Reason.subnetNotFound,
        `SpiderSubnet ${intent.subnet} (for ${intent.ifName}, IPv${intent.family}) does not exist; the pool is made when it does`,
      );
      return;
    }
    if (subnet.metadata.deletionTimestamp !== undefined) {
      wait();
      this.#store.events.emit(
        target,
        'Warning',
        Reason.subnetNotFound,
        `SpiderSubnet ${intent.subnet} is being deleted; no auto-pool is made from it`,
      );
      return;
    }
    if (specFamily(subnet.spec) !== intent.family) {
      wait();
      this.#store.events.emit(
        target,
        'Warning',
        Reason.invalidAnnotation,
        `SpiderSubnet ${intent.subnet} is not an IPv${intent.family} subnet`,
      );
      return;
    }
    const existing = this.#poolFor(w, intent);
    if (existing === undefined) {
      if (!(await this.#createPool(w, intent, subnet))) wait();
      return;
    }
    const from = existing.metadata.labels?.[Label.ownerSpiderSubnet];
    if (from !== undefined && from !== labelValueOf(intent.subnet)) {
      this.#store.events.emit(
        target,
        'Warning',
        Reason.subnetChanged,
        `${intent.ifName} now names SpiderSubnet ${intent.subnet}, but its pool ${existing.metadata.name} was made from ${from}; the pool keeps serving it. To move, delete and re-create the workload.`,
      );
      return;
    }
    if (existing.metadata.labels?.[Label.ownerApplicationUID] !== w.uid) {
      this.#metrics.autoPools.inc({ action: 'adopted' });
      this.#store.events.emit(
        target,
        'Normal',
        Reason.poolAdopted,
        `adopted kept pool ${existing.metadata.name} (ippool-reclaim: false) for ${intent.ifName}`,
      );
    }
    const have = poolAddresses(existing).count();
    const want = BigInt(intent.size);
    if (have > want) {
      await this.#shrink(w, intent, existing);
      return;
    }
    this.#shrinkPending.delete(existing.metadata.name);
    if (have < want) {
      if (!(await this.#grow(w, intent, existing, want - have))) wait();
    } else await this.#relabel(w, intent, existing.metadata.name);
  }

  /** Promises `n` lowest free subnet addresses to `pool` (on top of `keep`), subnet first. */
  async #claim(
    subnetName: string,
    pool: string,
    keep: RangeSet,
    n: bigint,
    application: string,
  ): Promise<RangeSet> {
    const { result } = await retryOnConflict(
      `claim addresses of SpiderSubnet ${subnetName} for ${pool}`,
      async (fresh) => {
        const s = fresh ? await this.#store.readSubnet(subnetName) : this.#store.subnet(subnetName);
        if (s === undefined) throw new Error(`SpiderSubnet ${subnetName} is gone`);
        return s;
      },
      (s: SpiderSubnet) => {
        const claims = decodeControlledIPPools(s.status?.controlledIPPools);
        if (!claims.ok) throw new Error(claims.error.message);
        const prior = claims.value.get(pool);
        let ips = keep;
        if (prior !== undefined) {
          // An earlier pass promised these (and may have crashed before the pool write).
          const p = RangeSet.parse(keep.family, prior.ips);
          if (p.ok) ips = ips.union(p.value);
        }
        if (ips.count() < keep.count() + n) {
          const free = freeAddresses(s, this.#store.pools(), this.#store.reservedIPs(), pool);
          if (!free.ok) throw new SubnetUnreadableError(free.error);
          ips = ips.union(free.value.subtract(ips).takeLowest(keep.count() + n - ips.count()));
        }
        const next = withClaim(s, pool, { ips: ips.toStrings(), application });
        if (!next.ok) throw new Error(next.error);
        return next.value === undefined ? { result: ips } : { write: next.value, result: ips };
      },
      (s) => this.#store.replaceSubnetStatus(s),
      this.#opts.retry,
    );
    return result;
  }

  /**
   * A claim that cannot be judged because something that may hold subnet addresses is
   * unreadable (review #16) is told on the workload as a Warning event, not only in the
   * log: the admin who sees pods waiting reads the workload's events. The error still
   * fails the reconcile, which is retried with backoff (events are deduplicated).
   */
  async #claimOrTell(
    target: ReturnType<typeof workloadTarget>,
    claim: () => Promise<RangeSet>,
  ): Promise<RangeSet> {
    try {
      return await claim();
    } catch (e) {
      if (e instanceof SubnetUnreadableError)
        this.#store.events.emit(target, 'Warning', Reason.subnetUnreadable, e.message);
      throw e;
    }
  }

  /** Creates the pool; false when the subnet had too few addresses for it (it waits for room). */
  async #createPool(w: Workload, wanted: PoolIntent, subnet: SpiderSubnet): Promise<boolean> {
    // The name may still be held by a Terminating pool of this very workload (its pods
    // keep addresses there, e.g. after a rollback): then the pool gets another name,
    // rather than every new pod waiting for the old ones to go.
    let k = 0;
    while (this.#store.pool(alternateName(wanted.poolName, k)) !== undefined) k++;
    const intent = k === 0 ? wanted : { ...wanted, poolName: alternateName(wanted.poolName, k) };
    if (k > 0)
      this.#store.events.emit(
        workloadTarget(w),
        'Normal',
        Reason.poolCreated,
        `pool ${wanted.poolName} is still Terminating (pods hold addresses there); the new pool for ${wanted.ifName} is ${intent.poolName}`,
      );
    const family = intent.family;
    const target = workloadTarget(w);
    const ips = await this.#claimOrTell(target, () =>
      this.#claim(
        subnet.metadata.name,
        intent.poolName,
        RangeSet.empty(family),
        BigInt(intent.size),
        applicationString(w.app),
      ),
    );
    if (ips.isEmpty()) {
      this.#store.events.emit(
        target,
        'Warning',
        Reason.subnetExhausted,
        `SpiderSubnet ${subnet.metadata.name} has no free address for pool ${intent.poolName} (${intent.ifName}, needs ${intent.size}); pods of this workload wait until addresses are freed or added`,
      );
      return false;
    }
    const full = ips.count() >= BigInt(intent.size);
    if (ips.count() < BigInt(intent.size))
      this.#store.events.emit(
        target,
        'Warning',
        Reason.subnetExhausted,
        `SpiderSubnet ${subnet.metadata.name} had only ${ips.count()} of the ${intent.size} addresses pool ${intent.poolName} needs; it grows when addresses are freed`,
      );
    try {
      await this.#store.createPool(newAutoPool(intent, w, subnet, ips));
    } catch (e) {
      // Made by an earlier pass whose create answer was lost: the next pass resizes it.
      if ((e as { code?: number }).code === 409) return full;
      throw e;
    }
    this.#metrics.autoPools.inc({ action: 'created' });
    this.#store.events.emit(
      target,
      'Normal',
      Reason.poolCreated,
      `created SpiderIPPool ${intent.poolName} for ${intent.ifName} with ${ips.toStrings().join(',')} from SpiderSubnet ${subnet.metadata.name}`,
    );
    return full;
  }

  /** Grows the pool by `n`; false when the subnet had fewer free addresses (it waits for room). */
  async #grow(w: Workload, intent: PoolIntent, pool: SpiderIPPool, n: bigint): Promise<boolean> {
    const current = poolAddresses(pool);
    const ips = await this.#claimOrTell(workloadTarget(w), () =>
      this.#claim(intent.subnet, pool.metadata.name, current, n, applicationString(w.app)),
    );
    const added = ips.subtract(current);
    if (added.count() < n)
      this.#store.events.emit(
        workloadTarget(w),
        'Warning',
        Reason.subnetExhausted,
        `SpiderSubnet ${intent.subnet} cannot grow pool ${pool.metadata.name} to ${intent.size}: only ${added.count()} of ${n} more addresses are free`,
      );
    await this.#writePool(w, intent, pool.metadata.name, (p) => poolAddresses(p).union(added));
    if (!added.isEmpty()) {
      this.#metrics.autoPools.inc({ action: 'grown' });
      this.#store.events.emit(
        poolTarget(pool),
        'Normal',
        Reason.poolResized,
        `grew to ${intent.size} addresses for ${w.app.kind} ${w.app.namespace}/${w.app.name} (${w.replicas} replicas, ippool-ip-number ${intent.ipNumber})`,
      );
    }
    return added.count() >= n;
  }

  async #shrink(w: Workload, intent: PoolIntent, pool: SpiderIPPool): Promise<void> {
    let short = 0;
    const written = await this.#writePool(w, intent, pool.metadata.name, (p) => {
      const alloc = allocatedSet(p);
      if (!alloc.ok) throw new Error(alloc.error);
      const r = shrinkTo(poolAddresses(p), alloc.value, intent.size);
      short = r.short;
      return r.keep;
    });
    // Releases in this pool (status writes) bring the workload back until it has shrunk.
    if (short > 0) this.#shrinkPending.add(pool.metadata.name);
    else this.#shrinkPending.delete(pool.metadata.name);
    if (short > 0)
      this.#store.events.emit(
        poolTarget(pool),
        'Normal',
        Reason.poolCannotShrink,
        `cannot shrink to ${intent.size} yet: ${short} more addresses are in use; it shrinks as pods release them`,
      );
    if (written === undefined) return;
    // Pool first, then the subnet: the subnet never offers an address a pool still holds.
    await this.#claimExactly(intent.subnet, written, applicationString(w.app));
    this.#metrics.autoPools.inc({ action: 'shrunk' });
  }

  async #relabel(w: Workload, intent: PoolIntent, name: string): Promise<void> {
    await this.#writePool(w, intent, name, (p) => poolAddresses(p));
  }

  /** Writes the pool's addresses and owner labels; returns the written pool, undefined if nothing changed. */
  async #writePool(
    w: Workload,
    intent: PoolIntent,
    name: string,
    addresses: (p: SpiderIPPool) => RangeSet,
  ): Promise<SpiderIPPool | undefined> {
    const { written } = await retryOnConflict(
      `update auto-pool ${name}`,
      async (fresh) => {
        const p = fresh ? await this.#store.readPool(name) : this.#store.pool(name);
        if (p === undefined) throw new Error(`SpiderIPPool ${name} is gone`);
        return p;
      },
      (p: SpiderIPPool) => {
        const next = updatedAutoPool(p, intent, w, addresses(p));
        return next === undefined ? { result: undefined } : { write: next, result: undefined };
      },
      (p) => this.#store.replacePool(p),
      this.#opts.retry,
    );
    return written as SpiderIPPool | undefined;
  }

  async #claimExactly(subnetName: string, pool: SpiderIPPool, application: string): Promise<void> {
    await retryOnConflict(
      `release addresses of ${pool.metadata.name} to SpiderSubnet ${subnetName}`,
      async (fresh) => {
        const s = fresh ? await this.#store.readSubnet(subnetName) : this.#store.subnet(subnetName);
        if (s === undefined) throw new Error(`SpiderSubnet ${subnetName} is gone`);
        return s;
      },
      (s: SpiderSubnet) => {
        const next = withClaim(s, pool.metadata.name, {
          ips: poolAddresses(pool).toStrings(),
          application,
        });
        if (!next.ok) throw new Error(next.error);
        return next.value === undefined
          ? { result: undefined }
          : { write: next.value, result: undefined };
      },
      (s) => this.#store.replaceSubnetStatus(s),
      this.#opts.retry,
    );
  }

  // ---- counters and finalizers --------------------------------------------------------

  async #reconcilePool(name: string): Promise<void> {
    const pool = this.#store.pool(name);
    if (pool === undefined) return;
    // Checking the counters decodes every record of the pool: once per pool version is
    // enough (the cache replaces the object on every change), not once per resync.
    if (!this.#countsOk.has(pool))
      await retryOnConflict(
        `update counters of SpiderIPPool ${name}`,
        async (fresh) => (fresh ? await this.#store.readPool(name) : this.#store.pool(name)),
        (p: SpiderIPPool | undefined) => {
          const next = p === undefined ? undefined : poolCounters(p);
          if (p !== undefined && next === undefined) this.#countsOk.add(p);
          return next === undefined ? { result: undefined } : { write: next, result: undefined };
        },
        (p) => this.#store.replacePoolStatus(p),
        this.#opts.retry,
      );
    await retryOnConflict(
      `update finalizer of SpiderIPPool ${name}`,
      async (fresh) => (fresh ? await this.#store.readPool(name) : this.#store.pool(name)),
      (p: SpiderIPPool | undefined) => {
        const change = p === undefined ? undefined : poolFinalizer(p);
        return change === undefined
          ? { result: undefined }
          : { write: withFinalizer(p!, change), result: undefined };
      },
      (p) => this.#store.replacePool(p),
      this.#opts.retry,
    );
  }

  async #reconcileSubnet(name: string): Promise<void> {
    const subnet = this.#store.subnet(name);
    if (subnet === undefined) return;
    const wanted = (pool: string, application: string): boolean =>
      claimWanted(pool, application, (kind, ns) =>
        isWorkloadKind(kind) ? this.#store.workloads(kind, ns) : [],
      );
    await retryOnConflict(
      `update status of SpiderSubnet ${name}`,
      async (fresh) => (fresh ? await this.#store.readSubnet(name) : this.#store.subnet(name)),
      (s: SpiderSubnet | undefined) => {
        const next = s === undefined ? undefined : subnetStatus(s, this.#store.pools(), wanted);
        return next === undefined ? { result: undefined } : { write: next, result: undefined };
      },
      (s) => this.#store.replaceSubnetStatus(s),
      this.#opts.retry,
    );
    if (subnet.metadata.deletionTimestamp !== undefined) {
      // Its pools go with it (each waits for its last release), then its finalizer.
      for (const p of poolsOfSubnet(subnet, this.#store.pools()))
        if (p.metadata.deletionTimestamp === undefined)
          await this.#store.deletePool(p.metadata.name);
    }
    await retryOnConflict(
      `update finalizer of SpiderSubnet ${name}`,
      async (fresh) => (fresh ? await this.#store.readSubnet(name) : this.#store.subnet(name)),
      (s: SpiderSubnet | undefined) => {
        const change = s === undefined ? undefined : subnetFinalizer(s, this.#store.pools());
        return change === undefined
          ? { result: undefined }
          : { write: withFinalizer(s!, change), result: undefined };
      },
      (s) => this.#store.replaceSubnet(s),
      this.#opts.retry,
    );
  }

  // ---- garbage collection -------------------------------------------------------------

  #view(fresh?: {
    namespace: string;
    name: string;
    pod: ReturnType<ControllerStore['pod']>;
  }): GCView {
    const store = this.#store;
    return {
      pod: (ns, name) =>
        fresh !== undefined && fresh.namespace === ns && fresh.name === name
          ? fresh.pod
          : store.pod(ns, name),
      lastGrace: (ns, name) => store.lastGrace(ns, name),
      statefulSetReplicas: (ns, name) =>
        store.workloads('StatefulSet', ns).find((w) => w.app.name === name)?.replicas,
      endpointOwner: (ns, name) => {
        const s = store.endpoint(ns, name)?.status;
        return s?.ownerControllerType === undefined
          ? undefined
          : { type: s.ownerControllerType, name: s.ownerControllerName ?? '' };
      },
    };
  }

  /**
   * One GC pass: over every record and endpoint (`pod` undefined: the periodic scan), or
   * over those of one pod name (a pod deleted or finished). Records come from the index,
   * which decodes only pools changed since the last pass.
   */
  async #collect(pod?: string): Promise<void> {
    const now = Date.now();
    const view = this.#view();
    const index = this.#records.sync(this.#store.pools());
    let records: RecordCandidate[];
    let endpoints: ReturnType<typeof endpointCandidates>;
    if (pod === undefined) {
      records = judgeRecords(index.records(), view);
      endpoints = endpointCandidates(this.#store.endpoints(), index, view);
    } else {
      const [ns, name] = pod.split('/') as [string, string];
      const ep = this.#store.endpoint(ns, name);
      records = judgeRecords(index.ofPod(pod), view);
      endpoints = endpointCandidates(ep === undefined ? [] : [ep], index, view);
    }
    const all = [...records, ...endpoints];
    const due = new Set(this.#due.due(all, now, pod).map((c) => c.key));
    const waiting = this.#due.waiting();
    this.#metrics.gcCandidates.set({ type: 'record' }, waiting.record);
    this.#metrics.gcCandidates.set({ type: 'endpoint' }, waiting.endpoint);
    let failed = false;
    for (const c of records) {
      if (!due.has(c.key)) continue;
      const r = await this.#release(c);
      // Its endpoint is an orphan only once no record holds the pod: judge it again now
      // (a release's own status write queues no GC).
      if (r === 'released') this.#queue.add(gcOf(c.pod));
      failed ||= r === 'failed';
    }
    for (const c of endpoints) if (due.has(c.key)) failed ||= !(await this.#dropEndpoint(c));
    const next = this.#due.nextDue(all.filter((c) => !due.has(c.key)));
    const later = (): void => this.#queue.add(pod === undefined ? GC : gcOf(pod));
    let delay = next === undefined ? undefined : Math.max(next - Date.now(), 0) + 50;
    // A failed release or delete is tried again soon, not only at the next full scan.
    if (failed) delay = Math.min(delay ?? GC_RETRY_MS, GC_RETRY_MS);
    if (pod === undefined) {
      if (this.#gcTimer !== undefined) clearTimeout(this.#gcTimer);
      this.#gcTimer = delay === undefined ? undefined : setTimeout(later, delay);
      this.#gcTimer?.unref();
    } else {
      clearTimeout(this.#podTimers.get(pod));
      this.#podTimers.delete(pod);
      if (delay !== undefined) {
        const t = setTimeout(() => {
          this.#podTimers.delete(pod);
          later();
        }, delay);
        t.unref();
        this.#podTimers.set(pod, t);
      }
    }
  }

  /** Re-checks against a fresh read of the pod, then releases only the record still held by that UID. */
  async #release(c: RecordCandidate): Promise<'released' | 'kept' | 'failed'> {
    const [ns, name] = c.pod.split('/') as [string, string];
    try {
      const pod = await this.#store.readPod(ns, name);
      const leak = leakReason(ns, name, c.podUid, this.#view({ namespace: ns, name, pod }));
      if (leak === undefined) return 'kept';
      const { result } = await retryOnConflict(
        `release ${c.ip} of SpiderIPPool ${c.pool}`,
        async (fresh) => (fresh ? await this.#store.readPool(c.pool) : this.#store.pool(c.pool)),
        (p: SpiderIPPool | undefined) => {
          if (p === undefined) return { result: false };
          const records = decodeAllocatedIPs(p.status?.allocatedIPs);
          if (!records.ok) return { result: false };
          if (records.value.get(c.ip)?.podUid !== c.podUid) return { result: false };
          records.value.delete(c.ip);
          const status = { ...p.status, allocatedIPCount: records.value.size };
          const text = encodeAllocatedIPs(records.value);
          if (text === undefined) delete status.allocatedIPs;
          else status.allocatedIPs = text;
          return { write: { ...p, status }, result: true };
        },
        (p) => this.#store.replacePoolStatus(p),
        this.#opts.retry,
      );
      if (!result) return 'kept';
      this.#metrics.gcReleases.inc({ type: 'record' });
      this.#log.info(
        `released leaked ${c.ip} of pool ${c.pool}: ${leak.reason} (pod ${c.pod}, UID ${c.podUid})`,
      );
      const pool = this.#store.pool(c.pool);
      if (pool !== undefined)
        this.#store.events.emit(
          poolTarget(pool),
          'Normal',
          Reason.leakReleased,
          `released ${c.ip} of pod ${c.pod} (UID ${c.podUid}): ${leak.reason}`,
        );
      return 'released';
    } catch (e) {
      this.#metrics.gcFailures.inc({ type: 'record' });
      this.#log.warn(`releasing ${c.ip} of pool ${c.pool} failed; next pass retries`, e);
      return 'failed';
    }
  }

  /** Deletes the orphaned endpoint if it still is one; false when the attempt failed. */
  async #dropEndpoint(c: ReturnType<typeof endpointCandidates>[number]): Promise<boolean> {
    try {
      if ((await this.#store.readPod(c.namespace, c.name)) !== undefined) return true;
      const ep = await this.#store.readEndpoint(c.namespace, c.name);
      if (ep === undefined || (ep.status?.current?.uid ?? '') !== c.uid) return true;
      const index = this.#records.sync(this.#store.pools());
      if (endpointCandidates([ep], index, this.#view()).length === 0) return true;
      // The very object judged: a same-name pod's endpoint written meanwhile is not touched
      // (the writes carry its resourceVersion and fail with 409 instead).
      const last =
        (ep.metadata.finalizers ?? []).length > 0
          ? await this.#store.replaceEndpoint(withFinalizer(ep, 'remove'))
          : ep;
      await this.#store.deleteEndpoint(c.namespace, c.name, {
        uid: last.metadata.uid ?? '',
        resourceVersion: last.metadata.resourceVersion ?? '',
      });
      this.#metrics.gcReleases.inc({ type: 'endpoint' });
      this.#log.info(`deleted orphaned SpiderEndpoint ${c.namespace}/${c.name}: ${c.reason}`);
      return true;
    } catch (e) {
      this.#metrics.gcFailures.inc({ type: 'endpoint' });
      this.#log.warn(
        `deleting SpiderEndpoint ${c.namespace}/${c.name} failed; next pass retries`,
        e,
      );
      return false;
    }
  }

  /** Touch for tests and logs: items waiting. */
  get pending(): number {
    return this.#queue.length;
  }
}
