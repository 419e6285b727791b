/**
 * The invariant checker against a running cluster (issue #12, item 6): reads pools, subnets,
 * SpiderEndpoints, SpiderReservedIPs, pods and StatefulSets with paginated lists and hands
 * them to the pure checker in @nicpool/invariants, which says what is wrong, object by object.
 *
 * Every e2e suite ends with {@link expectInvariants}. As a CLI (`make check-invariants`):
 *
 *   node e2e/harness/invariants.ts [--kubeconfig PATH] [--strict] [--grace-seconds N] [--verbose]
 *
 * prints every violation and exits 1, or prints a one-line summary and exits 0. The
 * kubeconfig is PATH, else $KUBECONFIG, else the local cluster's .nicpool/kubeconfig.
 * Findings about pods in flight (Terminating, finished or deleted less than --grace-seconds
 * ago, default 90, or created less than 15 s ago) are "settling": counted in the summary,
 * listed with the violations or with --verbose, and failing only with --strict.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import {
  GROUP,
  VERSION,
  type SpiderEndpoint,
  type SpiderIPPool,
  type SpiderReservedIP,
  type SpiderSubnet,
} from '@nicpool/crds';
import {
  checkSnapshot,
  DEFAULT_GRACE_MS,
  listAll,
  podView,
  formatFinding,
  summaryLine,
  type CheckOptions,
  type ClusterSnapshot,
  type InvariantReport,
  type StatefulSetView,
} from '@nicpool/invariants';
import { loadKubeConfig, Plural } from '@nicpool/kube';
import { KUBECONFIG } from '../cluster/control-plane.ts';
import { cluster } from './helpers.ts';

/** The API clients the checker reads with. */
export interface InvariantClient {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly custom: CustomObjectsApi;
}

export function invariantClient(kubeconfigPath: string): InvariantClient {
  let kc;
  try {
    kc = loadKubeConfig({ kind: 'file', path: kubeconfigPath });
  } catch (e) {
    throw new Error(
      `cannot load kubeconfig ${kubeconfigPath}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  return {
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
  };
}

/** Objects per list page. */
const PAGE = 500;

/**
 * Reads everything the invariants relate. Endpoints are read before pools and pods last:
 * an ADD or DEL in between then shows as a finding about a pod that is new or going, which
 * `allowSettling` and {@link expectInvariants}' re-reads absorb.
 */
export async function readSnapshot(
  client: InvariantClient,
  pageSize = PAGE,
): Promise<ClusterSnapshot> {
  const cluster = <T>(plural: Plural): Promise<T[]> =>
    listAll<T>((cont) =>
      client.custom.listClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural,
        limit: pageSize,
        ...(cont === undefined ? {} : { _continue: cont }),
      }),
    );
  const endpoints = await listAll<SpiderEndpoint>((cont) =>
    client.custom.listCustomObjectForAllNamespaces({
      group: GROUP,
      version: VERSION,
      resourcePlural: Plural.endpoint,
      limit: pageSize,
      ...(cont === undefined ? {} : { _continue: cont }),
    }),
  );
  const pools = await cluster<SpiderIPPool>(Plural.ippool);
  const subnets = await cluster<SpiderSubnet>(Plural.subnet);
  const reservedIPs = await cluster<SpiderReservedIP>(Plural.reservedIP);
  const statefulSets: StatefulSetView[] = (
    await listAll<{
      metadata?: { namespace?: string; name?: string };
      spec?: { replicas?: number };
    }>((cont) =>
      client.apps.listStatefulSetForAllNamespaces({
        limit: pageSize,
        ...(cont === undefined ? {} : { _continue: cont }),
      }),
    )
  ).map((s) => ({
    namespace: s.metadata?.namespace ?? '',
    name: s.metadata?.name ?? '',
    replicas: s.spec?.replicas ?? 1,
  }));
  const pods = (
    await listAll<V1Pod>((cont) =>
      client.core.listPodForAllNamespaces({
        limit: pageSize,
        ...(cont === undefined ? {} : { _continue: cont }),
      }),
    )
  ).map(podView);
  return { pools, subnets, endpoints, reservedIPs, pods, statefulSets };
}

/** Reads the cluster of `source` (a kubeconfig path or clients) and checks every invariant. */
export async function checkInvariants(
  source: string | InvariantClient,
  opts: CheckOptions = {},
): Promise<InvariantReport> {
  const client = typeof source === 'string' ? invariantClient(source) : source;
  return checkSnapshot(await readSnapshot(client), opts);
}

/** Every violation and settling finding, one per line, then the summary. */
export function reportText(r: InvariantReport): string {
  return [
    ...r.violations.map(formatFinding),
    ...r.settling.map((f) => `settling: ${formatFinding(f)}`),
    summaryLine(r),
  ].join('\n');
}

/**
 * The end of every e2e suite: the invariants hold on the cluster at `kubeconfig` (default:
 * the one the e2e global setup started or reused). The cluster is re-read until nothing is
 * wrong and nothing is settling, or `settleMs` (default 30 s) has passed: a suite's cleanup
 * may still have DELs, deletions and controller writes in flight. Then every violation of
 * the last read fails it, and so does every finding still "settling" (by then the suite has
 * stopped the components that would settle it: a Terminating pod with records is a leak),
 * unless `allowSettling: true` is passed. `allowSettling: false` judges every read strictly.
 */
export async function expectInvariants(
  kubeconfig: string = cluster().kubeconfig,
  opts: CheckOptions & { settleMs?: number } = {},
): Promise<InvariantReport> {
  const client = invariantClient(kubeconfig);
  const started = Date.now();
  const deadline = started + (opts.settleMs ?? 30_000);
  const check = (): Promise<InvariantReport> =>
    checkInvariants(client, { ...opts, allowSettling: opts.allowSettling !== false });
  const clean = (x: InvariantReport): boolean =>
    x.violations.length === 0 && x.settling.length === 0;
  let reads = 1;
  let r = await check();
  const first = r;
  while (!clean(r) && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 1000));
    r = await check();
    reads++;
  }
  const took = `${reads} read${reads === 1 ? '' : 's'} in ${((Date.now() - started) / 1000).toFixed(1)} s`;
  const failing = opts.allowSettling === true ? r.violations : [...r.violations, ...r.settling];
  if (failing.length > 0)
    throw new Error(
      `cluster invariants do not hold (${took}; what was still settling at the end counts):\n${reportText(r)}`,
    );
  // Said once, so a suite that only passes after its cleanup settled shows what was in flight.
  if (reads > 1)
    process.stderr.write(
      `invariants hold after ${took}; the first read had:\n${reportText(first)}\n`,
    );
  return r;
}

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      kubeconfig: { type: 'string' },
      strict: { type: 'boolean', default: false },
      'grace-seconds': { type: 'string' },
      verbose: { type: 'boolean', default: false },
    },
  });
  const grace = values['grace-seconds'];
  const graceMs = grace === undefined ? DEFAULT_GRACE_MS : Number(grace) * 1000;
  if (!Number.isFinite(graceMs) || graceMs < 0)
    throw new Error(
      `--grace-seconds must be a number of seconds ≥ 0, got ${JSON.stringify(grace)}`,
    );
  const kubeconfig = values.kubeconfig ?? (process.env['KUBECONFIG'] || KUBECONFIG);
  const r = await checkInvariants(kubeconfig, { allowSettling: !values.strict, graceMs });
  const ok = r.violations.length === 0;
  console.log(ok && !values.verbose ? summaryLine(r) : reportText(r));
  return ok ? 0 : 1;
}

/** Run as a program (not imported by a suite)? */
function isMain(): boolean {
  try {
    const arg = process.argv[1];
    return arg !== undefined && realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (e) {
    console.error(`check-invariants failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 2;
  }
}
