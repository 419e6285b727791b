import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { readWebhookConfig } from './config.ts';

describe('webhook app', () => {
  let dir: string;
  let app: FastifyInstance;
  let ready = false;

  beforeAll(() => {
    // A throwaway key pair per run; nothing is committed.
    dir = mkdtempSync(join(tmpdir(), 'nicpool-webhook-test-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        'k.pem',
        '-out',
        'c.pem',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    const config = readWebhookConfig({
      NICPOOL_WEBHOOK_TLS_CERT: join(dir, 'c.pem'),
      NICPOOL_WEBHOOK_TLS_KEY: join(dir, 'k.pem'),
    });
    if (!config.ok) throw new Error(config.error.join('; '));
    app = buildApp(config.value, {
      tls: { cert: readFileSync(join(dir, 'c.pem')), key: readFileSync(join(dir, 'k.pem')) },
      ready: () => ready,
    });
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is healthy and ready only when its dependencies are', async () => {
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(503);
    ready = true;
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200);
  });

  it('serves Prometheus metrics', async () => {
    const r = await app.inject({ url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
  });

  it('refuses to start without TLS files, naming the variables', () => {
    const r = readWebhookConfig({ NICPOOL_WEBHOOK_PORT: '0' });
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.error).toEqual([
        'missing NICPOOL_WEBHOOK_TLS_CERT, NICPOOL_WEBHOOK_TLS_KEY',
        'NICPOOL_WEBHOOK_PORT="0": must be >= 1',
      ]);
  });
});
