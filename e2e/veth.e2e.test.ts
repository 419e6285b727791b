/**
 * nicpool's `veth` chained plugin (veth.md T1–T11) through the real Multus, macvlan and
 * nicpool's IPAM, with the tutorial's manifests unchanged: its multus-conf.yaml (veth on
 * both networks), its IPPools and its IPPool Deployment. The simulated node is the
 * tutorial's (10.6.168.123/16 on ens192, ens224 without IPv4), so every line of the pod's
 * `ip rule` and tables is known; the tutorial's own printed lines are the expectation.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TUTORIAL } from './cluster/control-plane.ts';
import { cluster, eventually, k } from './harness/helpers.ts';
import { expectInvariants } from './harness/invariants.ts';
import { connect, listen } from './harness/tcp.ts';
import { PLUGINS, startStack, type Stack } from '../scripts/stack.ts';

const run = promisify(execFile);
const T = (name: string): string => join(TUTORIAL, name);
const NODE_IP = '10.6.168.123';
const MULTUS_CONF = T('multus-conf.yaml');

type Pod = {
  metadata: { name: string; uid: string; annotations?: Record<string, string> };
  status: { phase?: string };
};

/** Whitespace-normalised lines, as the tutorial's output is compared (veth.md T*). */
const lines = (text: string): string[] =>
  text
    .split('\n')
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .filter((l) => l !== '');

/**
 * The tutorial's printed output of `command` for its first multi-NIC pod (the lines after
 * `~# kubectl exec … -- <command>` up to a blank line or the end of the block).
 */
function tutorialOutput(command: string): string[] {
  const md = readFileSync(T('multi-interfaces-annotation.md'), 'utf8').split('\n');
  const at = md.findIndex((l) => l.startsWith('~# kubectl exec') && l.endsWith(`-- ${command}`));
  if (at < 0) throw new Error(`the tutorial prints no "${command}"`);
  const out: string[] = [];
  for (const l of md.slice(at + 1)) {
    if (l.trim() === '' || l.startsWith('```')) break;
    out.push(l);
  }
  return lines(out.join('\n'));
}

async function pip(netns: string, ...args: string[]): Promise<string> {
  return (await run('ip', ['-n', netns, ...args])).stdout;
}

const env = (over: Record<string, string>): Record<string, string> => ({
  PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
  ...over,
});

describe('veth: the tutorial multus-conf.yaml unchanged, through the real Multus', () => {
  let stack: Stack;
  let node: string;
  let pod: Pod;
  let netns: string;
  let netnsName: string;
  let containerId: string;
  let hostLink: string;
  let eth0: string;
  let net1: string;
  /** The node's rp_filter before the pod: strict `all`, strict ens192. */
  const strict = async (): Promise<void> => {
    for (const f of ['all', 'ens192'])
      await stack.sim.exec('node1', 'sh', [
        '-c',
        `echo 1 > /proc/sys/net/ipv4/conf/${f}/rp_filter`,
      ]);
  };
  const nodeSysctl = async (path: string): Promise<string> =>
    (
      await stack.sim.exec('node1', 'cat', [`/proc/sys/net/ipv4/conf/${path}/rp_filter`])
    ).stdout.trim();
  const veth = (command: string, ifName: string, stdin: string, ns = netns, id = containerId) =>
    stack.sim.exec('node1', PLUGINS.veth, [], {
      input: stdin,
      env: env({
        CNI_COMMAND: command,
        CNI_CONTAINERID: id,
        CNI_NETNS: ns,
        CNI_IFNAME: ifName,
        CNI_PATH: stack.sim.binDir,
      }),
    });
  /** What macvlan printed for the NIC, rebuilt from the pod (the fields veth reads). */
  const prevResult = async (ifName: string, address: string, gateway: string): Promise<object> => {
    const [link] = JSON.parse(await pip(netnsName, '-j', 'link', 'show', ifName)) as {
      address: string;
    }[];
    return {
      cniVersion: '0.3.1',
      interfaces: [{ name: ifName, mac: link!.address, sandbox: netns }],
      ips: [{ version: '4', interface: 0, address, gateway }],
      dns: {},
    };
  };
  const conf = (prev: object): string =>
    JSON.stringify({
      cniVersion: '0.3.1',
      name: 'macvlan-conf-ens224',
      type: 'veth',
      service_cidr: ['10.96.0.0/12'],
      prevResult: prev,
    });

  beforeAll(async () => {
    stack = await startStack(cluster(), () => undefined);
    node = stack.sim.nodeNetns('node1');
    await strict();
    await k(['apply', '-f', MULTUS_CONF, '-f', T('different-segment-ipv4-ippools.yaml')]);
    await k(['apply', '-f', T('ippool-test-deploy.yaml')]);
    pod = await eventually(
      'the ippool-test-app pod Running',
      async () => {
        const items = (
          JSON.parse(await k(['get', 'pods', '-l', 'app=ippool-test-app', '-o', 'json'])) as {
            items: Pod[];
          }
        ).items;
        return items.length === 1 && items[0]!.status.phase === 'Running' ? items[0] : undefined;
      },
      120_000,
    );
    netns = stack.sim.netnsOf(pod.metadata.uid)!;
    netnsName = netns.split('/').pop()!;
    containerId = stack.sim.containerIdOf(pod.metadata.uid)!;
    hostLink = `veth${containerId.slice(0, 11)}`;
    const addr = (nic: string): Promise<string> =>
      pip(netnsName, '-j', '-4', 'addr', 'show', 'dev', nic).then(
        (o) => (JSON.parse(o) as { addr_info: { local: string }[] }[])[0]!.addr_info[0]!.local,
      );
    eth0 = await addr('eth0');
    net1 = await addr('net1');
  }, 240_000);

  afterAll(async () => {
    await k(['delete', '--ignore-not-found', '-f', T('ippool-test-deploy.yaml')]).catch(
      () => undefined,
    );
    await eventually(
      'pods gone',
      async () =>
        (await k(['get', 'pods', '-l', 'app=ippool-test-app', '-o', 'name'])) === ''
          ? true
          : undefined,
      60_000,
    ).catch(() => undefined);
    await k([
      'delete',
      '--ignore-not-found',
      '--timeout=60s',
      '-f',
      T('different-segment-ipv4-ippools.yaml'),
      '-f',
      MULTUS_CONF,
    ]).catch(() => undefined);
    await stack?.stop();
  }, 180_000);

  it('T1: veth0@if<N> in the pod, UP, mtu 1500, no IPv4; eth0 and net1 with their addresses', async () => {
    expect(eth0).toMatch(/^10\.6\.168\.(17[6-9]|180)$/);
    expect(net1).toMatch(/^10\.7\.168\.(17[6-9]|180)$/);
    const [v] = JSON.parse(await pip(netnsName, '-j', 'addr', 'show', 'dev', 'veth0')) as {
      operstate: string;
      mtu: number;
      address: string;
      addr_info: { family: string }[];
    }[];
    expect(v!.operstate).toBe('UP');
    expect(v!.mtu).toBe(1500);
    expect(v!.addr_info.filter((a) => a.family === 'inet')).toEqual([]);
    // A2 (nicpool): a locally administered unicast MAC chosen at creation.
    expect(parseInt(v!.address.slice(0, 2), 16) & 0b11).toBe(0b10);
    expect(await pip(netnsName, '-o', 'link', 'show', 'veth0')).toMatch(/^\d+: veth0@if\d+: /);
  });

  it("T2, T3: ip rule and table 100 are the tutorial's lines for this pod's addresses", async () => {
    const sub = (l: string[]): string[] => l.map((x) => x.replaceAll('10.7.168.173', net1));
    expect(lines(await pip(netnsName, 'rule', 'show'))).toEqual(
      sub(tutorialOutput('ip rule show')),
    );
    expect(lines(await pip(netnsName, 'route', 'show', 'table', '100'))).toEqual(
      sub(tutorialOutput('ip route show table 100')),
    );
    // Exactly veth.md T2/T3, independent of the tutorial's text:
    expect(lines(await pip(netnsName, 'rule', 'show'))).toEqual([
      '0: from all lookup local',
      `32764: from ${net1} lookup 100`,
      `32765: from all to ${net1}/16 lookup 100`,
      '32766: from all lookup main',
      '32767: from all lookup default',
    ]);
  });

  it('T4: the main table: default via eth0, the node and the service CIDR via veth0, nothing of net1', async () => {
    expect(lines(await pip(netnsName, 'route', 'show', 'table', 'main'))).toEqual([
      'default via 10.6.0.1 dev eth0',
      `10.6.0.0/16 dev eth0 proto kernel scope link src ${eth0}`,
      `${NODE_IP} dev veth0 scope link`,
      `10.96.0.0/12 via ${NODE_IP} dev veth0`,
    ]);
    // The tutorial prints the first line of it.
    expect(tutorialOutput('ip r show main')).toEqual(['default via 10.6.0.1 dev eth0']);
  });

  it("T5, T6: neighbours both ways, PERMANENT; the node routes each pod address to the pod's veth", async () => {
    const [h] = JSON.parse(
      (await stack.sim.exec('node1', 'ip', ['-j', 'link', 'show', hostLink])).stdout,
    ) as { address: string }[];
    const [v] = JSON.parse(await pip(netnsName, '-j', 'link', 'show', 'veth0')) as {
      address: string;
    }[];
    expect(lines(await pip(netnsName, 'neigh', 'show', 'dev', 'veth0'))).toEqual([
      `${NODE_IP} lladdr ${h!.address} PERMANENT`,
    ]);
    expect(lines(await pip(node, 'route', 'show', 'dev', hostLink)).sort()).toEqual(
      [eth0, net1].map((a) => `${a} scope link src ${NODE_IP}`).sort(),
    );
    expect(lines(await pip(node, 'neigh', 'show', 'dev', hostLink)).sort()).toEqual(
      [eth0, net1].map((a) => `${a} lladdr ${v!.address} PERMANENT`).sort(),
    );
  });

  it("T7: rp_filter 0 everywhere in the pod; on the node the pod's link 0, strict all → loose, other links untouched", async () => {
    const { stdout } = await run('ip', [
      'netns',
      'exec',
      netnsName,
      'sh',
      '-c',
      'for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo "$f $(cat $f)"; done',
    ]);
    const values = lines(stdout).map((l) => l.split(' '));
    expect(values.map(([f]) => f!.split('/')[6])).toEqual(
      expect.arrayContaining(['all', 'default', 'eth0', 'net1', 'veth0']),
    );
    expect(values.filter(([, v]) => v !== '0')).toEqual([]);
    expect(await nodeSysctl(hostLink)).toBe('0');
    expect(await nodeSysctl('all')).toBe('2');
    expect(await nodeSysctl('ens192')).toBe('1');
  });

  it('T8: ADD prints the result it was given (macvlan’s), in the netconf version, real kernel', async () => {
    const prev = await prevResult('net1', `${net1}/16`, '10.7.0.1');
    const r = await veth('ADD', 'net1', conf(prev));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(prev);
    // Through Multus: net1's entry in the pod's network-status is macvlan's NIC, unchanged.
    const live = JSON.parse(await k(['get', 'pod', pod.metadata.name, '-o', 'json'])) as Pod;
    const status = JSON.parse(
      live.metadata.annotations?.['k8s.v1.cni.cncf.io/network-status'] ?? '[]',
    ) as { interface?: string; ips?: string[]; mac?: string }[];
    const [link] = JSON.parse(await pip(netnsName, '-j', 'link', 'show', 'net1')) as {
      address: string;
    }[];
    expect(status.find((s) => s.interface === 'net1')).toMatchObject({
      ips: [net1],
      mac: link!.address,
    });
  });

  it('T9: TCP pod → node, pod → a service-CIDR address the node owns (from eth0 and net1), node → pod, gateway side → net1', async () => {
    const service = '10.96.0.10';
    const gw = 'nicpool-vgw7';
    const closers: (() => Promise<unknown>)[] = [];
    try {
      // kube-proxy's IPVS mode holds ClusterIPs on a node link; here node1's lo holds one.
      await pip(node, 'addr', 'replace', `${service}/32`, 'dev', 'lo');
      closers.push(() => pip(node, 'addr', 'del', `${service}/32`, 'dev', 'lo'));
      const onNode = await listen(node, '0.0.0.0', 18080);
      closers.push(() => onNode.close());
      const toNode = await connect(netnsName, NODE_IP, 18080);
      expect(toNode.server.remote).toBe(eth0);
      for (const from of [eth0, net1]) {
        const c = await connect(netnsName, service, 18080, from);
        expect(c.server).toEqual({ remote: from, local: service });
        expect(await pip(netnsName, 'route', 'get', service, 'from', from)).toContain(
          `via ${NODE_IP} dev veth0`,
        );
      }
      const inPod = await listen(netnsName, '0.0.0.0', 18081);
      closers.push(() => inPod.close());
      for (const to of [eth0, net1]) {
        const c = await connect(node, to, 18081);
        expect(c.server.local).toBe(to);
      }
      // The gateway side of net1: a macvlan on the node's ens224 (bridge mode, the pod's
      // net1's peer on that wire) in a netns of its own holding 10.7.0.1, routes 10.7/16 only.
      await run('ip', ['netns', 'add', gw]);
      closers.push(() => run('ip', ['netns', 'del', gw]));
      await pip(node, 'link', 'add', 'gw7', 'link', 'ens224', 'type', 'macvlan', 'mode', 'bridge');
      await pip(node, 'link', 'set', 'gw7', 'netns', gw);
      await pip(gw, 'addr', 'add', '10.7.0.1/16', 'dev', 'gw7');
      await pip(gw, 'link', 'set', 'gw7', 'up');
      const fromGateway = await connect(gw, net1, 18081);
      expect(fromGateway.server).toEqual({ remote: '10.7.0.1', local: net1 });
      // The reply left through net1: the gateway side has no other way back.
      expect(await pip(netnsName, 'route', 'get', '10.7.0.1', 'from', net1)).toContain('dev net1');
    } finally {
      for (const c of closers.reverse()) await c().catch(() => undefined);
    }
  });

  it('T10: both ADDs repeated with the same arguments: exit 0, nothing added twice', async () => {
    const snapshot = async (): Promise<string[]> => [
      ...lines(await pip(netnsName, 'rule', 'show')),
      // The local table changes by itself (an IPv6 link-local address leaving DAD).
      ...lines(await pip(netnsName, 'route', 'show', 'table', 'all')).filter(
        (l) => !l.includes(' table local '),
      ),
      ...lines(await pip(netnsName, 'neigh', 'show', 'dev', 'veth0')),
      ...lines(await pip(node, 'route', 'show', 'dev', hostLink)),
      ...lines(await pip(node, 'neigh', 'show', 'dev', hostLink)),
      ...lines(await pip(netnsName, '-o', 'link', 'show')).map((l) => l.split(' ')[1]!),
    ];
    const before = await snapshot();
    for (const [nic, address, gateway] of [
      ['eth0', `${eth0}/16`, '10.6.0.1'],
      ['net1', `${net1}/16`, '10.7.0.1'],
    ] as const) {
      const r = await veth('ADD', nic, conf(await prevResult(nic, address, gateway)));
      expect({ nic, code: r.code, stdout: r.code === 0 ? '' : r.stdout }).toEqual({
        nic,
        code: 0,
        stdout: '',
      });
    }
    expect(await snapshot()).toEqual(before);
    // CHECK finds everything in place.
    const check = await veth(
      'CHECK',
      'net1',
      JSON.stringify({
        ...JSON.parse(conf({})),
        cniVersion: '1.0.0',
        prevResult: await prevResult('net1', `${net1}/16`, '10.7.0.1'),
      }),
    );
    expect(check).toMatchObject({ code: 0, stdout: '' });
  });

  it('T11: DEL of a missing netns, a missing link, without prevResult: exit 0; pod deletion leaves nothing on the node', async () => {
    const bare = JSON.stringify({ cniVersion: '0.3.1', name: 'macvlan-conf-ens224', type: 'veth' });
    expect(
      await veth('DEL', 'net1', bare, '/var/run/netns/nicpool-no-such', 'nosuchcontainer0'),
    ).toMatchObject({
      code: 0,
      stdout: '',
    });
    await k(['delete', '-f', T('ippool-test-deploy.yaml')]);
    await eventually(
      'the pod gone',
      async () =>
        (await k(['get', 'pods', '-l', 'app=ippool-test-app', '-o', 'name'])) === ''
          ? true
          : undefined,
      60_000,
    );
    expect(await pip(node, '-o', 'link', 'show', 'type', 'veth')).not.toContain(hostLink);
    expect(lines(await pip(node, 'route', 'show'))).toEqual([
      'default via 10.6.0.1 dev ens192',
      `10.6.0.0/16 dev ens192 proto kernel scope link src ${NODE_IP}`,
    ]);
    expect(lines(await pip(node, 'neigh', 'show', 'nud', 'permanent'))).toEqual([]);
    // Its DEL again, now that the link is gone too.
    expect(await veth('DEL', 'eth0', bare, netns)).toMatchObject({ code: 0, stdout: '' });
    await expectInvariants(undefined, { allowSettling: true, settleMs: 10_000 });
  }, 120_000);

  /** A bare pod on the tutorial's NADs with the given networks and per-NIC pools. */
  const bare = (name: string, networks: string, pools: object[]): object => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      labels: { app: 'veth-e2e' },
      annotations: {
        'k8s.v1.cni.cncf.io/networks': networks,
        'ipam.spidernet.io/ippools': JSON.stringify(pools),
      },
    },
    // No grace: a pod whose ADD never succeeded gets no CNI DEL when deleted (it has no
    // sandbox), so the controller's GC releases its addresses, after the pod's grace.
    spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: 'busybox' }] },
  });
  const pool = (name: string, subnet: string, ips: string[], gateway: string): object => ({
    apiVersion: 'spiderpool.spidernet.io/v2beta1',
    kind: 'SpiderIPPool',
    metadata: { name },
    spec: { subnet, ips, gateway },
  });
  const runningPod = (name: string): Promise<Pod> =>
    eventually(
      `pod ${name} Running`,
      async () => {
        const p = JSON.parse(await k(['get', 'pod', name, '-o', 'json'])) as Pod;
        return p.status.phase === 'Running' ? p : undefined;
      },
      90_000,
      () => stack.sim.failures.get(`default/${name}`) ?? 'no CNI failure recorded',
    );
  const addressOf = async (ns: string, nic: string, family: 4 | 6): Promise<string> => {
    const [l] = JSON.parse(await pip(ns, '-j', `-${family}`, 'addr', 'show', 'dev', nic)) as {
      addr_info: { local: string; scope: string }[];
    }[];
    return l!.addr_info.find((a) => a.scope === 'global')!.local;
  };
  const deletePods = async (): Promise<void> => {
    await k(['delete', 'pods', '-l', 'app=veth-e2e', '--ignore-not-found', '--wait=false']);
    await eventually(
      'veth-e2e pods gone',
      async () =>
        (await k(['get', 'pods', '-l', 'app=veth-e2e', '-o', 'name'])) === '' ? true : undefined,
      60_000,
    );
  };

  it('three NICs: net2 gets table 101 and rules 32763/32762, beside net1’s 100 and 32765/32764', async () => {
    await k(
      ['apply', '-f', '-'],
      JSON.stringify(pool('veth-e2e-net2', '10.9.0.0/16', ['10.9.168.10-10.9.168.12'], '10.9.0.1')),
    );
    try {
      await k(
        ['apply', '-f', '-'],
        JSON.stringify(
          bare(
            'veth-three-nics',
            'kube-system/macvlan-conf-ens224, kube-system/macvlan-conf-ens224',
            [
              { interface: 'eth0', ipv4: ['ippool-test-ens192'] },
              { interface: 'net1', ipv4: ['ippool-test-ens224'] },
              { interface: 'net2', ipv4: ['veth-e2e-net2'] },
            ],
          ),
        ),
      );
      const p = await runningPod('veth-three-nics');
      const ns = stack.sim.netnsOf(p.metadata.uid)!.split('/').pop()!;
      const [a1, a2] = [await addressOf(ns, 'net1', 4), await addressOf(ns, 'net2', 4)];
      expect(lines(await pip(ns, 'rule', 'show'))).toEqual([
        '0: from all lookup local',
        `32762: from ${a2} lookup 101`,
        `32763: from all to ${a2}/16 lookup 101`,
        `32764: from ${a1} lookup 100`,
        `32765: from all to ${a1}/16 lookup 100`,
        '32766: from all lookup main',
        '32767: from all lookup default',
      ]);
      expect(lines(await pip(ns, 'route', 'show', 'table', '101'))).toEqual([
        'default via 10.9.0.1 dev net2',
        `${NODE_IP} dev veth0 scope link`,
        `10.9.0.0/16 dev net2 proto kernel scope link src ${a2}`,
        `10.96.0.0/12 via ${NODE_IP} dev veth0`,
      ]);
      expect(lines(await pip(ns, 'route', 'show', 'table', '100'))).toEqual([
        'default via 10.7.0.1 dev net1',
        `${NODE_IP} dev veth0 scope link`,
        `10.7.0.0/16 dev net1 proto kernel scope link src ${a1}`,
        `10.96.0.0/12 via ${NODE_IP} dev veth0`,
      ]);
      // Nothing listens on the node's port 22: a refusal proves the SYN from net2's address
      // got there and the reset came back, through veth0 (table 101).
      const refused = await connect(ns, NODE_IP, 22, a2).then(
        () => 'connected',
        (e: Error) => e.message,
      );
      expect(refused).toMatch(/ECONNREFUSED/);
    } finally {
      await deletePods();
      await k(['delete', 'spiderippool', 'veth-e2e-net2', '--ignore-not-found', '--timeout=60s']);
    }
  }, 180_000);

  it('A15: dual stack on net1 — v6 rules and table 100 routes, the node routes the v6 address too', async () => {
    await k(
      ['apply', '-f', '-'],
      JSON.stringify(
        pool('veth-e2e-net1-v6', 'fd00:7::/64', ['fd00:7::10-fd00:7::12'], 'fd00:7::1'),
      ),
    );
    try {
      await k(
        ['apply', '-f', '-'],
        JSON.stringify(
          bare('veth-dual-net1', 'kube-system/macvlan-conf-ens224', [
            { interface: 'eth0', ipv4: ['ippool-test-ens192'] },
            { interface: 'net1', ipv4: ['ippool-test-ens224'], ipv6: ['veth-e2e-net1-v6'] },
          ]),
        ),
      );
      const p = await runningPod('veth-dual-net1');
      const ns = stack.sim.netnsOf(p.metadata.uid)!.split('/').pop()!;
      const v4 = await addressOf(ns, 'net1', 4);
      const v6 = await addressOf(ns, 'net1', 6);
      expect(v6).toMatch(/^fd00:7::1[0-2]$/);
      expect(lines(await pip(ns, '-6', 'rule', 'show'))).toEqual([
        '0: from all lookup local',
        `32764: from ${v6} lookup 100`,
        `32765: from all to ${v6}/64 lookup 100`,
        '32766: from all lookup main',
      ]);
      expect(lines(await pip(ns, 'rule', 'show'))).toContain(`32764: from ${v4} lookup 100`);
      const t6 = lines(await pip(ns, '-6', 'route', 'show', 'table', '100'));
      expect(t6).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^fd00:7::\/64 dev net1 proto kernel metric 256/),
          expect.stringMatching(/^default via fd00:7::1 dev net1/),
        ]),
      );
      expect(
        lines(await pip(ns, '-6', 'route', 'show', 'table', 'main')).filter(
          (l) => l.includes('net1') && !l.startsWith('fe80'),
        ),
      ).toEqual([]);
      const { stdout } = await run('ip', [
        'netns',
        'exec',
        ns,
        'cat',
        '/proc/sys/net/ipv6/conf/all/disable_ipv6',
      ]);
      expect(stdout.trim()).toBe('0');
      const cid = stack.sim.containerIdOf(p.metadata.uid)!;
      expect(
        lines(await pip(node, '-6', 'route', 'show', 'dev', `veth${cid.slice(0, 11)}`)),
      ).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^${v6} `))]));
    } finally {
      await deletePods();
      await k([
        'delete',
        'spiderippool',
        'veth-e2e-net1-v6',
        '--ignore-not-found',
        '--timeout=60s',
      ]);
    }
  }, 180_000);

  it('a bad netconf (service_cidr not a CIDR): CNI code 7 naming the field; the pod’s event shows it; nothing leaks', async () => {
    const badConf = JSON.stringify({ ...JSON.parse(conf({})), service_cidr: ['10.96.0.0'] });
    const direct = await veth(
      'ADD',
      'net1',
      JSON.stringify({ ...JSON.parse(badConf), prevResult: {} }),
      '/var/run/netns/nicpool-no-such',
      'nosuchcontainer0',
    );
    expect(direct.code).not.toBe(0);
    expect(JSON.parse(direct.stdout)).toMatchObject({
      code: 7,
      msg: expect.stringContaining('service_cidr[0]: "10.96.0.0" is not a CIDR'),
    });
    const nad = {
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name: 'veth-e2e-bad', namespace: 'kube-system' },
      spec: {
        config: JSON.stringify({
          cniVersion: '0.3.1',
          name: 'veth-e2e-bad',
          plugins: [
            { type: 'macvlan', master: 'ens224', mode: 'bridge', ipam: { type: 'spiderpool' } },
            { type: 'veth', service_cidr: ['10.96.0.0'] },
          ],
        }),
      },
    };
    await k(['apply', '-f', '-'], JSON.stringify(nad));
    try {
      await k(
        ['apply', '-f', '-'],
        JSON.stringify(
          bare('veth-bad-conf', 'kube-system/veth-e2e-bad', [
            { interface: 'eth0', ipv4: ['ippool-test-ens192'] },
            { interface: 'net1', ipv4: ['ippool-test-ens224'] },
          ]),
        ),
      );
      const uid = (JSON.parse(await k(['get', 'pod', 'veth-bad-conf', '-o', 'json'])) as Pod)
        .metadata.uid;
      // This pod's own event: events of an earlier pod of the same name outlive it.
      const event = await eventually(
        'a FailedCreatePodSandBox event',
        async () => {
          const out = await k([
            'get',
            'events',
            '-n',
            'default',
            '--field-selector',
            `involvedObject.uid=${uid},reason=FailedCreatePodSandBox`,
            '-o',
            'jsonpath={.items[*].message}',
          ]);
          return out.includes('service_cidr') ? out : undefined;
        },
        60_000,
      );
      expect(event).toContain('service_cidr[0]: "10.96.0.0" is not a CIDR');
      expect(
        (JSON.parse(await k(['get', 'pod', 'veth-bad-conf', '-o', 'json'])) as Pod).status.phase,
      ).not.toBe('Running');
      const described = await k(['describe', 'pod', 'veth-bad-conf']);
      expect(described.replace(/\s+/g, ' ')).toContain('service_cidr[0]');
    } finally {
      await deletePods();
      await k(['delete', '-f', '-', '--ignore-not-found'], JSON.stringify(nad));
    }
    // The failed ADDs were torn down: no address held, no link left on the node.
    await expectInvariants(undefined, { allowSettling: false, settleMs: 30_000 });
    expect(
      lines(await pip(node, '-o', 'link', 'show', 'type', 'veth')).filter((l) =>
        / veth[0-9a-z]+@/.test(l),
      ),
    ).toEqual([]);
  }, 180_000);
});
