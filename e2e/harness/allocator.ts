// Runs real allocator processes (apps/allocator/src/main.ts on Node 24) for e2e suites,
// and talks to them over their Unix sockets the way the shim does.
import { isRunning, sigkill, terminate } from './process.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, type ClusterState } from '../cluster/control-plane.ts';
import { componentKubeconfig } from './identity.ts';
import { eventually } from './helpers.ts';

export interface Reply {
  readonly status: number;
  readonly json: unknown;
}

/** One HTTP request over a Unix socket, with Content-Length (as the shim sends it). */
export function socketCall(
  socketPath: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Reply> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((res, rej) => {
    const headers =
      text === undefined
        ? {}
        : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) };
    const req = request(
      { socketPath, path, method, headers, timeout: 60_000, agent: false },
      (r) => {
        let out = '';
        r.on('data', (c: Buffer) => (out += c.toString()));
        r.on('end', () =>
          res({
            status: r.statusCode ?? 0,
            json: out === '' ? undefined : (JSON.parse(out) as unknown),
          }),
        );
      },
    );
    req.on('error', rej);
    req.end(text);
  });
}

export class AllocatorProcess {
  readonly node: string;
  readonly socket: string;
  readonly dir: string;
  readonly port: number;
  #child: ChildProcess | undefined;
  readonly #cluster: ClusterState;

  constructor(cluster: ClusterState, node: string, port: number, socket?: string) {
    this.#cluster = cluster;
    this.node = node;
    this.port = port;
    this.dir = mkdtempSync(join(tmpdir(), `nicpool-alloc-${node}-`));
    this.socket = socket ?? join(this.dir, 'spiderpool.sock');
  }

  /** OS pid of the running process (for /proc figures in benchmarks). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** `env` adds to the process's environment (e.g. NICPOOL_MAX_RECORDS_PER_POOL, NODE_OPTIONS). */
  async start(env: Readonly<Record<string, string>> = {}): Promise<void> {
    const log = openSync(join(this.dir, 'allocator.log'), 'a');
    this.#child = spawn(
      join(REPO, 'node_modules', '.bin', 'node'),
      [join(REPO, 'apps', 'allocator', 'src', 'main.ts')],
      {
        env: {
          PATH: process.env['PATH'],
          NODE_NAME: this.node,
          NICPOOL_SOCKET_PATH: this.socket,
          NICPOOL_ALLOCATOR_HOST: '127.0.0.1',
          NICPOOL_ALLOCATOR_PORT: String(this.port),
          // Its own ServiceAccount and the RBAC from deploy/, never the admin token.
          KUBECONFIG: await componentKubeconfig(this.#cluster, 'allocator'),
          NICPOOL_LOG_LEVEL: 'warn',
          ...env,
        },
        stdio: ['ignore', log, log],
      },
    );
    await eventually(
      `allocator ${this.node} healthy`,
      async () =>
        (await socketCall(this.socket, 'GET', '/v1/ipam/healthy')).status === 200
          ? true
          : undefined,
      60_000,
    );
  }

  /** The process is up (started, and not exited since). */
  get running(): boolean {
    return isRunning(this.#child);
  }

  /** SIGKILL: no graceful shutdown, like a crashed or OOM-killed agent. */
  async kill9(): Promise<void> {
    await sigkill(this.#child);
  }

  async stop(): Promise<void> {
    await terminate(this.#child, 5000);
  }

  async metric(name: string): Promise<number> {
    const r = await fetch(`http://127.0.0.1:${this.port}/metrics`);
    const text = await r.text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith(`${name} `) || line.startsWith(`${name}{`))
        sum += Number(line.split(' ').pop());
    }
    return sum;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
