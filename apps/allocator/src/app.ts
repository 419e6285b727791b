import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import {
  AddRequest,
  AllocatorErrorCode as Code,
  DelRequest,
  GCRequest,
  Paths,
  type ErrorBody,
  type GCResponse,
} from '@nicpool/wire';
import type { AllocatorConfig } from './config.ts';
import { AllocatorError } from './errors.ts';
import type { Metrics } from './metrics.ts';
import type { AllocatorService } from './service.ts';

export interface AllocatorDeps {
  readonly service: AllocatorService;
  /** Caches synced (and so the API server was reachable). */
  readonly ready: () => boolean;
}

/** Request bodies are a few hundred bytes; anything near this limit is not from the shim. */
const BODY_LIMIT = 64 * 1024;
/** GC bodies list attachments: room for ~100 000 (the schema's maxItems). */
const GC_BODY_LIMIT = 8 * 1024 * 1024;

function badRequest(message: string): ErrorBody {
  return { code: Code.badRequest, message, retryable: false };
}

/**
 * The node agent's API on the Unix socket the CNI shim talks to — Spiderpool's agent
 * routes (`/v1/ipam/*`) plus nicpool's extensions (`/v1/nicpool/*`). Bodies are validated
 * against the schemas of @nicpool/wire, shared with the shim.
 */
export function buildApp(config: AllocatorConfig, deps: AllocatorDeps): FastifyInstance {
  const app = Fastify({ logger: { level: config.logLevel }, bodyLimit: BODY_LIMIT });

  // An unknown route is a client's mistake like any other: it gets a code too (BAD_REQUEST,
  // not NOT_FOUND, which the shim would read as "no such pod").
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send(badRequest(`no route ${req.method} ${req.url}`)),
  );

  app.setErrorHandler((error: FastifyError, req, reply) => {
    if (error instanceof AllocatorError) return reply.code(error.status).send(error.toBody());
    if (error.validation !== undefined) {
      const v = error.validation[0];
      return reply
        .code(400)
        .send(
          badRequest(
            `invalid request body: ${v?.instancePath || 'body'} ${v?.message ?? ''}`.trim(),
          ),
        );
    }
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return reply
        .code(413)
        .send(
          badRequest(`request body larger than ${req.routeOptions.bodyLimit ?? BODY_LIMIT} bytes`),
        );
    if (error.statusCode !== undefined && error.statusCode < 500)
      return reply.code(error.statusCode).send(badRequest(error.message));
    app.log.error({ err: error }, 'internal error');
    return reply
      .code(500)
      .send({ code: Code.internal, message: error.message, retryable: false } satisfies ErrorBody);
  });

  app.get(Paths.healthy, async (_req, reply) =>
    deps.ready()
      ? reply.code(200).send()
      : reply.code(500).send({
          code: Code.notReady,
          message: `allocator on ${config.nodeName} has not synced its caches`,
          retryable: true,
        }),
  );
  app.get(Paths.status, () => ({
    ready: deps.ready(),
    message: deps.ready()
      ? `allocator on ${config.nodeName} is serving`
      : `allocator on ${config.nodeName} has not synced its caches`,
  }));
  app.post<{ Body: AddRequest }>(Paths.ip, { schema: { body: AddRequest } }, async (req) => {
    if (!deps.ready())
      throw new AllocatorError(
        Code.notReady,
        `allocator on ${config.nodeName} has not synced its caches yet`,
      );
    const r = await deps.service.add(req.body);
    req.log.info(
      {
        pod: `${req.body.podNamespace}/${req.body.podName}`,
        ifName: req.body.ifName,
        ips: r.ips.map((i) => i.address),
      },
      'allocated',
    );
    return r;
  });
  app.delete<{ Body: DelRequest }>(
    Paths.ip,
    { schema: { body: DelRequest } },
    async (req, reply) => {
      if (!deps.ready())
        throw new AllocatorError(
          Code.notReady,
          `allocator on ${config.nodeName} has not synced its caches yet`,
        );
      const { warnings } = await deps.service.del(req.body);
      const at = { pod: `${req.body.podNamespace}/${req.body.podName}`, ifName: req.body.ifName };
      for (const w of warnings) req.log.warn(at, w);
      req.log.info(at, 'released');
      return reply.code(200).send({});
    },
  );
  app.post<{ Body: DelRequest }>(
    Paths.check,
    { schema: { body: DelRequest } },
    async (req, reply) => {
      await deps.service.check(req.body);
      return reply.code(200).send({});
    },
  );
  app.post<{ Body: GCRequest }>(
    Paths.gc,
    // The runtime's list of every valid attachment of the node: ~70 bytes each, so 64 KiB
    // would refuse a node with ~700 NICs in use (review #19).
    { schema: { body: GCRequest }, bodyLimit: GC_BODY_LIMIT },
    async (req): Promise<GCResponse> => {
      if (!deps.ready())
        throw new AllocatorError(
          Code.notReady,
          `allocator on ${config.nodeName} has not synced its caches yet`,
        );
      const { released, warnings } = await deps.service.gc();
      for (const w of warnings) req.log.warn(w);
      if (released.length > 0) req.log.info({ released }, 'gc released addresses of gone pods');
      return { released };
    },
  );
  return app;
}

/** Metrics and probes on a TCP port, apart from the socket. */
export function buildOpsApp(
  config: AllocatorConfig,
  deps: { readonly metrics: Metrics; readonly ready: () => boolean },
): FastifyInstance {
  const app = Fastify({ logger: { level: config.logLevel } });
  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', (_req, reply) =>
    deps.ready() ? { status: 'ok' } : reply.code(503).send({ status: 'caches not synced' }),
  );
  app.get('/metrics', async (_req, reply) =>
    reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()),
  );
  return app;
}
