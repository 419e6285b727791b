/**
 * The CNI shim as Multus and the plugins exec it: the single-executable build
 * (apps/cni-shim/dist/spiderpool), the real allocator, the real API server, Debian's
 * macvlan and sbr, and the real Multus thin plugin on the tutorial's manifests.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { SpiderIPPool } from '@nicpool/crds';
import { freePort, REPO, TUTORIAL } from './cluster/control-plane.ts';
import { AllocatorProcess } from './harness/allocator.ts';
import {
  cluster,
  createNamespace,
  ensureNodes,
  eventually,
  inNetns,
  k,
  netnsList,
  uniqueName,
} from './harness/helpers.ts';
import { NodeSimulator } from './sim/node-simulator.ts';
import { expectInvariants } from './harness/invariants.ts';

const run = promisify(execFile);
const SHIM = join(REPO, 'apps', 'cni-shim', 'dist', 'spiderpool');
const SHIM_NODE = 'shim-node';

async function pool(name: string): Promise<SpiderIPPool> {
  return JSON.parse(await k(['get', 'spiderippool', name, '-o', 'json'])) as SpiderIPPool;
}

describe('shim: Debian macvlan with "ipam": {"type": "spiderpool"}', () => {
  const ns = uniqueName('shim');
  const poolName = uniqueName('shim-pool');
  const netns = `nicpool-${uniqueName('shim')}`;
  let alloc: AllocatorProcess;
  let binDir: string;
  let sim: NodeSimulator;

  beforeAll(async () => {
    // The simulator provides a node (its netns holds the host NIC "ens192") and a CNI bin dir;
    // it runs no pods here (the pod is bound to node1, and it schedules nothing).
    sim = new NodeSimulator({
      cluster: cluster(),
      nodes: [SHIM_NODE],
      hostNics: ['ens192'],
      clusterNetwork: 'unused',
      extraPlugins: { spiderpool: SHIM },
      schedule: false,
    });
    await sim.start();
    binDir = sim.binDir;
    await ensureNodes('node1');
    await createNamespace(ns);
    await k(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'spiderpool.spidernet.io/v2beta1',
        kind: 'SpiderIPPool',
        metadata: { name: poolName },
        spec: { subnet: '10.26.0.0/16', ips: ['10.26.1.10-10.26.1.19'], gateway: '10.26.0.1' },
      }),
    );
    await k(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'solo',
          namespace: ns,
          annotations: { 'ipam.spidernet.io/ippool': JSON.stringify({ ipv4: [poolName] }) },
        },
        spec: { nodeName: 'node1', containers: [{ name: 'c', image: 'busybox' }] },
      }),
    );
    alloc = new AllocatorProcess(cluster(), 'node1', await freePort());
    await alloc.start();
    await run('ip', ['netns', 'add', netns]);
  }, 120_000);

  afterAll(async () => {
    await run('ip', ['netns', 'delete', netns]).catch(() => undefined);
    await alloc.stop();
    alloc.cleanup();
    await k(['delete', 'pods', '--all', '-n', ns, '--grace-period=0', '--force']).catch(
      () => undefined,
    );
    await k(['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
    await k(['delete', 'spiderippool', poolName, '--ignore-not-found']);
    await sim.stop();
  }, 120_000);

  it('ADD gives the pod an address from the pool through macvlan; DEL frees it', async () => {
    const uid = (
      await k(['get', 'pod', 'solo', '-n', ns, '-o', 'jsonpath={.metadata.uid}'])
    ).trim();
    const netconf = JSON.stringify({
      cniVersion: '1.0.0',
      name: 'macvlan-test',
      type: 'macvlan',
      master: 'ens192',
      mode: 'bridge',
      ipam: { type: 'spiderpool', ipam_unix_socket_path: alloc.socket },
    });
    const env = (cmd: string): Record<string, string> => ({
      PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: cmd,
      CNI_CONTAINERID: 'solo-sandbox',
      CNI_NETNS: `/var/run/netns/${netns}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: binDir,
      CNI_ARGS: `IgnoreUnknown=true;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=solo;K8S_POD_UID=${uid}`,
    });
    // In the node, where its ens192 is, as a runtime runs it.
    const macvlan = (cmd: string, input: string) =>
      sim.exec(SHIM_NODE, join(binDir, 'macvlan'), [], { input, env: env(cmd) });
    const add = await macvlan('ADD', netconf);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    const result = JSON.parse(add.stdout) as { ips: { address: string; gateway: string }[] };
    expect(result.ips).toEqual([
      expect.objectContaining({ address: '10.26.1.10/16', gateway: '10.26.0.1' }),
    ]);
    expect(
      await inNetns(`/var/run/netns/${netns}`, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'),
    ).toContain('inet 10.26.1.10/16');
    expect(await inNetns(`/var/run/netns/${netns}`, 'ip', 'route', 'show', 'default')).toContain(
      'default via 10.26.0.1 dev eth0',
    );
    expect((await pool(poolName)).status?.allocatedIPCount).toBe(1);

    const check = await macvlan(
      'CHECK',
      JSON.stringify({ ...JSON.parse(netconf), prevResult: result }),
    );
    expect({ code: check.code, out: check.stdout }).toEqual({ code: 0, out: '' });

    await k(['delete', 'pod', 'solo', '-n', ns, '--grace-period=0', '--force']);
    const del = await macvlan('DEL', netconf);
    expect({ code: del.code, out: del.stdout }).toEqual({ code: 0, out: '' });
    expect((await pool(poolName)).status?.allocatedIPCount).toBe(0);
    // DEL again: nothing recorded, still success.
    expect((await macvlan('DEL', netconf)).code).toBe(0);
  }, 60_000);
});

describe('shim: the tutorial through the real Multus thin plugin (ippools for eth0 and net1, sbr on net1)', () => {
  let alloc: AllocatorProcess;
  let sim: NodeSimulator;

  beforeAll(async () => {
    // The tutorial's NADs name no socket: node1 mounts this allocator's socket at the default path.
    alloc = new AllocatorProcess(cluster(), 'node1', await freePort());
    await alloc.start();
    sim = new NodeSimulator({
      cluster: cluster(),
      nodes: ['node1'],
      hostNics: ['ens192', 'ens224'],
      clusterNetwork: 'macvlan-conf-ens192',
      extraPlugins: { spiderpool: SHIM },
      allocators: { node1: alloc.socket },
    });
    await sim.start();
    const nad = (name: string, master: string, sbr: boolean): object => ({
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name, namespace: 'kube-system' },
      spec: {
        config: JSON.stringify({
          cniVersion: '0.3.1',
          name,
          plugins: [
            { type: 'macvlan', master, mode: 'bridge', ipam: { type: 'spiderpool' } },
            ...(sbr ? [{ type: 'sbr' }] : []),
          ],
        }),
      },
    });
    await k(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          nad('macvlan-conf-ens192', 'ens192', false),
          nad('macvlan-conf-ens224', 'ens224', true),
        ],
      }),
    );
    await k(['apply', '-f', join(TUTORIAL, 'different-segment-ipv4-ippools.yaml')]);
  }, 120_000);

  afterAll(async () => {
    await k([
      'delete',
      '--ignore-not-found',
      '-f',
      join(TUTORIAL, 'ippool-test-deploy.yaml'),
    ]).catch(() => undefined);
    await eventually(
      'tutorial pods gone',
      async () =>
        (await k(['get', 'pods', '-l', 'app=ippool-test-app', '-o', 'name'])) === ''
          ? true
          : undefined,
      60_000,
    ).catch(() => undefined);
    await sim.stop();
    await alloc.stop();
    alloc.cleanup();
    await k([
      'delete',
      '--ignore-not-found',
      '-f',
      join(TUTORIAL, 'different-segment-ipv4-ippools.yaml'),
    ]);
    await k([
      'delete',
      'network-attachment-definitions',
      '-n',
      'kube-system',
      'macvlan-conf-ens192',
      'macvlan-conf-ens224',
      '--ignore-not-found',
    ]);
  }, 120_000);

  it('one address per NIC from the right pool; default route via eth0; sbr table 100 for net1; delete frees all', async () => {
    await k(['apply', '-f', join(TUTORIAL, 'ippool-test-deploy.yaml')]);
    type Pod = {
      metadata: { uid: string; name: string };
      status: { phase?: string; podIP?: string };
    };
    const pods = await eventually(
      'the tutorial pod Running',
      async () => {
        const items = (
          JSON.parse(await k(['get', 'pods', '-l', 'app=ippool-test-app', '-o', 'json'])) as {
            items: Pod[];
          }
        ).items;
        return items.length === 1 && items[0]!.status.phase === 'Running' ? items : undefined;
      },
      90_000,
      () =>
        `CNI failures: ${JSON.stringify([...sim.failures])}; multus log: ${readFileSync(join(sim.dir, 'multus.log'), 'utf8').slice(-1500)}`,
    );
    const pod = pods[0]!;
    const netns = sim.netnsOf(pod.metadata.uid)!;
    const eth0 = await inNetns(netns, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0');
    const net1 = await inNetns(netns, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'net1');
    const a0 = /inet (10\.6\.168\.(17[6-9]|180))\/16/.exec(eth0)?.[1];
    const a1 = /inet (10\.7\.168\.(17[6-9]|180))\/16/.exec(net1)?.[1];
    expect(a0).toBeDefined();
    expect(a1).toBeDefined();
    expect(pod.status.podIP).toBe(a0);
    expect(
      (await inNetns(netns, 'ip', '-4', 'route', 'show', 'table', 'main'))
        .split('\n')
        .filter((l) => l.startsWith('default')),
    ).toEqual(['default via 10.6.0.1 dev eth0 ']);
    expect(await inNetns(netns, 'ip', '-4', 'rule', 'show')).toMatch(
      new RegExp(`from ${a1!.replace(/\./g, '\\.')} lookup 100`),
    );
    expect(await inNetns(netns, 'ip', '-4', 'route', 'show', 'table', '100')).toContain(
      'default via 10.7.0.1 dev net1',
    );
    expect((await pool('ippool-test-ens192')).status).toMatchObject({
      allocatedIPCount: 1,
      totalIPCount: 5,
    });
    expect((await pool('ippool-test-ens224')).status).toMatchObject({
      allocatedIPCount: 1,
      totalIPCount: 5,
    });
    // kubectl shows what the tutorial shows: ALLOCATED-IP-COUNT 1, TOTAL-IP-COUNT 5.
    const rows = (
      await k(['get', 'spiderippool', 'ippool-test-ens192', 'ippool-test-ens224', '--no-headers'])
    )
      .trim()
      .split('\n');
    expect(rows.map((l) => /\s(\d+)\s+(\d+)\s+false\s+false$/.exec(l)?.slice(1))).toEqual([
      ['1', '5'],
      ['1', '5'],
    ]);

    await k(['delete', '-f', join(TUTORIAL, 'ippool-test-deploy.yaml')]);
    await eventually(
      'pods gone',
      async () =>
        (await k(['get', 'pods', '-l', 'app=ippool-test-app', '-o', 'name'])) === ''
          ? true
          : undefined,
      60_000,
    );
    expect((await pool('ippool-test-ens192')).status?.allocatedIPCount).toBe(0);
    expect((await pool('ippool-test-ens224')).status?.allocatedIPCount).toBe(0);
    expect((await netnsList()).filter((n) => n === netns.split('/').pop())).toEqual([]);
    expect(
      sim.log
        .filter((l) => l.result.code !== 0)
        .map((l) => `${l.command} ${l.pod}: ${l.result.stdout}`),
    ).toEqual([]);
  }, 180_000);
});

// Issue #12: the suite leaves the cluster's pools, endpoints and pods consistent (a root
// afterAll runs after every describe's own cleanup).
afterAll(() => expectInvariants(), 60_000);
