import { describe, expect, it } from '@jest/globals';
import { matchPoolNames } from '@nicpool/annotations';
import { API_VERSION, type SpiderIPPool, type SpiderIPPoolSpec } from '@nicpool/crds';
import fc from 'fast-check';
import {
  nicNetwork,
  poolIndex,
  poolProblem,
  usablePools,
  type EligibilityContext,
} from './index.ts';

const pool = (
  name: string,
  spec: Partial<SpiderIPPoolSpec> & { subnet: string },
  meta: Partial<SpiderIPPool['metadata']> = {},
): SpiderIPPool => ({
  apiVersion: API_VERSION,
  kind: 'SpiderIPPool',
  metadata: { name, ...meta },
  spec: { ...spec },
});

const admission: EligibilityContext = {
  namespace: 'default',
  namespaceLabels: { team: 'x' },
  podLabels: { app: 'web' },
  network: { nad: 'kube-system/macvlan-conf-ens192' },
};
const atNode: EligibilityContext = {
  ...admission,
  node: { name: 'node1', labels: { zone: 'z1' } },
};

describe('poolProblem', () => {
  const v4 = { subnet: '10.1.0.0/16' };
  it.each<[string, SpiderIPPool | undefined, EligibilityContext, string | undefined]>([
    ['usable', pool('p', v4), atNode, undefined],
    ['missing', undefined, atNode, 'does not exist'],
    [
      'terminating',
      pool('p', v4, { deletionTimestamp: '2026-01-01T00:00:00Z' }),
      atNode,
      'is terminating',
    ],
    ['disabled', pool('p', { ...v4, disable: true }), atNode, 'is disabled (spec.disable: true)'],
    [
      'other family',
      pool('p', { subnet: 'fd00::/64' }),
      atNode,
      'is IPv6, this list asks for IPv4',
    ],
    [
      'node name at ADD',
      pool('p', { ...v4, nodeName: ['node2'] }),
      atNode,
      'is limited to nodes ["node2"] (this is node1)',
    ],
    [
      'node name at admission (node unknown)',
      pool('p', { ...v4, nodeName: ['node2'] }),
      admission,
      undefined,
    ],
    [
      'node affinity at ADD',
      pool('p', { ...v4, nodeAffinity: { matchLabels: { zone: 'z2' } } }),
      atNode,
      'nodeAffinity does not match node node1',
    ],
    [
      'node affinity at admission',
      pool('p', { ...v4, nodeAffinity: { matchLabels: { zone: 'z2' } } }),
      admission,
      undefined,
    ],
    [
      'namespace name',
      pool('p', { ...v4, namespaceName: ['prod'] }),
      admission,
      'is limited to namespaces ["prod"] (pod is in default)',
    ],
    [
      'namespace affinity',
      pool('p', { ...v4, namespaceAffinity: { matchLabels: { team: 'y' } } }),
      admission,
      'namespaceAffinity does not match namespace default',
    ],
    [
      'pod affinity',
      pool('p', { ...v4, podAffinity: { matchLabels: { app: 'db' } } }),
      admission,
      'podAffinity does not match the pod labels',
    ],
    [
      'multusName with namespace',
      pool('p', { ...v4, multusName: ['kube-system/macvlan-conf-ens224'] }),
      admission,
      'serves NetworkAttachmentDefinitions ["kube-system/macvlan-conf-ens224"], this NIC comes from kube-system/macvlan-conf-ens192',
    ],
    [
      'multusName by name only',
      pool('p', { ...v4, multusName: ['macvlan-conf-ens192'] }),
      admission,
      undefined,
    ],
    [
      'multusName vs the cluster network',
      pool('p', { ...v4, multusName: ['macvlan-conf-ens192'] }),
      { ...admission, network: { nad: undefined } },
      'serves NetworkAttachmentDefinitions ["macvlan-conf-ens192"], this NIC comes from the cluster network',
    ],
    [
      'multusName when the NIC is unknown',
      pool('p', { ...v4, multusName: ['other'] }),
      { namespace: 'default', namespaceLabels: {}, podLabels: {} },
      undefined,
    ],
  ])('%s', (_name, p, ctx, want) => {
    expect(poolProblem(p, 4, ctx)).toBe(want);
  });

  it("an auto-pool's podAffinity is matched against its workload", () => {
    const auto = pool(
      'auto-web-v4-eth0-1',
      {
        ...v4,
        podAffinity: {
          matchLabels: {
            'ipam.spidernet.io/app-kind': 'Deployment',
            'ipam.spidernet.io/app-namespace': 'default',
            'ipam.spidernet.io/app-name': 'web',
          },
        },
      },
      {
        labels: {
          'ipam.spidernet.io/owner-application-kind': 'Deployment',
          'ipam.spidernet.io/owner-application-namespace': 'default',
          'ipam.spidernet.io/owner-application-name': 'web',
        },
      },
    );
    const app = { kind: 'Deployment', namespace: 'default', name: 'web' } as const;
    expect(poolProblem(auto, 4, { ...admission, application: app })).toBeUndefined();
    expect(poolProblem(auto, 4, { ...admission, application: { ...app, name: 'other' } })).toBe(
      "is the auto-pool of Deployment default/web, not of this pod's workload",
    );
  });
});

describe('nicNetwork', () => {
  it('the NAD in the pod namespace unless named; the cluster network without one', () => {
    expect(nicNetwork({ name: 'net1', index: 1, network: { name: 'a' } }, 'ns1')).toEqual({
      nad: 'ns1/a',
    });
    expect(
      nicNetwork({ name: 'net1', index: 1, network: { name: 'a', namespace: 'kube-system' } }, 'x'),
    ).toEqual({ nad: 'kube-system/a' });
    expect(nicNetwork({ name: 'eth0', index: 0 }, 'ns1')).toEqual({ nad: undefined });
  });
});

describe('usablePools', () => {
  const pools = [
    pool('team-a', { subnet: '10.1.0.0/16', disable: true }),
    pool('team-b', { subnet: '10.2.0.0/16' }),
    pool('team-c', { subnet: '10.3.0.0/16', namespaceName: ['prod'] }),
    pool('team-v6', { subnet: 'fd00::/64' }),
    pool('old', { subnet: '10.4.0.0/16' }, { deletionTimestamp: '2026-01-01T00:00:00Z' }),
    pool('new', { subnet: '10.5.0.0/16' }),
  ];

  it('splits the matched pools, in matchPoolNames order, each skipped one with its reason', () => {
    const c = usablePools(['old', 'team-*', 'gone', 'team-v6', 'x-*', 'new'], 4, pools, admission);
    expect(c.usable).toEqual(['team-b', 'new']);
    expect(c.skipped).toEqual([
      { name: 'old', reason: 'is terminating', pattern: 0 },
      { name: 'team-a', reason: 'is disabled (spec.disable: true)', pattern: 1 },
      {
        name: 'team-c',
        reason: 'is limited to namespaces ["prod"] (pod is in default)',
        pattern: 1,
      },
      { name: 'gone', reason: 'does not exist', pattern: 2 },
      { name: 'team-v6', reason: 'is IPv6, this list asks for IPv4', pattern: 3 },
    ]);
    expect(c.unmatched).toEqual([4]);
    expect([...c.patternOf]).toEqual([
      ['team-b', 1],
      ['new', 5],
    ]);
  });

  it('a prebuilt index and the plain array give the same answer; the index is memoized', () => {
    expect(poolIndex(pools)).toBe(poolIndex(pools));
    expect(usablePools(['team-*'], 4, poolIndex(pools), admission)).toEqual(
      usablePools(['team-*'], 4, pools, admission),
    );
  });

  it('property: usable ∪ skipped is matchPoolNames(patterns, names of the family), in order', () => {
    const names = ['a', 'a1', 'a2', 'b', 'b1', 'c'];
    const arbPool = fc.record({
      name: fc.constantFrom(...names),
      family: fc.constantFrom(4 as const, 6 as const),
      disable: fc.boolean(),
      ns: fc.constantFrom(undefined, ['default'], ['prod']),
    });
    const arbPattern = fc.constantFrom(...names, 'a*', '*1', 'b?', '[ab]*', '*', 'zz*');
    fc.assert(
      fc.property(
        fc.uniqueArray(arbPool, { selector: (p) => p.name }),
        fc.uniqueArray(arbPattern, { maxLength: 5 }),
        fc.constantFrom(4 as const, 6 as const),
        (specs, patterns, family) => {
          const ps = specs.map((s) =>
            pool(s.name, {
              subnet: s.family === 4 ? '10.0.0.0/16' : 'fd00::/64',
              disable: s.disable,
              ...(s.ns === undefined ? {} : { namespaceName: [...s.ns] }),
            }),
          );
          const c = usablePools(patterns, family, ps, admission);
          const sameFamily = specs.filter((s) => s.family === family).map((s) => s.name);
          const all = [...c.usable, ...c.skipped.map((s) => s.name)];
          const expected = matchPoolNames(patterns, sameFamily);
          expect(new Set(all)).toEqual(new Set(expected));
          // usable keeps the matcher's order, and so does skipped.
          expect(c.usable).toEqual(expected.filter((n) => c.usable.includes(n)));
          expect(c.skipped.map((s) => s.name)).toEqual(
            expected.filter((n) => !c.usable.includes(n)),
          );
          for (const n of c.usable)
            expect(
              poolProblem(
                ps.find((p) => p.metadata.name === n),
                family,
                admission,
              ),
            ).toBe(undefined);
        },
      ),
      { seed: 12, numRuns: 300 },
    );
  });

  it('time budget: a wildcard over 5000 pools of 253-character names, index prebuilt, < 50 ms', () => {
    const many = Array.from({ length: 5000 }, (_, i) =>
      pool(`team-${String(i).padStart(4, '0')}-${'x'.repeat(253 - 10)}`, {
        subnet: '10.0.0.0/8',
        disable: i % 2 === 0,
        namespaceAffinity: { matchLabels: { team: i % 3 === 0 ? 'y' : 'x' } },
      }),
    );
    const index = poolIndex(many);
    const exact = many.slice(0, 50).map((p) => p.metadata.name);
    // Best of three: the bound is on the work, not on a JIT warm-up or a GC pause of the
    // 2-core machine that other suites share.
    let ms = Infinity;
    let wild = usablePools([], 4, index, admission);
    let names = wild;
    for (let run = 0; run < 3; run++) {
      const t0 = performance.now();
      wild = usablePools(['team-*'], 4, index, admission);
      names = usablePools(exact, 4, index, admission);
      ms = Math.min(ms, performance.now() - t0);
    }
    console.log(`usablePools over 5000 pools: ${ms.toFixed(1)} ms`);
    expect(wild.usable.length + wild.skipped.length).toBe(5000);
    expect(names.usable.length + names.skipped.length).toBe(50);
    expect(ms).toBeLessThan(50);
  });
});
