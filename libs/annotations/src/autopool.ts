/**
 * Identity of SpiderSubnet auto-pools (controllers.md): the workload they belong to, their
 * name and labels. The controller writes these; the allocator finds a pod's pool by them.
 */
import { AppLabel, Label } from './keys.ts';

/** Workload kinds that get auto-pools, with their API group and version. */
export const WORKLOAD_KINDS = {
  Deployment: { group: 'apps', version: 'v1' },
  ReplicaSet: { group: 'apps', version: 'v1' },
  StatefulSet: { group: 'apps', version: 'v1' },
  DaemonSet: { group: 'apps', version: 'v1' },
  Job: { group: 'batch', version: 'v1' },
  CronJob: { group: 'batch', version: 'v1' },
} as const;
export type WorkloadKind = keyof typeof WORKLOAD_KINDS;

export function isWorkloadKind(kind: string): kind is WorkloadKind {
  return Object.hasOwn(WORKLOAD_KINDS, kind);
}

/** The workload an auto-pool serves. */
export interface ApplicationRef {
  readonly kind: WorkloadKind;
  readonly namespace: string;
  readonly name: string;
  /**
   * The workload object's `metadata.uid`, when known. {@link isAutoPoolOf} then matches
   * only the pool the controller made (or adopted) for this very object.
   */
  readonly uid?: string;
}

/**
 * Pods a Job (or a CronJob's job template) runs at once: `parallelism` (default 1), capped
 * by `completions`, at least 1. Controller sizing and webhook warnings count alike.
 */
export function jobPodsAtOnce(
  spec: { parallelism?: number; completions?: number } | undefined,
): number {
  const parallelism = spec?.parallelism ?? 1;
  const n = spec?.completions === undefined ? parallelism : Math.min(parallelism, spec.completions);
  return Math.max(n, 1);
}

/** Kubernetes label values: at most 63 characters. */
const LABEL_MAX = 63;

/** 32-bit FNV-1a, hex: a stable, dependency-free digest for shortened names. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/**
 * A name as a label value. Workload names may be up to 253 characters, label values only
 * 63: longer names keep their first 54 characters plus a digest of the whole name.
 */
export function labelValueOf(name: string): string {
  if (name.length <= LABEL_MAX) return name;
  const head = name.slice(0, LABEL_MAX - 9).replace(/[^A-Za-z0-9]+$/, '');
  return `${head}-${fnv1a(name)}`;
}

/** `apps_v1_Deployment_default_test-app`: the `application` of a subnet's controlledIPPools entry. */
export function applicationString(app: ApplicationRef): string {
  const { group, version } = WORKLOAD_KINDS[app.kind];
  return `${group}_${version}_${app.kind}_${app.namespace}_${app.name}`;
}

/** The inverse of {@link applicationString}; undefined for anything else. */
export function parseApplicationString(text: string): ApplicationRef | undefined {
  const m = /^([a-z0-9.]*)_(v[0-9a-z]+)_([A-Za-z]+)_([a-z0-9-]+)_(.+)$/.exec(text);
  if (m === null) return undefined;
  const kind = m[3]!;
  if (!isWorkloadKind(kind)) return undefined;
  const { group, version } = WORKLOAD_KINDS[kind];
  if (m[1] !== group || m[2] !== version) return undefined;
  return { kind, namespace: m[4]!, name: m[5]! };
}

/** Longest object name (DNS subdomain). */
export const MAX_NAME = 253;

/**
 * `auto-<workload>-v<4|6>-<interface>-<last group of the workload UID>`, lower case; the
 * workload name is shortened so the whole fits {@link MAX_NAME}. Characters a DNS name
 * cannot hold (interface names may contain `_`) become `-`.
 */
export function autoPoolName(
  workloadName: string,
  family: 4 | 6,
  ifName: string,
  workloadUID: string,
): string {
  const uidGroup = workloadUID.split('-').at(-1) ?? workloadUID;
  const clean = (s: string): string => s.toLowerCase().replace(/[^a-z0-9.-]/g, '-');
  const tail = `-v${family}-${clean(ifName)}-${clean(uidGroup)}`;
  const room = MAX_NAME - 'auto-'.length - tail.length;
  return `auto-${clean(workloadName).slice(0, Math.max(room, 1))}${tail}`;
}

/** `IPv4` / `IPv6`, the value of the `ip-version` label. */
export const ipVersionLabel = (family: 4 | 6): string => `IPv${family}`;

/** The `podAffinity.matchLabels` of an auto-pool, and the labels the allocator matches it against. */
export function applicationLabels(app: ApplicationRef): Record<string, string> {
  const { group, version } = WORKLOAD_KINDS[app.kind];
  return {
    [AppLabel.apiGroup]: group,
    [AppLabel.apiVersion]: version,
    [AppLabel.kind]: app.kind,
    [AppLabel.namespace]: app.namespace,
    [AppLabel.name]: labelValueOf(app.name),
  };
}

/**
 * Does a pool's label set mark it as the auto-pool of `app` for this NIC and family?
 *
 * With `app.uid` the pool's owner UID label must equal it: a pod is served only by the pool
 * of its own workload object, not by a forged pool carrying the same kind, namespace and
 * name (review #17) nor by the kept pool of a deleted namesake before the controller adopts
 * it. Callers serving pods pass the UID; only the controller's search for a kept pool to
 * adopt (which then rewrites the UID label) leaves it out.
 */
export function isAutoPoolOf(
  labels: Readonly<Record<string, string>> | undefined,
  app: ApplicationRef,
  ifName: string,
  family: 4 | 6,
): boolean {
  if (labels === undefined) return false;
  if (app.uid !== undefined && labels[Label.ownerApplicationUID] !== app.uid) return false;
  return (
    labels[Label.ownerApplicationKind] === app.kind &&
    labels[Label.ownerApplicationNamespace] === app.namespace &&
    labels[Label.ownerApplicationName] === labelValueOf(app.name) &&
    labels[Label.interface] === labelValueOf(ifName) &&
    labels[Label.ipVersion] === ipVersionLabel(family)
  );
}

/** The application an auto-pool's labels name, or undefined for an ordinary pool. */
export function autoPoolApplication(
  labels: Readonly<Record<string, string>> | undefined,
): { kind: WorkloadKind; namespace: string; nameLabel: string; uid: string } | undefined {
  const kind = labels?.[Label.ownerApplicationKind];
  const namespace = labels?.[Label.ownerApplicationNamespace];
  const nameLabel = labels?.[Label.ownerApplicationName];
  if (kind === undefined || namespace === undefined || nameLabel === undefined) return undefined;
  if (!isWorkloadKind(kind)) return undefined;
  return { kind, namespace, nameLabel, uid: labels?.[Label.ownerApplicationUID] ?? '' };
}
