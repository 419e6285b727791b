import { readFileSync } from 'node:fs';
import { describeConfigErrors } from '@nicpool/config';
import { buildApp, defaultMetrics } from './app.ts';
import { readWebhookConfig } from './config.ts';

const config = readWebhookConfig(process.env);
if (!config.ok) {
  console.error(describeConfigErrors('nicpool-webhook', config.error));
  process.exit(2);
}
const app = buildApp(config.value, {
  tls: { cert: readFileSync(config.value.tlsCertFile), key: readFileSync(config.value.tlsKeyFile) },
  metrics: defaultMetrics(),
});
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
await app.listen({ host: config.value.host, port: config.value.port });
