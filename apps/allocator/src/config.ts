import Type, { type Static } from 'typebox';
import { loadConfig, type Env } from '@nicpool/config';
import type { Result } from '@nicpool/result';
import { DEFAULT_SOCKET_PATH } from '@nicpool/wire';

export const AllocatorConfig = Type.Object({
  socketPath: Type.String({ minLength: 1, default: DEFAULT_SOCKET_PATH }),
  nodeName: Type.String({
    minLength: 1,
    maxLength: 253,
    description: 'This node (downward API spec.nodeName).',
  }),
  host: Type.String({ default: '0.0.0.0', description: 'Address of the metrics/health port.' }),
  port: Type.Integer({
    minimum: 0,
    maximum: 65535,
    default: 5711,
    description: 'Metrics and health port (0: pick a free one).',
  }),
  kubeconfig: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'Kubeconfig file; absent: in-cluster ServiceAccount.',
    }),
  ),
  retryAttempts: Type.Integer({
    minimum: 1,
    maximum: 100,
    default: 10,
    description: 'Attempts per pool write on 409.',
  }),
  retryBaseMs: Type.Integer({ minimum: 1, maximum: 10000, default: 20 }),
  retryMaxMs: Type.Integer({ minimum: 1, maximum: 60000, default: 1000 }),
  // A pool's records are one status object; etcd refuses a write past 1.5 MiB, which one
  // pool reaches at about 10 250 records (bench/growth.ts): a larger limit could not be used.
  maxRecordsPerPool: Type.Integer({ minimum: 1, maximum: 10000, default: 5000 }),
  autoPoolWaitMs: Type.Integer({
    minimum: 0,
    maximum: 50_000,
    default: 10_000,
    description:
      "How long ADD waits for the controller to create or grow a pod's auto-pool before a retryable error (kept well inside the shim's 60 s timeout).",
  }),
  logLevel: Type.Union(
    [Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')],
    { default: 'info' },
  ),
});
export type AllocatorConfig = Static<typeof AllocatorConfig>;

export function readAllocatorConfig(env: Env): Result<AllocatorConfig, string[]> {
  return loadConfig(AllocatorConfig, env, {
    socketPath: 'NICPOOL_SOCKET_PATH',
    nodeName: 'NODE_NAME',
    host: 'NICPOOL_ALLOCATOR_HOST',
    port: 'NICPOOL_ALLOCATOR_PORT',
    kubeconfig: 'KUBECONFIG',
    retryAttempts: 'NICPOOL_RETRY_ATTEMPTS',
    retryBaseMs: 'NICPOOL_RETRY_BASE_MS',
    retryMaxMs: 'NICPOOL_RETRY_MAX_MS',
    maxRecordsPerPool: 'NICPOOL_MAX_RECORDS_PER_POOL',
    autoPoolWaitMs: 'NICPOOL_AUTO_POOL_WAIT_MS',
    logLevel: 'NICPOOL_LOG_LEVEL',
  });
}
