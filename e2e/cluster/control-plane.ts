/**
 * A real, throwaway control plane on loopback: etcd, kube-apiserver and
 * kube-controller-manager built by build-components.sh, with a throwaway CA and admin token.
 * Used by `make cluster-up` / `make cluster-down` and by Jest's global setup.
 *
 * State of a running cluster is in `.nicpool/cluster.json` (pids, ports, dirs); the
 * kubeconfig is always `.nicpool/kubeconfig`. Both are git-ignored.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { issueServingCert } from './tls.ts';

const run = promisify(execFile);

export const REPO = resolve(import.meta.dirname, '..', '..');
/** The tutorial's manifests, byte for byte as published (see its README). */
export const TUTORIAL = resolve(REPO, 'e2e', 'fixtures', 'tutorial');
export const STATE_DIR = join(REPO, '.nicpool');
export const KUBECONFIG = join(STATE_DIR, 'kubeconfig');
const STATE_FILE = join(STATE_DIR, 'cluster.json');
/** Host links the node simulator created, one per line (removed by cluster-down). */
/** Every network namespace the node simulator creates starts with this. */
export const NETNS_PREFIX = 'nicpool-';

export interface ClusterState {
  readonly dir: string;
  readonly kubeconfig: string;
  readonly server: string;
  readonly token: string;
  readonly caFile: string;
  readonly ports: { etcd: number; etcdPeer: number; apiserver: number; controllerManager: number };
  readonly pids: Record<string, number>;
  readonly bin: Binaries;
  readonly startedAt: string;
}

export interface Binaries {
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  readonly kubectl: string;
  readonly multus: string;
  readonly whereabouts: string;
  readonly cniPluginDir: string;
}

function log(msg: string): void {
  process.stderr.write(`[cluster ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** Reads e2e/cluster/versions.env. */
export function versions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(join(import.meta.dirname, 'versions.env'), 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Where build-components.sh put each binary; fails with the command to run if missing. */
export function binaries(): Binaries {
  const v = versions();
  const cache = process.env['NICPOOL_CACHE'] ?? join(homedir(), '.cache', 'nicpool');
  const b: Binaries = {
    etcd: join(cache, `etcd-${v['ETCD_VERSION']}`, 'bin', 'etcd'),
    kubeApiserver: join(cache, `kubernetes-${v['KUBE_VERSION']}`, 'bin', 'kube-apiserver'),
    kubeControllerManager: join(
      cache,
      `kubernetes-${v['KUBE_VERSION']}`,
      'bin',
      'kube-controller-manager',
    ),
    kubectl: join(cache, `kubernetes-${v['KUBE_VERSION']}`, 'bin', 'kubectl'),
    multus: join(cache, `multus-${v['MULTUS_VERSION']}`, 'bin', 'multus'),
    whereabouts: join(cache, `whereabouts-${v['WHEREABOUTS_VERSION']}`, 'bin', 'whereabouts'),
    cniPluginDir: '/usr/lib/cni',
  };
  const missing = (Object.entries(b) as [string, string][]).filter(([, p]) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(
      `missing ${missing.map(([k, p]) => `${k} (${p})`).join(', ')}; run \`make components\` (e2e/cluster/build-components.sh) first`,
    );
  }
  return b;
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() =>
        typeof addr === 'object' && addr !== null ? res(addr.port) : rej(new Error('no port')),
      );
    });
  });
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

async function makeCerts(dir: string): Promise<void> {
  await issueServingCert(dir, {
    caName: 'nicpool-test-ca',
    name: 'apiserver',
    cn: 'kube-apiserver',
    san: [
      'IP:127.0.0.1',
      'DNS:localhost',
      'DNS:kubernetes',
      'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc',
    ],
    days: 2,
  });
  await openssl(dir, 'genrsa', '-out', 'sa.key', '2048');
  await openssl(dir, 'rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True when `pid` is still the process we started (pids get reused after a crash). */
function isOurs(pid: number, binary: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === binary;
  } catch {
    return false;
  }
}

function startProcess(dir: string, name: string, bin: string, args: readonly string[]): number {
  const out = openSync(join(dir, `${name}.log`), 'a');
  const child = spawn(bin, args, { detached: true, stdio: ['ignore', out, out], cwd: dir });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  return child.pid;
}

async function waitFor(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
  dir?: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastNote = Date.now();
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    if (Date.now() - lastNote > 10_000) {
      log(`still waiting for ${what}…`);
      lastNote = Date.now();
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const hint = dir === undefined ? '' : `; logs in ${dir}`;
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${hint}`);
}

/** GET against the API server with the admin token; resolves to the HTTP status and body. */
export async function apiGet(
  state: Pick<ClusterState, 'server' | 'token' | 'caFile'>,
  path: string,
): Promise<{ status: number; body: string }> {
  const { request } = await import('node:https');
  return new Promise((res, rej) => {
    const req = request(
      `${state.server}${path}`,
      {
        ca: readFileSync(state.caFile),
        headers: { Authorization: `Bearer ${state.token}` },
        timeout: 5000,
      },
      (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (body += c));
        r.on('end', () => res({ status: r.statusCode ?? 0, body }));
      },
    );
    req.on('error', rej);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** A kubeconfig for the local API server with a bearer token (admin or a ServiceAccount's). */
export function kubeconfigYAML(server: string, caFile: string, token: string): string {
  const ca = readFileSync(caFile).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: nicpool-test
  cluster:
    server: ${server}
    certificate-authority-data: ${ca}
users:
- name: admin
  user:
    token: ${token}
contexts:
- name: nicpool-test
  context:
    cluster: nicpool-test
    user: admin
current-context: nicpool-test
`;
}

export function readState(): ClusterState | undefined {
  try {
    return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

/** True when the recorded cluster's processes are ours and the API server is ready. */
export async function isHealthy(state: ClusterState): Promise<boolean> {
  const procs: [string, string][] = [
    ['etcd', state.bin.etcd],
    ['kube-apiserver', state.bin.kubeApiserver],
    ['kube-controller-manager', state.bin.kubeControllerManager],
  ];
  if (!procs.every(([n, b]) => state.pids[n] !== undefined && isOurs(state.pids[n], b)))
    return false;
  const r = await apiGet(state, '/readyz').catch(() => ({ status: 0, body: '' }));
  return r.status === 200;
}

/** Removes every `nicpool-*` netns and the links recorded by a node simulator. */
export async function cleanupSimLeftovers(): Promise<void> {
  const ip = async (...args: string[]): Promise<string> =>
    (await run('ip', args).catch(() => ({ stdout: '' }))).stdout;
  for (const line of (await ip('netns', 'list')).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (name.startsWith(NETNS_PREFIX)) await ip('netns', 'delete', name);
  }
}

/**
 * Stops the processes the recorded cluster started (by pid, only if they are still ours)
 * and removes its directory and the kubeconfig. Safe to call with no cluster.
 */
export async function stopCluster(): Promise<void> {
  await cleanupSimLeftovers();
  const state = readState();
  if (state === undefined) return;
  const bins: Record<string, string> = {
    etcd: state.bin.etcd,
    'kube-apiserver': state.bin.kubeApiserver,
    'kube-controller-manager': state.bin.kubeControllerManager,
  };
  const ours = Object.entries(state.pids).filter(
    ([n, pid]) => bins[n] !== undefined && isOurs(pid, bins[n]),
  );
  for (const [, pid] of ours) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 10_000;
  while (ours.some(([, pid]) => isAlive(pid)) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  for (const [, pid] of ours) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(state.dir, { recursive: true, force: true });
  rmSync(STATE_FILE, { force: true });
  rmSync(KUBECONFIG, { force: true });
  log(`stopped (${ours.length} processes), removed ${state.dir}`);
}

/** etcd's command line for a cluster (the same on every start: its data dir survives). */
function etcdArgs(st: Pick<ClusterState, 'dir' | 'ports'>): string[] {
  const etcdURL = `http://127.0.0.1:${st.ports.etcd}`;
  const peerURL = `http://127.0.0.1:${st.ports.etcdPeer}`;
  return [
    '--name=default',
    `--data-dir=${join(st.dir, 'etcd')}`,
    `--listen-client-urls=${etcdURL}`,
    `--advertise-client-urls=${etcdURL}`,
    `--listen-peer-urls=${peerURL}`,
    `--initial-advertise-peer-urls=${peerURL}`,
    `--initial-cluster=default=${peerURL}`,
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

/** kube-apiserver's command line for a cluster. */
function apiserverArgs(st: Pick<ClusterState, 'dir' | 'ports' | 'caFile'>): string[] {
  const dir = st.dir;
  return [
    `--etcd-servers=http://127.0.0.1:${st.ports.etcd}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${st.ports.apiserver}`,
    '--endpoint-reconciler-type=none',
    `--tls-cert-file=${join(dir, 'apiserver.crt')}`,
    `--tls-private-key-file=${join(dir, 'apiserver.key')}`,
    `--client-ca-file=${st.caFile}`,
    `--token-auth-file=${join(dir, 'tokens.csv')}`,
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${join(dir, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
    '--service-cluster-ip-range=10.96.0.0/12',
    '--allow-privileged=true',
    '--v=1',
  ];
}

/**
 * A fault for the soak: SIGKILLs etcd or kube-apiserver of the recorded cluster, waits
 * `downMs`, starts it again with the same command line and data, records its new pid and
 * waits until it serves again.
 */
export async function killAndRestart(
  name: 'etcd' | 'kube-apiserver',
  downMs: number,
): Promise<void> {
  const st = readState();
  if (st === undefined) throw new Error('no recorded cluster');
  const pid = st.pids[name];
  const bin = name === 'etcd' ? st.bin.etcd : st.bin.kubeApiserver;
  if (pid !== undefined && isOurs(pid, bin)) {
    process.kill(pid, 'SIGKILL');
    for (const t0 = Date.now(); isAlive(pid) && Date.now() - t0 < 10_000;)
      await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, downMs));
  const pids = { ...st.pids };
  pids[name] = startProcess(st.dir, name, bin, name === 'etcd' ? etcdArgs(st) : apiserverArgs(st));
  writeFileSync(STATE_FILE, JSON.stringify({ ...st, pids }, null, 2));
  await waitFor(
    `${name} serving again`,
    120_000,
    async () =>
      name === 'etcd'
        ? (await fetch(`http://127.0.0.1:${st.ports.etcd}/health`)).ok
        : (await apiGet(st, '/readyz')).status === 200,
    st.dir,
  );
}

/** Starts a fresh control plane, cleaning up the leftovers of a crashed run first. */
export async function startCluster(): Promise<ClusterState> {
  const bin = binaries();
  await stopCluster();
  mkdirSync(STATE_DIR, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'nicpool-cluster-'));
  log(`starting in ${dir}`);
  await makeCerts(dir);
  const token = randomBytes(24).toString('hex');
  writeFileSync(join(dir, 'tokens.csv'), `${token},admin,admin-uid,"system:masters"\n`, {
    mode: 0o600,
  });
  const ports = {
    etcd: await freePort(),
    etcdPeer: await freePort(),
    apiserver: await freePort(),
    controllerManager: await freePort(),
  };
  const pids: Record<string, number> = {};
  const server = `https://127.0.0.1:${ports.apiserver}`;
  const caFile = join(dir, 'ca.crt');
  const partial = {
    dir,
    kubeconfig: KUBECONFIG,
    server,
    token,
    caFile,
    ports,
    pids,
    bin,
    startedAt: new Date().toISOString(),
  };
  // Record the state early so a failed start is still cleaned up by the next start or down.
  const save = (): void => writeFileSync(STATE_FILE, JSON.stringify(partial, null, 2));
  save();

  const etcdURL = `http://127.0.0.1:${ports.etcd}`;
  pids['etcd'] = startProcess(dir, 'etcd', bin.etcd, etcdArgs(partial));
  save();
  await waitFor('etcd', 30_000, async () => (await fetch(`${etcdURL}/health`)).ok, dir);
  log('etcd ready');

  pids['kube-apiserver'] = startProcess(
    dir,
    'kube-apiserver',
    bin.kubeApiserver,
    apiserverArgs(partial),
  );
  save();
  await waitFor(
    'kube-apiserver /readyz',
    120_000,
    async () => (await apiGet(partial, '/readyz')).status === 200,
    dir,
  );
  log(`kube-apiserver ready at ${server}`);
  writeFileSync(KUBECONFIG, kubeconfigYAML(server, caFile, token), { mode: 0o600 });

  pids['kube-controller-manager'] = startProcess(
    dir,
    'kube-controller-manager',
    bin.kubeControllerManager,
    [
      `--kubeconfig=${KUBECONFIG}`,
      `--authentication-kubeconfig=${KUBECONFIG}`,
      `--authorization-kubeconfig=${KUBECONFIG}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${ports.controllerManager}`,
      '--leader-elect=false',
      `--service-account-private-key-file=${join(dir, 'sa.key')}`,
      `--root-ca-file=${caFile}`,
      '--use-service-account-credentials=true',
      // No kubelets heartbeat here: the node simulator plays them, so node lifecycle and
      // taint eviction would evict every simulated pod after the unreachable timeout.
      '--controllers=*,-node-lifecycle-controller,-taint-eviction-controller',
      '--v=1',
    ],
  );
  save();
  await waitFor(
    'the default ServiceAccount (kube-controller-manager running)',
    120_000,
    async () =>
      (await apiGet(partial, '/api/v1/namespaces/default/serviceaccounts/default')).status === 200,
    dir,
  );
  log('kube-controller-manager ready');

  await kubectl(partial, ['apply', '--server-side', '-f', join(REPO, 'deploy', 'crds')]);
  await kubectl(partial, [
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    '-f',
    join(REPO, 'deploy', 'crds'),
  ]);
  log('CRDs established');
  return partial;
}

/** Runs kubectl against the cluster; rejects with kubectl's stderr on failure. */
export async function kubectl(
  state: Pick<ClusterState, 'bin' | 'kubeconfig'>,
  args: readonly string[],
  input?: string,
): Promise<string> {
  return new Promise((res, rej) => {
    const child = execFile(
      state.bin.kubectl,
      args,
      { env: { ...process.env, KUBECONFIG: state.kubeconfig }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error)
          rej(
            Object.assign(
              new Error(`kubectl ${args.join(' ')} failed: ${stderr || error.message}`),
              { stderr, stdout },
            ),
          );
        else res(stdout);
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Returns the running cluster if healthy, else starts one. `started` says which. */
export async function ensureCluster(): Promise<{ state: ClusterState; started: boolean }> {
  const existing = readState();
  if (existing !== undefined && (await isHealthy(existing))) {
    await kubectl(existing, ['apply', '--server-side', '-f', join(REPO, 'deploy', 'crds')]);
    return { state: existing, started: false };
  }
  return { state: await startCluster(), started: true };
}
