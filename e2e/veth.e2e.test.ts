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
      ...lines(await pip(netnsName, 'route', 'show', 'table', 'all')),
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
});
