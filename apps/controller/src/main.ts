import { describeConfigErrors } from '@nicpool/config';
import { buildApp, defaultMetrics } from './app.ts';
import { readControllerConfig } from './config.ts';

const config = readControllerConfig(process.env);
if (!config.ok) {
  console.error(describeConfigErrors('nicpool-controller', config.error));
  process.exit(2);
}
const app = buildApp(config.value, { metrics: defaultMetrics() });
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
await app.listen({ host: config.value.host, port: config.value.port });
