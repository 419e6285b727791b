// Admission latency of the webhook at a fixed request rate, as the API server sees it
// (HTTPS round trip of one AdmissionReview), for a Deployment with the tutorial's ippools
// annotation against caches holding `POOLS` pools. Starts the real app (buildApp) on
// loopback with a throwaway certificate; no cluster needed.
// Usage: node bench/webhook-latency.ts [rate=200] [seconds=10] [pools=1000]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_VERSION, type SpiderIPPool } from '@nicpool/crds';
import { buildApp, createMetrics } from '../apps/webhook/src/app.ts';
import { readWebhookConfig } from '../apps/webhook/src/config.ts';

const rate = Number(process.argv[2] ?? 200);
const seconds = Number(process.argv[3] ?? 10);
const poolCount = Number(process.argv[4] ?? 1000);

const dir = mkdtempSync(join(tmpdir(), 'nicpool-bench-'));
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'k.pem',
    '-out',
    'c.pem',
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ],
  { cwd: dir, stdio: 'ignore' },
);
const config = readWebhookConfig({
  NICPOOL_WEBHOOK_TLS_CERT: join(dir, 'c.pem'),
  NICPOOL_WEBHOOK_TLS_KEY: join(dir, 'k.pem'),
  NICPOOL_LOG_LEVEL: 'error',
  NICPOOL_WEBHOOK_HOST: '127.0.0.1',
});
if (!config.ok) throw new Error(config.error.join('; '));
const pools: SpiderIPPool[] = Array.from({ length: poolCount }, (_, i) => ({
  apiVersion: API_VERSION,
  kind: 'SpiderIPPool',
  metadata: { name: `pool-${i}` },
  spec: {
    subnet: `10.${100 + (i >> 8)}.${i & 255}.0/24`,
    ips: [`10.${100 + (i >> 8)}.${i & 255}.10-10.${100 + (i >> 8)}.${i & 255}.200`],
  },
}));
const snapshot = {
  pools,
  subnets: [],
  reservedIPs: [],
  namespaces: new Map([['default', { labels: {} }]]),
  nads: [],
};
const app = buildApp(
  { ...config.value, port: 0 },
  {
    tls: { cert: readFileSync(join(dir, 'c.pem')), key: readFileSync(join(dir, 'k.pem')) },
    metrics: createMetrics(false),
    snapshot: () => snapshot,
    ready: () => true,
  },
);
await app.listen({ host: '127.0.0.1', port: 0 });
const port = (app.server.address() as { port: number }).port;

const body = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'bench',
    kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
    operation: 'CREATE',
    namespace: 'default',
    name: 'web',
    object: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'default' },
      spec: {
        replicas: 2,
        template: {
          metadata: {
            labels: { app: 'web' },
            annotations: {
              'k8s.v1.cni.cncf.io/networks': 'kube-system/macvlan-conf-ens224',
              'ipam.spidernet.io/ippools': JSON.stringify([
                { interface: 'eth0', ipv4: ['pool-1'] },
                { interface: 'net1', ipv4: ['pool-2*'] },
              ]),
            },
          },
        },
      },
    },
  },
});
// Keep-alive, as the API server's client does.
const agent = new Agent({ keepAlive: true, maxSockets: 64, ca: readFileSync(join(dir, 'c.pem')) });
const once = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/validate',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(Number(process.hrtime.bigint() - t0) / 1e6)
            : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });

for (let i = 0; i < 200; i++) await once(); // warm-up
const latencies: number[] = [];
const total = rate * seconds;
const start = performance.now();
const inflight: Promise<void>[] = [];
for (let i = 0; i < total; i++) {
  // Open-loop: requests leave on schedule whether or not earlier ones have returned.
  const due = start + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  inflight.push(once().then((ms) => void latencies.push(ms)));
}
await Promise.all(inflight);
latencies.sort((a, b) => a - b);
const q = (p: number): string =>
  latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(2);
console.log(
  `${latencies.length} AdmissionReviews at ${rate}/s for ${seconds}s, ${poolCount} pools cached: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms`,
);
await app.close();
agent.destroy();
rmSync(dir, { recursive: true, force: true });
