// Test fixtures: functions returning fresh copies.
import { API_VERSION, type SpiderIPPool, type SpiderIPPoolSpec } from '@nicpool/crds';
import type { PlanInput } from '../src/planner.ts';

export function pool(
  name: string,
  spec: Partial<SpiderIPPoolSpec> & { subnet: string },
  extra: Partial<SpiderIPPool> = {},
): SpiderIPPool {
  return {
    apiVersion: API_VERSION,
    kind: 'SpiderIPPool',
    metadata: { name, resourceVersion: '1' },
    spec: { ...spec },
    ...extra,
  };
}

/** The tutorial's two pools (5 addresses each) plus an IPv6 pair and a default pool. */
export function tutorialPools(): SpiderIPPool[] {
  return [
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
    pool('v6-eth0', {
      subnet: 'fd00:6::/64',
      ips: ['fd00:6::10-fd00:6::20'],
      gateway: 'fd00:6::1',
    }),
    pool('v6-net1', { subnet: 'fd00:7::/64', ips: ['fd00:7::10-fd00:7::20'] }),
    pool('cluster-default', { subnet: '10.9.0.0/16', ips: ['10.9.0.10-10.9.0.20'], default: true }),
  ];
}

/**
 * The tutorial's two pools as the socket tests serve them: `ippool-test-ens192` also routes
 * the service CIDR through its gateway side, so ADD answers carry a route.
 */
export function socketPools(): SpiderIPPool[] {
  return [
    pool('ippool-test-ens192', {
      subnet: '10.6.0.1/16',
      ips: ['10.6.168.176-10.6.168.180'],
      gateway: '10.6.0.1',
      routes: [{ dst: '10.96.0.0/12', gw: '10.6.0.254' }],
    }),
    pool('ippool-test-ens224', {
      subnet: '10.7.0.1/16',
      ips: ['10.7.168.176-10.7.168.180'],
      gateway: '10.7.0.1',
    }),
  ];
}

export const TUTORIAL_IPPOOLS =
  '[{"interface":"eth0","ipv4":["ippool-test-ens192"]},{"interface":"net1","ipv4":["ippool-test-ens224"]}]';
export const TUTORIAL_MULTUS = {
  'v1.multus-cni.io/default-network': 'kube-system/macvlan-conf-ens192',
  'k8s.v1.cni.cncf.io/networks': 'kube-system/macvlan-conf-ens224',
};

export function planInput(
  over: Partial<PlanInput> & { annotations?: Record<string, string> } = {},
): PlanInput {
  const { annotations, ...rest } = over;
  return {
    pod: {
      namespace: 'default',
      name: 'p',
      uid: 'uid-1',
      labels: { app: 'a' },
      annotations: annotations ?? {},
    },
    namespace: { labels: { team: 'x' }, annotations: {} },
    node: { name: 'node1', labels: { zone: 'z1' } },
    ifName: 'eth0',
    netconf: { defaultIPv4IPPool: [], defaultIPv6IPPool: [], cleanGateway: false },
    pools: tutorialPools(),
    ...rest,
  };
}
