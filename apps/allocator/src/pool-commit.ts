/**
 * Group commit per pool: concurrent allocations and releases that target one pool are
 * applied together to one fresh view of the pool and committed in ONE status write, with
 * optimistic locking (allocator.md, "Optimistic locking").
 */
import {
  decodeAllocatedIPs,
  encodeAllocatedIPsOrdered,
  specAddresses,
  specFamily,
  statusCount,
  type PoolIPAllocation,
  type SpiderIPPool,
} from '@nicpool/crds';
import { poolProblem, type EligibilityContext } from '@nicpool/eligibility';
import { formatIP, parseIP, RangeSet, type IPFamily } from '@nicpool/ip';
import { retryOnConflict, type RetryOptions } from '@nicpool/kube';

export type PoolOp =
  | {
      readonly kind: 'allocate';
      readonly podUid: string;
      /** `namespace/name`. */
      readonly pod: string;
      readonly ifName: string;
      /** StatefulSet pods keep their address across re-creation: match by name, adopt the new UID. */
      readonly sticky: boolean;
      /**
       * Answer only from an existing record (this UID, or this pod name when sticky), else
       * `notHeld`: how the caller confirms against a fresh snapshot what its cache's index
       * says before it tries the pools in order.
       */
      readonly reuseOnly?: boolean;
      /**
       * Who asks, as the planner judged the pool from its cached copy: a new address is
       * taken only if the snapshot it is taken from (fresh after a 409) still passes the
       * same shared check — not terminating, not disabled, affinities (review #14).
       */
      readonly eligibility?: { readonly family: IPFamily; readonly ctx: EligibilityContext };
    }
  | { readonly kind: 'release'; readonly podUid: string };

export type OpResult =
  | { readonly kind: 'allocated'; readonly ip: string; readonly reused: boolean }
  | { readonly kind: 'exhausted'; readonly reason: string }
  | { readonly kind: 'notHeld' }
  | { readonly kind: 'released'; readonly ips: readonly string[] };

/** Records of a pool must decode; a pool whose status cannot be read is never written. */
export class CorruptPoolError extends Error {
  readonly pool: string;
  /** Why the status does not decode (names the field and the record). */
  readonly reason: string;
  constructor(pool: string, reason: string) {
    super(`pool ${pool}: ${reason}; refusing to write it (fix or clear its status)`);
    this.name = 'CorruptPoolError';
    this.pool = pool;
    this.reason = reason;
  }
}

/** Batches larger than this index the records by pod first (see applyOps). */
const VIEW_THRESHOLD = 8;

/**
 * Applies a batch of operations to one pool snapshot. Pure. Allocation takes the lowest
 * address of `ips − excludeIPs − reserved − allocated`; an existing record of the same
 * (pod UID, interface) is answered again instead (idempotent ADD, also after a crash).
 */
export function applyOps(
  pool: SpiderIPPool,
  ops: readonly PoolOp[],
  reserved: (family: IPFamily) => RangeSet,
  maxRecords: number,
  known?: ReadonlyMap<string, PoolIPAllocation>,
): { next?: SpiderIPPool; records?: ReadonlyMap<string, PoolIPAllocation>; results: OpResult[] } {
  const name = pool.metadata.name;
  // `known`: the pool's records already decoded from this very status text (the cache's
  // index, PoolPort.cachedRecords), copied, as this batch changes them; else decoded here.
  let records: Map<string, PoolIPAllocation>;
  if (known !== undefined) records = new Map(known);
  else {
    const decoded = decodeAllocatedIPs(pool.status?.allocatedIPs);
    if (!decoded.ok) throw new CorruptPoolError(name, decoded.error.message);
    records = decoded.value;
  }
  const family = specFamily(pool.spec);
  const addresses = specAddresses(pool.spec);
  let changed = false;
  const results: OpResult[] = [];

  // Each op of a large batch finds its pod's records through these per-pod views, kept in
  // step with every change below, instead of scanning all records per op (a batch of 64
  // against 10 000 records took seconds). A small batch scans: building the views costs
  // more than a few scans.
  const views = ops.length > VIEW_THRESHOLD;
  const byUid = new Map<string, Set<string>>();
  const byPod = new Map<string, Set<string>>();
  const link = (index: Map<string, Set<string>>, key: string, ip: string): void => {
    if (!views) return;
    const set = index.get(key);
    if (set === undefined) index.set(key, new Set([ip]));
    else set.add(ip);
  };
  const unlink = (index: Map<string, Set<string>>, key: string, ip: string): void => {
    if (!views) return;
    const set = index.get(key);
    set?.delete(ip);
    if (set?.size === 0) index.delete(key);
  };
  if (views)
    for (const [ip, r] of records) {
      link(byUid, r.podUid, ip);
      link(byPod, r.pod, ip);
    }
  /** Addresses held by this pod UID (`uid`) or pod name (`pod`), in record order. */
  const held = (by: 'uid' | 'pod', key: string): string[] => {
    if (views) return [...((by === 'uid' ? byUid : byPod).get(key) ?? [])];
    const out: string[] = [];
    for (const [ip, r] of records) if ((by === 'uid' ? r.podUid : r.pod) === key) out.push(ip);
    return out;
  };
  const find = (by: 'uid' | 'pod', key: string, ifName: string): string | undefined =>
    held(by, key).find((ip) => records.get(ip)?.interface === ifName);

  // `ips − excludeIPs − reserved`, computed once; the free set from it once, then kept
  // current address by address (a release no longer re-parses every record).
  let allowedSet: RangeSet | undefined;
  const allowed = (): RangeSet | undefined => {
    if (allowedSet !== undefined || family === undefined || !addresses.ok) return allowedSet;
    allowedSet = addresses.value.subtract(reserved(family));
    return allowedSet;
  };
  const single = (ip: string): RangeSet | undefined => {
    const a = parseIP(ip);
    return family !== undefined && a.ok && a.value.family === family
      ? RangeSet.fromIntervals(family, [{ start: a.value.value, end: a.value.value }])
      : undefined;
  };
  // The free addresses, lowest first, built once per batch: the intervals of
  // `allowed − records` walked by a cursor, plus the addresses released in this batch in a
  // min-heap. Taking one costs O(log released), not a copy of every interval (2000
  // allocations from a pool fragmented into 10 000 intervals took seconds that way).
  let free: FreeAddresses | undefined;
  const freeAddresses = (): FreeAddresses | undefined => {
    const base = allowed();
    if (free !== undefined || family === undefined || base === undefined) return free;
    const used = RangeSet.fromIntervals(
      family,
      [...records.keys()].flatMap((ip) => {
        const a = parseIP(ip);
        return a.ok && a.value.family === family
          ? [{ start: a.value.value, end: a.value.value }]
          : [];
      }),
    );
    free = new FreeAddresses(base.subtract(used));
    return free;
  };
  /** Still `ips − excludeIPs − reserved` (whoever holds it now). */
  const usable = (ip: string): boolean => {
    const one = single(ip);
    const base = allowed();
    return one !== undefined && base !== undefined && base.covers(one);
  };
  const put = (ip: string, rec: PoolIPAllocation): void => {
    const was = records.get(ip);
    if (was !== undefined) {
      unlink(byUid, was.podUid, ip);
      unlink(byPod, was.pod, ip);
    }
    records.set(ip, rec);
    link(byUid, rec.podUid, ip);
    link(byPod, rec.pod, ip);
    changed = true;
  };
  const drop = (ip: string): void => {
    const was = records.get(ip);
    if (was === undefined) return;
    unlink(byUid, was.podUid, ip);
    unlink(byPod, was.pod, ip);
    records.delete(ip);
    changed = true;
    // Free again only if it is still an address to hand out (not excluded or reserved since);
    // before the free addresses are first needed, they are computed from the records anyway.
    if (free !== undefined && usable(ip)) {
      const a = parseIP(ip);
      if (a.ok) free.give(a.value.value);
    }
  };

  for (const op of ops) {
    if (op.kind === 'release') {
      const ips = held('uid', op.podUid);
      for (const ip of ips) drop(ip);
      results.push({ kind: 'released', ips });
      continue;
    }
    const mine = find('uid', op.podUid, op.ifName);
    if (mine !== undefined) {
      results.push({ kind: 'allocated', ip: mine, reused: true });
      continue;
    }
    if (op.sticky) {
      const previous = find('pod', op.pod, op.ifName);
      if (previous !== undefined && usable(previous)) {
        put(previous, { pod: op.pod, podUid: op.podUid, interface: op.ifName });
        results.push({ kind: 'allocated', ip: previous, reused: true });
        continue;
      }
      // The predecessor's address was excluded or reserved since: it is not handed on, and
      // the record of a pod that no longer exists goes (else it is held forever) — also in
      // a reuseOnly probe, after which the caller allocates elsewhere.
      if (previous !== undefined) drop(previous);
    }
    if (op.reuseOnly === true) {
      results.push({ kind: 'notHeld' });
      continue;
    }
    const problem =
      op.eligibility === undefined
        ? undefined
        : poolProblem(pool, op.eligibility.family, op.eligibility.ctx);
    if (problem !== undefined) {
      results.push({ kind: 'exhausted', reason: `pool "${name}" ${problem}` });
      continue;
    }
    if (!addresses.ok || family === undefined) {
      results.push({
        kind: 'exhausted',
        reason: `pool "${name}" has an unusable spec: ${addresses.ok ? 'unknown IP family' : addresses.error.message}`,
      });
      continue;
    }
    if (records.size >= maxRecords) {
      results.push({
        kind: 'exhausted',
        reason: `pool "${name}" holds the maximum of ${maxRecords} allocation records`,
      });
      continue;
    }
    const next = freeAddresses()!.take();
    if (next === undefined) {
      results.push({
        kind: 'exhausted',
        reason: `pool "${name}" has no free address (${records.size} allocated of ${addresses.value.count()})`,
      });
      continue;
    }
    const ip = formatIP(family, next);
    put(ip, { pod: op.pod, podUid: op.podUid, interface: op.ifName });
    results.push({ kind: 'allocated', ip, reused: false });
  }

  if (!changed) return { results };
  const { text: encoded, ordered } = encodeAllocatedIPsOrdered(records);
  // The CRD field is an int64 the API server checks as a JSON integer (≤ 2^53): a /64 pool's
  // 2^64 addresses written as Number() would make every status write of the pool fail.
  const total = addresses.ok
    ? statusCount(addresses.value.count())
    : (pool.status?.totalIPCount ?? 0);
  const status = {
    ...(encoded === undefined ? {} : { allocatedIPs: encoded }),
    allocatedIPCount: records.size,
    totalIPCount: total,
  };
  return { next: { ...pool, status }, records: ordered, results };
}

/** The storage a committer needs: cached and fresh reads of a pool, and a conditional status write. */
export interface PoolPort {
  readPool(name: string, fresh: boolean): Promise<SpiderIPPool>;
  /**
   * `records`, when given, are what the committer encoded into `pool`'s allocatedIPs, so
   * the store can index its write-through without decoding the text again.
   */
  writePoolStatus(
    pool: SpiderIPPool,
    records?: ReadonlyMap<string, PoolIPAllocation>,
  ): Promise<SpiderIPPool>;
  /**
   * The records of `pool` already decoded from its exact `allocatedIPs` text, if the store
   * holds them; undefined otherwise (the committer decodes). At 10 000 records a decode is
   * most of a write's CPU in the allocator (docs/benchmarks.md, B4).
   */
  cachedRecords?(pool: SpiderIPPool): ReadonlyMap<string, PoolIPAllocation> | undefined;
}

export interface CommitterOptions {
  readonly retry: RetryOptions;
  readonly maxRecords: number;
  readonly reserved: (family: IPFamily) => RangeSet;
  readonly onConflict?: (pool: string) => void;
  readonly onBatch?: (pool: string, size: number) => void;
}

interface Pending {
  readonly op: PoolOp;
  readonly resolve: (r: OpResult) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Queues operations per pool; while a pool's write is in flight, new operations wait and
 * go out together in the next write. One write per batch, retried on 409 only.
 */
export class GroupCommitter {
  readonly #port: PoolPort;
  readonly #opts: CommitterOptions;
  readonly #queues = new Map<string, Pending[]>();
  readonly #busy = new Set<string>();

  constructor(port: PoolPort, opts: CommitterOptions) {
    this.#port = port;
    this.#opts = opts;
  }

  submit(pool: string, op: PoolOp): Promise<OpResult> {
    return new Promise((resolve, reject) => {
      const q = this.#queues.get(pool) ?? [];
      q.push({ op, resolve, reject });
      this.#queues.set(pool, q);
      // Let every request already in this turn of the event loop join the batch.
      if (!this.#busy.has(pool)) setImmediate(() => void this.#flush(pool));
    });
  }

  async #flush(pool: string): Promise<void> {
    if (this.#busy.has(pool)) return;
    const batch = this.#queues.get(pool) ?? [];
    if (batch.length === 0) return;
    this.#queues.delete(pool);
    this.#busy.add(pool);
    this.#opts.onBatch?.(pool, batch.length);
    // Each attempt's records, by the pool object it writes (dropped with it).
    const written = new WeakMap<SpiderIPPool, ReadonlyMap<string, PoolIPAllocation>>();
    try {
      const { result } = await retryOnConflict(
        `status of SpiderIPPool ${pool}`,
        (fresh) => this.#port.readPool(pool, fresh),
        (snapshot) => {
          const { next, records, results } = applyOps(
            snapshot,
            batch.map((p) => p.op),
            this.#opts.reserved,
            this.#opts.maxRecords,
            this.#port.cachedRecords?.(snapshot),
          );
          if (next === undefined) return { result: results };
          if (records !== undefined) written.set(next, records);
          return { write: next, result: results };
        },
        (next) => this.#port.writePoolStatus(next, written.get(next)),
        { ...this.#opts.retry, onConflict: () => this.#opts.onConflict?.(pool) },
      );
      batch.forEach((p, i) => p.resolve(result[i]!));
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      this.#busy.delete(pool);
      if ((this.#queues.get(pool) ?? []).length > 0) setImmediate(() => void this.#flush(pool));
    }
  }
}

/**
 * Free addresses handed out lowest first: a cursor over a free set's sorted intervals, and a
 * min-heap of addresses given back meanwhile (which lie in the set's gaps, never in what the
 * cursor has still to walk). Holds one batch's worth: built per applyOps call, dropped after.
 */
class FreeAddresses {
  readonly #intervals: RangeSet['intervals'];
  #i = 0;
  #at: bigint | undefined;
  readonly #given: bigint[] = [];

  constructor(set: RangeSet) {
    this.#intervals = set.intervals;
    this.#at = this.#intervals[0]?.start;
  }

  /** The lowest free address, now taken; undefined when none is left. */
  take(): bigint | undefined {
    const heapTop = this.#given[0];
    if (heapTop !== undefined && (this.#at === undefined || heapTop < this.#at)) return this.#pop();
    const at = this.#at;
    if (at === undefined) return undefined;
    const cur = this.#intervals[this.#i]!;
    if (at < cur.end) this.#at = at + 1n;
    else {
      this.#i++;
      this.#at = this.#intervals[this.#i]?.start;
    }
    return at;
  }

  /** Makes an address free again (it was held, so it is not among the cursor's). */
  give(value: bigint): void {
    const h = this.#given;
    h.push(value);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]! <= h[i]!) break;
      [h[parent], h[i]] = [h[i]!, h[parent]!];
      i = parent;
    }
  }

  #pop(): bigint {
    const h = this.#given;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]! < h[m]!) m = l;
        if (r < h.length && h[r]! < h[m]!) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
