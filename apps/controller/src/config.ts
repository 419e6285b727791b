import Type, { type Static, type TNumber } from 'typebox';
import { loadConfig, type Env } from '@nicpool/config';
import { err, type Result } from '@nicpool/result';

const seconds = (def: number, min: number, description: string): TNumber =>
  Type.Number({ minimum: min, maximum: 86_400, default: def, description });

export const ControllerConfig = Type.Object({
  host: Type.String({ default: '0.0.0.0' }),
  port: Type.Integer({
    minimum: 1,
    maximum: 65535,
    default: 5721,
    description: 'Health and metrics port.',
  }),
  logLevel: Type.Union(
    [Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')],
    { default: 'info' },
  ),
  kubeconfig: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'Kubeconfig file; absent: in-cluster ServiceAccount.',
    }),
  ),
  identity: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'Leader-election identity; default: host name + random suffix.',
    }),
  ),
  namespace: Type.String({
    minLength: 1,
    default: 'nicpool-system',
    description: 'Namespace of the leader Lease.',
  }),
  leaseName: Type.String({ minLength: 1, default: 'nicpool-controller' }),
  leaseDurationSeconds: seconds(
    15,
    1,
    'A standby takes over this long after the leader stops renewing.',
  ),
  renewDeadlineSeconds: seconds(10, 1, 'The leader steps down when it cannot renew for this long.'),
  retryPeriodSeconds: seconds(2, 0.1, 'How often to renew, or to try to acquire.'),
  resyncSeconds: seconds(60, 1, 'Period of the full reconcile of every pool, subnet and workload.'),
  gcIntervalSeconds: seconds(600, 1, 'Period of the full garbage-collection scan.'),
  gcDelaySeconds: seconds(
    30,
    0,
    "Wait beyond a pod's grace period before its records count as leaked.",
  ),
});
export type ControllerConfig = Static<typeof ControllerConfig>;

export function readControllerConfig(env: Env): Result<ControllerConfig, string[]> {
  const r = loadConfig(ControllerConfig, env, {
    host: 'NICPOOL_CONTROLLER_HOST',
    port: 'NICPOOL_CONTROLLER_PORT',
    logLevel: 'NICPOOL_LOG_LEVEL',
    kubeconfig: 'KUBECONFIG',
    identity: 'NICPOOL_CONTROLLER_IDENTITY',
    namespace: 'NICPOOL_NAMESPACE',
    leaseName: 'NICPOOL_LEASE_NAME',
    leaseDurationSeconds: 'NICPOOL_LEASE_DURATION_SECONDS',
    renewDeadlineSeconds: 'NICPOOL_RENEW_DEADLINE_SECONDS',
    retryPeriodSeconds: 'NICPOOL_RETRY_PERIOD_SECONDS',
    resyncSeconds: 'NICPOOL_RESYNC_SECONDS',
    gcIntervalSeconds: 'NICPOOL_GC_INTERVAL_SECONDS',
    gcDelaySeconds: 'NICPOOL_GC_DELAY_SECONDS',
  });
  if (!r.ok) return r;
  const c = r.value;
  // client-go's rule: renewing must fit in the lease, and retries must fit in renewing.
  const problems: string[] = [];
  if (c.renewDeadlineSeconds >= c.leaseDurationSeconds)
    problems.push(
      'NICPOOL_RENEW_DEADLINE_SECONDS must be less than NICPOOL_LEASE_DURATION_SECONDS',
    );
  if (c.retryPeriodSeconds >= c.renewDeadlineSeconds)
    problems.push('NICPOOL_RETRY_PERIOD_SECONDS must be less than NICPOOL_RENEW_DEADLINE_SECONDS');
  return problems.length > 0 ? err(problems) : r;
}
