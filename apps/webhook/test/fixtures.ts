// Fresh copies of a cache snapshot for decision tests.
import {
  API_VERSION,
  type SpiderIPPool,
  type SpiderIPPoolSpec,
  type SpiderSubnet,
} from '@nicpool/crds';
import type { Snapshot } from '../src/snapshot.ts';

export function pool(
  name: string,
  spec: Partial<SpiderIPPoolSpec> & { subnet: string },
  extra: Partial<SpiderIPPool> = {},
): SpiderIPPool {
  return {
    apiVersion: API_VERSION,
    kind: 'SpiderIPPool',
    metadata: { name, uid: `uid-${name}` },
    spec: { ...spec },
    ...extra,
  };
}

export function subnet(name: string, spec: SpiderSubnet['spec']): SpiderSubnet {
  return {
    apiVersion: API_VERSION,
    kind: 'SpiderSubnet',
    metadata: { name, uid: `uid-${name}` },
    spec,
  };
}

const nicpoolNAD = (name: string, master: string): string =>
  JSON.stringify({
    cniVersion: '0.3.1',
    name,
    plugins: [{ type: 'macvlan', master, ipam: { type: 'spiderpool' } }],
  });

export function snapshot(): Snapshot {
  return {
    pools: [
      pool('ippool-test-ens192', {
        subnet: '10.6.0.1/16',
        ips: ['10.6.168.176-10.6.168.180'],
        gateway: '10.6.0.1',
      }),
      pool('ippool-test-ens224', {
        subnet: '10.7.0.1/16',
        ips: ['10.7.168.176-10.7.168.180'],
        gateway: '10.7.0.1',
      }),
      pool('v6-pool', { subnet: 'fd00:6::/64', ips: ['fd00:6::10-fd00:6::20'] }),
      pool('off', { subnet: '10.8.0.0/16', ips: ['10.8.0.10'], disable: true }),
      pool('prod-only', { subnet: '10.9.0.0/16', ips: ['10.9.0.10'], namespaceName: ['prod'] }),
      pool('team-y', {
        subnet: '10.10.0.0/16',
        ips: ['10.10.0.10'],
        namespaceAffinity: { matchLabels: { team: 'y' } },
      }),
      pool('db-only', {
        subnet: '10.11.0.0/16',
        ips: ['10.11.0.10'],
        podAffinity: { matchLabels: { app: 'db' } },
      }),
      pool(
        'going',
        { subnet: '10.12.0.0/16', ips: ['10.12.0.10'] },
        { metadata: { name: 'going', deletionTimestamp: '2026-11-27T00:00:00Z' } },
      ),
      pool(
        'full',
        { subnet: '10.13.0.0/16', ips: ['10.13.0.10'] },
        {
          status: {
            allocatedIPs: '{"10.13.0.10":{"pod":"default/x","podUid":"u"}}',
            allocatedIPCount: 1,
          },
        },
      ),
      pool('small', { subnet: '10.14.0.0/16', ips: ['10.14.0.10-10.14.0.11'] }),
    ],
    subnets: [
      subnet('subnet-test-ens192', {
        subnet: '10.6.0.1/16',
        ips: ['10.6.168.171-10.6.168.180'],
        gateway: '10.6.0.1',
      }),
      subnet('subnet-test-ens224', {
        subnet: '10.7.0.1/16',
        ips: ['10.7.168.171-10.7.168.180'],
        gateway: '10.7.0.1',
      }),
      subnet('subnet-v6', { subnet: 'fd00:6::/64', ips: ['fd00:6::100-fd00:6::1ff'] }),
    ],
    reservedIPs: [],
    namespaces: new Map([
      ['default', { labels: { team: 'x' } }],
      ['prod', { labels: { team: 'y' } }],
    ]),
    nads: [
      {
        namespace: 'kube-system',
        name: 'macvlan-conf-ens192',
        config: nicpoolNAD('macvlan-conf-ens192', 'ens192'),
      },
      {
        namespace: 'kube-system',
        name: 'macvlan-conf-ens224',
        config: nicpoolNAD('macvlan-conf-ens224', 'ens224'),
      },
      {
        namespace: 'kube-system',
        name: 'other',
        config: JSON.stringify({
          cniVersion: '0.3.1',
          type: 'macvlan',
          ipam: { type: 'host-local' },
        }),
      },
    ],
  };
}

export const MULTUS = {
  'v1.multus-cni.io/default-network': 'kube-system/macvlan-conf-ens192',
  'k8s.v1.cni.cncf.io/networks': 'kube-system/macvlan-conf-ens224',
};

export function deployment(
  annotations: Record<string, string>,
  replicas = 2,
  labels: Record<string, string> = { app: 'web' },
): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations },
        spec: { containers: [{ name: 'c', image: 'busybox' }] },
      },
    },
  };
}

export function podObj(
  annotations: Record<string, string>,
  labels: Record<string, string> = { app: 'web' },
  owned = false,
): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'p',
      namespace: 'default',
      labels,
      annotations,
      ...(owned
        ? {
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u', controller: true },
            ],
          }
        : {}),
    },
    spec: { containers: [{ name: 'c', image: 'busybox' }] },
  };
}
