/**
 * The soak (test infrastructure): churn and faults on the multi-node simulator, with the
 * invariant checker watching (docs/reliability.md, "Soak").
 *
 * - nicpool runs as in `make up`: the webhook, the controller and one allocator per
 *   simulated node, each under its deploy/ ServiceAccount, the real Multus, macvlan and
 *   nicpool's veth on the tutorial's NADs.
 * - `workers` loops, each with its own seeded stream, create, scale and delete Deployments
 *   (2 or 3 NICs, over IPPools or over SpiderSubnets with auto-pools) and StatefulSets,
 *   delete and force-delete pods (a StatefulSet re-creates a pod under the same name), and
 *   edit pools (grow, shrink, disable for a moment).
 * - A fault loop, at random moments: SIGKILLs an allocator (in the middle of whatever ADD or
 *   DEL it is serving, or aimed: just before or just after the pool write of an ADD or of a
 *   DEL, through the API fault proxy), the controller (the leader), the webhook,
 *   kube-apiserver or etcd, and starts it again; or opens a window of slowed and refused API
 *   answers, or of allocator connections cut mid-request (a relay in front of each socket).
 * - Every few seconds the checker reads the cluster: an address held twice or a record
 *   outside its pool's free set is a failure at any instant; records of pods that are gone
 *   are leaks, timed from first to last sighting. At the end everything is deleted and,
 *   after GC's grace, every invariant must hold.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kind, type Finding } from '@nicpool/invariants';
import {
  ensureCluster,
  freePort,
  killAndRestart,
  kubectl,
  REPO,
  type ClusterState,
} from '../cluster/control-plane.ts';
import { componentKubeconfig } from '../harness/identity.ts';
import { ApiFaultProxy, type Counter, type WriteKill } from './api-proxy.ts';
import { SocketFaultProxy, type SocketCounter } from './socket-proxy.ts';
import { AllocatorProcess } from '../harness/allocator.ts';
import { ControllerProcess } from '../harness/controller.ts';
import { eventually } from '../harness/helpers.ts';
import { checkInvariants, invariantClient, reportText } from '../harness/invariants.ts';
import { WebhookProcess } from '../harness/webhook.ts';
import { NodeSimulator } from '../sim/node-simulator.ts';
import { PLUGINS } from '../../scripts/stack.ts';
import { Rng } from './rng.ts';

export interface SoakOptions {
  readonly minutes: number;
  readonly seed: number;
  /** Simulated nodes, one allocator each (default 2). */
  readonly nodes?: number;
  /** Concurrent churn loops (default 3). */
  readonly workers?: number;
  /**
   * Seconds between faults, drawn in [min, max], per loop: each aimed kill's loop, the other
   * process kills' loop, the control plane and windows' loop (default FAULT_EVERY).
   */
  readonly faultEvery?: Partial<Record<keyof typeof FAULT_EVERY, readonly [number, number]>>;
  readonly say?: (line: string) => void;
}

export const OPS = [
  'createDeployment',
  'scaleDeployment',
  'deleteDeployment',
  'createStatefulSet',
  'scaleStatefulSet',
  'deleteStatefulSet',
  'deletePod',
  'forceDeletePod',
  'editPool',
] as const;
export type Op = (typeof OPS)[number];

export const FAULTS = [
  'allocatorKill',
  'allocatorKillAddBeforeWrite',
  'allocatorKillAddAfterWrite',
  'allocatorKillDelBeforeWrite',
  'allocatorKillDelAfterWrite',
  'controllerKill',
  'webhookKill',
  'apiserverKill',
  'etcdKill',
  'apiFaults',
  'socketClose',
] as const;
export type Fault = (typeof FAULTS)[number];

/**
 * Seconds between two faults of one loop. Each kind must come 20 times in 30 minutes (a
 * one-kind aimed loop: every ≤ 90 s; the three kills: ≤ 30 s; the four control-plane and
 * window kinds: ≤ 22 s, their own length included), and no more often than that: with
 * allocators killed every few seconds the churn stops making progress (pods never run).
 */
export const FAULT_EVERY = {
  aimed: [40, 70],
  kills: [10, 20],
  control: [3, 10],
} as const satisfies Record<string, readonly [number, number]>;

/** The process kills that are not aimed at a pool write. */
const KILLS: readonly Fault[] = ['allocatorKill', 'controllerKill', 'webhookKill'];
/** The aimed allocator kills: which pool writes, and on which side of the write. */
const AIMED: Partial<Record<Fault, Pick<WriteKill, 'kind' | 'phase'>>> = {
  allocatorKillAddBeforeWrite: { kind: 'allocate', phase: 'beforeWrite' },
  allocatorKillAddAfterWrite: { kind: 'allocate', phase: 'afterWrite' },
  allocatorKillDelBeforeWrite: { kind: 'release', phase: 'beforeWrite' },
  allocatorKillDelAfterWrite: { kind: 'release', phase: 'afterWrite' },
};
const AIMED_KINDS = FAULTS.filter((f) => AIMED[f] !== undefined);

/** Findings that must never be seen, not even for an instant. */
const INSTANT = new Set<string>([
  Kind.addressHeldTwice,
  Kind.recordTwiceInPool,
  Kind.nicHoldsTwo,
  Kind.recordOutsideIPs,
  Kind.recordExcluded,
  Kind.recordReserved,
  Kind.claimsOverlap,
  Kind.claimOverlapsPool,
]);
/** Findings that mean an address is held for a pod that no longer needs it. */
const LEAK = new Set<string>([
  Kind.recordPodGone,
  Kind.recordPodRecreated,
  Kind.recordPodFinished,
  Kind.endpointOrphan,
]);

export interface SoakResult {
  readonly seed: number;
  readonly minutes: number;
  readonly nodes: number;
  readonly workers: number;
  readonly startedAt: string;
  readonly endedAt: string;
  /** Per operation: done, and refused (by the API server or the webhook), with examples. */
  readonly ops: Record<Op, { done: number; refused: number }>;
  readonly refusals: readonly string[];
  readonly faults: Record<Fault, number>;
  /** Faults drawn and not injected: an aimed kill no matching write reached in time, or no allocator up to kill. */
  readonly notInjected: number;
  /**
   * Components that exited on their own and were started again, as a Deployment or
   * DaemonSet would (the controller exits when it loses its Lease, e.g. while the API
   * server is down): by component.
   */
  readonly restarts: Record<string, number>;
  /** What the API fault proxy (in front of the allocators and the controller) did, by kind. */
  readonly apiProxy: Record<Counter, number>;
  /** What the relays in front of the allocators' sockets did, by outcome (all nodes). */
  readonly socketProxy: Record<SocketCounter, number>;
  readonly checks: number;
  /** Instant-invariant findings (duplicates, records outside the free set): must be none. */
  readonly duplicates: readonly Finding[];
  /** Violations of the final strict check, after GC's grace: must be none. */
  readonly leaksAtEnd: readonly Finding[];
  readonly finalReport: string;
  /** The longest a leaked address was seen held (ms), and which. */
  readonly longestLeakMs: number;
  readonly longestLeak: string | undefined;
  readonly podsSeen: number;
  readonly podsRunning: number;
  /** Pods that lived long enough and never became Running, with the simulator's last CNI failure. */
  readonly neverRunning: readonly { pod: string; livedMs: number; reason: string }[];
  /** The components' log directories, kept when something failed (removed otherwise). */
  readonly logs: readonly string[];
}

const NS = 'soak';
const FAST_LEASE = { duration: 4, renew: 3, retry: 1 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const errText = (e: unknown): string =>
  ((e as { stderr?: string }).stderr ?? (e instanceof Error ? e.message : String(e)))
    .trim()
    .split('\n')[0]!
    .slice(0, 300);

/** The soak's pools: one per NIC for IPPool workloads, one subnet per NIC for auto-pools. */
const POOLS = {
  eth0: { subnet: '10.6.0.0/16', first: '10.6.200.1', gateway: '10.6.0.1', prefix: '10.6.200.' },
  net1: { subnet: '10.7.0.0/16', first: '10.7.200.1', gateway: '10.7.0.1', prefix: '10.7.200.' },
  net2: { subnet: '10.9.0.0/16', first: '10.9.200.1', gateway: '10.9.0.1', prefix: '10.9.200.' },
} as const;
const SUBNETS = {
  eth0: { subnet: '10.16.0.0/16', ips: ['10.16.0.10-10.16.0.250'], gateway: '10.16.0.1' },
  net1: { subnet: '10.17.0.0/16', ips: ['10.17.0.10-10.17.0.250'], gateway: '10.17.0.1' },
} as const;
const poolIPs = (nic: keyof typeof POOLS, last: number): string[] => [
  `${POOLS[nic].first}-${POOLS[nic].prefix}${last}`,
];

function poolObjects(): object[] {
  return [
    ...(Object.keys(POOLS) as (keyof typeof POOLS)[]).map((nic) => ({
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderIPPool',
      metadata: { name: `soak-${nic}` },
      spec: { subnet: POOLS[nic].subnet, ips: poolIPs(nic, 100), gateway: POOLS[nic].gateway },
    })),
    ...(Object.keys(SUBNETS) as (keyof typeof SUBNETS)[]).map((nic) => ({
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderSubnet',
      metadata: { name: `soak-sub-${nic}` },
      spec: { ...SUBNETS[nic] },
    })),
  ];
}

/** A pod template's annotations: 2 or 3 NICs over the soak's pools, or 2 over its subnets. */
function annotations(mode: 'pools' | 'subnets', nics: 2 | 3): Record<string, string> {
  if (mode === 'subnets')
    return {
      'k8s.v1.cni.cncf.io/networks': 'kube-system/macvlan-conf-ens224',
      'ipam.spidernet.io/subnets': JSON.stringify([
        { interface: 'eth0', ipv4: ['soak-sub-eth0'] },
        { interface: 'net1', ipv4: ['soak-sub-net1'] },
      ]),
      'ipam.spidernet.io/ippool-ip-number': '+1',
    };
  const names = nics === 3 ? ['eth0', 'net1', 'net2'] : ['eth0', 'net1'];
  return {
    'k8s.v1.cni.cncf.io/networks': Array(nics - 1)
      .fill('kube-system/macvlan-conf-ens224')
      .join(', '),
    'ipam.spidernet.io/ippools': JSON.stringify(
      names.map((n) => ({ interface: n, ipv4: [`soak-${n}`] })),
    ),
  };
}

function workload(
  kind: 'Deployment' | 'StatefulSet',
  name: string,
  replicas: number,
  ann: Record<string, string>,
): object {
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: { name, namespace: NS },
    spec: {
      replicas,
      ...(kind === 'StatefulSet' ? { serviceName: name, podManagementPolicy: 'Parallel' } : {}),
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, soak: 'true' }, annotations: ann },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'c', image: 'busybox' }],
        },
      },
    },
  };
}

/** Everything the soak started, so the end (or a failure) stops all of it. */
class Components {
  proxy!: ApiFaultProxy;
  /** One relay per node, in front of its allocator's socket. */
  sockets: SocketFaultProxy[] = [];
  webhook!: WebhookProcess;
  controller!: ControllerProcess;
  allocators: AllocatorProcess[] = [];
  sim!: NodeSimulator;
  /** Components killed and not started again yet (a fault in progress). */
  readonly down = new Set<string>();
}

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const say =
    opts.say ??
    ((l: string) =>
      process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${l}\n`));
  const nodes = Array.from({ length: opts.nodes ?? 2 }, (_, i) => `node${i + 1}`);
  const workers = opts.workers ?? 3;
  const rng = new Rng(opts.seed);
  const { state: cluster } = await ensureCluster();
  const k = (args: readonly string[], input?: string): Promise<string> =>
    kubectl(cluster, args, input);
  const c = new Components();
  const startedAt = new Date();
  const ops = Object.fromEntries(OPS.map((o) => [o, { done: 0, refused: 0 }])) as SoakResult['ops'];
  const faults = Object.fromEntries(FAULTS.map((f) => [f, 0])) as Record<Fault, number>;
  const refusals: string[] = [];
  const duplicates = new Map<string, Finding>();
  const leaks = new Map<string, { first: number; last: number }>();
  const pods = new Map<string, { name: string; first: number; last: number; running: boolean }>();
  let checks = 0;
  // Logs stay unless the run ends and holds.
  const keep = { value: true };

  try {
    say(`seed ${opts.seed}: ${nodes.length} nodes, ${workers} workers, ${opts.minutes} min`);
    await startComponents(cluster, c, nodes, opts.seed, rng.fork());
    // A former run's pools may still be Terminating with addresses of pods that are gone:
    // the controller's GC releases them, then the pools go. Start from a clean slate.
    await eventually(
      'pools of an earlier soak to finish terminating',
      async () =>
        (
          await k(['get', 'spiderippools,spidersubnets', '-o', 'json']).then((o) =>
            (
              JSON.parse(o) as {
                items: { metadata: { name: string; deletionTimestamp?: string } }[];
              }
            ).items.filter(
              (x) =>
                x.metadata.name.startsWith('soak-') && x.metadata.deletionTimestamp !== undefined,
            ),
          )
        ).length === 0
          ? true
          : undefined,
      150_000,
    );
    await k(['apply', '-f', join(REPO, 'deploy', 'examples', 'multus-conf.yaml')]);
    await eventually(
      `namespace ${NS} of an earlier soak to be gone`,
      async () =>
        (await k(['get', 'namespace', NS, '--ignore-not-found', '-o', 'name'])).trim() === ''
          ? true
          : undefined,
      150_000,
    );
    await k(['create', 'namespace', NS]);
    await k(
      ['apply', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: poolObjects() }),
    );

    const deadline = Date.now() + opts.minutes * 60_000;
    const live = { deployments: new Set<string>(), statefulSets: new Set<string>(), next: 0 };
    const run = async (op: Op, r: Rng): Promise<void> => {
      switch (op) {
        case 'createDeployment': {
          if (live.deployments.size >= 5) return;
          const name = `soak-d${live.next++}`;
          const mode = r.chance(0.35) ? 'subnets' : 'pools';
          const nics = mode === 'pools' && r.chance(0.4) ? 3 : 2;
          await k(
            ['apply', '-f', '-'],
            JSON.stringify(workload('Deployment', name, r.int(1, 3), annotations(mode, nics))),
          );
          live.deployments.add(name);
          return;
        }
        case 'createStatefulSet': {
          if (live.statefulSets.size >= 2) return;
          const name = `soak-s${live.next++}`;
          await k(
            ['apply', '-f', '-'],
            JSON.stringify(workload('StatefulSet', name, r.int(1, 3), annotations('pools', 2))),
          );
          live.statefulSets.add(name);
          return;
        }
        case 'scaleDeployment':
        case 'scaleStatefulSet': {
          const set = op === 'scaleDeployment' ? live.deployments : live.statefulSets;
          const name = r.pick([...set]);
          if (name === undefined) return;
          const kind = op === 'scaleDeployment' ? 'deployment' : 'statefulset';
          await k(['scale', kind, name, '-n', NS, `--replicas=${r.int(0, 3)}`]);
          return;
        }
        case 'deleteDeployment':
        case 'deleteStatefulSet': {
          const set = op === 'deleteDeployment' ? live.deployments : live.statefulSets;
          const name = r.pick([...set]);
          if (name === undefined) return;
          const kind = op === 'deleteDeployment' ? 'deployment' : 'statefulset';
          set.delete(name);
          await k(['delete', kind, name, '-n', NS, '--wait=false']);
          return;
        }
        case 'deletePod':
        case 'forceDeletePod': {
          const names = (await k(['get', 'pods', '-n', NS, '-o', 'name']))
            .split('\n')
            .filter(Boolean);
          const pod = r.pick(names);
          if (pod === undefined) return;
          await k([
            'delete',
            pod,
            '-n',
            NS,
            '--wait=false',
            ...(op === 'forceDeletePod' ? ['--grace-period=0', '--force'] : []),
          ]);
          return;
        }
        case 'editPool': {
          const nic = r.pick(['eth0', 'net1', 'net2'] as const)!;
          const what = r.weighted({ grow: 2, shrink: 2, disable: 1 });
          const patch = (spec: object): Promise<string> =>
            k([
              'patch',
              'spiderippool',
              `soak-${nic}`,
              '--type=merge',
              '-p',
              JSON.stringify({ spec }),
            ]);
          if (what === 'disable') {
            await patch({ disable: true });
            await sleep(r.int(500, 2000));
            await patch({ disable: false });
          } else await patch({ ips: poolIPs(nic, what === 'grow' ? 120 : 100) });
          return;
        }
      }
    };
    const weights: Record<Op, number> = {
      createDeployment: 4,
      scaleDeployment: 4,
      deleteDeployment: 2,
      createStatefulSet: 2,
      scaleStatefulSet: 2,
      deleteStatefulSet: 1,
      deletePod: 3,
      forceDeletePod: 2,
      editPool: 1,
    };
    const worker = async (r: Rng): Promise<void> => {
      while (Date.now() < deadline) {
        const op = r.weighted(weights);
        try {
          await run(op, r);
          ops[op].done++;
        } catch (e) {
          ops[op].refused++;
          if (refusals.length < 40) refusals.push(`${op}: ${errText(e)}`);
        }
        await sleep(r.int(300, 1500));
      }
    };
    let notInjected = 0;
    // Fault loops that overlap as faults do in life (an allocator dies while the API server
    // is away): one per kind of aimed kill (each waits for its own kind of pool write, so it
    // pauses less in between), one for the other process kills, one for the control plane
    // and the windows.
    const every = { ...FAULT_EVERY, ...opts.faultEvery };
    const faultLoop = async (
      r: Rng,
      kinds: readonly Fault[],
      [min, max]: readonly [number, number],
    ): Promise<void> => {
      for (;;) {
        await sleep(r.int(min * 1000, max * 1000));
        if (Date.now() >= deadline) return;
        // At a random moment, a kind drawn among those injected least so far: every kind
        // gets its share in a run of any length, in an order the seed decides.
        const least = Math.min(...kinds.map((f) => faults[f]));
        const kind = r.pick(kinds.filter((f) => faults[f] === least))!;
        if (await inject(kind, r, c, say)) faults[kind]++;
        else notInjected++;
      }
    };
    // The kubelet's restart policy: what exits on its own is started again.
    const restarts: Record<string, number> = {};
    const supervisor = async (): Promise<void> => {
      while (Date.now() < deadline) {
        await sleep(1000);
        const all: [string, { running: boolean; start(): Promise<void> }][] = [
          ['controller', c.controller],
          ['webhook', c.webhook],
          ...c.allocators.map((a) => [`allocator ${a.node}`, a] as [string, AllocatorProcess]),
        ];
        for (const [name, p] of all) {
          if (p.running || c.down.has(name)) continue;
          say(`${name} exited on its own; starting it again`);
          restarts[name] = (restarts[name] ?? 0) + 1;
          c.down.add(name);
          await p.start().catch((e: unknown) => say(`restarting ${name}: ${errText(e)}`));
          c.down.delete(name);
        }
      }
    };
    const checker = async (): Promise<void> => {
      const client = invariantClient(cluster.kubeconfig);
      while (Date.now() < deadline) {
        await sleep(3000);
        try {
          const report = await checkInvariants(client, { allowSettling: true });
          checks++;
          const now = Date.now();
          for (const f of [...report.violations, ...report.settling]) {
            const key = `${f.kind} ${f.object}: ${f.message}`;
            if (INSTANT.has(f.kind) && !duplicates.has(key)) {
              duplicates.set(key, f);
              say(`INVARIANT BROKEN: ${key}`);
            }
            if (LEAK.has(f.kind)) {
              const l = leaks.get(key) ?? { first: now, last: now };
              l.last = now;
              leaks.set(key, l);
            }
          }
          await trackPods(k, pods, now);
        } catch (e) {
          // The API server may be briefly away; the next round reads again.
          say(`checker: ${errText(e)}`);
        }
      }
    };
    await Promise.all([
      ...Array.from({ length: workers }, () => worker(rng.fork())),
      // One loop per aimed kind: each waits for its own kind of write.
      ...AIMED_KINDS.map((kind) => faultLoop(rng.fork(), [kind], every.aimed)),
      faultLoop(rng.fork(), KILLS, every.kills),
      faultLoop(
        rng.fork(),
        FAULTS.filter((f) => !AIMED_KINDS.includes(f) && !KILLS.includes(f)),
        every.control,
      ),
      checker(),
      supervisor(),
    ]);

    say('churn over: restarting anything down, deleting every workload');
    await restartDown(c);
    await k(['delete', 'deployments,statefulsets', '--all', '-n', NS, '--wait=false']);
    await eventually(
      'the soak pods to be gone',
      async () =>
        (await k(['get', 'pods', '-n', NS, '-o', 'name'])).trim() === '' ? true : undefined,
      180_000,
    );
    // GC's grace: the pods' 1 s plus the controller's 1 s delay, and its retry; then strict.
    const client = invariantClient(cluster.kubeconfig);
    let final = await checkInvariants(client, {});
    for (const t0 = Date.now(); final.violations.length > 0 && Date.now() - t0 < 90_000;) {
      await sleep(3000);
      final = await checkInvariants(client, {});
    }
    const now = Date.now();
    const longest = [...leaks].sort((a, b) => b[1].last - b[1].first - (a[1].last - a[1].first))[0];
    const neverRunning = [...pods.values()]
      .filter((p) => !p.running && p.last - p.first >= 60_000)
      .map((p) => ({
        pod: `${NS}/${p.name}`,
        livedMs: p.last - p.first,
        reason: c.sim.failures.get(`${NS}/${p.name}`) ?? 'no CNI failure recorded',
      }));
    keep.value = duplicates.size > 0 || final.violations.length > 0 || neverRunning.length > 0;
    return {
      seed: opts.seed,
      minutes: opts.minutes,
      nodes: nodes.length,
      workers,
      startedAt: startedAt.toISOString(),
      endedAt: new Date(now).toISOString(),
      ops,
      refusals,
      faults,
      notInjected,
      restarts,
      apiProxy: c.proxy.counts(),
      socketProxy: sumCounts(c.sockets.map((sp) => sp.counts())),
      checks,
      duplicates: [...duplicates.values()],
      leaksAtEnd: final.violations,
      finalReport: reportText(final),
      longestLeakMs: longest === undefined ? 0 : longest[1].last - longest[1].first,
      longestLeak: longest?.[0],
      podsSeen: pods.size,
      podsRunning: [...pods.values()].filter((p) => p.running).length,
      neverRunning,
      logs: [c.webhook.dir, c.controller.dir, ...c.allocators.map((a) => a.dir), c.sim.dir],
    };
  } finally {
    await stopComponents(c, k, keep.value);
  }
}

async function startComponents(
  cluster: ClusterState,
  c: Components,
  nodes: string[],
  seed: number,
  rng: Rng,
): Promise<void> {
  // The allocators and the controller reach the API server through the fault proxy; the
  // webhook, Multus and the simulator directly (their faults are not nicpool's to survive).
  c.proxy = await ApiFaultProxy.start({
    upstream: { server: cluster.server, caFile: cluster.caFile },
    seed,
  });
  const via = async (component: 'allocator' | 'controller'): Promise<string> =>
    c.proxy.kubeconfigFor(await componentKubeconfig(cluster, component));
  c.webhook = new WebhookProcess(cluster, await freePort());
  await c.webhook.start();
  await c.webhook.register();
  c.controller = new ControllerProcess(cluster, {
    identity: 'soak',
    port: await freePort(),
    namespace: 'nicpool-system',
    leaseSeconds: FAST_LEASE,
    gcDelaySeconds: 1,
    gcIntervalSeconds: 30,
    env: { KUBECONFIG: await via('controller') },
  });
  await c.controller.start();
  const allocatorKubeconfig = await componentKubeconfig(cluster, 'allocator');
  for (const node of nodes) {
    const a = new AllocatorProcess(cluster, node, await freePort());
    // Each allocator through a listener of its own, so an aimed kill knows whose write it is.
    const kubeconfig = c.proxy.kubeconfigFor(
      allocatorKubeconfig,
      await c.proxy.listen(node),
      `-${node}`,
    );
    const start = a.start.bind(a);
    // Every (re)start through the proxy.
    a.start = (env = {}) => start({ KUBECONFIG: kubeconfig, ...env });
    await a.start();
    c.allocators.push(a);
    c.sockets.push(await SocketFaultProxy.start(a.socket, rng.fork()));
  }
  c.sim = new NodeSimulator({
    cluster,
    nodes,
    hostNics: ['ens192', 'ens224'],
    clusterNetwork: 'macvlan-conf-ens192',
    extraPlugins: PLUGINS,
    // The shim reaches its node's allocator through the relay in front of its socket.
    allocators: Object.fromEntries(c.allocators.map((a, i) => [a.node, c.sockets[i]!.path])),
    parallel: 8,
  });
  await c.sim.start();
}

/** API answers slowed or refused while a fault window lasts (the proxy's share of requests). */
const API_FAULTS = {
  delay: { rate: 0.2, minMs: 100, maxMs: 1500 },
  drop: 0.04,
  status429: 0.05,
  status500: 0.04,
  status409: 0.05,
  status500AfterWrite: 0.03,
} as const;

/** A share of the allocator connections cut while a socket window lasts. */
const SOCKET_SHARE = 0.3;
/** How long an aimed kill waits for a matching pool write before it is disarmed. */
/** (report.ts says 20 s.) */
const AIM_TIMEOUT_MS = 20_000;

/**
 * One fault: SIGKILL a component, leave it down a moment, start it again; or a window of API
 * or socket faults. False when it was not injected: an aimed kill found no matching write in
 * time, or every allocator was down already.
 */
async function inject(
  kind: Fault,
  r: Rng,
  c: Components,
  say: (l: string) => void,
): Promise<boolean> {
  const downMs = r.int(200, 2000);
  const aimed = AIMED[kind];
  if (aimed !== undefined) {
    const byNode = new Map(c.allocators.map((a) => [a.node, a]));
    const hit = await c.proxy.armWriteKill(
      {
        ...aimed,
        labels: c.allocators.map((a) => a.node),
        // Not one that another fault loop (or the supervisor) is killing or restarting.
        claim: (node) => {
          if (c.down.has(`allocator ${node}`)) return false;
          c.down.add(`allocator ${node}`);
          return true;
        },
        kill: (node) => byNode.get(node)!.kill9(),
      },
      AIM_TIMEOUT_MS,
    );
    if (hit === undefined) {
      say(`fault: ${kind}: no matching pool write within ${AIM_TIMEOUT_MS} ms; disarmed`);
      return false;
    }
    say(
      `fault: SIGKILL allocator ${hit} ${aimed.phase === 'beforeWrite' ? 'before' : 'after'} the pool write of ${aimed.kind === 'allocate' ? 'an ADD' : 'a DEL'}`,
    );
    await sleep(downMs);
    await byNode.get(hit)!.start();
    c.down.delete(`allocator ${hit}`);
    return true;
  }
  if (kind === 'socketClose') {
    const ms = r.int(4000, 10_000);
    say(`fault: allocator connections cut mid-request (${SOCKET_SHARE * 100} %) for ${ms} ms`);
    for (const sp of c.sockets) sp.setShare(SOCKET_SHARE);
    await sleep(ms);
    for (const sp of c.sockets) sp.setShare(0);
    return true;
  }
  if (kind === 'apiserverKill' || kind === 'etcdKill') {
    const name = kind === 'etcdKill' ? 'etcd' : 'kube-apiserver';
    say(`fault: SIGKILL ${name} for ${downMs} ms`);
    c.down.add(name);
    await killAndRestart(name, downMs);
    c.down.delete(name);
    return true;
  }
  if (kind === 'apiFaults') {
    const ms = r.int(4000, 10_000);
    say(`fault: API answers slowed, dropped, 429/500/409 for ${ms} ms`);
    c.proxy.setFaults(API_FAULTS);
    await sleep(ms);
    c.proxy.setFaults({});
    return true;
  }
  const target: { kill9(): Promise<void>; start(): Promise<void> } | undefined =
    kind === 'allocatorKill'
      ? // One no aimed kill or restart holds at the moment.
        r.pick(c.allocators.filter((a) => !c.down.has(`allocator ${a.node}`)))
      : kind === 'controllerKill'
        ? c.controller
        : c.webhook;
  if (target === undefined) return false; // every allocator is down already
  const name =
    target instanceof AllocatorProcess ? `allocator ${target.node}` : kind.replace('Kill', '');
  say(`fault: SIGKILL ${name}`);
  c.down.add(name);
  await target.kill9();
  await sleep(downMs);
  await target.start();
  c.down.delete(name);
  return true;
}

function sumCounts<K extends string>(all: readonly Record<K, number>[]): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const one of all)
    for (const [k, n] of Object.entries(one) as [K, number][]) out[k] = (out[k] ?? 0) + n;
  return out;
}

/** Before the end's checks: everything up again (the GC and DELs need them). */
async function restartDown(c: Components): Promise<void> {
  for (const p of [c.controller, c.webhook, ...c.allocators]) if (!p.running) await p.start();
}

async function trackPods(
  k: (args: readonly string[]) => Promise<string>,
  pods: Map<string, { name: string; first: number; last: number; running: boolean }>,
  now: number,
): Promise<void> {
  const list = JSON.parse(await k(['get', 'pods', '-n', NS, '-o', 'json'])) as {
    items: {
      metadata: { uid: string; name: string; deletionTimestamp?: string };
      status: { phase?: string };
    }[];
  };
  for (const p of list.items) {
    const seen = pods.get(p.metadata.uid) ?? {
      name: p.metadata.name,
      first: now,
      last: now,
      running: false,
    };
    // A pod being deleted needs no sandbox any more: its time stops counting.
    if (p.metadata.deletionTimestamp === undefined) seen.last = now;
    seen.running ||= p.status.phase === 'Running';
    pods.set(p.metadata.uid, seen);
  }
}

/** Stops everything; `keep`: leave the components' log directories for a post-mortem. */
async function stopComponents(
  c: Components,
  k: (args: readonly string[], input?: string) => Promise<string>,
  keep: boolean,
): Promise<void> {
  const quiet = (p: Promise<unknown> | undefined): Promise<unknown> =>
    (p ?? Promise.resolve()).catch(() => undefined);
  await quiet(k(['delete', 'deployments,statefulsets,pods', '--all', '-n', NS, '--wait=false']));
  await quiet(c.sim?.stop());
  for (const a of c.allocators) {
    await quiet(a.stop());
    if (!keep) a.cleanup();
  }
  // While the controller runs: it removes the pools' and subnets' finalizers.
  await quiet(k(['delete', 'namespace', NS, '--wait=false']));
  await quiet(
    k(
      ['delete', '--ignore-not-found', '--timeout=60s', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: poolObjects() }),
    ),
  );
  await quiet(
    k(['delete', '--ignore-not-found', '-f', join(REPO, 'deploy', 'examples', 'multus-conf.yaml')]),
  );
  await quiet(c.controller?.stop());
  if (!keep) c.controller?.cleanup();
  await quiet(c.webhook?.unregister());
  await quiet(c.webhook?.stop());
  if (!keep) c.webhook?.cleanup();
  await quiet(c.proxy?.close());
  for (const sp of c.sockets) await quiet(sp.close());
}

/** Writes the result as JSON in a fresh temp dir; returns its path (for the CLI and a failed test). */
export function saveResult(r: SoakResult): string {
  const dir = mkdtempSync(join(tmpdir(), 'nicpool-soak-'));
  const path = join(dir, `soak-${r.seed}.json`);
  writeFileSync(path, `${JSON.stringify(r, null, 2)}\n`);
  return path;
}
