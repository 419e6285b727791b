/**
 * Pure address math and object shapes of auto-pools (controllers.md): which subnet
 * addresses are free, how a pool grows and shrinks, and the pool object itself.
 */
import {
  applicationLabels,
  applicationString,
  FINALIZER,
  ipVersionLabel,
  Label,
  labelValueOf,
  PoolAnnotation,
  WORKLOAD_KINDS,
} from '@nicpool/annotations';
import {
  API_VERSION,
  cidrLabel,
  decodeAllocatedIPs,
  decodeControlledIPPools,
  encodeControlledIPPools,
  specAddresses,
  specFamily,
  statusCount,
  type ControlledPool,
  type SpiderIPPool,
  type SpiderReservedIP,
  type SpiderSubnet,
} from '@nicpool/crds';
import { parseCIDR, RangeSet, type Interval, type IPFamily } from '@nicpool/ip';
import { err, ok, type Result } from '@nicpool/result';
import type { PoolIntent, Workload } from './workload.ts';

/**
 * The k-th other name for an auto-pool whose own name is taken by a pool still Terminating
 * (the allocator finds pools by labels, so any name serves). `k` = 0 is the name itself.
 */
export function alternateName(intended: string, k: number): string {
  if (k === 0) return intended;
  const suffix = `-r${k}`;
  return `${intended.slice(0, 253 - suffix.length)}${suffix}`;
}

/** Is `name` the intended auto-pool name or one of its alternates? */
export function isNameFor(name: string, intended: string): boolean {
  if (name === intended) return true;
  const m = /^(.*)-r([1-9][0-9]*)$/.exec(name);
  return m !== null && alternateName(intended, Number(m[2])) === name;
}

/** The addresses a pool's spec holds (`ips − excludeIPs`), empty when unreadable. */
export function poolAddresses(pool: SpiderIPPool): RangeSet {
  const r = specAddresses(pool.spec);
  return r.ok ? r.value : RangeSet.empty(specFamily(pool.spec) ?? 4);
}

/**
 * Every address a pool may hold: its spec's `ips − excludeIPs` plus the addresses its status
 * records (a record outside the spec still belongs to a live pod until it is released).
 * An error when the spec cannot be read: then nobody knows what it holds. Unreadable
 * records add nothing beyond the spec, the allocator only ever hands out spec addresses.
 */
export function poolHoldings(pool: SpiderIPPool): Result<RangeSet, string> {
  const spec = specAddresses(pool.spec);
  if (!spec.ok)
    return err(`SpiderIPPool ${pool.metadata.name} has an unreadable spec (${spec.error.message})`);
  const records = decodeAllocatedIPs(pool.status?.allocatedIPs);
  if (!records.ok) return ok(spec.value);
  const recorded = RangeSet.parse(spec.value.family, [...records.value.keys()]);
  return ok(recorded.ok ? spec.value.union(recorded.value) : spec.value);
}

/**
 * Addresses of `subnet` that `pool` may take: the subnet's `ips − excludeIPs`, minus its
 * gateway, minus what any other pool holds (spec and records) or the subnet has promised
 * to another pool, minus every SpiderReservedIP. Anything unreadable that may cover
 * subnet addresses (a pool's spec, a claim, a reserved IP) is an error naming it: counting
 * it as holding nothing would hand out addresses live pods may hold (review #16).
 */
export function freeAddresses(
  subnet: SpiderSubnet,
  pools: readonly SpiderIPPool[],
  reserved: readonly SpiderReservedIP[],
  pool: string,
): Result<RangeSet, string> {
  const family = specFamily(subnet.spec);
  const usable = specAddresses(subnet.spec);
  const sn = subnet.metadata.name;
  if (family === undefined || !usable.ok) return err(`SpiderSubnet ${sn} has an unreadable spec`);
  const claims = decodeControlledIPPools(subnet.status?.controlledIPPools);
  if (!claims.ok) return err(`SpiderSubnet ${sn}: ${claims.error.message}`);
  // Collected, then merged once: a union per pool would be quadratic in the pool count.
  const taken: Interval[] = [];
  if (subnet.spec.gateway !== undefined) {
    const g = RangeSet.parse(family, [subnet.spec.gateway]);
    if (!g.ok) return err(`SpiderSubnet ${sn}: spec.gateway: ${g.error.message}`);
    taken.push(...g.value.intervals);
  }
  for (const [name, c] of claims.value) {
    if (name === pool) continue;
    const r = RangeSet.parse(family, c.ips);
    if (!r.ok)
      return err(
        `SpiderSubnet ${sn}: the claim of pool ${name} is unreadable (${r.error.message}); no address is handed out until it is fixed`,
      );
    taken.push(...r.value.intervals);
  }
  const subnetCIDR = parseCIDR(subnet.spec.subnet);
  for (const p of pools) {
    if (p.metadata.name === pool) continue;
    const f = specFamily(p.spec);
    if (f !== undefined && f !== family) continue;
    const held = poolHoldings(p);
    if (held.ok) {
      taken.push(...held.value.intervals);
      continue;
    }
    // Unreadable: it may hold any address of its own network; only one that cannot
    // overlap this subnet's is safe to ignore.
    const pc = parseCIDR(p.spec.subnet);
    const apart =
      pc.ok &&
      subnetCIDR.ok &&
      !RangeSet.fromCIDR(pc.value).overlaps(RangeSet.fromCIDR(subnetCIDR.value));
    if (!apart)
      return err(
        `${held.error}; it may hold addresses of SpiderSubnet ${sn}, which hands out none until the pool is fixed`,
      );
  }
  for (const r of reserved) {
    const f = r.spec.ipVersion ?? ((r.spec.ips?.[0] ?? '').includes(':') ? 6 : 4);
    if (f !== family) continue;
    const ips = RangeSet.parse(family, r.spec.ips ?? []);
    if (!ips.ok)
      return err(
        `SpiderReservedIP ${r.metadata.name} has unreadable spec.ips (${ips.error.message}); SpiderSubnet ${sn} hands out no address until it is fixed`,
      );
    taken.push(...ips.value.intervals);
  }
  return ok(usable.value.subtract(RangeSet.fromIntervals(family, taken)));
}

/** The allocated addresses of a pool, as a set. */
export function allocatedSet(pool: SpiderIPPool): Result<RangeSet, string> {
  const family: IPFamily = specFamily(pool.spec) ?? 4;
  const records = decodeAllocatedIPs(pool.status?.allocatedIPs);
  if (!records.ok) return err(`SpiderIPPool ${pool.metadata.name}: ${records.error.message}`);
  const r = RangeSet.parse(family, [...records.value.keys()]);
  return r.ok ? ok(r.value) : err(`SpiderIPPool ${pool.metadata.name}: ${r.error.message}`);
}

/**
 * What a pool of `current` addresses, `allocated` of them in use, can shrink to on the way
 * to `target`: only free addresses go, highest first (low addresses stay stable).
 * `short` > 0 says how many in-use addresses keep it above `target`.
 */
export function shrinkTo(
  current: RangeSet,
  allocated: RangeSet,
  target: number,
): { keep: RangeSet; short: number } {
  const excess = current.count() - BigInt(Math.max(target, 0));
  if (excess <= 0n) return { keep: current, short: 0 };
  const spare = current.subtract(allocated);
  const drop = spare.takeHighest(excess < spare.count() ? excess : spare.count());
  const keep = current.subtract(drop);
  return { keep, short: Number(keep.count() - BigInt(Math.max(target, 0))) };
}

/** The subnet with `pool`'s entry set to `ips` (removed when undefined); undefined when unchanged. */
export function withClaim(
  subnet: SpiderSubnet,
  pool: string,
  entry: ControlledPool | undefined,
): Result<SpiderSubnet | undefined, string> {
  const claims = decodeControlledIPPools(subnet.status?.controlledIPPools);
  if (!claims.ok) return err(`SpiderSubnet ${subnet.metadata.name}: ${claims.error.message}`);
  const before = encodeControlledIPPools(claims.value);
  if (entry === undefined) claims.value.delete(pool);
  else claims.value.set(pool, entry);
  const after = encodeControlledIPPools(claims.value);
  if (after === before) return ok(undefined);
  return ok(withControlled(subnet, claims.value));
}

/** The subnet with its status recomputed from `controlled`. */
export function withControlled(
  subnet: SpiderSubnet,
  controlled: ReadonlyMap<string, ControlledPool>,
): SpiderSubnet {
  const family = specFamily(subnet.spec) ?? 4;
  const parts: Interval[] = [];
  for (const c of controlled.values()) {
    const r = RangeSet.parse(family, c.ips);
    if (r.ok) parts.push(...r.value.intervals);
  }
  const handed = RangeSet.fromIntervals(family, parts);
  const total = specAddresses(subnet.spec);
  const status = {
    ...subnet.status,
    // Saturated: a /48 subnet holds more addresses than an int64 status field can say.
    allocatedIPCount: statusCount(handed.count()),
    totalIPCount: total.ok ? statusCount(total.value.count()) : 0,
  };
  const text = encodeControlledIPPools(controlled);
  if (text === undefined) delete status.controlledIPPools;
  else status.controlledIPPools = text;
  return { ...subnet, status };
}

/** The labels that mark an auto-pool (the allocator finds a pod's pool by them). */
export function autoPoolLabels(
  intent: PoolIntent,
  w: Workload,
  subnet: SpiderSubnet,
): Record<string, string> {
  const { group, version } = WORKLOAD_KINDS[w.app.kind];
  const cidr = parseCIDR(subnet.spec.subnet);
  return {
    [Label.ownerApplicationGV]: `${group}_${version}`,
    [Label.ownerApplicationKind]: w.app.kind,
    [Label.ownerApplicationNamespace]: w.app.namespace,
    [Label.ownerApplicationName]: labelValueOf(w.app.name),
    [Label.ownerApplicationUID]: w.uid,
    [Label.interface]: labelValueOf(intent.ifName),
    [Label.ippoolReclaim]: String(intent.reclaim),
    [Label.ipVersion]: ipVersionLabel(intent.family),
    // Label values hold 63 characters; subnet names up to 253.
    [Label.ownerSpiderSubnet]: labelValueOf(subnet.metadata.name),
    ...(cidr.ok ? { [Label.ippoolCIDR]: cidrLabel(cidr.value) } : {}),
  };
}

/** A new auto-pool holding `ips`, copying the subnet's subnet, gateway, routes and vlan. */
export function newAutoPool(
  intent: PoolIntent,
  w: Workload,
  subnet: SpiderSubnet,
  ips: RangeSet,
): SpiderIPPool {
  const s = subnet.spec;
  return {
    apiVersion: API_VERSION,
    kind: 'SpiderIPPool',
    metadata: {
      name: intent.poolName,
      labels: autoPoolLabels(intent, w, subnet),
      annotations: { [PoolAnnotation.ippoolIPNumber]: intent.ipNumber },
      finalizers: [FINALIZER],
      ownerReferences: [
        {
          apiVersion: API_VERSION,
          kind: 'SpiderSubnet',
          name: subnet.metadata.name,
          uid: subnet.metadata.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      ipVersion: intent.family,
      subnet: s.subnet,
      ips: ips.toStrings(),
      ...(s.gateway === undefined ? {} : { gateway: s.gateway }),
      ...(s.routes === undefined ? {} : { routes: s.routes.map((r) => ({ ...r })) }),
      ...(s.vlan === undefined ? {} : { vlan: s.vlan }),
      podAffinity: { matchLabels: applicationLabels(w.app) },
    },
  };
}

/**
 * The existing pool brought in line with the workload: addresses, owner UID (adoption by a
 * re-created workload), reclaim label, ip-number annotation. Undefined when nothing changes.
 */
export function updatedAutoPool(
  pool: SpiderIPPool,
  intent: PoolIntent,
  w: Workload,
  ips: RangeSet,
): SpiderIPPool | undefined {
  const labels = {
    ...pool.metadata.labels,
    [Label.ownerApplicationUID]: w.uid,
    [Label.ippoolReclaim]: String(intent.reclaim),
  };
  const annotations = {
    ...pool.metadata.annotations,
    [PoolAnnotation.ippoolIPNumber]: intent.ipNumber,
  };
  const next: SpiderIPPool = {
    ...pool,
    metadata: { ...pool.metadata, labels, annotations },
    spec: { ...pool.spec, ips: ips.toStrings() },
  };
  const same =
    JSON.stringify(next.metadata.labels) === JSON.stringify(pool.metadata.labels) &&
    JSON.stringify(next.metadata.annotations) === JSON.stringify(pool.metadata.annotations) &&
    poolAddresses(next).equals(poolAddresses(pool)) &&
    (pool.spec.excludeIPs ?? []).length === 0;
  return same ? undefined : next;
}

export { applicationString };
