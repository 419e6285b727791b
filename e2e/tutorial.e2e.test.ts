/**
 * `make demo`'s scenario as a test: nicpool started exactly as the demo and `make up` start
 * it (scripts/stack.ts: every component under its deploy/ ServiceAccount), then
 * deploy/examples/ applied in the tutorial's order, asserting the tutorial's outcomes.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import type { SpiderIPPool, SpiderSubnet } from '@nicpool/crds';
import { REPO } from './cluster/control-plane.ts';
import { cluster, eventually, inNetns, k, netnsList } from './harness/helpers.ts';
import { startStack, type Stack } from '../scripts/stack.ts';
import { expectInvariants } from './harness/invariants.ts';

const EX = join(REPO, 'deploy', 'examples');
const f = (name: string): string[] => ['-f', join(EX, name)];
const json = async <T>(args: string[]): Promise<T> =>
  JSON.parse(await k([...args, '-o', 'json'])) as T;
type Pod = { metadata: { uid: string; name: string }; status: { phase?: string; podIP?: string } };
const running = (app: string, n: number): Promise<Pod[]> =>
  eventually(
    `${n} ${app} pods Running`,
    async () => {
      const items = (await json<{ items: Pod[] }>(['get', 'pods', '-l', `app=${app}`])).items;
      return items.length === n && items.every((p) => p.status.phase === 'Running')
        ? items
        : undefined;
    },
    120_000,
  );
/** `kubectl get <kind> --no-headers` as columns. */
const table = async (...args: string[]): Promise<string[][]> =>
  (await k(['get', ...args, '--no-headers']))
    .trim()
    .split('\n')
    .map((l) => l.split(/\s+/));

describe('the tutorial through deploy/examples/, as make demo runs it', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack(cluster(), () => undefined);
    await k(['apply', ...f('multus-conf.yaml')]);
  }, 180_000);

  afterAll(async () => {
    // The cleanup path of deploy/examples/README.md.
    await k([
      'delete',
      '--ignore-not-found',
      ...f('21-ippool-test-deploy.yaml'),
      ...f('11-subnet-test-deploy.yaml'),
    ]).catch(() => undefined);
    await eventually(
      'tutorial pods gone',
      async () =>
        (await k(['get', 'pods', '-l', 'app in (test-app,ippool-test-app)', '-o', 'name'])) === ''
          ? true
          : undefined,
      60_000,
    ).catch(() => undefined);
    await k(['delete', '--ignore-not-found', '--timeout=60s', '-f', EX]).catch(() => undefined);
    await stack.stop();
  }, 180_000);

  it('multiple NICs by subnet: one auto-pool per NIC, sized replicas + 1, one address per NIC', async () => {
    await k(['apply', ...f('10-subnets.yaml')]);
    await eventually('subnet totals', async () =>
      (await table('spidersubnet')).every((r) => r[4] === '10') ? true : undefined,
    );
    expect(await table('spidersubnet')).toEqual([
      ['subnet-test-ens192', '4', '10.6.0.1/16', '0', '10'],
      ['subnet-test-ens224', '4', '10.7.0.1/16', '0', '10'],
    ]);
    await k(['apply', ...f('11-subnet-test-deploy.yaml')]);
    const pods = await running('test-app', 2);
    const group = (await k(['get', 'deployment', 'test-app', '-o', 'jsonpath={.metadata.uid}']))
      .trim()
      .split('-')
      .at(-1);
    const eth0Pool = `auto-test-app-v4-eth0-${group}`;
    const net1Pool = `auto-test-app-v4-net1-${group}`;
    await eventually('pool counts', async () =>
      (await table('spiderippool')).every((r) => r[3] === '2') ? true : undefined,
    );
    expect(await table('spiderippool')).toEqual([
      [eth0Pool, '4', '10.6.0.1/16', '2', '3', 'false', 'false'],
      [net1Pool, '4', '10.7.0.1/16', '2', '3', 'false', 'false'],
    ]);
    expect((await json<SpiderIPPool>(['get', 'spiderippool', eth0Pool])).spec.ips).toEqual([
      '10.6.168.171-10.6.168.173',
    ]);
    expect((await json<SpiderIPPool>(['get', 'spiderippool', net1Pool])).spec.ips).toEqual([
      '10.7.168.171-10.7.168.173',
    ]);
    expect((await table('spidersubnet')).map((r) => r[3])).toEqual(['3', '3']);
    const seen = new Set<string>();
    for (const pod of pods) {
      const netns = stack.sim.netnsOf(pod.metadata.uid)!;
      const eth0 = /inet (10\.6\.168\.17[1-3])\/16/.exec(
        await inNetns(netns, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'),
      )?.[1];
      const net1 = /inet (10\.7\.168\.17[1-3])\/16/.exec(
        await inNetns(netns, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'net1'),
      )?.[1];
      expect(eth0).toBeDefined();
      expect(net1).toBeDefined();
      expect(pod.status.podIP).toBe(eth0);
      seen.add(eth0!).add(net1!);
    }
    expect(seen.size).toBe(4); // no address twice
    // Issue #12: with its pods Running, records, endpoints, pods and claims agree (no settling).
    await expectInvariants(undefined, { allowSettling: false, settleMs: 10_000 });
    await k(['delete', ...f('11-subnet-test-deploy.yaml')]);
    await eventually(
      'auto-pools gone, subnets empty',
      async () =>
        (await k(['get', 'spiderippool', '-o', 'name'])) === '' &&
        (await json<{ items: SpiderSubnet[] }>(['get', 'spidersubnet'])).items.every(
          (s) => (s.status?.allocatedIPCount ?? 0) === 0,
        )
          ? true
          : undefined,
      90_000,
    );
  }, 300_000);

  it('multiple NICs by IPPool: an address per NIC from its pool, net1 routed by table 100', async () => {
    await k(['apply', ...f('20-ippools.yaml')]);
    await eventually('pool totals', async () =>
      (await table('spiderippool')).every((r) => r[4] === '5') ? true : undefined,
    );
    expect(await table('spiderippool')).toEqual([
      ['ippool-test-ens192', '4', '10.6.0.1/16', '0', '5', 'false', 'false'],
      ['ippool-test-ens224', '4', '10.7.0.1/16', '0', '5', 'false', 'false'],
    ]);
    await k(['apply', ...f('21-ippool-test-deploy.yaml')]);
    const [pod] = await running('ippool-test-app', 1);
    await eventually('pool counts', async () =>
      (await table('spiderippool')).every((r) => r[3] === '1') ? true : undefined,
    );
    const netns = stack.sim.netnsOf(pod!.metadata.uid)!;
    const eth0 = /inet (10\.6\.168\.(17[6-9]|180))\/16/.exec(
      await inNetns(netns, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'),
    )?.[1];
    const net1 = /inet (10\.7\.168\.(17[6-9]|180))\/16/.exec(
      await inNetns(netns, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'net1'),
    )?.[1];
    expect(eth0).toBeDefined();
    expect(net1).toBeDefined();
    expect(
      (await inNetns(netns, 'ip', '-4', 'route', 'show', 'table', 'main'))
        .split('\n')
        .filter((l) => l.startsWith('default')),
    ).toEqual(['default via 10.6.0.1 dev eth0 ']);
    expect(await inNetns(netns, 'ip', '-4', 'rule', 'show')).toContain(`from ${net1} lookup 100`);
    expect(await inNetns(netns, 'ip', '-4', 'route', 'show', 'table', '100')).toContain(
      'default via 10.7.0.1 dev net1',
    );
    // Issue #12: with its pods Running, records, endpoints, pods and claims agree (no settling).
    await expectInvariants(undefined, { allowSettling: false, settleMs: 10_000 });
    await k(['delete', ...f('21-ippool-test-deploy.yaml')]);
    await eventually(
      'pod gone, addresses back',
      async () => ((await table('spiderippool')).every((r) => r[3] === '0') ? true : undefined),
      60_000,
    );
    // The simulated kubelet removes the sandbox after CNI DEL.
    await eventually(
      'the pod and its network namespace gone',
      async () =>
        (await k(['get', 'pods', '-l', 'app=ippool-test-app', '-o', 'name'])) === '' &&
        !(await netnsList()).includes(netns.split('/').pop()!)
          ? true
          : undefined,
      60_000,
    );
  }, 240_000);
});

// Issue #12: the suite leaves the cluster's pools, endpoints and pods consistent (a root
// afterAll runs after every describe's own cleanup).
afterAll(() => expectInvariants(), 60_000);
