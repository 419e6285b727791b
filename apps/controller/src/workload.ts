/**
 * Workloads as the auto-pool reconciler sees them (controllers.md, "SpiderSubnet
 * auto-pools"): which pools they want, sized by replicas. Pure; no client types.
 */
import {
  DEFAULT_IP_NUMBER,
  firstSubnet,
  isWorkloadKind,
  jobPodsAtOnce,
  KNOWN_POD_KEYS,
  parseIPNumber,
  parseReclaim,
  parseSubnet,
  parseSubnets,
  PodAnnotation,
  formatAnnotationError,
  autoPoolName,
  type ApplicationRef,
  type IPNumber,
  type WorkloadKind,
} from '@nicpool/annotations';
import { err, ok, type Result } from '@nicpool/result';

interface RawOwner {
  readonly kind?: string;
  readonly name?: string;
  readonly controller?: boolean;
}

interface RawTemplate {
  readonly metadata?: { readonly annotations?: Record<string, string> };
  readonly spec?: { readonly hostNetwork?: boolean };
}

interface RawJobSpec {
  readonly parallelism?: number;
  readonly completions?: number;
  readonly template?: RawTemplate;
}

/** The fields of Deployment, ReplicaSet, StatefulSet, DaemonSet, Job and CronJob we read. */
export interface RawWorkload {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly deletionTimestamp?: unknown;
    readonly ownerReferences?: readonly RawOwner[];
  };
  readonly spec?: RawJobSpec & {
    readonly replicas?: number;
    readonly jobTemplate?: { readonly spec?: RawJobSpec };
  };
  readonly status?: { readonly desiredNumberScheduled?: number };
}

export interface Workload {
  readonly app: ApplicationRef;
  readonly uid: string;
  /** Pods it runs at once, by the rules of its kind. */
  readonly replicas: number;
  /** Annotations of its pod template. */
  readonly annotations: Readonly<Record<string, string>>;
  readonly hostNetwork: boolean;
  /**
   * Set when a parent workload owns the pools instead: a ReplicaSet of a Deployment, a
   * Job of a CronJob.
   */
  readonly managedBy?: string;
}

/** Replicas per kind (controllers.md): Job and CronJob count the pods that run at once. */
const jobReplicas = jobPodsAtOnce;

/**
 * Only the nicpool (`ipam.spidernet.io/*`) annotations of a pod template: the cache holds one entry
 * per workload of the cluster (ReplicaSets of every rollout included), and nothing else
 * of a template's annotations is read. Shares no object with the API answer.
 */
function ipamAnnotations(
  all: Readonly<Record<string, string>> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (all === undefined) return out;
  for (const k of KNOWN_POD_KEYS) {
    const v = all[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** The projection of a workload the controller keeps (see {@link Workload}). */
export function toWorkload(kind: WorkloadKind, o: RawWorkload): Workload {
  const m = o.metadata ?? {};
  const owner = m.ownerReferences?.find((r) => r.controller === true);
  const parent =
    (kind === 'ReplicaSet' && owner?.kind === 'Deployment') ||
    (kind === 'Job' && owner?.kind === 'CronJob')
      ? `${owner.kind}/${owner.name ?? ''}`
      : undefined;
  let template: RawTemplate | undefined;
  let replicas: number;
  switch (kind) {
    case 'Deployment':
    case 'ReplicaSet':
    case 'StatefulSet':
      template = o.spec?.template;
      replicas = o.spec?.replicas ?? 1;
      break;
    case 'DaemonSet':
      template = o.spec?.template;
      replicas = o.status?.desiredNumberScheduled ?? 0;
      break;
    case 'Job':
      template = o.spec?.template;
      replicas = jobReplicas(o.spec);
      break;
    case 'CronJob':
      template = o.spec?.jobTemplate?.spec?.template;
      replicas = jobReplicas(o.spec?.jobTemplate?.spec);
      break;
  }
  return {
    app: { kind, namespace: m.namespace ?? '', name: m.name ?? '' },
    uid: m.uid ?? '',
    replicas,
    annotations: ipamAnnotations(template?.metadata?.annotations),
    hostNetwork: template?.spec?.hostNetwork === true,
    ...(parent === undefined ? {} : { managedBy: parent }),
  };
}

export { isWorkloadKind };

/** One auto-pool a workload wants: per (interface, IP family). */
export interface PoolIntent {
  readonly poolName: string;
  readonly ifName: string;
  readonly family: 4 | 6;
  readonly subnet: string;
  readonly size: number;
  readonly reclaim: boolean;
  /** As written in the annotation (or the default), copied onto the pool. */
  readonly ipNumber: string;
}

/** Pool size: fixed `N`, or replicas + `N` for `+N`. */
export function poolSize(n: IPNumber, replicas: number): number {
  return n.kind === 'fixed' ? n.count : Math.max(replicas, 0) + n.extra;
}

/**
 * The auto-pools a workload wants. Empty when its template names no subnet, when a
 * parent workload manages its pods, or when it runs on the host network. An annotation
 * that does not parse is an error (the webhook normally refuses it at admission).
 */
export function poolIntents(w: Workload): Result<PoolIntent[], string> {
  if (w.managedBy !== undefined || w.hostNetwork) return ok([]);
  const a = w.annotations;
  const text = a[PodAnnotation.subnets] ?? a[PodAnnotation.subnet];
  if (text === undefined) return ok([]);
  const items =
    a[PodAnnotation.subnets] !== undefined
      ? parseSubnets(text)
      : (() => {
          const one = parseSubnet(text);
          return one.ok ? ok([one.value]) : one;
        })();
  if (!items.ok) return err(items.error.map(formatAnnotationError).join('; '));
  let ipNumber = DEFAULT_IP_NUMBER;
  const numberText = a[PodAnnotation.ippoolIPNumber];
  if (numberText !== undefined) {
    const n = parseIPNumber(numberText);
    if (!n.ok) return err(n.error.map(formatAnnotationError).join('; '));
    ipNumber = n.value;
  }
  let reclaim = true;
  const reclaimText = a[PodAnnotation.ippoolReclaim];
  if (reclaimText !== undefined) {
    const r = parseReclaim(reclaimText);
    if (!r.ok) return err(r.error.map(formatAnnotationError).join('; '));
    reclaim = r.value;
  }
  const size = poolSize(ipNumber, w.replicas);
  const out: PoolIntent[] = [];
  for (const item of items.value) {
    for (const family of [4, 6] as const) {
      const subnet = firstSubnet(item, family);
      if (subnet === undefined) continue;
      out.push({
        poolName: autoPoolName(w.app.name, family, item.interface, w.uid),
        ifName: item.interface,
        family,
        subnet,
        size,
        reclaim,
        ipNumber:
          numberText ?? (ipNumber.kind === 'fixed' ? `${ipNumber.count}` : `+${ipNumber.extra}`),
      });
    }
  }
  return ok(out);
}
