/** SpiderEndpoints ⇒ pool records: every address an endpoint lists is its pod's record in its pool. */
import type { SpiderEndpoint } from '@nicpool/crds';
import { canonicalIP } from '@nicpool/ip';
import type { PoolView } from './pool-view.ts';
import { Kind, type Finding, type PodView } from './snapshot.ts';

/** One address of one NIC as a SpiderEndpoint lists it. */
export interface EndpointEntry {
  readonly nic: string;
  readonly ip: string | undefined;
  readonly raw: string;
  readonly pool: string | undefined;
  readonly field: 'ipv4' | 'ipv6';
}

export function endpointEntries(ep: SpiderEndpoint): EndpointEntry[] {
  const out: EndpointEntry[] = [];
  for (const e of ep.status?.current?.ips ?? []) {
    for (const [field, poolField] of [
      ['ipv4', 'ipv4Pool'],
      ['ipv6', 'ipv6Pool'],
    ] as const) {
      const raw = e[field];
      if (raw === undefined || raw === '') continue;
      const slash = raw.indexOf('/');
      const ip = canonicalIP(slash < 0 ? raw : raw.slice(0, slash));
      out.push({ nic: e.interface, ip, raw, pool: e[poolField], field });
    }
  }
  return out;
}

/** SpiderEndpoints ⇒ records: every address an endpoint lists is its pod's record in its pool. */
export function checkEndpoints(
  items: readonly SpiderEndpoint[],
  pools: ReadonlyMap<string, PoolView>,
  pods: ReadonlyMap<string, PodView>,
  sticky: (key: string, holderUid: string) => boolean,
  podFinding: (podKey: string, f: Omit<Finding, 'settling'>) => void,
  findings: Finding[],
): void {
  for (const ep of items) {
    const key = `${ep.metadata.namespace ?? ''}/${ep.metadata.name}`;
    const object = `SpiderEndpoint ${key}`;
    const current = ep.status?.current;
    if (current === undefined) {
      findings.push({ kind: Kind.endpointUnreadable, object, message: 'has no status.current' });
      continue;
    }
    const entries = endpointEntries(ep);
    if (entries.length === 0 && !pods.has(key) && !sticky(key, current.uid))
      podFinding(key, {
        kind: Kind.endpointOrphan,
        object,
        message: `pod uid ${current.uid} does not exist and the endpoint lists no address`,
      });
    for (const e of entries) {
      const what = `${e.nic} ${e.raw}`;
      if (e.ip === undefined || e.pool === undefined) {
        findings.push({
          kind: Kind.endpointUnreadable,
          object,
          message: `${what}: ${e.ip === undefined ? `${e.field} is not an address` : `no ${e.field}Pool`}`,
        });
        continue;
      }
      const pv = pools.get(e.pool);
      // An unreadable pool was reported once already; its records cannot be compared.
      if (pv !== undefined && pv.records === undefined) continue;
      const rec = pv?.records?.get(e.ip);
      const problem =
        pv === undefined
          ? `its pool SpiderIPPool ${e.pool} does not exist`
          : rec === undefined
            ? `SpiderIPPool ${e.pool} has no record of ${e.ip}`
            : rec.podUid !== current.uid || rec.pod !== key
              ? `SpiderIPPool ${e.pool} records ${e.ip} for pod ${rec.pod} uid ${rec.podUid}, not uid ${current.uid}`
              : rec.interface !== undefined && rec.interface !== e.nic
                ? `SpiderIPPool ${e.pool} records ${e.ip} for ${rec.interface}`
                : undefined;
      if (problem !== undefined)
        podFinding(key, {
          kind: Kind.endpointWithoutRecord,
          object,
          message: `${what} (uid ${current.uid}): ${problem}`,
        });
    }
  }
}
