/**
 * Garbage collection of leaked addresses (controllers.md): which pool records and
 * SpiderEndpoints belong to pods that are gone, re-created or finished. Pure; the caller
 * waits out each candidate's grace period plus the configured delay and re-checks against
 * a fresh read before it releases anything. Never judged from `status.podIPs`, which lists
 * only the primary network.
 */
import { decodeAllocatedIPs, type SpiderIPPool } from '@nicpool/crds';
import type { EndpointView } from './store.ts';

/** What GC needs of a live pod. */
export interface PodState {
  readonly uid: string;
  /** Phase Succeeded or Failed: its sandbox is gone, its addresses are not needed. */
  readonly finished: boolean;
  readonly graceSeconds: number;
}

export interface GCView {
  pod(namespace: string, name: string): PodState | undefined;
  /** Grace period of a pod seen deleted, when it was seen. */
  lastGrace(namespace: string, name: string): number | undefined;
  /** Replicas of a StatefulSet, undefined when there is none. */
  statefulSetReplicas(namespace: string, name: string): number | undefined;
  /** The top controller an endpoint recorded for its pod. */
  endpointOwner(namespace: string, name: string): { type: string; name: string } | undefined;
}

/** Kubernetes' default `terminationGracePeriodSeconds`. */
export const DEFAULT_GRACE_SECONDS = 30;

export interface Leak {
  readonly reason: string;
  readonly graceSeconds: number;
}

/** The StatefulSet a pod name belongs to (`<sts>-<ordinal>`), when the view knows one. */
function statefulSetOf(
  namespace: string,
  name: string,
  view: GCView,
): { replicas: number; ordinal: number } | undefined {
  const m = /^(.+)-(\d+)$/.exec(name);
  if (m === null) return undefined;
  const owner = view.endpointOwner(namespace, name);
  const sts = owner?.type === 'StatefulSet' ? owner.name : m[1]!;
  if (owner !== undefined && owner.type !== 'StatefulSet') return undefined;
  const replicas = view.statefulSetReplicas(namespace, sts);
  return replicas === undefined ? undefined : { replicas, ordinal: Number(m[2]) };
}

/**
 * Why the holder `podUid` of `namespace/name` no longer needs its addresses, or undefined
 * when it may (alive, or a StatefulSet ordinal still within replicas).
 */
export function leakReason(
  namespace: string,
  name: string,
  podUid: string,
  view: GCView,
): Leak | undefined {
  const pod = view.pod(namespace, name);
  if (pod !== undefined && pod.uid === podUid) {
    if (!pod.finished) return undefined;
    return { reason: 'its pod has finished', graceSeconds: pod.graceSeconds };
  }
  // A StatefulSet pod keeps its addresses across re-creation while its ordinal is in use.
  const sts = statefulSetOf(namespace, name, view);
  if (sts !== undefined && sts.ordinal < sts.replicas) return undefined;
  if (pod !== undefined)
    return {
      reason: `its pod was re-created (UID ${pod.uid}, record holds ${podUid})`,
      graceSeconds: pod.graceSeconds,
    };
  return {
    reason: 'its pod is gone',
    graceSeconds: view.lastGrace(namespace, name) ?? DEFAULT_GRACE_SECONDS,
  };
}

export interface RecordCandidate extends Leak {
  /** `pool/ip/podUid`: stable while the record stays the same. */
  readonly key: string;
  readonly pool: string;
  readonly ip: string;
  readonly pod: string;
  readonly podUid: string;
}

/** Every pool record that looks leaked now. Unreadable pools are skipped, never guessed at. */
export function recordCandidates(pools: readonly SpiderIPPool[], view: GCView): RecordCandidate[] {
  const out: RecordCandidate[] = [];
  for (const pool of pools) {
    const records = decodeAllocatedIPs(pool.status?.allocatedIPs);
    if (!records.ok) continue;
    for (const [ip, rec] of records.value) {
      const [ns, name] = rec.pod.split('/') as [string, string];
      const leak = leakReason(ns, name, rec.podUid, view);
      if (leak === undefined) continue;
      out.push({
        key: `${pool.metadata.name}/${ip}/${rec.podUid}`,
        pool: pool.metadata.name,
        ip,
        pod: rec.pod,
        podUid: rec.podUid,
        ...leak,
      });
    }
  }
  return out;
}

export interface EndpointCandidate extends Leak {
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/**
 * SpiderEndpoints whose pod is gone and which no pool record holds any more (records go
 * first: an endpoint is how a StatefulSet pod finds its addresses again).
 */
export function endpointCandidates(
  endpoints: readonly EndpointView[],
  pools: readonly SpiderIPPool[],
  view: GCView,
): EndpointCandidate[] {
  const held = new Set<string>();
  for (const pool of pools) {
    const records = decodeAllocatedIPs(pool.status?.allocatedIPs);
    // Unreadable: treat every endpoint as held rather than delete one that is not orphaned.
    if (!records.ok) return [];
    for (const rec of records.value.values()) held.add(rec.podUid);
  }
  const out: EndpointCandidate[] = [];
  for (const ep of endpoints) {
    const ns = ep.metadata.namespace ?? '';
    const uid = ep.status?.current?.uid ?? '';
    if (held.has(uid) || view.pod(ns, ep.metadata.name) !== undefined) continue;
    const leak = leakReason(ns, ep.metadata.name, uid, view);
    if (leak === undefined) continue;
    out.push({
      key: `endpoint/${ns}/${ep.metadata.name}/${uid}`,
      namespace: ns,
      name: ep.metadata.name,
      uid,
      ...leak,
    });
  }
  return out;
}

/**
 * Remembers when each candidate was first seen and says which are due: seen for longer
 * than their grace period plus `delayMs`. Keys that stop being candidates are forgotten.
 */
export class DueTracker {
  readonly #firstSeen = new Map<string, number>();
  readonly #delayMs: number;

  constructor(delayMs: number) {
    this.#delayMs = delayMs;
  }

  /** Call with every current candidate: keys missing from the list are forgotten. */
  due<T extends { key: string; graceSeconds: number }>(candidates: readonly T[], now: number): T[] {
    const seen = new Set(candidates.map((c) => c.key));
    for (const k of this.#firstSeen.keys()) if (!seen.has(k)) this.#firstSeen.delete(k);
    const out: T[] = [];
    for (const c of candidates) {
      const first = this.#firstSeen.get(c.key) ?? now;
      this.#firstSeen.set(c.key, first);
      if (now - first >= c.graceSeconds * 1000 + this.#delayMs) out.push(c);
    }
    return out;
  }

  /** When the earliest pending candidate becomes due, for scheduling the next pass. */
  nextDue(candidates: readonly { key: string; graceSeconds: number }[]): number | undefined {
    let next: number | undefined;
    for (const c of candidates) {
      const first = this.#firstSeen.get(c.key);
      if (first === undefined) continue;
      const at = first + c.graceSeconds * 1000 + this.#delayMs;
      if (next === undefined || at < next) next = at;
    }
    return next;
  }
}
