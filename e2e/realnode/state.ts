/**
 * The real node's record and handle: its state file, the binaries it runs, the RealNode
 * class suites use (kubectl, ctr, image imports, health) and the progress lines of up and down.
 */
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import {
  REPO,
  STATE_DIR,
  binaries,
  kubectl,
  versions,
  type Binaries,
} from '../cluster/control-plane.ts';
import { run } from '../sim/run.ts';
import { NODE_IP, NODE_NAME, PATHS, PORTS } from './config.ts';
import { runningPid } from './proc.ts';

/** Archives `make images` writes; every one present is imported at up. */
export const IMAGES_DIR = join(REPO, 'dist', 'images');
/** Logs of the last failed up (the state dir itself is gone after its teardown). */
export const FAILED_LOGS = join(STATE_DIR, 'realnode-logs');

export interface RealNodeBinaries extends Binaries {
  readonly kubelet: string;
  readonly kubeScheduler: string;
  readonly kubeProxy: string;
  readonly containerd: string;
  readonly ctr: string;
  readonly runc: string;
}

export interface RealNodeState {
  readonly dir: string;
  readonly kubeconfig: string;
  readonly server: string;
  readonly token: string;
  readonly caFile: string;
  readonly nodeName: string;
  readonly nodeIP: string;
  readonly bin: RealNodeBinaries;
  /** `cli`: make node-up (left running by tests); `test`: ensureRealNode (stopped by the teardown). */
  readonly startedBy: 'cli' | 'test';
  readonly startedAt: string;
  /** Archive path → "size:mtime" when it was imported, so a rebuilt archive is imported again. */
  readonly images: Record<string, string>;
}

/** Components in start order; stopped in the order of realnode.md §2.11. */
export const COMPONENTS = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'containerd',
  'kubelet',
  'kube-proxy',
] as const;
export type Component = (typeof COMPONENTS)[number];

export const ENV = {
  ...process.env,
  // The components exec nft, mount, the shim and runc: sbin must be on PATH (Jest's may lack it).
  PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
};

/** Off while down only checks for leftovers before an up, so that finding none prints nothing. */
let verbose = true;

/** Runs `f` with progress lines off. */
export async function quietly<T>(f: () => Promise<T>): Promise<T> {
  verbose = false;
  try {
    return await f();
  } finally {
    verbose = true;
  }
}

export function log(msg: string): void {
  if (verbose)
    process.stderr.write(`[realnode ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** Runs one step of up or down with a progress line and its time. */
export async function step<T>(what: string, f: () => Promise<T> | T): Promise<T> {
  const t0 = Date.now();
  const r = await f();
  log(`${what} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return r;
}

/** The last lines of a component's log, for an error message. */
function logTail(c: Component, lines = 15): string {
  try {
    const text = readFileSync(join(PATHS.logs, `${c}.log`), 'utf8')
      .trimEnd()
      .split('\n');
    return text.slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Polls `probe` until it holds. With `component`, fails at once when that process has
 * exited, with the end of its log, instead of waiting out the timeout.
 */
export async function until(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
  component?: Component,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let note = Date.now();
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    if (component !== undefined && runningPid(component) === undefined)
      throw new Error(
        `${component} exited while waiting for ${what}; its log ends:\n${logTail(component)}`,
      );
    if (Date.now() - note > 10_000) {
      log(`still waiting for ${what}…`);
      note = Date.now();
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
}

/** The binaries the node runs; fails naming what to install or build. */
export function realNodeBinaries(): RealNodeBinaries {
  const base = binaries();
  const kube = join(base.kubectl, '..');
  const b: RealNodeBinaries = {
    ...base,
    kubelet: join(kube, 'kubelet'),
    kubeScheduler: join(kube, 'kube-scheduler'),
    kubeProxy: join(kube, 'kube-proxy'),
    containerd: '/usr/bin/containerd',
    ctr: '/usr/bin/ctr',
    runc: '/usr/sbin/runc',
  };
  const missing = (['kubelet', 'kubeScheduler', 'kubeProxy'] as const).filter(
    (k) => !existsSync(b[k]),
  );
  if (missing.length > 0)
    throw new Error(
      `missing ${missing.map((k) => b[k]).join(', ')} (Kubernetes ${versions()['KUBE_VERSION']}); run \`make components\` (e2e/cluster/build-components.sh)`,
    );
  const debian = (['containerd', 'ctr', 'runc'] as const).filter((k) => !existsSync(b[k]));
  if (debian.length > 0)
    throw new Error(
      `missing ${debian.map((k) => b[k]).join(', ')}; run \`make components\` (installs Debian's containerd and runc) or \`apt-get install containerd runc\``,
    );
  return b;
}

export function readState(): RealNodeState | undefined {
  try {
    return JSON.parse(readFileSync(PATHS.state, 'utf8')) as RealNodeState;
  } catch {
    return undefined;
  }
}

export function saveState(s: RealNodeState): void {
  writeFileSync(PATHS.state, JSON.stringify(s, null, 2), { mode: 0o600 });
}

/** GET on the node's API server with the admin token: status code, 0 when unreachable. */
export function apiStatus(
  s: Pick<RealNodeState, 'server' | 'token' | 'caFile'>,
  path: string,
): Promise<number> {
  return new Promise((res) => {
    const req = request(
      `${s.server}${path}`,
      {
        ca: readFileSync(s.caFile),
        headers: { Authorization: `Bearer ${s.token}` },
        timeout: 5000,
      },
      (r) => {
        r.resume();
        r.on('end', () => res(r.statusCode ?? 0));
      },
    );
    req.on('error', () => res(0));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

export async function httpOk(url: string): Promise<boolean> {
  return (await fetch(url, { signal: AbortSignal.timeout(3000) })).ok;
}

/** A running real node: its kubeconfig, kubectl and ctr. */
export class RealNode {
  readonly state: RealNodeState;

  constructor(state: RealNodeState) {
    this.state = state;
  }

  /** Admin kubeconfig of the node's API server (https://10.251.0.1:6443). */
  get kubeconfig(): string {
    return this.state.kubeconfig;
  }
  get nodeName(): string {
    return this.state.nodeName;
  }
  get nodeIP(): string {
    return this.state.nodeIP;
  }
  /** The runtime's CNI bin dir: nicpool's DaemonSet installs `spiderpool` and `veth` here. */
  get cniBinDir(): string {
    return PATHS.cniBin;
  }
  get cniConfDir(): string {
    return PATHS.cniConf;
  }
  get containerdSocket(): string {
    return PATHS.containerdSock;
  }
  get logsDir(): string {
    return PATHS.logs;
  }

  /** kubectl against the node's API server; rejects with kubectl's stderr. */
  kubectl(args: readonly string[], input?: string): Promise<string> {
    return kubectl(this.state, args, input);
  }

  /** ctr in containerd's `k8s.io` namespace (the one the kubelet's pods use). */
  async ctr(args: readonly string[]): Promise<string> {
    const r = await run({
      cmd: this.state.bin.ctr,
      args: ['--address', PATHS.containerdSock, '--namespace', 'k8s.io', ...args],
      timeoutMs: 300_000,
    });
    if (r.code !== 0) throw new Error(`ctr ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** Image names containerd has, for pods with `imagePullPolicy: IfNotPresent`. */
  async images(): Promise<string[]> {
    return (await this.ctr(['images', 'list', '--quiet'])).split('\n').filter((l) => l !== '');
  }

  /**
   * Imports every dist/images/*.oci.tar that is new or rebuilt since the last import (and
   * `extra` archives); returns the archives it imported.
   */
  async importImages(extra: readonly string[] = []): Promise<string[]> {
    const archives = [...extra, ...imageArchives()];
    const done: string[] = [];
    const images = { ...this.state.images };
    for (const a of archives) {
      const st = statSync(a);
      const stamp = `${st.size}:${st.mtimeMs}`;
      if (images[a] === stamp) continue;
      const t0 = Date.now();
      await this.ctr(['images', 'import', a]);
      images[a] = stamp;
      done.push(a);
      log(
        `imported ${a} (${((Date.now() - t0) / 1000).toFixed(1)} s, ${(st.size / 2 ** 20).toFixed(1)} MiB)`,
      );
    }
    if (done.length > 0) {
      (this as { state: RealNodeState }).state = { ...this.state, images };
      saveState(this.state);
    }
    return done;
  }

  /** True when every component is ours and running, the API server ready and the Node Ready. */
  async healthy(): Promise<boolean> {
    if (!COMPONENTS.every((c) => runningPid(c) !== undefined)) return false;
    if ((await apiStatus(this.state, '/readyz')) !== 200) return false;
    return (
      (await nodeReady(this)) &&
      (await httpOk(`http://${NODE_IP}:${PORTS.kubeProxyHealthz}/healthz`).catch(() => false))
    );
  }
}

export function imageArchives(): string[] {
  if (!existsSync(IMAGES_DIR)) return [];
  // Smallest first: the sandbox and test images are in before the nicpool image's long unpack.
  return readdirSync(IMAGES_DIR)
    .filter((f) => f.endsWith('.oci.tar'))
    .map((f) => join(IMAGES_DIR, f))
    .sort((a, b) => statSync(a).size - statSync(b).size);
}

export async function nodeReady(node: RealNode): Promise<boolean> {
  const out = await node
    .kubectl([
      'get',
      'node',
      NODE_NAME,
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
    ])
    .catch(() => '');
  return out.trim() === 'True';
}
