/**
 * Bring-up of the real node, in realnode.md §2's order: host links and guard, PKI, etcd,
 * kube-apiserver on the node IP, kube-controller-manager and kube-scheduler, containerd,
 * images, Multus, kubelet, kube-proxy. A failed up tears down what it started.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO, kubeconfigYAML } from '../cluster/control-plane.ts';
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
import { stopRealNode } from './down.ts';
import { createGuard, createLinks, recordHost } from './host.ts';
import { PAUSE_IMAGE, buildPauseArchive } from './pause.ts';
import { runningPid, startProcess } from './proc.ts';
import {
  ENV,
  FAILED_LOGS,
  IMAGES_DIR,
  RealNode,
  apiStatus,
  httpOk,
  log,
  nodeReady,
  realNodeBinaries,
  saveState,
  step,
  until,
  type Component,
  type RealNodeBinaries,
  type RealNodeState,
} from './state.ts';

const exec = promisify(execFile);

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
    await until('etcd', 30_000, () => httpOk(`http://127.0.0.1:${PORTS.etcd}/health`), 'etcd');
  });
  await step(`kube-apiserver on ${server}`, async () => {
    start('kube-apiserver', bin.kubeApiserver, apiserverArgs());
    await until(
      'kube-apiserver /readyz',
      120_000,
      async () => (await apiStatus(state, '/readyz')) === 200,
      'kube-apiserver',
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

  // Started, not waited for: the node comes up meanwhile; the ServiceAccount is awaited last.
  await step('kube-controller-manager (all controllers) and kube-scheduler started', () => {
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

  // Before containerd, which otherwise logs that it found no network config.
  await step('CNI: Multus thin over /usr/lib/cni, private bin and conf dirs', () => {
    for (const f of readdirSync(bin.cniPluginDir))
      symlinkSync(join(bin.cniPluginDir, f), join(PATHS.cniBin, f));
    symlinkSync(bin.multus, join(PATHS.cniBin, 'multus'));
    mkdirSync(PATHS.cniConf, { recursive: true });
    mkdirSync(PATHS.multusCache, { recursive: true });
    writeFileSync(join(PATHS.cniConf, '00-multus.conf'), JSON.stringify(multusConf(), null, 2));
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
      'containerd',
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
    await until(`Node ${NODE_NAME} Ready`, 120_000, () => nodeReady(node), 'kubelet');
  });
  await step('kube-proxy (nftables)', async () => {
    writeFileSync(join(PATHS.kubeProxy, 'config.yaml'), kubeProxyConfig(proxyKubeconfig));
    start('kube-proxy', bin.kubeProxy, [
      `--config=${join(PATHS.kubeProxy, 'config.yaml')}`,
      '--v=1',
    ]);
    await until(
      'kube-proxy /healthz',
      60_000,
      () => httpOk(`http://${NODE_IP}:${PORTS.kubeProxyHealthz}/healthz`),
      'kube-proxy',
    );
  });
  await step('kube-controller-manager serving (the default ServiceAccount exists)', () =>
    until(
      'the default ServiceAccount (kube-controller-manager running)',
      120_000,
      async () =>
        (await apiStatus(state, '/api/v1/namespaces/default/serviceaccounts/default')) === 200,
      'kube-controller-manager',
    ),
  );
  if (runningPid('kube-scheduler') === undefined)
    throw new Error('kube-scheduler exited; its log is in the kept logs');
  await images;
  return node;
}
