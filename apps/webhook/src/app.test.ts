import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { decide } from './admission.ts';
import { buildApp, createMetrics } from './app.ts';
import { readWebhookConfig } from './config.ts';
import { deployment, MULTUS, pool, snapshot } from '../test/fixtures.ts';

describe('review #1 through decide(): a wildcard cannot freeze the webhook', () => {
  const redos = '*[a-y0-9-]'.repeat(10) + '*z';
  const snap = () => {
    const s = snapshot();
    return {
      ...s,
      pools: [
        ...s.pools,
        pool('auto-web-frontend-v4-eth0-5f1c2a9d7e3b', {
          subnet: '10.20.0.0/16',
          ips: ['10.20.0.10'],
        }),
      ],
    };
  };
  const podReview = (annotations: Record<string, string>) => ({
    apiVersion: 'admission.k8s.io/v1' as const,
    kind: 'AdmissionReview' as const,
    request: {
      uid: 'u',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      operation: 'CREATE',
      namespace: 'default',
      name: 'p',
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', annotations } },
    },
  });

  it("refuses the review's 11-star pattern in a Pod annotation within 50 ms", () => {
    const t0 = performance.now();
    const d = decide(
      podReview({ 'ipam.spidernet.io/ippool': JSON.stringify({ ipv4: [redos] }) }),
      false,
      snap(),
    );
    expect(performance.now() - t0).toBeLessThan(50);
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain('has 11 "*" (at most 8 per pattern)');
  });

  it('decides an 8-star near-miss pattern (the most the limits allow) within 50 ms', () => {
    const near = '*[a-y0-9-]'.repeat(7) + '*z';
    const t0 = performance.now();
    const d = decide(
      podReview({ 'ipam.spidernet.io/ippool': JSON.stringify({ ipv4: [near] }) }),
      false,
      snap(),
    );
    expect(performance.now() - t0).toBeLessThan(50);
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain(`pattern "${near}" matches no IPv4 SpiderIPPool`);
  });
});

describe('webhook app (AdmissionReview over HTTPS, via inject)', () => {
  let dir: string;
  let app: FastifyInstance;
  let ready = false;
  let draining = false;
  const metrics = createMetrics(false);

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
      NICPOOL_LOG_LEVEL: 'error',
    });
    if (!config.ok) throw new Error(config.error.join('; '));
    app = buildApp(config.value, {
      tls: { cert: readFileSync(join(dir, 'c.pem')), key: readFileSync(join(dir, 'k.pem')) },
      metrics,
      snapshot,
      ready: () => ready,
      draining: () => draining,
    });
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const review = (
    kind: { group: string; version: string; kind: string },
    object: unknown,
    operation = 'CREATE',
  ) => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'req-1', kind, operation, namespace: 'default', name: 'web', object },
  });

  it('while draining, still answers, each answer closing its connection', async () => {
    const ask = () =>
      app.inject({
        method: 'POST',
        url: '/validate',
        payload: review({ group: 'apps', version: 'v1', kind: 'Deployment' }, deployment({})),
      });
    expect((await ask()).headers.connection).not.toBe('close');
    draining = true;
    try {
      const r = await ask();
      expect(r.headers.connection).toBe('close');
      expect(r.statusCode).toBe((await ((draining = false), ask())).statusCode);
    } finally {
      draining = false;
    }
  });

  it('is not ready (503) until its caches are synced', async () => {
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(503);
    const r = await app.inject({
      method: 'POST',
      url: '/validate',
      payload: review({ group: 'apps', version: 'v1', kind: 'Deployment' }, deployment({})),
    });
    expect(r.statusCode).toBe(503);
    ready = true;
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200);
  });

  it('denies a bad Deployment with the reason in status.message', async () => {
    const obj = deployment({
      ...MULTUS,
      'ipam.spidernet.io/ippools':
        '[{"interface":"eth0","ipv4":["nope"]},{"interface":"net1","ipv4":["ippool-test-ens224"]}]',
    });
    const r = await app.inject({
      method: 'POST',
      url: '/validate',
      payload: review({ group: 'apps', version: 'v1', kind: 'Deployment' }, obj),
    });
    expect(r.json()).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: {
        uid: 'req-1',
        allowed: false,
        status: {
          code: 422,
          reason: 'Invalid',
          message:
            'spec.template.metadata.annotations: ipam.spidernet.io/ippools[0].ipv4[0]: SpiderIPPool "nope" does not exist',
        },
      },
    });
  });

  it('answers a pool CREATE with a base64 JSONPatch (patch and patchType survive serialisation)', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/mutate',
      payload: review(
        { group: 'spiderpool.spidernet.io', version: 'v2beta1', kind: 'SpiderIPPool' },
        pool('p', { subnet: '10.60.0.0/16' }),
      ),
    });
    const body = r.json<{ response: { allowed: boolean; patch: string; patchType: string } }>();
    expect(body.response.allowed).toBe(true);
    expect(body.response.patchType).toBe('JSONPatch');
    expect(JSON.parse(Buffer.from(body.response.patch, 'base64').toString())).toContainEqual({
      op: 'add',
      path: '/spec/ipVersion',
      value: 4,
    });
  });

  it('carries warnings', async () => {
    const obj = deployment({ 'ipam.spidernet.io/ippool': '{"ipv4":["full"]}' });
    const r = await app.inject({
      method: 'POST',
      url: '/validate',
      payload: review({ group: 'apps', version: 'v1', kind: 'Deployment' }, obj),
    });
    expect(r.json<{ response: { allowed: boolean; warnings: string[] } }>().response).toEqual({
      uid: 'req-1',
      allowed: true,
      warnings: [
        'spec.template.metadata.annotations: ipam.spidernet.io/ippool.ipv4[0]: pool "full" has no free address',
      ],
    });
  });

  it('denies a Namespace whose default-pool pattern is over the "*" cap (review #1)', async () => {
    const key = 'ipam.spidernet.io/default-ipv4-ippool';
    const namespace = (pools: string[]) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'team-a', annotations: { [key]: JSON.stringify(pools) } },
    });
    const r = await app.inject({
      method: 'POST',
      url: '/validate',
      payload: review({ group: '', version: 'v1', kind: 'Namespace' }, namespace(['a*'.repeat(9)])),
    });
    expect(r.json<{ response: unknown }>().response).toEqual({
      uid: 'req-1',
      allowed: false,
      status: {
        code: 422,
        reason: 'Invalid',
        message: `metadata.annotations[${key}][0]: pool name "${'a*'.repeat(9)}" has 9 "*" (at most 8 per pattern) in item 0 of ${key}`,
      },
    });
    const ok = await app.inject({
      method: 'POST',
      url: '/validate',
      payload: review(
        { group: '', version: 'v1', kind: 'Namespace' },
        namespace(['ippool-test-*']),
        'UPDATE',
      ),
    });
    expect(ok.json<{ response: { allowed: boolean } }>().response.allowed).toBe(true);
  });

  it('refuses a malformed AdmissionReview with 400', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/validate',
      payload: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' },
    });
    expect(r.statusCode).toBe(400);
  });

  it('counts admissions by kind and verdict', async () => {
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'nicpool_webhook_admissions_total{kind="Deployment",verdict="denied",webhook="validate"} 1',
    );
    expect(text).toContain(
      'nicpool_webhook_admissions_total{kind="SpiderIPPool",verdict="patched",webhook="mutate"} 1',
    );
  });
});
