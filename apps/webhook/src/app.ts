import Fastify, { type FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { AdmissionReview, decide, toResponse } from './admission.ts';
import type { WebhookConfig } from './config.ts';
import type { Snapshot } from './snapshot.ts';

export interface WebhookMetrics {
  readonly registry: Registry;
  readonly admissions: Counter<'kind' | 'verdict' | 'webhook'>;
  readonly latency: Histogram<'webhook'>;
}

export function createMetrics(defaults = true): WebhookMetrics {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry });
  return {
    registry,
    admissions: new Counter({
      name: 'nicpool_webhook_admissions_total',
      help: 'Admission requests by kind and verdict',
      labelNames: ['kind', 'verdict', 'webhook'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'nicpool_webhook_admission_duration_seconds',
      help: 'Time to decide one admission request',
      labelNames: ['webhook'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers: [registry],
    }),
  };
}

export interface WebhookDeps {
  /** PEM certificate and key; the server speaks HTTPS only (the API server requires it). */
  readonly tls: { readonly cert: string | Buffer; readonly key: string | Buffer };
  readonly metrics: WebhookMetrics;
  /** The caches' current contents. */
  readonly snapshot: () => Snapshot;
  /** True once every cache has synced; decisions before that would be made blind. */
  readonly ready: () => boolean;
  /**
   * True once this replica is going away: every answer then says `Connection: close`, so the
   * API server stops reusing its kept-alive connection here and opens one to a replica that
   * stays (kube-proxy no longer sends new connections to a terminating pod).
   */
  readonly draining?: () => boolean;
}

/** Builds the webhook server; `main.ts` only loads config and listens. */
export function buildApp(config: WebhookConfig, deps: WebhookDeps): FastifyInstance {
  const app = Fastify({
    https: { cert: deps.tls.cert, key: deps.tls.key },
    logger: { level: config.logLevel },
    // AdmissionReviews of large pod templates stay well under this; the API server sends at most 3 MiB objects.
    bodyLimit: 8 * 1024 * 1024,
    // While closing, a request on a connection still open is answered, not refused with 503:
    // with failurePolicy Fail that 503 refused the object being admitted.
    return503OnClosing: false,
  });
  app.addHook('onSend', async (_req, reply) => {
    if (deps.draining?.() === true) reply.header('connection', 'close');
  });
  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', (_req, reply) =>
    deps.ready() ? { status: 'ok' } : reply.code(503).send({ status: 'caches not synced' }),
  );
  app.get('/metrics', async (_req, reply) =>
    reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()),
  );

  for (const [path, mutating] of [
    ['/mutate', true],
    ['/validate', false],
  ] as const) {
    const webhook = mutating ? 'mutate' : 'validate';
    app.post<{ Body: AdmissionReview }>(
      path,
      { schema: { body: AdmissionReview } },
      async (req, reply) => {
        const end = deps.metrics.latency.startTimer({ webhook });
        const review = req.body;
        const kind = review.request.kind.kind;
        if (!deps.ready()) {
          // Not synced: deciding now could admit what the caches would refuse. The API
          // server retries or fails per failurePolicy; pods without nicpool annotations never get here.
          deps.metrics.admissions.inc({ kind, verdict: 'unavailable', webhook });
          end();
          return reply.code(503).send({ message: 'nicpool webhook caches not synced yet' });
        }
        const decision = decide(review, mutating, deps.snapshot(), {
          controllerUsers: config.controllerUsers,
        });
        deps.metrics.admissions.inc({
          kind,
          verdict: decision.allowed
            ? decision.patch !== undefined
              ? 'patched'
              : 'allowed'
            : 'denied',
          webhook,
        });
        end();
        if (!decision.allowed)
          req.log.info(
            {
              kind,
              name: review.request.name,
              namespace: review.request.namespace,
              reason: decision.reason,
            },
            'denied',
          );
        return toResponse(review.request.uid, decision);
      },
    );
  }
  return app;
}
