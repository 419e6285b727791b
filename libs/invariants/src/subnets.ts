/**
 * Subnet claims (`status.controlledIPPools`) against the pools they were made for: each
 * pool of a subnet holds only what it was promised, every promise is a pool's, inside the
 * subnet, and no two promises (nor a promise and another pool) share an address.
 */
import { Label, labelValueOf } from '@nicpool/annotations';
import {
  decodeControlledIPPools,
  specAddresses,
  specFamily,
  statusCount,
  type SpiderIPPool,
  type SpiderSubnet,
} from '@nicpool/crds';
import { RangeSet } from '@nicpool/ip';
import type { PoolView } from './pool-view.ts';
import { Kind, type Finding } from './snapshot.ts';

/** Pools that belong to a subnet: its label, or an ownerReference to it (as the controller sees it). */
function belongs(pool: SpiderIPPool, subnet: SpiderSubnet): boolean {
  return (
    pool.metadata.labels?.[Label.ownerSpiderSubnet] === labelValueOf(subnet.metadata.name) ||
    (subnet.metadata.uid !== undefined &&
      pool.metadata.ownerReferences?.some((o) => o.uid === subnet.metadata.uid) === true)
  );
}

const show = (s: RangeSet): string => s.toStrings().join(',');

/**
 * Checks every subnet's claims: each of its pools' `ips − excludeIPs` equals its claim, each
 * claim has its pool, lies inside the subnet's `ips − excludeIPs`, and overlaps no other
 * claim and no pool of another owner; `allocatedIPCount` / `totalIPCount` match.
 */
export function checkSubnets(
  subnets: readonly SpiderSubnet[],
  pools: readonly PoolView[],
  findings: Finding[],
): void {
  // Every claim of the cluster, to catch a pool promised by two subnets of one family.
  const allClaims: { subnet: string; pool: string; set: RangeSet }[] = [];
  for (const subnet of subnets) {
    const object = `SpiderSubnet ${subnet.metadata.name}`;
    const family = specFamily(subnet.spec);
    const usable = specAddresses(subnet.spec);
    const decoded = decodeControlledIPPools(subnet.status?.controlledIPPools);
    if (family === undefined || !usable.ok || !decoded.ok) {
      const message = !decoded.ok
        ? decoded.error.message
        : !usable.ok
          ? usable.error.message
          : 'spec.subnet is not a CIDR';
      findings.push({ kind: Kind.subnetUnreadable, object, message });
      continue;
    }
    const claims = new Map<string, RangeSet>();
    for (const [pool, c] of decoded.value) {
      const set = RangeSet.parse(family, c.ips);
      if (!set.ok) {
        findings.push({
          kind: Kind.subnetUnreadable,
          object,
          message: `status.controlledIPPools: entry of ${pool}: ${set.error.message}`,
        });
        continue;
      }
      claims.set(pool, set.value);
    }

    const mine = pools.filter((p) => belongs(p.pool, subnet));
    const mineNames = new Set(mine.map((p) => p.name));
    for (const p of mine) {
      if (p.addresses === undefined || p.family !== family) continue;
      const claim = claims.get(p.name);
      if (claim === undefined) {
        findings.push({
          kind: Kind.claimMissing,
          object,
          message: `SpiderIPPool ${p.name} (${show(p.addresses) || 'no addresses'}) has no entry in status.controlledIPPools`,
        });
        continue;
      }
      const short = p.addresses.subtract(claim);
      if (!short.isEmpty())
        findings.push({
          kind: Kind.claimShort,
          object,
          message: `SpiderIPPool ${p.name} holds ${show(short)}, outside its claim ${show(claim) || '(empty)'}`,
        });
      const excess = claim.subtract(p.addresses);
      if (!excess.isEmpty())
        findings.push({
          kind: Kind.claimExcess,
          object,
          message: `the claim of SpiderIPPool ${p.name} holds ${show(excess)}, which the pool does not`,
        });
    }
    for (const [pool, set] of claims) {
      if (!mineNames.has(pool)) {
        const exists = pools.some((p) => p.name === pool);
        findings.push({
          kind: Kind.claimWithoutPool,
          object,
          message: `status.controlledIPPools claims ${show(set)} for SpiderIPPool ${pool}, ${exists ? 'which is not a pool of this subnet' : 'which does not exist'}`,
        });
      }
      const outside = set.subtract(usable.value);
      if (!outside.isEmpty())
        findings.push({
          kind: Kind.claimOutsideSubnet,
          object,
          message: `the claim of SpiderIPPool ${pool} holds ${show(outside)}, outside spec.ips − spec.excludeIPs`,
        });
      for (const other of allClaims) {
        if (other.set.family !== family) continue;
        const both = set.intersect(other.set);
        if (!both.isEmpty())
          findings.push({
            kind: Kind.claimsOverlap,
            object,
            message: `the claim of SpiderIPPool ${pool} shares ${show(both)} with the claim of SpiderIPPool ${other.pool}${other.subnet === subnet.metadata.name ? '' : ` in SpiderSubnet ${other.subnet}`}`,
          });
      }
      allClaims.push({ subnet: subnet.metadata.name, pool, set });
      // Addresses promised here are no other pool's (a manual pool created over a promise).
      for (const p of pools) {
        if (p.name === pool || mineNames.has(p.name) || p.family !== family) continue;
        const both = p.addresses === undefined ? undefined : set.intersect(p.addresses);
        if (both !== undefined && !both.isEmpty())
          findings.push({
            kind: Kind.claimOverlapsPool,
            object,
            message: `the claim of SpiderIPPool ${pool} shares ${show(both)} with SpiderIPPool ${p.name}, which is not a pool of this subnet`,
          });
      }
    }

    const status = subnet.status;
    if (status === undefined || (status.allocatedIPCount === undefined && claims.size === 0))
      continue;
    let handed = RangeSet.empty(family);
    for (const set of claims.values()) handed = handed.union(set);
    const allocated = statusCount(handed.count());
    const total = statusCount(usable.value.count());
    if (status.allocatedIPCount !== allocated)
      findings.push({
        kind: Kind.subnetCount,
        object,
        message: `status.allocatedIPCount is ${status.allocatedIPCount ?? '(absent)'} but its claims hold ${handed.count()} addresses`,
      });
    if (status.totalIPCount !== total)
      findings.push({
        kind: Kind.subnetCount,
        object,
        message: `status.totalIPCount is ${status.totalIPCount ?? '(absent)'} but spec.ips − spec.excludeIPs holds ${usable.value.count()} addresses (expected ${total})`,
      });
  }
}
