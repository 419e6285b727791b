// `make demo`: replays the tutorial (e2e/fixtures/tutorial/multi-interfaces-annotation.md) on this
// machine: a local control plane, nicpool's webhook, controller and allocator as local processes, the
// real Multus and CNI plugins, pods simulated as network namespaces. Then cleans up.
import { join } from 'node:path';
import {
  kubectl,
  REPO,
  startCluster,
  stopCluster,
  isHealthy,
  readState,
  type ClusterState,
} from '../e2e/cluster/control-plane.ts';
import { connect, listen } from '../e2e/harness/tcp.ts';
import type { NodeSimulator } from '../e2e/sim/node-simulator.ts';
import { brokenApp, startStack, type Stack } from './stack.ts';

// The tutorial's scenario in nicpool's manifests (the same objects as the tutorial's files).
const EX = join(REPO, 'deploy', 'examples');
const bold = (s: string): string => `\x1b[1m${s}\x1b[0m`;
const step = (s: string): void => console.log(`\n${bold(`==> ${s}`)}`);

let cluster: ClusterState;
const k = async (...args: string[]): Promise<string> => kubectl(cluster, args);
async function show(...args: string[]): Promise<string> {
  console.log(`~# kubectl ${args.join(' ')}`);
  const out = await k(...args).catch(
    (e: { stderr?: string; message?: string }) => e.stderr ?? e.message ?? 'kubectl failed',
  );
  process.stdout.write(out.endsWith('\n') ? out : `${out}\n`);
  return out;
}
async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 120_000,
): Promise<T> {
  const t0 = Date.now();
  let last = 0;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    if (Date.now() - last > 5000) {
      console.log(`   … waiting for ${what} (${Math.round((Date.now() - t0) / 1000)} s)`);
      last = Date.now();
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * A ClusterIP as kube-proxy's IPVS mode holds it (on a node link, kube-ipvs0; here node1's
 * lo), a TCP listener on it in node1, and connections from the pod's eth0 and net1
 * addresses: both go through veth0 (main table and table 100), and node1 sees each source.
 */
async function throughVeth(sim: NodeSimulator, netns: string, podName: string): Promise<void> {
  const { execFileSync } = await import('node:child_process');
  const node = sim.nodeNetns('node1');
  const ip = (ns: string, ...args: string[]): string =>
    execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
  const service = '10.96.0.10';
  const port = 8080;
  const addrs = JSON.parse(ip(netns, '-j', '-4', 'addr', 'show')) as {
    ifname: string;
    addr_info: { local: string }[];
  }[];
  const addressOf = (nic: string): string =>
    addrs.find((a) => a.ifname === nic)?.addr_info[0]?.local ?? '';
  console.log(`~# ip addr add ${service}/32 dev lo; listen on ${service}:${port}     (on node1)`);
  ip(node, 'addr', 'replace', `${service}/32`, 'dev', 'lo');
  const listener = await listen(node, service, port);
  try {
    for (const nic of ['eth0', 'net1']) {
      const from = addressOf(nic);
      console.log(`~# kubectl exec -ti ${podName} -- ip route get ${service} from ${from}`);
      process.stdout.write(ip(netns, 'route', 'get', service, 'from', from));
      const c = await connect(netns, service, port, from);
      console.log(
        `   TCP ${c.local} (${nic}) → ${service}:${port}: connected; node1 saw it come from ${c.server.remote}`,
      );
    }
  } finally {
    await listener.close();
    ip(node, 'addr', 'del', `${service}/32`, 'dev', 'lo');
  }
}

let started = false;
let stack: Stack | undefined;

async function cleanup(): Promise<void> {
  step('Cleaning up');
  await k(
    'delete',
    '--ignore-not-found',
    '-f',
    join(EX, '21-ippool-test-deploy.yaml'),
    '-f',
    join(EX, '11-subnet-test-deploy.yaml'),
  ).catch(() => undefined);
  if (stack !== undefined) {
    await waitFor(
      'the pods to be deleted',
      async () =>
        (await k('get', 'pods', '-l', 'app in (ippool-test-app,test-app)', '-o', 'name')) === ''
          ? true
          : undefined,
      60_000,
    ).catch(() => undefined);
    // While the controller runs: it removes the finalizers of the pools and subnets.
    await k(
      'delete',
      '--ignore-not-found',
      '-f',
      join(EX, '20-ippools.yaml'),
      '-f',
      join(EX, '10-subnets.yaml'),
      '-f',
      join(EX, 'multus-conf.yaml'),
      '--timeout=60s',
    ).catch(() => undefined);
    await stack.stop();
  }
  if (started) await stopCluster();
}

try {
  step(
    'Starting a local control plane: etcd, kube-apiserver, kube-controller-manager on 127.0.0.1',
  );
  const existing = readState();
  if (existing !== undefined && (await isHealthy(existing))) {
    cluster = existing;
    console.log('   reusing the running cluster (make cluster-down stops it)');
  } else {
    cluster = await startCluster();
    started = true;
  }
  step(
    'Starting nicpool as local processes: webhook, controller, allocator, each with its deploy/ ServiceAccount',
  );
  stack = await startStack(cluster, (l) => console.log(`   ${l}`));
  const sim = stack.sim;

  step(
    "Set up Multus configuration (deploy/examples/multus-conf.yaml: the tutorial's file unchanged, macvlan + nicpool's veth plugin)",
  );
  await show('apply', '-f', join(EX, 'multus-conf.yaml'));
  await show('get', 'network-attachment-definitions.k8s.cni.cncf.io', '-n', 'kube-system');

  step("Multiple NICs by subnet: deploy/examples/10-subnets.yaml (the tutorial's subnets)");
  await show('apply', '-f', join(EX, '10-subnets.yaml'));
  await waitFor('the subnet counters', async () =>
    (await k(
      'get',
      'spidersubnet',
      'subnet-test-ens192',
      '-o',
      'jsonpath={.status.totalIPCount}',
    )) === '10'
      ? true
      : undefined,
  );
  await show('get', 'spidersubnet');
  step('The subnet-annotated Deployment, 2 replicas (deploy/examples/11-subnet-test-deploy.yaml)');
  await show('apply', '-f', join(EX, '11-subnet-test-deploy.yaml'));
  await waitFor('2 test-app pods to be Running', async () => {
    const items = (
      JSON.parse(await k('get', 'pods', '-l', 'app=test-app', '-o', 'json')) as {
        items: { status: { phase?: string } }[];
      }
    ).items;
    return items.length === 2 && items.every((p) => p.status.phase === 'Running')
      ? true
      : undefined;
  });
  await show('get', 'spiderippool');
  for (const name of (await k('get', 'spiderippool', '-o', 'name')).split('\n')) {
    if (!name.includes('/auto-test-app-')) continue;
    await show('get', name, '-o', 'jsonpath={.spec.ips}');
  }
  await show('get', 'spidersubnet');
  await show('get', 'po', '-l', 'app=test-app', '-o', 'wide');
  const subnetPod = (
    JSON.parse(await k('get', 'pods', '-l', 'app=test-app', '-o', 'json')) as {
      items: { metadata: { name: string; uid: string } }[];
    }
  ).items[0]!;
  const subnetNetns = sim.netnsOf(subnetPod.metadata.uid)!.split('/').pop()!;
  {
    const { execFileSync } = await import('node:child_process');
    console.log(
      `~# kubectl exec -ti ${subnetPod.metadata.name} -- ip a        (ip netns exec ${subnetNetns} …)`,
    );
    process.stdout.write(
      execFileSync('ip', ['netns', 'exec', subnetNetns, 'ip', 'a'], { encoding: 'utf8' }),
    );
  }
  step('Deleting the Deployment: its auto-pools go once their addresses are released');
  await show('delete', '-f', join(EX, '11-subnet-test-deploy.yaml'));
  await waitFor('the auto-pools to be gone', async () =>
    (await k('get', 'spiderippool', '-o', 'name')).includes('auto-test-app-') ? undefined : true,
  );
  await show('get', 'spidersubnet');

  step('Multiple NICs by IPPool: deploy/examples/20-ippools.yaml and 21-ippool-test-deploy.yaml');
  await show('apply', '-f', join(EX, '20-ippools.yaml'));
  await show('get', 'spiderippool');
  await show('apply', '-f', join(EX, '21-ippool-test-deploy.yaml'));
  const pod = await waitFor('the ippool-test-app pod to be Running', async () => {
    const items = (
      JSON.parse(await k('get', 'pods', '-l', 'app=ippool-test-app', '-o', 'json')) as {
        items: { metadata: { name: string; uid: string }; status: { phase?: string } }[];
      }
    ).items;
    return items[0]?.status.phase === 'Running' ? items[0] : undefined;
  });
  await show('get', 'spiderippool');
  await show('get', 'po', '-l', 'app=ippool-test-app', '-o', 'wide');
  const netns = sim.netnsOf(pod.metadata.uid)!.split('/').pop()!;
  const { execFileSync } = await import('node:child_process');
  for (const cmd of [
    ['ip', 'a'],
    ['ip', 'rule', 'show'],
    ['ip', 'r', 'show', 'table', 'main'],
    ['ip', 'r', 'show', 'table', '100'],
  ]) {
    console.log(
      `~# kubectl exec -ti ${pod.metadata.name} -- ${cmd.join(' ')}        (ip netns exec ${netns} …)`,
    );
    process.stdout.write(
      execFileSync('ip', ['netns', 'exec', netns, ...cmd], { encoding: 'utf8' }),
    );
  }
  await show('get', 'spiderendpoint', pod.metadata.name);

  step(
    'The veth plugin: the pod reaches an address of the service CIDR (10.96.0.0/12) that its node owns, through veth0',
  );
  await throughVeth(sim, netns, pod.metadata.name);

  step(
    'What nicpool adds: a broken annotation is refused at kubectl apply, not at sandbox creation',
  );
  const bad = JSON.stringify(brokenApp('default'));
  console.log('~# kubectl apply -f broken-app.yaml    (net1 says "ipv4s")');
  await kubectl(cluster, ['apply', '-f', '-'], bad).then(
    () => console.log('   unexpectedly admitted'),
    (e: { stderr?: string }) => process.stdout.write(e.stderr ?? ''),
  );
} catch (e) {
  console.error(`\ndemo failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
