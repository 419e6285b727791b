/**
 * B1, allocation throughput: nicpool against Whereabouts v0.9.2, on the same API server,
 * the same simulated nodes (e2e/sim: a netns and, for nicpool, an allocator per node; up to
 * P sandboxes at once per node, as a kubelet), the same bare pods with two NICs (eth0 on
 * ens192 and net1 on ens224, macvlan through the real Multus, each NIC one IPAM exec), the
 * same ranges. Runs alternate nicpool / Whereabouts per configuration, so drift of this
 * shared machine hits both.
 *
 * Per run: pods/s from the first create to the last pod Running; ADD and DEL latency of the
 * whole Multus chain (both NICs); API requests per pod on the IPAM's own resources (from
 * kube-apiserver's request counter); 409 conflicts; duplicates among the running pods (from
 * Multus' network-status; must be 0); failed ADDs (retried, as a kubelet does).
 *
 * CLI: node_modules/.bin/node bench/throughput.ts [--pods N] [--configs 1x16,4x16]
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism, setPriority } from 'node:os';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { freePort, kubectl, REPO, type ClusterState } from '../e2e/cluster/control-plane.ts';
import { AllocatorProcess, socketCall } from '../e2e/harness/allocator.ts';
import { Paths } from '@nicpool/wire/codes';
import { NodeSimulator } from '../e2e/sim/node-simulator.ts';
import { diffCounts, requestCounts, summarise } from './lib/apiserver-metrics.ts';
import { CpuAccount, type CpuShare } from './lib/cpu-account.ts';
import { quantile } from './lib/stats.ts';
import { flag, say, type BenchResult, type Plot, type Table, type Target } from './lib/types.ts';

export type Impl = 'nicpool' | 'whereabouts';

/**
 * Everything of the nodes (CNI chain, allocators) runs at this niceness, so the control
 * plane (API server, etcd, controller-manager) keeps its share of this 2-core machine, as
 * on machines of its own; without it 64 sandboxes at once starve the API server, and
 * Multus' 250 ms pod reads time out for both IPAMs alike.
 */
const NODE_NICE = 10;

export interface RunResult {
  readonly impl: Impl;
  readonly nodes: number;
  readonly parallel: number;
  readonly pods: number;
  readonly podsPerSecond: number;
  readonly deletePodsPerSecond: number;
  readonly addP50: number;
  readonly addP99: number;
  readonly delP50: number;
  readonly delP99: number;
  readonly ipamReadsPerPod: number;
  readonly ipamWritesPerPod: number;
  readonly ipamConflicts: number;
  readonly delIpamWritesPerPod: number;
  readonly allRequestsPerPod: number;
  readonly failedAdds: number;
  readonly duplicates: number;
  readonly missing: number;
  /** Seconds since the first create → pods Running. */
  readonly runningOverTime: readonly (readonly [number, number])[];
  /** CPU by component from the first create to all Running (bench/lib/cpu-account.ts). */
  readonly cpu?: { readonly shares: readonly CpuShare[]; readonly wallSeconds: number };
}

const SHIM = join(REPO, 'apps', 'cni-shim', 'dist', 'spiderpool');
/** The two networks' ranges: `size` addresses from x.y.100.1 on (both IPAMs get the same). */
function ranges(
  size: number,
): Record<'eth0' | 'net1', { subnet: string; start: string; end: string; gateway: string }> {
  const last = (second: number): string => {
    const n = 100 * 256 + size; // x.y.100.1 + size - 1, as an offset in the /16
    return `10.${second}.${Math.floor(n / 256)}.${n % 256}`;
  };
  return {
    eth0: { subnet: '10.6.0.0/16', start: '10.6.100.1', end: last(6), gateway: '10.6.0.1' },
    net1: { subnet: '10.7.0.0/16', start: '10.7.100.1', end: last(7), gateway: '10.7.0.1' },
  };
}
const MASTER = { eth0: 'ens192', net1: 'ens224' } as const;
const NAD_NS = 'kube-system';
const IPAM_RESOURCES: Record<Impl, { group: string; resource: string }[]> = {
  nicpool: [
    { group: 'spiderpool.spidernet.io', resource: 'spiderippools' },
    { group: 'spiderpool.spidernet.io', resource: 'spiderendpoints' },
  ],
  whereabouts: [
    { group: 'whereabouts.cni.cncf.io', resource: 'ippools' },
    { group: 'whereabouts.cni.cncf.io', resource: 'overlappingrangeipreservations' },
  ],
};

const percentile = (values: readonly number[], p: number): number => quantile(values, p / 100);

export const nadName = (impl: Impl, nic: 'eth0' | 'net1'): string => `bench-${impl}-${nic}`;
export const BENCH_POOLS = { eth0: 'bench-eth0', net1: 'bench-net1' } as const;

/** The NADs, pools (of `size` addresses each) and CRDs both IPAMs need; idempotent. */
export async function prepare(cluster: ClusterState, size: number): Promise<void> {
  const RANGES = ranges(size);
  const crds = join(cluster.bin.whereabouts, '..', '..', 'crds');
  for (const f of readdirSync(crds)) await kubectl(cluster, ['apply', '-f', join(crds, f)]);
  await kubectl(cluster, [
    'wait',
    '--for=condition=Established',
    'crd/ippools.whereabouts.cni.cncf.io',
    'crd/overlappingrangeipreservations.whereabouts.cni.cncf.io',
  ]);
  // Whereabouts refuses to run without a flat config file ("config file not found").
  const flat = join(cluster.dir, 'whereabouts.conf');
  writeFileSync(
    flat,
    JSON.stringify({ datastore: 'kubernetes', kubernetes: { kubeconfig: cluster.kubeconfig } }),
  );
  const items: object[] = [];
  for (const nic of ['eth0', 'net1'] as const) {
    const r = RANGES[nic];
    const ipam: Record<Impl, object> = {
      nicpool: { type: 'spiderpool' },
      whereabouts: {
        type: 'whereabouts',
        range: r.subnet,
        range_start: r.start,
        range_end: r.end,
        gateway: r.gateway,
        kubernetes: { kubeconfig: cluster.kubeconfig },
        configuration_path: flat,
      },
    };
    for (const impl of ['nicpool', 'whereabouts'] as const)
      items.push({
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: { name: nadName(impl, nic), namespace: NAD_NS },
        spec: {
          config: JSON.stringify({
            cniVersion: '0.3.1',
            name: nadName(impl, nic),
            type: 'macvlan',
            master: MASTER[nic],
            mode: 'bridge',
            ipam: ipam[impl],
          }),
        },
      });
    items.push({
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderIPPool',
      metadata: { name: `bench-${nic}` },
      spec: {
        ipVersion: 4,
        subnet: r.subnet,
        ips: [`${r.start}-${r.end}`],
        gateway: r.gateway,
      },
    });
  }
  await kubectl(
    cluster,
    ['apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
  );
}

/**
 * Leftovers of an interrupted run: its namespaces (pods force-deleted: their nodes are
 * gone; SpiderEndpoints let go), Node objects and pools (whose status would still hold the
 * old pods' records).
 */
export async function reset(cluster: ClusterState): Promise<void> {
  const out = await kubectl(cluster, ['get', 'namespaces', '-o', 'name']);
  const stale = out
    .split('\n')
    .map((l) => l.replace('namespace/', ''))
    .filter((n) => n.startsWith('bench-'));
  for (const ns of stale) {
    await kubectl(cluster, ['delete', 'pods', '--all', '-n', ns, '--grace-period=0', '--force']);
    // No controller runs here to release them: their finalizers would hold the namespace.
    const eps = (await kubectl(cluster, ['get', 'spiderendpoints', '-n', ns, '-o', 'name']))
      .split('\n')
      .filter(Boolean);
    for (const ep of eps)
      await kubectl(cluster, [
        'patch',
        '-n',
        ns,
        ep,
        '--type=merge',
        '-p',
        '{"metadata":{"finalizers":null}}',
      ]);
    await kubectl(cluster, ['delete', 'namespace', ns, '--wait=false']);
  }
  const nodes = (await kubectl(cluster, ['get', 'nodes', '-o', 'name']))
    .split('\n')
    .filter((n) => n.startsWith('node/bench-'));
  if (nodes.length > 0) await kubectl(cluster, ['delete', ...nodes]);
  await cleanup(cluster);
}

export async function cleanup(cluster: ClusterState): Promise<void> {
  await kubectl(cluster, [
    'delete',
    'spiderippool',
    'bench-eth0',
    'bench-net1',
    '--ignore-not-found',
  ]);
  for (const impl of ['nicpool', 'whereabouts'] as const)
    await kubectl(cluster, [
      'delete',
      'network-attachment-definitions',
      '-n',
      NAD_NS,
      nadName(impl, 'eth0'),
      nadName(impl, 'net1'),
      '--ignore-not-found',
    ]);
  // Whereabouts' CRDs exist once prepare() has run; on a new cluster there is nothing to delete.
  await kubectl(cluster, [
    'delete',
    'ippools.whereabouts.cni.cncf.io,overlappingrangeipreservations.whereabouts.cni.cncf.io',
    '--all',
    '-A',
    '--ignore-not-found',
  ]).catch((e: unknown) => {
    if (!String(e).includes("doesn't have a resource type")) throw e;
  });
}

/** The annotations of a bench pod: Multus' two networks, and nicpool's pool per NIC. */
export function podAnnotations(impl: Impl): Record<string, string> {
  const annotations: Record<string, string> = {
    'v1.multus-cni.io/default-network': `${NAD_NS}/${nadName(impl, 'eth0')}`,
    'k8s.v1.cni.cncf.io/networks': `${NAD_NS}/${nadName(impl, 'net1')}`,
  };
  if (impl === 'nicpool')
    annotations['ipam.spidernet.io/ippools'] = JSON.stringify([
      { interface: 'eth0', ipv4: ['bench-eth0'] },
      { interface: 'net1', ipv4: ['bench-net1'] },
    ]);
  return annotations;
}

function podBody(impl: Impl, namespace: string, i: number): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `p-${i}`, namespace, annotations: podAnnotations(impl) },
    spec: { containers: [{ name: 'c', image: 'busybox' }] },
  };
}

/** Runs `f` over `items`, `n` at once. */
export async function pool<T>(
  items: readonly T[],
  n: number,
  f: (t: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await f(items[next++]!);
    }),
  );
}

export async function until(
  what: string,
  done: () => boolean | Promise<boolean>,
  timeoutMs: number,
  progress: () => string,
): Promise<void> {
  const start = Date.now();
  let lastSay = start;
  while (!(await done())) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`${what}: not done after ${timeoutMs / 1000} s (${progress()})`);
    if (Date.now() - lastSay > 10_000) {
      say(`  … ${what}: ${progress()}`);
      lastSay = Date.now();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Addresses Multus recorded per pod (network-status), and how many appear twice. */
export function duplicates(pods: readonly V1Pod[]): { duplicates: number; missing: number } {
  const seen = new Set<string>();
  let dup = 0;
  let missing = 0;
  for (const p of pods) {
    const status = p.metadata?.annotations?.['k8s.v1.cni.cncf.io/network-status'];
    const nets = status === undefined ? [] : (JSON.parse(status) as { ips?: string[] }[]);
    const ips = nets.flatMap((n) => n.ips ?? []);
    if (ips.length < 2) missing++;
    for (const ip of ips) {
      if (seen.has(ip)) dup++;
      seen.add(ip);
    }
  }
  return { duplicates: dup, missing };
}

/**
 * `nodes` simulated nodes (`bench-n1` …), each with P sandboxes at once and, for nicpool,
 * an allocator of its own; `stop` removes them all, Node objects included.
 */
export async function startNodes(
  cluster: ClusterState,
  impl: Impl,
  nodes: number,
  parallel: number,
): Promise<{ sim: NodeSimulator; stop: () => Promise<void> }> {
  const names = Array.from({ length: nodes }, (_, i) => `bench-n${i + 1}`);
  const allocators =
    impl === 'nicpool'
      ? await Promise.all(
          names.map(async (n) => new AllocatorProcess(cluster, n, await freePort())),
        )
      : [];
  const sim = new NodeSimulator({
    cluster,
    nodes: names,
    hostNics: ['ens192', 'ens224'],
    clusterNetwork: nadName(impl, 'eth0'),
    extraPlugins: { spiderpool: SHIM, whereabouts: cluster.bin.whereabouts },
    allocators: Object.fromEntries(allocators.map((a) => [a.node, a.socket])),
    parallel,
    nodeNice: NODE_NICE,
  });
  const stop = async (): Promise<void> => {
    await sim.stop();
    await Promise.all(allocators.map(async (a) => (await a.stop(), a.cleanup())));
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    for (const n of names) await core.deleteNode({ name: n }).catch(() => undefined);
  };
  try {
    await sim.start();
    await Promise.all(allocators.map((a) => a.start()));
    for (const a of allocators) setPriority(a.pid!, NODE_NICE);
  } catch (e) {
    await stop();
    throw e;
  }
  return { sim, stop };
}

const lastFailure = (sim: NodeSimulator): string => {
  const last = [...sim.failures.values()].pop();
  return last === undefined ? '' : `; last failure: ${last.replace(/\s+/g, ' ').slice(0, 500)}`;
};

export async function runOnce(
  cluster: ClusterState,
  impl: Impl,
  nodes: number,
  parallel: number,
  pods: number,
): Promise<RunResult> {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const namespace = `bench-${impl}-${nodes}x${parallel}-${randomBytes(3).toString('hex')}`;
  const { sim, stop } = await startNodes(cluster, impl, nodes, parallel);
  let account: CpuAccount | undefined;
  try {
    await core.createNamespace({ body: { metadata: { name: namespace } } }).catch(() => undefined);
    const uids = new Set<string>();
    const before = await requestCounts(cluster);
    try {
      account = CpuAccount.start();
    } catch (e) {
      say(`B1: no CPU by component for this run: ${e instanceof Error ? e.message : String(e)}`);
    }
    const t0 = Date.now();
    await pool([...Array(pods).keys()], 32, async (i) => {
      const p = await core.createNamespacedPod({ namespace, body: podBody(impl, namespace, i) });
      uids.add(p.metadata!.uid!);
    });
    const running = (): number => [...uids].filter((u) => sim.running.has(u)).length;
    await until(
      `${impl} ${nodes}x${parallel}: pods Running`,
      () => running() === pods,
      15 * 60_000,
      () => `${running()}/${pods} Running${lastFailure(sim)}`,
    );
    const t1 = Math.max(...[...uids].map((u) => sim.running.get(u)!));
    const cpu = account?.stop();
    account = undefined;
    const afterAdd = await requestCounts(cluster);
    const list = (await core.listNamespacedPod({ namespace })).items;
    const dup = duplicates(list);
    // When each pod went Running, read before the delete phase tears the sandboxes down.
    const times = [...uids].map((u) => sim.running.get(u)! - t0).sort((x, y) => x - y);
    const t2 = Date.now();
    await core.deleteCollectionNamespacedPod({ namespace });
    await until(
      `${impl} ${nodes}x${parallel}: pods deleted`,
      async () =>
        running() === 0 &&
        (await core.listNamespacedPod({ namespace, limit: 1 })).items.length === 0,
      15 * 60_000,
      () => `${running()} still running`,
    );
    const t3 = Date.now();
    const afterDel = await requestCounts(cluster);
    const add = summarise(diffCounts(before, afterAdd), IPAM_RESOURCES[impl]);
    const all = summarise(diffCounts(before, afterAdd), []);
    const del = summarise(diffCounts(afterAdd, afterDel), IPAM_RESOURCES[impl]);
    const mine = sim.log.filter((l) => uids.has(l.uid));
    const adds = mine.filter((l) => l.command === 'ADD');
    const dels = mine.filter((l) => l.command === 'DEL');
    // At most ~200 points a curve: the plot stays small.
    const step = Math.max(1, Math.floor(times.length / 200));
    const curve: [number, number][] = [[0, 0]];
    times.forEach((t, i) => {
      if (i % step === 0 || i === times.length - 1) curve.push([t / 1000, i + 1]);
    });
    return {
      impl,
      nodes,
      parallel,
      pods,
      podsPerSecond: pods / ((t1 - t0) / 1000),
      deletePodsPerSecond: pods / ((t3 - t2) / 1000),
      addP50: percentile(
        adds.filter((l) => l.result.code === 0).map((l) => l.ms),
        50,
      ),
      addP99: percentile(
        adds.filter((l) => l.result.code === 0).map((l) => l.ms),
        99,
      ),
      delP50: percentile(
        dels.map((l) => l.ms),
        50,
      ),
      delP99: percentile(
        dels.map((l) => l.ms),
        99,
      ),
      ipamReadsPerPod: add.reads / pods,
      ipamWritesPerPod: add.writes / pods,
      ipamConflicts: add.conflicts,
      delIpamWritesPerPod: del.writes / pods,
      allRequestsPerPod: (all.reads + all.writes) / pods,
      failedAdds: adds.filter((l) => l.result.code !== 0).length,
      ...dup,
      runningOverTime: curve,
      ...(cpu === undefined ? {} : { cpu }),
    };
  } finally {
    account?.stop();
    await stop();
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  }
}

/** The allocators alone, called over their sockets as the shim does: no process starts. */
export interface SocketRun {
  readonly nodes: number;
  readonly parallel: number;
  readonly pods: number;
  readonly podsPerSecond: number;
  readonly addP50: number;
  readonly addP99: number;
  readonly delPodsPerSecond: number;
  readonly ipamWritesPerPod: number;
  readonly ipamConflicts: number;
}

/**
 * nicpool's allocators without the CNI chain: pods are created bound (not timed), then each
 * node's pods get ADD eth0 then ADD net1 over that node's socket, P pods at once per node,
 * as the shim would send them; then DEL likewise. What the allocator and the API server
 * sustain, with no process start in the way.
 */
export async function runSocket(
  cluster: ClusterState,
  nodes: number,
  parallel: number,
  pods: number,
): Promise<SocketRun> {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const namespace = `bench-socket-${nodes}x${parallel}-${randomBytes(3).toString('hex')}`;
  const names = Array.from({ length: nodes }, (_, i) => `bench-s${i + 1}`);
  for (const name of names)
    await core.createNode({ body: { metadata: { name } } }).catch(() => undefined);
  const allocators = await Promise.all(
    names.map(async (n) => new AllocatorProcess(cluster, n, await freePort())),
  );
  try {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await Promise.all(allocators.map((a) => a.start()));
    const made: { a: AllocatorProcess; name: string; uid: string }[] = [];
    await pool([...Array(pods).keys()], 32, async (i) => {
      const a = allocators[i % nodes]!;
      const body = podBody('nicpool', namespace, i);
      const p = await core.createNamespacedPod({
        namespace,
        body: { ...body, spec: { ...body.spec!, nodeName: a.node } },
      });
      made.push({ a, name: p.metadata!.name!, uid: p.metadata!.uid! });
    });
    const call = async (
      method: 'POST' | 'DELETE',
      m: (typeof made)[number],
      ifName: string,
    ): Promise<void> => {
      const r = await socketCall(m.a.socket, method, Paths.ip, {
        containerID: `c-${m.uid}`,
        ifName,
        netNamespace: method === 'POST' ? `/var/run/netns/${m.name}` : '',
        podNamespace: namespace,
        podName: m.name,
        podUID: m.uid,
      });
      if (r.status !== 200)
        throw new Error(`${method} ${m.name} ${ifName}: ${r.status} ${JSON.stringify(r.json)}`);
    };
    const perNode = (f: (m: (typeof made)[number]) => Promise<void>): Promise<void[]> =>
      Promise.all(
        allocators.map((a) =>
          pool(
            made.filter((m) => m.a === a),
            parallel,
            f,
          ),
        ),
      );
    const latencies: number[] = [];
    // Pods are on the node and the allocators' watches have them: let them settle first.
    await new Promise((r) => setTimeout(r, 2000));
    const before = await requestCounts(cluster);
    const t0 = performance.now();
    await perNode(async (m) => {
      const t = performance.now();
      await call('POST', m, 'eth0');
      await call('POST', m, 'net1');
      latencies.push(performance.now() - t);
    });
    const t1 = performance.now();
    const afterAdd = await requestCounts(cluster);
    await perNode(async (m) => {
      await call('DELETE', m, 'eth0');
      await call('DELETE', m, 'net1');
    });
    const t2 = performance.now();
    const add = summarise(diffCounts(before, afterAdd), IPAM_RESOURCES.nicpool);
    return {
      nodes,
      parallel,
      pods,
      podsPerSecond: pods / ((t1 - t0) / 1000),
      addP50: percentile(latencies, 50),
      addP99: percentile(latencies, 99),
      delPodsPerSecond: pods / ((t2 - t1) / 1000),
      ipamWritesPerPod: add.writes / pods,
      ipamConflicts: add.conflicts,
    };
  } finally {
    await Promise.all(allocators.map(async (a) => (await a.stop(), a.cleanup())));
    await core
      .deleteCollectionNamespacedPod({ namespace, gracePeriodSeconds: 0 })
      .catch(() => undefined);
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    for (const name of names) await core.deleteNode({ name }).catch(() => undefined);
  }
}

export interface ThroughputOptions {
  readonly pods?: number;
  /** `[nodes, in flight per node]` pairs. */
  readonly configs?: readonly (readonly [number, number])[];
}

const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

export async function throughput(
  cluster: ClusterState,
  opts: ThroughputOptions = {},
): Promise<{ result: BenchResult; runs: RunResult[] }> {
  const pods = opts.pods ?? 200;
  const configs = opts.configs ?? [
    [1, 16],
    [4, 16],
    [8, 4],
  ];
  await reset(cluster);
  await prepare(cluster, 2048);
  const runs: RunResult[] = [];
  try {
    for (const [nodes, parallel] of configs)
      for (const impl of ['nicpool', 'whereabouts'] as const) {
        say(`B1 ${impl}: ${pods} pods on ${nodes} nodes × ${parallel} in flight`);
        const r = await runOnce(cluster, impl, nodes, parallel, pods);
        say(
          `B1 ${impl} ${nodes}x${parallel}: ${fmt(r.podsPerSecond)} pods/s, ADD p50 ${fmt(r.addP50, 0)} ms, ${fmt(r.ipamWritesPerPod, 2)} IPAM writes/pod, ${r.duplicates} duplicates`,
        );
        runs.push(r);
      }
  } finally {
    await cleanup(cluster);
  }
  const pick = (impl: Impl, n: number, p: number): RunResult | undefined =>
    runs.find((r) => r.impl === impl && r.nodes === n && r.parallel === p);
  const ratios = configs.map(([n, p]) => {
    const a = pick('nicpool', n, p)!;
    const b = pick('whereabouts', n, p)!;
    return { n, p, ratio: a.podsPerSecond / b.podsPerSecond };
  });
  const table: Table = {
    csv: 'b1-throughput.csv',
    title: `B1: ${pods} bare pods with two NICs, create → all Running, then delete`,
    columns: [
      'IPAM',
      'nodes',
      'in flight/node',
      'pods/s',
      'ADD p50 ms',
      'ADD p99 ms',
      'DEL p50 ms',
      'DEL p99 ms',
      'delete pods/s',
      'IPAM writes/pod (ADD)',
      'IPAM reads/pod (ADD)',
      'IPAM 409s',
      'IPAM writes/pod (DEL)',
      'all API requests/pod (ADD)',
      'failed ADDs',
      'duplicates',
      'pods without 2 addresses',
    ],
    rows: runs.map((r) => [
      r.impl,
      r.nodes,
      r.parallel,
      r.podsPerSecond,
      r.addP50,
      r.addP99,
      r.delP50,
      r.delP99,
      r.deletePodsPerSecond,
      r.ipamWritesPerPod,
      r.ipamReadsPerPod,
      r.ipamConflicts,
      r.delIpamWritesPerPod,
      r.allRequestsPerPod,
      r.failedAdds,
      r.duplicates,
      r.missing,
    ]),
  };
  const cores = availableParallelism();
  const cpuTable: Table = {
    csv: 'b1-cpu.csv',
    title: `B1: where the CPU went, create → all Running (${cores} cores; components above 1 % of the run's CPU)`,
    columns: [
      'IPAM',
      'nodes',
      'in flight/node',
      'component',
      'CPU s',
      'CPU ms/pod',
      'share',
      'processes',
    ],
    rows: runs.flatMap((r) => {
      if (r.cpu === undefined) return [];
      const total = r.cpu.shares.reduce((t, c) => t + c.seconds, 0);
      const busy = total / (r.cpu.wallSeconds * cores);
      return [
        ...r.cpu.shares
          .filter((c) => c.seconds >= total * 0.01)
          .map((c) => [
            r.impl,
            r.nodes,
            r.parallel,
            c.component,
            c.seconds,
            (c.seconds * 1000) / r.pods,
            `${((c.seconds / total) * 100).toFixed(1)} %`,
            c.processes,
          ]),
        [
          r.impl,
          r.nodes,
          r.parallel,
          `all (${fmt(r.cpu.wallSeconds)} s wall, machine ${(busy * 100).toFixed(0)} % busy)`,
          total,
          (total * 1000) / r.pods,
          '100 %',
          r.cpu.shares.reduce((t, c) => t + c.processes, 0),
        ],
      ];
    }),
  };
  const ratioTable: Table = {
    csv: 'b1-ratio.csv',
    title: 'B1: nicpool pods/s ÷ Whereabouts pods/s, same run',
    columns: ['nodes', 'in flight/node', 'ratio'],
    rows: ratios.map((r) => [r.n, r.p, r.ratio]),
  };
  const plots: Plot[] = configs.map(([n, p]) => ({
    file: `b1-running-${n}x${p}.svg`,
    title: `B1: pods Running over time, ${n} nodes × ${p} in flight`,
    xLabel: 'seconds since the first create',
    yLabel: 'pods Running',
    series: (['nicpool', 'whereabouts'] as const).map((impl) => ({
      name: impl,
      points: pick(impl, n, p)!.runningOverTime,
    })),
  }));
  const at4 = ratios.find((r) => r.n === 4 && r.p === 16);
  const budget = cpuBudgetNote(pick('nicpool', 4, 16), pick('whereabouts', 4, 16), cores);
  const dups = (impl: Impl): number =>
    runs.filter((r) => r.impl === impl).reduce((s, r) => s + r.duplicates, 0);
  const targets: Target[] = [
    ...(at4 === undefined
      ? []
      : [
          {
            what: 'B1: nicpool pods/s ÷ Whereabouts at 4 nodes × 16',
            target: '≥ 10×',
            measured: `${fmt(at4.ratio)}×`,
            met: at4.ratio >= 10,
          },
        ]),
    {
      what: 'B1: duplicate addresses from nicpool, all runs',
      target: '0',
      measured: String(dups('nicpool')),
      met: dups('nicpool') === 0,
    },
  ];
  return {
    runs,
    result: {
      id: 'B1',
      title: 'Allocation throughput, nicpool vs Whereabouts',
      commands: [
        `node_modules/.bin/node bench/throughput.ts --pods ${pods} --configs ${configs.map(([n, p]) => `${n}x${p}`).join(',')}`,
      ],
      tables: [table, ratioTable, ...(cpuTable.rows.length === 0 ? [] : [cpuTable])],
      plots,
      targets,
      notes: [
        'Each simulated node is a network namespace with its own host NICs and, for nicpool, its own allocator process whose socket the node sees at the default path; Multus (real, thin) runs there and execs macvlan and the IPAM plugin per NIC, so every pod costs two IPAM execs, eth0 then net1, as on a real node. Pods are bare, created 32 at a time; a pod counts as Running when the simulator has written its status after a successful CNI ADD. Latencies are of the whole Multus chain for one pod (both NICs), without the wait for a free slot on the node.',
        'IPAM requests are counted by kube-apiserver (`apiserver_request_total`) on the IPAM\'s own resources only: SpiderIPPools and SpiderEndpoints for nicpool; IPPools and OverlappingRangeIPReservations for Whereabouts (its defaults: overlapping-range protection on). "All API requests" also counts Multus, the simulator (binding, status) and the controller-manager.',
        "Duplicates: an address in the network-status of two pods running at the same time (the table has them per run, Whereabouts' too).",
        ...(budget === undefined ? [] : [budget]),
        'CPU by component: the kernel\'s process accounting (acct(2)) for every process that exited during the create phase, and /proc/<pid>/stat at its start and end for those alive (only their CPU since the start counts). The CNI plugins written in Node are told apart by their parent: the IPAM shim by macvlan, `veth` by Multus. "bench and node simulator" is the benchmark\'s own process, which runs the simulated kubelets (sandbox network namespaces, Multus execs, status writes). Accounting is machine-wide: whatever else ran shows up as what it is.',
      ],
    },
  };
}

/** Components whose CPU a pod costs whichever IPAM runs (the node's side, not the IPAM's). */
const NOT_IPAM = ['Multus', 'macvlan', 'bench and node simulator', 'kube-controller-manager'];

/**
 * What the 10× target leaves per pod on this machine: at 10 × Whereabouts' pods/s with every
 * core busy, `cores / (10 × pods/s)` CPU seconds per pod, against what nicpool's run spent
 * per pod outside the IPAM (Multus, macvlan, the simulated kubelets, controller-manager).
 */
function cpuBudgetNote(
  nicpool: RunResult | undefined,
  whereabouts: RunResult | undefined,
  cores: number,
): string | undefined {
  if (nicpool?.cpu === undefined || whereabouts === undefined) return undefined;
  const perPod = (names: readonly string[]): number =>
    nicpool
      .cpu!.shares.filter((c) => names.includes(c.component))
      .reduce((t, c) => t + c.seconds, 0) *
    (1000 / nicpool.pods);
  const budget = (cores * 1000) / (10 * whereabouts.podsPerSecond);
  const fixed = perPod(NOT_IPAM);
  const all = perPod(nicpool.cpu.shares.map((c) => c.component));
  const shim = perPod(['nicpool CNI shim']);
  const ipam = perPod(['nicpool CNI shim', 'nicpool allocator']);
  const server = perPod(['kube-apiserver', 'etcd']);
  // The API server's CPU split by request count (an estimate: requests differ in cost).
  const ipamShare =
    (nicpool.ipamReadsPerPod + nicpool.ipamWritesPerPod) / nicpool.allRequestsPerPod;
  const serverOthers = server * (1 - ipamShare);
  const left = budget - fixed - serverOthers;
  return (
    `CPU budget of the 10× target at 4 nodes × 16: 10 × Whereabouts' ${fmt(whereabouts.podsPerSecond, 2)} pods/s with all ${cores} cores busy leaves ${fmt(budget, 0)} ms of CPU per pod. ` +
    `nicpool's run spent ${fmt(all, 0)} ms per pod: ${fmt(fixed, 0)} ms outside the IPAM (Multus, macvlan, the simulated kubelets, controller-manager); ${fmt(server, 0)} ms in kube-apiserver and etcd, of which about ${fmt(serverOthers, 0)} ms for the requests that are not the IPAM's (${fmt(100 * (1 - ipamShare), 0)} % of the requests: Multus, the kubelets, controller-manager); and ${fmt(ipam, 0)} ms in nicpool's shim and allocators, of which the shim's Node start is ${fmt(shim, 0)} ms (two execs per pod; the shim section's CPU column). ` +
    (left <= 0
      ? `What every IPAM leaves to the rest of the node already takes the whole budget (${fmt(fixed + serverOthers, 0)} ms ≥ ${fmt(budget, 0)} ms): on this machine no IPAM, not even one that cost nothing, reaches 10× here.`
      : `That leaves about ${fmt(left, 0)} ms per pod for the IPAM and its own API requests, against ${fmt(ipam + server * ipamShare, 0)} ms spent.`)
  );
}

if (import.meta.main) {
  const { readState } = await import('../e2e/cluster/control-plane.ts');
  const cluster = readState();
  if (cluster === undefined) {
    console.error('no local control plane: make cluster-up');
    process.exit(2);
  }
  const configs = flag('--configs')
    ?.split(',')
    .map((c) => c.split('x').map(Number) as [number, number]);
  const pods = flag('--pods');
  const { result } = await throughput(cluster, {
    ...(pods === undefined ? {} : { pods: Number(pods) }),
    ...(configs === undefined ? {} : { configs }),
  });
  console.log(JSON.stringify(result, null, 2));
}
