// Time budgets (issue #12 item 4): the worst annotation values the limits allow (64 KiB per
// value, 253-character names, 15-byte interfaces) are parsed, validated and resolved within
// a stated bound. Best of a few runs; bounds, not benchmarks.
import { describe, expect, it } from '@jest/globals';
import { BUDGET_TEST_TIMEOUT_MS, bestOfMs } from '@nicpool/testing';
import {
  closest,
  MultusAnnotation as M,
  NamespaceAnnotation as N,
  parseIPPool,
  parseIPPools,
  parseNamespaceDefaultPools,
  parseNetworks,
  parseRoutes,
  parseSubnets,
  PodAnnotation as P,
  resolveSelection,
  validateNamespaceAnnotations,
  validatePodAnnotations,
} from './index.ts';

const KIB64 = 64 * 1024;

/** Items produced by `item(i)`, joined as a JSON array, as many as fit in 64 KiB. */
function fill(item: (i: number) => string, sep = ',', open = '[', close = ']'): string {
  const parts: string[] = [];
  let size = open.length + close.length;
  for (let i = 0; ; i++) {
    const next = item(i);
    if (size + next.length + sep.length > KIB64) break;
    parts.push(next);
    size += next.length + sep.length;
  }
  return `${open}${parts.join(sep)}${close}`;
}

/** A 253-character pool name, distinct per i. */
const name253 = (i: number): string => `p${String(i).padStart(6, '0')}`.padEnd(253, 'a');
/** A 253-character pattern with 8 '*' (the cap), distinct per i. */
const pattern253 = (i: number): string =>
  `p${String(i).padStart(6, '0')}${'*a'.repeat(8)}`.padEnd(253, 'b');
/** A 15-byte interface name, distinct per i. */
const ifName = (i: number): string => `n${String(i).padStart(14, '0')}`;

// The worst shapes per key: as many items as fit, each with the longest names allowed.
const WORST = {
  ippools: fill((i) => `{"interface":"${ifName(i)}","ipv4":["${name253(i)}"]}`),
  // All named but the last: the "mixed interface" check looks for the unnamed one.
  ippoolsMixed: (() => {
    const named = fill((i) => `{"interface":"${ifName(i)}","ipv4":["a"]}`);
    return `${named.slice(0, -1)},{"ipv4":["a"]}]`;
  })(),
  ippoolPatterns: `{"ipv4":${fill((i) => `"${pattern253(i)}"`)}}`,
  subnets: fill((i) => `{"interface":"${ifName(i)}","ipv4":["${name253(i)}"]}`),
  routes: fill((i) => `{"dst":"10.${(i >> 8) & 255}.${i & 255}.0/24","gw":"10.6.0.1"}`),
  networksComma: fill((i) => `kube-system/nad-${i}@${ifName(i)}`, ',', '', ''),
  networksJSON: fill(
    (i) => `{"name":"nad-${i}","namespace":"kube-system","interface":"${ifName(i)}"}`,
  ),
  namespacePools: fill((i) => `"${name253(i)}"`),
  unknownFields: fill((i) => `{"ipv4x${i}":["a"],"interfac${i}":"eth0"}`),
  longField: `[{"${'x'.repeat(KIB64 - 20)}":1}]`,
} as const;

describe('annotation time budgets', () => {
  it('the worst values really are about 64 KiB each', () => {
    for (const [k, v] of Object.entries(WORST)) {
      expect([k, v.length <= KIB64 && v.length > KIB64 - 400]).toEqual([k, true]);
    }
  });

  it.each([
    ['ippools, 64 KiB of named items with 253-char pools', () => parseIPPools(WORST.ippools)],
    ['ippools, all items named but the last', () => parseIPPools(WORST.ippoolsMixed)],
    ['ippool, 64 KiB of 253-char patterns with 8 "*"', () => parseIPPool(WORST.ippoolPatterns)],
    ['subnets, 64 KiB of items', () => parseSubnets(WORST.subnets)],
    ['routes, 64 KiB of routes', () => parseRoutes(WORST.routes)],
    ['networks, 64 KiB comma form', () => parseNetworks(WORST.networksComma)],
    ['networks, 64 KiB JSON form', () => parseNetworks(WORST.networksJSON)],
    [
      'namespace default pools, 64 KiB of 253-char names',
      () => parseNamespaceDefaultPools(N.defaultIPv4IPPool, WORST.namespacePools),
    ],
    [
      'ippools, 64 KiB of unknown fields (each gets a "did you mean")',
      () => parseIPPools(WORST.unknownFields),
    ],
    ['ippools, one 64 KiB unknown field name', () => parseIPPools(WORST.longField)],
  ])('parse %s: under 100 ms', (_what, parse) => {
    expect(bestOfMs(parse)).toBeLessThan(100);
  });

  it(
    'validatePodAnnotations, 64 KiB ippools naming interfaces a 64 KiB networks list lacks: under 100 ms',
    () => {
      // Every listed interface is missing from the pod, so each gets a warning that lists
      // the pod's interfaces: the warnings must not grow with NICs × items.
      const annotations = {
        [M.networks]: WORST.networksComma.replace(/@n/g, '@m'),
        [P.ippools]: fill((i) => `{"interface":"${ifName(i)}","ipv4":["a"]}`),
        [P.defaultRouteNic]: 'eth9',
      };
      let findings = validatePodAnnotations(annotations);
      const ms = bestOfMs(() => (findings = validatePodAnnotations(annotations)));
      expect(findings.warnings.length).toBeGreaterThan(1000);
      expect(ms).toBeLessThan(100);
      // And what it says stays proportionate: a warning is a line, not the whole pod.
      expect(Math.max(...findings.warnings.map((w) => w.message.length))).toBeLessThan(2000);
    },
    BUDGET_TEST_TIMEOUT_MS,
  );

  it('validatePodAnnotations, every key at its worst 64 KiB value at once: under 250 ms', () => {
    const annotations = {
      [M.networks]: WORST.networksJSON,
      [M.defaultNetwork]: 'kube-system/macvlan-conf-ens192',
      [P.subnets]: WORST.subnets,
      [P.subnet]: '{"interface":"eth0","ipv4":["s"]}',
      [P.ippools]: WORST.ippools,
      [P.ippool]: WORST.ippoolPatterns,
      [P.routes]: WORST.routes,
      [P.ippoolIPNumber]: '+65536',
      [P.ippoolReclaim]: 'false',
      [P.defaultRouteNic]: ifName(3),
    };
    expect(bestOfMs(() => validatePodAnnotations(annotations))).toBeLessThan(250);
  });

  it('closest ("did you mean") of a 64 KiB word against the field names: under 5 ms', () => {
    const word = 'x'.repeat(KIB64);
    expect(closest(word, ['interface', 'ipv4', 'ipv6', 'cleangateway'])).toBeUndefined();
    expect(
      bestOfMs(() => closest(word, ['interface', 'ipv4', 'ipv6', 'cleangateway'])),
    ).toBeLessThan(5);
  });

  it('validateNamespaceAnnotations, two 64 KiB default-pool lists: under 50 ms', () => {
    const annotations = {
      [N.defaultIPv4IPPool]: WORST.namespacePools,
      [N.defaultIPv6IPPool]: WORST.namespacePools.replace(/"p/g, '"q'),
    };
    expect(bestOfMs(() => validateNamespaceAnnotations(annotations))).toBeLessThan(50);
  });

  it('resolveSelection of the last NIC of 64 KiB ippools and networks: under 50 ms', () => {
    const items = (JSON.parse(WORST.ippools) as { interface: string }[]).length;
    const input = {
      podAnnotations: { [M.networks]: WORST.networksComma, [P.ippools]: WORST.ippools },
      namespaceAnnotations: {
        [N.defaultIPv4IPPool]: WORST.namespacePools,
      },
      interface: ifName(items - 1),
    };
    let r = resolveSelection(input);
    const ms = bestOfMs(() => (r = resolveSelection(input)));
    expect(r.ok).toBe(true);
    expect(ms).toBeLessThan(50);
  });

  it('resolveSelection of unnamed 64 KiB ippools against 64 KiB networks: under 50 ms', () => {
    const unnamed = fill((i) => `{"ipv4":["${name253(i)}"]}`);
    const nics = (JSON.parse(unnamed) as unknown[]).length;
    const input = {
      podAnnotations: { [M.networks]: WORST.networksComma, [P.ippools]: unnamed },
      namespaceAnnotations: {},
      interface: ifName(nics - 2),
    };
    expect(bestOfMs(() => resolveSelection(input))).toBeLessThan(50);
  });
});
