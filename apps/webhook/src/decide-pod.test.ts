import { describe, expect, it } from '@jest/globals';
import { decidePodLike } from './decide-pod.ts';
import type { Snapshot } from './snapshot.ts';
import { deployment, MULTUS, podObj, pool, snapshot } from '../test/fixtures.ts';

const P = 'ipam.spidernet.io/';
const ippools = (items: object[]): Record<string, string> => ({
  ...MULTUS,
  [`${P}ippools`]: JSON.stringify(items),
});
const eth0net1 = (a: string[], b: string[]): Record<string, string> =>
  ippools([
    { interface: 'eth0', ipv4: a },
    { interface: 'net1', ipv4: b },
  ]);
const T = 'spec.template.metadata.annotations: ';

/** [name, kind, object, namespace, exact reason] */
const bad: readonly [string, string, object, string, string][] = [
  [
    'ippools not JSON',
    'Deployment',
    deployment({ [`${P}ippools`]: '[{"interface":"eth0",' }),
    'default',
    `${T}invalid JSON (Expected double-quoted property name in JSON at position 21 (line 1 column 22)) in ipam.spidernet.io/ippools`,
  ],
  [
    'ippools empty',
    'Deployment',
    deployment({ [`${P}ippools`]: '[]' }),
    'default',
    `${T}the list is empty in ipam.spidernet.io/ippools`,
  ],
  [
    'ippools unknown field',
    'Pod',
    podObj(
      ippools([
        { interface: 'eth0', ipv4s: ['ippool-test-ens192'] },
        { interface: 'net1', ipv4: ['ippool-test-ens224'] },
      ]),
    ),
    'default',
    'unknown field `ipv4s` in item 0 of ipam.spidernet.io/ippools; did you mean `ipv4`?',
  ],
  [
    'ippools mixed interface',
    'Deployment',
    deployment(
      ippools([
        { interface: 'eth0', ipv4: ['ippool-test-ens192'] },
        { ipv4: ['ippool-test-ens224'] },
      ]),
    ),
    'default',
    `${T}\`interface\` is missing (set \`interface\` on every item or on none) in item 1 of ipam.spidernet.io/ippools`,
  ],
  [
    'ippools duplicate interface',
    'Deployment',
    deployment(
      ippools([
        { interface: 'eth0', ipv4: ['ippool-test-ens192'] },
        { interface: 'eth0', ipv4: ['ippool-test-ens224'] },
      ]),
    ),
    'default',
    `${T}interface "eth0" is also given in item 0 at interface of item 1 of ipam.spidernet.io/ippools`,
  ],
  [
    'ippools bad interface name',
    'Deployment',
    deployment(ippools([{ interface: 'eth0/1', ipv4: ['ippool-test-ens192'] }])),
    'default',
    `${T}interface name "eth0/1" contains "/", ":" or whitespace at interface of item 0 of ipam.spidernet.io/ippools`,
  ],
  [
    'ippools interface the pod lacks',
    'Deployment',
    deployment(
      ippools([
        { interface: 'eth0', ipv4: ['ippool-test-ens192'] },
        { interface: 'net2', ipv4: ['ippool-test-ens224'] },
      ]),
    ),
    'default',
    `${T}interface "net2" in ipam.spidernet.io/ippools is not one of the pod's interfaces from its Multus annotations (eth0, net1)`,
  ],
  [
    'ippools missing pool',
    'Deployment',
    deployment(eth0net1(['nope'], ['ippool-test-ens224'])),
    'default',
    `${T}ipam.spidernet.io/ippools[0].ipv4[0]: SpiderIPPool "nope" does not exist`,
  ],
  [
    'ippools wildcard matches nothing',
    'Deployment',
    deployment(eth0net1(['ippool-x-*'], ['ippool-test-ens224'])),
    'default',
    `${T}ipam.spidernet.io/ippools[0].ipv4[0]: pattern "ippool-x-*" matches no IPv4 SpiderIPPool`,
  ],
  [
    'ippools IPv6 pool under ipv4',
    'Deployment',
    deployment(eth0net1(['v6-pool'], ['ippool-test-ens224'])),
    'default',
    `${T}ipam.spidernet.io/ippools[0].ipv4[0]: pool "v6-pool" is IPv6, this list asks for IPv4`,
  ],
  [
    'ippools disabled pool',
    'Deployment',
    deployment(eth0net1(['off'], ['ippool-test-ens224'])),
    'default',
    `${T}ipam.spidernet.io/ippools[0].ipv4[0]: pool "off" is disabled (spec.disable: true)`,
  ],
  [
    'ippools terminating pool',
    'Deployment',
    deployment(eth0net1(['ippool-test-ens192'], ['going'])),
    'default',
    `${T}ipam.spidernet.io/ippools[1].ipv4[0]: pool "going" is terminating`,
  ],
  [
    'ippools pool of another namespace',
    'Deployment',
    deployment(eth0net1(['prod-only'], ['ippool-test-ens224'])),
    'default',
    `${T}ipam.spidernet.io/ippools[0].ipv4[0]: pool "prod-only" is limited to namespaces ["prod"] (pod is in default)`,
  ],
  [
    'ippools namespace affinity',
    'Deployment',
    deployment(eth0net1(['team-y'], ['ippool-test-ens224'])),
    'default',
    `${T}ipam.spidernet.io/ippools[0].ipv4[0]: pool "team-y" namespaceAffinity does not match namespace default`,
  ],
  [
    'ippools pod affinity',
    'Deployment',
    deployment(eth0net1(['db-only'], ['ippool-test-ens224'])),
    'default',
    `${T}ipam.spidernet.io/ippools[0].ipv4[0]: pool "db-only" podAffinity does not match the pod labels`,
  ],
  [
    'ippools leaves a nicpool NIC out',
    'Deployment',
    deployment(ippools([{ interface: 'eth0', ipv4: ['ippool-test-ens192'] }])),
    'default',
    `${T}ipam.spidernet.io/ippools: interface "net1" (NetworkAttachmentDefinition kube-system/macvlan-conf-ens224, IPAM spiderpool) is not listed, so it would get no address`,
  ],
  [
    'ippool not an object',
    'Pod',
    podObj({ [`${P}ippool`]: '["ippool-test-ens192"]' }),
    'default',
    'expected an object like {"ipv4":["pool"]}, got an array in ipam.spidernet.io/ippool',
  ],
  [
    'ippool missing pool',
    'Pod',
    podObj({ [`${P}ippool`]: '{"ipv4":["ghost"]}' }),
    'default',
    'ipam.spidernet.io/ippool.ipv4[0]: SpiderIPPool "ghost" does not exist',
  ],
  [
    'subnets on a bare Pod',
    'Pod',
    podObj({
      ...MULTUS,
      [`${P}subnets`]:
        '[{"interface":"eth0","ipv4":["subnet-test-ens192"]},{"interface":"net1","ipv4":["subnet-test-ens224"]}]',
    }),
    'default',
    'ipam.spidernet.io/subnets: a Pod without a controller cannot use a SpiderSubnet (auto-pools belong to a Deployment, StatefulSet, …); name pools with ipam.spidernet.io/ippools instead',
  ],
  [
    'subnets missing subnet',
    'Deployment',
    deployment({
      ...MULTUS,
      [`${P}subnets`]:
        '[{"interface":"eth0","ipv4":["subnet-test-ens192"]},{"interface":"net1","ipv4":["nope"]}]',
    }),
    'default',
    `${T}ipam.spidernet.io/subnets[1].ipv4[0]: SpiderSubnet "nope" does not exist`,
  ],
  [
    'subnets wrong family',
    'Deployment',
    deployment({
      ...MULTUS,
      [`${P}subnets`]:
        '[{"interface":"eth0","ipv4":["subnet-v6"]},{"interface":"net1","ipv4":["subnet-test-ens224"]}]',
    }),
    'default',
    `${T}ipam.spidernet.io/subnets[0].ipv4[0]: SpiderSubnet "subnet-v6" is IPv6, listed under ipv4`,
  ],
  [
    'subnets wildcard',
    'Deployment',
    deployment({ [`${P}subnets`]: '[{"interface":"eth0","ipv4":["subnet-*"]}]' }),
    'default',
    `${T}subnet name "subnet-*" has a wildcard; subnets must be named exactly at ipv4[0] of item 0 of ipam.spidernet.io/subnets`,
  ],
  [
    'subnet same subnet twice',
    'Deployment',
    deployment({
      ...MULTUS,
      [`${P}subnets`]:
        '[{"interface":"eth0","ipv4":["subnet-test-ens192"]},{"interface":"net1","ipv4":["subnet-test-ens192"]}]',
    }),
    'default',
    `${T}subnet "subnet-test-ens192" is already used by item 0; each NIC needs its own subnet at ipv4[0] of item 1 of ipam.spidernet.io/subnets`,
  ],
  [
    'ip-number malformed',
    'Deployment',
    deployment({
      [`${P}subnet`]: '{"ipv4":["subnet-test-ens192"]}',
      [`${P}ippool-ip-number`]: '+two',
    }),
    'default',
    `${T}"+two" is not "N" (a fixed size) or "+N" (replicas plus N) in ipam.spidernet.io/ippool-ip-number`,
  ],
  [
    'reclaim malformed',
    'StatefulSet',
    {
      kind: 'StatefulSet',
      spec: {
        template: {
          metadata: {
            annotations: {
              [`${P}subnet`]: '{"ipv4":["subnet-test-ens192"]}',
              [`${P}ippool-reclaim`]: 'maybe',
            },
          },
        },
      },
    },
    'default',
    `${T}"maybe" is not "true" or "false" in ipam.spidernet.io/ippool-reclaim`,
  ],
  [
    'routes default route',
    'DaemonSet',
    {
      kind: 'DaemonSet',
      spec: {
        template: {
          metadata: {
            annotations: {
              [`${P}ippool`]: '{"ipv4":["ippool-test-ens192"]}',
              [`${P}routes`]: '[{"dst":"0.0.0.0/0","gw":"10.6.0.254"}]',
            },
          },
        },
      },
    },
    'default',
    `${T}"0.0.0.0/0" is a default route; choose its NIC with ipam.spidernet.io/default-route-nic at dst of item 0 of ipam.spidernet.io/routes`,
  ],
  [
    'default-route-nic not a NIC of the pod',
    'Job',
    {
      kind: 'Job',
      spec: {
        template: {
          metadata: {
            annotations: {
              ...MULTUS,
              [`${P}ippools`]: JSON.stringify([
                { interface: 'eth0', ipv4: ['ippool-test-ens192'] },
                { interface: 'net1', ipv4: ['ippool-test-ens224'] },
              ]),
              [`${P}default-route-nic`]: 'net3',
            },
          },
        },
      },
    },
    'default',
    `${T}interface "net3" in ipam.spidernet.io/default-route-nic is not one of the pod's interfaces from its Multus annotations (eth0, net1)`,
  ],
  [
    'CronJob template',
    'CronJob',
    {
      kind: 'CronJob',
      spec: {
        jobTemplate: {
          spec: {
            template: { metadata: { annotations: { [`${P}ippool`]: '{"ipv4":["ghost"]}' } } },
          },
        },
      },
    },
    'default',
    'spec.jobTemplate.spec.template.metadata.annotations: ipam.spidernet.io/ippool.ipv4[0]: SpiderIPPool "ghost" does not exist',
  ],
  [
    'Multus networks malformed',
    'ReplicaSet',
    {
      kind: 'ReplicaSet',
      spec: {
        template: {
          metadata: {
            annotations: {
              'k8s.v1.cni.cncf.io/networks': 'a/b/c',
              [`${P}ippool`]: '{"ipv4":["ippool-test-ens192"]}',
            },
          },
        },
      },
    },
    'default',
    `${T}"a/b/c" is not of the form "namespace/name@interface" (namespace and @interface optional) in item 0 of k8s.v1.cni.cncf.io/networks`,
  ],
];

describe('pods and workloads: denials with the exact reason', () => {
  it('has at least 25 distinct bad inputs', () => {
    expect(new Set(bad.map((b) => b[0])).size).toBe(bad.length);
    expect(bad.length).toBeGreaterThanOrEqual(25);
  });

  it.each(bad)('%s', (_name, kind, obj, ns, reason) => {
    const d = decidePodLike(kind, obj, ns, snapshot());
    expect(d.allowed).toBe(false);
    expect(d.reason).toBe(reason);
  });
});

describe('pods and workloads: admitted', () => {
  it('the tutorial Deployments', () => {
    const snap = snapshot();
    expect(
      decidePodLike(
        'Deployment',
        deployment(eth0net1(['ippool-test-ens192'], ['ippool-test-ens224']), 1),
        'default',
        snap,
      ),
    ).toEqual({ allowed: true, warnings: [] });
    const subnets = {
      ...MULTUS,
      [`${P}subnets`]:
        '[{"interface":"eth0","ipv4":["subnet-test-ens192"]},{"interface":"net1","ipv4":["subnet-test-ens224"]}]',
      [`${P}ippool-ip-number`]: '+1',
    };
    expect(decidePodLike('Deployment', deployment(subnets), 'default', snap)).toEqual({
      allowed: true,
      warnings: [],
    });
  });

  it('objects without nicpool annotations are not judged', () => {
    expect(
      decidePodLike(
        'Pod',
        podObj({ 'k8s.v1.cni.cncf.io/networks': 'a/b/c' }),
        'default',
        snapshot(),
      ),
    ).toEqual({ allowed: true, warnings: [] });
  });

  it('a pool serving the namespace and labels is fine; a node-limited pool is fine', () => {
    expect(
      decidePodLike(
        'Deployment',
        deployment({ [`${P}ippool`]: '{"ipv4":["prod-only"]}' }),
        'prod',
        snapshot(),
      ).allowed,
    ).toBe(true);
    expect(
      decidePodLike(
        'Deployment',
        deployment({ [`${P}ippool`]: '{"ipv4":["db-only"]}' }, 1, { app: 'db' }),
        'default',
        snapshot(),
      ).allowed,
    ).toBe(true);
  });

  it('warns: both ippool and ippools; a full pool; fewer free addresses than replicas', () => {
    const d = decidePodLike(
      'Deployment',
      deployment(
        {
          [`${P}ippools`]: '[{"interface":"eth0","ipv4":["full","small"]}]',
          [`${P}ippool`]: '{"ipv4":["small"]}',
        },
        3,
      ),
      'default',
      snapshot(),
    );
    expect(d).toEqual({
      allowed: true,
      warnings: [
        `${T}ipam.spidernet.io/ippool is ignored because ipam.spidernet.io/ippools is set (it takes precedence)`,
        `${T}ipam.spidernet.io/ippools[0].ipv4[0]: pool "full" has no free address`,
        `${T}ipam.spidernet.io/ippools[0].ipv4[1]: pool "small" has 2 free addresses for 3 replicas`,
      ],
    });
  });
});

describe('updates', () => {
  it('an update that keeps the network annotations is admitted even if a pool went bad since', async () => {
    const { decide } = await import('./admission.ts');
    const annotations = { 'ipam.spidernet.io/ippool': '{"ipv4":["off"]}' };
    const old = podObj(annotations);
    const updated = {
      ...(old as { metadata: object }),
      metadata: {
        ...(old as { metadata: { annotations: object } }).metadata,
        annotations: { ...annotations, 'k8s.v1.cni.cncf.io/network-status': '[]' },
      },
    };
    const review = (operation: string, object: unknown, oldObject?: unknown) => ({
      apiVersion: 'admission.k8s.io/v1' as const,
      kind: 'AdmissionReview' as const,
      request: {
        uid: 'u',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        operation,
        namespace: 'default',
        object,
        oldObject,
      },
    });
    expect(decide(review('UPDATE', updated, old), false, snapshot())).toEqual({
      allowed: true,
      warnings: [],
    });
    // Changing the nicpool annotation is judged again.
    const changed = podObj({ 'ipam.spidernet.io/ippool': '{"ipv4":["going"]}' });
    expect(decide(review('UPDATE', changed, old), false, snapshot()).allowed).toBe(false);
    expect(decide(review('CREATE', old), false, snapshot()).allowed).toBe(false);
  });
});

// Issue #12 item 3: the webhook refuses a NIC only when no pool its list matches could serve
// it at CNI ADD (the planner skips the others); each skipped pool is a warning.
describe('admission agrees with allocation', () => {
  const withPools = (...extra: ReturnType<typeof pool>[]) => {
    const s = snapshot();
    return { ...s, pools: [...s.pools, ...extra] };
  };
  const teamA = pool('team-a', { subnet: '10.20.0.0/16', ips: ['10.20.0.10'], disable: true });
  const teamB = pool('team-b', { subnet: '10.21.0.0/16', ips: ['10.21.0.10-10.21.0.20'] });
  const m224 = pool('m224', {
    subnet: '10.22.0.0/16',
    ips: ['10.22.0.10-10.22.0.20'],
    multusName: ['kube-system/macvlan-conf-ens224'],
  });
  const ippool = (list: string[]): Record<string, string> => ({
    [`${P}ippool`]: JSON.stringify({ ipv4: list }),
  });
  const AT = `${T}ipam.spidernet.io/ippool.ipv4`;

  it('team-* with team-a disabled and team-y excluded by namespace affinity: allowed, warned', () => {
    const d = decidePodLike(
      'Deployment',
      deployment(ippool(['team-*'])),
      'default',
      withPools(teamA, teamB),
    );
    expect(d).toEqual({
      allowed: true,
      warnings: [
        `${AT}[0]: pool "team-a" is disabled (spec.disable: true); skipped (usable: "team-b")`,
        `${AT}[0]: pool "team-y" namespaceAffinity does not match namespace default; skipped (usable: "team-b")`,
      ],
    });
  });

  it('migration: old pool terminating or already gone, new pool listed: allowed, warned', () => {
    const d = decidePodLike(
      'Deployment',
      deployment(eth0net1(['going', 'ippool-test-ens192'], ['gone', 'ippool-test-ens224']), 1),
      'default',
      snapshot(),
    );
    expect(d).toEqual({
      allowed: true,
      warnings: [
        `${T}ipam.spidernet.io/ippools[0].ipv4[0]: pool "going" is terminating; skipped (usable: "ippool-test-ens192")`,
        `${T}ipam.spidernet.io/ippools[1].ipv4[0]: SpiderIPPool "gone" does not exist; skipped (usable: "ippool-test-ens224")`,
      ],
    });
  });

  it('affinity-excluded pools next to a usable one: allowed, warned; free-address warnings stay', () => {
    const d = decidePodLike(
      'Deployment',
      deployment(ippool(['db-only', 'prod-only', 'v6-pool', 'small']), 3),
      'default',
      snapshot(),
    );
    expect(d).toEqual({
      allowed: true,
      warnings: [
        `${AT}[0]: pool "db-only" podAffinity does not match the pod labels; skipped (usable: "small")`,
        `${AT}[1]: pool "prod-only" is limited to namespaces ["prod"] (pod is in default); skipped (usable: "small")`,
        `${AT}[2]: pool "v6-pool" is IPv6, this list asks for IPv4; skipped (usable: "small")`,
        `${AT}[3]: pool "small" has 2 free addresses for 3 replicas`,
      ],
    });
  });

  it('nothing usable: refused, naming each pool and why', () => {
    const d = decidePodLike(
      'Deployment',
      deployment(ippool(['off', 'going', 'prod-only', 'db-only', 'nope', 'v6-pool', 'team-z*'])),
      'default',
      withPools(teamA),
    );
    expect(d.allowed).toBe(false);
    expect(d.reason).toBe(
      [
        `${AT}[0]: pool "off" is disabled (spec.disable: true)`,
        `${AT}[1]: pool "going" is terminating`,
        `${AT}[2]: pool "prod-only" is limited to namespaces ["prod"] (pod is in default)`,
        `${AT}[3]: pool "db-only" podAffinity does not match the pod labels`,
        `${AT}[4]: SpiderIPPool "nope" does not exist`,
        `${AT}[5]: pool "v6-pool" is IPv6, this list asks for IPv4`,
        `${AT}[6]: pattern "team-z*" matches no IPv4 SpiderIPPool`,
      ].join('\n'),
    );
  });

  it('a wildcard that matches nothing next to a usable pool is a warning', () => {
    const d = decidePodLike(
      'Deployment',
      deployment(ippool(['team-z*', 'small']), 1),
      'default',
      snapshot(),
    );
    expect(d).toEqual({
      allowed: true,
      warnings: [
        `${AT}[0]: pattern "team-z*" matches no IPv4 SpiderIPPool; skipped (usable: "small")`,
      ],
    });
  });

  it('multusName: a pool for another NAD is refused at admission, with the planner message', () => {
    const wrong = decidePodLike(
      'Deployment',
      deployment(eth0net1(['m224'], ['ippool-test-ens224'])),
      'default',
      withPools(m224),
    );
    expect(wrong.allowed).toBe(false);
    expect(wrong.reason).toBe(
      `${T}ipam.spidernet.io/ippools[0].ipv4[0]: pool "m224" serves NetworkAttachmentDefinitions ["kube-system/macvlan-conf-ens224"], this NIC comes from kube-system/macvlan-conf-ens192`,
    );
    const right = decidePodLike(
      'Deployment',
      deployment(eth0net1(['ippool-test-ens192'], ['m224']), 1),
      'default',
      withPools(m224),
    );
    expect(right).toEqual({ allowed: true, warnings: [] });
  });

  it('multusName with ippool: every NIC that asks nicpool must be served', () => {
    const d = decidePodLike(
      'Pod',
      podObj({ ...MULTUS, ...ippool(['m224']) }),
      'default',
      withPools(m224),
    );
    expect(d.allowed).toBe(false);
    expect(d.reason).toBe(
      'ipam.spidernet.io/ippool.ipv4[0]: interface eth0: pool "m224" serves NetworkAttachmentDefinitions ["kube-system/macvlan-conf-ens224"], this NIC comes from kube-system/macvlan-conf-ens192',
    );
    // Only net1 asks nicpool (eth0 is the cluster network): m224 serves it.
    const netOnly = decidePodLike(
      'Pod',
      podObj({
        'k8s.v1.cni.cncf.io/networks': 'kube-system/macvlan-conf-ens224',
        ...ippool(['m224']),
      }),
      'default',
      withPools(m224),
    );
    expect(netOnly).toEqual({ allowed: true, warnings: [] });
  });
});

describe('admission over 5000 pools', () => {
  // 253-character names (the longest a pool may have), all matched by one wildcard.
  const big = (usable: boolean) => {
    const s = snapshot();
    const many = Array.from({ length: 5000 }, (_, i) =>
      pool(`team-${String(i).padStart(4, '0')}-${'x'.repeat(243)}`, {
        subnet: '10.0.0.0/8',
        ips: [`10.${i >> 8}.${i & 255}.1`],
        disable: !(usable && i === 4999),
      }),
    );
    return { ...s, pools: [...s.pools, ...many] };
  };
  const obj = deployment({ [`${P}ippool`]: '{"ipv4":["team-*"]}' }, 1);
  const timed = (snap: Snapshot) => {
    let ms = Infinity;
    let d = decidePodLike('Deployment', obj, 'default', snap);
    // Best of three on one snapshot (its index is memoized): bounds the work, not the JIT.
    for (let run = 0; run < 3; run++) {
      const t0 = performance.now();
      d = decidePodLike('Deployment', obj, 'default', snap);
      ms = Math.min(ms, performance.now() - t0);
    }
    return { d, ms };
  };
  const last = `team-4999-${'x'.repeat(243)}`;

  it('one usable pool among 5000: allowed, 20 warning lines at most, under 50 ms', () => {
    const { d, ms } = timed(big(true));
    expect(d.allowed).toBe(true);
    // team-y (namespace affinity) is matched too: 5000 skipped in all.
    expect(d.warnings).toHaveLength(20);
    expect(d.warnings.at(-1)).toBe(
      `${T}ipam.spidernet.io/ippool.ipv4[0]: and 4981 more pools; skipped (usable: "${last}")`,
    );
    expect(ms).toBeLessThan(50);
  });

  it('none usable: refused with 20 lines at most, under 50 ms', () => {
    const { d, ms } = timed(big(false));
    expect(d.allowed).toBe(false);
    const lines = (d.reason ?? '').split('\n');
    expect(lines).toHaveLength(20);
    expect(lines[0]).toBe(
      `${T}ipam.spidernet.io/ippool.ipv4[0]: pool "team-0000-${'x'.repeat(243)}" is disabled (spec.disable: true)`,
    );
    expect(lines.at(-1)).toBe(
      `${T}ipam.spidernet.io/ippool.ipv4[0]: and 4982 more pools that cannot serve it`,
    );
    expect(ms).toBeLessThan(50);
  });
});
