import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  formatIPNumber,
  formatIPPool,
  formatIPPools,
  formatNamespaceDefaultPools,
  formatNetworks,
  formatReclaim,
  formatRoutes,
  formatSubnet,
  formatSubnets,
  NamespaceAnnotation,
  parseIPNumber,
  parseIPPool,
  parseIPPools,
  parseNamespaceDefaultPools,
  parseNetworks,
  parseReclaim,
  parseRoutes,
  parseSubnet,
  parseSubnets,
  type IPNumber,
  type IPPoolsItem,
  type SubnetItem,
} from './index.ts';

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
const poolName = fc.oneof(
  label,
  label.map((l) => `${l}*`),
  label.map((l) => `${l}-[0-9]`),
);
const subnetName = label;
const ifName = fc.stringMatching(/^[a-z][a-z0-9]{0,14}$/);
const uniq = <T>(arb: fc.Arbitrary<T>, max = 3): fc.Arbitrary<T[]> =>
  fc.uniqueArray(arb, { maxLength: max });
const families = <T>(arb: fc.Arbitrary<T[]>): fc.Arbitrary<{ ipv4: T[]; ipv6: T[] }> =>
  fc.record({ ipv4: arb, ipv6: arb }).filter((f) => f.ipv4.length + f.ipv6.length > 0);

/** Parses the formatted value and expects the same value back. */
function roundTrips<T>(
  value: T,
  format: (v: T) => string,
  parse: (s: string) => { ok: boolean; value?: unknown },
): void {
  const parsed = parse(format(value));
  expect(parsed.ok).toBe(true);
  expect(parsed.value).toEqual(value);
}

describe('parse ∘ format round trips', () => {
  it('ippool', () => {
    fc.assert(
      fc.property(families(uniq(poolName)), fc.boolean(), (f, cleangateway) =>
        roundTrips({ ...f, cleangateway }, formatIPPool, parseIPPool),
      ),
    );
  });

  it('ippools (named and unnamed forms)', () => {
    const item = fc.record({ lists: families(uniq(poolName)), cleangateway: fc.boolean() });
    const named = fc
      .uniqueArray(fc.tuple(ifName, item), { minLength: 1, maxLength: 4, selector: ([n]) => n })
      .map((xs) =>
        xs.map(([n, i]): IPPoolsItem => ({
          interface: n,
          ...i.lists,
          cleangateway: i.cleangateway,
        })),
      );
    const unnamed = fc
      .array(item, { minLength: 1, maxLength: 4 })
      .map((xs) => xs.map((i): IPPoolsItem => ({ ...i.lists, cleangateway: i.cleangateway })));
    fc.assert(
      fc.property(fc.oneof(named, unnamed), (v) => roundTrips(v, formatIPPools, parseIPPools)),
    );
  });

  it('subnet and subnets', () => {
    const item = (n: fc.Arbitrary<string>): fc.Arbitrary<SubnetItem> =>
      fc
        .tuple(n, families(fc.array(subnetName, { maxLength: 1 })))
        .map(([i, f]) => ({ interface: i, ...f }));
    fc.assert(fc.property(item(ifName), (v) => roundTrips(v, formatSubnet, parseSubnet)));
    const list = fc
      .uniqueArray(item(ifName), { minLength: 1, maxLength: 4, selector: (i) => i.interface })
      .filter((items) => {
        const names = items.flatMap((i) => [...i.ipv4, ...i.ipv6]);
        return new Set(names).size === names.length;
      });
    fc.assert(fc.property(list, (v) => roundTrips(v, formatSubnets, parseSubnets)));
  });

  it('ippool-ip-number', () => {
    const n: fc.Arbitrary<IPNumber> = fc.oneof(
      fc.integer({ min: 1, max: 65536 }).map((count) => ({ kind: 'fixed' as const, count })),
      fc.integer({ min: 0, max: 65536 }).map((extra) => ({ kind: 'relative' as const, extra })),
    );
    fc.assert(fc.property(n, (v) => roundTrips(v, formatIPNumber, parseIPNumber)));
  });

  it('ippool-reclaim', () => {
    fc.assert(fc.property(fc.boolean(), (v) => roundTrips(v, formatReclaim, parseReclaim)));
  });

  it('routes', () => {
    const route = fc
      .tuple(
        fc.integer({ min: 1, max: 223 }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
      )
      .map(([a, b, c]) => ({ dst: `${a}.${b}.0.0/16`, gw: `10.6.${c}.1` }));
    const routes = fc.uniqueArray(route, { maxLength: 5, selector: (r) => r.dst });
    fc.assert(fc.property(routes, (v) => roundTrips(v, formatRoutes, parseRoutes)));
  });

  it('namespace default pools', () => {
    fc.assert(
      fc.property(uniq(poolName, 5), (v) =>
        roundTrips(v, formatNamespaceDefaultPools, (s) =>
          parseNamespaceDefaultPools(NamespaceAnnotation.defaultIPv4IPPool, s),
        ),
      ),
    );
  });

  it('Multus networks (comma form)', () => {
    const sel = fc.record(
      { name: label, namespace: label, interface: fc.stringMatching(/^eth[1-9]$|^sriov[0-9]$/) },
      { requiredKeys: ['name'] },
    );
    const list = fc.array(sel, { minLength: 1, maxLength: 4 }).filter((xs) => {
      const names = ['eth0', ...xs.map((x, i) => x.interface ?? `net${i + 1}`)];
      return new Set(names).size === names.length;
    });
    fc.assert(fc.property(list, (v) => roundTrips(v, formatNetworks, parseNetworks)));
  });

  it('accepts pretty-printed JSON like compact JSON', () => {
    fc.assert(
      fc.property(families(uniq(poolName)), (f) => {
        const value = { interface: 'net1', ...f, cleangateway: false };
        const pretty = JSON.stringify([value], null, 2);
        expect(parseIPPools(pretty)).toEqual(parseIPPools(formatIPPools([value])));
      }),
    );
  });
});
