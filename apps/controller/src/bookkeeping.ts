/**
 * Counters and finalizers of pools and subnets (controllers.md, "Counters and
 * finalizers"). Pure: each function returns the object to write, or undefined when it is
 * already right.
 */
import {
  autoPoolApplication,
  FINALIZER,
  Label,
  labelValueOf,
  parseApplicationString,
} from '@nicpool/annotations';
import {
  decodeAllocatedIPs,
  decodeControlledIPPools,
  encodeControlledIPPools,
  specAddresses,
  specFamily,
  statusCount,
  type ControlledPool,
  type SpiderIPPool,
  type SpiderSubnet,
} from '@nicpool/crds';
import { RangeSet } from '@nicpool/ip';
import { applicationString, isNameFor, poolHoldings, withControlled } from './autopool.ts';
import { poolIntents, type Workload } from './workload.ts';

/** The pool with `totalIPCount` and `allocatedIPCount` right; undefined when they are. */
export function poolCounters(pool: SpiderIPPool): SpiderIPPool | undefined {
  const total = specAddresses(pool.spec);
  const records = decodeAllocatedIPs(pool.status?.allocatedIPs);
  // A pool we cannot read is left alone: rewriting its status could lose records.
  if (!total.ok || !records.ok) return undefined;
  // Saturated: a /64 pool holds 2^64 addresses, more than an int64 status field can say.
  const totalIPCount = statusCount(total.value.count());
  const allocatedIPCount = records.value.size;
  if (
    pool.status?.totalIPCount === totalIPCount &&
    pool.status.allocatedIPCount === allocatedIPCount
  )
    return undefined;
  return { ...pool, status: { ...pool.status, totalIPCount, allocatedIPCount } };
}

/** What the finalizer of a pool or subnet needs: added to a live one, removed when it is free. */
export type FinalizerChange = 'add' | 'remove' | undefined;

export function poolFinalizer(pool: SpiderIPPool): FinalizerChange {
  const has = pool.metadata.finalizers?.includes(FINALIZER) === true;
  if (pool.metadata.deletionTimestamp === undefined) return has ? undefined : 'add';
  if (!has) return undefined;
  const records = decodeAllocatedIPs(pool.status?.allocatedIPs);
  // Unreadable records count as in use: never let an address go without knowing it is free.
  return records.ok && records.value.size === 0 ? 'remove' : undefined;
}

export function withFinalizer<T extends { metadata: { finalizers?: string[] } }>(
  obj: T,
  change: 'add' | 'remove',
): T {
  const rest = (obj.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
  const finalizers = change === 'add' ? [...rest, FINALIZER] : rest;
  return { ...obj, metadata: { ...obj.metadata, finalizers } };
}

/** Pools that belong to a subnet: labelled by the webhook or the controller, or owned by it. */
export function poolsOfSubnet(
  subnet: SpiderSubnet,
  pools: readonly SpiderIPPool[],
): SpiderIPPool[] {
  return pools.filter(
    (p) =>
      p.metadata.labels?.[Label.ownerSpiderSubnet] === labelValueOf(subnet.metadata.name) ||
      (subnet.metadata.uid !== undefined &&
        p.metadata.ownerReferences?.some((o) => o.uid === subnet.metadata.uid) === true),
  );
}

/**
 * The subnet's `controlledIPPools`, `allocatedIPCount` and `totalIPCount` recomputed from
 * its pools. An entry whose pool does not exist yet stays only while a live workload still
 * wants that very pool (its name carries the workload UID): the controller promises
 * addresses in the subnet first and creates the pool after. Any other such entry is a
 * leftover (a pool deleted, a workload re-created) and goes.
 *
 * A rebuilt entry never holds less than its pool's spec and records (review #5). An
 * auto-pool's entry never shrinks here at all: it is the controller's own promise, and the
 * cached pool may be older than the pool on the server (a write whose answer was lost), so
 * only the shrink path, which writes the pool first, gives addresses back. A manual pool's
 * spec is written by others, whose writes the watch always delivers: its entry follows it.
 * While a pool's spec is unreadable nothing is rewritten (its addresses are unknown, and
 * an entry rebuilt without them would offer them to the next auto-pool, review #16).
 */
export function subnetStatus(
  subnet: SpiderSubnet,
  pools: readonly SpiderIPPool[],
  claimWanted: (pool: string, application: string) => boolean,
): SpiderSubnet | undefined {
  const current = decodeControlledIPPools(subnet.status?.controlledIPPools);
  if (!current.ok) return undefined;
  const family = specFamily(subnet.spec) ?? 4;
  const next = new Map<string, ControlledPool>();
  const mine = poolsOfSubnet(subnet, pools);
  for (const p of mine) {
    const held = poolHoldings(p);
    if (!held.ok) return undefined;
    const app = autoPoolApplication(p.metadata.labels);
    const prev = current.value.get(p.metadata.name);
    let ips = held.value;
    if (app !== undefined && prev !== undefined) {
      const promised = RangeSet.parse(family, prev.ips);
      if (!promised.ok) return undefined;
      ips = ips.union(promised.value);
    }
    const application =
      app === undefined
        ? undefined
        : (prev?.application ??
          applicationString({ kind: app.kind, namespace: app.namespace, name: app.nameLabel }));
    next.set(p.metadata.name, {
      ips: ips.toStrings(),
      ...(application === undefined ? {} : { application }),
    });
  }
  for (const [name, entry] of current.value) {
    if (next.has(name) || entry.application === undefined) continue;
    if (claimWanted(name, entry.application)) next.set(name, entry);
  }
  const candidate = withControlled(subnet, next);
  const s = subnet.status;
  const same =
    encodeControlledIPPools(next) === (s?.controlledIPPools ?? undefined) &&
    candidate.status?.allocatedIPCount === s?.allocatedIPCount &&
    candidate.status?.totalIPCount === s?.totalIPCount;
  return same ? undefined : candidate;
}

/** A subnet's finalizer: added while live; removed once deleting and no pool is left. */
export function subnetFinalizer(
  subnet: SpiderSubnet,
  pools: readonly SpiderIPPool[],
): FinalizerChange {
  const has = subnet.metadata.finalizers?.includes(FINALIZER) === true;
  if (subnet.metadata.deletionTimestamp === undefined) return has ? undefined : 'add';
  if (!has) return undefined;
  return poolsOfSubnet(subnet, pools).length === 0 ? 'remove' : undefined;
}

/** Does a live workload of this application string want the pool `pool` (by name)? */
export function claimWanted(
  pool: string,
  application: string,
  workloads: (kind: string, namespace: string) => readonly Workload[],
): boolean {
  const app = parseApplicationString(application);
  if (app === undefined) return false;
  return workloads(app.kind, app.namespace).some((w) => {
    if (w.app.name !== app.name && labelValueOf(w.app.name) !== app.name) return false;
    const intents = poolIntents(w);
    return intents.ok && intents.value.some((i) => isNameFor(pool, i.poolName));
  });
}
