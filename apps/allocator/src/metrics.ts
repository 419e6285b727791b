import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Spiderpool's documented metric names, plus nicpool's conflict and batch metrics. */
export interface Metrics {
  readonly registry: Registry;
  readonly allocations: Counter;
  readonly allocationFailures: Counter;
  readonly conflicts: Counter<'pool'>;
  readonly noAvailablePool: Counter;
  readonly retriesExhausted: Counter;
  readonly ipUsedOut: Counter;
  readonly allocationDuration: Histogram;
  readonly releases: Counter;
  readonly releaseFailures: Counter;
  readonly releaseDuration: Histogram;
  readonly batchSize: Histogram;
  readonly unreadablePoolSkips: Counter<'pool'>;
}

export function createMetrics(defaults = true): Metrics {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  return {
    registry,
    allocations: new Counter({
      name: 'spiderpool_ipam_allocation_counts',
      help: 'ADD requests answered with addresses',
      registers,
    }),
    allocationFailures: new Counter({
      name: 'spiderpool_ipam_allocation_failure_counts',
      help: 'ADD requests that failed',
      registers,
    }),
    conflicts: new Counter({
      name: 'spiderpool_ipam_allocation_update_ippool_conflict_counts',
      help: 'Pool status writes refused with 409, by pool',
      labelNames: ['pool'],
      registers,
    }),
    noAvailablePool: new Counter({
      name: 'spiderpool_ipam_allocation_err_no_available_pool_counts',
      help: 'ADDs with no usable pool',
      registers,
    }),
    retriesExhausted: new Counter({
      name: 'spiderpool_ipam_allocation_err_retries_exhausted_counts',
      help: 'ADDs that ran out of conflict retries',
      registers,
    }),
    ipUsedOut: new Counter({
      name: 'spiderpool_ipam_allocation_err_ip_used_out_counts',
      help: 'ADDs whose pools had no free address',
      registers,
    }),
    allocationDuration: new Histogram({
      name: 'spiderpool_ipam_allocation_duration_seconds',
      help: 'ADD latency',
      buckets,
      registers,
    }),
    releases: new Counter({
      name: 'spiderpool_ipam_release_counts',
      help: 'DEL requests handled',
      registers,
    }),
    releaseFailures: new Counter({
      name: 'spiderpool_ipam_release_failure_counts',
      help: 'DEL requests that failed',
      registers,
    }),
    releaseDuration: new Histogram({
      name: 'spiderpool_ipam_release_duration_seconds',
      help: 'DEL latency',
      buckets,
      registers,
    }),
    batchSize: new Histogram({
      name: 'nicpool_pool_commit_batch_size',
      help: 'Operations committed per pool status write (group commit)',
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers,
    }),
    unreadablePoolSkips: new Counter({
      name: 'nicpool_unreadable_pool_skips_total',
      help: 'Pools a DEL or ADD skipped because their status.allocatedIPs does not decode (never written over), by pool',
      labelNames: ['pool'],
      registers,
    }),
  };
}
