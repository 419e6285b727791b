/**
 * The controller against the real control plane, the node simulator, the real Multus and
 * the real CNI chain: the tutorial's subnet scenario with its manifests unchanged, scaling,
 * reclaim and adoption, garbage collection of a force-deleted pod, and leader failover.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SpiderIPPool, SpiderSubnet } from '@nicpool/crds';
import { freePort, REPO, TUTORIAL } from './cluster/control-plane.ts';
import { AllocatorProcess, socketCall } from './harness/allocator.ts';
import { ControllerProcess } from './harness/controller.ts';
import {
  cluster,
  createNamespace,
  ensureNodes,
  eventually,
  inNetns,
  k,
  uniqueName,
} from './harness/helpers.ts';
import { WebhookProcess } from './harness/webhook.ts';
import { NodeSimulator } from './sim/node-simulator.ts';
import { PLUGINS } from '../scripts/stack.ts';
import { expectInvariants } from './harness/invariants.ts';

const NAMESPACE = 'nicpool-system';
const FAST_LEASE = { duration: 4, renew: 3, retry: 1 };

const json = async <T>(args: string[]): Promise<T> =>
  JSON.parse(await k([...args, '-o', 'json'])) as T;
const pools = async (): Promise<SpiderIPPool[]> =>
  (await json<{ items: SpiderIPPool[] }>(['get', 'spiderippool'])).items;
const subnet = (name: string): Promise<SpiderSubnet> =>
  json<SpiderSubnet>(['get', 'spidersubnet', name]);

/** Who holds the controller's Lease now ('' once released). */
const leaseHolder = async (): Promise<string> =>
  (
    await k([
      'get',
      'lease',
      'nicpool-controller',
      '-n',
      NAMESPACE,
      '-o',
      'jsonpath={.spec.holderIdentity}',
    ])
  ).trim();

type Pod = { metadata: { uid: string; name: string }; status: { phase?: string; podIP?: string } };
const podsOf = async (app: string): Promise<Pod[]> =>
  (await json<{ items: Pod[] }>(['get', 'pods', '-l', `app=${app}`])).items;

describe('controller: SpiderSubnet auto-pools, GC and leader election', () => {
  let alloc: AllocatorProcess;
  let sim: NodeSimulator;
  let leader: ControllerProcess;
  let standby: ControllerProcess | undefined;
  let webhook: WebhookProcess;
  const controllers: ControllerProcess[] = [];
  const diag = (): string =>
    `CNI failures: ${JSON.stringify([...sim.failures]).slice(-1500)}\ncontroller warnings: ${leader
      .log()
      .split('\n')
      .filter((l) => /"level":[45]0/.test(l))
      .map((l) => l.slice(0, 400))
      .join('\n')
      .slice(
        -3000,
      )}\nmultus log: ${(existsSync(join(sim.dir, 'multus.log')) ? readFileSync(join(sim.dir, 'multus.log'), 'utf8') : '').slice(-800)}`;

  beforeAll(async () => {
    await k(['create', 'namespace', NAMESPACE]).catch(() => undefined);
    // The whole product: the webhook defaults and labels what the admin applies.
    webhook = new WebhookProcess(cluster(), await freePort());
    await webhook.start();
    await webhook.register();
    // The tutorial's NADs name no socket: node1 mounts this allocator's socket at the default path.
    alloc = new AllocatorProcess(cluster(), 'node1', await freePort());
    await alloc.start();
    leader = new ControllerProcess(cluster(), {
      identity: 'controller-a',
      port: await freePort(),
      namespace: NAMESPACE,
      leaseSeconds: FAST_LEASE,
    });
    controllers.push(leader);
    await leader.start();
    await eventually(
      'controller-a leads',
      async () => ((await leader.isLeader()) ? true : undefined),
      30_000,
      () => leader.log(),
    );
    sim = new NodeSimulator({
      cluster: cluster(),
      nodes: ['node1'],
      hostNics: ['ens192', 'ens224'],
      clusterNetwork: 'macvlan-conf-ens192',
      extraPlugins: PLUGINS,
      allocators: { node1: alloc.socket },
    });
    await sim.start();
    // The tutorial's NADs, unchanged: macvlan + nicpool's veth.
    await k(['apply', '-f', join(REPO, 'deploy', 'examples', 'multus-conf.yaml')]);
  }, 180_000);

  afterAll(async () => {
    for (const f of ['subnet-test-deploy.yaml'])
      await k(['delete', '--ignore-not-found', '-f', join(TUTORIAL, f)]).catch(() => undefined);
    await k(['delete', 'deployment', 'keep-app', '--ignore-not-found']).catch(() => undefined);
    await eventually(
      'test pods gone',
      async () =>
        (await k(['get', 'pods', '-l', 'app in (test-app,keep-app)', '-o', 'name'])) === ''
          ? true
          : undefined,
      60_000,
    ).catch(() => undefined);
    await sim.stop();
    await alloc.stop();
    alloc.cleanup();
    // Kept (reclaim=false) pools and the subnets; finalizers go with the controller's help.
    const leftovers = (await pools())
      .filter((p) => p.metadata.name.startsWith('auto-'))
      .map((p) => p.metadata.name);
    if (leftovers.length > 0)
      await k(['delete', 'spiderippool', ...leftovers, '--wait=false']).catch(() => undefined);
    await k([
      'delete',
      '--ignore-not-found',
      '--wait=false',
      '-f',
      join(TUTORIAL, 'different-segment-ipv4-subnets.yaml'),
    ]).catch(() => undefined);
    await eventually(
      'auto-pools and subnets gone',
      async () =>
        (await pools()).every((p) => !p.metadata.name.startsWith('auto-')) &&
        (await k(['get', 'spidersubnet', '-o', 'name'])) === ''
          ? true
          : undefined,
      30_000,
    ).catch(() => undefined);
    for (const c of controllers) {
      await c.stop();
      c.cleanup();
    }
    await webhook.unregister().catch(() => undefined);
    await webhook.stop();
    webhook.cleanup();
    await k([
      'delete',
      'network-attachment-definitions',
      '-n',
      'kube-system',
      'macvlan-conf-ens192',
      'macvlan-conf-ens224',
      '--ignore-not-found',
    ]);
    await k(['delete', 'lease', 'nicpool-controller', '-n', NAMESPACE, '--ignore-not-found']);
  }, 180_000);

  it('the tutorial: two subnets, a Deployment annotated with subnets → one pool per NIC sized replicas+1, scaling, reclaim', async () => {
    await k(['apply', '-f', join(TUTORIAL, 'different-segment-ipv4-subnets.yaml')]);
    // kubectl get spidersubnet right after apply: ALLOCATED-IP-COUNT 0, TOTAL-IP-COUNT 10.
    await eventually(
      'subnet counters',
      async () => {
        const rows = (
          await k([
            'get',
            'spidersubnet',
            'subnet-test-ens192',
            'subnet-test-ens224',
            '--no-headers',
          ])
        )
          .trim()
          .split('\n');
        const cols = rows.map((r) => r.split(/\s+/).slice(1));
        return JSON.stringify(cols) ===
          JSON.stringify([
            ['4', '10.6.0.1/16', '0', '10'],
            ['4', '10.7.0.1/16', '0', '10'],
          ])
          ? cols
          : undefined;
      },
      20_000,
      diag,
    );

    await k(['apply', '-f', join(TUTORIAL, 'subnet-test-deploy.yaml')]);
    const uid = (
      await k(['get', 'deployment', 'test-app', '-o', 'jsonpath={.metadata.uid}'])
    ).trim();
    const group = uid.split('-').at(-1)!;
    const eth0Pool = `auto-test-app-v4-eth0-${group}`;
    const net1Pool = `auto-test-app-v4-net1-${group}`;

    const size = async (
      name: string,
    ): Promise<{ ips: string[]; total?: number; allocated?: number } | undefined> => {
      const p = (await pools()).find((x) => x.metadata.name === name);
      return p === undefined
        ? undefined
        : {
            ips: p.spec.ips ?? [],
            total: p.status?.totalIPCount,
            allocated: p.status?.allocatedIPCount,
          };
    };
    const running = async (n: number): Promise<Pod[]> =>
      eventually(
        `${n} test-app pods Running`,
        async () => {
          const items = (await podsOf('test-app')).filter((p) => p.status.phase === 'Running');
          return items.length === n && (await podsOf('test-app')).length === n ? items : undefined;
        },
        120_000,
        diag,
      );

    const pods = await running(2);
    expect(await size(eth0Pool)).toEqual({
      ips: ['10.6.168.171-10.6.168.173'],
      total: 3,
      allocated: 2,
    });
    expect(await size(net1Pool)).toEqual({
      ips: ['10.7.168.171-10.7.168.173'],
      total: 3,
      allocated: 2,
    });
    // kubectl get spiderippool, as the tutorial shows it.
    const rows = (await k(['get', 'spiderippool', eth0Pool, net1Pool, '--no-headers']))
      .trim()
      .split('\n');
    expect(rows.map((r) => r.split(/\s+/))).toEqual([
      [eth0Pool, '4', '10.6.0.1/16', '2', '3', 'false', 'false'],
      [net1Pool, '4', '10.7.0.1/16', '2', '3', 'false', 'false'],
    ]);
    for (const pod of pods) {
      const netns = sim.netnsOf(pod.metadata.uid)!;
      const eth0 = await inNetns(netns, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0');
      const net1 = await inNetns(netns, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'net1');
      expect(eth0.match(/inet 10\.6\.168\.17[1-3]\/16/g)).toHaveLength(1);
      expect(net1.match(/inet 10\.7\.168\.17[1-3]\/16/g)).toHaveLength(1);
      expect(pod.status.podIP).toMatch(/^10\.6\.168\.17[1-3]$/);
    }
    expect((await subnet('subnet-test-ens192')).status).toMatchObject({
      allocatedIPCount: 3,
      totalIPCount: 10,
    });
    expect(JSON.parse((await subnet('subnet-test-ens224')).status!.controlledIPPools!)).toEqual({
      [net1Pool]: {
        ips: ['10.7.168.171-10.7.168.173'],
        application: 'apps_v1_Deployment_default_test-app',
      },
    });

    // Scale to 4: both pools grow to 5, every pod gets one address per NIC.
    await k(['scale', 'deployment', 'test-app', '--replicas=4']);
    await eventually(
      'pools grow to 5',
      async () => {
        const a = await size(eth0Pool);
        const b = await size(net1Pool);
        return a?.total === 5 && b?.total === 5 ? [a, b] : undefined;
      },
      60_000,
      diag,
    );
    await running(4);
    expect((await size(eth0Pool))?.ips).toEqual(['10.6.168.171-10.6.168.175']);
    await eventually(
      '4 addresses in use per pool',
      async () => ((await size(net1Pool))?.allocated === 4 ? true : undefined),
      60_000,
      diag,
    );
    // Issue #12: grown pools, their claims, records, endpoints and the 4 pods agree (no settling).
    await expectInvariants(undefined, { allowSettling: false, settleMs: 10_000 });

    // Scale to 1: the pools shrink to 2 as the pods release their addresses.
    await k(['scale', 'deployment', 'test-app', '--replicas=1']);
    await running(1);
    await eventually(
      'pools shrink to 2',
      async () => {
        const a = await size(eth0Pool);
        const b = await size(net1Pool);
        return a?.total === 2 && b?.total === 2 ? [a, b] : undefined;
      },
      60_000,
      diag,
    );
    expect((await subnet('subnet-test-ens224')).status?.allocatedIPCount).toBe(2);
    // Issue #12: after the shrink (pods of the scale-down may still be Terminating: settling).
    await expectInvariants();

    // Delete the Deployment: the pools go (after their last release), the subnets are empty again.
    await k(['delete', '-f', join(TUTORIAL, 'subnet-test-deploy.yaml')]);
    await eventually(
      'auto-pools gone',
      async () => {
        const names = (await pools()).map((p) => p.metadata.name);
        return names.includes(eth0Pool) || names.includes(net1Pool) ? undefined : true;
      },
      90_000,
      diag,
    );
    await eventually(
      'subnets back to 0',
      async () => {
        const rows2 = (await k(['get', 'spidersubnet', '--no-headers'])).trim().split('\n');
        return rows2.every((r) => r.split(/\s+/)[3] === '0') ? rows2 : undefined;
      },
      30_000,
      diag,
    );
  }, 420_000);

  it('ippool-reclaim "false": the pool outlives its Deployment and a new Deployment of the same name adopts it', async () => {
    const deploy = (): string => {
      const text = readFileSync(join(TUTORIAL, 'subnet-test-deploy.yaml'), 'utf8')
        .replaceAll('test-app', 'keep-app')
        .replace('replicas: 2', 'replicas: 1')
        .replace(
          "ipam.spidernet.io/ippool-ip-number: '+1'",
          "ipam.spidernet.io/ippool-ip-number: '+1'\n        ipam.spidernet.io/ippool-reclaim: 'false'",
        );
      expect(text).toContain("ippool-reclaim: 'false'");
      return text;
    };
    await k(['apply', '-f', '-'], deploy());
    const uid1 = (
      await k(['get', 'deployment', 'keep-app', '-o', 'jsonpath={.metadata.uid}'])
    ).trim();
    const names = [
      `auto-keep-app-v4-eth0-${uid1.split('-').at(-1)}`,
      `auto-keep-app-v4-net1-${uid1.split('-').at(-1)}`,
    ];
    await eventually(
      'keep-app Running',
      async () =>
        (await podsOf('keep-app')).some((p) => p.status.phase === 'Running') ? true : undefined,
      120_000,
      diag,
    );
    const before = (await pools()).filter((p) => names.includes(p.metadata.name));
    expect(
      before.map((p) => [
        p.metadata.name,
        p.spec.ips,
        p.metadata.labels?.['ipam.spidernet.io/ippool-reclaim'],
      ]),
    ).toEqual([
      [names[0], ['10.6.168.171-10.6.168.172'], 'false'],
      [names[1], ['10.7.168.171-10.7.168.172'], 'false'],
    ]);

    await k(['delete', 'deployment', 'keep-app']);
    await eventually(
      'keep-app pods gone',
      async () => ((await podsOf('keep-app')).length === 0 ? true : undefined),
      60_000,
      diag,
    );
    // Give the controller several passes to (wrongly) reclaim the pools.
    await new Promise((r) => setTimeout(r, 5000));
    const kept = (await pools()).filter((p) => names.includes(p.metadata.name));
    expect(
      kept.map((p) => [
        p.metadata.name,
        p.metadata.deletionTimestamp,
        p.status?.allocatedIPCount ?? 0,
      ]),
    ).toEqual([
      [names[0], undefined, 0],
      [names[1], undefined, 0],
    ]);

    await k(['apply', '-f', '-'], deploy());
    const uid2 = (
      await k(['get', 'deployment', 'keep-app', '-o', 'jsonpath={.metadata.uid}'])
    ).trim();
    expect(uid2).not.toBe(uid1);
    const pod = await eventually(
      're-created keep-app Running',
      async () => (await podsOf('keep-app')).find((p) => p.status.phase === 'Running'),
      120_000,
      diag,
    );
    const adopted = (await pools()).filter((p) => p.metadata.name.startsWith('auto-keep-app-'));
    // No new pool: the same two, now labelled with the new Deployment's UID.
    expect(
      adopted.map((p) => [
        p.metadata.name,
        p.metadata.labels?.['ipam.spidernet.io/owner-application-uid'],
      ]),
    ).toEqual([
      [names[0], uid2],
      [names[1], uid2],
    ]);
    expect(pod.status.podIP).toMatch(/^10\.6\.168\.17[12]$/);
    await k(['delete', 'deployment', 'keep-app']);
    await eventually(
      'keep-app pods gone',
      async () => ((await podsOf('keep-app')).length === 0 ? true : undefined),
      60_000,
      diag,
    );
    await k(['delete', 'spiderippool', ...names]);
  }, 360_000);

  it('GC: a force-deleted pod without CNI DEL has its addresses released after its grace period; a live pod keeps its own', async () => {
    const ns = uniqueName('gc');
    await createNamespace(ns);
    await ensureNodes('gcnode');
    const gcAlloc = new AllocatorProcess(cluster(), 'gcnode', await freePort());
    await gcAlloc.start();
    try {
      await k(
        ['apply', '-f', '-'],
        JSON.stringify({
          apiVersion: 'spiderpool.spidernet.io/v2beta1',
          kind: 'SpiderIPPool',
          metadata: { name: `${ns}-pool` },
          spec: { subnet: '10.9.0.0/16', ips: ['10.9.0.10-10.9.0.20'] },
        }),
      );
      const pod = (name: string): object => ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name,
          namespace: ns,
          annotations: { 'ipam.spidernet.io/ippool': JSON.stringify({ ipv4: [`${ns}-pool`] }) },
        },
        spec: {
          nodeName: 'gcnode',
          terminationGracePeriodSeconds: 2,
          containers: [{ name: 'c', image: 'nginx' }],
        },
      });
      await k(
        ['apply', '-f', '-'],
        JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [pod('leaky'), pod('alive')] }),
      );
      const uids: Record<string, string> = {};
      for (const name of ['leaky', 'alive']) {
        uids[name] = (
          await k(['get', 'pod', name, '-n', ns, '-o', 'jsonpath={.metadata.uid}'])
        ).trim();
        const r = await socketCall(gcAlloc.socket, 'POST', '/v1/ipam/ip', {
          containerID: `c-${name}`,
          ifName: 'eth0',
          netNamespace: `/var/run/netns/${name}`,
          podNamespace: ns,
          podName: name,
          podUID: uids[name],
        });
        expect(r.status).toBe(200);
      }
      const records = async (): Promise<Record<string, { pod: string; podUid: string }>> => {
        const p = await json<SpiderIPPool>(['get', 'spiderippool', `${ns}-pool`]);
        return JSON.parse(p.status?.allocatedIPs ?? '{}') as Record<
          string,
          { pod: string; podUid: string }
        >;
      };
      expect(
        Object.values(await records())
          .map((r) => r.pod)
          .sort(),
      ).toEqual([`${ns}/alive`, `${ns}/leaky`]);
      const releasedBefore =
        (await leader.metric('nicpool_gc_releases_total', '{type="record"}')) ?? 0;

      // Force delete: the object is gone at once and no CNI DEL ever comes.
      const deletedAt = Date.now();
      await k(['delete', 'pod', 'leaky', '-n', ns, '--grace-period=0', '--force']);
      await eventually(
        'leaked record released',
        async () => {
          const pods = Object.values(await records()).map((r) => r.pod);
          return pods.includes(`${ns}/leaky`) ? undefined : pods;
        },
        60_000,
        diag,
      );
      // Not before its grace period (2 s) plus the configured delay (1 s).
      expect(Date.now() - deletedAt).toBeGreaterThanOrEqual(3000);
      expect(
        (await leader.metric('nicpool_gc_releases_total', '{type="record"}')) ?? 0,
      ).toBeGreaterThan(releasedBefore);
      await eventually(
        'its SpiderEndpoint gone',
        async () =>
          (await k([
            'get',
            'spiderendpoint',
            'leaky',
            '-n',
            ns,
            '--ignore-not-found',
            '-o',
            'name',
          ])) === ''
            ? true
            : undefined,
        30_000,
        diag,
      );
      // The live pod keeps its address, also after further GC passes.
      await new Promise((r) => setTimeout(r, 4000));
      expect(Object.values(await records())).toEqual([
        { pod: `${ns}/alive`, podUid: uids['alive'], interface: 'eth0' },
      ]);
      expect(
        (await json<SpiderIPPool>(['get', 'spiderippool', `${ns}-pool`])).status?.allocatedIPCount,
      ).toBe(1);
    } finally {
      await k(['delete', 'pod', '--all', '-n', ns, '--grace-period=0', '--force']).catch(
        () => undefined,
      );
      await gcAlloc.stop();
      gcAlloc.cleanup();
      await k(['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
      await eventually(
        'gc pool free',
        async () => {
          const p = await json<SpiderIPPool>(['get', 'spiderippool', `${ns}-pool`]);
          return (p.status?.allocatedIPCount ?? 0) === 0 ? true : undefined;
        },
        60_000,
      ).catch(() => undefined);
      await k(['delete', 'spiderippool', `${ns}-pool`, '--wait=false']).catch(() => undefined);
    }
  }, 180_000);

  it('leader killed → the standby takes the Lease within its duration and carries on', async () => {
    standby = new ControllerProcess(cluster(), {
      identity: 'controller-b',
      port: await freePort(),
      namespace: NAMESPACE,
      leaseSeconds: FAST_LEASE,
    });
    controllers.push(standby);
    await standby.start();
    await new Promise((r) => setTimeout(r, 2500));
    expect(await leader.isLeader()).toBe(true);
    expect(await standby.isLeader()).toBe(false);

    await leader.kill9();
    const killedAt = Date.now();
    const b = standby;
    await eventually(
      'controller-b leads',
      async () => ((await b.isLeader()) ? true : undefined),
      30_000,
      () => b.log(),
    );
    // Lease duration 4 s, observed from b's last sight of a's renewal, plus one retry period.
    expect(Date.now() - killedAt).toBeLessThan((FAST_LEASE.duration + FAST_LEASE.retry + 2) * 1000);
    expect(await leaseHolder()).toBe('controller-b');

    // b does the work now: a new pool gets its counters and finalizer.
    const name = uniqueName('failover');
    await k(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'spiderpool.spidernet.io/v2beta1',
        kind: 'SpiderIPPool',
        metadata: { name },
        spec: { subnet: '10.11.0.0/16', ips: ['10.11.0.1-10.11.0.4'] },
      }),
    );
    const p = await eventually(
      'counters from the new leader',
      async () => {
        const x = await json<SpiderIPPool>(['get', 'spiderippool', name]);
        return x.status?.totalIPCount === 4 ? x : undefined;
      },
      30_000,
      () => b.log(),
    );
    expect(p.metadata.finalizers).toEqual(['spiderpool.spidernet.io']);
    await k(['delete', 'spiderippool', name]);

    // SIGTERM: b steps down and gives the Lease back.
    await b.stop();
    expect(await leaseHolder()).toBe('');
    // Someone must remove finalizers in afterAll: start a fresh leader.
    leader = new ControllerProcess(cluster(), {
      identity: 'controller-c',
      port: await freePort(),
      namespace: NAMESPACE,
      leaseSeconds: FAST_LEASE,
    });
    controllers.push(leader);
    await leader.start();
    const c = leader;
    await eventually(
      'controller-c leads',
      async () => ((await c.isLeader()) ? true : undefined),
      30_000,
      () => c.log(),
    );
  }, 120_000);
});

// Issue #12: the suite leaves the cluster's pools, endpoints and pods consistent (a root
// afterAll runs after every describe's own cleanup).
afterAll(() => expectInvariants(), 60_000);
