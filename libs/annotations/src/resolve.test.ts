import { describe, expect, it } from '@jest/globals';
import {
  AnnotationErrorCode as C,
  matchPoolNames,
  MultusAnnotation as M,
  NamespaceAnnotation as N,
  parseNetworks,
  PodAnnotation as P,
  podInterfaceNames,
  podInterfaces,
  resolveSelection,
  type ResolveInput,
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
