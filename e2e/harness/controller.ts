// Runs real controller processes (apps/controller/src/main.ts on Node 24) for e2e suites.
import { isRunning, sigkill, terminate } from './process.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, type ClusterState } from '../cluster/control-plane.ts';
import { componentKubeconfig } from './identity.ts';
import { eventually } from './helpers.ts';

export interface ControllerOptions {
  readonly identity: string;
  readonly port: number;
  readonly namespace: string;
  /** Short values keep the failover test quick; the defaults are 15 s / 10 s / 2 s. */
  readonly leaseSeconds?: { duration: number; renew: number; retry: number };
  readonly gcDelaySeconds?: number;
  readonly gcIntervalSeconds?: number;
  /** Added to (and overriding) the environment, e.g. a KUBECONFIG through a fault proxy. */
  readonly env?: Readonly<Record<string, string>>;
}

export class ControllerProcess {
  readonly dir: string;
  readonly opts: ControllerOptions;
  #child: ChildProcess | undefined;
  readonly #cluster: ClusterState;

  constructor(cluster: ClusterState, opts: ControllerOptions) {
    this.#cluster = cluster;
    this.opts = opts;
    this.dir = mkdtempSync(join(tmpdir(), `nicpool-controller-${opts.identity}-`));
  }

  async start(): Promise<void> {
    const o = this.opts;
    const lease = o.leaseSeconds ?? { duration: 15, renew: 10, retry: 2 };
    const log = openSync(join(this.dir, 'controller.log'), 'a');
    this.#child = spawn(
      join(REPO, 'node_modules', '.bin', 'node'),
      [join(REPO, 'apps', 'controller', 'src', 'main.ts')],
      {
        env: {
          PATH: process.env['PATH'],
          // Its own ServiceAccount and the RBAC from deploy/, never the admin token.
          KUBECONFIG: await componentKubeconfig(this.#cluster, 'controller'),
          NICPOOL_CONTROLLER_HOST: '127.0.0.1',
          NICPOOL_CONTROLLER_PORT: String(o.port),
          NICPOOL_CONTROLLER_IDENTITY: o.identity,
          NICPOOL_NAMESPACE: o.namespace,
          NICPOOL_LEASE_DURATION_SECONDS: String(lease.duration),
          NICPOOL_RENEW_DEADLINE_SECONDS: String(lease.renew),
          NICPOOL_RETRY_PERIOD_SECONDS: String(lease.retry),
          NICPOOL_GC_DELAY_SECONDS: String(o.gcDelaySeconds ?? 1),
          NICPOOL_GC_INTERVAL_SECONDS: String(o.gcIntervalSeconds ?? 600),
          NICPOOL_LOG_LEVEL: 'info',
          ...o.env,
        },
        stdio: ['ignore', log, log],
      },
    );
    await eventually(
      `controller ${o.identity} healthy`,
      async () => {
        const r = await fetch(`http://127.0.0.1:${o.port}/healthz`).catch(() => undefined);
        return r?.status === 200 ? true : undefined;
      },
      60_000,
      () => this.log().slice(-2000),
    );
  }

  /** The process is up (started, and not exited since). */
  get running(): boolean {
    return isRunning(this.#child);
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'controller.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async isLeader(): Promise<boolean> {
    return (await this.metric('nicpool_controller_leader')) === 1;
  }

  async metric(name: string, labels = ''): Promise<number | undefined> {
    const r = await fetch(`http://127.0.0.1:${this.opts.port}/metrics`).catch(() => undefined);
    if (r === undefined) return undefined;
    const text = await r.text();
    let sum: number | undefined;
    for (const line of text.split('\n')) {
      if (line.startsWith(`${name}${labels} `) || (labels === '' && line.startsWith(`${name}{`)))
        sum = (sum ?? 0) + Number(line.split(' ').pop());
    }
    return sum;
  }

  /** SIGKILL: a crashed leader that never gives its Lease back. */
  async kill9(): Promise<void> {
    await sigkill(this.#child);
  }

  async stop(): Promise<void> {
    await terminate(this.#child, 8000);
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
