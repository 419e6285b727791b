/**
 * B3, the published scenario: 100 Deployments × 10 replicas, two NICs each, made by the
 * real kube-controller-manager, run by the node simulator (10 nodes) through the real Multus
 * and macvlan. Pools sized 1:1 (1000 addresses per NIC) and with spare (1500). Three phases,
 * each timed to the last pod: create → all 1000 Running with both addresses; re-create
 * (every pod deleted, the ReplicaSets make new ones) → 1000 new pods Running; delete the
 * Deployments → no pod left. Same for Whereabouts, whose phases are cut at a time limit
 * (it is an order of magnitude slower) and reported with how far they got.
 *
 * CLI: node_modules/.bin/node bench/scenario.ts [--deployments 100] [--replicas 10]
 */
import { randomBytes } from 'node:crypto';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { ClusterState } from '../e2e/cluster/control-plane.ts';
import {
  cleanup,
  duplicates,
  pool,
  podAnnotations,
  prepare,
  reset,
  startNodes,
  type Impl,
} from './throughput.ts';
import { flag, say, type BenchResult, type Plot, type Table, type Target } from './lib/types.ts';

export interface ScenarioOptions {
  readonly deployments?: number;
  readonly replicas?: number;
  readonly nodes?: number;
  readonly parallel?: number;
  /** Whereabouts' phases stop here (ms). */
  readonly whereaboutsLimitMs?: number;
}

interface Phase {
  readonly name: 'create' | 're-create' | 'delete';
  /** Seconds to the last pod; undefined when cut at the limit. */
  readonly seconds: number | undefined;
  /** Pods Running (create, re-create) or left (delete) when it ended. */
  readonly reached: number;
  readonly curve: readonly (readonly [number, number])[];
}

interface ScenarioRun {
  readonly impl: Impl;
  readonly size: number;
  readonly phases: readonly Phase[];
  readonly duplicates: number;
}

async function scenarioOnce(
  cluster: ClusterState,
  impl: Impl,
  size: number,
  o: Required<ScenarioOptions>,
): Promise<ScenarioRun> {
  await cleanup(cluster); // the previous run's pools: a new size, no records
  await prepare(cluster, size);
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const namespace = `bench-b3-${impl}-${randomBytes(3).toString('hex')}`;
  const total = o.deployments * o.replicas;
  const limitMs = impl === 'whereabouts' ? o.whereaboutsLimitMs : 20 * 60_000;
  const { sim, stop } = await startNodes(cluster, impl, o.nodes, o.parallel);
  const inNs = (): string[] =>
    [...sim.running.keys()].filter((u) => sim.podNamespace(u) === namespace);
  /** Waits until `count()` reaches `goal` or the limit; a curve of (seconds, count). */
  const phase = async (
    name: Phase['name'],
    start: () => Promise<void>,
    count: () => number,
    done: (n: number) => boolean,
  ): Promise<Phase> => {
    const t0 = Date.now();
    const curve: [number, number][] = [[0, count()]];
    await start();
    let lastSay = t0;
    for (;;) {
      const n = count();
      const t = (Date.now() - t0) / 1000;
      if (curve.at(-1)![1] !== n) curve.push([t, n]);
      if (done(n)) return { name, seconds: t, reached: n, curve: thin(curve) };
      if (Date.now() - t0 > limitMs) {
        say(`  B3 ${impl} ${name}: cut at ${limitMs / 1000} s with ${n} of ${total}`);
        return { name, seconds: undefined, reached: n, curve: thin(curve) };
      }
      if (Date.now() - lastSay > 10_000) {
        say(`  … B3 ${impl} ${name}: ${n}/${total}`);
        lastSay = Date.now();
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  try {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const phases: Phase[] = [];
    phases.push(
      await phase(
        'create',
        () =>
          pool([...Array(o.deployments).keys()], 16, async (i) => {
            await apps.createNamespacedDeployment({
              namespace,
              body: {
                metadata: { name: `app-${i}` },
                spec: {
                  replicas: o.replicas,
                  selector: { matchLabels: { app: `app-${i}` } },
                  template: {
                    metadata: { labels: { app: `app-${i}` }, annotations: podAnnotations(impl) },
                    spec: { containers: [{ name: 'c', image: 'busybox' }] },
                  },
                },
              },
            });
          }),
        () => inNs().length,
        (n) => n >= total,
      ),
    );
    const dup = duplicates((await core.listNamespacedPod({ namespace })).items);
    const old = new Set(inNs());
    const fresh = (): number => inNs().filter((u) => !old.has(u)).length;
    phases.push(
      await phase(
        're-create',
        async () => void (await core.deleteCollectionNamespacedPod({ namespace })),
        fresh,
        (n) => n >= total,
      ),
    );
    phases.push(
      await phase(
        'delete',
        async () => void (await apps.deleteCollectionNamespacedDeployment({ namespace })),
        () => inNs().length,
        (n) => n === 0,
      ),
    );
    return { impl, size, phases, duplicates: dup.duplicates };
  } finally {
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    // Pods the limit cut short go with the namespace; the simulator must still be up for that.
    const deadline = Date.now() + 120_000;
    while (inNs().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    await stop();
  }
}

/** At most ~200 points per curve. */
function thin(curve: readonly (readonly [number, number])[]): (readonly [number, number])[] {
  const step = Math.max(1, Math.floor(curve.length / 200));
  return curve.filter((_, i) => i % step === 0 || i === curve.length - 1);
}

export async function scenario(
  cluster: ClusterState,
  opts: ScenarioOptions = {},
): Promise<BenchResult> {
  const o: Required<ScenarioOptions> = {
    deployments: opts.deployments ?? 100,
    replicas: opts.replicas ?? 10,
    nodes: opts.nodes ?? 10,
    parallel: opts.parallel ?? 4,
    whereaboutsLimitMs: opts.whereaboutsLimitMs ?? 120_000,
  };
  const total = o.deployments * o.replicas;
  const runs: ScenarioRun[] = [];
  await reset(cluster);
  try {
    for (const [impl, size] of [
      ['nicpool', total],
      ['nicpool', Math.ceil(total * 1.5)],
      ['whereabouts', total],
    ] as const) {
      say(
        `B3 ${impl}: ${o.deployments} Deployments × ${o.replicas}, pools of ${size}, ${o.nodes} nodes`,
      );
      const r = await scenarioOnce(cluster, impl, size, o);
      say(
        `B3 ${impl} (${size}): ${r.phases.map((p) => `${p.name} ${p.seconds?.toFixed(1) ?? `cut (${p.reached})`}`).join(', ')}`,
      );
      runs.push(r);
    }
  } finally {
    await cleanup(cluster);
  }
  const label = (r: ScenarioRun): string => `${r.impl}, pools of ${r.size}`;
  const table: Table = {
    csv: 'b3-scenario.csv',
    title: `B3: ${o.deployments} Deployments × ${o.replicas} replicas, 2 NICs, ${o.nodes} simulated nodes × ${o.parallel} in flight`,
    columns: [
      'IPAM',
      'addresses per pool',
      'create → all Running s',
      're-create → all Running s',
      'delete → none left s',
      'duplicates',
    ],
    rows: runs.map((r) => [
      r.impl,
      r.size,
      ...r.phases.map((p) =>
        p.seconds === undefined
          ? `> ${o.whereaboutsLimitMs / 1000} (${p.reached}/${total})`
          : p.seconds,
      ),
      r.duplicates,
    ]),
  };
  const plots: Plot[] = (['create', 're-create'] as const).map((name) => ({
    file: `b3-${name}.svg`,
    title: `B3: pods Running over time, ${name}`,
    xLabel: 'seconds',
    yLabel: 'pods Running',
    series: runs.map((r) => ({
      name: label(r),
      points: r.phases.find((p) => p.name === name)!.curve,
    })),
  }));
  const targets: Target[] = runs
    .filter((r) => r.impl === 'nicpool')
    .flatMap((r) =>
      (['create', 'delete'] as const).map((name) => {
        const p = r.phases.find((x) => x.name === name)!;
        return {
          what: `B3: ${name}, ${total} pods, ${label(r)}`,
          target: '< 60 s',
          measured: p.seconds === undefined ? 'not finished' : `${p.seconds.toFixed(1)} s`,
          met: p.seconds !== undefined && p.seconds < 60,
        };
      }),
    );
  return {
    id: 'B3',
    title: 'The published scenario: 100 Deployments × 10 replicas with two NICs',
    commands: [
      `node_modules/.bin/node bench/scenario.ts --deployments ${o.deployments} --replicas ${o.replicas}`,
    ],
    tables: [table],
    plots,
    targets,
    notes: [
      "Deployments are made by the real kube-controller-manager; the node simulator binds the pods round robin and runs Multus → macvlan → IPAM per NIC in each node. A pod counts when its status is written Running after CNI ADD (both addresses in Multus' network-status). Re-create deletes every pod at once; with 1:1 pools the new pods can only get addresses the old ones give back.",
      `Whereabouts' phases are cut after ${o.whereaboutsLimitMs / 1000} s; the table then gives how many pods it had reached.`,
    ],
  };
}

if (import.meta.main) {
  const { readState } = await import('../e2e/cluster/control-plane.ts');
  const cluster = readState();
  if (cluster === undefined) {
    console.error('no local control plane: make cluster-up');
    process.exit(2);
  }
  const d = flag('--deployments');
  const r = flag('--replicas');
  console.log(
    JSON.stringify(
      await scenario(cluster, {
        ...(d === undefined ? {} : { deployments: Number(d) }),
        ...(r === undefined ? {} : { replicas: Number(r) }),
      }),
      null,
      2,
    ),
  );
}
