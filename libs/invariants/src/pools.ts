/** Reading a pool, and the checks on one pool alone: counts, and each record inside its ranges. */
import {
  decodeAllocatedIPs,
  specAddresses,
  specFamily,
  statusCount,
  type SpiderIPPool,
  type SpiderReservedIP,
} from '@nicpool/crds';
import {
  canonicalIP,
  parseIP,
  parseRange,
  RangeSet,
  type Interval,
  type IPFamily,
} from '@nicpool/ip';
import { topLevelKeys } from './json-keys.ts';
import type { PoolView } from './pool-view.ts';
import { Kind, type Finding } from './snapshot.ts';

/** A SpiderReservedIP's addresses of one family. */
export interface Reservation {
  readonly name: string;
  readonly set: RangeSet;
}

/** Decodes a pool; an unreadable spec or status is one finding and no further checks. */
export function readPool(pool: SpiderIPPool, findings: Finding[]): PoolView {
  const name = pool.metadata.name;
  const object = `SpiderIPPool ${name}`;
  const family = specFamily(pool.spec);
  const addresses = specAddresses(pool.spec);
  if (family === undefined || !addresses.ok) {
    findings.push({
      kind: Kind.poolUnreadable,
      object,
      message: addresses.ok ? 'spec.subnet is not a CIDR' : addresses.error.message,
    });
    return { pool, name };
  }
  // specAddresses parsed these already: this cannot fail.
  const parsedIPs = RangeSet.parse(family, pool.spec.ips ?? []);
  const ips = parsedIPs.ok ? parsedIPs.value : addresses.value;
  const text = pool.status?.allocatedIPs;
  const twice = text === undefined || text === '' ? [] : repeatedKeys(text);
  for (const [ip, n] of twice)
    findings.push({
      kind: Kind.recordTwiceInPool,
      object,
      message: `status.allocatedIPs records ${ip} ${n} times`,
    });
  const decoded = decodeAllocatedIPs(text);
  if (!decoded.ok) {
    // Two spellings of one address also fail to decode: already said above.
    if (twice.length === 0)
      findings.push({ kind: Kind.poolUnreadable, object, message: decoded.error.message });
    return { pool, name, family, ips, addresses: addresses.value };
  }
  return { pool, name, family, ips, addresses: addresses.value, records: decoded.value };
}

/** Addresses that appear more than once among the keys of `status.allocatedIPs`, canonically. */
function repeatedKeys(text: string): [string, number][] {
  const counts = new Map<string, number>();
  for (const key of topLevelKeys(text) ?? []) {
    const ip = canonicalIP(key) ?? key;
    counts.set(ip, (counts.get(ip) ?? 0) + 1);
  }
  return [...counts].filter(([, n]) => n > 1);
}

export function checkCounts(pv: PoolView, findings: Finding[]): void {
  const object = `SpiderIPPool ${pv.name}`;
  const status = pv.pool.status;
  const n = pv.records?.size ?? 0;
  if ((status?.allocatedIPCount ?? 0) !== n)
    findings.push({
      kind: Kind.allocatedCount,
      object,
      message: `status.allocatedIPCount is ${status?.allocatedIPCount ?? '(absent)'} but status.allocatedIPs holds ${n} records`,
    });
  // A status nobody has written yet (no records, no counts) is not wrong.
  if (status?.totalIPCount === undefined && n === 0 && status?.allocatedIPCount === undefined)
    return;
  const size = pv.addresses?.count() ?? 0n;
  const expected = statusCount(size);
  if (status?.totalIPCount !== expected)
    findings.push({
      kind: Kind.totalCount,
      object,
      message: `status.totalIPCount is ${status?.totalIPCount ?? '(absent)'} but spec.ips − spec.excludeIPs holds ${size} addresses (expected ${expected})`,
    });
}

/** Each record inside `ips − excludeIPs − SpiderReservedIPs` of its pool. */
export function checkRange(
  pv: PoolView,
  ip: string,
  text: string,
  reserved: ReadonlyMap<IPFamily, readonly Reservation[]>,
  findings: Finding[],
): void {
  const object = `SpiderIPPool ${pv.name}`;
  const family = pv.family!;
  const addr = parseIP(ip);
  if (!addr.ok || addr.value.family !== family) {
    findings.push({
      kind: Kind.recordOutsideIPs,
      object,
      message: `${text} is not an IPv${family} address of this pool`,
    });
    return;
  }
  const v = addr.value.value;
  if (pv.ips !== undefined && !pv.ips.contains(v)) {
    findings.push({ kind: Kind.recordOutsideIPs, object, message: `${text} is not in spec.ips` });
    return;
  }
  if (pv.addresses !== undefined && !pv.addresses.contains(v)) {
    findings.push({ kind: Kind.recordExcluded, object, message: `${text} is in spec.excludeIPs` });
    return;
  }
  const by = reserved.get(family)?.find((r) => r.set.contains(v));
  if (by !== undefined)
    findings.push({
      kind: Kind.recordReserved,
      object,
      message: `${text} is reserved by SpiderReservedIP ${by.name}`,
    });
}

export function readReservations(
  items: readonly SpiderReservedIP[],
  findings: Finding[],
): Map<IPFamily, Reservation[]> {
  const out = new Map<IPFamily, Reservation[]>([
    [4, []],
    [6, []],
  ]);
  for (const r of items) {
    const intervals: Record<IPFamily, Interval[]> = { 4: [], 6: [] };
    for (const [i, entry] of (r.spec.ips ?? []).entries()) {
      const p = parseRange(entry);
      if (!p.ok) {
        findings.push({
          kind: Kind.reservedUnreadable,
          object: `SpiderReservedIP ${r.metadata.name}`,
          message: `spec.ips[${i}]: ${p.error.message}`,
        });
        continue;
      }
      intervals[p.value.family].push(p.value.interval);
    }
    for (const family of [4, 6] as const)
      if (intervals[family].length > 0)
        out.get(family)!.push({
          name: r.metadata.name,
          set: RangeSet.fromIntervals(family, intervals[family]),
        });
  }
  return out;
}
