import Fastify, { type FastifyInstance } from 'fastify';
import type { AllocatorConfig } from './config.ts';

export interface AllocatorDeps {
  /** Readiness of the state the allocator serves from (watch caches). */
  readonly ready?: () => boolean;
}

/**
 * Builds the node agent's HTTP server, served on the Unix socket the CNI shim talks to
 * (Spiderpool's agent API: `GET /v1/ipam/healthy`).
 */
export function buildApp(config: AllocatorConfig, deps: AllocatorDeps = {}): FastifyInstance {
  const app = Fastify({ logger: { level: config.logLevel } });
  const ready = deps.ready ?? ((): boolean => true);
  app.get('/v1/ipam/healthy', async (_req, reply) =>
    ready()
      ? reply.code(200).send()
      : reply.code(500).send({ message: `allocator on ${config.nodeName} is not ready` }),
  );
  return app;
}
