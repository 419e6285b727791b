import Fastify, { type FastifyInstance } from 'fastify';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { WebhookConfig } from './config.ts';

export interface WebhookDeps {
  /** PEM certificate and key; the server speaks HTTPS only (the API server requires it). */
  readonly tls: { readonly cert: string | Buffer; readonly key: string | Buffer };
  readonly metrics?: Registry;
  /** Readiness: true once everything admission decisions depend on is available. */
  readonly ready?: () => boolean;
}

/** Builds the webhook server; `main.ts` only loads config and listens. */
export function buildApp(config: WebhookConfig, deps: WebhookDeps): FastifyInstance {
  const app = Fastify({
    https: { cert: deps.tls.cert, key: deps.tls.key },
    logger: { level: config.logLevel },
    // AdmissionReview bodies of large pod templates stay well under this.
    bodyLimit: 3 * 1024 * 1024,
  });
  const metrics = deps.metrics ?? new Registry();
  const ready = deps.ready ?? ((): boolean => true);
  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', (_req, reply) =>
    ready() ? { status: 'ok' } : reply.code(503).send({ status: 'not ready' }),
  );
  app.get('/metrics', async (_req, reply) =>
    reply.type(metrics.contentType).send(await metrics.metrics()),
  );
  return app;
}

export function defaultMetrics(): Registry {
  const r = new Registry();
  collectDefaultMetrics({ register: r });
  return r;
}
