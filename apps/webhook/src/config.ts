import Type, { type Static } from 'typebox';
import { loadConfig, type Env } from '@nicpool/config';
import type { Result } from '@nicpool/result';

export const WebhookConfig = Type.Object({
  host: Type.String({ default: '0.0.0.0', description: 'Address to listen on.' }),
  port: Type.Integer({ minimum: 1, maximum: 65535, default: 9443 }),
  tlsCertFile: Type.String({ minLength: 1, description: 'PEM serving certificate.' }),
  tlsKeyFile: Type.String({
    minLength: 1,
    description: 'PEM private key of the serving certificate.',
  }),
  kubeconfig: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'Kubeconfig file; absent: in-cluster ServiceAccount.',
    }),
  ),
  logLevel: Type.Union(
    [Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')],
    { default: 'info' },
  ),
});
export type WebhookConfig = Static<typeof WebhookConfig>;

export function readWebhookConfig(env: Env): Result<WebhookConfig, string[]> {
  return loadConfig(WebhookConfig, env, {
    host: 'NICPOOL_WEBHOOK_HOST',
    port: 'NICPOOL_WEBHOOK_PORT',
    tlsCertFile: 'NICPOOL_WEBHOOK_TLS_CERT',
    tlsKeyFile: 'NICPOOL_WEBHOOK_TLS_KEY',
    kubeconfig: 'KUBECONFIG',
    logLevel: 'NICPOOL_LOG_LEVEL',
  });
}
