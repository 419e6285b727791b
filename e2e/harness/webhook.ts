// Runs the real webhook process (apps/webhook/src/main.ts) with a throwaway CA and serving
// certificate, and registers nicpool's webhook configurations with the API server by URL.
import { isRunning, sigkill, terminate } from './process.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webhookConfigurations } from '@nicpool/manifests';
import { REPO, type ClusterState } from '../cluster/control-plane.ts';
import { issueServingCert } from '../cluster/tls.ts';
import { componentKubeconfig } from './identity.ts';
import { eventually, k } from './helpers.ts';

export class WebhookProcess {
  readonly dir: string;
  readonly port: number;
  #child: ChildProcess | undefined;
  readonly #cluster: ClusterState;

  constructor(cluster: ClusterState, port: number) {
    this.#cluster = cluster;
    this.port = port;
    this.dir = mkdtempSync(join(tmpdir(), 'nicpool-webhook-'));
  }

  async start(): Promise<void> {
    if (this.#child === undefined) {
      await issueServingCert(this.dir, {
        caName: 'nicpool-webhook-test-ca',
        name: 'tls',
        cn: '127.0.0.1',
        san: ['IP:127.0.0.1'],
        days: 1,
      });
    }
    const log = openSync(join(this.dir, 'webhook.log'), 'a');
    this.#child = spawn(
      join(REPO, 'node_modules', '.bin', 'node'),
      [join(REPO, 'apps', 'webhook', 'src', 'main.ts')],
      {
        env: {
          PATH: process.env['PATH'],
          NICPOOL_WEBHOOK_HOST: '127.0.0.1',
          NICPOOL_WEBHOOK_PORT: String(this.port),
          NICPOOL_WEBHOOK_TLS_CERT: join(this.dir, 'tls.crt'),
          NICPOOL_WEBHOOK_TLS_KEY: join(this.dir, 'tls.key'),
          // Its own ServiceAccount and the RBAC from deploy/, never the admin token.
          KUBECONFIG: await componentKubeconfig(this.#cluster, 'webhook'),
          NICPOOL_LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', log, log],
      },
    );
    await eventually(
      'webhook ready',
      async () => ((await this.get('/readyz')) === 200 ? true : undefined),
      60_000,
      () => readFileSync(join(this.dir, 'webhook.log'), 'utf8').slice(-2000),
    );
  }

  /** The process is up (started, and not exited since). */
  get running(): boolean {
    return isRunning(this.#child);
  }

  get(path: string): Promise<number> {
    return new Promise((res, rej) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port,
          path,
          ca: readFileSync(join(this.dir, 'ca.crt')),
          agent: false,
        },
        (r) => {
          r.resume();
          res(r.statusCode ?? 0);
        },
      );
      req.on('error', rej);
      req.end();
    });
  }

  /** Applies the configurations (by URL) and waits until a canary proves they are active. */
  async register(): Promise<void> {
    const caBundle = readFileSync(join(this.dir, 'ca.crt')).toString('base64');
    const docs = webhookConfigurations(
      (path) => ({ url: `https://127.0.0.1:${this.port}${path}`, caBundle }),
      { 'nicpool.test/e2e': 'true' },
    );
    await k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: docs }));
    const canary = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'nicpool-canary',
        namespace: 'default',
        annotations: { 'ipam.spidernet.io/ippool': 'not json' },
      },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
    });
    await eventually('the webhook configuration to take effect', async () => {
      const out = await k(['create', '--dry-run=server', '-f', '-'], canary).then(
        () => '',
        (e: { stderr?: string }) => e.stderr ?? '',
      );
      return out.includes('denied the request') ? true : undefined;
    });
  }

  async unregister(): Promise<void> {
    await k([
      'delete',
      'validatingwebhookconfiguration,mutatingwebhookconfiguration',
      '-l',
      'nicpool.test/e2e=true',
      '--ignore-not-found',
    ]);
  }

  /** SIGKILL: no graceful shutdown, like a crashed replica. start() runs it again, same cert. */
  async kill9(): Promise<void> {
    await sigkill(this.#child);
  }

  async stop(): Promise<void> {
    await terminate(this.#child, 5000);
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
