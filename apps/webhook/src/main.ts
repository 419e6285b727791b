import { readFileSync } from 'node:fs';
import { describeConfigErrors } from '@nicpool/config';
import { loadKubeConfig } from '@nicpool/kube';
import { buildApp, createMetrics } from './app.ts';
import { KubeCaches } from './caches.ts';
import { readWebhookConfig } from './config.ts';

const config = readWebhookConfig(process.env);
if (!config.ok) {
  console.error(describeConfigErrors('nicpool-webhook', config.error));
  process.exit(2);
}
const c = config.value;
const kc = loadKubeConfig(
  c.kubeconfig === undefined ? { kind: 'in-cluster' } : { kind: 'file', path: c.kubeconfig },
);
const app = buildApp(c, {
  tls: { cert: readFileSync(c.tlsCertFile), key: readFileSync(c.tlsKeyFile) },
  metrics: createMetrics(),
  snapshot: () => caches.snapshot(),
  ready: () => caches.ready(),
});
const caches = new KubeCaches(kc, (msg, err) => app.log.warn({ err }, msg));
process.once(
  'SIGTERM',
  () =>
    void app
      .close()
      .then(() => caches.stop())
      .then(() => process.exit(0)),
);
await app.listen({ host: c.host, port: c.port });
