import { describe, expect, it } from '@jest/globals';
import { Counter, Registry } from 'prom-client';
import { buildApp } from './app.ts';
import { readControllerConfig } from './config.ts';

describe('controller app', () => {
  it('serves health and the metrics of its registry', async () => {
    const config = readControllerConfig({ NICPOOL_LOG_LEVEL: 'error' });
    if (!config.ok) throw new Error(config.error.join('; '));
    const metrics = new Registry();
    new Counter({ name: 'nicpool_test_total', help: 'test', registers: [metrics] }).inc(3);
    const app = buildApp(config.value, { metrics, ready: () => false });
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(503);
    expect((await app.inject({ url: '/metrics' })).body).toContain('nicpool_test_total 3');
    await app.close();
  });

  it('refuses a bad port', () => {
    expect(readControllerConfig({ NICPOOL_CONTROLLER_PORT: 'x' }).ok).toBe(false);
  });
});

describe('controller metrics', () => {
  it('exports total, allocated and free addresses per pool from the leader cache', async () => {
    const { createMetrics } = await import('./metrics.ts');
    const m = createMetrics(new Registry(), false);
    m.pools = () => [
      {
        apiVersion: 'spiderpool.spidernet.io/v2beta1',
        kind: 'SpiderIPPool',
        metadata: { name: 'p' },
        spec: { subnet: '10.6.0.0/16', ips: ['10.6.0.1-10.6.0.5'] },
        status: { allocatedIPs: '{"10.6.0.1":{"pod":"a/b","podUid":"u"}}' },
      },
    ];
    const text = await m.registry.metrics();
    expect(text).toContain('nicpool_ippool_total_ips{pool="p"} 5');
    expect(text).toContain('nicpool_ippool_allocated_ips{pool="p"} 1');
    expect(text).toContain('nicpool_ippool_free_ips{pool="p"} 4');
  });
});
