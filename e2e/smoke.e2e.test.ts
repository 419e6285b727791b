/**
 * Smoke e2e: the real control plane, the real Multus thin plugin and Debian's CNI plugins,
 * driven by the node simulator. Proves the test infrastructure before nicpool runs on it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { API_VERSION, type SpiderIPPool } from '@nicpool/crds';
import {
  ClusterObjects,
  createKubeClients,
  isConflict,
  loadKubeConfig,
  Plural,
} from '@nicpool/kube';
import { NETNS_PREFIX, TUTORIAL } from './cluster/control-plane.ts';
import { NodeSimulator } from './sim/node-simulator.ts';
import {
  cluster,
  createNamespace,
  eventually,
  inNetns,
  k,
  netnsList,
  uniqueName,
} from './harness/helpers.ts';
import { expectInvariants } from './harness/invariants.ts';

const run = promisify(execFile);

describe('smoke: real control plane', () => {
  const pools = (): ClusterObjects<SpiderIPPool> =>
    new ClusterObjects<SpiderIPPool>(
      createKubeClients(loadKubeConfig({ kind: 'file', path: cluster().kubeconfig })).custom,
      Plural.ippool,
    );

  afterAll(async () => {
    await k([
      'delete',
      '--ignore-not-found',
      '-f',
      join(TUTORIAL, 'different-segment-ipv4-ippools.yaml'),
    ]);
  });

  it('kubectl get spiderippool prints the seed column header', async () => {
    await k(['apply', '-f', join(TUTORIAL, 'different-segment-ipv4-ippools.yaml')]);
    const out = await k(['get', 'spiderippool']);
    const [header, ...rows] = out.trim().split('\n');
    expect(header?.split(/\s+/)).toEqual([
      'NAME',
      'VERSION',
      'SUBNET',
      'ALLOCATED-IP-COUNT',
      'TOTAL-IP-COUNT',
      'DEFAULT',
      'DISABLE',
    ]);
    expect(rows.map((r) => r.split(/\s+/)[0])).toEqual(
      expect.arrayContaining(['ippool-test-ens192', 'ippool-test-ens224']),
    );
  });

  it('a status write with a stale resourceVersion gets 409 through the adapter', async () => {
    const api = pools();
    const name = uniqueName('smoke-409');
    await api.create({
      apiVersion: API_VERSION,
      kind: 'SpiderIPPool',
      metadata: { name },
      spec: { subnet: '10.6.0.0/16', ips: ['10.6.1.1-10.6.1.9'] },
    });
    try {
      const first = await api.get(name);
      const written = await api.replaceStatus({
        ...first,
        status: { allocatedIPCount: 0, totalIPCount: 9 },
      });
      expect(written.metadata.resourceVersion).not.toBe(first.metadata.resourceVersion);
      // `first` still carries the old resourceVersion: optimistic locking must refuse it.
      const stale = await api
        .replaceStatus({ ...first, status: { allocatedIPCount: 1, totalIPCount: 9 } })
        .then(
          () => 'written',
          (e: unknown) => e,
        );
      expect(isConflict(stale)).toBe(true);
      expect((await api.get(name)).status).toEqual({ allocatedIPCount: 0, totalIPCount: 9 });
    } finally {
      await api.delete(name);
    }
  });
});

describe('smoke: Deployment → pods with two NICs through the real Multus', () => {
  let sim: NodeSimulator;
  const ns = uniqueName('smoke');

  beforeAll(async () => {
    sim = new NodeSimulator({
      cluster: cluster(),
      nodes: ['node1', 'node2'],
      hostNics: ['ens192', 'ens224'],
      clusterNetwork: 'smoke-cluster-net',
    });
    await sim.start();
    await createNamespace(ns);
    // eth0: the cluster network (host-local IPAM); net1: Debian's static IPAM for now.
    const nad = (name: string, namespace: string, config: object): string =>
      JSON.stringify({
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: { name, namespace },
        spec: { config: JSON.stringify(config) },
      });
    await k(
      ['apply', '-f', '-'],
      nad('smoke-cluster-net', 'kube-system', {
        cniVersion: '0.3.1',
        name: 'smoke-cluster-net',
        type: 'macvlan',
        master: 'ens192',
        mode: 'bridge',
        ipam: {
          type: 'host-local',
          ranges: [
            [
              {
                subnet: '10.6.0.0/16',
                rangeStart: '10.6.200.10',
                rangeEnd: '10.6.200.50',
                gateway: '10.6.0.1',
              },
            ],
          ],
          dataDir: join(sim.dir, 'host-local'),
        },
      }),
    );
    await k(
      ['apply', '-f', '-'],
      nad('macvlan-static-ens224', ns, {
        cniVersion: '0.3.1',
        name: 'macvlan-static-ens224',
        type: 'macvlan',
        master: 'ens224',
        mode: 'bridge',
        ipam: { type: 'static', addresses: [{ address: '10.7.200.10/16', gateway: '10.7.0.1' }] },
      }),
    );
  }, 120_000);

  afterAll(async () => {
    await k(['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
    await k([
      'delete',
      'network-attachment-definitions',
      '-n',
      'kube-system',
      'smoke-cluster-net',
      '--ignore-not-found',
    ]);
    await sim.stop();
  }, 120_000);

  it('runs, addresses, records network-status, and tears down', async () => {
    const deploy = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'smoke-app', namespace: ns },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'smoke-app' } },
        template: {
          metadata: {
            labels: { app: 'smoke-app' },
            annotations: { 'k8s.v1.cni.cncf.io/networks': 'macvlan-static-ens224' },
          },
          spec: { containers: [{ name: 'c', image: 'busybox' }] },
        },
      },
    };
    await k(['apply', '-f', '-'], JSON.stringify(deploy));
    type PodList = {
      items: {
        metadata: { uid: string; name: string; annotations?: Record<string, string> };
        spec: { nodeName?: string };
        status: { phase?: string; podIP?: string };
      }[];
    };
    const listPods = async (): Promise<PodList['items']> =>
      (
        JSON.parse(
          await k(['get', 'pods', '-n', ns, '-l', 'app=smoke-app', '-o', 'json']),
        ) as PodList
      ).items;
    const pods = await eventually(
      '2 Running pods',
      async () => {
        const items = await listPods();
        return items.length === 2 && items.every((p) => p.status.phase === 'Running')
          ? items
          : undefined;
      },
      90_000,
      () => `CNI failures: ${JSON.stringify([...sim.failures])}`,
    );
    expect(new Set(pods.map((p) => p.spec.nodeName))).toEqual(new Set(['node1', 'node2']));
    for (const pod of pods) {
      const netns = sim.netnsOf(pod.metadata.uid);
      expect(netns).toBeDefined();
      const eth0 = await inNetns(netns!, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0');
      const net1 = await inNetns(netns!, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'net1');
      expect(eth0).toMatch(/inet 10\.6\.200\.\d+\/16/);
      expect(eth0).toContain(`inet ${pod.status.podIP}/16`);
      expect(net1).toContain('inet 10.7.200.10/16');
      const status = JSON.parse(
        pod.metadata.annotations?.['k8s.v1.cni.cncf.io/network-status'] ?? '[]',
      ) as { name: string; interface?: string; ips?: string[] }[];
      expect(status.map((s) => [s.interface, s.name])).toEqual([
        ['eth0', 'kube-system/smoke-cluster-net'],
        ['net1', `${ns}/macvlan-static-ens224`],
      ]);
      expect(status[1]?.ips).toEqual(['10.7.200.10']);
    }
    const podNetns = pods.map((p) => sim.netnsOf(p.metadata.uid)!.split('/').pop()!);
    expect(await netnsList()).toEqual(expect.arrayContaining(podNetns));

    await k(['delete', 'deployment', 'smoke-app', '-n', ns]);
    await eventually(
      'pods gone',
      async () => ((await listPods()).length === 0 ? true : undefined),
      60_000,
    );
    const left = await netnsList();
    for (const n of podNetns) expect(left).not.toContain(n);
    expect(sim.log.filter((l) => l.command === 'DEL' && l.result.code !== 0)).toEqual([]);
  }, 180_000);

  it('gives each node a netns of its own with its host NICs, addressed like the tutorial node', async () => {
    const addr = await sim.exec('node1', 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'ens192']);
    expect(addr.stdout).toContain('inet 10.6.168.123/16');
    expect(
      (await sim.exec('node2', 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'ens192'])).stdout,
    ).toContain('inet 10.6.168.124/16');
    // The host's own namespace has no ens192 of the simulator's.
    await expect(run('ip', ['link', 'show', 'ens192p'])).rejects.toThrow(/does not exist/);
  });

  it('stop removes every netns the simulator made, and with them the host NICs', async () => {
    const nodes = ['node1', 'node2'].map((n) => sim.nodeNetns(n));
    expect(await netnsList()).toEqual(expect.arrayContaining(nodes));
    await sim.stop();
    expect((await netnsList()).filter((n) => n.startsWith(NETNS_PREFIX))).toEqual([]);
  });
});

// Issue #12: the suite leaves the cluster's pools, endpoints and pods consistent (a root
// afterAll runs after every describe's own cleanup).
afterAll(() => expectInvariants(), 60_000);
