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
/** At most this many first sightings are handed to the next leader (DueTracker.note). */
export const NOTE_LIMIT = 500;

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

/** One pool record, as the index holds it. */
export interface IndexedRecord {
  readonly pool: string;
  readonly ip: string;
  /** `namespace/name` of the holder. */
  readonly pod: string;
  readonly podUid: string;
}

/**
 * The records of every pool, by pod and by pod UID, kept in step with the pool cache by
 * {@link RecordIndex.sync}: a pool is decoded again only when its cached object changed
 * (the caches replace objects on every event and write, so identity says "changed").
 * A GC pass, full or for one pod, then decodes nothing it decoded before.
 */
export class RecordIndex {
  readonly #pools = new Map<string, { object: SpiderIPPool; records: readonly IndexedRecord[] }>();
  readonly #byPod = new Map<string, Set<IndexedRecord>>();
  readonly #uids = new Map<string, number>();
  readonly #unreadable = new Set<string>();

  /** Brings the index in line with `pools` (the whole current cache). */
  sync(pools: readonly SpiderIPPool[]): this {
    const names = new Set<string>();
    for (const p of pools) {
      names.add(p.metadata.name);
      if (this.#pools.get(p.metadata.name)?.object !== p) this.#put(p);
    }
    for (const name of [...this.#pools.keys()]) if (!names.has(name)) this.#drop(name);
    return this;
  }

  #drop(name: string): void {
    const had = this.#pools.get(name);
    if (had === undefined) return;
    for (const r of had.records) {
      const set = this.#byPod.get(r.pod);
      set?.delete(r);
      if (set?.size === 0) this.#byPod.delete(r.pod);
      const n = (this.#uids.get(r.podUid) ?? 1) - 1;
      if (n === 0) this.#uids.delete(r.podUid);
      else this.#uids.set(r.podUid, n);
    }
    this.#pools.delete(name);
    this.#unreadable.delete(name);
  }

  #put(p: SpiderIPPool): void {
    const name = p.metadata.name;
    this.#drop(name);
    const decoded = decodeAllocatedIPs(p.status?.allocatedIPs);
    const records: IndexedRecord[] = [];
    if (!decoded.ok) this.#unreadable.add(name);
    else
      for (const [ip, rec] of decoded.value) {
        const r = { pool: name, ip, pod: rec.pod, podUid: rec.podUid };
        records.push(r);
        let set = this.#byPod.get(r.pod);
        if (set === undefined) this.#byPod.set(r.pod, (set = new Set()));
        set.add(r);
        this.#uids.set(r.podUid, (this.#uids.get(r.podUid) ?? 0) + 1);
      }
    this.#pools.set(name, { object: p, records });
  }

  /** Every record of every readable pool. */
  *records(): Iterable<IndexedRecord> {
    for (const { records } of this.#pools.values()) yield* records;
  }

  /** The records held under the pod name `namespace/name` (any UID). */
  ofPod(pod: string): Iterable<IndexedRecord> {
    return this.#byPod.get(pod) ?? [];
  }

  /** Does any record hold this pod UID? */
  holds(podUid: string): boolean {
    return this.#uids.has(podUid);
  }

  /** Some pool's records cannot be read: who it holds is unknown. */
  get anyUnreadable(): boolean {
    return this.#unreadable.size > 0;
  }

  /** Is this pool's record list unreadable (who it holds unknown)? */
  unreadable(pool: string): boolean {
    return this.#unreadable.has(pool);
  }
}

/** The records among `records` that look leaked now. */
export function judgeRecords(records: Iterable<IndexedRecord>, view: GCView): RecordCandidate[] {
  const out: RecordCandidate[] = [];
  for (const rec of records) {
    const [ns, name] = rec.pod.split('/') as [string, string];
    const leak = leakReason(ns, name, rec.podUid, view);
    if (leak === undefined) continue;
    out.push({ key: `${rec.pool}/${rec.ip}/${rec.podUid}`, ...rec, ...leak });
  }
  return out;
}

/** Every pool record that looks leaked now. Unreadable pools are skipped, never guessed at. */
export function recordCandidates(pools: readonly SpiderIPPool[], view: GCView): RecordCandidate[] {
  return judgeRecords(new RecordIndex().sync(pools).records(), view);
}

export interface EndpointCandidate extends Leak {
  readonly key: string;
  /** `namespace/name` of its pod. */
  readonly pod: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/** Does the endpoint name an unreadable pool (or name no pool at all, so we cannot tell)? */
function mayBeHeldByUnreadable(ep: EndpointView, index: RecordIndex): boolean {
  const ips = ep.status?.current?.ips;
  if (ips === undefined || ips.length === 0) return true;
  return ips.some(
    (ip) =>
      (ip.ipv4Pool !== undefined && index.unreadable(ip.ipv4Pool)) ||
      (ip.ipv6Pool !== undefined && index.unreadable(ip.ipv6Pool)),
  );
}

/**
 * SpiderEndpoints whose pod is gone and which no pool record holds any more (records go
 * first: an endpoint is how a StatefulSet pod finds its addresses again).
 */
export function endpointCandidates(
  endpoints: readonly EndpointView[],
  pools: readonly SpiderIPPool[] | RecordIndex,
  view: GCView,
): EndpointCandidate[] {
  const index = pools instanceof RecordIndex ? pools : new RecordIndex().sync(pools);
  const out: EndpointCandidate[] = [];
  for (const ep of endpoints) {
    const ns = ep.metadata.namespace ?? '';
    const uid = ep.status?.current?.uid ?? '';
    if (index.holds(uid) || view.pod(ns, ep.metadata.name) !== undefined) continue;
    // A pool whose records cannot be read may hold this pod: keep the endpoint. Only the
    // endpoints that name such a pool wait, not every endpoint of the cluster (review #15).
    if (index.anyUnreadable && mayBeHeldByUnreadable(ep, index)) continue;
    const leak = leakReason(ns, ep.metadata.name, uid, view);
    if (leak === undefined) continue;
    out.push({
      key: `endpoint/${ns}/${ep.metadata.name}/${uid}`,
      pod: `${ns}/${ep.metadata.name}`,
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
  readonly #firstSeen = new Map<string, { at: number; pod: string | undefined }>();
  readonly #delayMs: number;

  constructor(delayMs: number) {
    this.#delayMs = delayMs;
  }

  /**
   * Call with every current candidate (or, with `pod`, every current candidate of that
   * pod): keys missing from the list are forgotten (within that pod only).
   */
  due<T extends { key: string; graceSeconds: number; pod?: string }>(
    candidates: readonly T[],
    now: number,
    pod?: string,
  ): T[] {
    const seen = new Set(candidates.map((c) => c.key));
    for (const [k, v] of this.#firstSeen)
      if (!seen.has(k) && (pod === undefined || v.pod === pod)) this.#firstSeen.delete(k);
    const out: T[] = [];
    for (const c of candidates) {
      const first = this.#firstSeen.get(c.key)?.at ?? now;
      this.#firstSeen.set(c.key, { at: first, pod: c.pod });
      if (now - first >= c.graceSeconds * 1000 + this.#delayMs) out.push(c);
    }
    return out;
  }

  /** When the earliest pending candidate becomes due, for scheduling the next pass. */
  nextDue(candidates: readonly { key: string; graceSeconds: number }[]): number | undefined {
    let next: number | undefined;
    for (const c of candidates) {
      const first = this.#firstSeen.get(c.key)?.at;
      if (first === undefined) continue;
      const at = first + c.graceSeconds * 1000 + this.#delayMs;
      if (next === undefined || at < next) next = at;
    }
    return next;
  }

  /**
   * The first sightings, for the next leader: a controller that restarts more often than a
   * grace (30 s when the pod was never seen) would otherwise start every candidate's clock
   * again and never collect it. JSON `{"firstSeen": {key: wall-clock ms}}`, the
   * NOTE_LIMIT earliest (the nearest due); undefined when nothing waits. Bounded, because
   * it rides on every Lease renewal.
   */
  note(): string | undefined {
    if (this.#firstSeen.size === 0) return undefined;
    const earliest = [...this.#firstSeen]
      .sort((a, b) => a[1].at - b[1].at)
      .slice(0, NOTE_LIMIT)
      .map(([k, v]): [string, number] => [k, v.at]);
    return JSON.stringify({ firstSeen: Object.fromEntries(earliest) });
  }

  /**
   * Takes over a previous leader's first sightings (see `note`); a sighting this process
   * made earlier wins. A note that does not parse is ignored (the clocks start now, as
   * before), and one from the future (another machine's clock) counts from `now`.
   */
  adopt(note: string | undefined, now: number): void {
    if (note === undefined) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(note) as unknown;
    } catch {
      return;
    }
    const seen = (parsed as { firstSeen?: unknown } | null)?.firstSeen;
    if (typeof seen !== 'object' || seen === null || Array.isArray(seen)) return;
    let n = 0;
    for (const [key, at] of Object.entries(seen)) {
      if (n++ >= NOTE_LIMIT) break;
      if (typeof at !== 'number' || !Number.isFinite(at)) continue;
      const mine = this.#firstSeen.get(key);
      const first = Math.min(at, now, mine?.at ?? Infinity);
      this.#firstSeen.set(key, { at: first, pod: mine?.pod });
    }
  }

  /** Candidates waiting out their grace, by type (endpoint keys start with `endpoint/`). */
  waiting(): { record: number; endpoint: number } {
    let endpoint = 0;
    for (const k of this.#firstSeen.keys()) if (k.startsWith('endpoint/')) endpoint++;
    return { record: this.#firstSeen.size - endpoint, endpoint };
  }
}
