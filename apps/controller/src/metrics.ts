import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

export interface ControllerMetrics {
  readonly registry: Registry;
  readonly leader: Gauge;
  readonly reconciles: Counter<'kind' | 'result'>;
  readonly autoPools: Counter<'action'>;
  readonly gcCandidates: Gauge<'type'>;
  readonly gcReleases: Counter<'type'>;
  readonly gcFailures: Counter<'type'>;
}

export function createMetrics(registry = new Registry(), defaults = true): ControllerMetrics {
  if (defaults) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
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
  };
}
