import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { describeConfigErrors } from '@nicpool/config';
import { loadKubeConfig } from '@nicpool/kube';
import { buildApp, buildOpsApp } from './app.ts';
import { readAllocatorConfig } from './config.ts';
import { KubeStore } from './kube-store.ts';
import { createMetrics } from './metrics.ts';
import { AllocatorService } from './service.ts';

const config = readAllocatorConfig(process.env);
if (!config.ok) {
  console.error(describeConfigErrors('nicpool-allocator', config.error));
  process.exit(2);
}
const c = config.value;
const kc = loadKubeConfig(
  c.kubeconfig === undefined ? { kind: 'in-cluster' } : { kind: 'file', path: c.kubeconfig },
);
const metrics = createMetrics();
const app = buildApp(c, {
  ready: () => store.ready(),
  get service() {
    return service;
  },
});
const store = new KubeStore(kc, c.nodeName, (msg, err) => app.log.warn({ err }, msg));
const service = new AllocatorService(
  store,
  {
    nodeName: c.nodeName,
    retry: { attempts: c.retryAttempts, baseDelayMs: c.retryBaseMs, maxDelayMs: c.retryMaxMs },
    maxRecordsPerPool: c.maxRecordsPerPool,
    autoPoolWaitMs: c.autoPoolWaitMs,
  },
  metrics,
);
const ops = buildOpsApp(c, { metrics, ready: () => store.ready() });

mkdirSync(dirname(c.socketPath), { recursive: true });
// A socket file left by a killed predecessor would make listen fail with EADDRINUSE.
rmSync(c.socketPath, { force: true });
process.once('SIGTERM', () => {
  // Finish in-flight requests (app.close waits for them), then stop watching.
  void Promise.all([app.close(), ops.close()])
    .then(() => store.stop())
    .then(() => process.exit(0));
});
await app.listen({ path: c.socketPath });
chmodSync(c.socketPath, 0o600);
await ops.listen({ host: c.host, port: c.port });
