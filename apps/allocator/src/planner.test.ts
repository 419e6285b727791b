import { describe, expect, it } from '@jest/globals';
import { selectorMatches } from '@nicpool/crds';
import { planAdd } from './planner.ts';
import {
  planInput,
  pool,
  TUTORIAL_IPPOOLS,
  TUTORIAL_MULTUS,
  tutorialPools,
} from '../test/fixtures.ts';

const plan = (...args: Parameters<typeof planInput>) => planAdd(planInput(...args));

describe('planAdd: precedence', () => {
  it.each([
    [
      'ippools plans every listed NIC at once',
      { ...TUTORIAL_MULTUS, 'ipam.spidernet.io/ippools': TUTORIAL_IPPOOLS },
      [
        ['eth0', 'ippool-test-ens192'],
        ['net1', 'ippool-test-ens224'],
      ],
    ],
    [
      'ippool serves the NIC of the call',
      { 'ipam.spidernet.io/ippool': '{"ipv4":["ippool-test-ens224"]}' },
      [['eth0', 'ippool-test-ens224']],
    ],
    [
      'ippools beats ippool',
      {
        'ipam.spidernet.io/ippools': '[{"interface":"eth0","ipv4":["ippool-test-ens192"]}]',
        'ipam.spidernet.io/ippool': '{"ipv4":["ippool-test-ens224"]}',
      },
      [['eth0', 'ippool-test-ens192']],
    ],
    ['no annotation → cluster default pools', {}, [['eth0', 'cluster-default']]],
    [
      'wildcards keep the written order',
      { 'ipam.spidernet.io/ippool': '{"ipv4":["ippool-test-ens224","ippool-test-*"]}' },
      [['eth0', 'ippool-test-ens224', 'ippool-test-ens192']],
    ],
  ])('%s', (_name, annotations, expected) => {
    const r = plan({ annotations });
    expect(r.ok).toBe(true);
    if (r.ok)
      expect(r.value.map((n) => [n.ifName, ...(n.families[0]?.pools ?? [])])).toEqual(expected);
  });

  it('namespace defaults beat netconf defaults, which beat cluster defaults', () => {
    const ns = plan({
      namespace: {
        labels: {},
        annotations: { 'ipam.spidernet.io/default-ipv4-ippool': '["ippool-test-ens224"]' },
      },
      netconf: {
        defaultIPv4IPPool: ['ippool-test-ens192'],
        defaultIPv6IPPool: [],
        cleanGateway: false,
      },
    });
    expect(ns.ok && ns.value[0]?.families[0]?.pools).toEqual(['ippool-test-ens224']);
    const nc = plan({
      netconf: {
        defaultIPv4IPPool: ['ippool-test-ens192'],
        defaultIPv6IPPool: [],
        cleanGateway: false,
      },
    });
    expect(nc.ok && nc.value[0]?.families[0]?.pools).toEqual(['ippool-test-ens192']);
  });

  it('no level → NO_POOL', () => {
    const r = plan({ pools: tutorialPools().filter((p) => p.spec.default !== true) });
    expect(r).toEqual({
      ok: false,
      error: { code: 'NO_POOL', message: 'no IPPool available: no pool selection rule applies' },
    });
  });

  describe("subnet annotations select the workload's auto-pool", () => {
    const SUBNETS = {
      ...TUTORIAL_MULTUS,
      'ipam.spidernet.io/subnets':
        '[{"interface":"eth0","ipv4":["subnet-test-ens192"]},{"interface":"net1","ipv4":["subnet-test-ens224"]}]',
    };
    const app = { kind: 'Deployment', namespace: 'default', name: 'test-app' } as const;
    const auto = (name: string, ifName: string, appName = 'test-app') => {
      const p = pool(name, { subnet: '10.7.0.1/16', ips: ['10.7.168.171-10.7.168.173'] });
      p.metadata.labels = {
        'ipam.spidernet.io/owner-application-kind': 'Deployment',
        'ipam.spidernet.io/owner-application-namespace': 'default',
        'ipam.spidernet.io/owner-application-name': appName,
        'ipam.spidernet.io/interface': ifName,
        'ipam.spidernet.io/ip-version': 'IPv4',
      };
      p.spec.podAffinity = {
        matchLabels: {
          'ipam.spidernet.io/app-kind': 'Deployment',
          'ipam.spidernet.io/app-namespace': 'default',
          'ipam.spidernet.io/app-name': appName,
        },
      };
      return p;
    };

    it('serves the NIC of the call from its own pool, matching affinity by workload', () => {
      const r = plan({
        annotations: SUBNETS,
        ifName: 'net1',
        application: app,
        pools: [auto('auto-test-app-v4-eth0-x', 'eth0'), auto('auto-test-app-v4-net1-x', 'net1')],
      });
      expect(r.ok && r.value.map((n) => [n.ifName, n.families[0]?.pools, n.auto])).toEqual([
        ['net1', ['auto-test-app-v4-net1-x'], true],
      ]);
    });

    it('is pending (retryable) while the controller has not made the pool', () => {
      const r = plan({ annotations: SUBNETS, ifName: 'net1', application: app, pools: [] });
      expect(r.ok === false && r.error.code).toBe('AUTO_POOL_PENDING');
      expect(r.ok === false && r.error.message).toContain(
        'the IPv4 auto-pool of Deployment default/test-app for net1 (from SpiderSubnet subnet-test-ens224) does not exist yet',
      );
    });

    it("never takes another workload's pool", () => {
      const r = plan({
        annotations: SUBNETS,
        ifName: 'net1',
        application: app,
        pools: [auto('auto-other-v4-net1-x', 'net1', 'other')],
      });
      expect(r.ok === false && r.error.code).toBe('AUTO_POOL_PENDING');
    });

    it('a bare pod has no workload to own an auto-pool', () => {
      const r = plan({ annotations: SUBNETS });
      expect(r.ok === false && r.error.code).toBe('INVALID_ANNOTATION');
      expect(r.ok === false && r.error.message).toContain('has no owning workload');
    });
  });

  it('a bad annotation is INVALID_ANNOTATION naming key and path', () => {
    const r = plan({
      annotations: { 'ipam.spidernet.io/ippools': '[{"interface":"eth0","ipv4s":["x"]}]' },
    });
    expect(r).toEqual({
      ok: false,
      error: {
        code: 'INVALID_ANNOTATION',
        message:
          'unknown field `ipv4s` in item 0 of ipam.spidernet.io/ippools; did you mean `ipv4`?',
      },
    });
  });
});

describe('planAdd: multi-NIC, dual stack, routes', () => {
  it('dual stack: one IPv4 and one IPv6 candidate list per NIC', () => {
    const r = plan({
      annotations: {
        ...TUTORIAL_MULTUS,
        'ipam.spidernet.io/ippools':
          '[{"interface":"eth0","ipv4":["ippool-test-ens192"],"ipv6":["v6-eth0"]},{"interface":"net1","ipv4":["ippool-test-ens224"],"ipv6":["v6-net1"],"cleangateway":true}]',
      },
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(
      r.value.map((n) => ({
        ifName: n.ifName,
        fam: n.families.map((f) => `${f.family}:${f.pools.join(',')}`),
        clean: n.cleanGateway,
        dflt: n.defaultRoute,
      })),
    ).toEqual([
      { ifName: 'eth0', fam: ['4:ippool-test-ens192', '6:v6-eth0'], clean: false, dflt: true },
      { ifName: 'net1', fam: ['4:ippool-test-ens224', '6:v6-net1'], clean: true, dflt: false },
    ]);
  });

  it('the NIC of the call comes first; default-route-nic moves the default route', () => {
    const r = plan({
      ifName: 'net1',
      annotations: {
        ...TUTORIAL_MULTUS,
        'ipam.spidernet.io/ippools': TUTORIAL_IPPOOLS,
        'ipam.spidernet.io/default-route-nic': 'net1',
      },
    });
    expect(r.ok && r.value.map((n) => [n.ifName, n.defaultRoute])).toEqual([
      ['net1', true],
      ['eth0', false],
    ]);
  });
});

describe('planAdd: filters say why each pool was dropped', () => {
  const only = (p: ReturnType<typeof pool>) => [p];
  const ask = { 'ipam.spidernet.io/ippool': '{"ipv4":["p"]}' };
  it.each([
    ['missing', [], 'pool "p" does not exist'],
    [
      'terminating',
      only(
        pool(
          'p',
          { subnet: '10.1.0.0/16', ips: ['10.1.0.1'] },
          { metadata: { name: 'p', deletionTimestamp: '2026-01-01T00:00:00Z' } },
        ),
      ),
      'pool "p" is terminating',
    ],
    [
      'disabled',
      only(pool('p', { subnet: '10.1.0.0/16', ips: ['10.1.0.1'], disable: true })),
      'pool "p" is disabled (spec.disable: true)',
    ],
    [
      'node name',
      only(pool('p', { subnet: '10.1.0.0/16', nodeName: ['node2'] })),
      'pool "p" is limited to nodes ["node2"] (this is node1)',
    ],
    [
      'node affinity',
      only(pool('p', { subnet: '10.1.0.0/16', nodeAffinity: { matchLabels: { zone: 'z2' } } })),
      'pool "p" nodeAffinity does not match node node1',
    ],
    [
      'namespace name',
      only(pool('p', { subnet: '10.1.0.0/16', namespaceName: ['prod'] })),
      'pool "p" is limited to namespaces ["prod"] (pod is in default)',
    ],
    [
      'namespace affinity',
      only(
        pool('p', {
          subnet: '10.1.0.0/16',
          namespaceAffinity: {
            matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['x'] }],
          },
        }),
      ),
      'pool "p" namespaceAffinity does not match namespace default',
    ],
    [
      'pod affinity',
      only(pool('p', { subnet: '10.1.0.0/16', podAffinity: { matchLabels: { app: 'b' } } })),
      'pool "p" podAffinity does not match the pod labels',
    ],
    [
      'multus name',
      only(pool('p', { subnet: '10.1.0.0/16', multusName: ['kube-system/other'] })),
      'pool "p" serves NetworkAttachmentDefinitions ["kube-system/other"], this NIC comes from the cluster network',
    ],
  ])('%s', (_n, pools, reason) => {
    const r = plan({ annotations: ask, pools });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('NO_AVAILABLE_POOL');
      expect(r.error.message).toContain(reason);
    }
  });

  it('a pool of the other family is not a candidate; ipVersion unset counts as the subnet family', () => {
    const r = plan({ annotations: { 'ipam.spidernet.io/ippool': '{"ipv4":["v6-eth0"]}' } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain('pool "v6-eth0" is IPv6, this list asks for IPv4');
  });

  it('keeps passing pools and drops the others', () => {
    const pools = [
      pool('a', { subnet: '10.1.0.0/16', disable: true }),
      pool('b', { subnet: '10.2.0.0/16', multusName: ['macvlan-conf-ens192'] }),
    ];
    const r = plan({
      annotations: { ...TUTORIAL_MULTUS, 'ipam.spidernet.io/ippool': '{"ipv4":["a","b"]}' },
      pools,
    });
    expect(r.ok && r.value[0]?.families[0]?.pools).toEqual(['b']);
  });
});

describe('selectorMatches', () => {
  it.each([
    [undefined, true],
    [{}, true],
    [{ matchLabels: { app: 'a' } }, true],
    [{ matchLabels: { app: 'b' } }, false],
    [{ matchExpressions: [{ key: 'app', operator: 'In' as const, values: ['a', 'b'] }] }, true],
    [{ matchExpressions: [{ key: 'app', operator: 'DoesNotExist' as const }] }, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'Exists' as const }] }, false],
  ])('%j → %s', (sel, want) => expect(selectorMatches(sel, { app: 'a' })).toBe(want));
});

describe('planAdd: 5000 pools', () => {
  it('a wildcard over 5000 pools of 253-character names, one usable, plans in under 50 ms', () => {
    const pools = Array.from({ length: 5000 }, (_, i) =>
      pool(`team-${String(i).padStart(4, '0')}-${'x'.repeat(243)}`, {
        subnet: '10.0.0.0/8',
        disable: i !== 4999,
      }),
    );
    const input = planInput({
      annotations: { 'ipam.spidernet.io/ippool': '{"ipv4":["team-*"]}' },
      pools,
    });
    let ms = Infinity;
    let r = planAdd(input);
    // Best of three, each on a fresh array as the allocator's store hands out: the index
    // is rebuilt every time, as in production.
    for (let run = 0; run < 3; run++) {
      const fresh = { ...input, pools: [...pools] };
      const t0 = performance.now();
      r = planAdd(fresh);
      ms = Math.min(ms, performance.now() - t0);
    }
    expect(r.ok && r.value[0]?.families[0]?.pools).toEqual([`team-4999-${'x'.repeat(243)}`]);
    expect(ms).toBeLessThan(50);
  });
});

describe('planAdd: the NICs an ippools list serves (one parse for all of them)', () => {
  const nics = (r: ReturnType<typeof plan>): unknown =>
    r.ok ? r.value.map((n) => [n.ifName, ...(n.families[0]?.pools ?? [])]) : r.error;
  const from = (ifName: string, ippools: string): unknown =>
    nics(
      plan({ ifName, annotations: { ...TUTORIAL_MULTUS, 'ipam.spidernet.io/ippools': ippools } }),
    );

  it("the call's NIC first, then the others in the pod's order, whatever the list's order", () => {
    const both = [
      ['net1', 'ippool-test-ens224'],
      ['eth0', 'ippool-test-ens192'],
    ];
    // Unnamed: item i serves the pod's i-th NIC.
    expect(
      from('net1', '[{"ipv4":["ippool-test-ens192"]},{"ipv4":["ippool-test-ens224"]}]'),
    ).toEqual(both);
    // Named, listing a NIC the pod does not have: that one is not planned.
    expect(
      from(
        'net1',
        '[{"interface":"net7","ipv4":["ippool-test-ens192"]},{"interface":"eth0","ipv4":["ippool-test-ens192"]},{"interface":"net1","ipv4":["ippool-test-ens224"]}]',
      ),
    ).toEqual(both);
  });

  it('a NIC the list does not serve is refused, naming the NICs it does', () => {
    expect(from('net1', '[{"ipv4":["ippool-test-ens192"]}]')).toEqual({
      code: 'INVALID_ANNOTATION',
      message:
        'interface "net1" has no item in ipam.spidernet.io/ippools (its 1 unnamed items serve eth0)',
    });
  });
});
