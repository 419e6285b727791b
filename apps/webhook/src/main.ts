import { readFileSync } from 'node:fs';
import type { Server as TlsServer } from 'node:tls';
import { describeConfigErrors } from '@nicpool/config';
import { createKubeClients, loadKubeConfig } from '@nicpool/kube';
import { buildApp, createMetrics } from './app.ts';
import { KubeCaches } from './caches.ts';
import { readWebhookConfig } from './config.ts';
import { kubeSecretPort, kubeWebhookConfigsPort } from './certs-kube.ts';
import {
  CertSetupError,
  SelfManagedCerts,
  watchTlsFiles,
  type CertLog,
  type ServingTls,
} from './certs-runtime.ts';

const config = readWebhookConfig(process.env);
if (!config.ok) {
  console.error(describeConfigErrors('nicpool-webhook', config.error));
  process.exit(2);
}
const c = config.value;
const kc = loadKubeConfig(
  c.kubeconfig === undefined ? { kind: 'in-cluster' } : { kind: 'file', path: c.kubeconfig },
);

// Before the app exists, certificate messages go to stderr as plain lines.
let log: CertLog = {
  info: (msg) => console.error(`nicpool-webhook: ${msg}`),
  warn: (msg, err) => console.error(`nicpool-webhook: ${msg}`, err ?? ''),
};
const certs = c.certs;
let tls: ServingTls;
/** Starts keeping the served certificate current; returns how to stop. */
let watchCerts: (swap: (t: ServingTls) => void) => () => void;
if (certs.mode === 'self-managed') {
  const sm = new SelfManagedCerts({
    secrets: kubeSecretPort(createKubeClients(kc).core, certs.namespace, certs.secret),
    configs: kubeWebhookConfigsPort(kc),
    where: `${certs.namespace}/${certs.secret}`,
    identity: { service: certs.service, namespace: certs.namespace, extraSans: certs.extraSans },
    configurations: [
      { kind: 'ValidatingWebhookConfiguration', name: certs.validatingConfig },
      { kind: 'MutatingWebhookConfiguration', name: certs.mutatingConfig },
    ],
    log: { info: (m) => log.info(m), warn: (m, e) => log.warn(m, e) },
  });
  try {
    tls = await sm.initial();
  } catch (e) {
    if (!(e instanceof CertSetupError)) throw e;
    console.error(`nicpool-webhook: ${e.message}`);
    process.exit(1);
  }
  watchCerts = (swap) => {
    sm.start(certs.checkSeconds * 1000, swap);
    return () => sm.stop();
  };
} else {
  const initial = {
    cert: readFileSync(certs.certFile, 'utf8'),
    key: readFileSync(certs.keyFile, 'utf8'),
  };
  tls = initial;
  watchCerts = (swap) => watchTlsFiles(certs, initial, certs.reloadSeconds * 1000, swap, log).stop;
}

let draining = false;
const app = buildApp(c, {
  tls,
  metrics: createMetrics(),
  snapshot: () => caches.snapshot(),
  ready: () => caches.ready(),
  draining: () => draining,
});
log = { info: (msg) => app.log.info(msg), warn: (msg, err) => app.log.warn({ err }, msg) };
const caches = new KubeCaches(kc, (msg, err) => app.log.warn({ err }, msg));

// fastify's https server is a tls.Server: a new context applies to new connections, no restart.
const swap = (t: ServingTls): void =>
  (app.server as unknown as TlsServer).setSecureContext({ cert: t.cert, key: t.key });
const stopCerts = watchCerts(swap);

/**
 * After SIGTERM (which comes after the pod's preStop sleep, once kube-proxy stopped sending it
 * new connections) this replica answers for a while longer, each answer closing its
 * connection, so the API server's kept-alive connections move to a replica that stays; then
 * it stops listening. An admission refused here is refused for good (failurePolicy Fail).
 */
const DRAIN_MS = 3000;
process.once('SIGTERM', () => {
  stopCerts();
  draining = true;
  void new Promise((r) => setTimeout(r, DRAIN_MS))
    .then(() => app.close())
    .then(() => caches.stop())
    .then(() => process.exit(0));
});
await app.listen({ host: c.host, port: c.port });
