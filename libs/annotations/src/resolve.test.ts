import { describe, expect, it } from '@jest/globals';
import fc, { type Arbitrary } from 'fast-check';
import { err, ok, type Result } from '@nicpool/result';
import { annotationMap, fuzzParams, nameish } from '@nicpool/testing';
import {
  AnnotationErrorCode as C,
  firstSubnet,
  matchPoolNames,
  MultusAnnotation as M,
  NamespaceAnnotation as N,
  parseNetworks,
  PodAnnotation as P,
  podInterfaceNames,
  parseIPPool,
  parseIPPools,
  parseNamespaceDefaultPools,
  parseSelection,
  parseSubnet,
  parseSubnets,
  podInterfaces,
  resolveSelection,
  selectionFor,
  type AnnotationError,
  type ResolveInput,
  type Selection,
  type SubnetItem,
} from './index.ts';

const input = (over: Partial<ResolveInput>): ResolveInput => ({
  podAnnotations: {},
  namespaceAnnotations: {},
  interface: 'eth0',
  ...over,
});

describe('interface naming as Multus does it', () => {
  it.each([
    ['a', ['eth0', 'net1']],
    ['a,b,c', ['eth0', 'net1', 'net2', 'net3']],
    ['ns/a@sriov0,b', ['eth0', 'sriov0', 'net2']],
    ['a, ns/b@x1 ,c', ['eth0', 'net1', 'x1', 'net3']],
    [
      '[{"name":"a","interface":"data"},{"name":"b","namespace":"ns","mac":"aa:bb"}]',
      ['eth0', 'data', 'net2'],
    ],
  ])('%s → %j', (value, names) => {
    const r = parseNetworks(value);
    expect(r.ok).toBe(true);
    if (r.ok) expect(podInterfaceNames(r.value)).toEqual(names);
  });

  it('keeps namespace and interface of each network', () => {
    const r = podInterfaces({
      [M.defaultNetwork]: 'kube-system/macvlan-conf-ens192',
      [M.networks]: 'kube-system/macvlan-conf-ens224',
    });
    expect(r).toEqual({
      ok: true,
      value: [
        {
          name: 'eth0',
          index: 0,
          network: { name: 'macvlan-conf-ens192', namespace: 'kube-system' },
        },
        {
          name: 'net1',
          index: 1,
          network: { name: 'macvlan-conf-ens224', namespace: 'kube-system' },
        },
      ],
    });
  });
});

describe('precedence: first level that applies wins, levels never merge', () => {
  const all = {
    [P.subnets]:
      '[{"interface":"eth0","ipv4":["s4","s4b"],"ipv6":["s6"]},{"interface":"net1","ipv4":["t4"]}]',
    [P.subnet]: '{"ipv4":["x"]}',
    [P.ippools]:
      '[{"interface":"eth0","ipv4":["p1"]},{"interface":"net1","ipv4":["p2"],"cleangateway":true}]',
    [P.ippool]: '{"ipv4":["q"]}',
  };
  const ns = { [N.defaultIPv4IPPool]: '["ns-a","ns-b*"]', [N.defaultIPv6IPPool]: '["ns6"]' };
  const netconfDefaults = { ipv4: ['nc4'], ipv6: [] };
  const clusterDefaultPools = [
    { name: 'd4', ipVersion: 4 as const },
    { name: 'd6', ipVersion: 6 as const },
  ];

  it('1. subnets, first name per family', () => {
    expect(resolveSelection(input({ podAnnotations: all, namespaceAnnotations: ns }))).toEqual({
      ok: true,
      value: {
        kind: 'subnet',
        source: 'subnets',
        interface: 'eth0',
        ipv4Subnet: 's4',
        ipv6Subnet: 's6',
      },
    });
  });
  it('1b. subnet (single NIC, eth0 by default)', () => {
    const { [P.subnets]: _, ...rest } = all;
    expect(resolveSelection(input({ podAnnotations: rest }))).toMatchObject({
      ok: true,
      value: { source: 'subnet', ipv4Subnet: 'x' },
    });
  });
  it('2. ippools, per interface', () => {
    const { [P.subnets]: _a, [P.subnet]: _b, ...rest } = all;
    expect(resolveSelection(input({ podAnnotations: rest, interface: 'net1' }))).toEqual({
      ok: true,
      value: {
        kind: 'pools',
        source: 'ippools',
        interface: 'net1',
        ipv4: ['p2'],
        ipv6: [],
        cleangateway: true,
      },
    });
  });
  it('2b. ippools unnamed form: item i is the i-th Multus interface', () => {
    const pod = {
      [M.networks]: 'ns/a@data,ns/b',
      [P.ippools]: '[{"ipv4":["e"]},{"ipv4":["d"]},{"ipv4":["n"]}]',
    };
    expect(resolveSelection(input({ podAnnotations: pod, interface: 'data' }))).toMatchObject({
      ok: true,
      value: { ipv4: ['d'] },
    });
    expect(resolveSelection(input({ podAnnotations: pod, interface: 'net2' }))).toMatchObject({
      ok: true,
      value: { ipv4: ['n'] },
    });
    expect(resolveSelection(input({ podAnnotations: pod, interface: 'net9' }))).toMatchObject({
      ok: false,
      error: [{ code: C.interfaceNotListed }],
    });
  });
  it('3. ippool', () => {
    expect(
      resolveSelection(input({ podAnnotations: { [P.ippool]: all[P.ippool] }, interface: 'net5' })),
    ).toMatchObject({
      ok: true,
      value: { source: 'ippool', interface: 'net5', ipv4: ['q'] },
    });
  });
  it('4. namespace defaults', () => {
    expect(
      resolveSelection(input({ namespaceAnnotations: ns, netconfDefaults, clusterDefaultPools })),
    ).toMatchObject({
      ok: true,
      value: { source: 'namespace', ipv4: ['ns-a', 'ns-b*'], ipv6: ['ns6'] },
    });
  });
  it('5. netconf defaults', () => {
    expect(resolveSelection(input({ netconfDefaults, clusterDefaultPools }))).toMatchObject({
      ok: true,
      value: { source: 'netconf', ipv4: ['nc4'], ipv6: [] },
    });
  });
  it('6. cluster default pools', () => {
    expect(resolveSelection(input({ clusterDefaultPools }))).toMatchObject({
      ok: true,
      value: { source: 'cluster-default', ipv4: ['d4'], ipv6: ['d6'] },
    });
  });
  it('none → no IPPool available', () => {
    expect(resolveSelection(input({}))).toEqual({
      ok: false,
      error: [
        {
          key: '',
          path: '',
          code: C.noPool,
          message: 'no IPPool available: no pool selection rule applies',
        },
      ],
    });
  });
  it('a NIC missing from the named form is an error, not a fall-through', () => {
    const r = resolveSelection(
      input({
        podAnnotations: { [P.ippools]: all[P.ippools] },
        interface: 'net2',
        clusterDefaultPools,
      }),
    );
    expect(r).toMatchObject({ ok: false, error: [{ code: C.interfaceNotListed, key: P.ippools }] });
    if (!r.ok)
      expect(r.error[0]?.message).toBe(
        'interface "net2" is not listed in ipam.spidernet.io/ippools (it lists "eth0", "net1")',
      );
  });
  it('an invalid annotation at a level is an error, not a fall-through', () => {
    expect(
      resolveSelection(input({ podAnnotations: { [P.ippool]: '{' }, clusterDefaultPools })),
    ).toMatchObject({
      ok: false,
      error: [{ code: C.invalidJSON, key: P.ippool }],
    });
    expect(
      resolveSelection(
        input({ namespaceAnnotations: { [N.defaultIPv4IPPool]: 'x' }, clusterDefaultPools }),
      ),
    ).toMatchObject({
      ok: false,
      error: [{ code: C.invalidJSON, key: N.defaultIPv4IPPool }],
    });
  });
  it('empty namespace lists do not apply', () => {
    expect(
      resolveSelection(
        input({ namespaceAnnotations: { [N.defaultIPv4IPPool]: '[]' }, netconfDefaults }),
      ),
    ).toMatchObject({
      ok: true,
      value: { source: 'netconf' },
    });
  });
});

describe('wildcards', () => {
  const pools = ['pool-b', 'pool-a', 'other', 'pool-10', 'pool-2'];
  it('expands in the order written, name order within a pattern, no repeats', () => {
    expect(matchPoolNames(['other', 'pool-*', 'pool-a'], pools)).toEqual([
      'other',
      'pool-10',
      'pool-2',
      'pool-a',
      'pool-b',
    ]);
    expect(matchPoolNames(['pool-?'], pools)).toEqual(['pool-2', 'pool-a', 'pool-b']);
    expect(matchPoolNames(['pool-[ab]'], pools)).toEqual(['pool-a', 'pool-b']);
    expect(matchPoolNames(['pool-[!ab]'], pools)).toEqual(['pool-2']);
    expect(matchPoolNames(['pool-[0-9]*'], pools)).toEqual(['pool-10', 'pool-2']);
    expect(matchPoolNames(['missing'], pools)).toEqual(['missing']);
  });
});

// The one-NIC resolveSelection that parsed the annotations on every call, kept verbatim
// as the oracle of parseSelection + selectionFor (which parse once for every NIC).
type Resolved = Result<Selection, AnnotationError[]>;
const Code = C;
const PodAnnotation = P;
const NamespaceAnnotation = N;
function fromSubnetItem(source: 'subnets' | 'subnet', item: SubnetItem): Selection {
  const v4 = firstSubnet(item, 4);
  const v6 = firstSubnet(item, 6);
  return {
    kind: 'subnet',
    source,
    interface: item.interface,
    ...(v4 === undefined ? {} : { ipv4Subnet: v4 }),
    ...(v6 === undefined ? {} : { ipv6Subnet: v6 }),
  };
}

function notListed(key: string, ifName: string, listed: readonly string[]): Resolved {
  return err([
    {
      key,
      path: '',
      code: Code.interfaceNotListed,
      message: `interface ${JSON.stringify(ifName)} is not listed in ${key} (it lists ${listed.map((l) => JSON.stringify(l)).join(', ') || 'none'})`,
    },
  ]);
}

function referenceResolve(input: ResolveInput): Resolved {
  const pod = input.podAnnotations;
  const ifName = input.interface;

  // 1. subnets / subnet
  const subnets = pod[PodAnnotation.subnets];
  if (subnets !== undefined) {
    const p = parseSubnets(subnets);
    if (!p.ok) return p;
    const item = p.value.find((i) => i.interface === ifName);
    if (item === undefined)
      return notListed(
        PodAnnotation.subnets,
        ifName,
        p.value.map((i) => i.interface),
      );
    return ok(fromSubnetItem('subnets', item));
  }
  const subnet = pod[PodAnnotation.subnet];
  if (subnet !== undefined) {
    const p = parseSubnet(subnet);
    if (!p.ok) return p;
    if (p.value.interface !== ifName)
      return notListed(PodAnnotation.subnet, ifName, [p.value.interface]);
    return ok(fromSubnetItem('subnet', p.value));
  }

  // 2. ippools
  const ippools = pod[PodAnnotation.ippools];
  if (ippools !== undefined) {
    const p = parseIPPools(ippools);
    if (!p.ok) return p;
    const namedForm = p.value[0]?.interface !== undefined;
    let item;
    if (namedForm) {
      item = p.value.find((i) => i.interface === ifName);
      if (item === undefined) {
        return notListed(
          PodAnnotation.ippools,
          ifName,
          p.value.map((i) => i.interface ?? ''),
        );
      }
    } else {
      // Unnamed form: item i is the pod's i-th interface in Multus's order.
      const nics = podInterfaces(pod);
      if (!nics.ok) return nics;
      const nic = nics.value.find((n) => n.name === ifName);
      item = nic === undefined ? undefined : p.value[nic.index];
      if (item === undefined) {
        return err([
          {
            key: PodAnnotation.ippools,
            path: '',
            code: Code.interfaceNotListed,
            message: `interface ${JSON.stringify(ifName)} has no item in ${PodAnnotation.ippools} (its ${p.value.length} unnamed items serve ${nics.value
              .slice(0, p.value.length)
              .map((n) => n.name)
              .join(', ')})`,
          },
        ]);
      }
    }
    return ok({
      kind: 'pools',
      source: 'ippools',
      interface: ifName,
      ipv4: item.ipv4,
      ipv6: item.ipv6,
      cleangateway: item.cleangateway,
    });
  }

  // 3. ippool
  const ippool = pod[PodAnnotation.ippool];
  if (ippool !== undefined) {
    const p = parseIPPool(ippool);
    if (!p.ok) return p;
    return ok({
      kind: 'pools',
      source: 'ippool',
      interface: ifName,
      ipv4: p.value.ipv4,
      ipv6: p.value.ipv6,
      cleangateway: p.value.cleangateway,
    });
  }

  // 4. namespace defaults
  const ns = input.namespaceAnnotations;
  const ns4 = ns[NamespaceAnnotation.defaultIPv4IPPool];
  const ns6 = ns[NamespaceAnnotation.defaultIPv6IPPool];
  if (ns4 !== undefined || ns6 !== undefined) {
    const errors: AnnotationError[] = [];
    const read = (
      key:
        typeof NamespaceAnnotation.defaultIPv4IPPool | typeof NamespaceAnnotation.defaultIPv6IPPool,
      v: string | undefined,
    ): string[] => {
      if (v === undefined) return [];
      const p = parseNamespaceDefaultPools(key, v);
      if (p.ok) return p.value;
      errors.push(...p.error);
      return [];
    };
    const ipv4 = read(NamespaceAnnotation.defaultIPv4IPPool, ns4);
    const ipv6 = read(NamespaceAnnotation.defaultIPv6IPPool, ns6);
    if (errors.length > 0) return err(errors);
    if (ipv4.length > 0 || ipv6.length > 0) {
      return ok({
        kind: 'pools',
        source: 'namespace',
        interface: ifName,
        ipv4,
        ipv6,
        cleangateway: false,
      });
    }
  }

  // 5. netconf defaults
  const nc = input.netconfDefaults;
  if (nc !== undefined && (nc.ipv4.length > 0 || nc.ipv6.length > 0)) {
    return ok({
      kind: 'pools',
      source: 'netconf',
      interface: ifName,
      ipv4: nc.ipv4,
      ipv6: nc.ipv6,
      cleangateway: false,
    });
  }

  // 6. cluster-default pools
  const defaults = input.clusterDefaultPools ?? [];
  if (defaults.length > 0) {
    return ok({
      kind: 'pools',
      source: 'cluster-default',
      interface: ifName,
      ipv4: defaults.filter((p) => p.ipVersion === 4).map((p) => p.name),
      ipv6: defaults.filter((p) => p.ipVersion === 6).map((p) => p.name),
      cleangateway: false,
    });
  }
  return err([
    {
      key: '',
      path: '',
      code: Code.noPool,
      message: 'no IPPool available: no pool selection rule applies',
    },
  ]);
}

describe('parse once, select per NIC (parseSelection + selectionFor)', () => {
  const ifNames = ['eth0', 'net1', 'net2', 'data', 'net9'];
  const pick = <T>(...xs: T[]): Arbitrary<T> => fc.constantFrom(...xs);
  // Mostly valid pool lists (so most cases get past parsing), now and then a bad name.
  const lists = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.uniqueArray(pick('p1', 'p2', 'team-*'), { minLength: 1, maxLength: 2 }),
    },
    { weight: 1, arbitrary: fc.array(pick('p1', '', 'a b'), { maxLength: 2 }) },
  );
  const json = (v: unknown): string => JSON.stringify(v);
  // Mostly valid Multus lists: 3-4 NICs, one renamed; now and then an invalid one.
  const networks = fc.oneof(
    { weight: 5, arbitrary: pick('ns/a@data,ns/b', 'a,b', 'a,b,c', 'a,ns/b@net1') },
    { weight: 1, arbitrary: pick('', 'ns/a@data,ns/b@data', ',') },
  );
  const named = fc
    .uniqueArray(
      fc.record({ interface: pick(...ifNames), ipv4: lists, cleangateway: fc.boolean() }),
      { selector: (i) => i.interface, minLength: 1, maxLength: 4 },
    )
    .map(json);
  const unnamed = fc
    .array(fc.record({ ipv4: lists, ipv6: fc.constant([]) }), { minLength: 1, maxLength: 4 })
    .map(json);
  const subnets = fc
    .uniqueArray(pick(...ifNames), { maxLength: 3 })
    .map((names) => json(names.map((n, i) => ({ interface: n, ipv4: [`s${i}`] }))));
  /** Without undefined values: a record's optional keys, present or absent. */
  const defined = (o: Record<string, string | undefined>): Record<string, string> =>
    Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => e[1] !== undefined));
  /** One level at a time (each form of ippools with the Multus NICs), all at once, or hostile. */
  const podAnnotations: Arbitrary<Record<string, string>> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ [M.networks]: networks, [P.ippools]: unnamed }) },
    {
      weight: 3,
      arbitrary: fc
        .record({ [M.networks]: networks, [P.ippools]: named }, { requiredKeys: [P.ippools] })
        .map(defined),
    },
    { weight: 1, arbitrary: fc.record({ [P.subnets]: subnets }) },
    {
      weight: 1,
      arbitrary: fc.record({
        [P.subnet]: fc.record({ interface: pick(...ifNames), ipv4: pick(['s1']) }).map(json),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        [P.ippool]: fc.record({ ipv4: lists, cleangateway: fc.boolean() }).map(json),
      }),
    },
    {
      weight: 2,
      arbitrary: fc
        .record(
          {
            [M.networks]: networks,
            [P.subnets]: subnets,
            [P.ippools]: fc.oneof(named, unnamed, pick('{', '[]', '[{"interface":"eth0"},{}]')),
            [P.ippool]: fc.record({ ipv4: lists }).map(json),
          },
          { requiredKeys: [] },
        )
        .map(defined),
    },
    { weight: 1, arbitrary: annotationMap },
  );
  const namespaceAnnotations = fc.oneof(
    fc.constant({}),
    fc
      .record(
        {
          [N.defaultIPv4IPPool]: lists.map(json),
          [N.defaultIPv6IPPool]: pick('[]', 'x', '["v6"]'),
        },
        { requiredKeys: [] },
      )
      .map(defined),
  );
  const defaults = fc.record(
    {
      netconfDefaults: fc.record({ ipv4: lists, ipv6: lists }),
      clusterDefaultPools: fc.array(
        fc.record({ name: nameish, ipVersion: pick(4 as const, 6 as const) }),
        { maxLength: 2 },
      ),
    },
    { requiredKeys: [] },
  );

  it('decides every NIC as resolving it alone did, errors included', () => {
    fc.assert(
      fc.property(podAnnotations, namespaceAnnotations, defaults, (pod, ns, d) => {
        const parsed = parseSelection(pod, ns);
        const nics = podInterfaces(pod);
        const preParsed = nics.ok ? parseSelection(pod, ns, nics.value) : undefined;
        const names = [...ifNames, ...(nics.ok ? nics.value.map((n) => n.name) : [])];
        for (const ifName of names) {
          const want = referenceResolve({
            podAnnotations: pod,
            namespaceAnnotations: ns,
            interface: ifName,
            ...d,
          });
          const got = parsed.ok ? selectionFor(parsed.value, ifName, d) : parsed;
          expect(got).toEqual(want);
          if (preParsed !== undefined)
            expect(preParsed.ok ? selectionFor(preParsed.value, ifName, d) : preParsed).toEqual(
              want,
            );
          expect(
            resolveSelection({
              podAnnotations: pod,
              namespaceAnnotations: ns,
              interface: ifName,
              ...d,
            }),
          ).toEqual(want);
          // An ippools list serves exactly the NICs it names.
          if (parsed.ok && parsed.value.level === 'ippools')
            expect(parsed.value.interfaces.includes(ifName)).toBe(want.ok);
        }
      }),
      fuzzParams('annotations/parse-once-select-per-nic', 1_000),
    );
  });

  it('every combination of levels, forms, NICs and defaults: as resolving each NIC alone', () => {
    const item = (k: number): { ipv4: string[] } => ({ ipv4: [`p${k}`] });
    const pods: Record<string, string>[] = [{}];
    for (const net of [undefined, 'a,b', 'ns/a@data,ns/b,c', 'a,ns/b@net1', 'x@eth0'])
      for (const n of [1, 2, 3, 4, 5]) {
        const multus: Record<string, string> = net === undefined ? {} : { [M.networks]: net };
        const unnamed = Array.from({ length: n }, (_, k) => item(k));
        const named = ifNames.slice(0, n).map((i, k) => ({ interface: i, ...item(k) }));
        pods.push(
          { ...multus, [P.ippools]: JSON.stringify(unnamed) },
          { ...multus, [P.ippools]: JSON.stringify(named) },
          { ...multus, [P.ippools]: JSON.stringify(named.reverse()), [P.ippool]: '{"ipv4":["q"]}' },
          {
            ...multus,
            [P.subnets]: JSON.stringify(
              ifNames.slice(0, n).map((i, k) => ({ interface: i, ipv4: [`s${k}`] })),
            ),
            [P.ippools]: JSON.stringify(unnamed),
          },
        );
      }
    pods.push({ [P.subnet]: '{"ipv4":["s"]}' }, { [P.ippool]: '{"ipv4":["q"]}' });
    const namespaces: Record<string, string>[] = [
      {},
      { [N.defaultIPv4IPPool]: '[]' },
      { [N.defaultIPv4IPPool]: '["n4"]', [N.defaultIPv6IPPool]: '[]' },
      { [N.defaultIPv6IPPool]: 'x' },
    ];
    const defaultsList = [
      {},
      { netconfDefaults: { ipv4: [], ipv6: [] }, clusterDefaultPools: [] },
      { netconfDefaults: { ipv4: ['c4'], ipv6: [] } },
      { clusterDefaultPools: [{ name: 'd6', ipVersion: 6 as const }] },
    ];
    let compared = 0;
    for (const pod of pods)
      for (const ns of namespaces)
        for (const d of defaultsList) {
          const parsed = parseSelection(pod, ns);
          for (const ifName of [...ifNames, 'net3', 'net4', 'x']) {
            const want = referenceResolve({
              podAnnotations: pod,
              namespaceAnnotations: ns,
              interface: ifName,
              ...d,
            });
            expect(parsed.ok ? selectionFor(parsed.value, ifName, d) : parsed).toEqual(want);
            compared++;
          }
        }
    expect(compared).toBeGreaterThan(5000);
  });

  it('the NICs of an ippools list, in the order the list or the pod gives them', () => {
    const named = parseSelection(
      { [P.ippools]: '[{"interface":"net1","ipv4":["a"]},{"interface":"eth0","ipv4":["b"]}]' },
      {},
    );
    expect(named.ok && named.value.level === 'ippools' && named.value.interfaces).toEqual([
      'net1',
      'eth0',
    ]);
    const unnamed = parseSelection(
      { [M.networks]: 'ns/a@data,ns/b,ns/c', [P.ippools]: '[{"ipv4":["e"]},{"ipv4":["d"]}]' },
      {},
    );
    expect(unnamed.ok && unnamed.value.level === 'ippools' && unnamed.value.interfaces).toEqual([
      'eth0',
      'data',
    ]);
  });
});
