import type { PoolIPAllocation, SpiderIPPool } from '@nicpool/crds';
import type { IPFamily, RangeSet } from '@nicpool/ip';

/** A pool as the checks read it; fields are absent when that part could not be decoded. */
export interface PoolView {
  readonly pool: SpiderIPPool;
  readonly name: string;
  readonly family?: IPFamily;
  /** `spec.ips` alone (to tell a record outside it from an excluded one). */
  readonly ips?: RangeSet;
  /** `spec.ips − spec.excludeIPs`. */
  readonly addresses?: RangeSet;
  readonly records?: ReadonlyMap<string, PoolIPAllocation>;
}
