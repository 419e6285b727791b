// The referee between the two components that must agree (issue #12 item 3): for random pool
// sets without node constraints, the webhook admits a pod exactly when the allocator's
// planner finds at least one candidate pool for every NIC that will ask. It lives in tests/,
// the one place for checks across apps (nothing ships it), so libs and apps keep their
// arrows one way.
import { describe, expect, it } from '@jest/globals';
import { API_VERSION, type SpiderIPPool } from '@nicpool/crds';
import fc from 'fast-check';
import { planAdd } from '../apps/allocator/src/planner.ts';
import { decidePodLike } from '../apps/webhook/src/decide-pod.ts';
import { MULTUS, snapshot } from '../apps/webhook/test/fixtures.ts';

const NAMES = ['team-a', 'team-b', 'team-c', 'old', 'new'] as const;
const PATTERNS = [...NAMES, 'gone', 'team-*', '*', '[on]*', 'z*'] as const;

// Mostly usable values, so that both verdicts are common.
const mostly = <T, U>(usual: T, ...rare: U[]): fc.Arbitrary<T | U> =>
  fc.oneof({ arbitrary: fc.constant(usual), weight: 3 }, fc.constantFrom(...rare));

const arbPool = fc.record({
  name: fc.constantFrom(...NAMES),
  family: fc.oneof({ arbitrary: fc.constant(4 as const), weight: 3 }, fc.constant(6 as const)),
  disable: mostly(false, true),
  terminating: mostly(false, true),
  namespaceName: mostly(undefined, ['default'], ['prod']),
  namespaceAffinity: mostly(undefined, { team: 'x' }, { team: 'y' }),
  podAffinity: mostly(undefined, { app: 'web' }, { app: 'db' }),
  multusName: mostly(
    undefined,
    ['kube-system/macvlan-conf-ens192'],
    ['macvlan-conf-ens224'],
    ['kube-system/other'],
  ),
});
type PoolSpec = typeof arbPool extends fc.Arbitrary<infer T> ? T : never;

function toPool(p: PoolSpec, i: number): SpiderIPPool {
  return {
    apiVersion: API_VERSION,
    kind: 'SpiderIPPool',
    metadata: {
      name: p.name,
      ...(p.terminating ? { deletionTimestamp: '2026-12-01T00:00:00Z' } : {}),
    },
    spec: {
      subnet: p.family === 4 ? `10.${i}.0.0/16` : `fd00:${i}::/64`,
      ips: [p.family === 4 ? `10.${i}.0.10` : `fd00:${i}::10`],
      disable: p.disable,
      ...(p.namespaceName === undefined ? {} : { namespaceName: p.namespaceName }),
      ...(p.namespaceAffinity === undefined
        ? {}
        : { namespaceAffinity: { matchLabels: p.namespaceAffinity } }),
      ...(p.podAffinity === undefined ? {} : { podAffinity: { matchLabels: p.podAffinity } }),
      ...(p.multusName === undefined ? {} : { multusName: p.multusName }),
    },
  };
}

const arbList = fc.uniqueArray(fc.constantFrom(...PATTERNS), { minLength: 1, maxLength: 3 });
const arbNic = fc.record({
  ipv4: arbList,
  ipv6: fc.oneof({ arbitrary: fc.constant([]), weight: 3 }, arbList),
});

/** Annotation forms, with the NICs whose ADD asks nicpool (all must be served). */
const arbForm = fc.oneof(
  arbNic.map((n) => ({
    what: 'ippool, no Multus networks',
    annotations: { 'ipam.spidernet.io/ippool': JSON.stringify(n) },
    asking: ['eth0'],
  })),
  arbNic.map((n) => ({
    what: 'ippool, eth0 and net1 from nicpool NADs',
    annotations: { ...MULTUS, 'ipam.spidernet.io/ippool': JSON.stringify(n) },
    asking: ['eth0', 'net1'],
  })),
  fc.tuple(arbNic, arbNic).map(([a, b]) => ({
    what: 'ippools, named',
    annotations: {
      ...MULTUS,
      'ipam.spidernet.io/ippools': JSON.stringify([
        { interface: 'eth0', ...a },
        { interface: 'net1', ...b },
      ]),
    },
    asking: ['eth0'],
  })),
  fc.tuple(arbNic, arbNic).map(([a, b]) => ({
    what: 'ippools, unnamed',
    annotations: { ...MULTUS, 'ipam.spidernet.io/ippools': JSON.stringify([a, b]) },
    asking: ['net1'],
  })),
);

describe('webhook and planner agree', () => {
  it('property: the webhook admits ⇔ planAdd finds a candidate for every asking NIC', () => {
    let admitted = 0;
    let refused = 0;
    fc.assert(
      fc.property(
        fc.uniqueArray(arbPool, { selector: (p) => p.name, minLength: 2, maxLength: 5 }),
        arbForm,
        (specs, form) => {
          const pools = specs.map(toPool);
          const webhook = decidePodLike(
            'Pod',
            {
              metadata: {
                name: 'p',
                namespace: 'default',
                labels: { app: 'web' },
                annotations: form.annotations,
              },
            },
            'default',
            { ...snapshot(), pools },
          );
          const planned = form.asking.every(
            (ifName) =>
              planAdd({
                pod: {
                  namespace: 'default',
                  name: 'p',
                  uid: 'u',
                  labels: { app: 'web' },
                  annotations: form.annotations,
                },
                namespace: { labels: { team: 'x' }, annotations: {} },
                node: { name: 'node1', labels: {} },
                ifName,
                netconf: { defaultIPv4IPPool: [], defaultIPv6IPPool: [], cleanGateway: false },
                pools,
              }).ok,
          );
          if (webhook.allowed) admitted++;
          else refused++;
          expect({ form: form.what, allowed: webhook.allowed, reason: webhook.reason }).toEqual({
            form: form.what,
            allowed: planned,
            reason: webhook.reason,
          });
        },
      ),
      { seed: 1212, numRuns: 1000 },
    );
    // The generator must exercise both verdicts, or the property says nothing.
    expect(admitted).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
    console.log(`agreement: ${admitted} admitted, ${refused} refused`);
  });
});
