// B4, memory and cost growth (issue "scale"):
//   1. a real allocator process (deploy/ RBAC, its own ServiceAccount) against a real API
//      server, caching one /16 pool whose status already holds N records (100, 1 000,
//      10 000, 50 000), written directly: its RSS, and the latency of ADD then DEL over its
//      Unix socket for M new bare pods (real Pod objects bound to a node, no kubelet: the
//      socket is called directly, as the shim would). N = 100 is the baseline of the run.
//      Where ADD time goes at the largest N: a second, profiled allocator (--cpu-prof), its
//      samples cut to the ADD window.
//   2. the controller's caches at 1k/10k/50k pods (bench/controller-cache-rss.ts, fake
//      transport, one child process per figure);
//   3. CPU time (user + system, /proc/<pid>/stat) of the allocator, kube-apiserver and etcd
//      per phase, and of the controller's cache fill.
// Usage: node bench/growth.ts [--quick]   (needs `make cluster-up`)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { basename, join } from 'node:path';
import {
  API_VERSION,
  encodeAllocatedIPs,
  type PoolIPAllocation,
  type SpiderIPPool,
} from '@nicpool/crds';
import { PodAnnotation } from '@nicpool/annotations';
import {
  ClusterObjects,
  createKubeClients,
  loadKubeConfig,
  Plural,
  type KubeClients,
} from '@nicpool/kube';
import { freePort, readState, type ClusterState } from '../e2e/cluster/control-plane.ts';
import { AllocatorProcess, socketCall, type Reply } from '../e2e/harness/allocator.ts';
import { eventually } from '../e2e/harness/helpers.ts';
import { cacheRss, MODES, type Row as CacheRow } from './controller-cache-rss.ts';
import { say, type BenchResult, type Plot, type Table, type Target } from './lib/types.ts';
import { quantile } from './lib/stats.ts';

export interface GrowthOptions {
  /** Smaller run: N up to 10 000, fewer pods, controller at 1k/10k. */
  readonly quick?: boolean;
  /** Records per pool (the first is the baseline). */
  readonly records?: readonly number[];
  /** New pods per N, each one ADD then one DEL. */
  readonly pods?: number;
  /** Pod counts of the controller's caches. */
  readonly controllerPods?: readonly number[];
}

const NAMESPACE = 'nicpool-growth';
/** The allocator's highest NICPOOL_MAX_RECORDS_PER_POOL (apps/allocator/src/config.ts). */
const MAX_RECORDS = 10_000;
const NODE = 'growth-node';
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

/** Resident memory and CPU time so far of a process, from /proc. */
function proc(pid: number): { rssMiB: number; peakRssMiB: number; cpuMs: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number =>
    Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1]);
  // utime and stime are fields 14 and 15; the command name (field 2) may hold spaces.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    rssMiB: kib('VmRSS') / 1024,
    peakRssMiB: kib('VmHWM') / 1024,
    cpuMs: (Number(f[11]) + Number(f[12])) * TICK_MS,
  };
}

const cpuOf = (pid: number | undefined): number => (pid === undefined ? 0 : proc(pid).cpuMs);

/** The pool of run `k`: 10.(60+k).0.0/16, records on its lowest N addresses. */
function poolObject(name: string, k: number): SpiderIPPool {
  return {
    apiVersion: API_VERSION,
    kind: 'SpiderIPPool',
    metadata: { name },
    spec: {
      subnet: `10.${60 + k}.0.0/16`,
      ips: [`10.${60 + k}.0.2-10.${60 + k}.255.254`],
      gateway: `10.${60 + k}.0.1`,
    },
  };
}

function recordsText(n: number, k: number): string {
  const records = new Map<string, PoolIPAllocation>();
  for (let i = 0; i < n; i++) {
    const a = i + 2;
    records.set(`10.${60 + k}.${a >> 8}.${a & 255}`, {
      pod: `${NAMESPACE}-old/web-${i.toString(36).padStart(4, '0')}-7d9f8c6b5-x2k9q`,
      podUid: `0b6f${i.toString(16).padStart(8, '0')}-1b2c-4d3e-9f00-b1a361c7e9df`,
      interface: 'eth0',
    });
  }
  return encodeAllocatedIPs(records) ?? '';
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

interface Hotspot {
  readonly name: string;
  readonly where: string;
  readonly share: number;
}

/**
 * Self time by function of the samples inside [fromUs, toUs] (CLOCK_MONOTONIC µs, the
 * clock of both V8's profiler and process.hrtime), over the busy (non-idle) samples.
 */
function hotspots(
  p: CpuProfile,
  fromUs: number,
  toUs: number,
): { busy: number; top: Hotspot[]; byFile: Hotspot[] } {
  const byId = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const fn = new Map<string, { name: string; where: string; n: number }>();
  const file = new Map<string, number>();
  let t = p.startTime;
  let inWindow = 0;
  let busy = 0;
  p.samples.forEach((id, i) => {
    t += p.timeDeltas[i] ?? 0;
    if (t < fromUs || t > toUs) return;
    inWindow++;
    const c = byId.get(id);
    if (c === undefined || c.functionName === '(idle)') return;
    busy++;
    const where = c.url === '' ? '' : `${fileOf(c.url)}:${c.lineNumber + 1}`;
    const key = `${c.functionName}|${where}`;
    const e = fn.get(key) ?? { name: c.functionName || '(anonymous)', where, n: 0 };
    e.n++;
    fn.set(key, e);
    const f = c.url === '' ? c.functionName : fileOf(c.url);
    file.set(f, (file.get(f) ?? 0) + 1);
  });
  const top = [...fn.values()]
    .sort((a, b) => b.n - a.n)
    .slice(0, 12)
    .map((e) => ({ name: e.name, where: e.where, share: e.n / Math.max(busy, 1) }));
  const byFile = [...file.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([f, n]) => ({ name: f, where: '', share: n / Math.max(busy, 1) }));
  return { busy: busy / Math.max(inWindow, 1), top, byFile };
}

/** `node_modules/<pkg>/…/x.js`, `apps/allocator/src/x.ts`, `node:internal/…`. */
function fileOf(url: string): string {
  const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/.*?([^/]+)$/.exec(url);
  if (m !== null) return `${m[1]}/${m[2]}`;
  const own = /\/((?:apps|libs)\/.+)$/.exec(url);
  return own?.[1] ?? (url.startsWith('node:') ? url : basename(url));
}

interface Run {
  readonly records: number;
  readonly statusKiB: number;
  /** Why the pool could not hold its records (the API server's answer), if so. */
  readonly refused?: string;
  readonly syncMs?: number;
  readonly syncCpuMs?: number;
  readonly rssSyncedMiB?: number;
  readonly rssAfterMiB?: number;
  /** V8 heap of the allocator after the phases (its own /metrics, prom-client defaults). */
  readonly heapUsedMiB?: number;
  readonly heapTotalMiB?: number;
  readonly peakRssMiB?: number;
  readonly add?: readonly number[];
  readonly del?: readonly number[];
  readonly failures?: number;
  /** CPU ms per operation during the ADD phase, per process. */
  readonly addCpu?: { allocator: number; apiserver: number; etcd: number };
  readonly delCpu?: { allocator: number; apiserver: number; etcd: number };
  readonly profile?: ReturnType<typeof hotspots>;
  /** Latencies of bare PUTs of the pool's status (one record changed), no allocator running. */
  readonly rawPut?: readonly number[];
}

/**
 * The API server's own cost of one write of this pool: `count` PUTs of its status, one at a
 * time, each changing one record (the encoding is not timed). The floor under any ADD that
 * records an address in this pool, as Spiderpool's format keeps every record in one object.
 */
async function rawStatusPuts(rig: Rig, name: string, count: number): Promise<number[]> {
  let cur = await rig.pools.get(name);
  const text = cur.status?.allocatedIPs ?? '{}';
  const records = JSON.parse(text) as Record<string, PoolIPAllocation>;
  const first = Object.keys(records)[0];
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    if (first !== undefined) records[first] = { pod: `${NAMESPACE}/raw`, podUid: `raw-${i}` };
    const body = { ...cur, status: { ...cur.status, allocatedIPs: JSON.stringify(records) } };
    const t = performance.now();
    cur = await rig.pools.replaceStatus(body);
    out.push(performance.now() - t);
  }
  return out;
}

class Rig {
  readonly cluster: ClusterState;
  readonly kube: KubeClients;
  readonly pools: ClusterObjects<SpiderIPPool>;

  constructor(cluster: ClusterState) {
    this.cluster = cluster;
    this.kube = createKubeClients(loadKubeConfig({ kind: 'file', path: cluster.kubeconfig }));
    this.pools = new ClusterObjects<SpiderIPPool>(this.kube.custom, Plural.ippool);
  }

  async prepare(): Promise<void> {
    const core = this.kube.core;
    // A Node for the pods to be bound to: pod GC force-deletes pods of unknown nodes.
    await core
      .createNode({
        body: { metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE } } },
      })
      .catch(() => undefined);
    await core.createNamespace({ body: { metadata: { name: NAMESPACE } } }).catch(() => undefined);
    await eventually(`ServiceAccount ${NAMESPACE}/default`, async () =>
      (await core.readNamespacedServiceAccount({ name: 'default', namespace: NAMESPACE }))
        ? true
        : undefined,
    );
  }

  async createPods(
    prefix: string,
    pool: string,
    m: number,
  ): Promise<{ name: string; uid: string }[]> {
    const out: { name: string; uid: string }[] = [];
    for (let i = 0; i < m; i += 10) {
      const batch = Array.from({ length: Math.min(10, m - i) }, (_, j) => `${prefix}-${i + j}`);
      const made = await Promise.all(
        batch.map((name) =>
          this.kube.core.createNamespacedPod({
            namespace: NAMESPACE,
            body: {
              metadata: {
                name,
                annotations: { [PodAnnotation.ippool]: JSON.stringify({ ipv4: [pool] }) },
              },
              spec: { nodeName: NODE, containers: [{ name: 'c', image: 'busybox' }] },
            },
          }),
        ),
      );
      for (const p of made) out.push({ name: p.metadata!.name!, uid: p.metadata!.uid! });
    }
    return out;
  }

  /** No kubelet: finish the pods' deletion at once, as one would after CNI DEL. */
  async deletePods(): Promise<void> {
    await this.kube.core.deleteCollectionNamespacedPod({
      namespace: NAMESPACE,
      gracePeriodSeconds: 0,
    });
    await eventually('pods deleted', async () =>
      (await this.kube.core.listNamespacedPod({ namespace: NAMESPACE })).items.length === 0
        ? true
        : undefined,
    );
  }

  /** Endpoints left by a failed run carry a finalizer: drop it, then delete them. */
  async deleteEndpoints(): Promise<void> {
    const custom = this.kube.custom;
    const base = { group: 'spiderpool.spidernet.io', version: 'v2beta1', plural: Plural.endpoint };
    const list = (await custom.listNamespacedCustomObject({ ...base, namespace: NAMESPACE })) as {
      items: { metadata: { name: string } }[];
    };
    for (const e of list.items) {
      await custom
        .patchNamespacedCustomObject({
          ...base,
          namespace: NAMESPACE,
          name: e.metadata.name,
          body: [{ op: 'replace', path: '/metadata/finalizers', value: [] }],
        })
        .catch(() => undefined);
      await custom
        .deleteNamespacedCustomObject({ ...base, namespace: NAMESPACE, name: e.metadata.name })
        .catch(() => undefined);
    }
  }

  /** The pool with `n` records in its status, or the API server's refusal. */
  async makePool(name: string, k: number, n: number): Promise<{ kib: number; refused?: string }> {
    await this.pools.delete(name).catch(() => undefined);
    const created = await this.pools.create(poolObject(name, k));
    const text = recordsText(n, k);
    const kib = Buffer.byteLength(text) / 1024;
    try {
      await this.pools.replaceStatus({
        ...created,
        status: { allocatedIPs: text, allocatedIPCount: n, totalIPCount: 65533 },
      });
      return { kib };
    } catch (e) {
      const body = (e as { body?: unknown }).body;
      const msg = typeof body === 'string' ? body : e instanceof Error ? e.message : String(e);
      const reason = /"message":"([^"]*)"/.exec(msg)?.[1] ?? msg.slice(0, 200);
      return { kib, refused: reason };
    }
  }

  pid(name: string): number | undefined {
    return this.cluster.pids[name];
  }
}

/**
 * The most records one pool can hold (to `step`), between a count that was stored and
 * one that was refused, by bisection; with the refusal seen at the first count above it.
 */
async function storableLimit(
  rig: Rig,
  k: number,
  stored: number,
  refused: number,
  step = 250,
): Promise<{ records: number; kib: number; above: string }> {
  let lo = stored;
  let hi = refused;
  let kib = 0;
  let above = '';
  const name = 'growth-limit';
  try {
    while (hi - lo > step) {
      const mid = Math.round((lo + hi) / 2 / step) * step;
      const r = await rig.makePool(name, k, mid);
      if (r.refused === undefined) {
        lo = mid;
        kib = r.kib;
      } else {
        hi = mid;
        above = r.refused;
      }
    }
  } finally {
    await rig.pools.delete(name).catch(() => undefined);
  }
  return { records: lo, kib, above };
}

const addBody = (pod: { name: string; uid: string }): Record<string, string> => ({
  containerID: `c-${pod.name}`,
  ifName: 'eth0',
  netNamespace: `/var/run/netns/${pod.name}`,
  podNamespace: NAMESPACE,
  podName: pod.name,
  podUID: pod.uid,
});

/** Calls one after the other (latency without queueing), each timed in ms. */
async function timed(
  pods: readonly { name: string; uid: string }[],
  call: (p: { name: string; uid: string }) => Promise<Reply>,
): Promise<{ ms: number[]; failures: number; last?: Reply }> {
  const ms: number[] = [];
  let failures = 0;
  let last: Reply | undefined;
  for (const p of pods) {
    const t = performance.now();
    const r = await call(p);
    ms.push(performance.now() - t);
    if (r.status !== 200) {
      failures++;
      last = r;
    }
  }
  return { ms, failures, ...(last === undefined ? {} : { last }) };
}

/** CPU ms per op of the allocator, kube-apiserver and etcd while `phase` runs. */
async function phaseCpu<T>(
  rig: Rig,
  allocator: number,
  ops: number,
  phase: () => Promise<T>,
): Promise<{ value: T; cpu: { allocator: number; apiserver: number; etcd: number } }> {
  const pids = [allocator, rig.pid('kube-apiserver'), rig.pid('etcd')];
  const before = pids.map(cpuOf);
  const value = await phase();
  const d = pids.map((p, i) => (cpuOf(p) - before[i]!) / ops);
  return { value, cpu: { allocator: d[0]!, apiserver: d[1]!, etcd: d[2]! } };
}

async function allocatorRun(
  rig: Rig,
  k: number,
  n: number,
  m: number,
  profileDir?: string,
): Promise<Run> {
  const pool = `growth-${n}`;
  // The M ADDs must fit under the allocator's record limit: a pool of N ≥ the limit starts
  // M short of it and ends the ADDs at it. Above the limit, N is written as it is (to show
  // what the API server says about such a status).
  const prefill = n > MAX_RECORDS ? n : Math.min(n, MAX_RECORDS - m);
  const made = await rig.makePool(pool, k, prefill);
  if (made.refused !== undefined) {
    await rig.pools.delete(pool).catch(() => undefined);
    return { records: n, statusKiB: made.kib, refused: made.refused };
  }
  const a = new AllocatorProcess(rig.cluster, NODE, await freePort());
  const t0 = performance.now();
  try {
    await a.start({
      NICPOOL_MAX_RECORDS_PER_POOL: String(MAX_RECORDS),
      ...(profileDir === undefined
        ? {}
        : { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` }),
    });
    const syncMs = performance.now() - t0;
    const pid = a.pid!;
    const synced = proc(pid);
    const pods = await rig.createPods(`p${n}${profileDir === undefined ? '' : 'prof'}`, pool, m);
    const addFrom = process.hrtime.bigint();
    const add = await phaseCpu(rig, pid, m, () =>
      timed(pods, (p) => socketCall(a.socket, 'POST', '/v1/ipam/ip', addBody(p))),
    );
    const addTo = process.hrtime.bigint();
    if (add.value.last !== undefined)
      say(
        `ADD at ${n}: ${add.value.failures} failed, last: ${JSON.stringify(add.value.last.json)}`,
      );
    await rig.deletePods();
    const del = await phaseCpu(rig, pid, m, () =>
      timed(pods, (p) => socketCall(a.socket, 'DELETE', '/v1/ipam/ip', addBody(p))),
    );
    if (del.value.last !== undefined)
      say(
        `DEL at ${n}: ${del.value.failures} failed, last: ${JSON.stringify(del.value.last.json)}`,
      );
    const after = proc(pid);
    const heapUsed = (await a.metric('nodejs_heap_size_used_bytes')) / 2 ** 20;
    const heapTotal = (await a.metric('nodejs_heap_size_total_bytes')) / 2 ** 20;
    const left = (await rig.pools.get(pool)).status?.allocatedIPCount;
    if (left !== prefill) say(`pool ${pool} holds ${left} records after DEL, expected ${prefill}`);
    await a.stop();
    const rawPut = profileDir === undefined ? await rawStatusPuts(rig, pool, 20) : undefined;
    let profile: Run['profile'];
    if (profileDir !== undefined) {
      const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
      if (file === undefined) say('the allocator wrote no CPU profile');
      else
        profile = hotspots(
          JSON.parse(readFileSync(join(profileDir, file), 'utf8')) as CpuProfile,
          Number(addFrom / 1000n),
          Number(addTo / 1000n),
        );
    }
    return {
      records: n,
      statusKiB: made.kib,
      syncMs,
      syncCpuMs: synced.cpuMs,
      rssSyncedMiB: synced.rssMiB,
      rssAfterMiB: after.rssMiB,
      heapUsedMiB: heapUsed,
      heapTotalMiB: heapTotal,
      peakRssMiB: after.peakRssMiB,
      add: add.value.ms,
      del: del.value.ms,
      failures: add.value.failures + del.value.failures,
      addCpu: add.cpu,
      delCpu: del.cpu,
      ...(rawPut === undefined ? {} : { rawPut }),
      ...(profile === undefined ? {} : { profile }),
    };
  } finally {
    await a.stop();
    a.cleanup();
    await rig.deletePods().catch(() => undefined);
    await rig.deleteEndpoints().catch(() => undefined);
    await rig.pools.delete(pool).catch(() => undefined);
  }
}

const f1 = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(1));
const f0 = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(0));
const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;

export async function growth(
  cluster: ClusterState,
  opts: GrowthOptions = {},
): Promise<BenchResult> {
  const quick = opts.quick ?? false;
  const recordCounts = opts.records ?? (quick ? [100, 1000, 10_000] : [100, 1000, 10_000, 50_000]);
  const m = opts.pods ?? (quick ? 30 : 100);
  const controllerPods = opts.controllerPods ?? (quick ? [1000, 10_000] : [1000, 10_000, 50_000]);
  const rig = new Rig(cluster);
  await rig.prepare();

  const runs: Run[] = [];
  for (const [k, n] of recordCounts.entries()) {
    say(`allocator, pool with ${n} records: ${m} ADD then ${m} DEL`);
    const r = await allocatorRun(rig, k, n, m);
    if (r.refused !== undefined) say(`  refused: ${r.refused}`);
    else
      say(
        `  RSS ${f0(r.rssSyncedMiB)} MiB, ADD p50 ${f1(quantile(r.add!, 0.5))} ms, DEL p50 ${f1(quantile(r.del!, 0.5))} ms`,
      );
    runs.push(r);
  }
  const stored = runs.filter((r) => r.refused === undefined);
  const base = stored[0];
  const largest = stored.at(-1);
  let profiled: Run | undefined;
  if (largest !== undefined && largest !== base) {
    const dir = mkdtempSync(join(tmpdir(), 'nicpool-growth-prof-'));
    say(`allocator, ${largest.records} records, profiled (--cpu-prof)`);
    profiled = await allocatorRun(
      rig,
      recordCounts.indexOf(largest.records),
      largest.records,
      Math.min(m, 40),
      dir,
    );
    rmSync(dir, { recursive: true, force: true });
  }

  const firstRefused = runs.find((r) => r.refused !== undefined);
  const limit =
    firstRefused === undefined || largest === undefined
      ? undefined
      : await storableLimit(rig, recordCounts.length, largest.records, firstRefused.records);
  if (limit !== undefined)
    say(`one pool holds at most ${limit.records} records (${limit.kib.toFixed(0)} KiB)`);

  const controller: CacheRow[] = [];
  for (const n of controllerPods) {
    say(`controller caches, ${n} pods + ${n} SpiderEndpoints`);
    controller.push(
      ...(await cacheRss(
        n,
        n === Math.max(...controllerPods) ? MODES : ['baseline', 'listed', 'after'],
      )),
    );
  }

  const p50 = (r: Run | undefined, which: 'add' | 'del'): number => quantile(r?.[which] ?? [], 0.5);
  const at10k = stored.find((r) => r.records === 10_000);
  const ratio = p50(at10k, 'add') / p50(base, 'add');
  const putAt10k = quantile(at10k?.rawPut ?? [], 0.5);
  const putRatio = putAt10k / quantile(base?.rawPut ?? [], 0.5);
  const ctl50k = controller.find((r) => r.pods === 50_000 && r.mode === 'after');

  const allocatorTable: Table = {
    csv: 'b4-allocator.csv',
    title: `Allocator: one pool with N records cached, ${m} ADD then ${m} DEL one at a time`,
    columns: [
      'records',
      'status (KiB)',
      'sync (s)',
      'sync CPU (s)',
      'RSS synced (MiB)',
      'RSS after (MiB)',
      'heap used/total after (MiB)',
      'peak RSS (MiB)',
      'ADD p50 (ms)',
      'ADD p99 (ms)',
      'DEL p50 (ms)',
      'DEL p99 (ms)',
      'bare status PUT p50 (ms)',
      'failed',
      'ADD CPU/op alloc (ms)',
      'ADD CPU/op apiserver (ms)',
      'ADD CPU/op etcd (ms)',
      'DEL CPU/op alloc (ms)',
      'DEL CPU/op apiserver (ms)',
    ],
    rows: runs.map((r) =>
      r.refused !== undefined
        ? [r.records, f0(r.statusKiB), `refused: ${r.refused}`, ...Array<string>(16).fill('')]
        : [
            r.records,
            f0(r.statusKiB),
            f1(r.syncMs! / 1000),
            f1(r.syncCpuMs! / 1000),
            f0(r.rssSyncedMiB),
            f0(r.rssAfterMiB),
            `${f0(r.heapUsedMiB)}/${f0(r.heapTotalMiB)}`,
            f0(r.peakRssMiB),
            f1(quantile(r.add!, 0.5)),
            f1(quantile(r.add!, 0.99)),
            f1(quantile(r.del!, 0.5)),
            f1(quantile(r.del!, 0.99)),
            r.rawPut === undefined ? '–' : f1(quantile(r.rawPut, 0.5)),
            r.failures!,
            f1(r.addCpu!.allocator),
            f1(r.addCpu!.apiserver),
            f1(r.addCpu!.etcd),
            f1(r.delCpu!.allocator),
            f1(r.delCpu!.apiserver),
          ],
    ),
  };
  const tables: Table[] = [allocatorTable];
  if (profiled?.profile !== undefined) {
    const p = profiled.profile;
    tables.push({
      csv: 'b4-allocator-profile.csv',
      title: `Where the allocator's ADD time goes at ${profiled.records} records (self time, share of busy samples; busy ${pct(p.busy)} of the ADD window)`,
      columns: ['function', 'where', 'share'],
      rows: [
        ...p.top.map((h) => [h.name, h.where, pct(h.share)]),
        ...p.byFile.map((h) => [`all of ${h.name}`, '', pct(h.share)]),
      ],
    });
  }
  tables.push({
    csv: 'b4-controller.csv',
    title: 'Controller caches (fake transport): N pods + N SpiderEndpoints, one child process each',
    columns: [
      'pods',
      'mode',
      'RSS after GC (MiB)',
      'over baseline (MiB)',
      'heap used (MiB)',
      'peak RSS (MiB)',
      'fill (s)',
      'fill CPU (s)',
    ],
    rows: controller.map((r) => {
      const b = controller.find((x) => x.pods === r.pods && x.mode === 'baseline');
      return [
        r.pods,
        r.mode,
        f0(r.rssMiB),
        f0(b === undefined ? undefined : r.rssMiB - b.rssMiB),
        f0(r.heapUsedMiB),
        f0(r.peakRssMiB),
        f1(r.fillMs / 1000),
        f1(r.fillCpuMs / 1000),
      ];
    }),
  });

  const log10 = (n: number): number => Math.round(Math.log10(n) * 1000) / 1000;
  const plots: Plot[] = [
    {
      file: 'b4-add-latency.svg',
      title: 'Allocator ADD/DEL latency vs records in the pool',
      xLabel: 'log10(records per pool)',
      yLabel: 'ms',
      series: (
        [
          ['ADD p50', 'add', 0.5],
          ['ADD p99', 'add', 0.99],
          ['DEL p50', 'del', 0.5],
        ] as const
      ).map(([name, which, q]) => ({
        name,
        points: stored.map((r) => [log10(r.records), quantile(r[which]!, q)] as const),
      })),
    },
    {
      file: 'b4-rss.svg',
      title: 'RSS vs cached records (allocator) and pods (controller)',
      xLabel: 'log10(records per pool | pods)',
      yLabel: 'MiB',
      series: [
        {
          name: 'allocator, synced',
          points: stored.map((r) => [log10(r.records), r.rssSyncedMiB!] as const),
        },
        {
          name: 'controller',
          points: controller
            .filter((r) => r.mode === 'after')
            .map((r) => [log10(r.pods), r.rssMiB] as const),
        },
      ],
    },
  ];

  const rss10k = at10k?.rssSyncedMiB;
  const targets: Target[] = [
    {
      what: 'ADD p50 at 10 000 records / at 100',
      target: '≤ 1.5×',
      measured: Number.isFinite(ratio)
        ? `${ratio.toFixed(2)}×${Number.isFinite(putRatio) ? ` (a bare status PUT of the pool: ${putRatio.toFixed(2)}×; at 10 000 it alone is ${(putAt10k / p50(base, 'add')).toFixed(2)}× the ADD at 100)` : ''}`
        : 'not measured',
      met: ratio <= 1.5,
    },
    {
      what: 'allocator RSS with 10 000 records cached',
      target: '< 150 MiB',
      measured: rss10k === undefined ? 'not measured' : `${rss10k.toFixed(0)} MiB`,
      met: rss10k !== undefined && rss10k < 150,
    },
    {
      what: 'controller RSS at 50 000 pods',
      target: '< 300 MiB',
      measured: ctl50k === undefined ? 'not measured' : `${ctl50k.rssMiB.toFixed(0)} MiB`,
      met: ctl50k !== undefined && ctl50k.rssMiB < 300,
    },
  ];

  const refused = runs.filter((r) => r.refused !== undefined);
  const notes = [
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; node ${process.version}; kube-apiserver and etcd from e2e/cluster (loopback). ` +
      `The allocator runs under its own ServiceAccount with deploy/'s RBAC (e2e/harness/identity.ts) and NICPOOL_MAX_RECORDS_PER_POOL=10000 (the default 5000 would refuse the 10 000-record pool). At 10 000 the pool holds 10 000 − M records before the ADDs, which end at the limit. ` +
      `Records are written straight into the pool's status before the allocator starts; each ADD is for a new Pod object bound to ${NODE}, so it allocates, writes the pool status and creates a SpiderEndpoint; each DEL follows the pod's deletion and releases.`,
    'RSS is VmRSS of the allocator process once its caches have synced ("synced") and after the ADD and DEL phases ("after"); peak is VmHWM. CPU/op is the growth of utime+stime (/proc/<pid>/stat) over a phase divided by its operations.',
    "\"bare status PUT\": after the allocator has stopped, 20 PUTs of the same pool's /status one at a time, each changing one record, timed request to answer: what the API server alone takes to store one change of a pool that size. Every ADD that takes an address writes the whole pool object once (Spiderpool's format keeps every record in it), so this grows with the records whatever the allocator does, and bounds the ADD ratio from below; the allocator's own share is its CPU/op column.",
    ...refused.map(
      (r) =>
        `${r.records} records (${f0(r.statusKiB)} KiB of status.allocatedIPs) cannot be stored: the API server answered "${r.refused}". One pool object holds every record (Spiderpool's format).`,
    ),
    ...(limit === undefined
      ? []
      : [
          `Bisection (steps of 250 records, status writes only): the largest pool stored held ${limit.records} records (${limit.kib.toFixed(0)} KiB); the next size up was refused with "${limit.above}".`,
        ]),
    'Profile table: a second allocator at the largest stored N runs with --cpu-prof; only the samples taken between the first ADD and the last ADD answer count (the profiler and process.hrtime share CLOCK_MONOTONIC). Shares are of the busy (non-idle) samples; while idle the allocator waits for the API server.',
    'Controller rows: bench/controller-cache-rss.ts (fake transport; baseline = same modules, empty caches; listed = every page parsed, nothing kept; before = client-node ListWatch with whole objects; after = KubeControllerStore). RSS is after two forced GCs.',
  ];
  return {
    id: 'B4',
    title: 'Memory and cost growth',
    commands: [
      'make cluster-up',
      `node_modules/.bin/node bench/growth.ts${quick ? ' --quick' : ''}`,
      'node_modules/.bin/node bench/controller-cache-rss.ts 50000',
    ],
    tables,
    plots,
    targets,
    notes,
  };
}

if (import.meta.main) {
  const cluster = readState();
  if (cluster === undefined) throw new Error('no cluster: run `make cluster-up` first');
  const result = await growth(cluster, { quick: process.argv.includes('--quick') });
  console.log(JSON.stringify(result, null, 2));
}
