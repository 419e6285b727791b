import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { decodeAllocatedIPs, specAddresses, type SpiderIPPool } from '@nicpool/crds';

export interface ControllerMetrics {
  readonly registry: Registry;
  readonly leader: Gauge;
  readonly reconciles: Counter<'kind' | 'result'>;
  readonly autoPools: Counter<'action'>;
  readonly gcCandidates: Gauge<'type'>;
  readonly gcReleases: Counter<'type'>;
  readonly gcFailures: Counter<'type'>;
  /** Where the per-pool gauges read from: the leader's pool cache (nothing on a standby). */
  pools: () => readonly SpiderIPPool[];
}

export function createMetrics(registry = new Registry(), defaults = true): ControllerMetrics {
  if (defaults) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const metrics: ControllerMetrics = {
    registry,
    leader: new Gauge({
      name: 'nicpool_controller_leader',
      help: '1 while this replica holds the leader Lease.',
      registers,
    }),
    reconciles: new Counter({
      name: 'nicpool_controller_reconciles_total',
      help: 'Reconciles by object kind and result (ok, error).',
      labelNames: ['kind', 'result'],
      registers,
    }),
    autoPools: new Counter({
      name: 'nicpool_autopool_operations_total',
      help: 'Auto-pool operations: created, grown, shrunk, adopted, deleted.',
      labelNames: ['action'],
      registers,
    }),
    gcCandidates: new Gauge({
      name: 'nicpool_gc_candidates',
      help: 'Pool records (type=record) and SpiderEndpoints (type=endpoint) that look leaked, waiting out their grace period.',
      labelNames: ['type'],
      registers,
    }),
    gcReleases: new Counter({
      name: 'nicpool_gc_releases_total',
      help: 'Leaked pool records released and orphaned SpiderEndpoints deleted.',
      labelNames: ['type'],
      registers,
    }),
    gcFailures: new Counter({
      name: 'nicpool_gc_failures_total',
      help: 'GC releases that failed (retried on the next pass).',
      labelNames: ['type'],
      registers,
    }),
    pools: () => [],
  };
  // Sizes per pool object, decoded once: the caches replace an object on every change, so
  // a scrape decodes only pools changed since the last one (not 100k records each time).
  const sizes = new WeakMap<SpiderIPPool, { total: number; allocated: number } | null>();
  const sizeOf = (p: SpiderIPPool): { total: number; allocated: number } | null => {
    let s = sizes.get(p);
    if (s === undefined) {
      const total = specAddresses(p.spec);
      const records = decodeAllocatedIPs(p.status?.allocatedIPs);
      s =
        total.ok && records.ok
          ? { total: Number(total.value.count()), allocated: records.value.size }
          : null;
      sizes.set(p, s);
    }
    return s;
  };
  // Per-pool sizes, from the one active replica: every allocator exporting the same
  // cluster-wide numbers would multiply them by the node count in a sum.
  const perPool = (
    name: string,
    help: string,
    value: (total: number, allocated: number) => number,
  ): Gauge<'pool'> =>
    new Gauge({
      name,
      help,
      labelNames: ['pool'],
      registers,
      collect() {
        this.reset();
        for (const p of metrics.pools()) {
          const size = sizeOf(p);
          if (size !== null) this.set({ pool: p.metadata.name }, value(size.total, size.allocated));
        }
      },
    });
  perPool('nicpool_ippool_total_ips', 'Addresses of a pool (ips minus excludeIPs).', (t) => t);
  perPool(
    'nicpool_ippool_allocated_ips',
    'Addresses of a pool recorded as allocated.',
    (_t, a) => a,
  );
  perPool('nicpool_ippool_free_ips', 'Addresses of a pool free to allocate.', (t, a) =>
    Math.max(t - a, 0),
  );
  return metrics;
}
