import { describe, expect, it } from '@jest/globals';
import { FINALIZER } from '@nicpool/annotations';
import type { SpiderIPPool, SpiderReservedIP, SpiderSubnet } from '@nicpool/crds';
import { RangeSet } from '@nicpool/ip';
import { freeAddresses, newAutoPool, shrinkTo, updatedAutoPool, withClaim } from './autopool.ts';
import {
  claimWanted,
  poolCounters,
  poolFinalizer,
  subnetFinalizer,
  subnetStatus,
} from './bookkeeping.ts';
import { alternateName, isNameFor } from './autopool.ts';
import { poolIntents, toWorkload } from './workload.ts';

const set = (...ips: string[]): RangeSet => {
  const r = RangeSet.parse(4, ips);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};

function subnet(status: SpiderSubnet['status'] = {}): SpiderSubnet {
  return {
    apiVersion: 'spiderpool.spidernet.io/v2beta1',
    kind: 'SpiderSubnet',
    metadata: { name: 'subnet-test-ens192', uid: 'sub-uid' },
    spec: {
      subnet: '10.6.0.1/16',
      ips: ['10.6.168.171-10.6.168.180'],
      gateway: '10.6.0.1',
      vlan: 0,
    },
    status,
  };
}

function pool(name: string, ips: string[], extra: Partial<SpiderIPPool> = {}): SpiderIPPool {
  return {
    apiVersion: 'spiderpool.spidernet.io/v2beta1',
    kind: 'SpiderIPPool',
    metadata: { name },
    spec: { subnet: '10.6.0.1/16', ips },
    ...extra,
  };
}

const workload = toWorkload('Deployment', {
  metadata: { name: 'test-app', namespace: 'default', uid: 'u-b1a361c7e9df' },
  spec: {
    replicas: 2,
    template: {
      metadata: {
        annotations: {
          'ipam.spidernet.io/subnets': '[{"interface":"eth0","ipv4":["subnet-test-ens192"]}]',
        },
      },
    },
  },
});
const intents = poolIntents(workload);
const intent = intents.ok ? intents.value[0]! : undefined!;

describe('free subnet addresses', () => {
  it('are the lowest of the subnet: 10.6.168.171-173 for a fresh tutorial subnet', () => {
    const free = freeAddresses(subnet(), [], [], intent.poolName);
    expect(free.ok && free.value.takeLowest(3n).toStrings()).toEqual(['10.6.168.171-10.6.168.173']);
  });

  it('skip other pools, other claims, reserved IPs and the gateway', () => {
    const s = subnet({
      controlledIPPools: JSON.stringify({ other: { ips: ['10.6.168.171'] } }),
    });
    const reserved: SpiderReservedIP[] = [
      {
        apiVersion: 'spiderpool.spidernet.io/v2beta1',
        kind: 'SpiderReservedIP',
        metadata: { name: 'r' },
        spec: { ips: ['10.6.168.173'] },
      },
    ];
    const manual = pool('ippool-test-ens192', ['10.6.168.176-10.6.168.180']);
    const free = freeAddresses(
      { ...s, spec: { ...s.spec, gateway: '10.6.168.172' } },
      [manual],
      reserved,
      intent.poolName,
    );
    expect(free.ok && free.value.toStrings()).toEqual(['10.6.168.174-10.6.168.175']);
  });

  it('count the pool’s own claim as its own', () => {
    const s = subnet({
      controlledIPPools: JSON.stringify({ [intent.poolName]: { ips: ['10.6.168.171'] } }),
    });
    const free = freeAddresses(s, [], [], intent.poolName);
    expect(free.ok && free.value.toStrings()).toEqual(['10.6.168.171-10.6.168.180']);
  });
});

describe('free subnet addresses when something is unreadable (review #16)', () => {
  const reservedIP = (ips: string[]): SpiderReservedIP => ({
    apiVersion: 'spiderpool.spidernet.io/v2beta1',
    kind: 'SpiderReservedIP',
    metadata: { name: 'r-broken' },
    spec: { ipVersion: 4, ips },
  });

  it('a pool of the subnet whose spec is unreadable stops the subnet handing out addresses', () => {
    const broken = pool('manual-broken', ['10.6.168.x']);
    expect(freeAddresses(subnet(), [broken], [], intent.poolName)).toEqual({
      ok: false,
      error:
        'SpiderIPPool manual-broken has an unreadable spec (spec.ips[0]: "10.6.168.x" is not an IP address or a range "first-last"); it may hold addresses of SpiderSubnet subnet-test-ens192, which hands out none until the pool is fixed',
    });
  });

  it('a pool whose subnet is not a CIDR may hold anything: refused too', () => {
    const broken: SpiderIPPool = { ...pool('nowhere', []), spec: { subnet: 'bogus', ips: [] } };
    const free = freeAddresses(subnet(), [broken], [], intent.poolName);
    expect(free.ok).toBe(false);
    expect(free.ok ? '' : free.error).toContain('SpiderIPPool nowhere has an unreadable spec');
  });

  it('an unreadable pool of another network does not matter', () => {
    const elsewhere: SpiderIPPool = {
      ...pool('elsewhere', []),
      spec: { subnet: '10.7.0.1/16', ips: ['10.7.0.x'] },
    };
    const free = freeAddresses(subnet(), [elsewhere], [], intent.poolName);
    expect(free.ok && free.value.toStrings()).toEqual(['10.6.168.171-10.6.168.180']);
  });

  it("another pool's claim that does not parse for the subnet's family is refused, naming both", () => {
    const s = subnet({ controlledIPPools: JSON.stringify({ other: { ips: ['fd00::1'] } }) });
    const free = freeAddresses(s, [], [], intent.poolName);
    expect(free.ok ? '' : free.error).toBe(
      'SpiderSubnet subnet-test-ens192: the claim of pool other is unreadable ("fd00::1" is IPv6, expected IPv4); no address is handed out until it is fixed',
    );
  });

  it('an unreadable SpiderReservedIP of the family is refused, naming it', () => {
    const free = freeAddresses(subnet(), [], [reservedIP(['10.6.168.x'])], intent.poolName);
    expect(free.ok ? '' : free.error).toContain(
      'SpiderReservedIP r-broken has unreadable spec.ips',
    );
  });

  it("addresses another pool has recorded count as taken, even outside that pool's spec (review #5)", () => {
    const other = pool('other', ['10.6.168.180'], {
      status: { allocatedIPs: JSON.stringify({ '10.6.168.171': { pod: 'a/b', podUid: 'u' } }) },
    });
    const free = freeAddresses(subnet(), [other], [], intent.poolName);
    expect(free.ok && free.value.toStrings()).toEqual(['10.6.168.172-10.6.168.179']);
  });
});

describe('shrinking', () => {
  it('gives back only free addresses, highest first', () => {
    const r = shrinkTo(set('10.6.168.171-10.6.168.175'), set('10.6.168.171'), 2);
    expect(r).toEqual({ keep: set('10.6.168.171-10.6.168.172'), short: 0 });
  });

  it('stops at the addresses in use and says how far it is from the target', () => {
    const r = shrinkTo(
      set('10.6.168.171-10.6.168.175'),
      set('10.6.168.171', '10.6.168.174', '10.6.168.175'),
      2,
    );
    expect(r.keep.toStrings()).toEqual(['10.6.168.171', '10.6.168.174-10.6.168.175']);
    expect(r.short).toBe(1);
  });

  it('is a no-op at or below the target', () => {
    const all = set('10.6.168.171-10.6.168.172');
    expect(shrinkTo(all, RangeSet.empty(4), 5)).toEqual({ keep: all, short: 0 });
  });
});

describe('auto-pool objects', () => {
  it('copy the subnet and carry the spec labels, affinity, finalizer and owner', () => {
    const p = newAutoPool(intent, workload, subnet(), set('10.6.168.171-10.6.168.173'));
    expect(p.metadata.name).toBe('auto-test-app-v4-eth0-b1a361c7e9df');
    expect(p.spec).toEqual({
      ipVersion: 4,
      subnet: '10.6.0.1/16',
      ips: ['10.6.168.171-10.6.168.173'],
      gateway: '10.6.0.1',
      vlan: 0,
      podAffinity: {
        matchLabels: {
          'ipam.spidernet.io/app-api-group': 'apps',
          'ipam.spidernet.io/app-api-version': 'v1',
          'ipam.spidernet.io/app-kind': 'Deployment',
          'ipam.spidernet.io/app-namespace': 'default',
          'ipam.spidernet.io/app-name': 'test-app',
        },
      },
    });
    expect(p.metadata.labels).toEqual({
      'ipam.spidernet.io/owner-application-gv': 'apps_v1',
      'ipam.spidernet.io/owner-application-kind': 'Deployment',
      'ipam.spidernet.io/owner-application-namespace': 'default',
      'ipam.spidernet.io/owner-application-name': 'test-app',
      'ipam.spidernet.io/owner-application-uid': 'u-b1a361c7e9df',
      'ipam.spidernet.io/interface': 'eth0',
      'ipam.spidernet.io/ippool-reclaim': 'true',
      'ipam.spidernet.io/ip-version': 'IPv4',
      'ipam.spidernet.io/owner-spider-subnet': 'subnet-test-ens192',
      'ipam.spidernet.io/ippool-cidr': '10-6-0-0-16',
    });
    expect(p.metadata.annotations).toEqual({ 'ipam.spidernet.io/ippool-ip-number': '+1' });
    expect(p.metadata.finalizers).toEqual([FINALIZER]);
    expect(p.metadata.ownerReferences).toEqual([
      expect.objectContaining({
        kind: 'SpiderSubnet',
        name: 'subnet-test-ens192',
        uid: 'sub-uid',
        controller: true,
      }),
    ]);
  });

  it('are updated only when something changes; a re-created workload takes over the UID label', () => {
    const p = newAutoPool(intent, workload, subnet(), set('10.6.168.171-10.6.168.173'));
    expect(updatedAutoPool(p, intent, workload, set('10.6.168.171-10.6.168.173'))).toBeUndefined();
    const grown = updatedAutoPool(p, intent, workload, set('10.6.168.171-10.6.168.175'));
    expect(grown?.spec.ips).toEqual(['10.6.168.171-10.6.168.175']);
    const adopted = updatedAutoPool(
      p,
      intent,
      { ...workload, uid: 'new' },
      set('10.6.168.171-10.6.168.173'),
    );
    expect(adopted?.metadata.labels?.['ipam.spidernet.io/owner-application-uid']).toBe('new');
  });
});

describe('subnet bookkeeping', () => {
  it('claims once and reports unchanged claims as nothing to write', () => {
    const s = subnet();
    const once = withClaim(s, 'p', {
      ips: ['10.6.168.171-10.6.168.173'],
      application: 'apps_v1_Deployment_default_test-app',
    });
    expect(once.ok && once.value?.status).toEqual({
      controlledIPPools:
        '{"p":{"ips":["10.6.168.171-10.6.168.173"],"application":"apps_v1_Deployment_default_test-app"}}',
      allocatedIPCount: 3,
      totalIPCount: 10,
    });
    const again =
      once.ok && once.value
        ? withClaim(once.value, 'p', {
            ips: ['10.6.168.171-10.6.168.173'],
            application: 'apps_v1_Deployment_default_test-app',
          })
        : undefined;
    expect(again).toEqual({ ok: true, value: undefined });
  });

  it('follows its pools; keeps a claim whose pool is pending only while the workload exists', () => {
    const s = subnet({
      controlledIPPools: JSON.stringify({
        pending: { ips: ['10.6.168.174'], application: 'apps_v1_Deployment_default_test-app' },
        gone: { ips: ['10.6.168.175'], application: 'apps_v1_Deployment_default_old' },
      }),
    });
    const owned = pool('manual', ['10.6.168.176-10.6.168.180'], {
      metadata: {
        name: 'manual',
        labels: { 'ipam.spidernet.io/owner-spider-subnet': 'subnet-test-ens192' },
      },
    });
    const next = subnetStatus(
      s,
      [owned, pool('unrelated', ['10.6.1.1'])],
      (p, a) => p === 'pending' && a.endsWith('_test-app'),
    );
    expect(next?.status).toEqual({
      controlledIPPools:
        '{"manual":{"ips":["10.6.168.176-10.6.168.180"]},"pending":{"ips":["10.6.168.174"],"application":"apps_v1_Deployment_default_test-app"}}',
      allocatedIPCount: 6,
      totalIPCount: 10,
    });
    expect(
      subnetStatus(next!, [owned], (pool, a) => pool === 'pending' && a.endsWith('_test-app')),
    ).toBeUndefined();
  });

  it('drops the finalizer of a deleted subnet only when no pool is left', () => {
    const deleting = {
      ...subnet(),
      metadata: { ...subnet().metadata, deletionTimestamp: 'now', finalizers: [FINALIZER] },
    };
    const owned = pool('x', [], {
      metadata: {
        name: 'x',
        labels: { 'ipam.spidernet.io/owner-spider-subnet': 'subnet-test-ens192' },
      },
    });
    expect(subnetFinalizer(deleting, [owned])).toBeUndefined();
    expect(subnetFinalizer(deleting, [])).toBe('remove');
    expect(subnetFinalizer(subnet(), [])).toBe('add');
  });
});

describe('claims of pools not written yet', () => {
  it('are wanted only by the workload (UID) that claimed them', () => {
    const app = 'apps_v1_Deployment_default_test-app';
    const mine = intent.poolName;
    expect(claimWanted(mine, app, () => [workload])).toBe(true);
    expect(claimWanted(alternateName(mine, 2), app, () => [workload])).toBe(true);
    // The same name re-created: a new UID, so the old pool's claim is a leftover.
    const again = { ...workload, uid: 'u-0000000000ff' };
    expect(claimWanted(mine, app, () => [again])).toBe(false);
    expect(claimWanted(mine, app, () => [])).toBe(false);
  });

  it('alternate names stay within 253 characters and map back', () => {
    const long = 'a'.repeat(253);
    expect(alternateName(long, 12)).toHaveLength(253);
    expect(isNameFor(alternateName(long, 12), long)).toBe(true);
    expect(isNameFor('auto-x-v4-eth0-1-r1', 'auto-x-v4-eth0-2')).toBe(false);
  });
});

describe('pool bookkeeping', () => {
  it('counts total and allocated addresses', () => {
    const p = pool('p', ['10.6.168.171-10.6.168.175'], {
      spec: {
        subnet: '10.6.0.1/16',
        ips: ['10.6.168.171-10.6.168.175'],
        excludeIPs: ['10.6.168.175'],
      },
      status: { allocatedIPs: JSON.stringify({ '10.6.168.171': { pod: 'a/b', podUid: 'u' } }) },
    });
    expect(poolCounters(p)?.status).toEqual({
      allocatedIPs: p.status!.allocatedIPs,
      totalIPCount: 4,
      allocatedIPCount: 1,
    });
    expect(poolCounters(poolCounters(p)!)).toBeUndefined();
  });

  it('keeps the finalizer of a deleted pool until its last address is released', () => {
    const meta = { name: 'p', deletionTimestamp: 'now', finalizers: [FINALIZER] };
    const busy = pool('p', [], {
      metadata: meta,
      status: { allocatedIPs: '{"10.6.168.171":{"pod":"a/b","podUid":"u"}}' },
    });
    expect(poolFinalizer(busy)).toBeUndefined();
    expect(poolFinalizer(pool('p', [], { metadata: meta }))).toBe('remove');
    // Unreadable records count as in use.
    expect(
      poolFinalizer(pool('p', [], { metadata: meta, status: { allocatedIPs: '{oops' } })),
    ).toBeUndefined();
    expect(poolFinalizer(pool('p', []))).toBe('add');
  });
});
