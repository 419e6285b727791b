/**
 * `make bench`: every benchmark in one run on one control plane, then docs/benchmarks.md
 * (with a CSV per table under docs/benchmarks/runs/<time>/ and SVG plots) from the results.
 * Not part of `make test`: these are benchmarks, compared as ratios within the run.
 *
 * Usage: node bench/run.ts [--only B1,B2,B3,B4,shim,veth] [--quick] [--b3 DxR]
 *   --quick  smaller sizes, for trying the harness (the report says so).
 *   --b3     B3 with D Deployments × R replicas (default the published 100 × 10).
 */
import { cpus, release, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { writeFileSync, mkdirSync } from 'node:fs';
import { ensureCluster, REPO, versions } from '../e2e/cluster/control-plane.ts';
import { apiLimit, endpointCreateRate } from './api-limit.ts';
import { growth } from './growth.ts';
import { renderReport, writeReport } from './lib/report.ts';
import { flag, say, type BenchResult, type Target } from './lib/types.ts';
import { shimExec } from './shim-exec.ts';
import { scenario } from './scenario.ts';
import { throughput } from './throughput.ts';
import { vethVsSbr } from './veth-sbr.ts';

const only = new Set((flag('--only') ?? 'B1,B2,B3,B4,shim,veth').split(','));
const quick = process.argv.includes('--quick');
const startedAt = new Date();
const stamp = startedAt.toISOString().slice(0, 19).replace(/[:T]/g, '-');
const runDir = join('docs', 'benchmarks', 'runs', stamp);

const { state: cluster } = await ensureCluster();
const results: BenchResult[] = [];
const derived: Target[] = [];
const fmt = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

if (only.has('shim')) {
  say('shim: per-exec cost');
  results.push(await shimExec(quick ? { runs: 10 } : {}));
}
if (only.has('veth')) {
  say('veth: the chained plugin’s ADD beside sbr’s');
  results.push(await vethVsSbr(quick ? 10 : 40));
}
let rawCreates: number | undefined;
if (only.has('B2')) {
  say('B2: the API server’s own limit');
  results.push(await apiLimit(cluster, quick ? { seconds: 3 } : {}));
  rawCreates = await endpointCreateRate(cluster, 16, quick ? 3 : 10);
}
if (only.has('B1')) {
  const { result, runs } = await throughput(
    cluster,
    quick
      ? {
          pods: 48,
          configs: [
            [1, 16],
            [4, 4],
          ],
        }
      : {},
  );
  results.push(result);
  const np = runs.find((r) => r.impl === 'nicpool' && r.nodes === 4 && r.parallel === 16);
  if (np !== undefined) {
    derived.push({
      what: 'B2: nicpool IPAM API writes per pod (ADD, 4 nodes × 16)',
      target: '≤ 1.2',
      measured: fmt(np.ipamWritesPerPod),
      met: np.ipamWritesPerPod <= 1.2,
    });
    if (rawCreates !== undefined) {
      const ratio = np.podsPerSecond / rawCreates;
      derived.push({
        what: 'B2: nicpool pods/s (4 nodes × 16) ÷ raw SpiderEndpoint creates/s (16 in flight)',
        target: '≥ 0.8',
        measured: `${fmt(ratio)} (${fmt(np.podsPerSecond, 1)} ÷ ${fmt(rawCreates, 1)})`,
        met: ratio >= 0.8,
      });
    }
  }
}
if (only.has('B3')) {
  // --b3 DxR: D Deployments × R replicas instead of the published 100 × 10.
  const [deployments, replicas] = (flag('--b3') ?? (quick ? '10x5' : '100x10'))
    .split('x')
    .map(Number);
  results.push(
    await scenario(cluster, {
      deployments: deployments!,
      replicas: replicas!,
      ...(quick ? { nodes: 4, whereaboutsLimitMs: 60_000 } : {}),
    }),
  );
}
if (only.has('B4')) {
  say('B4: memory and cost growth');
  results.push(await growth(cluster, { quick }));
}
if (derived.length > 0)
  results.push({
    id: 'B1÷B2',
    title: 'nicpool against the API server’s own limit (from B1 and B2 of this run)',
    commands: ['node_modules/.bin/node bench/run.ts --only B1,B2'],
    tables: [],
    plots: [],
    targets: derived,
    notes: [],
  });

const finishedAt = new Date();
mkdirSync(join(REPO, runDir), { recursive: true });
writeFileSync(join(REPO, runDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
const cpu = cpus();
const rendered = renderReport({
  results,
  machine: {
    cpu: `${cpu.length} × ${cpu[0]?.model ?? 'unknown'}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    kernel: release(),
    node: process.version,
    mode: quick ? 'quick (--quick: smaller sizes)' : 'full',
  },
  versions: versions(),
  startedAt: startedAt.toISOString(),
  finishedAt: finishedAt.toISOString(),
  command: `make bench${only.size < 5 ? ` BENCH=${[...only].join(',')}` : ''}${quick ? ' QUICK=1' : ''}${flag('--b3') === undefined ? '' : ` B3=${flag('--b3')}`}`,
  runDir,
  plotDir: join('docs', 'benchmarks'),
});
writeReport(REPO, rendered);
say(`wrote ${relative(REPO, join(REPO, 'docs', 'benchmarks.md'))} and ${runDir}/`);
