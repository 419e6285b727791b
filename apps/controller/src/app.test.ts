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
