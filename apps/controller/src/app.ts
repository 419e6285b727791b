import Fastify, { type FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { ControllerConfig } from './config.ts';

export interface ControllerDeps {
  readonly metrics?: Registry;
  readonly ready?: () => boolean;
}

/** Builds the controller's health and metrics server. */
export function buildApp(config: ControllerConfig, deps: ControllerDeps = {}): FastifyInstance {
  const app = Fastify({ logger: { level: config.logLevel } });
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
