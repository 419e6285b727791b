import { describe, expect, it } from '@jest/globals';
import {
  AnnotationErrorCode as C,
  formatAnnotationError,
  MultusAnnotation as M,
  NamespaceAnnotation as N,
  PodAnnotation as P,
  validateNamespaceAnnotations,
  validatePodAnnotations,
} from './index.ts';

/** [annotation key, value, expected code of the first error, expected JSON path] */
type Case = readonly [string, string, string, string];

const podCases: readonly Case[] = [
  // ipam.spidernet.io/ippools
  [P.ippools, '', C.emptyValue, ''],
  [P.ippools, '   ', C.emptyValue, ''],
  [P.ippools, '[{"interface":"eth0",', C.invalidJSON, ''],
  [P.ippools, "[{'interface':'eth0'}]", C.invalidJSON, ''],
  [P.ippools, '{"interface":"eth0","ipv4":["a"]}', C.wrongType, ''],
  [P.ippools, '"eth0"', C.wrongType, ''],
  [P.ippools, '[]', C.emptyList, ''],
  [P.ippools, '["pool-a"]', C.wrongType, '[0]'],
  [P.ippools, '[null]', C.wrongType, '[0]'],
  [P.ippools, '[{"interface":"eth0","ipv4s":["a"]}]', C.unknownField, '[0].ipv4s'],
  [
    P.ippools,
    '[{"interface":"eth0","ipv4":["a"]},{"interface":"net1","ipv4pools":["b"]}]',
    C.unknownField,
    '[1].ipv4pools',
  ],
  [P.ippools, '[{"interface":"eth0","ipv4":"pool-a"}]', C.wrongType, '[0].ipv4'],
  [P.ippools, '[{"interface":"eth0","ipv4":[1]}]', C.wrongType, '[0].ipv4[0]'],
  [P.ippools, '[{"interface":"eth0","ipv4":["Pool_A"]}]', C.invalidPoolName, '[0].ipv4[0]'],
  [P.ippools, '[{"interface":"eth0","ipv4":[""]}]', C.invalidPoolName, '[0].ipv4[0]'],
  [P.ippools, '[{"interface":"eth0","ipv6":["v6-[ab"]}]', C.invalidPoolName, '[0].ipv6[0]'],
  [P.ippools, '[{"interface":"eth0","ipv4":["A*"]}]', C.invalidPoolName, '[0].ipv4[0]'],
  [P.ippools, '[{"interface":"eth0","ipv4":["a","a"]}]', C.duplicatePool, '[0].ipv4[1]'],
  [P.ippools, '[{"interface":"eth0"}]', C.noFamily, '[0]'],
  [P.ippools, '[{"interface":"eth0","ipv4":[],"ipv6":[]}]', C.noFamily, '[0]'],
  [P.ippools, '[{"interface":"eth0","ipv4":["a"]},{"ipv4":["b"]}]', C.mixedInterface, '[1]'],
  [P.ippools, '[{"ipv4":["a"]},{"interface":"net1","ipv4":["b"]}]', C.mixedInterface, '[0]'],
  [
    P.ippools,
    '[{"interface":"net1","ipv4":["a"]},{"interface":"net1","ipv4":["b"]}]',
    C.duplicateInterface,
    '[1].interface',
  ],
  [P.ippools, '[{"interface":"","ipv4":["a"]}]', C.invalidInterface, '[0].interface'],
  [
    P.ippools,
    '[{"interface":"averyveryverylongname","ipv4":["a"]}]',
    C.invalidInterface,
    '[0].interface',
  ],
  [P.ippools, '[{"interface":"eth/0","ipv4":["a"]}]', C.invalidInterface, '[0].interface'],
  [P.ippools, '[{"interface":"eth 0","ipv4":["a"]}]', C.invalidInterface, '[0].interface'],
  [P.ippools, '[{"interface":"..","ipv4":["a"]}]', C.invalidInterface, '[0].interface'],
  [P.ippools, '[{"interface":"eth0:1","ipv4":["a"]}]', C.invalidInterface, '[0].interface'],
  [P.ippools, '[{"interface":0,"ipv4":["a"]}]', C.wrongType, '[0].interface'],
  [
    P.ippools,
    '[{"interface":"eth0","ipv4":["a"],"cleangateway":"yes"}]',
    C.wrongType,
    '[0].cleangateway',
  ],
  // ipam.spidernet.io/ippool
  [P.ippool, 'pool-a', C.invalidJSON, ''],
  [P.ippool, '["pool-a"]', C.wrongType, ''],
  [P.ippool, '{}', C.noFamily, ''],
  [P.ippool, '{"ipv4pools":["a"]}', C.unknownField, 'ipv4pools'],
  [P.ippool, '{"interface":"eth0","ipv4":["a"]}', C.unknownField, 'interface'],
  [P.ippool, '{"ipv4":["a.."]}', C.invalidPoolName, 'ipv4[0]'],
  [P.ippool, '{"ipv4":["a"],"ipv6":{"x":1}}', C.wrongType, 'ipv6'],
  // ipam.spidernet.io/subnets
  [P.subnets, '[]', C.emptyList, ''],
  [P.subnets, '{"interface":"eth0","ipv4":["s"]}', C.wrongType, ''],
  [P.subnets, '[{"interface":"eth0"}]', C.noFamily, '[0]'],
  [P.subnets, '[{"interface":"eth0","ipv4":["s*"]}]', C.wildcardNotAllowed, '[0].ipv4[0]'],
  [
    P.subnets,
    '[{"interface":"eth0","ipv4":["s"]},{"interface":"eth0","ipv4":["t"]}]',
    C.duplicateInterface,
    '[1].interface',
  ],
  [
    P.subnets,
    '[{"interface":"eth0","ipv4":["s"]},{"interface":"net1","ipv4":["s"]}]',
    C.duplicateSubnet,
    '[1].ipv4[0]',
  ],
  [P.subnets, '[{"ipv4":["s"]},{"ipv4":["t"]}]', C.duplicateInterface, '[1].interface'],
  [P.subnets, '[{"interface":"eth0","ipv4":["S_1"]}]', C.invalidSubnetName, '[0].ipv4[0]'],
  [P.subnets, '[{"interface":"eth0","v4":["s"]}]', C.unknownField, '[0].v4'],
  [P.subnets, '[{"interface":"eth0","ipv6":"s6"}]', C.wrongType, '[0].ipv6'],
  // ipam.spidernet.io/subnet
  [P.subnet, '{"ipv4":["s?"]}', C.wildcardNotAllowed, 'ipv4[0]'],
  [P.subnet, '[{"ipv4":["s"]}]', C.wrongType, ''],
  [P.subnet, '{"interface":"net1"}', C.noFamily, ''],
  [P.subnet, '{"interfaces":"net1","ipv4":["s"]}', C.unknownField, 'interfaces'],
  // ipam.spidernet.io/ippool-ip-number
  [P.ippoolIPNumber, 'three', C.invalidIPNumber, ''],
  [P.ippoolIPNumber, '-1', C.invalidIPNumber, ''],
  [P.ippoolIPNumber, '0', C.invalidIPNumber, ''],
  [P.ippoolIPNumber, '+ 1', C.invalidIPNumber, ''],
  [P.ippoolIPNumber, '01', C.invalidIPNumber, ''],
  [P.ippoolIPNumber, '1.5', C.invalidIPNumber, ''],
  [P.ippoolIPNumber, '999999', C.invalidIPNumber, ''],
  [P.ippoolIPNumber, '', C.invalidIPNumber, ''],
  // ipam.spidernet.io/ippool-reclaim
  [P.ippoolReclaim, 'yes', C.invalidBoolean, ''],
  [P.ippoolReclaim, '', C.invalidBoolean, ''],
  // ipam.spidernet.io/routes
  [P.routes, '{"dst":"10.20.0.0/16","gw":"10.6.0.254"}', C.wrongType, ''],
  [P.routes, '[{"dst":"10.20.0.0/16"}]', C.missingField, '[0]'],
  [P.routes, '[{"dst":"10.20.0.0","gw":"10.6.0.254"}]', C.invalidRoute, '[0].dst'],
  [P.routes, '[{"dst":"10.20.0.1/16","gw":"10.6.0.254"}]', C.invalidRoute, '[0].dst'],
  [P.routes, '[{"dst":"10.20.0.0/16","gw":"10.6.0"}]', C.invalidRoute, '[0].gw'],
  [P.routes, '[{"dst":"fd00::/64","gw":"10.6.0.254"}]', C.invalidRoute, '[0]'],
  [P.routes, '[{"dst":"0.0.0.0/0","gw":"10.6.0.254"}]', C.defaultRoute, '[0].dst'],
  [
    P.routes,
    '[{"dst":"10.20.0.0/16","gw":"10.6.0.1"},{"dst":"10.20.0.0/16","gw":"10.6.0.2"}]',
    C.duplicateRoute,
    '[1].dst',
  ],
  [P.routes, '[{"dst":"10.20.0.0/16","gw":"10.6.0.1","dev":"eth0"}]', C.unknownField, '[0].dev'],
  // ipam.spidernet.io/default-route-nic
  [P.defaultRouteNic, '', C.invalidInterface, ''],
  [P.defaultRouteNic, 'net 1', C.invalidInterface, ''],
  // Multus annotations
  [M.networks, '', C.emptyValue, ''],
  [M.networks, 'kube-system/macvlan@', C.invalidInterface, '[0]'],
  [M.networks, 'a/b/c', C.invalidNetwork, '[0]'],
  [M.networks, 'macvlan-conf,,other', C.invalidNetwork, '[1]'],
  [M.networks, 'Kube_System/macvlan', C.invalidNetwork, '[0]'],
  [M.networks, '[{"namespace":"kube-system"}]', C.missingField, '[0]'],
  [M.networks, '[{"name":"a"},{"name":"b","interface":"net1"}]', C.duplicateInterface, '[1]'],
  [M.networks, 'a@eth0', C.duplicateInterface, '[0]'],
  [M.networks, '[{"name":"a"', C.invalidJSON, ''],
  [M.defaultNetwork, 'a,b', C.invalidNetwork, ''],
  [M.defaultNetwork, 'ns/', C.invalidNetwork, '[0]'],
];

const namespaceCases: readonly Case[] = [
  [N.defaultIPv4IPPool, 'pool-a', C.invalidJSON, ''],
  [N.defaultIPv4IPPool, '{"ipv4":["a"]}', C.wrongType, ''],
  [N.defaultIPv6IPPool, '[1]', C.wrongType, '[0]'],
  [N.defaultIPv6IPPool, '["V6"]', C.invalidPoolName, '[0]'],
];

describe('bad annotations: code and path', () => {
  it('has at least 60 distinct bad inputs', () => {
    const all = [...podCases, ...namespaceCases].map(([k, v]) => `${k}=${v}`);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBeGreaterThanOrEqual(60);
  });

  it.each(podCases)('%s = %j → %s at %j', (key, value, code, path) => {
    const { errors } = validatePodAnnotations({ [key]: value });
    expect(errors.length).toBeGreaterThan(0);
    expect({ code: errors[0]?.code, path: errors[0]?.path, key: errors[0]?.key }).toEqual({
      code,
      path,
      key,
    });
    // The message names the annotation so `kubectl apply` output is self-explanatory.
    expect(errors[0]?.message).toContain(key);
  });

  it.each(namespaceCases)('%s = %j → %s at %j', (key, value, code, path) => {
    const { errors } = validateNamespaceAnnotations({ [key]: value });
    expect({ code: errors[0]?.code, path: errors[0]?.path, key: errors[0]?.key }).toEqual({
      code,
      path,
      key,
    });
  });
});

describe('error messages', () => {
  it('reads like the spec for an unknown field, with a did-you-mean', () => {
    const { errors } = validatePodAnnotations({
      [P.ippools]: '[{"interface":"eth0","ipv4":["a"]},{"interface":"net1","ipv4s":["b"]}]',
    });
    expect(errors).toHaveLength(1);
    expect(formatAnnotationError(errors[0]!)).toBe(
      'unknown field `ipv4s` in item 1 of ipam.spidernet.io/ippools; did you mean `ipv4`?',
    );
  });

  it('reports every problem at once, not only the first', () => {
    const { errors } = validatePodAnnotations({
      [P.ippools]: '[{"interface":"eth0","ipv4":["Bad"]},{"interface":"eth0","ipv6":[]}]',
      [P.ippoolIPNumber]: 'x',
    });
    expect(errors.map((e) => `${e.code}@${e.path}`)).toEqual([
      'INVALID_POOL_NAME@[0].ipv4[0]',
      'DUPLICATE_INTERFACE@[1].interface',
      'NO_FAMILY@[1]',
      'INVALID_IP_NUMBER@',
    ]);
  });

  it('quotes the JSON parser position', () => {
    const { errors } = validatePodAnnotations({ [P.ippools]: '[{"interface":"eth0",}]' });
    expect(errors[0]?.message).toMatch(
      /^invalid JSON \(.*position \d+.*\) in ipam\.spidernet\.io\/ippools$/,
    );
  });
});

describe('warnings', () => {
  it('warns about unknown ipam.spidernet.io keys with a did-you-mean', () => {
    const { errors, warnings } = validatePodAnnotations({ 'ipam.spidernet.io/ipools': '[]' });
    expect(errors).toEqual([]);
    expect(warnings[0]).toMatchObject({
      code: C.unknownKey,
      hint: 'did you mean ipam.spidernet.io/ippools?',
    });
  });

  it('warns when a lower precedence annotation is ignored', () => {
    const { warnings } = validatePodAnnotations({
      [P.ippools]: '[{"interface":"eth0","ipv4":["a"]}]',
      [P.ippool]: '{"ipv4":["b"]}',
    });
    expect(warnings.map((w) => w.code)).toEqual([C.ignoredAnnotation]);
    expect(warnings[0]?.message).toBe(
      'ipam.spidernet.io/ippool is ignored because ipam.spidernet.io/ippools is set (it takes precedence)',
    );
  });

  it('warns about interfaces the pod will not have', () => {
    const { errors, warnings } = validatePodAnnotations({
      [M.networks]: 'kube-system/macvlan-conf-ens224',
      [P.ippools]: '[{"interface":"eth0","ipv4":["a"]},{"interface":"net2","ipv4":["b"]}]',
    });
    expect(errors).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ code: C.unknownInterface, path: '[1].interface' });
  });

  it('accepts the tutorial pod templates without findings', () => {
    const templates: Record<string, string>[] = [
      {
        [M.defaultNetwork]: 'kube-system/macvlan-conf-ens192',
        [M.networks]: 'kube-system/macvlan-conf-ens224',
        [P.ippools]:
          '[{\n  "interface": "eth0",\n  "ipv4": ["ippool-test-ens192"]\n},{\n  "interface": "net1",\n  "ipv4": ["ippool-test-ens224"]\n}]',
      },
      {
        [P.subnets]:
          '[\n   {\n     "interface": "eth0",\n     "ipv4": [\n       "subnet-test-ens192"\n     ]\n   },{\n     "interface": "net1",\n     "ipv4": [\n       "subnet-test-ens224"\n     ]\n   }\n]',
        [P.ippoolIPNumber]: '+1',
        [M.defaultNetwork]: 'kube-system/macvlan-conf-ens192',
        [M.networks]: 'kube-system/macvlan-conf-ens224',
      },
      { [P.ippool]: '{\n  "ipv4": ["custom-ipv4-ippool"],"ipv6": ["custom-ipv6-ippool"]\n}' },
    ];
    for (const annotations of templates) {
      expect(validatePodAnnotations(annotations)).toEqual({ errors: [], warnings: [] });
    }
  });
});
