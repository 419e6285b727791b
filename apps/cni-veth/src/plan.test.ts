import { describe, expect, it } from '@jest/globals';
import { CNIError } from '@nicpool/cni';
import { parseVethConf, type VethConf } from './conf.ts';
import {
  hardwareMAC,
  hostLinkName,
  nicAddresses,
  nodeIPs,
  planAdd,
  planCheck,
  type AddContext,
  type NICAddress,
  type NodeView,
  type PodView,
} from './plan.ts';
import type { Link, LinkAddress, Route, Rule } from './state.ts';

// The tutorial pod (veth.md "Outcome to test"): node 10.6.168.123/16 on ens192, ens224
// without IPv4; eth0 10.6.168.172/16 gw 10.6.0.1, net1 10.7.168.173/16 gw 10.7.0.1.
const CID = '3f1c9e7b2a4d8f0611aa22bb33cc44dd';
const HV = 'veth3f1c9e7b2a4';
const PID = 4242;
const POD_MAC = '4a:b9:7d:d3:43:3f';
const HOST_MAC = '66:6b:32:3f:67:1b';

const link = (ifindex: number, ifname: string, address: string, ifalias?: string): Link => ({
  ifindex,
  ifname,
  address,
  ...(ifalias === undefined ? {} : { ifalias }),
});
const addr = (ifname: string, local: string, scope = 'global'): LinkAddress => ({
  ifname,
  family: local.includes(':') ? 6 : 4,
  local,
  scope,
});
const route = (r: Partial<Route> & { dst: string }): Route => ({
  family: r.dst.includes(':') || r.gateway?.includes(':') === true ? 6 : 4,
  table: 'main',
  type: 'unicast',
  ...r,
});
const rule = (priority: number, from: string, to: string | undefined, table: string): Rule => ({
  family: from.includes(':') || to?.includes(':') === true ? 6 : 4,
  priority,
  from,
  to,
  table,
});
const DEFAULT_RULES: readonly Rule[] = [
  rule(0, 'all', undefined, 'local'),
  rule(32766, 'all', undefined, 'main'),
  rule(32767, 'all', undefined, 'default'),
];

const NODE_LINKS: readonly Link[] = [
  link(1, 'lo', '00:00:00:00:00:00'),
  link(2, 'ens192p', '3e:07:d2:68:2f:66'),
  link(3, 'ens192', '8e:0c:bb:3b:8b:bc'),
  link(4, 'ens224p', 'f2:27:cc:dd:ff:c2'),
  link(5, 'ens224', '32:7e:6e:65:33:2f'),
];
const hostEnd = (ifalias = 'nicpool:first=eth0'): Link => link(8, HV, HOST_MAC, ifalias);

/** The tutorial node; `extra` links and addresses are appended. */
function tutorialNode(
  opts: { hostEnd?: Link; addresses?: LinkAddress[]; via?: NodeView['via'] } = {},
): NodeView {
  return {
    links: [...NODE_LINKS, ...(opts.hostEnd === undefined ? [] : [opts.hostEnd])],
    addresses: [
      addr('lo', '127.0.0.1', 'host'),
      addr('lo', '::1', 'host'),
      addr('ens192p', 'fe80::3c07:d2ff:fe68:2f66', 'link'),
      addr('ens192', '10.6.168.123'),
      addr('ens192', 'fe80::8c0c:bbff:fe3b:8bbc', 'link'),
      addr('ens224p', 'fe80::f027:ccff:fedd:ffc2', 'link'),
      addr('ens224', 'fe80::307e:6eff:fe65:332f', 'link'),
      ...(opts.addresses ?? []),
    ],
    via: opts.via ?? { 4: '10.6.168.123' },
  };
}

const ETH0_ROUTES: readonly Route[] = [
  route({ dst: 'default', gateway: '10.6.0.1', dev: 'eth0' }),
  route({
    dst: '10.6.0.0/16',
    dev: 'eth0',
    protocol: 'kernel',
    scope: 'link',
    prefsrc: '10.6.168.172',
  }),
  route({
    dst: '10.6.168.172',
    dev: 'eth0',
    table: 'local',
    type: 'local',
    protocol: 'kernel',
    scope: 'host',
    prefsrc: '10.6.168.172',
  }),
];
/** What the eth0 ADD left in the pod's main table. */
const VETH0_MAIN_ROUTES: readonly Route[] = [
  route({ dst: '10.6.168.123', dev: 'veth0', scope: 'link' }),
  route({ dst: '10.96.0.0/12', gateway: '10.6.168.123', dev: 'veth0' }),
];
const NET1_KERNEL_ROUTE = route({
  dst: '10.7.0.0/16',
  dev: 'net1',
  protocol: 'kernel',
  scope: 'link',
  prefsrc: '10.7.168.173',
});

const ETH0: readonly NICAddress[] = [
  { family: 4, ip: '10.6.168.172', prefix: 16, gateway: '10.6.0.1' },
];
const NET1: readonly NICAddress[] = [
  { family: 4, ip: '10.7.168.173', prefix: 16, gateway: '10.7.0.1' },
];

/** MACs in the order planAdd asks for them (veth0's, then the node end's); a third is a bug. */
function macs(): () => string {
  const queue = [POD_MAC, HOST_MAC];
  return () => {
    const m = queue.shift();
    if (m === undefined) throw new Error('planAdd asked for a third MAC');
    return m;
  };
}
const noMAC = (): string => {
  throw new Error('planAdd asked for a MAC without creating veth0');
};

const TUTORIAL_CONF = (): VethConf => parseVethConf({ service_cidr: ['10.96.0.0/12'] });

/** The eth0 ADD: no veth0 in the pod yet. */
function eth0Context(over: Partial<AddContext> = {}): AddContext {
  return {
    conf: TUTORIAL_CONF(),
    ifName: 'eth0',
    containerID: CID,
    pid: PID,
    nic: ETH0,
    node: tutorialNode(),
    pod: {
      links: [link(1, 'lo', '00:00:00:00:00:00'), link(6, 'eth0', 'aa:b8:10:23:14:47')],
      rules: DEFAULT_RULES,
      routes: ETH0_ROUTES,
    },
    mac: macs(),
    ...over,
  };
}

const podAfterEth0 = (over: Partial<PodView> = {}): PodView => ({
  links: [
    link(1, 'lo', '00:00:00:00:00:00'),
    link(2, 'veth0', POD_MAC),
    link(6, 'eth0', 'aa:b8:10:23:14:47'),
    link(7, 'net1', 'e6:36:ae:4e:7b:4f'),
  ],
  rules: DEFAULT_RULES,
  routes: [...ETH0_ROUTES, ...VETH0_MAIN_ROUTES, NET1_KERNEL_ROUTE],
  ...over,
});

/** The net1 ADD after eth0's: veth0 exists, the node end carries eth0's mark. */
function net1Context(over: Partial<AddContext> = {}): AddContext {
  return {
    conf: TUTORIAL_CONF(),
    ifName: 'net1',
    containerID: CID,
    pid: PID,
    nic: NET1,
    node: tutorialNode({ hostEnd: hostEnd() }),
    pod: podAfterEth0(),
    mac: noMAC,
    ...over,
  };
}

function refusal(fn: () => unknown): { code: number; msg: string } {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof CNIError)) throw e;
    return { code: e.code, msg: e.message };
  }
  throw new Error('expected a CNIError');
}

const NET1_NODE_LINES = [
  `neigh replace 10.7.168.173 lladdr ${POD_MAC} dev ${HV} nud permanent`,
  `route replace 10.7.168.173/32 dev ${HV} src 10.6.168.123`,
];

describe('names', () => {
  it('HV is veth + the first 11 characters of the container ID (15, the kernel limit)', () => {
    expect(hostLinkName(CID)).toBe(HV);
    expect(hostLinkName('abc')).toBe('vethabc');
  });
});

describe('nicAddresses', () => {
  it('the addresses on IF when prevResult says which interface each is on', () => {
    expect(
      nicAddresses(
        {
          interfaces: [{ name: 'eth0' }, { name: 'net1' }],
          ips: [
            { address: '10.6.168.172/16', gateway: '10.6.0.1', interface: 0 },
            { address: '10.7.168.173/16', gateway: '10.7.0.1', interface: 1 },
            { address: 'fd00:7::173/64', interface: 1 },
          ],
        },
        'net1',
      ),
    ).toEqual([
      { family: 4, ip: '10.7.168.173', prefix: 16, gateway: '10.7.0.1' },
      { family: 6, ip: 'fd00:7::173', prefix: 64, gateway: undefined },
    ]);
  });

  it('writes each address and gateway canonically', () => {
    expect(
      nicAddresses({ ips: [{ address: 'FD00:7:0::173/64', gateway: 'FD00:7::0:1' }] }, 'net1'),
    ).toEqual([{ family: 6, ip: 'fd00:7::173', prefix: 64, gateway: 'fd00:7::1' }]);
  });

  it.each([
    [
      { address: '10.7.168.173\nlink del ens192/16' },
      'prevResult: "10.7.168.173\\nlink del ens192/16" is not an address with its prefix length',
    ],
    [
      { address: '10.7.168.173/16 dev lo' },
      'prevResult: "10.7.168.173/16 dev lo" is not an address with its prefix length',
    ],
    [
      { address: '10.7.168.173/16', gateway: '10.7.0.1\nlink del ens192' },
      'prevResult: gateway "10.7.0.1\\nlink del ens192" of 10.7.168.173/16 is not an address of its family',
    ],
    [
      { address: '10.7.168.173/16', gateway: 'fd00:7::1' },
      'prevResult: gateway "fd00:7::1" of 10.7.168.173/16 is not an address of its family',
    ],
  ])('refuses %j with code 7: every value ends up in an ip batch line', (ip, msg) => {
    expect(refusal(() => nicAddresses({ ips: [ip] }, 'net1'))).toEqual({ code: 7, msg });
  });

  it('all of them when no IP names an interface', () => {
    expect(nicAddresses({ ips: [{ address: '10.7.168.173/16' }] }, 'net1')).toEqual([
      { family: 4, ip: '10.7.168.173', prefix: 16, gateway: undefined },
    ]);
    expect(nicAddresses({}, 'net1')).toEqual([]);
  });
});

describe('planAdd: the tutorial pod', () => {
  it('eth0 (first NIC): veth0 ↔ HV, node /32 and the service CIDR in main, node side', () => {
    expect(planAdd(eth0Context())).toStrictEqual({
      first: true,
      table: 'main',
      hostLink: HV,
      createsLink: true,
      removeStaleHostLink: false,
      pod: [
        `link add veth0 address ${POD_MAC} mtu 1500 txqueuelen 0 type veth peer name ${HV} address ${HOST_MAC} mtu 1500 txqueuelen 0 netns ${PID}`,
        'link set veth0 up',
        `neigh replace 10.6.168.123 lladdr ${HOST_MAC} dev veth0 nud permanent`,
        'route replace 10.6.168.123/32 dev veth0 scope link table main',
        'route replace 10.96.0.0/12 via 10.6.168.123 dev veth0 table main',
      ],
      pod6: [],
      podIPv6: false,
      podRpFilter: 0,
      node: [
        `link set ${HV} up`,
        `link set ${HV} alias nicpool:first=eth0`,
        `neigh replace 10.6.168.172 lladdr ${POD_MAC} dev ${HV} nud permanent`,
        `route replace 10.6.168.172/32 dev ${HV} src 10.6.168.123`,
      ],
      nodeRpFilter: 0,
    });
  });

  it('net1: table 100, rules at 32765/32764, its route moved, default via its gateway', () => {
    expect(planAdd(net1Context())).toStrictEqual({
      first: false,
      table: '100',
      hostLink: HV,
      createsLink: false,
      removeStaleHostLink: false,
      pod: [
        `neigh replace 10.6.168.123 lladdr ${HOST_MAC} dev veth0 nud permanent`,
        'route replace 10.6.168.123/32 dev veth0 scope link table 100',
        'route replace 10.96.0.0/12 via 10.6.168.123 dev veth0 table 100',
        'rule add priority 32765 to 10.7.168.173/16 lookup 100',
        'rule add priority 32764 from 10.7.168.173/32 lookup 100',
        'route replace 10.7.0.0/16 dev net1 proto kernel scope link src 10.7.168.173 table 100',
        'route replace default via 10.7.0.1 dev net1 table 100',
        'route del 10.7.0.0/16 dev net1 table main',
      ],
      pod6: [],
      podIPv6: false,
      podRpFilter: 0,
      node: NET1_NODE_LINES,
      nodeRpFilter: 0,
    });
  });

  it('net2: table 101, rules at 32763/32762', () => {
    const plan = planAdd(
      net1Context({
        ifName: 'net2',
        nic: [{ family: 4, ip: '10.8.168.174', prefix: 16, gateway: '10.8.0.1' }],
        pod: podAfterEth0({
          routes: [
            ...ETH0_ROUTES,
            ...VETH0_MAIN_ROUTES,
            route({ dst: '10.8.0.0/16', dev: 'net2', protocol: 'kernel', scope: 'link' }),
          ],
        }),
      }),
    );
    expect([plan.first, plan.table]).toEqual([false, '101']);
    expect(plan.pod).toEqual([
      `neigh replace 10.6.168.123 lladdr ${HOST_MAC} dev veth0 nud permanent`,
      'route replace 10.6.168.123/32 dev veth0 scope link table 101',
      'route replace 10.96.0.0/12 via 10.6.168.123 dev veth0 table 101',
      'rule add priority 32763 to 10.8.168.174/16 lookup 101',
      'rule add priority 32762 from 10.8.168.174/32 lookup 101',
      'route replace 10.8.0.0/16 dev net2 proto kernel scope link table 101',
      'route replace default via 10.8.0.1 dev net2 table 101',
      'route del 10.8.0.0/16 dev net2 table main',
    ]);
  });

  it('eth0 again (veth0 exists, the node end says first=eth0): main, no link add, HV up again', () => {
    const plan = planAdd(
      eth0Context({
        node: tutorialNode({ hostEnd: hostEnd() }),
        pod: podAfterEth0(),
        mac: noMAC,
      }),
    );
    expect(plan).toStrictEqual({
      first: true,
      table: 'main',
      hostLink: HV,
      createsLink: false,
      removeStaleHostLink: false,
      pod: [
        `neigh replace 10.6.168.123 lladdr ${HOST_MAC} dev veth0 nud permanent`,
        'route replace 10.6.168.123/32 dev veth0 scope link table main',
        'route replace 10.96.0.0/12 via 10.6.168.123 dev veth0 table main',
      ],
      pod6: [],
      podIPv6: false,
      podRpFilter: 0,
      // Up and marked again: harmless when it is, the fix when a failed try left it down.
      node: [
        `link set ${HV} up`,
        `link set ${HV} alias nicpool:first=eth0`,
        `neigh replace 10.6.168.172 lladdr ${POD_MAC} dev ${HV} nud permanent`,
        `route replace 10.6.168.172/32 dev ${HV} src 10.6.168.123`,
      ],
      nodeRpFilter: 0,
    });
  });

  it('net1 again, rules and moved routes in place: no rule add, nothing moved twice', () => {
    const plan = planAdd(
      net1Context({
        pod: podAfterEth0({
          rules: [
            DEFAULT_RULES[0]!,
            rule(32764, '10.7.168.173', undefined, '100'),
            rule(32765, 'all', '10.7.168.173/16', '100'),
            ...DEFAULT_RULES.slice(1),
          ],
          routes: [
            ...ETH0_ROUTES,
            ...VETH0_MAIN_ROUTES,
            route({ dst: 'default', gateway: '10.7.0.1', dev: 'net1', table: '100' }),
            route({ dst: '10.6.168.123', dev: 'veth0', table: '100', scope: 'link' }),
            { ...NET1_KERNEL_ROUTE, table: '100' },
            route({ dst: '10.96.0.0/12', gateway: '10.6.168.123', dev: 'veth0', table: '100' }),
          ],
        }),
      }),
    );
    expect(plan.pod).toEqual([
      `neigh replace 10.6.168.123 lladdr ${HOST_MAC} dev veth0 nud permanent`,
      'route replace 10.6.168.123/32 dev veth0 scope link table 100',
      'route replace 10.96.0.0/12 via 10.6.168.123 dev veth0 table 100',
    ]);
    expect(plan.node).toEqual(NET1_NODE_LINES);
  });

  it('a rule at our priority into T for another address is deleted; other tables left alone', () => {
    const plan = planAdd(
      net1Context({
        pod: podAfterEth0({
          rules: [
            ...DEFAULT_RULES,
            rule(32765, 'all', '10.7.168.99/16', '100'),
            rule(32764, '10.7.168.99', undefined, '100'),
            rule(32765, 'all', '10.9.0.1/16', '200'),
            rule(32764, '10.7.168.173', undefined, '100'),
          ],
        }),
      }),
    );
    expect(plan.pod.filter((l) => l.startsWith('rule '))).toEqual([
      'rule del priority 32765 to 10.7.168.99/16 lookup 100',
      'rule del priority 32764 from 10.7.168.99 lookup 100',
      'rule add priority 32765 to 10.7.168.173/16 lookup 100',
    ]);
  });

  it.each(['eth1', 'net0', 'net', 'net1a'])(
    'a later NIC not named net<N> (%s) is refused with code 7 naming net<N>',
    (ifName) => {
      expect(refusal(() => planAdd(net1Context({ ifName })))).toEqual({
        code: 7,
        msg:
          `${ifName} is not the pod's first NIC chained to veth (veth0 exists) and is not named net<N>: ` +
          'veth gives net<N> routing table 100 + N − 1; name the NIC net<N> in the pod annotation',
      });
    },
  );

  it('the first NIC may have any name: its mark makes a repeat first again', () => {
    const plan = planAdd(
      net1Context({
        ifName: 'net1',
        node: tutorialNode({ hostEnd: hostEnd('nicpool:first=net1') }),
      }),
    );
    expect([plan.first, plan.table]).toEqual([true, 'main']);
  });

  it('eth0 retried after its node batch failed (HV down, unmarked): HV up and marked', () => {
    const plan = planAdd(
      eth0Context({
        node: tutorialNode({ hostEnd: link(8, HV, HOST_MAC) }),
        pod: podAfterEth0(),
        mac: noMAC,
      }),
    );
    expect([plan.first, plan.createsLink, plan.node]).toEqual([
      true,
      false,
      [
        `link set ${HV} up`,
        `link set ${HV} alias nicpool:first=eth0`,
        `neigh replace 10.6.168.172 lladdr ${POD_MAC} dev ${HV} nud permanent`,
        `route replace 10.6.168.172/32 dev ${HV} src 10.6.168.123`,
      ],
    ]);
  });

  it('a stale node end (no veth0 in the pod) is removed before veth0 is created', () => {
    const plan = planAdd(eth0Context({ node: tutorialNode({ hostEnd: hostEnd() }) }));
    expect([plan.first, plan.removeStaleHostLink, plan.pod[0]]).toEqual([
      true,
      true,
      `link add veth0 address ${POD_MAC} mtu 1500 txqueuelen 0 type veth peer name ${HV} address ${HOST_MAC} mtu 1500 txqueuelen 0 netns ${PID}`,
    ]);
  });
});

describe('node IPs (A3, A8)', () => {
  it('addresses on lo, veth*, cali*, docker*, kube-*, … and link-local ones are not node IPs', () => {
    const node = tutorialNode({
      addresses: [
        addr('lo', '10.255.0.1'),
        addr('veth1234abcd', '10.244.1.1'),
        addr('cali0a1b2c3d4e5', '10.244.2.1'),
        addr('docker0', '172.17.0.1'),
        addr('kube-ipvs0', '10.96.0.1'),
        addr('cni0', '10.244.0.1'),
        addr('flannel.1', '10.244.0.0'),
        addr('tunl0', '10.244.3.0'),
        addr('vxlan.calico', '10.244.4.0'),
        addr('genev_sys_6081', '10.244.5.0'),
        addr('nodelocaldns', '169.254.20.10'),
        addr('ens224', '169.254.7.7', 'link'),
        addr('ens224', '224.0.0.251'),
      ],
    });
    expect(nodeIPs(node, new Set([4]))).toEqual([{ family: 4, ip: '10.6.168.123' }]);
    expect(planAdd(eth0Context({ node })).pod).toEqual([
      `link add veth0 address ${POD_MAC} mtu 1500 txqueuelen 0 type veth peer name ${HV} address ${HOST_MAC} mtu 1500 txqueuelen 0 netns ${PID}`,
      'link set veth0 up',
      `neigh replace 10.6.168.123 lladdr ${HOST_MAC} dev veth0 nud permanent`,
      'route replace 10.6.168.123/32 dev veth0 scope link table main',
      'route replace 10.96.0.0/12 via 10.6.168.123 dev veth0 table main',
    ]);
  });

  it('links only named like an excluded one still count (the patterns are anchored)', () => {
    const node = tutorialNode({
      addresses: [addr('ens-lo', '10.6.168.2'), addr('myveth', '10.6.168.3')],
    });
    expect(nodeIPs(node, new Set([4]))).toEqual([
      { family: 4, ip: '10.6.168.123' },
      { family: 4, ip: '10.6.168.2' },
      { family: 4, ip: '10.6.168.3' },
    ]);
  });

  it('two node addresses: two neighbours and two /32 lines before the CIDR route', () => {
    const node = tutorialNode({ addresses: [addr('ens224', '10.7.168.123')] });
    expect(
      planAdd(net1Context({ node: { ...node, links: [...node.links, hostEnd()] } })).pod,
    ).toEqual([
      `neigh replace 10.6.168.123 lladdr ${HOST_MAC} dev veth0 nud permanent`,
      `neigh replace 10.7.168.123 lladdr ${HOST_MAC} dev veth0 nud permanent`,
      'route replace 10.6.168.123/32 dev veth0 scope link table 100',
      'route replace 10.7.168.123/32 dev veth0 scope link table 100',
      'route replace 10.96.0.0/12 via 10.6.168.123 dev veth0 table 100',
      'rule add priority 32765 to 10.7.168.173/16 lookup 100',
      'rule add priority 32764 from 10.7.168.173/32 lookup 100',
      'route replace 10.7.0.0/16 dev net1 proto kernel scope link src 10.7.168.173 table 100',
      'route replace default via 10.7.0.1 dev net1 table 100',
      'route del 10.7.0.0/16 dev net1 table main',
    ]);
  });

  it('the via gets its /32 even on a link A3 skips; each address once', () => {
    const node = tutorialNode({
      addresses: [addr('cni0', '10.244.0.1')],
      via: { 4: '10.244.0.1' },
    });
    expect(nodeIPs(node, new Set([4]))).toEqual([
      { family: 4, ip: '10.6.168.123' },
      { family: 4, ip: '10.244.0.1' },
    ]);
    expect(nodeIPs(tutorialNode(), new Set([4]))).toEqual([{ family: 4, ip: '10.6.168.123' }]);
  });

  it('without a via: CIDR routes dev veth0 only, node routes without src', () => {
    const plan = planAdd(eth0Context({ node: { ...tutorialNode(), via: {} } }));
    expect(plan.pod.slice(2)).toEqual([
      `neigh replace 10.6.168.123 lladdr ${HOST_MAC} dev veth0 nud permanent`,
      'route replace 10.6.168.123/32 dev veth0 scope link table main',
      'route replace 10.96.0.0/12 dev veth0 table main',
    ]);
    expect(plan.node.slice(2)).toEqual([
      `neigh replace 10.6.168.172 lladdr ${POD_MAC} dev ${HV} nud permanent`,
      `route replace 10.6.168.172/32 dev ${HV}`,
    ]);
  });

  it('CIDRs of a family the NIC lacks are skipped; cluster → service → additional', () => {
    const plan = planAdd(
      eth0Context({
        conf: parseVethConf({
          cluster_cidr: ['10.244.0.0/16'],
          service_cidr: ['10.96.0.0/12', 'fd00:96::/108'],
          additional_cidr: ['172.16.0.0/16'],
        }),
      }),
    );
    expect(plan.pod.filter((l) => l.startsWith('route '))).toEqual([
      'route replace 10.6.168.123/32 dev veth0 scope link table main',
      'route replace 10.244.0.0/16 via 10.6.168.123 dev veth0 table main',
      'route replace 10.96.0.0/12 via 10.6.168.123 dev veth0 table main',
      'route replace 172.16.0.0/16 via 10.6.168.123 dev veth0 table main',
    ]);
  });
});

describe('dual stack (A15)', () => {
  const NET1_DUAL: readonly NICAddress[] = [
    ...NET1,
    { family: 6, ip: 'fd00:7::173', prefix: 64, gateway: 'fd00:7::1' },
  ];
  const dualNode = (): NodeView => ({
    ...tutorialNode({
      hostEnd: hostEnd(),
      addresses: [addr('ens192', 'fd00:6::123')],
      via: { 4: '10.6.168.123', 6: 'fd00:6::123' },
    }),
  });

  it('net1 with fd00:7::173/64: /128 routes, v6 CIDR via the v6 source, v6 rules, IPv6 on', () => {
    const plan = planAdd(
      net1Context({
        conf: parseVethConf({ service_cidr: ['10.96.0.0/12', 'fd00:96::/108'] }),
        nic: NET1_DUAL,
        node: dualNode(),
        pod: podAfterEth0({
          routes: [
            ...ETH0_ROUTES,
            ...VETH0_MAIN_ROUTES,
            NET1_KERNEL_ROUTE,
            route({ dst: 'fd00:7::/64', dev: 'net1', protocol: 'kernel', metric: '256' }),
            route({ dst: 'fe80::/64', dev: 'net1', protocol: 'kernel', metric: '256' }),
            route({
              dst: 'ff00::/8',
              dev: 'net1',
              table: 'local',
              type: 'multicast',
              protocol: 'kernel',
              metric: '256',
            }),
          ],
        }),
      }),
    );
    expect(plan).toStrictEqual({
      first: false,
      table: '100',
      hostLink: HV,
      createsLink: false,
      removeStaleHostLink: false,
      pod: [
        `neigh replace 10.6.168.123 lladdr ${HOST_MAC} dev veth0 nud permanent`,
        `neigh replace fd00:6::123 lladdr ${HOST_MAC} dev veth0 nud permanent`,
        'route replace 10.6.168.123/32 dev veth0 scope link table 100',
        'route replace fd00:6::123/128 dev veth0 scope link table 100',
        'route replace 10.96.0.0/12 via 10.6.168.123 dev veth0 table 100',
        'route replace fd00:96::/108 via fd00:6::123 dev veth0 table 100',
        'rule add priority 32765 to 10.7.168.173/16 lookup 100',
        'rule add priority 32764 from 10.7.168.173/32 lookup 100',
        'route replace 10.7.0.0/16 dev net1 proto kernel scope link src 10.7.168.173 table 100',
        'route replace fd00:7::/64 dev net1 proto kernel metric 256 table 100',
        'route replace default via 10.7.0.1 dev net1 table 100',
        'route replace default via fd00:7::1 dev net1 table 100',
        'route del 10.7.0.0/16 dev net1 table main',
        'route del fd00:7::/64 dev net1 table main',
      ],
      // iproute2 reads a rule as IPv4 unless told -6: the IPv6 rules are a batch of their own.
      pod6: [
        'rule add priority 32765 to fd00:7::173/64 lookup 100',
        'rule add priority 32764 from fd00:7::173/128 lookup 100',
      ],
      podIPv6: true,
      podRpFilter: 0,
      node: [
        ...NET1_NODE_LINES,
        `neigh replace fd00:7::173 lladdr ${POD_MAC} dev ${HV} nud permanent`,
        `route replace fd00:7::173/128 dev ${HV} src fd00:6::123`,
      ],
      nodeRpFilter: 0,
    });
  });

  it('existing v6 rules count as present (ip prints a host from without /128)', () => {
    const plan = planAdd(
      net1Context({
        nic: NET1_DUAL,
        node: dualNode(),
        pod: podAfterEth0({
          rules: [
            ...DEFAULT_RULES,
            rule(32764, '10.7.168.173', undefined, '100'),
            rule(32765, 'all', '10.7.168.173/16', '100'),
            rule(32764, 'fd00:7::173', undefined, '100'),
            rule(32765, 'all', 'fd00:7::173/64', '100'),
          ],
        }),
      }),
    );
    expect([plan.pod.filter((l) => l.includes('rule ')), plan.pod6]).toEqual([[], []]);
  });

  it('a stale IPv6 rule at our priority is deleted in the IPv6 batch', () => {
    const plan = planAdd(
      net1Context({
        nic: NET1_DUAL,
        node: dualNode(),
        pod: podAfterEth0({
          rules: [
            ...DEFAULT_RULES,
            rule(32764, '10.7.168.173', undefined, '100'),
            rule(32765, 'all', '10.7.168.173/16', '100'),
            rule(32764, 'fd00:7::173', undefined, '100'),
            rule(32765, 'all', 'fd00:7::99/64', '100'),
          ],
        }),
      }),
    );
    expect([plan.pod.filter((l) => l.includes('rule ')), plan.pod6]).toEqual([
      [],
      [
        'rule del priority 32765 to fd00:7::99/64 lookup 100',
        'rule add priority 32765 to fd00:7::173/64 lookup 100',
      ],
    ]);
  });
});

describe('moving IPv6 routes (A11)', () => {
  it('an IPv6 default on net1 moves as ::/0 (a bare default reads as IPv4 in a batch line)', () => {
    const plan = planAdd(
      net1Context({
        nic: [...NET1, { family: 6, ip: 'fd00:7::173', prefix: 64, gateway: 'fd00:7::1' }],
        pod: podAfterEth0({
          routes: [
            ...ETH0_ROUTES,
            ...VETH0_MAIN_ROUTES,
            NET1_KERNEL_ROUTE,
            route({
              family: 6,
              dst: 'default',
              gateway: 'fe80::1',
              dev: 'net1',
              protocol: 'ra',
              metric: '1024',
            }),
          ],
        }),
      }),
    );
    expect(plan.pod.filter((l) => l.includes('::/0') || l.includes('default'))).toEqual([
      'route replace ::/0 via fe80::1 dev net1 proto ra metric 1024 table 100',
      'route replace default via 10.7.0.1 dev net1 table 100',
      'route del ::/0 via fe80::1 dev net1 table main',
    ]);
  });
});

describe('hardware_prefix (A16)', () => {
  it('prefix + the 4 bytes of the first IPv4 address, else the last 4 of IPv6', () => {
    expect(hardwareMAC('0a:1b', ETH0)).toBe('0a:1b:0a:06:a8:ac');
    expect(
      hardwareMAC('0a:1b', [
        { family: 6, ip: 'fd00:7::a8:ad', prefix: 64, gateway: undefined },
        ...NET1,
      ]),
    ).toBe('0a:1b:0a:07:a8:ad');
    expect(
      hardwareMAC('0a:1b', [{ family: 6, ip: 'fd00:7::a8:ad', prefix: 64, gateway: undefined }]),
    ).toBe('0a:1b:00:a8:00:ad');
    expect(hardwareMAC('0a:1b', [])).toBeUndefined();
  });

  it('sets IF’s MAC first, then the usual plan', () => {
    const plan = planAdd(
      eth0Context({
        conf: parseVethConf({ service_cidr: ['10.96.0.0/12'], hardware_prefix: '0a:1b' }),
      }),
    );
    expect(plan.pod.slice(0, 2)).toEqual([
      'link set dev eth0 address 0a:1b:0a:06:a8:ac',
      `link add veth0 address ${POD_MAC} mtu 1500 txqueuelen 0 type veth peer name ${HV} address ${HOST_MAC} mtu 1500 txqueuelen 0 netns ${PID}`,
    ]);
    expect(plan.pod.length).toBe(6);
  });

  it('only_hardware: that line and nothing else, on either side', () => {
    expect(
      planAdd(
        eth0Context({
          conf: parseVethConf({
            service_cidr: ['10.96.0.0/12'],
            hardware_prefix: '0a:1b',
            only_hardware: true,
          }),
          mac: noMAC,
        }),
      ),
    ).toStrictEqual({
      first: false,
      table: 'main',
      hostLink: HV,
      createsLink: false,
      removeStaleHostLink: false,
      pod: ['link set dev eth0 address 0a:1b:0a:06:a8:ac'],
      pod6: [],
      podIPv6: false,
      podRpFilter: undefined,
      node: [],
      nodeRpFilter: undefined,
    });
  });
});

describe('move_routes and rp_filter', () => {
  it('move_routes false: the to rule only, nothing moved out of main, no default in T (main answers the subnet)', () => {
    const plan = planAdd(
      net1Context({ conf: parseVethConf({ service_cidr: ['10.96.0.0/12'], move_routes: false }) }),
    );
    expect(plan.pod).toEqual([
      `neigh replace 10.6.168.123 lladdr ${HOST_MAC} dev veth0 nud permanent`,
      'route replace 10.6.168.123/32 dev veth0 scope link table 100',
      'route replace 10.96.0.0/12 via 10.6.168.123 dev veth0 table 100',
      'rule add priority 32765 to 10.7.168.173/16 lookup 100',
    ]);
  });

  it('rp_filter enabled false: the node is untouched, the pod still gets the value', () => {
    const plan = planAdd(
      eth0Context({
        conf: parseVethConf({
          service_cidr: ['10.96.0.0/12'],
          rp_filter: { enabled: false, value: 2 },
        }),
      }),
    );
    expect([plan.podRpFilter, plan.nodeRpFilter]).toEqual([2, undefined]);
  });

  it('rp_filter value 1 (enabled by default) reaches both sides', () => {
    const plan = planAdd(eth0Context({ conf: parseVethConf({ rp_filter: { value: 1 } }) }));
    expect([plan.podRpFilter, plan.nodeRpFilter]).toEqual([1, 1]);
  });
});

describe('planCheck (D2)', () => {
  /** The pod and node after both ADDs of the tutorial. */
  function done(over: Partial<PodView> = {}, nodeRoutes?: readonly Route[]) {
    return {
      ...net1Context(),
      pod: podAfterEth0({
        rules: [
          ...DEFAULT_RULES,
          rule(32764, '10.7.168.173', undefined, '100'),
          rule(32765, 'all', '10.7.168.173/16', '100'),
        ],
        routes: [
          ...ETH0_ROUTES,
          ...VETH0_MAIN_ROUTES,
          route({ dst: 'default', gateway: '10.7.0.1', dev: 'net1', table: '100' }),
          route({ dst: '10.6.168.123', dev: 'veth0', table: '100', scope: 'link' }),
          { ...NET1_KERNEL_ROUTE, table: '100' },
          route({ dst: '10.96.0.0/12', gateway: '10.6.168.123', dev: 'veth0', table: '100' }),
        ],
        ...over,
      }),
      nodeRoutes: nodeRoutes ?? [
        route({ dst: '10.6.168.172', dev: HV, scope: 'link', prefsrc: '10.6.168.123' }),
        route({ dst: '10.7.168.173', dev: HV, scope: 'link', prefsrc: '10.6.168.123' }),
      ],
    };
  }

  it('everything in place: nothing missing, for net1 and for eth0', () => {
    expect(planCheck(done())).toEqual([]);
    expect(planCheck({ ...done(), ifName: 'eth0', nic: ETH0 })).toEqual([]);
  });

  it('no veth0 in the pod, or no node end: that alone', () => {
    expect(planCheck({ ...done(), pod: { ...done().pod, links: [] } })).toEqual([
      'veth0 in the pod',
    ]);
    expect(planCheck({ ...done(), node: tutorialNode() })).toEqual([`${HV} on the node`]);
  });

  it('names each missing route, rule and node route', () => {
    const ctx = done(
      {
        rules: [...DEFAULT_RULES, rule(32765, 'all', '10.7.168.173/16', '100')],
        routes: [
          ...ETH0_ROUTES,
          ...VETH0_MAIN_ROUTES,
          route({ dst: '10.6.168.123', dev: 'veth0', table: '100', scope: 'link' }),
        ],
      },
      [route({ dst: '10.6.168.172', dev: HV, scope: 'link' })],
    );
    expect(planCheck(ctx)).toEqual([
      'route 10.96.0.0/12 dev veth0 in table 100',
      'rule priority 32764 from 10.7.168.173/32 lookup 100',
      `route 10.7.168.173 dev ${HV} on the node`,
    ]);
  });

  it('eth0: main must hold the node /32 and the CIDR route', () => {
    const ctx = { ...done({ routes: ETH0_ROUTES }), ifName: 'eth0', nic: ETH0 };
    expect(planCheck(ctx)).toEqual([
      'route 10.6.168.123 dev veth0 in table main',
      'route 10.96.0.0/12 dev veth0 in table main',
    ]);
  });

  it('only_hardware checks the links only', () => {
    expect(
      planCheck({
        ...done({ routes: [], rules: [] }, []),
        conf: parseVethConf({ only_hardware: true }),
      }),
    ).toEqual([]);
  });
});
