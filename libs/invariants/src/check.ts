/**
 * The cluster invariants (issue #12, item 6), checked on one snapshot. Pure: the e2e harness
 * reads the objects (e2e/harness/invariants.ts) and prints what this returns.
 *
 * For every pool: status records ⇔ SpiderEndpoints ⇔ live pods (UID and interface); no
 * address held twice; allocatedIPCount = number of records, totalIPCount = |ips − excludeIPs|
 * (saturated); every record inside ips − excludeIPs − SpiderReservedIPs. For every subnet:
 * its claims cover exactly its pools' addresses, inside the subnet, disjoint.
 */
import type { PoolIPAllocation } from '@nicpool/crds';
import { parseIP } from '@nicpool/ip';
import { checkEndpoints, endpointEntries } from './endpoints.ts';
import { checkCounts, checkRange, readPool, readReservations } from './pools.ts';
import {
  DEFAULT_GRACE_MS,
  DEFAULT_IN_FLIGHT_MS,
  Kind,
  type CheckOptions,
  type ClusterSnapshot,
  type Finding,
  type InvariantReport,
} from './snapshot.ts';
import { checkSubnets } from './subnets.ts';

/** One record of one pool, with what the other checks need to name it. */
interface Held {
  readonly pool: string;
  readonly ip: string;
  readonly rec: PoolIPAllocation;
}

const recordText = (ip: string, rec: PoolIPAllocation): string =>
  `record ${ip} (pod ${rec.pod} uid ${rec.podUid}${rec.interface === undefined ? '' : `, ${rec.interface}`})`;

/**
 * Checks every invariant on `snapshot`; each finding names one object. With
 * `opts.allowSettling`, findings about a pod in flight (Terminating, finished or deleted less
 * than `opts.graceMs` ago, created less than `opts.inFlightMs` ago) are listed under
 * `settling` instead of `violations`.
 */
export function checkSnapshot(snapshot: ClusterSnapshot, opts: CheckOptions = {}): InvariantReport {
  const now = opts.now ?? Date.now();
  const graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
  const inFlightMs = opts.inFlightMs ?? DEFAULT_IN_FLIGHT_MS;
  const findings: Finding[] = [];
  const pods = new Map(snapshot.pods.map((p) => [`${p.namespace}/${p.name}`, p]));
  const endpoints = new Map(
    snapshot.endpoints.map((e) => [`${e.metadata.namespace ?? ''}/${e.metadata.name}`, e]),
  );
  const statefulSets = new Map(
    snapshot.statefulSets.map((s) => [`${s.namespace}/${s.name}`, s.replicas]),
  );

  /** Whole seconds since `stamp` when that is less than `windowMs`. */
  const recent = (stamp: string | undefined, windowMs = graceMs): number | undefined => {
    if (stamp === undefined) return undefined;
    const age = now - Date.parse(stamp);
    return Number.isFinite(age) && age < windowMs ? Math.max(0, Math.round(age / 1000)) : undefined;
  };
  /** Why the state of pod `key` may still be in flight, when settling is allowed. */
  const settlingOf = (key: string): string | undefined => {
    if (opts.allowSettling !== true) return undefined;
    const pod = pods.get(key);
    if (pod !== undefined) {
      if (pod.deletionTimestamp !== undefined) return 'pod is Terminating';
      const created = recent(pod.creationTimestamp, inFlightMs);
      if (created !== undefined) return `pod created ${created}s ago`;
      const finished = pod.finished ? recent(pod.finishedAt) : undefined;
      if (finished !== undefined) return `pod finished ${finished}s ago`;
      return undefined;
    }
    // A pod's endpoint is deleted with it (ownerReference): its deletion dates the pod's.
    const deleted = recent(endpoints.get(key)?.metadata.deletionTimestamp);
    return deleted === undefined ? undefined : `pod deleted ${deleted}s ago`;
  };
  const podFinding = (podKey: string, f: Omit<Finding, 'settling'>): void => {
    const settling = settlingOf(podKey);
    findings.push(settling === undefined ? f : { ...f, settling });
  };
  /**
   * A StatefulSet pod's record waits for the next pod of its ordinal while the ordinal is
   * within replicas: the pod is gone, or its successor has not been through ADD yet (the
   * endpoint is still the holder's). Once an ADD of the successor wrote the endpoint, the
   * record should have been adopted.
   */
  const stickyStatefulSet = (key: string, holderUid: string): boolean => {
    const ep = endpoints.get(key);
    const m = /^(.+)\/(.+)-(\d+)$/.exec(key);
    if (ep?.status?.ownerControllerType !== 'StatefulSet' || m === null) return false;
    if (ep.status.current !== undefined && ep.status.current.uid !== holderUid) return false;
    const replicas = statefulSets.get(`${m[1]!}/${ep.status.ownerControllerName ?? m[2]!}`);
    return replicas !== undefined && Number(m[3]) < replicas;
  };

  const reserved = readReservations(snapshot.reservedIPs, findings);
  const pools = snapshot.pools.map((p) => readPool(p, findings));
  const poolsByName = new Map(pools.map((p) => [p.name, p]));
  const holders = new Map<string, Held[]>();
  const nics = new Map<string, Held[]>();
  let records = 0;

  for (const pv of pools) {
    if (pv.records === undefined) continue;
    const object = `SpiderIPPool ${pv.name}`;
    checkCounts(pv, findings);
    for (const [ip, rec] of pv.records) {
      records++;
      const held: Held = { pool: pv.name, ip, rec };
      const text = recordText(ip, rec);
      push(holders, ip, held);
      const addr = parseIP(ip);
      if (addr.ok && rec.interface !== undefined)
        push(nics, `${rec.podUid}\u0000${rec.interface}\u0000${addr.value.family}`, held);
      checkRange(pv, ip, text, reserved, findings);

      // records ⇔ live pods
      const pod = pods.get(rec.pod);
      if (pod !== undefined && pod.uid === rec.podUid) {
        if (pod.finished)
          podFinding(rec.pod, {
            kind: Kind.recordPodFinished,
            object,
            message: `${text}: its pod has finished`,
          });
        else if (pod.deletionTimestamp !== undefined)
          podFinding(rec.pod, {
            kind: Kind.recordPodTerminating,
            object,
            message: `${text}: its pod is Terminating`,
          });
      } else if (stickyStatefulSet(rec.pod, rec.podUid)) {
        // Kept for the StatefulSet's next pod of this ordinal: not a leak.
      } else if (pod !== undefined) {
        podFinding(rec.pod, {
          kind: Kind.recordPodRecreated,
          object,
          message: `${text}: its pod was re-created (live UID ${pod.uid})`,
        });
      } else {
        podFinding(rec.pod, {
          kind: Kind.recordPodGone,
          object,
          message: `${text}: its pod does not exist`,
        });
      }

      // records ⇒ SpiderEndpoints
      const ep = endpoints.get(rec.pod);
      const epName = `SpiderEndpoint ${rec.pod}`;
      if (ep === undefined) {
        podFinding(rec.pod, {
          kind: Kind.recordWithoutEndpoint,
          object,
          message: `${text} has no SpiderEndpoint`,
        });
        continue;
      }
      const epUid = ep.status?.current?.uid;
      if (epUid !== rec.podUid) {
        podFinding(rec.pod, {
          kind: Kind.recordEndpointMismatch,
          object,
          message: `${text}: ${epName} is of pod uid ${epUid ?? '(none)'}`,
        });
        continue;
      }
      const entries = endpointEntries(ep).filter((e) => e.ip === ip);
      if (entries.length === 0) {
        podFinding(rec.pod, {
          kind: Kind.recordWithoutEndpoint,
          object,
          message: `${text}: ${epName} does not list it`,
        });
      } else if (
        !entries.some(
          (e) => e.pool === pv.name && (rec.interface === undefined || e.nic === rec.interface),
        )
      ) {
        const e = entries[0]!;
        podFinding(rec.pod, {
          kind: Kind.recordEndpointMismatch,
          object,
          message: `${text}: ${epName} lists it for ${e.nic} from pool ${e.pool ?? '(none)'}`,
        });
      }
    }
  }

  checkTwice(holders, nics, findings);
  checkEndpoints(snapshot.endpoints, poolsByName, pods, stickyStatefulSet, podFinding, findings);
  checkSubnets(snapshot.subnets, pools, findings);

  return {
    violations: findings.filter((f) => f.settling === undefined),
    settling: findings.filter((f) => f.settling !== undefined),
    totals: {
      pools: snapshot.pools.length,
      records,
      endpoints: snapshot.endpoints.length,
      pods: snapshot.pods.length,
      subnets: snapshot.subnets.length,
    },
  };
}

function push<K, V>(m: Map<K, V[]>, key: K, v: V): void {
  const list = m.get(key);
  if (list === undefined) m.set(key, [v]);
  else list.push(v);
}

/** No address held twice in the cluster; no NIC holding two addresses of one family. */
function checkTwice(
  holders: ReadonlyMap<string, readonly Held[]>,
  nics: ReadonlyMap<string, readonly Held[]>,
  findings: Finding[],
): void {
  for (const [ip, list] of holders) {
    if (list.length < 2) continue;
    const [first, ...rest] = [...list].sort((a, b) => (a.pool < b.pool ? -1 : 1));
    for (const h of rest)
      findings.push({
        kind: Kind.addressHeldTwice,
        object: `SpiderIPPool ${h.pool}`,
        message: `${recordText(ip, h.rec)}: ${ip} is also held by SpiderIPPool ${first!.pool} (pod ${first!.rec.pod} uid ${first!.rec.podUid})`,
      });
  }
  for (const list of nics.values()) {
    if (list.length < 2) continue;
    const { rec, ip } = list[0]!;
    const family = ip.includes(':') ? 6 : 4;
    findings.push({
      kind: Kind.nicHoldsTwo,
      object: `Pod ${rec.pod}`,
      message: `uid ${rec.podUid} ${rec.interface ?? ''} holds ${list.length} IPv${family} addresses: ${list
        .map((h) => `${h.ip} (SpiderIPPool ${h.pool})`)
        .join(', ')}`,
    });
  }
}
