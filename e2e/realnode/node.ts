/**
 * A real kubelet node for the test harness (issue 16 item 2): its own etcd, kube-apiserver
 * (on the node IP 10.251.0.1), kube-controller-manager with every controller and
 * kube-scheduler; Debian's containerd 1.6 with runc; kubelet v1.36.3; kube-proxy in nftables
 * mode; Multus thin as the CNI with a CNI bin dir and conf dir of its own; images imported
 * from OCI archives, never pulled. The recipe and every obstacle: /work/shared/spec/realnode.md;
 * what it changes on the host and how that is undone: docs/realnode.md.
 *
 * `make node-up` / `make node-down` (cli.ts), or in a Jest suite:
 *   const node = await ensureRealNode();      // up once per run, reused by later suites
 *   await node.kubectl(['get', 'nodes']);
 * A node started by a suite is stopped by the e2e global teardown (stopRealNodeStartedByTests);
 * one started by `make node-up` is reused and left running.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  REPO,
  STATE_DIR,
  binaries,
  kubeconfigYAML,
  kubectl,
  versions,
  type Binaries,
} from '../cluster/control-plane.ts';
import { issueServingCert } from '../cluster/tls.ts';
import { run } from '../sim/run.ts';
import {
  BRIDGE,
  KUBERNETES_SERVICE_IP,
  NODE_IP,
  NODE_NAME,
  PATHS,
  PORTS,
  RN,
  clusterNetworkNAD,
  containerdConfig,
  kubeProxyConfig,
  kubeletConfig,
  multusConf,
} from './config.ts';
import {
  cgroupPids,
  cleanHostPaths,
  createGuard,
  createLinks,
  deleteLinks,
  deleteNftTables,
  readHostRecord,
  recordHost,
  type HostRecord,
  removeCgroups,
  restoreSysctls,
  unmountAll,
} from './host.ts';
import { PAUSE_IMAGE, buildPauseArchive } from './pause.ts';
import {
  processesNamingStateDir,
  runningPid,
  startProcess,
  stopPids,
  stopProcess,
} from './proc.ts';

const exec = promisify(execFile);

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
const COMPONENTS = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'containerd',
  'kubelet',
  'kube-proxy',
] as const;
type Component = (typeof COMPONENTS)[number];

const ENV = {
  ...process.env,
  // The components exec nft, mount, the shim and runc: sbin must be on PATH (Jest's may lack it).
  PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
};

/** Off while down only checks for leftovers before an up, so that finding none prints nothing. */
let verbose = true;

function log(msg: string): void {
  if (verbose)
    process.stderr.write(`[realnode ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** Runs one step of up or down with a progress line and its time. */
async function step<T>(what: string, f: () => Promise<T> | T): Promise<T> {
  const t0 = Date.now();
  const r = await f();
  log(`${what} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return r;
}

async function until(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let note = Date.now();
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    if (Date.now() - note > 10_000) {
      log(`still waiting for ${what}…`);
      note = Date.now();
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `timed out after ${timeoutMs / 1000} s waiting for ${what}; logs in ${PATHS.logs}`,
  );
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

function readState(): RealNodeState | undefined {
  try {
    return JSON.parse(readFileSync(PATHS.state, 'utf8')) as RealNodeState;
  } catch {
    return undefined;
  }
}

function saveState(s: RealNodeState): void {
  writeFileSync(PATHS.state, JSON.stringify(s, null, 2), { mode: 0o600 });
}

/** GET on the node's API server with the admin token: status code, 0 when unreachable. */
function apiStatus(
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

async function httpOk(url: string): Promise<boolean> {
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

function imageArchives(): string[] {
  if (!existsSync(IMAGES_DIR)) return [];
  // Smallest first: the sandbox and test images are in before the nicpool image's long unpack.
  return readdirSync(IMAGES_DIR)
    .filter((f) => f.endsWith('.oci.tar'))
    .map((f) => join(IMAGES_DIR, f))
    .sort((a, b) => statSync(a).size - statSync(b).size);
}

async function nodeReady(node: RealNode): Promise<boolean> {
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

async function openssl(...args: string[]): Promise<void> {
  await exec('openssl', args, { cwd: PATHS.pki });
}

/** CA, the API server's serving cert, the kubelet client cert, the ServiceAccount keys, tokens. */
async function makePki(): Promise<{ token: string; nodeToken: string; proxyToken: string }> {
  mkdirSync(PATHS.pki, { recursive: true });
  await issueServingCert(PATHS.pki, {
    caName: 'nicpool-realnode-ca',
    name: 'apiserver',
    cn: 'kube-apiserver',
    san: [
      `IP:${NODE_IP}`,
      `IP:${KUBERNETES_SERVICE_IP}`,
      'IP:127.0.0.1',
      'DNS:localhost',
      'DNS:kubernetes',
      'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc',
      'DNS:kubernetes.default.svc.cluster.local',
    ],
    days: 30,
  });
  // The API server's client identity at the kubelet (kubectl logs/exec), allowed as a master.
  await openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'kubelet-client.key',
    '-out',
    'kubelet-client.csr',
    '-subj',
    '/O=system:masters/CN=kube-apiserver-kubelet-client',
  );
  await openssl(
    'x509',
    '-req',
    '-in',
    'kubelet-client.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'kubelet-client.crt',
    '-days',
    '30',
  );
  await openssl('genrsa', '-out', 'sa.key', '2048');
  await openssl('rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub');
  const [token, nodeToken, proxyToken] = [0, 1, 2].map(() => randomBytes(24).toString('hex')) as [
    string,
    string,
    string,
  ];
  writeFileSync(
    join(PATHS.pki, 'tokens.csv'),
    [
      `${token},admin,admin-uid,"system:masters"`,
      `${nodeToken},system:node:${NODE_NAME},node-uid,"system:nodes"`,
      `${proxyToken},system:kube-proxy,kube-proxy-uid`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return { token, nodeToken, proxyToken };
}

function apiserverArgs(): string[] {
  const p = (f: string): string => join(PATHS.pki, f);
  return [
    `--etcd-servers=http://127.0.0.1:${PORTS.etcd}`,
    `--bind-address=${NODE_IP}`,
    `--advertise-address=${NODE_IP}`,
    `--secure-port=${PORTS.apiserver}`,
    `--tls-cert-file=${p('apiserver.crt')}`,
    `--tls-private-key-file=${p('apiserver.key')}`,
    `--client-ca-file=${p('ca.crt')}`,
    `--token-auth-file=${p('tokens.csv')}`,
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    // The API server would resolve the node's hostname through the machine's resolver.
    '--kubelet-preferred-address-types=InternalIP',
    `--kubelet-client-certificate=${p('kubelet-client.crt')}`,
    `--kubelet-client-key=${p('kubelet-client.key')}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${p('sa.pub')}`,
    `--service-account-signing-key-file=${p('sa.key')}`,
    '--service-cluster-ip-range=10.96.0.0/12',
    '--allow-privileged=true',
    '--v=1',
  ];
}

function etcdArgs(): string[] {
  const client = `http://127.0.0.1:${PORTS.etcd}`;
  const peer = `http://127.0.0.1:${PORTS.etcdPeer}`;
  return [
    '--name=realnode',
    `--data-dir=${PATHS.etcd}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=realnode=${peer}`,
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

/** Fails early, and clearly, when a fixed port is taken by something else. */
async function checkPortsFree(): Promise<void> {
  const taken: string[] = [];
  const out = (await run({ cmd: 'ss', args: ['-Htln'] })).stdout;
  for (const [name, port] of Object.entries(PORTS))
    if (new RegExp(`[:.]${port}\\s`).test(out)) taken.push(`${name} ${port}`);
  if (taken.length > 0)
    throw new Error(
      `ports the real node needs are in use (${taken.join(', ')}); \`ss -tlnp\` shows by whom (a real node left running? \`make node-down\`)`,
    );
}

/** Starts a fresh real node, cleaning up the leftovers of a crashed run first. */
export async function startRealNode(startedBy: 'cli' | 'test' = 'cli'): Promise<RealNode> {
  if (process.getuid?.() !== 0)
    throw new Error('the real node needs root (links, mounts, cgroups)');
  const t0 = Date.now();
  const bin = realNodeBinaries();
  await stopRealNode({ quiet: true });
  await checkPortsFree();
  rmSync(FAILED_LOGS, { recursive: true, force: true });
  for (const d of [RN, PATHS.logs, PATHS.pids, PATHS.images, PATHS.kubeProxy, PATHS.cniIpam])
    mkdirSync(d, { recursive: true });
  log(`starting in ${RN}`);
  try {
    const node = await bringUp(bin, startedBy);
    log(
      `ready in ${((Date.now() - t0) / 1000).toFixed(1)} s: node ${NODE_NAME} ${NODE_IP}, API ${node.state.server}`,
    );
    return node;
  } catch (e) {
    log(`up failed: ${e instanceof Error ? e.message : String(e)}; tearing down`);
    await stopRealNode({ keepLogs: true, quiet: true }).catch((err: unknown) =>
      log(`teardown after the failed up failed too: ${String(err)}`),
    );
    throw new Error(`${e instanceof Error ? e.message : String(e)} (logs kept in ${FAILED_LOGS})`, {
      cause: e,
    });
  }
}

async function bringUp(bin: RealNodeBinaries, startedBy: 'cli' | 'test'): Promise<RealNode> {
  await step('host: sysctls and host paths recorded', () => recordHost());
  await step(`host: ${BRIDGE} ${NODE_IP}/24, ens192, ens224, guard table`, async () => {
    await createLinks();
    await createGuard();
  });
  const { token, nodeToken, proxyToken } = await step('certificates and tokens', makePki);
  const server = `https://${NODE_IP}:${PORTS.apiserver}`;
  const caFile = join(PATHS.pki, 'ca.crt');
  const state: RealNodeState = {
    dir: RN,
    kubeconfig: PATHS.kubeconfig,
    server,
    token,
    caFile,
    nodeName: NODE_NAME,
    nodeIP: NODE_IP,
    bin,
    startedBy,
    startedAt: new Date().toISOString(),
    images: {},
  };
  saveState(state);
  const node = new RealNode(state);
  const start = (c: Component, b: string, args: readonly string[]): number =>
    startProcess(c, b, args, ENV);

  await step('etcd', async () => {
    start('etcd', bin.etcd, etcdArgs());
    await until('etcd', 30_000, () => httpOk(`http://127.0.0.1:${PORTS.etcd}/health`));
  });
  await step(`kube-apiserver on ${server}`, async () => {
    start('kube-apiserver', bin.kubeApiserver, apiserverArgs());
    await until(
      'kube-apiserver /readyz',
      120_000,
      async () => (await apiStatus(state, '/readyz')) === 200,
    );
  });
  writeFileSync(PATHS.kubeconfig, kubeconfigYAML(server, caFile, token), { mode: 0o600 });
  const kubeletKubeconfig = join(PATHS.kubelet, 'kubelet.kubeconfig');
  const proxyKubeconfig = join(PATHS.kubeProxy, 'kube-proxy.kubeconfig');
  mkdirSync(PATHS.kubelet, { recursive: true });
  mkdirSync(join(PATHS.cniBin), { recursive: true });
  writeFileSync(kubeletKubeconfig, kubeconfigYAML(server, caFile, nodeToken), { mode: 0o600 });
  writeFileSync(proxyKubeconfig, kubeconfigYAML(server, caFile, proxyToken), { mode: 0o600 });
  writeFileSync(PATHS.multusKubeconfig, kubeconfigYAML(server, caFile, token), { mode: 0o600 });

  await step('kube-controller-manager (all controllers) and kube-scheduler', async () => {
    const kc = PATHS.kubeconfig;
    start('kube-controller-manager', bin.kubeControllerManager, [
      `--kubeconfig=${kc}`,
      `--authentication-kubeconfig=${kc}`,
      `--authorization-kubeconfig=${kc}`,
      `--bind-address=${NODE_IP}`,
      `--secure-port=${PORTS.controllerManager}`,
      '--leader-elect=false',
      `--service-account-private-key-file=${join(PATHS.pki, 'sa.key')}`,
      `--root-ca-file=${caFile}`,
      '--use-service-account-credentials=true',
      // Its default, /usr/libexec/kubernetes/kubelet-plugins/volume/exec, would be created on the host.
      `--flex-volume-plugin-dir=${join(PATHS.kubelet, 'volume-plugins')}`,
      '--v=1',
    ]);
    start('kube-scheduler', bin.kubeScheduler, [
      `--kubeconfig=${kc}`,
      `--authentication-kubeconfig=${kc}`,
      `--authorization-kubeconfig=${kc}`,
      `--bind-address=${NODE_IP}`,
      `--secure-port=${PORTS.scheduler}`,
      '--leader-elect=false',
      '--v=1',
    ]);
    await until(
      'the default ServiceAccount (kube-controller-manager running)',
      120_000,
      async () =>
        (await apiStatus(state, '/api/v1/namespaces/default/serviceaccounts/default')) === 200,
    );
  });
  await step('RBAC for kube-proxy, the NAD CRD and the cluster network NAD', async () => {
    await node.kubectl([
      'create',
      'clusterrolebinding',
      'realnode-kube-proxy',
      '--clusterrole=system:node-proxier',
      '--user=system:kube-proxy',
    ]);
    const crd = join(REPO, 'deploy', 'crds', 'k8s.cni.cncf.io_network-attachment-definitions.yaml');
    await node.kubectl(['apply', '--server-side', '-f', crd]);
    await node.kubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', crd]);
    await node.kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(clusterNetworkNAD()));
  });

  await step('containerd', async () => {
    mkdirSync(PATHS.containerd, { recursive: true });
    mkdirSync(join(RN, 'run'), { recursive: true });
    writeFileSync(join(PATHS.containerd, 'config.toml'), containerdConfig(PAUSE_IMAGE));
    start('containerd', bin.containerd, ['--config', join(PATHS.containerd, 'config.toml')]);
    await until(
      'containerd',
      30_000,
      async () =>
        (await run({ cmd: bin.ctr, args: ['--address', PATHS.containerdSock, 'version'] })).code ===
        0,
    );
  });
  // The imports (the nicpool image's takes seconds) run while the kubelet and kube-proxy start.
  const images = step('images imported', async () => {
    const own = join(IMAGES_DIR, 'pause.oci.tar');
    const extra = existsSync(own) ? [] : [await buildPauseArchive(PATHS.images)];
    if (extra.length > 0) log(`no ${own} (make images): built ${PAUSE_IMAGE} into ${PATHS.images}`);
    await node.importImages(extra);
    if (!(await node.images()).includes(PAUSE_IMAGE))
      throw new Error(
        `the sandbox image ${PAUSE_IMAGE} is not in containerd after the import of ${extra[0] ?? own}`,
      );
  });
  images.catch(() => undefined); // awaited below; a failed step before that tears everything down
  await step('CNI: Multus thin over /usr/lib/cni, private bin and conf dirs', () => {
    for (const f of readdirSync(bin.cniPluginDir))
      symlinkSync(join(bin.cniPluginDir, f), join(PATHS.cniBin, f));
    symlinkSync(bin.multus, join(PATHS.cniBin, 'multus'));
    mkdirSync(PATHS.cniConf, { recursive: true });
    mkdirSync(PATHS.multusCache, { recursive: true });
    writeFileSync(join(PATHS.cniConf, '00-multus.conf'), JSON.stringify(multusConf(), null, 2));
  });
  await step(`kubelet, Node ${NODE_NAME} Ready`, async () => {
    for (const d of ['root', 'pki', 'manifests', 'pod-logs', 'volume-plugins'])
      mkdirSync(join(PATHS.kubelet, d), { recursive: true });
    writeFileSync(join(PATHS.kubelet, 'config.yaml'), kubeletConfig(caFile));
    start('kubelet', bin.kubelet, [
      `--config=${join(PATHS.kubelet, 'config.yaml')}`,
      `--kubeconfig=${kubeletKubeconfig}`,
      `--root-dir=${PATHS.kubeletRoot}`,
      `--cert-dir=${join(PATHS.kubelet, 'pki')}`,
      `--hostname-override=${NODE_NAME}`,
      `--node-ip=${NODE_IP}`,
      '--v=2',
    ]);
    await until(`Node ${NODE_NAME} Ready`, 120_000, () => nodeReady(node));
  });
  await step('kube-proxy (nftables)', async () => {
    writeFileSync(join(PATHS.kubeProxy, 'config.yaml'), kubeProxyConfig(proxyKubeconfig));
    start('kube-proxy', bin.kubeProxy, [
      `--config=${join(PATHS.kubeProxy, 'config.yaml')}`,
      '--v=1',
    ]);
    await until('kube-proxy /healthz', 60_000, () =>
      httpOk(`http://${NODE_IP}:${PORTS.kubeProxyHealthz}/healthz`),
    );
  });
  await images;
  return node;
}

/** The running node if healthy (importing archives rebuilt since), else a fresh one. */
export async function ensureRealNode(): Promise<RealNode> {
  const s = readState();
  if (s !== undefined) {
    const node = new RealNode(s);
    if (await node.healthy()) {
      await node.importImages();
      return node;
    }
    log('the recorded real node is not healthy: starting a fresh one');
  }
  return startRealNode('test');
}

/** The recorded node, healthy or not (for status). */
export function recordedRealNode(): RealNode | undefined {
  const s = readState();
  return s === undefined ? undefined : new RealNode(s);
}

/** For the e2e global teardown: stops the node only if a suite started it. */
export async function stopRealNodeStartedByTests(): Promise<void> {
  if (readState()?.startedBy === 'test') await stopRealNode();
}

/** Deletes every pod through the API while the kubelet and containerd still run (CNI DEL). */
async function deletePods(node: RealNode): Promise<void> {
  const list = JSON.parse(await node.kubectl(['get', 'pods', '-A', '-o', 'json'])) as {
    items: { metadata: { name: string; namespace: string }; spec: { hostNetwork?: boolean } }[];
  };
  // Pod-network pods first: their CNI DEL may need a hostNetwork pod (nicpool's allocator).
  for (const hostNetwork of [false, true]) {
    const pods = list.items.filter((p) => (p.spec.hostNetwork ?? false) === hostNetwork);
    if (pods.length === 0) continue;
    const byNs = new Map<string, string[]>();
    for (const p of pods)
      byNs.set(p.metadata.namespace, [...(byNs.get(p.metadata.namespace) ?? []), p.metadata.name]);
    await Promise.all(
      [...byNs].map(async ([ns, names]) => {
        try {
          await node.kubectl([
            'delete',
            'pod',
            '-n',
            ns,
            '--grace-period=1',
            '--wait=true',
            '--timeout=45s',
            ...names,
          ]);
        } catch {
          log(`pods in ${ns} did not go within 45 s; removing them without the kubelet`);
          await node
            .kubectl([
              'delete',
              'pod',
              '-n',
              ns,
              '--force',
              '--grace-period=0',
              '--wait=false',
              ...names,
            ])
            .catch(() => undefined);
        }
      }),
    );
  }
}

/**
 * Stops everything of the node and undoes its changes to the host, in realnode.md §2.11's
 * order; works from the state dir alone after a crash, and with nothing to do.
 */
export async function stopRealNode(
  opts: { keepLogs?: boolean; quiet?: boolean } = {},
): Promise<void> {
  const t0 = Date.now();
  const state = readState();
  const rec = readHostRecord();
  const leftovers = processesNamingStateDir();
  const recorded =
    state !== undefined || rec !== undefined || leftovers.length > 0 || existsSync(RN);
  // Still look for links, tables and cgroups: the state dir may have been removed by hand.
  if (!recorded && opts.quiet) verbose = false;
  else
    log(
      recorded
        ? `stopping the real node in ${RN}`
        : 'no real node recorded; checking the host for leftovers',
    );
  try {
    await teardown(state, rec, opts);
  } finally {
    verbose = true;
  }
  if (recorded || !opts.quiet) log(`stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

async function teardown(
  state: RealNodeState | undefined,
  rec: HostRecord | undefined,
  opts: { keepLogs?: boolean },
): Promise<void> {
  if (state !== undefined) {
    const node = new RealNode(state);
    const apiUp =
      runningPid('kube-apiserver') !== undefined && (await apiStatus(state, '/readyz')) === 200;
    if (apiUp && runningPid('kubelet') !== undefined && runningPid('containerd') !== undefined) {
      await step(
        'controllers and scheduler stopped, pods deleted through the kubelet',
        async () => {
          // Nothing may recreate what is being deleted (DaemonSets, ReplicaSets).
          await stopProcess('kube-controller-manager');
          await stopProcess('kube-scheduler');
          await deletePods(node);
        },
      );
    }
    await step('kube-proxy and kubelet stopped', async () => {
      await stopProcess('kube-proxy');
      await stopProcess('kubelet');
    });
    if (runningPid('containerd') !== undefined) {
      await step('containers removed, containerd stopped', async () => {
        const ids = (await node.ctr(['tasks', 'list', '--quiet']).catch(() => ''))
          .split('\n')
          .filter(Boolean);
        for (const id of ids)
          await node.ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]).catch(() => undefined);
        for (const id of ids)
          await node.ctr(['tasks', 'delete', '--force', id]).catch(() => undefined);
        const cs = (await node.ctr(['containers', 'list', '--quiet']).catch(() => ''))
          .split('\n')
          .filter(Boolean);
        if (cs.length > 0) await node.ctr(['containers', 'delete', ...cs]).catch(() => undefined);
        await stopProcess('containerd');
      });
    }
  }
  await step('control plane stopped, leftover processes killed', async () => {
    for (const c of [...COMPONENTS].reverse()) await stopProcess(c, 5_000);
    // Shims (their command line names our socket), anything else naming the state dir, and
    // pod processes a killed shim left in the node's cgroups.
    const pids = [...processesNamingStateDir().map((p) => p.pid), ...cgroupPids()];
    if (pids.length > 0) {
      log(`killing ${pids.length} leftover processes: ${pids.join(' ')}`);
      await stopPids(pids, 3_000);
    }
  });
  await step('mounts under the state dir unmounted', async () => {
    const n = await unmountAll();
    if (n > 0) log(`  ${n} unmounted`);
  });
  await step('links and nft tables deleted', async () => {
    const links = await deleteLinks();
    const tables = await deleteNftTables();
    if (links.length + tables.length > 0)
      log(`  links: ${links.join(' ') || '-'}; tables: ${tables.join(', ') || '-'}`);
  });
  await step('cgroups removed', () => {
    const left = removeCgroups();
    if (left > 0) log(`  ${left} cgroups could not be removed (still in use?)`);
  });
  await step('sysctls restored, host paths cleaned', () => {
    if (rec !== undefined) {
      const restored = restoreSysctls(rec);
      if (restored.length > 0) log(`  restored ${restored.join(', ')}`);
    } else log('  no record of the host before up: sysctls left as they are');
    const removed = cleanHostPaths(rec);
    if (removed.length > 0) log(`  removed ${removed.join(' ')}`);
  });
  if (opts.keepLogs && existsSync(PATHS.logs)) cpSync(PATHS.logs, FAILED_LOGS, { recursive: true });
  else if (!opts.keepLogs) rmSync(FAILED_LOGS, { recursive: true, force: true });
  await step('state dir removed', () => rmSync(RN, { recursive: true, force: true }));
}
