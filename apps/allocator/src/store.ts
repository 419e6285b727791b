import {
  decodeAllocatedIPs,
  type CodecError,
  type OwnerReference,
  type PoolIPAllocation,
  type SpiderEndpoint,
  type SpiderIPPool,
  type SpiderReservedIP,
} from '@nicpool/crds';
import { ok, type Result } from '@nicpool/result';
import type { PoolPort } from './pool-commit.ts';

/** The parts of a Pod the allocator reads. */
export interface PodObject {
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly uid: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
    readonly deletionTimestamp?: string | Date;
    readonly ownerReferences?: readonly OwnerReference[];
  };
  readonly spec?: { readonly nodeName?: string };
  readonly status?: { readonly phase?: string };
}

export interface Labelled {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

/**
 * The allocator's port to the state of record. The Kubernetes implementation serves pools,
 * reserved IPs and namespaces from watch caches; the in-memory one backs integration tests.
 * Failed calls throw errors carrying the HTTP status as `code` (409 → conflict, 404 → gone).
 */
/** A controller reference as the allocator uses it (the owner of a Job or a ReplicaSet). */
export interface ControllerRef {
  readonly kind: string;
  readonly name: string;
  readonly uid?: string;
}

export interface AllocatorStore extends PoolPort {
  /** True once the caches have synced. */
  ready(): boolean;
  pools(): readonly SpiderIPPool[];
  /** One pool from the cache, undefined when the cache does not hold it. */
  cachedPool(name: string): SpiderIPPool | undefined;
  /** Every record of this pod UID in the cached pools (from {@link PoolCache}'s index). */
  heldBy(podUid: string): readonly HeldRecord[];
  /** Every record of the pod `namespace/name`, whatever its UID (StatefulSet stickiness). */
  heldByName(pod: string): readonly HeldRecord[];
  /** Cached pools whose `status.allocatedIPs` does not decode, with why: they may hold anything. */
  unreadablePools(): ReadonlyMap<string, string>;
  reservedIPs(): readonly SpiderReservedIP[];
  /** From the watch of this node's pods; `fresh` (or a cache miss) reads the API server. */
  getPod(namespace: string, name: string, fresh?: boolean): Promise<PodObject | undefined>;
  getNamespace(name: string): Promise<Labelled | undefined>;
  getNode(name: string): Promise<Labelled | undefined>;
  /**
   * Resolves after the next change to a pool `interested` accepts (any pool without it) —
   * true — or after `ms` (false): how ADD waits for the controller to create or grow its
   * workload's auto-pool without polling, and without re-planning on every other pool's
   * change (review #11).
   */
  waitForPoolChange(ms: number, interested?: (pool: SpiderIPPool) => boolean): Promise<boolean>;
  /** The controller owning a Job (a CronJob), undefined for none or when the Job is gone. */
  getJobOwner(namespace: string, name: string): Promise<ControllerRef | undefined>;
  /**
   * The controller owning a ReplicaSet (its Deployment), undefined for none or when the
   * ReplicaSet is gone: how a Deployment pod learns its Deployment's UID (review #17).
   */
  getReplicaSetOwner(namespace: string, name: string): Promise<ControllerRef | undefined>;
  /** What DEL needs of a StatefulSet; undefined when it does not exist. */
  getStatefulSet(namespace: string, name: string): Promise<StatefulSetView | undefined>;
  /** From the watch of this node's endpoints (our writes written through); `fresh` reads the API server. */
  getEndpoint(
    namespace: string,
    name: string,
    fresh?: boolean,
  ): Promise<SpiderEndpoint | undefined>;
  /** The SpiderEndpoints labelled with this node (GC), selected by the API server. */
  listEndpoints(node: string): Promise<SpiderEndpoint[]>;
  createEndpoint(ep: SpiderEndpoint): Promise<SpiderEndpoint>;
  replaceEndpoint(ep: SpiderEndpoint): Promise<SpiderEndpoint>;
  /**
   * Deletes only the object judged: Kubernetes DeleteOptions preconditions, 409 when the
   * stored object has another `metadata.uid` or `resourceVersion` (e.g. the endpoint was
   * replaced for the pod's successor in between).
   */
  deleteEndpoint(
    namespace: string,
    name: string,
    preconditions: DeletePreconditions,
  ): Promise<void>;
}

/** The parts of a StatefulSet that decide whether it re-creates a pod of a given ordinal. */
export interface StatefulSetView {
  readonly replicas: number;
  /** `spec.ordinals.start` (default 0): ordinals run from it to start + replicas − 1. */
  readonly ordinalsStart: number;
  /** It has a deletionTimestamp (foreground deletion): it re-creates nothing. */
  readonly deleting: boolean;
}

/** Kubernetes DeleteOptions.preconditions: both of the object's metadata. */
export interface DeletePreconditions {
  readonly uid: string;
  readonly resourceVersion: string;
}

/**
 * Wakes the waiters a change concerns (each with its own filter; none = every change), or
 * each waiter after its own timeout.
 */
export class ChangeSignal<T = void> {
  readonly #waiters = new Map<() => void, ((subject: T) => boolean) | undefined>();

  notify(subject: T): void {
    for (const [w, interested] of this.#waiters) {
      if (interested !== undefined && !interested(subject)) continue;
      this.#waiters.delete(w);
      w();
    }
  }

  /** True on a change `interested` accepts within `ms`, false after `ms` without one. */
  wait(ms: number, interested?: (subject: T) => boolean): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(done);
        resolve(false);
      }, ms);
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#waiters.set(done, interested);
    });
  }
}

/** One allocation record of a cached pool, as {@link PoolCache} indexes it. */
export interface HeldRecord {
  readonly pool: string;
  readonly ip: string;
  /** `namespace/name`. */
  readonly pod: string;
  readonly podUid: string;
  readonly interface?: string;
}

/** resourceVersion as a number when it is one (etcd's revisions are), else undefined. */
function revision(p: SpiderIPPool): bigint | undefined {
  const rv = p.metadata.resourceVersion;
  return rv !== undefined && /^\d{1,30}$/.test(rv) ? BigInt(rv) : undefined;
}

// Lists, not sets: a pod holds a handful of records, and half a million one-element sets
// made indexing a large cache slower than decoding it.
function addTo(index: Map<string, HeldRecord[]>, key: string, r: HeldRecord): void {
  const list = index.get(key);
  if (list === undefined) index.set(key, [r]);
  else list.push(r);
}

function removeFrom(index: Map<string, HeldRecord[]>, key: string, r: HeldRecord): void {
  const list = index.get(key);
  if (list === undefined) return;
  const i = list.indexOf(r);
  if (i >= 0) list.splice(i, 1);
  if (list.length === 0) index.delete(key);
}

const sameHolder = (
  a: HeldRecord,
  b: { pod: string; podUid: string; interface?: string },
): boolean => a.pod === b.pod && a.podUid === b.podUid && a.interface === b.interface;

/** Records a writer encoded into `text`, the `allocatedIPs` it sent (see PoolCache.expectWrite). */
export interface WrittenRecords {
  readonly text: string | undefined;
  readonly records: ReadonlyMap<string, PoolIPAllocation>;
}

/**
 * The pool cache (name → pool) with an index of its allocation records by pod UID and by
 * pod name, kept in step on every `set`/`delete` — watch events and our own write-through
 * alike — so DEL, GC and sticky ADD find one pod's records without decoding every record of
 * every pool (review #7: 2 s of blocked event loop per DEL at 100 pools × 5000 records).
 *
 * The index holds exactly one entry per record of the pools the cache holds: a pool's
 * entries are rebuilt when its `allocatedIPs` text changes and dropped with the pool, and
 * empty keys are removed, so it is bounded by the cache itself (at most pools × maxRecords).
 * A pool whose status does not decode is listed in {@link unreadable} instead.
 *
 * With `monotonic`, `set` never replaces a pool by an older resourceVersion (a watch event
 * that trails our own write-through), and {@link refresh} never re-adds a pool the cache
 * no longer holds (a late GET or write answer after the watch saw the delete) — review #12.
 */
export class PoolCache extends Map<string, SpiderIPPool> {
  readonly #monotonic: boolean;
  /** Per pool: the status text last indexed and its records by address. */
  readonly #indexed = new Map<
    string,
    { readonly text: string | undefined; readonly records: ReadonlyMap<string, HeldRecord> }
  >();
  readonly #byUid = new Map<string, HeldRecord[]>();
  readonly #byPod = new Map<string, HeldRecord[]>();
  readonly #unreadable = new Map<string, string>();
  /**
   * Per pool with one of our status writes in flight: the records it encoded, by the text
   * sent. The watch event of that write may come before its answer; either one is then
   * indexed from these records rather than by decoding the text. One entry per write in
   * flight (at most one per pool: the committer writes a pool one batch at a time).
   */
  readonly #expected = new Map<string, WrittenRecords>();

  constructor(options: { readonly monotonic?: boolean } = {}) {
    super();
    this.#monotonic = options.monotonic ?? false;
  }

  override set(name: string, pool: SpiderIPPool): this {
    const cur = super.get(name);
    if (this.#monotonic && cur !== undefined) {
      const [next, now] = [revision(pool), revision(cur)];
      if (next !== undefined && now !== undefined && next < now) return this;
    }
    super.set(name, pool);
    this.#index(name, pool);
    return this;
  }

  /** Write-through of an API answer: only over a pool still cached, never backwards. */
  refresh(pool: SpiderIPPool): void {
    if (super.has(pool.metadata.name)) this.set(pool.metadata.name, pool);
  }

  /**
   * Our own status write of pool `name` is in flight with these records: whichever of its
   * watch event and its answer comes first is indexed from them. Call the returned function
   * once the write has an answer (or failed).
   */
  expectWrite(name: string, written: WrittenRecords): () => void {
    this.#expected.set(name, written);
    return () => {
      if (this.#expected.get(name) === written) this.#expected.delete(name);
    };
  }

  /**
   * The decoded records of `pool`'s status, if this cache has indexed exactly its
   * `allocatedIPs` text (the committer then applies its batch to them instead of decoding
   * the text again); undefined for another text or an unreadable one.
   */
  recordsOf(pool: SpiderIPPool): ReadonlyMap<string, PoolIPAllocation> | undefined {
    const name = pool.metadata.name;
    const prev = this.#indexed.get(name);
    if (prev === undefined || this.#unreadable.has(name)) return undefined;
    return prev.text === pool.status?.allocatedIPs ? prev.records : undefined;
  }

  override delete(name: string): boolean {
    this.#unindex(name);
    return super.delete(name);
  }

  override clear(): void {
    for (const name of [...super.keys()]) this.#unindex(name);
    super.clear();
  }

  heldBy(podUid: string): readonly HeldRecord[] {
    return [...(this.#byUid.get(podUid) ?? [])];
  }

  heldByName(pod: string): readonly HeldRecord[] {
    return [...(this.#byPod.get(pod) ?? [])];
  }

  unreadable(): ReadonlyMap<string, string> {
    return this.#unreadable;
  }

  #index(name: string, pool: SpiderIPPool): void {
    const text = pool.status?.allocatedIPs;
    const prev = this.#indexed.get(name);
    // Spec-only changes and repeated deliveries of one version cost nothing.
    if (prev !== undefined && prev.text === text) return;
    // Our own write's records need no decoding: they are what was encoded into `text`.
    const mine = this.#expected.get(name);
    const decoded: Result<ReadonlyMap<string, PoolIPAllocation>, CodecError> = mine !== undefined &&
    mine.text === text
      ? ok(mine.records)
      : decodeAllocatedIPs(text);
    if (!decoded.ok) {
      this.#unindex(name);
      this.#unreadable.set(name, decoded.error.message);
      this.#indexed.set(name, { text, records: new Map() });
      return;
    }
    this.#unreadable.delete(name);
    // A write changes a few records of many: move only those in the by-pod lists.
    const old = prev?.records ?? new Map<string, HeldRecord>();
    const records = new Map<string, HeldRecord>();
    for (const [ip, r] of decoded.value) {
      const was = old.get(ip);
      if (was !== undefined && sameHolder(was, r)) {
        records.set(ip, was);
        continue;
      }
      if (was !== undefined) this.#forget(was);
      const held: HeldRecord =
        r.interface === undefined
          ? { pool: name, ip, pod: r.pod, podUid: r.podUid }
          : { pool: name, ip, pod: r.pod, podUid: r.podUid, interface: r.interface };
      addTo(this.#byUid, held.podUid, held);
      addTo(this.#byPod, held.pod, held);
      records.set(ip, held);
    }
    for (const [ip, was] of old) if (!records.has(ip)) this.#forget(was);
    this.#indexed.set(name, { text, records });
  }

  #forget(r: HeldRecord): void {
    removeFrom(this.#byUid, r.podUid, r);
    removeFrom(this.#byPod, r.pod, r);
  }

  #unindex(name: string): void {
    const prev = this.#indexed.get(name);
    if (prev !== undefined) for (const r of prev.records.values()) this.#forget(r);
    this.#indexed.delete(name);
    this.#unreadable.delete(name);
  }
}
