// Fixtures for the invariant checker's tests: one consistent cluster, returned fresh on
// every call, that each test breaks in exactly one way.
import {
  API_VERSION,
  type EndpointIP,
  type SpiderEndpoint,
  type SpiderIPPool,
  type SpiderReservedIP,
  type SpiderSubnet,
} from '@nicpool/crds';
import type { ClusterSnapshot, PodView, StatefulSetView } from './snapshot.ts';

export const NOW = Date.parse('2026-12-01T12:00:00Z');
/** An ISO time `seconds` before NOW. */
export const ago = (seconds: number): string => new Date(NOW - seconds * 1000).toISOString();

export interface Rec {
  pod: string;
  podUid: string;
  interface?: string;
}

export function pool(
  name: string,
  subnet: string,
  ips: string[],
  records: Record<string, Rec>,
  total: number,
  extra: Partial<Pick<SpiderIPPool['spec'], 'excludeIPs'>> & {
    labels?: Record<string, string>;
  } = {},
): SpiderIPPool {
  const n = Object.keys(records).length;
  return {
    apiVersion: API_VERSION,
    kind: 'SpiderIPPool',
    metadata: { name, ...(extra.labels === undefined ? {} : { labels: extra.labels }) },
    spec: {
      subnet,
      ips,
      ...(extra.excludeIPs === undefined ? {} : { excludeIPs: extra.excludeIPs }),
    },
    status: {
      ...(n === 0 ? {} : { allocatedIPs: JSON.stringify(records) }),
      allocatedIPCount: n,
      totalIPCount: total,
    },
  };
}

export function endpoint(
  ns: string,
  name: string,
  uid: string,
  ips: EndpointIP[],
  owner: { type: string; name: string } = { type: 'Deployment', name: 'app' },
): SpiderEndpoint {
  return {
    apiVersion: API_VERSION,
    kind: 'SpiderEndpoint',
    metadata: { name, namespace: ns },
    status: {
      current: { uid, node: 'node1', ips },
      ownerControllerType: owner.type,
      ownerControllerName: owner.name,
    },
  };
}

export function pod(ns: string, name: string, uid: string, extra: Partial<PodView> = {}): PodView {
  return { namespace: ns, name, uid, finished: false, creationTimestamp: ago(3600), ...extra };
}

export const SUBNET = 'subnet-6';
export const AUTO = 'auto-app-v4-eth0-abc';

export function subnet(claims: Record<string, string[]>, allocated: number): SpiderSubnet {
  const entries = Object.entries(claims);
  return {
    apiVersion: API_VERSION,
    kind: 'SpiderSubnet',
    metadata: { name: SUBNET, uid: 'subnet-uid' },
    spec: { subnet: '10.6.0.0/16', ips: ['10.6.200.1-10.6.200.100'] },
    status: {
      ...(entries.length === 0
        ? {}
        : {
            controlledIPPools: JSON.stringify(
              Object.fromEntries(
                entries.map(([p, ips]) => [
                  p,
                  { ips, application: 'apps_v1_Deployment_default_app' },
                ]),
              ),
            ),
          }),
      allocatedIPCount: allocated,
      totalIPCount: 100,
    },
  };
}

export function reserved(name: string, ips: string[]): SpiderReservedIP {
  return { apiVersion: API_VERSION, kind: 'SpiderReservedIP', metadata: { name }, spec: { ips } };
}

export const OWNED = { 'ipam.spidernet.io/owner-spider-subnet': SUBNET };

/** A mutable copy of the consistent cluster. */
export interface Cluster {
  pools: SpiderIPPool[];
  subnets: SpiderSubnet[];
  endpoints: SpiderEndpoint[];
  reservedIPs: SpiderReservedIP[];
  pods: PodView[];
  statefulSets: StatefulSetView[];
}

/**
 * Pod default/a (u1): eth0 10.6.168.171 (test-ippool-1) + fd00:6::10 (v6-pool), net1
 * 10.7.168.171 (test-ippool-2). Pod default/b (u2): eth0 10.6.200.1 from the subnet's
 * auto-pool, whose claim is exactly its three addresses. 10.6.168.180 is reserved (free).
 */
export function consistent(): Cluster {
  return {
    pools: [
      pool(
        'test-ippool-1',
        '10.6.0.1/16',
        ['10.6.168.171-10.6.168.180'],
        { '10.6.168.171': { pod: 'default/a', podUid: 'u1', interface: 'eth0' } },
        10,
      ),
      pool(
        'test-ippool-2',
        '10.7.0.1/16',
        ['10.7.168.171-10.7.168.180'],
        { '10.7.168.171': { pod: 'default/a', podUid: 'u1', interface: 'net1' } },
        10,
      ),
      pool(
        'v6-pool',
        'fd00:6::/64',
        ['fd00:6::10-fd00:6::1f'],
        { 'fd00:6::10': { pod: 'default/a', podUid: 'u1', interface: 'eth0' } },
        16,
      ),
      pool(
        AUTO,
        '10.6.0.0/16',
        ['10.6.200.1-10.6.200.3'],
        { '10.6.200.1': { pod: 'default/b', podUid: 'u2', interface: 'eth0' } },
        3,
        { labels: OWNED },
      ),
    ],
    subnets: [subnet({ [AUTO]: ['10.6.200.1-10.6.200.3'] }, 3)],
    endpoints: [
      endpoint('default', 'a', 'u1', [
        {
          interface: 'eth0',
          ipv4: '10.6.168.171/16',
          ipv4Pool: 'test-ippool-1',
          ipv6: 'fd00:6::10/64',
          ipv6Pool: 'v6-pool',
        },
        { interface: 'net1', ipv4: '10.7.168.171/16', ipv4Pool: 'test-ippool-2' },
      ]),
      endpoint('default', 'b', 'u2', [
        { interface: 'eth0', ipv4: '10.6.200.1/16', ipv4Pool: AUTO },
      ]),
    ],
    reservedIPs: [reserved('reserved-1', ['10.6.168.180'])],
    pods: [pod('default', 'a', 'u1'), pod('default', 'b', 'u2')],
    statefulSets: [],
  };
}

/** The snapshot type the checker takes (a Cluster is one). */
export const snap = (c: Cluster): ClusterSnapshot => c;
