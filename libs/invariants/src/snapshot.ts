/** What the invariant checker reads of a cluster, and what it says about it. */
import type { SpiderEndpoint, SpiderIPPool, SpiderReservedIP, SpiderSubnet } from '@nicpool/crds';

/** What the checker needs of a Pod (the I/O side maps `V1Pod` to this). */
export interface PodView {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** Phase Succeeded or Failed: its sandbox is gone, it needs no address. */
  readonly finished: boolean;
  readonly creationTimestamp?: string;
  readonly deletionTimestamp?: string;
  /** When its last container finished (finished pods only), if known. */
  readonly finishedAt?: string;
}

/** A StatefulSet's replicas: its pods keep their addresses across re-creation below that ordinal. */
export interface StatefulSetView {
  readonly namespace: string;
  readonly name: string;
  readonly replicas: number;
}

/** Every object the invariants relate, read at (about) one moment. */
export interface ClusterSnapshot {
  readonly pools: readonly SpiderIPPool[];
  readonly subnets: readonly SpiderSubnet[];
  readonly endpoints: readonly SpiderEndpoint[];
  readonly reservedIPs: readonly SpiderReservedIP[];
  readonly pods: readonly PodView[];
  readonly statefulSets: readonly StatefulSetView[];
}

export interface CheckOptions {
  /** Milliseconds since the epoch the timestamps are compared with; default Date.now(). */
  readonly now?: number;
  /**
   * Report pod-related findings as "settling" instead of violations while the pod is
   * Terminating, was finished or deleted less than `graceMs` ago, or was created less than
   * `inFlightMs` ago: the allocator writes the pool record before the endpoint, DEL removes
   * them in the other order, and the controller's GC waits out the grace period plus its
   * delay before it releases a leaked record.
   */
  readonly allowSettling?: boolean;
  /** How recent a deletion or finish is for {@link CheckOptions.allowSettling}; default 90 s. */
  readonly graceMs?: number;
  /** How recent a creation is for {@link CheckOptions.allowSettling}; default 15 s (an ADD's writes take well under that). */
  readonly inFlightMs?: number;
}

/** Default of {@link CheckOptions.graceMs}: the default grace period (30 s) plus GC's delay (30 s), with slack. */
export const DEFAULT_GRACE_MS = 90_000;

/** Default of {@link CheckOptions.inFlightMs}. */
export const DEFAULT_IN_FLIGHT_MS = 15_000;

/** One kind per invariant and way of breaking it; tests and callers branch on these. */
export const Kind = {
  poolUnreadable: 'pool-unreadable',
  subnetUnreadable: 'subnet-unreadable',
  endpointUnreadable: 'endpoint-unreadable',
  reservedUnreadable: 'reserved-unreadable',
  // records ⇔ SpiderEndpoints
  recordWithoutEndpoint: 'record-without-endpoint',
  recordEndpointMismatch: 'record-endpoint-mismatch',
  endpointWithoutRecord: 'endpoint-without-record',
  endpointOrphan: 'endpoint-orphan',
  // records ⇔ live pods
  recordPodGone: 'record-pod-gone',
  recordPodRecreated: 'record-pod-recreated',
  recordPodFinished: 'record-pod-finished',
  recordPodTerminating: 'record-pod-terminating',
  // no address twice
  addressHeldTwice: 'address-held-twice',
  recordTwiceInPool: 'record-twice-in-pool',
  nicHoldsTwo: 'nic-holds-two',
  // counts
  allocatedCount: 'allocated-count',
  totalCount: 'total-count',
  subnetCount: 'subnet-count',
  // records inside ips − excludeIPs − reserved
  recordOutsideIPs: 'record-outside-ips',
  recordExcluded: 'record-excluded',
  recordReserved: 'record-reserved',
  // subnet claims
  claimMissing: 'claim-missing',
  claimShort: 'claim-short',
  claimExcess: 'claim-excess',
  claimWithoutPool: 'claim-without-pool',
  claimOutsideSubnet: 'claim-outside-subnet',
  claimsOverlap: 'claims-overlap',
  claimOverlapsPool: 'claim-overlaps-pool',
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** One thing wrong with one object. */
export interface Finding {
  readonly kind: Kind;
  /** The object it is about, as `kubectl` names it: `SpiderIPPool test-ippool-1`, `SpiderEndpoint ns/x`. */
  readonly object: string;
  /** What is wrong, one line, without the object. */
  readonly message: string;
  /** Why it is expected to resolve itself (only with `allowSettling`), e.g. `pod is Terminating`. */
  readonly settling?: string;
}

export interface InvariantReport {
  /** Findings that break an invariant. Empty when all hold. */
  readonly violations: readonly Finding[];
  /** Findings explained by work in flight (only with `allowSettling`). */
  readonly settling: readonly Finding[];
  readonly totals: {
    readonly pools: number;
    readonly records: number;
    readonly endpoints: number;
    readonly pods: number;
    readonly subnets: number;
  };
}

/** `SpiderIPPool p: record … has no SpiderEndpoint (settling: pod is Terminating)`. */
export function formatFinding(f: Finding): string {
  return `${f.object}: ${f.message}${f.settling === undefined ? '' : ` (settling: ${f.settling})`}`;
}

/** The one-line summary of a report: `N pools, M records, K endpoints, P pods: all invariants hold`. */
export function summaryLine(r: InvariantReport): string {
  const t = r.totals;
  const head = `${t.pools} pools, ${t.records} records, ${t.endpoints} endpoints, ${t.pods} pods`;
  const settling = r.settling.length === 0 ? '' : ` (${r.settling.length} settling)`;
  return r.violations.length === 0
    ? `${head}: all invariants hold${settling}`
    : `${head}: ${r.violations.length} violation${r.violations.length === 1 ? '' : 's'}${settling}`;
}
