import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import type { SpiderIPPool } from '@nicpool/crds';
import { createMetrics } from './metrics.ts';

describe('per-pool gauges', () => {
  it('decode a pool’s records once per pool object, not on every scrape', async () => {
    const text = JSON.stringify({ '10.6.0.2': { pod: 'd/a', podUid: 'u1' } });
    let reads = 0;
    const status = {};
    Object.defineProperty(status, 'allocatedIPs', {
      get: () => {
        reads++;
        return text;
      },
      enumerable: true,
    });
    const pool = {
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderIPPool',
      metadata: { name: 'p' },
      spec: { subnet: '10.6.0.0/16', ips: ['10.6.0.2-10.6.0.11'] },
      status,
    } as SpiderIPPool;
    const m = createMetrics(new Registry(), false);
    m.pools = () => [pool];
    const first = await m.registry.metrics();
    await m.registry.metrics();
    await m.registry.metrics();
    expect(first).toContain('nicpool_ippool_total_ips{pool="p"} 10');
    expect(first).toContain('nicpool_ippool_allocated_ips{pool="p"} 1');
    expect(first).toContain('nicpool_ippool_free_ips{pool="p"} 9');
    expect(reads).toBe(1);
  });
});
