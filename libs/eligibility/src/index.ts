/**
 * Which pools can serve a NIC: the one decision the webhook (at admission) and the
 * allocator's planner (at CNI ADD) share, so that admission refuses exactly what allocation
 * could never serve and nothing else (issue #12 item 3; style.md rule 16). Pure, no I/O.
 */
import {
  applicationLabels,
  autoPoolApplication,
  hasWildcard,
  matchPoolNames,
  type ApplicationRef,
  type PodInterface,
} from '@nicpool/annotations';
import { selectorMatches, specFamily, type SpiderIPPool } from '@nicpool/crds';
import type { IPFamily } from '@nicpool/ip';

/** Where a NIC's interface comes from, for a pool's `spec.multusName`. */
export interface NicNetwork {
  /** The NetworkAttachmentDefinition as `namespace/name`; undefined for the cluster network. */
  readonly nad: string | undefined;
}

/** Everything about the pod and its NIC that decides whether a pool may serve it. */
export interface EligibilityContext {
  /** The pod's namespace. */
  readonly namespace: string;
  readonly namespaceLabels: Readonly<Record<string, string>>;
  /** The pod's labels (a workload's pod template labels at admission). */
  readonly podLabels: Readonly<Record<string, string>>;
  /**
   * The workload that owns the pod. An auto-pool's podAffinity names its workload with
   * labels the pod does not carry ({@link applicationLabels}); without it an auto-pool only
   * serves pods that carry those labels themselves.
   */
  readonly application?: ApplicationRef;
  /**
   * The NIC's network. Absent when it is not known which NIC the pool list serves (an
   * `ippool` annotation at admission on a pod whose NADs are not cached): `multusName` is
   * then not checked.
   */
  readonly network?: NicNetwork;
  /** The node. Absent at admission (the pod is not scheduled): `nodeName`/`nodeAffinity` are not checked. */
  readonly node?: { readonly name: string; readonly labels: Readonly<Record<string, string>> };
}

/**
 * The network of a NIC as Multus resolves it: its NAD in the pod's namespace unless the
 * selection names one; the cluster network (no NAD) for `eth0` without a default-network
 * annotation.
 */
export function nicNetwork(nic: PodInterface, podNamespace: string): NicNetwork {
  return {
    nad:
      nic.network === undefined
        ? undefined
        : `${nic.network.namespace ?? podNamespace}/${nic.network.name}`,
  };
}

// Parsing a pool's CIDR is most of the cost of judging it (5000 pools per wildcard), and
// both callers judge the same snapshot objects again and again. The memo keeps the inputs
// it was computed from, so a spec changed in place is recomputed, never misjudged.
const familyMemo = new WeakMap<
  SpiderIPPool['spec'],
  { subnet: string; ipVersion: unknown; family: IPFamily | undefined }
>();
function familyOf(spec: SpiderIPPool['spec']): IPFamily | undefined {
  const m = familyMemo.get(spec);
  if (m !== undefined && m.subnet === spec.subnet && m.ipVersion === spec.ipVersion)
    return m.family;
  const family = specFamily(spec);
  familyMemo.set(spec, { subnet: spec.subnet, ipVersion: spec.ipVersion, family });
  return family;
}

/**
 * Why `pool` cannot serve a NIC of `family` in `ctx`, or undefined when it can. The reasons
 * read after `pool "<name>" ` (e.g. `is disabled (spec.disable: true)`); the allocator
 * reports them in NO_AVAILABLE_POOL and the webhook at the annotation's field path.
 * Node checks apply only when `ctx.node` is given, multusName only when `ctx.network` is.
 */
export function poolProblem(
  pool: SpiderIPPool | undefined,
  family: IPFamily,
  ctx: EligibilityContext,
): string | undefined {
  if (pool === undefined) return 'does not exist';
  const s = pool.spec;
  if (pool.metadata.deletionTimestamp !== undefined) return 'is terminating';
  if (s.disable === true) return 'is disabled (spec.disable: true)';
  const fam = familyOf(s);
  if (fam !== family) return `is IPv${fam ?? '?'}, this list asks for IPv${family}`;
  const node = ctx.node;
  if (node !== undefined) {
    if ((s.nodeName ?? []).length > 0) {
      if (!s.nodeName!.includes(node.name))
        return `is limited to nodes ${JSON.stringify(s.nodeName)} (this is ${node.name})`;
    } else if (!selectorMatches(s.nodeAffinity, node.labels))
      return `nodeAffinity does not match node ${node.name}`;
  }
  if ((s.namespaceName ?? []).length > 0) {
    if (!s.namespaceName!.includes(ctx.namespace))
      return `is limited to namespaces ${JSON.stringify(s.namespaceName)} (pod is in ${ctx.namespace})`;
  } else if (!selectorMatches(s.namespaceAffinity, ctx.namespaceLabels))
    return `namespaceAffinity does not match namespace ${ctx.namespace}`;
  // An auto-pool's affinity names its workload, which pods do not carry as labels.
  const app = autoPoolApplication(pool.metadata.labels);
  const labels =
    app !== undefined && ctx.application !== undefined
      ? { ...ctx.podLabels, ...applicationLabels(ctx.application) }
      : ctx.podLabels;
  if (!selectorMatches(s.podAffinity, labels))
    return app !== undefined
      ? `is the auto-pool of ${app.kind} ${app.namespace}/${app.nameLabel}, not of this pod's workload`
      : 'podAffinity does not match the pod labels';
  const network = ctx.network;
  if (network !== undefined && (s.multusName ?? []).length > 0) {
    const nad = network.nad;
    // Spiderpool accepts `name` (any namespace) or `namespace/name`.
    const served = s.multusName!.some((m) =>
      m.includes('/') ? m === nad : m === nad?.split('/')[1],
    );
    if (!served)
      return `serves NetworkAttachmentDefinitions ${JSON.stringify(s.multusName)}, this NIC comes from ${nad ?? 'the cluster network'}`;
  }
  return undefined;
}

/** Pools by name and, per family, their names sorted (the order wildcard expansion uses). */
export interface PoolIndex {
  readonly byName: ReadonlyMap<string, SpiderIPPool>;
  readonly names: Readonly<Record<IPFamily, readonly string[]>>;
}

// Callers pass snapshots that are replaced, never mutated (the webhook's cache snapshot is
// rebuilt only after a watch event): one index per snapshot spares every admission
// re-sorting 5000 pool names.
const indexMemo = new WeakMap<readonly SpiderIPPool[], PoolIndex>();

/**
 * The index of a pool snapshot, built once per array (memoized by identity, so the array
 * must not be mutated afterwards).
 */
export function poolIndex(pools: readonly SpiderIPPool[]): PoolIndex {
  let idx = indexMemo.get(pools);
  if (idx === undefined) {
    const names: Record<IPFamily, string[]> = { 4: [], 6: [] };
    const byName = new Map<string, SpiderIPPool>();
    for (const p of pools) {
      byName.set(p.metadata.name, p);
      const f = familyOf(p.spec);
      if (f !== undefined) names[f].push(p.metadata.name);
    }
    names[4].sort();
    names[6].sort();
    idx = { byName, names };
    indexMemo.set(pools, idx);
  }
  return idx;
}

/** A pool matched by a NIC's list that cannot serve it. */
export interface SkippedPool {
  readonly name: string;
  /** From {@link poolProblem}. */
  readonly reason: string;
  /** Index of the pattern that matched it first. */
  readonly pattern: number;
}

/** The verdict on one NIC's pool list for one family. */
export interface PoolChoice {
  /** Pools that can serve the NIC, in the order to try them (matchPoolNames' order). */
  readonly usable: readonly string[];
  /** Matched pools that cannot, in the same order. */
  readonly skipped: readonly SkippedPool[];
  /** Indexes of the wildcard patterns that matched no pool of the family. */
  readonly unmatched: readonly number[];
  /** For each usable pool, the index of the pattern that matched it first. */
  readonly patternOf: ReadonlyMap<string, number>;
}

/**
 * Splits the pools a NIC's list (`patterns`, names and shell wildcards as written) matches
 * into usable and skipped ones, with {@link poolProblem}'s reason for each skipped pool. An
 * exact name is always matched (so a missing or other-family pool is skipped with a
 * reason); a wildcard matches existing pools of `family`. Order: the written order and,
 * within one wildcard, name order; a pool matched twice counts once — as
 * `matchPoolNames(patterns, names of family)` orders them. A NIC can be served iff
 * `usable` is not empty. Cost: the matcher's, plus O(matched pools).
 */
export function usablePools(
  patterns: readonly string[],
  family: IPFamily,
  pools: PoolIndex | readonly SpiderIPPool[],
  ctx: EligibilityContext,
): PoolChoice {
  const index = isIndex(pools) ? pools : poolIndex(pools);
  const usable: string[] = [];
  const skipped: SkippedPool[] = [];
  const unmatched: number[] = [];
  const patternOf = new Map<string, number>();
  const seen = new Set<string>();
  patterns.forEach((pattern, i) => {
    // Exact names never scan the pool list: O(1) per name whatever the cluster size.
    const names = hasWildcard(pattern) ? matchPoolNames([pattern], index.names[family]) : [pattern];
    if (names.length === 0) unmatched.push(i);
    for (const name of names) {
      if (seen.has(name)) continue;
      seen.add(name);
      const reason = poolProblem(index.byName.get(name), family, ctx);
      if (reason === undefined) {
        usable.push(name);
        patternOf.set(name, i);
      } else skipped.push({ name, reason, pattern: i });
    }
  });
  return { usable, skipped, unmatched, patternOf };
}

function isIndex(p: PoolIndex | readonly SpiderIPPool[]): p is PoolIndex {
  return !Array.isArray(p);
}
