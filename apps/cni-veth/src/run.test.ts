import { describe, expect, it } from '@jest/globals';
import { CNIError } from '@nicpool/cni';
import type { BatchResult, Kernel, Where } from './exec.ts';
import { randomMAC, run } from './run.ts';

const CID = '3f1c9e7b2a4d8f0611aa22bb33cc44dd';
const HV = 'veth3f1c9e7b2a4';
const NETNS = '/var/run/netns/cni-6f3e2a51';
const PID = 4242;
/** What the fake MAC source hands out for the eth0 ADD: veth0's, then HV's. */
const POD_MAC = '4a:b9:7d:d3:43:3f';
const HOST_MAC = '66:6b:32:3f:67:1b';
/** The MACs the recorded dumps show after the eth0 ADD (veth0, HV). */
const DUMP_POD_MAC = 'ee:fc:37:49:47:b7';
const DUMP_HOST_MAC = 'fe:4c:a1:57:94:67';
const SYSCTL = '/proc/sys/net/ipv4/conf';

type Call =
  | { op: 'query'; where: string; lines: string[]; family?: 4 | 6 }
  | {
      op: 'apply';
      where: string;
      lines: string[];
      pod?: { ipv6: boolean; rpFilter: unknown; lines6: readonly string[] };
    }
  | { op: 'read'; path: string }
  | { op: 'write'; path: string; value: string }
  | { op: 'log'; message: string };

/** ip's answers per namespace (`node`, `pod`, `node6`, `pod6`) and line, as JSON text. */
type Answers = Partial<Record<'node' | 'pod' | 'node6' | 'pod6', Record<string, string>>>;

/**
 * A fake kernel: answers queries from recorded `ip -json` output (a line without an answer
 * fails, as `route get` does without a route), records every call, and throws from apply
 * when `fail` says so.
 */
function fakeKernel(
  answers: Answers,
  opts: {
    sysctl?: Record<string, string>;
    fail?: (where: string, lines: readonly string[]) => Error | undefined;
  } = {},
): { kernel: Kernel; calls: Call[] } {
  const calls: Call[] = [];
  const place = (w: Where): string => w.netns ?? 'node';
  const kernel: Kernel = {
    pid: PID,
    async query(where, lines, family) {
      calls.push({
        op: 'query',
        where: place(where),
        lines: [...lines],
        ...(family === undefined ? {} : { family }),
      });
      const key: keyof Answers =
        where.netns === undefined
          ? family === 6
            ? 'node6'
            : 'node'
          : family === 6
            ? 'pod6'
            : 'pod';
      const table = answers[key] ?? {};
      const outputs: unknown[] = [];
      const failures: { line: number; message: string }[] = [];
      lines.forEach((l, i) => {
        const text = table[l];
        if (text === undefined) {
          outputs.push(undefined);
          failures.push({ line: i + 1, message: 'RTNETLINK answers: Network is unreachable' });
        } else outputs.push(JSON.parse(text));
      });
      return { outputs, failures } satisfies BatchResult;
    },
    async apply(where, lines, pod) {
      calls.push({
        op: 'apply',
        where: place(where),
        lines: [...lines],
        ...(pod === undefined ? {} : { pod: { ...pod } }),
      });
      const e = opts.fail?.(place(where), lines);
      if (e !== undefined) throw e;
    },
    readSysctl(path) {
      calls.push({ op: 'read', path });
      return opts.sysctl?.[path];
    },
    writeSysctl(path, value) {
      calls.push({ op: 'write', path, value });
    },
    log(message) {
      calls.push({ op: 'log', message });
    },
  };
  return { kernel, calls };
}

/** MACs in the order the plugin asks for them; a third is a bug. */
function macs(): () => string {
  const queue = [POD_MAC, HOST_MAC];
  return () => queue.shift() ?? 'asked for a third MAC';
}

const env = (command: string, ifName: string, extra: Record<string, string> = {}) => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: CID,
  CNI_NETNS: NETNS,
  CNI_IFNAME: ifName,
  CNI_PATH: '/opt/cni/bin',
  CNI_ARGS: 'IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=test-pod',
  ...extra,
});

/** macvlan's results for the tutorial pod, in 0.3.1 as the reference plugins print them. */
const ETH0_RESULT = {
  cniVersion: '0.3.1',
  interfaces: [{ name: 'eth0', mac: '6e:c4:86:15:3c:c7', sandbox: NETNS }],
  ips: [{ version: '4', interface: 0, address: '10.6.168.172/16', gateway: '10.6.0.1' }],
  routes: [{ dst: '0.0.0.0/0', gw: '10.6.0.1' }],
  dns: {},
};
const NET1_RESULT = {
  cniVersion: '0.3.1',
  interfaces: [{ name: 'net1', mac: 'ae:50:6f:53:3f:91', sandbox: NETNS }],
  ips: [{ version: '4', interface: 0, address: '10.7.168.173/16', gateway: '10.7.0.1' }],
  dns: {},
};

/** The tutorial NAD's veth entry, as Multus hands it over. */
const netconf = (cniVersion: string, prevResult: unknown, extra: object = {}): string =>
  JSON.stringify({
    cniVersion,
    name: 'macvlan-conf-ens224',
    type: 'veth',
    service_cidr: ['10.96.0.0/12'],
    ...extra,
    ...(prevResult === undefined ? {} : { prevResult }),
  });

const nodeLinksWithHV = (): string =>
  JSON.stringify([...(JSON.parse(NODE_LINKS_BEFORE) as unknown[]), JSON.parse(NODE_HOST_LINK)]);

/** The pod and node before the eth0 ADD. */
const beforeEth0 = (): Answers => ({
  node: {
    'link show': NODE_LINKS_BEFORE,
    'addr show': NODE_ADDRS,
    'route get 10.6.168.172': NODE_ROUTE_GET_ETH0,
  },
  pod: {
    'link show': POD_LINKS_BEFORE,
    'rule show': POD_RULES_BEFORE,
    'route show table all': POD_ROUTES_BEFORE,
  },
});

/** The pod and node after the eth0 ADD, before net1's. */
const afterEth0 = (): Answers => ({
  node: {
    'link show': nodeLinksWithHV(),
    'addr show': NODE_ADDRS,
    'route get 10.7.168.173': NODE_ROUTE_GET_NET1,
  },
  pod: {
    'link show': POD_LINKS_AFTER,
    'rule show': POD_RULES_BEFORE,
    'route show table all': POD_ROUTES_AFTER_ETH0,
  },
});

/** Both ADDs done. */
const afterNet1 = (): Answers => ({
  node: {
    'link show': nodeLinksWithHV(),
    'addr show': NODE_ADDRS,
    'route get 10.6.168.172': NODE_ROUTE_GET_ETH0_DONE,
    'route get 10.7.168.173': NODE_ROUTE_GET_NET1_DONE,
    [`route show dev ${HV}`]: NODE_ROUTES_HV,
  },
  pod: {
    'link show': POD_LINKS_AFTER,
    'rule show': POD_RULES_AFTER,
    'route show table all': POD_ROUTES_AFTER_NET1,
  },
});

const json = (s: string): unknown => JSON.parse(s);

const ETH0_POD_LINES = [
  `link add veth0 address ${POD_MAC} mtu 1500 txqueuelen 0 type veth peer name ${HV} address ${HOST_MAC} mtu 1500 txqueuelen 0 netns ${PID}`,
  'link set veth0 up',
  `neigh replace 10.6.168.123 lladdr ${HOST_MAC} dev veth0 nud permanent`,
  'route replace 10.6.168.123/32 dev veth0 scope link table main',
  'route replace 10.96.0.0/12 via 10.6.168.123 dev veth0 table main',
];
const ETH0_NODE_LINES = [
  `link set ${HV} up`,
  `link set ${HV} alias nicpool:first=eth0`,
  `neigh replace 10.6.168.172 lladdr ${POD_MAC} dev ${HV} nud permanent`,
  `route replace 10.6.168.172/32 dev ${HV} src 10.6.168.123`,
];

describe('ADD', () => {
  it('eth0 on 0.3.1: reads both sides, applies the pod batch then the node batch, prints prevResult', async () => {
    const f = fakeKernel(beforeEth0(), { sysctl: { [`${SYSCTL}/all/rp_filter`]: '2' } });
    const out = await run({
      env: env('ADD', 'eth0'),
      stdin: netconf('0.3.1', ETH0_RESULT),
      kernel: f.kernel,
      mac: macs(),
    });
    // 0.3.1 keeps each IP's version first: the result is the one macvlan printed.
    expect(out).toEqual({ stdout: `${JSON.stringify(ETH0_RESULT)}\n`, exitCode: 0 });
    expect(f.calls).toEqual([
      { op: 'query', where: 'node', lines: ['link show', 'addr show', 'route get 10.6.168.172'] },
      {
        op: 'query',
        where: NETNS,
        lines: ['link show', 'rule show', 'route show table all'],
        family: 4,
      },
      {
        op: 'apply',
        where: NETNS,
        lines: ETH0_POD_LINES,
        pod: { ipv6: false, rpFilter: 0, lines6: [] },
      },
      { op: 'apply', where: 'node', lines: ETH0_NODE_LINES },
      { op: 'write', path: `${SYSCTL}/${HV}/rp_filter`, value: '0' },
      { op: 'read', path: `${SYSCTL}/all/rp_filter` },
    ]);
  });

  it.each(['1.0.0', '1.1.0'])('eth0 on %s: prevResult without version per IP', async (v) => {
    const out = await run({
      env: env('ADD', 'eth0'),
      stdin: netconf(v, ETH0_RESULT),
      kernel: fakeKernel(beforeEth0()).kernel,
      mac: macs(),
    });
    expect(out.exitCode).toBe(0);
    expect(out.stdout).toBe(
      `${JSON.stringify({
        cniVersion: v,
        interfaces: ETH0_RESULT.interfaces,
        ips: [{ interface: 0, address: '10.6.168.172/16', gateway: '10.6.0.1' }],
        routes: ETH0_RESULT.routes,
        dns: {},
      })}\n`,
    );
  });

  it('net1 after eth0: table 100, rules, the moved route and the default; node route and neighbour', async () => {
    const f = fakeKernel(afterEth0());
    const out = await run({
      env: env('ADD', 'net1'),
      stdin: netconf('0.3.1', NET1_RESULT),
      kernel: f.kernel,
      mac: () => 'no MAC is made when veth0 exists',
    });
    expect(out).toEqual({ stdout: `${JSON.stringify(NET1_RESULT)}\n`, exitCode: 0 });
    expect(f.calls.filter((c) => c.op === 'query' || c.op === 'apply')).toEqual([
      { op: 'query', where: 'node', lines: ['link show', 'addr show', 'route get 10.7.168.173'] },
      {
        op: 'query',
        where: NETNS,
        lines: ['link show', 'rule show', 'route show table all'],
        family: 4,
      },
      {
        op: 'apply',
        where: NETNS,
        lines: [
          `neigh replace 10.6.168.123 lladdr ${DUMP_HOST_MAC} dev veth0 nud permanent`,
          'route replace 10.6.168.123/32 dev veth0 scope link table 100',
          'route replace 10.96.0.0/12 via 10.6.168.123 dev veth0 table 100',
          'rule add priority 32765 to 10.7.168.173/16 lookup 100',
          'rule add priority 32764 from 10.7.168.173/32 lookup 100',
          'route replace 10.7.0.0/16 dev net1 proto kernel scope link src 10.7.168.173 table 100',
          'route replace default via 10.7.0.1 dev net1 table 100',
          'route del 10.7.0.0/16 dev net1 table main',
        ],
        pod: { ipv6: false, rpFilter: 0, lines6: [] },
      },
      {
        op: 'apply',
        where: 'node',
        lines: [
          `neigh replace 10.7.168.173 lladdr ${DUMP_POD_MAC} dev ${HV} nud permanent`,
          `route replace 10.7.168.173/32 dev ${HV} src 10.6.168.123`,
        ],
      },
    ]);
  });

  it('both repeated after both ADDs: no link, rule or move twice (T10)', async () => {
    const eth0 = fakeKernel(afterNet1());
    const net1 = fakeKernel(afterNet1());
    const noMAC = (): string => 'no MAC is made when veth0 exists';
    for (const [f, ifName, result] of [
      [eth0, 'eth0', ETH0_RESULT],
      [net1, 'net1', NET1_RESULT],
    ] as const) {
      const out = await run({
        env: env('ADD', ifName),
        stdin: netconf('0.3.1', result),
        kernel: f.kernel,
        mac: noMAC,
      });
      expect(out.exitCode).toBe(0);
    }
    const applied = (f: { calls: Call[] }): unknown => f.calls.filter((c) => c.op === 'apply');
    expect(applied(eth0)).toEqual([
      {
        op: 'apply',
        where: NETNS,
        lines: [
          `neigh replace 10.6.168.123 lladdr ${DUMP_HOST_MAC} dev veth0 nud permanent`,
          'route replace 10.6.168.123/32 dev veth0 scope link table main',
          'route replace 10.96.0.0/12 via 10.6.168.123 dev veth0 table main',
        ],
        pod: { ipv6: false, rpFilter: 0, lines6: [] },
      },
      {
        op: 'apply',
        where: 'node',
        lines: [
          `link set ${HV} up`,
          `link set ${HV} alias nicpool:first=eth0`,
          `neigh replace 10.6.168.172 lladdr ${DUMP_POD_MAC} dev ${HV} nud permanent`,
          `route replace 10.6.168.172/32 dev ${HV} src 10.6.168.123`,
        ],
      },
    ]);
    expect(applied(net1)).toEqual([
      {
        op: 'apply',
        where: NETNS,
        lines: [
          `neigh replace 10.6.168.123 lladdr ${DUMP_HOST_MAC} dev veth0 nud permanent`,
          'route replace 10.6.168.123/32 dev veth0 scope link table 100',
          'route replace 10.96.0.0/12 via 10.6.168.123 dev veth0 table 100',
        ],
        pod: { ipv6: false, rpFilter: 0, lines6: [] },
      },
      {
        op: 'apply',
        where: 'node',
        lines: [
          `neigh replace 10.7.168.173 lladdr ${DUMP_POD_MAC} dev ${HV} nud permanent`,
          `route replace 10.7.168.173/32 dev ${HV} src 10.6.168.123`,
        ],
      },
    ]);
  });

  it('a stale node end without veth0 in the pod is deleted first', async () => {
    const answers = beforeEth0();
    answers.node = { ...answers.node, 'link show': nodeLinksWithHV() };
    const f = fakeKernel(answers);
    const out = await run({
      env: env('ADD', 'eth0'),
      stdin: netconf('0.3.1', ETH0_RESULT),
      kernel: f.kernel,
      mac: macs(),
    });
    expect(out.exitCode).toBe(0);
    expect(f.calls.filter((c) => c.op === 'apply').map((c) => [c.where, c.lines[0]])).toEqual([
      ['node', `link del ${HV}`],
      [NETNS, ETH0_POD_LINES[0]],
      ['node', ETH0_NODE_LINES[0]],
    ]);
  });

  it('net1 dual stack: one dump per family, a route get per family, IPv6 rules in their own batch', async () => {
    const answers = afterEth0();
    // ip -json route get fd00:7::173 (the node with fd00:6::123/64 and a v6 default route)
    // and ip -6 -json rule show / route show table all (a dual-stack pod after the eth0 ADD)
    answers.node = { ...answers.node, 'route get fd00:7::173': NODE_ROUTE_GET_NET1_V6 };
    answers.pod6 = { 'rule show': POD_RULES_V6, 'route show table all': POD_ROUTES_V6 };
    const f = fakeKernel(answers);
    const result = {
      ...NET1_RESULT,
      ips: [
        ...NET1_RESULT.ips,
        { version: '6', interface: 0, address: 'fd00:7::173/64', gateway: 'fd00:7::1' },
      ],
    };
    const out = await run({
      env: env('ADD', 'net1'),
      stdin: netconf('0.4.0', result),
      kernel: f.kernel,
      mac: () => 'unused',
    });
    expect(out).toEqual({
      stdout: `${JSON.stringify({ ...result, cniVersion: '0.4.0' })}\n`,
      exitCode: 0,
    });
    expect(f.calls.filter((c) => c.op === 'query')).toEqual([
      {
        op: 'query',
        where: 'node',
        lines: ['link show', 'addr show', 'route get 10.7.168.173', 'route get fd00:7::173'],
      },
      {
        op: 'query',
        where: NETNS,
        lines: ['link show', 'rule show', 'route show table all'],
        family: 4,
      },
      { op: 'query', where: NETNS, lines: ['rule show', 'route show table all'], family: 6 },
    ]);
    expect(f.calls.filter((c) => c.op === 'apply')).toEqual([
      {
        op: 'apply',
        where: NETNS,
        lines: [
          `neigh replace 10.6.168.123 lladdr ${DUMP_HOST_MAC} dev veth0 nud permanent`,
          `neigh replace fd00:6::123 lladdr ${DUMP_HOST_MAC} dev veth0 nud permanent`,
          'route replace 10.6.168.123/32 dev veth0 scope link table 100',
          'route replace fd00:6::123/128 dev veth0 scope link table 100',
          'route replace 10.96.0.0/12 via 10.6.168.123 dev veth0 table 100',
          'rule add priority 32765 to 10.7.168.173/16 lookup 100',
          'rule add priority 32764 from 10.7.168.173/32 lookup 100',
          'route replace 10.7.0.0/16 dev net1 proto kernel scope link src 10.7.168.173 table 100',
          'route replace fd00:7::/64 dev net1 proto kernel metric 256 table 100',
          'route replace default via 10.7.0.1 dev net1 table 100',
          'route replace default via fd00:7::1 dev net1 table 100',
          'route del 10.7.0.0/16 dev net1 table main',
          'route del fd00:7::/64 dev net1 table main',
        ],
        pod: {
          ipv6: true,
          rpFilter: 0,
          lines6: [
            'rule add priority 32765 to fd00:7::173/64 lookup 100',
            'rule add priority 32764 from fd00:7::173/128 lookup 100',
          ],
        },
      },
      {
        op: 'apply',
        where: 'node',
        lines: [
          `neigh replace 10.7.168.173 lladdr ${DUMP_POD_MAC} dev ${HV} nud permanent`,
          `route replace 10.7.168.173/32 dev ${HV} src 10.6.168.123`,
          `neigh replace fd00:7::173 lladdr ${DUMP_POD_MAC} dev ${HV} nud permanent`,
          `route replace fd00:7::173/128 dev ${HV} src fd00:6::123`,
        ],
      },
    ]);
  });
});

describe('rp_filter on the node (A14)', () => {
  const add = async (sysctl: Record<string, string>, extra: object = {}) => {
    const f = fakeKernel(beforeEth0(), { sysctl });
    const out = await run({
      env: env('ADD', 'eth0'),
      stdin: netconf('1.0.0', ETH0_RESULT, extra),
      kernel: f.kernel,
      mac: macs(),
    });
    expect(out.exitCode).toBe(0);
    return f.calls.filter((c) => c.op === 'read' || c.op === 'write' || c.op === 'log');
  };

  it('all.rp_filter 1 (strict) becomes 2 (loose), with a log line', async () => {
    expect(await add({ [`${SYSCTL}/all/rp_filter`]: '1' })).toEqual([
      { op: 'write', path: `${SYSCTL}/${HV}/rp_filter`, value: '0' },
      { op: 'read', path: `${SYSCTL}/all/rp_filter` },
      { op: 'write', path: `${SYSCTL}/all/rp_filter`, value: '2' },
      {
        op: 'log',
        message:
          'net.ipv4.conf.all.rp_filter was 1 (strict), which drops replies of pods with several NICs; set it to 2 (loose)',
      },
    ]);
  });

  it.each(['0', '2'])('all.rp_filter %s is left alone', async (value) => {
    expect(await add({ [`${SYSCTL}/all/rp_filter`]: value })).toEqual([
      { op: 'write', path: `${SYSCTL}/${HV}/rp_filter`, value: '0' },
      { op: 'read', path: `${SYSCTL}/all/rp_filter` },
    ]);
  });

  it('the host link gets the configured value', async () => {
    expect(await add({}, { rp_filter: { value: 2 } })).toEqual([
      { op: 'write', path: `${SYSCTL}/${HV}/rp_filter`, value: '2' },
      { op: 'read', path: `${SYSCTL}/all/rp_filter` },
    ]);
  });

  it('enabled false: nothing on the node is read or written', async () => {
    expect(
      await add({ [`${SYSCTL}/all/rp_filter`]: '1' }, { rp_filter: { enabled: false } }),
    ).toEqual([]);
  });
});

describe('ADD refusals', () => {
  it.each([
    [
      'no prevResult → 7, chained plugin',
      env('ADD', 'eth0'),
      netconf('1.0.0', undefined),
      7,
      'veth must be called as a chained plugin: the netconf has no prevResult (list veth after the interface plugin, e.g. macvlan, in the NAD\'s "plugins")',
    ],
    [
      'no address for IF → 7',
      env('ADD', 'net2'),
      netconf('1.0.0', NET1_RESULT),
      7,
      "prevResult has no address for net2: veth routes the NIC's addresses, so the plugin before it must assign some",
    ],
    [
      'bad service_cidr → 7 naming it',
      env('ADD', 'eth0'),
      netconf('1.0.0', ETH0_RESULT, { service_cidr: ['10.96.0.0'] }),
      7,
      'service_cidr[0]: "10.96.0.0" is not a CIDR: missing "/prefix" (write it like "10.96.0.0/12")',
    ],
    [
      'missing env → 4 naming every variable',
      { ...env('ADD', ''), CNI_NETNS: '' },
      netconf('1.0.0', ETH0_RESULT),
      4,
      'missing environment variables CNI_NETNS, CNI_IFNAME',
    ],
    [
      'CNI_IFNAME with a line break → 4 (it goes into batch lines)',
      env('ADD', 'eth0\nlink del ens192'),
      netconf('1.0.0', ETH0_RESULT),
      4,
      'CNI_IFNAME "eth0\\nlink del ens192" is not an interface name (1–15 letters, digits, "_", "." or "-")',
    ],
    [
      'CNI_IFNAME past 15 characters → 4',
      env('ADD', 'net1234567890123'),
      netconf('1.0.0', ETH0_RESULT),
      4,
      'CNI_IFNAME "net1234567890123" is not an interface name (1–15 letters, digits, "_", "." or "-")',
    ],
    [
      'CNI_CONTAINERID not a name → 4 (HV is named after it)',
      env('ADD', 'eth0', { CNI_CONTAINERID: '../x y' }),
      netconf('1.0.0', ETH0_RESULT),
      4,
      'CNI_CONTAINERID "../x y" is not letters, digits, "_", "." and "-"',
    ],
    [
      'a prevResult address with a line break → 7, before any ip runs',
      env('ADD', 'eth0'),
      netconf('1.0.0', {
        ...ETH0_RESULT,
        ips: [{ interface: 0, address: '10.6.168.172\nlink del ens192\n/16' }],
      }),
      7,
      'prevResult: "10.6.168.172\\nlink del ens192\\n/16" is not an address with its prefix length',
    ],
    [
      'a prevResult gateway of the other family → 7',
      env('ADD', 'eth0'),
      netconf('1.0.0', {
        ...ETH0_RESULT,
        ips: [{ interface: 0, address: '10.6.168.172/16', gateway: 'fd00:6::1' }],
      }),
      7,
      'prevResult: gateway "fd00:6::1" of 10.6.168.172/16 is not an address of its family',
    ],
    [
      'DEL with a CNI_CONTAINERID that is not a name → 4',
      env('DEL', 'eth0', { CNI_CONTAINERID: 'a/b' }),
      netconf('1.0.0', undefined),
      4,
      'CNI_CONTAINERID "a/b" is not letters, digits, "_", "." and "-"',
    ],
    [
      'unknown command → 4',
      env('FSCK', 'eth0'),
      netconf('1.1.0', ETH0_RESULT),
      4,
      'unknown CNI_COMMAND "FSCK" (veth supports ADD, DEL, CHECK, GC, STATUS, VERSION)',
    ],
    [
      'CHECK on 0.3.1 → 1',
      env('CHECK', 'eth0'),
      netconf('0.3.1', ETH0_RESULT),
      1,
      'CHECK is not defined for cniVersion 0.3.1',
    ],
    [
      'CHECK on 0.3.0 → 1',
      env('CHECK', 'eth0'),
      netconf('0.3.0', ETH0_RESULT),
      1,
      'CHECK is not defined for cniVersion 0.3.0',
    ],
  ])('%s, touching no kernel', async (_name, e, stdin, code, msg) => {
    const f = fakeKernel(beforeEth0());
    const out = await run({ env: e, stdin, kernel: f.kernel, mac: macs() });
    expect(out.exitCode).toBe(1);
    expect(json(out.stdout)).toEqual({
      cniVersion: (json(stdin) as { cniVersion: string }).cniVersion,
      code,
      msg,
    });
    expect(f.calls).toEqual([]);
  });

  it('a later NIC not named net<N> → 7 naming net<N>, nothing applied', async () => {
    const f = fakeKernel(afterEth0());
    const out = await run({
      env: env('ADD', 'eth1'),
      stdin: netconf('1.0.0', { ...NET1_RESULT, interfaces: [{ name: 'eth1' }] }),
      kernel: f.kernel,
      mac: macs(),
    });
    expect(json(out.stdout)).toMatchObject({
      code: 7,
      msg: expect.stringContaining(
        "eth1 is not the pod's first NIC chained to veth (veth0 exists) and is not named net<N>",
      ),
    });
    expect(f.calls.filter((c) => c.op === 'apply')).toEqual([]);
  });

  it('a failed pod batch that makes the link keeps its code and message; the node batch waits for it', async () => {
    const f = fakeKernel(beforeEth0(), {
      fail: (where) =>
        where === NETNS
          ? new CNIError(
              11,
              'in the pod: ip link set veth0 up: RTNETLINK answers: Device or resource busy',
            )
          : undefined,
    });
    const out = await run({
      env: env('ADD', 'eth0'),
      stdin: netconf('1.0.0', ETH0_RESULT),
      kernel: f.kernel,
      mac: macs(),
    });
    expect(out).toEqual({
      stdout: `${JSON.stringify({ cniVersion: '1.0.0', code: 11, msg: 'in the pod: ip link set veth0 up: RTNETLINK answers: Device or resource busy' })}\n`,
      exitCode: 1,
    });
    expect(f.calls.filter((c) => c.op === 'apply').map((c) => c.where)).toEqual([NETNS]);
  });

  it('once the link exists, both batches run (in parallel) and a failed one is reported', async () => {
    const f = fakeKernel(afterEth0(), {
      fail: (where) =>
        where === NETNS
          ? new CNIError(
              999,
              'in the pod: ip rule add priority 32765 to 10.7.168.173/16 lookup 100: boom',
            )
          : undefined,
    });
    const out = await run({
      env: env('ADD', 'net1'),
      stdin: netconf('1.0.0', NET1_RESULT),
      kernel: f.kernel,
      mac: macs(),
    });
    expect(json(out.stdout)).toEqual({
      cniVersion: '1.0.0',
      code: 999,
      msg: 'in the pod: ip rule add priority 32765 to 10.7.168.173/16 lookup 100: boom',
    });
    expect(f.calls.filter((c) => c.op === 'apply').map((c) => c.where)).toEqual([NETNS, 'node']);
    expect(f.calls.filter((c) => c.op === 'write')).toEqual([]);
  });

  it('a defect in the kernel port is 999 "veth internal error", never a success', async () => {
    const f = fakeKernel(beforeEth0(), { fail: () => new TypeError('boom') });
    const out = await run({
      env: env('ADD', 'eth0'),
      stdin: netconf('1.0.0', ETH0_RESULT),
      kernel: f.kernel,
      mac: macs(),
    });
    expect(out).toEqual({
      stdout: '{"cniVersion":"1.0.0","code":999,"msg":"veth internal error","details":"boom"}\n',
      exitCode: 1,
    });
  });
});

describe('DEL (D1)', () => {
  const del = async (
    stdin: string,
    fail?: (where: string, lines: readonly string[]) => Error | undefined,
    e: Record<string, string> = env('DEL', 'eth0'),
  ) => {
    const f = fakeKernel({}, fail === undefined ? {} : { fail });
    const out = await run({ env: e, stdin, kernel: f.kernel, mac: macs() });
    return { out, calls: f.calls };
  };

  it('deletes HV and prints nothing', async () => {
    const { out, calls } = await del(netconf('1.0.0', undefined));
    expect(out).toEqual({ stdout: '', exitCode: 0 });
    expect(calls).toEqual([{ op: 'apply', where: 'node', lines: [`link del ${HV}`] }]);
  });

  it('exits 0 when HV is gone already, without a log line', async () => {
    const { out, calls } = await del(
      netconf('0.3.1', ETH0_RESULT),
      () => new CNIError(999, `in the node: ip link del ${HV}: Cannot find device "${HV}"`),
    );
    expect(out).toEqual({ stdout: '', exitCode: 0 });
    expect(calls.filter((c) => c.op === 'log')).toEqual([]);
  });

  it('exits 0 on any other failure too, and says so on stderr', async () => {
    const { out, calls } = await del(
      netconf('1.1.0', undefined),
      () =>
        new CNIError(
          999,
          `in the node: ip link del ${HV}: RTNETLINK answers: Operation not permitted`,
        ),
    );
    expect(out).toEqual({ stdout: '', exitCode: 0 });
    expect(calls.filter((c) => c.op === 'log')).toEqual([
      {
        op: 'log',
        message: `DEL: could not delete ${HV}: in the node: ip link del ${HV}: RTNETLINK answers: Operation not permitted`,
      },
    ]);
  });

  it('never reads service_cidr or prevResult: a bad one still exits 0', async () => {
    const { out } = await del(
      netconf('1.0.0', 'not a result', { service_cidr: 'not a list', rp_filter: 7 }),
    );
    expect(out).toEqual({ stdout: '', exitCode: 0 });
  });

  it('needs only CNI_CONTAINERID (no netns, no IF)', async () => {
    const { out, calls } = await del(netconf('1.0.0', undefined), undefined, {
      CNI_COMMAND: 'DEL',
      CNI_CONTAINERID: CID,
    });
    expect([out.exitCode, calls.length]).toEqual([0, 1]);
    const missing = await del(netconf('1.0.0', undefined), undefined, { CNI_COMMAND: 'DEL' });
    expect(json(missing.out.stdout)).toEqual({
      cniVersion: '1.0.0',
      code: 4,
      msg: 'missing environment variable CNI_CONTAINERID',
    });
  });
});

describe('CHECK (D2)', () => {
  it('after both ADDs: success, with the node routes of HV read per family', async () => {
    const f = fakeKernel(afterNet1());
    const out = await run({
      env: env('CHECK', 'net1'),
      stdin: netconf('0.4.0', NET1_RESULT),
      kernel: f.kernel,
      mac: macs(),
    });
    expect(out).toEqual({ stdout: '', exitCode: 0 });
    expect(f.calls).toEqual([
      { op: 'query', where: 'node', lines: ['link show', 'addr show', 'route get 10.7.168.173'] },
      {
        op: 'query',
        where: NETNS,
        lines: ['link show', 'rule show', 'route show table all'],
        family: 4,
      },
      { op: 'query', where: 'node', lines: [`route show dev ${HV}`], family: 4 },
    ]);
  });

  it('eth0 after both ADDs: success', async () => {
    const out = await run({
      env: env('CHECK', 'eth0'),
      stdin: netconf('1.0.0', ETH0_RESULT),
      kernel: fakeKernel(afterNet1()).kernel,
      mac: macs(),
    });
    expect(out).toEqual({ stdout: '', exitCode: 0 });
  });

  it('a missing rule is named', async () => {
    const answers = afterNet1();
    answers.pod = { ...answers.pod, 'rule show': POD_RULES_BEFORE };
    const out = await run({
      env: env('CHECK', 'net1'),
      stdin: netconf('1.0.0', NET1_RESULT),
      kernel: fakeKernel(answers).kernel,
      mac: macs(),
    });
    expect(out).toEqual({
      stdout: `${JSON.stringify({
        cniVersion: '1.0.0',
        code: 999,
        msg: 'veth CHECK of net1: missing rule priority 32765 to 10.7.168.173/16 lookup 100; rule priority 32764 from 10.7.168.173/32 lookup 100',
      })}\n`,
      exitCode: 1,
    });
  });

  it('no veth0: that is what is missing; the node routes are not read without HV', async () => {
    const f = fakeKernel(beforeEth0());
    const out = await run({
      env: env('CHECK', 'eth0'),
      stdin: netconf('1.1.0', ETH0_RESULT),
      kernel: f.kernel,
      mac: macs(),
    });
    expect(json(out.stdout)).toEqual({
      cniVersion: '1.1.0',
      code: 999,
      msg: 'veth CHECK of eth0: missing veth0 in the pod',
    });
    expect(f.calls.filter((c) => c.op === 'query').length).toBe(2);
  });
});

describe('VERSION and randomMAC', () => {
  it('VERSION lists 0.3.0 … 1.1.0 and touches no kernel', async () => {
    const f = fakeKernel({});
    const out = await run({
      env: { CNI_COMMAND: 'VERSION' },
      stdin: '',
      kernel: f.kernel,
      mac: macs(),
    });
    expect(out).toEqual({
      stdout:
        '{"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n',
      exitCode: 0,
    });
    expect(f.calls).toEqual([]);
  });

  it('randomMAC: locally administered, unicast, the other bits as given', () => {
    expect(randomMAC(Uint8Array.from([0xff, 0x01, 0x02, 0x03, 0x04, 0x05]))).toBe(
      'fe:01:02:03:04:05',
    );
    expect(randomMAC(Uint8Array.from([0x00, 0xab, 0xcd, 0xef, 0x00, 0x10, 0x99]))).toBe(
      '02:ab:cd:ef:00:10',
    );
    expect(randomMAC(Uint8Array.from([0x4b, 0, 0, 0, 0, 0]))).toBe('4a:00:00:00:00:00');
  });
});

// Recorded with iproute2 6.1.0: a node netns like the e2e simulator's (ens192 10.6.168.123/16
// with a default route via 10.6.0.1, ens224 without IPv4, veth peers ens192p/ens224p) and a
// pod netns with macvlan eth0 10.6.168.172/16 and net1 10.7.168.173/16, before and after this
// plugin's ADDs; the `ip` command above each (the pod's with -4, as run.ts asks).
// ip -4 -json link show: the pod after macvlan made eth0 and net1
const POD_LINKS_BEFORE = `[
{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00"},
{"ifindex":6,"link_index":3,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"6e:c4:86:15:3c:c7","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0},
{"ifindex":7,"link_index":5,"ifname":"net1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"ae:50:6f:53:3f:91","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0}]`;
// ip -4 -json link show: the pod after the eth0 ADD (veth0 is new)
const POD_LINKS_AFTER = `[
{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00"},
{"ifindex":2,"link_index":8,"ifname":"veth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"ee:fc:37:49:47:b7","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0},
{"ifindex":6,"link_index":3,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"6e:c4:86:15:3c:c7","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0},
{"ifindex":7,"link_index":5,"ifname":"net1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"ae:50:6f:53:3f:91","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0}]`;
// ip -4 -json rule show: the pod before the net1 ADD
const POD_RULES_BEFORE = `[
{"priority":0,"src":"all","table":"local"},
{"priority":32766,"src":"all","table":"main"},
{"priority":32767,"src":"all","table":"default"}]`;
// ip -4 -json rule show: the pod after the net1 ADD
const POD_RULES_AFTER = `[
{"priority":0,"src":"all","table":"local"},
{"priority":32764,"src":"10.7.168.173","table":"100"},
{"priority":32765,"src":"all","dst":"10.7.168.173","dstlen":16,"table":"100"},
{"priority":32766,"src":"all","table":"main"},
{"priority":32767,"src":"all","table":"default"}]`;
// ip -4 -json route show table all: the pod before the eth0 ADD
const POD_ROUTES_BEFORE = `[
{"dst":"default","gateway":"10.6.0.1","dev":"eth0","flags":[]},
{"dst":"10.6.0.0/16","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"10.6.168.172","flags":[]},
{"dst":"10.7.0.0/16","dev":"net1","protocol":"kernel","scope":"link","prefsrc":"10.7.168.173","flags":[]},
{"type":"local","dst":"10.6.168.172","dev":"eth0","table":"local","protocol":"kernel","scope":"host","prefsrc":"10.6.168.172","flags":[]},
{"type":"broadcast","dst":"10.6.255.255","dev":"eth0","table":"local","protocol":"kernel","scope":"link","prefsrc":"10.6.168.172","flags":[]},
{"type":"local","dst":"10.7.168.173","dev":"net1","table":"local","protocol":"kernel","scope":"host","prefsrc":"10.7.168.173","flags":[]},
{"type":"broadcast","dst":"10.7.255.255","dev":"net1","table":"local","protocol":"kernel","scope":"link","prefsrc":"10.7.168.173","flags":[]},
{"type":"local","dst":"127.0.0.0/8","dev":"lo","table":"local","protocol":"kernel","scope":"host","prefsrc":"127.0.0.1","flags":[]},
{"type":"local","dst":"127.0.0.1","dev":"lo","table":"local","protocol":"kernel","scope":"host","prefsrc":"127.0.0.1","flags":[]},
{"type":"broadcast","dst":"127.255.255.255","dev":"lo","table":"local","protocol":"kernel","scope":"link","prefsrc":"127.0.0.1","flags":[]}]`;
// ip -4 -json route show table all: the pod after the eth0 ADD
const POD_ROUTES_AFTER_ETH0 = `[
{"dst":"default","gateway":"10.6.0.1","dev":"eth0","flags":[]},
{"dst":"10.6.0.0/16","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"10.6.168.172","flags":[]},
{"dst":"10.6.168.123","dev":"veth0","scope":"link","flags":[]},
{"dst":"10.7.0.0/16","dev":"net1","protocol":"kernel","scope":"link","prefsrc":"10.7.168.173","flags":[]},
{"dst":"10.96.0.0/12","gateway":"10.6.168.123","dev":"veth0","flags":[]},
{"type":"local","dst":"10.6.168.172","dev":"eth0","table":"local","protocol":"kernel","scope":"host","prefsrc":"10.6.168.172","flags":[]},
{"type":"broadcast","dst":"10.6.255.255","dev":"eth0","table":"local","protocol":"kernel","scope":"link","prefsrc":"10.6.168.172","flags":[]},
{"type":"local","dst":"10.7.168.173","dev":"net1","table":"local","protocol":"kernel","scope":"host","prefsrc":"10.7.168.173","flags":[]},
{"type":"broadcast","dst":"10.7.255.255","dev":"net1","table":"local","protocol":"kernel","scope":"link","prefsrc":"10.7.168.173","flags":[]},
{"type":"local","dst":"127.0.0.0/8","dev":"lo","table":"local","protocol":"kernel","scope":"host","prefsrc":"127.0.0.1","flags":[]},
{"type":"local","dst":"127.0.0.1","dev":"lo","table":"local","protocol":"kernel","scope":"host","prefsrc":"127.0.0.1","flags":[]},
{"type":"broadcast","dst":"127.255.255.255","dev":"lo","table":"local","protocol":"kernel","scope":"link","prefsrc":"127.0.0.1","flags":[]}]`;
// ip -4 -json route show table all: the pod after the net1 ADD
const POD_ROUTES_AFTER_NET1 = `[
{"dst":"default","gateway":"10.7.0.1","dev":"net1","table":"100","flags":[]},
{"dst":"10.6.168.123","dev":"veth0","table":"100","scope":"link","flags":[]},
{"dst":"10.7.0.0/16","dev":"net1","table":"100","protocol":"kernel","scope":"link","prefsrc":"10.7.168.173","flags":[]},
{"dst":"10.96.0.0/12","gateway":"10.6.168.123","dev":"veth0","table":"100","flags":[]},
{"dst":"default","gateway":"10.6.0.1","dev":"eth0","flags":[]},
{"dst":"10.6.0.0/16","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"10.6.168.172","flags":[]},
{"dst":"10.6.168.123","dev":"veth0","scope":"link","flags":[]},
{"dst":"10.96.0.0/12","gateway":"10.6.168.123","dev":"veth0","flags":[]},
{"type":"local","dst":"10.6.168.172","dev":"eth0","table":"local","protocol":"kernel","scope":"host","prefsrc":"10.6.168.172","flags":[]},
{"type":"broadcast","dst":"10.6.255.255","dev":"eth0","table":"local","protocol":"kernel","scope":"link","prefsrc":"10.6.168.172","flags":[]},
{"type":"local","dst":"10.7.168.173","dev":"net1","table":"local","protocol":"kernel","scope":"host","prefsrc":"10.7.168.173","flags":[]},
{"type":"broadcast","dst":"10.7.255.255","dev":"net1","table":"local","protocol":"kernel","scope":"link","prefsrc":"10.7.168.173","flags":[]},
{"type":"local","dst":"127.0.0.0/8","dev":"lo","table":"local","protocol":"kernel","scope":"host","prefsrc":"127.0.0.1","flags":[]},
{"type":"local","dst":"127.0.0.1","dev":"lo","table":"local","protocol":"kernel","scope":"host","prefsrc":"127.0.0.1","flags":[]},
{"type":"broadcast","dst":"127.255.255.255","dev":"lo","table":"local","protocol":"kernel","scope":"link","prefsrc":"127.0.0.1","flags":[]}]`;
// ip -json link show: the node before the eth0 ADD
const NODE_LINKS_BEFORE = `[
{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00"},
{"ifindex":2,"link":"ens192","ifname":"ens192p","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"42:61:3d:d4:17:ea","broadcast":"ff:ff:ff:ff:ff:ff"},
{"ifindex":3,"link":"ens192p","ifname":"ens192","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"02:66:d2:06:fa:c4","broadcast":"ff:ff:ff:ff:ff:ff"},
{"ifindex":4,"link":"ens224","ifname":"ens224p","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"ce:90:25:9f:80:f8","broadcast":"ff:ff:ff:ff:ff:ff"},
{"ifindex":5,"link":"ens224p","ifname":"ens224","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"c2:76:88:e1:6c:83","broadcast":"ff:ff:ff:ff:ff:ff"}]`;
// ip -json addr show: the node (the ADDs add only HV's link-local address, which A3 skips)
const NODE_ADDRS = `[
{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host","label":"lo","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"::1","prefixlen":128,"scope":"host","valid_life_time":4294967295,"preferred_life_time":4294967295}]},
{"ifindex":2,"link":"ens192","ifname":"ens192p","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"42:61:3d:d4:17:ea","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet6","local":"fe80::4061:3dff:fed4:17ea","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]},
{"ifindex":3,"link":"ens192p","ifname":"ens192","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"02:66:d2:06:fa:c4","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet","local":"10.6.168.123","prefixlen":16,"scope":"global","label":"ens192","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fe80::66:d2ff:fe06:fac4","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]},
{"ifindex":4,"link":"ens224","ifname":"ens224p","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"ce:90:25:9f:80:f8","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet6","local":"fe80::cc90:25ff:fe9f:80f8","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]},
{"ifindex":5,"link":"ens224p","ifname":"ens224","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"c2:76:88:e1:6c:83","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet6","local":"fe80::c076:88ff:fee1:6c83","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]}]`;
// ip -json route get 10.6.168.172: the node before the eth0 ADD
const NODE_ROUTE_GET_ETH0 = `[
{"dst":"10.6.168.172","dev":"ens192","prefsrc":"10.6.168.123","flags":[],"uid":0,"cache":[]}]`;
// ip -json route get 10.7.168.173: the node before the net1 ADD
const NODE_ROUTE_GET_NET1 = `[
{"dst":"10.7.168.173","gateway":"10.6.0.1","dev":"ens192","prefsrc":"10.6.168.123","flags":[],"uid":0,"cache":[]}]`;
// ip -4 -json route show dev veth3f1c9e7b2a4: the node after both ADDs
const NODE_ROUTES_HV = `[
{"dst":"10.6.168.172","scope":"link","prefsrc":"10.6.168.123","flags":[]},
{"dst":"10.7.168.173","scope":"link","prefsrc":"10.6.168.123","flags":[]}]`;
// ip -json link show: the node after the eth0 ADD is NODE_LINKS_BEFORE and this link
const NODE_HOST_LINK = `{"ifindex":8,"link_index":2,"ifname":"veth3f1c9e7b2a4","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"fe:4c:a1:57:94:67","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0,"ifalias":"nicpool:first=eth0"}`;
// ip -json route get 10.6.168.172 and 10.7.168.173: the node after both ADDs
const NODE_ROUTE_GET_ETH0_DONE = `[{"dst":"10.6.168.172","dev":"veth3f1c9e7b2a4","prefsrc":"10.6.168.123","flags":[],"uid":0,"cache":[]}]`;
const NODE_ROUTE_GET_NET1_DONE = `[{"dst":"10.7.168.173","dev":"veth3f1c9e7b2a4","prefsrc":"10.6.168.123","flags":[],"uid":0,"cache":[]}]`;
// ip -json route get fd00:7::173: the dual-stack node (fd00:6::123/64 on ens192, default via fd00:6::1)
const NODE_ROUTE_GET_NET1_V6 = `[{"dst":"fd00:7::173","from":"::","gateway":"fd00:6::1","dev":"ens192","prefsrc":"fd00:6::123","metric":1024,"flags":[],"pref":"medium"}]`;
// ip -6 -json rule show and ip -6 -json route show table all: a dual-stack pod after the eth0 ADD
const POD_RULES_V6 = `[{"priority":0,"src":"all","table":"local"},{"priority":32766,"src":"all","table":"main"}]`;
const POD_ROUTES_V6 = `[
{"dst":"fd00:6::123","dev":"veth0","metric":1024,"flags":[],"pref":"medium"},
{"dst":"fd00:6::/64","dev":"eth0","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},
{"dst":"fd00:7::/64","dev":"net1","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},
{"dst":"fd00:96::/108","gateway":"fd00:6::123","dev":"veth0","metric":1024,"flags":[],"pref":"medium"},
{"dst":"fe80::/64","dev":"eth0","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},
{"dst":"fe80::/64","dev":"net1","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},
{"dst":"fe80::/64","dev":"veth0","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},
{"type":"local","dst":"::1","dev":"lo","table":"local","protocol":"kernel","metric":0,"flags":[],"pref":"medium"},
{"type":"local","dst":"fd00:6::172","dev":"eth0","table":"local","protocol":"kernel","metric":0,"flags":[],"pref":"medium"},
{"type":"local","dst":"fd00:7::173","dev":"net1","table":"local","protocol":"kernel","metric":0,"flags":[],"pref":"medium"},
{"type":"local","dst":"fe80::7061:d4ff:fe25:d31c","dev":"net1","table":"local","protocol":"kernel","metric":0,"flags":[],"pref":"medium"},
{"type":"local","dst":"fe80::b05c:22ff:fe25:b491","dev":"eth0","table":"local","protocol":"kernel","metric":0,"flags":[],"pref":"medium"},
{"type":"multicast","dst":"ff00::/8","dev":"eth0","table":"local","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},
{"type":"multicast","dst":"ff00::/8","dev":"net1","table":"local","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},
{"type":"multicast","dst":"ff00::/8","dev":"veth0","table":"local","protocol":"kernel","metric":256,"flags":[],"pref":"medium"}]`;

describe('GC and STATUS (CNI 1.1)', () => {
  const link = (ifindex: number, ifname: string, ifalias?: string): object => ({
    ifindex,
    ifname,
    address: '02:00:00:00:00:01',
    ...(ifalias === undefined ? {} : { ifalias }),
  });
  const links = JSON.stringify([
    link(1, 'lo'),
    link(2, 'ens192'),
    link(7, HV, 'nicpool:first=eth0'), // CID: still valid
    link(8, 'vethdeadbeef000', 'nicpool:first=eth0'), // gone: deleted
    link(9, 'vethcafe0000000'), // another plugin's veth (no mark): kept
  ]);
  const gcConf = (valid: unknown): string =>
    JSON.stringify({
      cniVersion: '1.1.0',
      name: 'n',
      type: 'veth',
      'cni.dev/valid-attachments': valid,
    });

  it('GC deletes only this plugin’s node ends whose container is not valid', async () => {
    const f = fakeKernel({ node: { 'link show': links } });
    const out = await run({
      env: { CNI_COMMAND: 'GC' },
      stdin: gcConf([{ containerID: CID, ifname: 'eth0' }]),
      kernel: f.kernel,
      mac: macs(),
    });
    expect(out).toEqual({ stdout: '', exitCode: 0 });
    expect(f.calls.filter((c) => c.op === 'apply')).toEqual([
      { op: 'apply', where: 'node', lines: ['link del vethdeadbeef000'] },
    ]);
  });

  it('GC refuses a malformed attachment list whole (code 7 naming the item), deleting nothing', async () => {
    const f = fakeKernel({ node: { 'link show': links } });
    const out = await run({
      env: { CNI_COMMAND: 'GC' },
      stdin: gcConf([{ containerID: CID }, null]),
      kernel: f.kernel,
      mac: macs(),
    });
    expect(out.exitCode).toBe(1);
    expect(JSON.parse(out.stdout)).toMatchObject({
      code: 7,
      msg: 'cni.dev/valid-attachments[1] must be an object with containerID and ifname',
    });
    expect(f.calls).toEqual([]);
  });

  it('GC refuses an item without a containerID (it would keep nothing), deleting nothing', async () => {
    const f = fakeKernel({ node: { 'link show': links } });
    const out = await run({
      env: { CNI_COMMAND: 'GC' },
      stdin: gcConf([{ containerID: CID, ifname: 'eth0' }, { ifname: 'net1' }]),
      kernel: f.kernel,
      mac: macs(),
    });
    expect(JSON.parse(out.stdout)).toMatchObject({
      code: 7,
      msg: 'cni.dev/valid-attachments[1] must have a containerID',
    });
    expect(f.calls).toEqual([]);
  });

  it('STATUS is ready without touching anything (no daemon, no API)', async () => {
    const f = fakeKernel({});
    const out = await run({
      env: { CNI_COMMAND: 'STATUS' },
      stdin: JSON.stringify({ cniVersion: '1.1.0', name: 'n', type: 'veth' }),
      kernel: f.kernel,
      mac: macs(),
    });
    expect(out).toEqual({ stdout: '', exitCode: 0 });
    expect(f.calls).toEqual([]);
  });
});
