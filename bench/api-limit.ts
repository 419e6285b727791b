// B2: what the API server itself sustains for the two writes every pod costs nicpool, with
// the allocator's client (@kubernetes/client-node through libs/kube) and no nicpool
// component running, so B1 can state its pods/s against it:
//   pool status   GET + conditional PUT of one SpiderIPPool's /status, changing one record
//                 of status.allocatedIPs (a fixed number of records, so the object keeps its
//                 size), retried on 409 through libs/kube's retryOnConflict until it lands
//   endpoint      POST of a SpiderEndpoint shaped as the allocator writes it, each new
//   create/delete DELETE of the objects just created, at the same number in flight
// Closed loop: N requests in flight for `seconds`, each worker starting its next one when
// its last returns. The API server's own counters (apiserver_request_total) are read around
// every phase, so requests and 409s are also counted as the server saw them.
// Usage: node bench/api-limit.ts [seconds=10]   (needs `make cluster-up`)
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { Label } from '@nicpool/annotations';
import {
  API_VERSION,
  decodeAllocatedIPs,
  encodeAllocatedIPs,
  GROUP,
  VERSION,
  type SpiderEndpoint,
  type SpiderIPPool,
} from '@nicpool/crds';
import {
  ClusterObjects,
  createKubeClients,
  DEFAULT_RETRY,
  isNotFound,
  loadKubeConfig,
  Plural,
  retryOnConflict,
  type KubeClients,
} from '@nicpool/kube';
import { readState, versions, type ClusterState } from '../e2e/cluster/control-plane.ts';
import { diffCounts, requestCounts, summarise, type Summary } from './lib/apiserver-metrics.ts';
import { say, type BenchResult, type Plot, type Table } from './lib/types.ts';
import { quantile } from './lib/stats.ts';

export interface ApiLimitOptions {
  /** Length of each measured phase; default 10. */
  readonly seconds?: number;
  /** Requests in flight, for every operation; default 1, 4, 16 (status) and 1, 4, 16, 64 (endpoints). */
  readonly concurrency?: readonly number[];
  /** Records the pool's status holds throughout; default 256. */
  readonly records?: number;
}

const STATUS_CONCURRENCY = [1, 4, 16];
const ENDPOINT_CONCURRENCY = [1, 4, 16, 64];
const SUBNET = '10.250.0.0/16';
const NODE = 'bench-node';
const ipOf = (slot: number): string => `10.250.${((slot + 1) >> 8) & 255}.${(slot + 1) & 255}`;

/** What one phase measured: landed operations, per-request and per-operation latencies. */
interface Phase {
  readonly op: string;
  readonly inFlight: number;
  readonly done: number;
  readonly seconds: number;
  /** 409 answers the client got (each retried). */
  readonly conflicts: number;
  /** Latency of each write request (PUT, POST or DELETE), ms. */
  readonly requestMs: number[];
  /** Latency of each landed operation, its reads and retries included, ms. */
  readonly opMs: number[];
  /** The phase's requests as the API server counted them, for the resource written. */
  readonly server: Summary;
}

type Recorder = { requestMs: number[]; conflicts: number };

/** A namespace of its own, the clients, and the bookkeeping to remove what was created. */
interface Bench {
  readonly cluster: ClusterState;
  readonly clients: KubeClients;
  readonly pools: ClusterObjects<SpiderIPPool>;
  readonly namespace: string;
  readonly id: string;
  /** SpiderEndpoints created and not yet deleted. */
  readonly endpoints: Set<string>;
  pool?: string;
  /** Numbers pods across phases, so every write changes what it writes (a no-op PUT is cheaper). */
  seq: number;
}

async function timed<T>(into: number[], request: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await request();
  } finally {
    into.push(performance.now() - t0);
  }
}

/** Waits for every worker, then fails with the first failure: nothing runs on during the cleanup. */
async function settleAll(work: readonly Promise<void>[]): Promise<void> {
  const failed = (await Promise.allSettled(work)).find((r) => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

/**
 * `inFlight` workers run `op` back to back until `seconds` have passed or `op` finds
 * nothing left to do (resolves false); each worker finishes the operation it started.
 */
async function phase(
  bench: Bench,
  what: { op: string; group: string; resource: string },
  inFlight: number,
  seconds: number,
  op: (rec: Recorder) => Promise<boolean>,
): Promise<Phase> {
  const rec: Recorder = { requestMs: [], conflicts: 0 };
  const opMs: number[] = [];
  const before = await requestCounts(bench.cluster);
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      if (!(await op(rec))) return;
      opMs.push(performance.now() - t0);
    }
  };
  await settleAll(Array.from({ length: inFlight }, worker));
  const elapsed = (performance.now() - start) / 1000;
  const server = summarise(diffCounts(before, await requestCounts(bench.cluster)), [what]);
  return { ...what, inFlight, done: opMs.length, seconds: elapsed, ...rec, opMs, server };
}

/** Runs `op` on every item, `inFlight` at a time (not measured). */
async function drain(
  items: readonly string[],
  inFlight: number,
  op: (item: string) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await op(items[next++]!);
  };
  await settleAll(Array.from({ length: inFlight }, worker));
}

async function open(cluster: ClusterState): Promise<Bench> {
  const clients = createKubeClients(loadKubeConfig({ kind: 'file', path: cluster.kubeconfig }));
  const id = randomBytes(3).toString('hex');
  const namespace = `bench-b2-${id}`;
  await clients.core.createNamespace({ body: { metadata: { name: namespace } } });
  return {
    cluster,
    clients,
    pools: new ClusterObjects<SpiderIPPool>(clients.custom, Plural.ippool),
    namespace,
    id,
    endpoints: new Set(),
    seq: 0,
  };
}

const ignoreNotFound = (e: unknown): void => {
  if (!isNotFound(e)) throw e;
};

/** Deletes every object the bench created; no controller runs here, so no finalizer holds them. */
async function close(bench: Bench): Promise<void> {
  await drain([...bench.endpoints], 16, (name) =>
    deleteEndpoint(bench, name).catch(ignoreNotFound),
  );
  if (bench.pool !== undefined) await bench.pools.delete(bench.pool).catch(ignoreNotFound);
  await bench.clients.core.deleteNamespace({ name: bench.namespace }).catch(ignoreNotFound);
}

async function withBench<T>(cluster: ClusterState, run: (bench: Bench) => Promise<T>): Promise<T> {
  const bench = await open(cluster);
  try {
    return await run(bench);
  } finally {
    await close(bench);
  }
}

// ---- pool status -----------------------------------------------------------------------

/**
 * The pool's status with the record of each address slot given to pod number `seq`
 * (others kept), decoded and encoded with the allocator's codec.
 */
function withRecords(
  pool: SpiderIPPool,
  bench: Bench,
  slots: readonly { slot: number; seq: number }[],
): SpiderIPPool {
  const decoded = decodeAllocatedIPs(pool.status?.allocatedIPs);
  if (!decoded.ok) throw new Error(decoded.error.message);
  const records = decoded.value;
  for (const { slot, seq } of slots)
    records.set(ipOf(slot), {
      pod: `${bench.namespace}/pod-${seq}`,
      podUid: `${bench.id}-uid-${seq}`,
      interface: 'eth0',
    });
  return {
    ...pool,
    status: {
      ...pool.status,
      allocatedIPs: encodeAllocatedIPs(records),
      allocatedIPCount: records.size,
    },
  };
}

/** A pool of its own, its status holding `records` records from the start. */
async function createPool(bench: Bench, records: number): Promise<string> {
  const name = `bench-b2-${bench.id}`;
  await bench.pools.create({
    apiVersion: API_VERSION,
    kind: 'SpiderIPPool',
    metadata: { name },
    spec: { subnet: SUBNET, ips: ['10.250.0.1-10.250.255.254'], gateway: '10.250.0.1' },
  });
  bench.pool = name;
  const slots = Array.from({ length: records }, (_, slot) => ({ slot, seq: slot }));
  const pool = withRecords(await bench.pools.get(name), bench, slots);
  bench.seq = records;
  await bench.pools.replaceStatus({
    ...pool,
    status: { ...pool.status, totalIPCount: 65534 },
  });
  return name;
}

/** One landed status write: fresh GET, one record changed, PUT with its resourceVersion; 409 → again. */
function statusWriter(
  bench: Bench,
  pool: string,
  records: number,
): (rec: Recorder) => Promise<boolean> {
  return async (rec) => {
    const mine = bench.seq++;
    await retryOnConflict(
      `SpiderIPPool ${pool}`,
      () => bench.pools.get(pool),
      (p) => ({
        write: withRecords(p, bench, [{ slot: mine % records, seq: mine }]),
        result: true,
      }),
      (p) => timed(rec.requestMs, () => bench.pools.replaceStatus(p)),
      {
        ...DEFAULT_RETRY,
        attempts: Number.MAX_SAFE_INTEGER,
        onConflict: () => void rec.conflicts++,
      },
    );
    return true;
  };
}

// ---- SpiderEndpoints -------------------------------------------------------------------

/** A SpiderEndpoint as the allocator records one NIC (apps/allocator/src/endpoint.ts). */
function endpoint(bench: Bench, seq: number): SpiderEndpoint {
  const name = `pod-${seq}`;
  return {
    apiVersion: API_VERSION,
    kind: 'SpiderEndpoint',
    // Without the allocator's finalizer and Pod owner reference: no pod exists, the garbage
    // collector would delete the objects mid-run, and the deletes would need a PUT each.
    metadata: { name, namespace: bench.namespace, labels: { [Label.endpointNode]: NODE } },
    status: {
      current: {
        uid: `${bench.id}-uid-${seq}`,
        node: NODE,
        ips: [
          {
            interface: 'eth0',
            ipv4: `${ipOf(seq % 65534)}/16`,
            ipv4Pool: `bench-b2-${bench.id}`,
            ipv4Gateway: '10.250.0.1',
            routes: [],
          },
        ],
      },
      ownerControllerType: 'Pod',
      ownerControllerName: name,
    },
  };
}

function endpointCreator(bench: Bench): (rec: Recorder) => Promise<boolean> {
  return async (rec) => {
    const ep = endpoint(bench, bench.seq++);
    await timed(rec.requestMs, () =>
      bench.clients.custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: Plural.endpoint,
        namespace: bench.namespace,
        body: ep,
      }),
    );
    bench.endpoints.add(ep.metadata.name);
    return true;
  };
}

async function deleteEndpoint(bench: Bench, name: string): Promise<void> {
  await bench.clients.custom.deleteNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: Plural.endpoint,
    namespace: bench.namespace,
    name,
  });
  bench.endpoints.delete(name);
}

/** Deletes the endpoints created so far, `inFlight` at a time, until none is left. */
function endpointDeleter(bench: Bench): (rec: Recorder) => Promise<boolean> {
  const queue = [...bench.endpoints];
  return async (rec) => {
    const name = queue.pop();
    if (name === undefined) return false;
    await timed(rec.requestMs, () => deleteEndpoint(bench, name));
    return true;
  };
}

const ENDPOINTS = { group: GROUP, resource: Plural.endpoint };

/** Creates and then deletes SpiderEndpoints with `inFlight` in flight; both phases measured. */
async function endpointPhases(
  bench: Bench,
  inFlight: number,
  seconds: number,
): Promise<[Phase, Phase]> {
  const create = await phase(
    bench,
    { op: 'SpiderEndpoint create', ...ENDPOINTS },
    inFlight,
    seconds,
    endpointCreator(bench),
  );
  // As many deletes as creates: the phase ends when the queue is empty, whatever the clock says.
  const remove = await phase(
    bench,
    { op: 'SpiderEndpoint delete', ...ENDPOINTS },
    inFlight,
    Number.POSITIVE_INFINITY,
    endpointDeleter(bench),
  );
  return [create, remove];
}

/**
 * SpiderEndpoint creates per second the API server sustains with `concurrency` in flight
 * for `seconds`, in a namespace of its own (removed afterwards): the yardstick of B1's
 * pods/s.
 */
export async function endpointCreateRate(
  cluster: ClusterState,
  concurrency: number,
  seconds: number,
): Promise<number> {
  return withBench(cluster, async (bench) => {
    const [create] = await endpointPhases(bench, concurrency, seconds);
    return create.done / create.seconds;
  });
}

// ---- the report ------------------------------------------------------------------------

const rate = (p: Phase): number => p.done / p.seconds;

function table(phases: readonly Phase[]): Table {
  return {
    csv: 'b2-api-limit.csv',
    title: 'API server limit: landed operations per second by requests in flight',
    columns: [
      'operation',
      'in flight',
      'landed',
      'seconds',
      'per s',
      '409s',
      'server writes',
      'server 409s',
      'server writes per landed',
      'request p50 ms',
      'request p99 ms',
      'operation p50 ms',
      'operation p99 ms',
    ],
    rows: phases.map((p) => [
      p.op,
      p.inFlight,
      p.done,
      p.seconds,
      rate(p),
      p.conflicts,
      p.server.writes,
      p.server.conflicts,
      p.done === 0 ? Number.NaN : p.server.writes / p.done,
      quantile(p.requestMs, 0.5),
      quantile(p.requestMs, 0.99),
      quantile(p.opMs, 0.5),
      quantile(p.opMs, 0.99),
    ]),
  };
}

function plot(phases: readonly Phase[]): Plot {
  const ops = [...new Set(phases.map((p) => p.op))];
  return {
    file: 'b2-api-limit.svg',
    title: 'API server limit by requests in flight',
    xLabel: 'requests in flight',
    yLabel: 'landed per second',
    series: ops.map((op) => ({
      name: op,
      points: phases.filter((p) => p.op === op).map((p) => [p.inFlight, rate(p)] as const),
    })),
  };
}

/** B2: the API server's own rates for nicpool's two per-pod writes, with request accounting. */
export async function apiLimit(
  cluster: ClusterState,
  opts: ApiLimitOptions = {},
): Promise<BenchResult> {
  const seconds = opts.seconds ?? 10;
  const records = opts.records ?? 256;
  const phases = await withBench(cluster, async (bench) => {
    const out: Phase[] = [];
    const pool = await createPool(bench, records);
    for (const n of opts.concurrency ?? STATUS_CONCURRENCY) {
      say(`B2: pool status writes, ${n} in flight, ${seconds} s`);
      out.push(
        await phase(
          bench,
          { op: 'pool status write', group: GROUP, resource: Plural.ippool },
          n,
          seconds,
          statusWriter(bench, pool, records),
        ),
      );
    }
    for (const n of opts.concurrency ?? ENDPOINT_CONCURRENCY) {
      say(`B2: SpiderEndpoint creates then deletes, ${n} in flight, ${seconds} s`);
      out.push(...(await endpointPhases(bench, n, seconds)));
    }
    return out;
  });
  const v = versions();
  const cpu = cpus();
  return {
    id: 'B2',
    title: "The API server's own limit",
    commands: [`node_modules/.bin/node bench/api-limit.ts ${seconds}`],
    tables: [table(phases)],
    plots: [plot(phases)],
    targets: [],
    notes: [
      `Yardsticks for B1, measured on a local kube-apiserver ${v['KUBE_VERSION']} with etcd ${v['ETCD_VERSION']} (no fsync) on ${cpu.length}× ${cpu[0]?.model ?? 'unknown CPU'}, Node ${process.version}, from one process with @kubernetes/client-node through libs/kube and the admin kubeconfig; no nicpool component runs.`,
      `**pool status write**: one landed write is a GET of the SpiderIPPool and a PUT of its /status carrying the read's resourceVersion, changing one record of status.allocatedIPs (${records} records throughout, re-encoded with libs/crds' codec as the allocator does); a 409 is retried through libs/kube's retryOnConflict (jittered backoff, no attempt limit). All writers share ONE pool, so this is the ceiling of any allocator that writes one pool once per pod.`,
      '**SpiderEndpoint create/delete**: a POST of an endpoint shaped as the allocator writes one NIC (without its finalizer and Pod owner reference, as no pod exists), then a DELETE of each, at the same number in flight.',
      `Closed loop: N requests in flight for ${seconds} s each, per s = landed / seconds. "server" columns come from kube-apiserver's apiserver_request_total, read before and after each phase (bench/lib/apiserver-metrics.ts), for the resource written; request latency is that of the PUT, POST or DELETE alone, operation latency includes the GET and every retry.`,
    ],
  };
}

if (import.meta.main) {
  const seconds = Number(process.argv[2] ?? 10);
  if (!(seconds > 0)) throw new Error(`seconds must be a positive number, got ${process.argv[2]}`);
  const cluster = readState();
  if (cluster === undefined) throw new Error('no cluster: run `make cluster-up` first');
  console.log(JSON.stringify(await apiLimit(cluster, { seconds }), null, 2));
}
