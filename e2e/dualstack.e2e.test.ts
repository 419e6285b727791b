/**
 * IPv6 as a first-class citizen: the tutorial's cleanup names a dual-stack Deployment
 * (`custom-dual-ippool-deploy.yaml`); applied unchanged against an IPv4 and an IPv6 pool,
 * every pod gets one address of each family on eth0, through the real Multus and macvlan.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { REPO, TUTORIAL } from './cluster/control-plane.ts';
import { cluster, eventually, inNetns, k } from './harness/helpers.ts';
import { startStack, type Stack } from '../scripts/stack.ts';
import { expectInvariants } from './harness/invariants.ts';

const DEPLOY = join(TUTORIAL, 'custom-dual-ippool-deploy.yaml');
const pool = (name: string, subnet: string, ips: string[], gateway: string): object => ({
  apiVersion: 'spiderpool.spidernet.io/v2beta1',
  kind: 'SpiderIPPool',
  metadata: { name },
  spec: { subnet, ips, gateway },
});
type Pod = { metadata: { uid: string }; status: { phase?: string; podIPs?: { ip: string }[] } };

describe('dual stack: the tutorial’s custom-dual-ippool-deploy.yaml, unchanged', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack(cluster(), () => undefined);
    await k(['apply', '-f', join(REPO, 'deploy', 'examples', 'multus-conf.yaml')]);
    await k(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          pool('custom-ipv4-ippool', '10.8.0.0/16', ['10.8.0.10-10.8.0.20'], '10.8.0.1'),
          pool('custom-ipv6-ippool', 'fd00:8::/64', ['fd00:8::10-fd00:8::20'], 'fd00:8::1'),
        ],
      }),
    );
  }, 180_000);

  afterAll(async () => {
    await k(['delete', '--ignore-not-found', '-f', DEPLOY]).catch(() => undefined);
    await eventually(
      'pods gone',
      async () =>
        (await k(['get', 'pods', '-l', 'app=custom-dual-ippool-deploy', '-o', 'name'])) === ''
          ? true
          : undefined,
      60_000,
    ).catch(() => undefined);
    await k([
      'delete',
      'spiderippool',
      'custom-ipv4-ippool',
      'custom-ipv6-ippool',
      '--ignore-not-found',
      '--timeout=60s',
    ]).catch(() => undefined);
    await k([
      'delete',
      '--ignore-not-found',
      '-f',
      join(REPO, 'deploy', 'examples', 'multus-conf.yaml'),
    ]).catch(() => undefined);
    await stack.stop();
  }, 180_000);

  it('three pods, each with one IPv4 and one IPv6 address on eth0; all released on delete', async () => {
    await k(['apply', '-f', DEPLOY]);
    const pods = await eventually(
      '3 pods Running',
      async () => {
        const items = (
          JSON.parse(
            await k(['get', 'pods', '-l', 'app=custom-dual-ippool-deploy', '-o', 'json']),
          ) as { items: Pod[] }
        ).items;
        return items.length === 3 && items.every((p) => p.status.phase === 'Running')
          ? items
          : undefined;
      },
      120_000,
      () => JSON.stringify([...stack.sim.failures]).slice(-1500),
    );
    const seen = new Set<string>();
    for (const pod of pods) {
      const netns = stack.sim.netnsOf(pod.metadata.uid)!;
      const v4 = [
        ...(await inNetns(netns, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0')).matchAll(
          /inet (10\.8\.0\.(1\d|20))\/16/g,
        ),
      ].map((m) => m[1]!);
      const v6 = [
        ...(await inNetns(netns, 'ip', '-6', '-o', 'addr', 'show', 'dev', 'eth0')).matchAll(
          /inet6 (fd00:8::(1[0-9a-f]|20))\/64/g,
        ),
      ].map((m) => m[1]!);
      expect(v4).toHaveLength(1);
      expect(v6).toHaveLength(1);
      seen.add(v4[0]!).add(v6[0]!);
    }
    expect(seen.size).toBe(6);
    const counts = async (): Promise<string[]> =>
      (await k(['get', 'spiderippool', 'custom-ipv4-ippool', 'custom-ipv6-ippool', '--no-headers']))
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/).slice(1, 5).join(' '));
    await eventually('3 allocated in each pool', async () => {
      const c = await counts();
      return c.every((x) => x.split(' ')[2] === '3') ? c : undefined;
    });
    expect(await counts()).toEqual(['4 10.8.0.0/16 3 11', '6 fd00:8::/64 3 17']);
    // Issue #12: with its pods Running, records, endpoints, pods and claims agree (no settling).
    await expectInvariants(undefined, { allowSettling: false, settleMs: 10_000 });
    await k(['delete', '-f', DEPLOY]);
    await eventually(
      'all released',
      async () => {
        const c = await counts();
        return c.every((x) => x.split(' ')[2] === '0') ? c : undefined;
      },
      60_000,
    );
  }, 240_000);
});

// Issue #12: the suite leaves the cluster's pools, endpoints and pods consistent (a root
// afterAll runs after every describe's own cleanup).
afterAll(() => expectInvariants(), 60_000);
