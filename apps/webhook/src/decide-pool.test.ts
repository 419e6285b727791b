import { describe, expect, it } from '@jest/globals';
import fastJsonPatch from 'fast-json-patch';
import type { SpiderIPPool, SpiderSubnet } from '@nicpool/crds';
import { cidrLabel } from '@nicpool/crds';
import { decide, type AdmissionReview } from './admission.ts';
import { mutate, validate } from './decide-pool.ts';
import { pool, snapshot, subnet } from '../test/fixtures.ts';
import { parseCIDR } from '@nicpool/ip';

type Spec = Partial<SpiderIPPool['spec']> & { subnet: string };

/** [name, spec, exact reason] — CREATE of a new pool against the fixture snapshot. */
const badPools: readonly [string, Spec, string][] = [
  [
    'subnet not a CIDR',
    { subnet: '10.50.0.0' },
    'spec.subnet: "10.50.0.0" is not a CIDR: missing "/prefix"',
  ],
  [
    'prefix too long',
    { subnet: '10.50.0.0/33' },
    'spec.subnet: "10.50.0.0/33" is not a CIDR: the prefix length must be at most 32',
  ],
  [
    'ipVersion vs subnet',
    { subnet: '10.50.0.0/16', ipVersion: 6 },
    'spec.ipVersion: 6 does not match subnet 10.50.0.0/16 (IPv4)',
  ],
  [
    'ips entry malformed',
    { subnet: '10.50.0.0/16', ips: ['10.50.0.1', '10.50.0.x'] },
    'spec.ips[1]: "10.50.0.x" is not an IP address or a range "first-last"',
  ],
  [
    'ips range reversed',
    { subnet: '10.50.0.0/16', ips: ['10.50.0.9-10.50.0.1'] },
    'spec.ips[0]: "10.50.0.9-10.50.0.1" ends before it starts; write the lower address first',
  ],
  [
    'ips CIDR',
    { subnet: '10.50.0.0/16', ips: ['10.50.0.0/24'] },
    'spec.ips[0]: "10.50.0.0/24" is a CIDR; write a single IP or a range "first-last"',
  ],
  [
    'ips of the other family',
    { subnet: '10.50.0.0/16', ips: ['fd00::1'] },
    'spec.ips[0]: "fd00::1" is IPv6, expected IPv4',
  ],
  [
    'ips outside subnet',
    { subnet: '10.50.0.0/16', ips: ['10.50.0.1-10.50.0.3', '10.51.0.1'] },
    'spec.ips: 10.51.0.1 outside subnet 10.50.0.0/16',
  ],
  [
    'excludeIPs outside subnet',
    { subnet: '10.50.0.0/16', ips: ['10.50.0.1'], excludeIPs: ['10.49.0.1'] },
    'spec.excludeIPs: 10.49.0.1 outside subnet 10.50.0.0/16',
  ],
  [
    'gateway outside subnet',
    { subnet: '10.50.0.0/16', gateway: '10.51.0.1' },
    'spec.gateway: 10.51.0.1 is outside subnet 10.50.0.0/16',
  ],
  [
    'gateway of the other family',
    { subnet: '10.50.0.0/16', gateway: 'fd00::1' },
    'spec.gateway: "fd00::1" is not an IPv4 address',
  ],
  [
    'gateway inside ips',
    { subnet: '10.50.0.0/16', ips: ['10.50.0.1-10.50.0.9'], gateway: '10.50.0.1' },
    'spec.gateway: 10.50.0.1 is inside spec.ips; add it to spec.excludeIPs so no pod gets it',
  ],
  [
    'route default',
    { subnet: '10.50.0.0/16', routes: [{ dst: '0.0.0.0/0', gw: '10.50.0.1' }] },
    'spec.routes[0].dst: a default route belongs in spec.gateway',
  ],
  [
    'route dst not CIDR',
    { subnet: '10.50.0.0/16', routes: [{ dst: '10.60.0.0', gw: '10.50.0.1' }] },
    'spec.routes[0].dst: "10.60.0.0" is not an IPv4 CIDR',
  ],
  [
    'route duplicate dst',
    {
      subnet: '10.50.0.0/16',
      routes: [
        { dst: '10.60.0.0/16', gw: '10.50.0.1' },
        { dst: '10.60.0.0/16', gw: '10.50.0.2' },
      ],
    },
    'spec.routes[1].dst: 10.60.0.0/16 is routed twice',
  ],
  [
    'route gw outside subnet',
    { subnet: '10.50.0.0/16', routes: [{ dst: '10.60.0.0/16', gw: '10.70.0.1' }] },
    'spec.routes[0].gw: 10.70.0.1 is not inside subnet 10.50.0.0/16',
  ],
  [
    'overlaps another CIDR',
    { subnet: '10.6.0.0/24', ips: ['10.6.0.10'] },
    'spec.subnet: 10.6.0.0/24 overlaps 10.6.0.1/16 of SpiderIPPool ippool-test-ens192',
  ],
  [
    'same CIDR, overlapping ranges',
    { subnet: '10.7.0.0/16', ips: ['10.7.168.170-10.7.168.177'] },
    "spec.ips: 10.7.168.176-10.7.168.177 also in SpiderIPPool ippool-test-ens224\nspec.ips: 10.7.168.170 not in SpiderSubnet subnet-test-ens224's ips",
  ],
  [
    "outside its subnet's ips",
    { subnet: '10.6.0.0/16', ips: ['10.6.200.1'] },
    "spec.ips: 10.6.200.1 not in SpiderSubnet subnet-test-ens192's ips",
  ],
  [
    'IPv6 outside subnet',
    { subnet: 'fd00:50::/64', ips: ['fd00:51::1'] },
    'spec.ips: fd00:51::1 outside subnet fd00:50::/64',
  ],
];

const create = (spec: Spec) => validate('CREATE', pool('new-pool', spec), undefined, snapshot());

describe('CREATE as the API server sends it', () => {
  it('oldObject null (no stored object) is judged like undefined, and allowed', () => {
    const spec = { subnet: '10.99.0.0/16', ips: ['10.99.0.10-10.99.0.20'] };
    const snap = { ...snapshot(), subnets: [] };
    const withNull = validate('CREATE', pool('new-pool', spec), null, snap);
    expect(withNull).toEqual(validate('CREATE', pool('new-pool', spec), undefined, snap));
    expect(withNull).toMatchObject({ allowed: true });
  });
});

describe('SpiderIPPool validation: denials with the exact reason', () => {
  it('has at least 20 distinct bad specs', () => {
    expect(badPools.length).toBeGreaterThanOrEqual(20);
  });
  it.each(badPools)('%s', (_n, spec, reason) => {
    expect(create(spec)).toEqual({ allowed: false, reason, warnings: [] });
  });
});

describe('SpiderIPPool validation: updates', () => {
  const allocated = (): SpiderIPPool =>
    pool(
      'ippool-test-ens192',
      { subnet: '10.6.0.1/16', ips: ['10.6.168.176-10.6.168.180'], gateway: '10.6.0.1' },
      {
        status: {
          allocatedIPs: '{"10.6.168.177":{"pod":"default/web-1","podUid":"u1","interface":"eth0"}}',
          allocatedIPCount: 1,
        },
      },
    );

  it('an allocated address cannot be removed or excluded', () => {
    const old = allocated();
    const shrunk = { ...allocated(), spec: { ...old.spec, ips: ['10.6.168.178-10.6.168.180'] } };
    expect(validate('UPDATE', shrunk, old, snapshot())).toEqual({
      allowed: false,
      reason:
        'spec.ips/excludeIPs: 10.6.168.177 (allocated to default/web-1 eth0) cannot be removed while allocated',
      warnings: [],
    });
    const excluded = { ...allocated(), spec: { ...old.spec, excludeIPs: ['10.6.168.177'] } };
    expect(validate('UPDATE', excluded, old, snapshot()).allowed).toBe(false);
    const grown = {
      ...allocated(),
      spec: { ...old.spec, ips: ['10.6.168.176-10.6.168.180'], excludeIPs: ['10.6.168.179'] },
    };
    expect(validate('UPDATE', grown, old, snapshot()).allowed).toBe(true);
  });

  it('subnet and ipVersion are immutable; a terminating pool only loses finalizers', () => {
    const old = allocated();
    expect(
      validate('UPDATE', { ...old, spec: { ...old.spec, subnet: '10.6.0.0/16' } }, old, snapshot())
        .reason,
    ).toBe('spec.subnet: immutable (was 10.6.0.1/16)');
    // Its last address released: nicpool's finalizer may go (review #4 covers the other case).
    const dying = {
      ...old,
      status: {},
      metadata: {
        ...old.metadata,
        deletionTimestamp: '2026-11-27T00:00:00Z',
        finalizers: ['spiderpool.spidernet.io'],
      },
    };
    expect(
      validate(
        'UPDATE',
        { ...dying, metadata: { ...dying.metadata, finalizers: [] } },
        dying,
        snapshot(),
      ).allowed,
    ).toBe(true);
    // The API server moves resourceVersion and managedFields on every write; key order may differ.
    const serverMoved = {
      ...dying,
      spec: Object.fromEntries(Object.entries(dying.spec).reverse()) as typeof dying.spec,
      metadata: {
        ...dying.metadata,
        finalizers: [],
        resourceVersion: '99',
        generation: 7,
        managedFields: [{ manager: 'nicpool-controller' }],
      } as typeof dying.metadata,
    };
    expect(validate('UPDATE', serverMoved, dying, snapshot()).allowed).toBe(true);
    expect(
      validate('UPDATE', { ...dying, spec: { ...dying.spec, disable: true } }, dying, snapshot()),
    ).toEqual({
      allowed: false,
      reason: 'SpiderIPPool ippool-test-ens192 is being deleted; only its finalizers may change',
      warnings: [],
    });
  });

  it('the tutorial pools and subnets validate', () => {
    const snap = snapshot();
    for (const p of snap.pools.slice(0, 2))
      expect(
        validate('CREATE', p, undefined, { ...snap, pools: snap.pools.filter((x) => x !== p) })
          .allowed,
      ).toBe(true);
  });
});

describe('finalizer and auto-pools', () => {
  it('mutation adds the finalizer to a new pool, never to one being deleted', () => {
    const p = snapshot().pools[0]!;
    const { finalizers: _f, ...meta } = p.metadata;
    const fresh = { ...p, metadata: meta };
    const m = mutate(fresh, snapshot());
    expect(m.patch).toContainEqual({
      op: 'add',
      path: '/metadata/finalizers',
      value: ['spiderpool.spidernet.io'],
    });
    const dying = { ...fresh, metadata: { ...fresh.metadata, deletionTimestamp: 'now' } };
    expect(JSON.stringify(mutate(dying, snapshot()).patch ?? [])).not.toContain('finalizers');
  });

  it('an auto-pool is changed by the controller only', () => {
    const base = snapshot().pools[0]!;
    const auto = {
      ...base,
      metadata: {
        ...base.metadata,
        labels: {
          'ipam.spidernet.io/owner-application-kind': 'Deployment',
          'ipam.spidernet.io/owner-application-namespace': 'default',
          'ipam.spidernet.io/owner-application-name': 'test-app',
        },
      },
    };
    const grown = { ...auto, spec: { ...auto.spec, ips: ['10.6.168.176-10.6.168.179'] } };
    expect(validate('UPDATE', grown, auto, snapshot())).toEqual({
      allowed: false,
      reason:
        "SpiderIPPool ippool-test-ens192 is the auto-pool of Deployment default/test-app, kept by the nicpool controller: change the workload's ipam.spidernet.io/ippool-ip-number or subnets annotation instead (or delete the workload)",
      warnings: [],
    });
    expect(validate('UPDATE', grown, auto, snapshot(), true).allowed).toBe(true);
    // Other labels stay the admin's.
    const tagged = {
      ...auto,
      metadata: { ...auto.metadata, labels: { ...auto.metadata.labels, team: 'a' } },
    };
    expect(validate('UPDATE', tagged, auto, snapshot()).allowed).toBe(true);
  });
});

describe('SpiderSubnet validation', () => {
  it('subnets do not overlap', () => {
    const s = subnet('s-new', { subnet: '10.7.128.0/17', ips: ['10.7.128.10'] });
    expect(validate('CREATE', s, undefined, snapshot())).toEqual({
      allowed: false,
      reason: 'spec.subnet: 10.7.128.0/17 overlaps 10.7.0.1/16 of SpiderSubnet subnet-test-ens224',
      warnings: [],
    });
  });
  it('addresses pre-allocated to a pool cannot be removed', () => {
    const old: SpiderSubnet = {
      ...snapshot().subnets[0]!,
      status: {
        controlledIPPools: '{"auto-test-app-v4-eth0-1":{"ips":["10.6.168.171-10.6.168.173"]}}',
      },
    };
    const next: SpiderSubnet = {
      ...old,
      spec: { ...old.spec, ips: ['10.6.168.172-10.6.168.180'] },
    };
    expect(validate('UPDATE', next, old, snapshot()).reason).toBe(
      'spec.ips/excludeIPs: addresses of pool auto-test-app-v4-eth0-1 (10.6.168.171) cannot be removed while the pool holds them',
    );
  });
});

describe('mutation by diffing', () => {
  it('defaults ipVersion, labels the CIDR, canonicalises ranges, ties a pool to its subnet', () => {
    const p = pool('ippool-test-ens192', {
      subnet: '10.6.0.1/16',
      ips: ['10.6.168.180', '10.6.168.176-10.6.168.179'],
    });
    p.metadata.labels = { team: 'net' };
    const d = mutate(p, snapshot());
    expect(d.allowed).toBe(true);
    const next = fastJsonPatch.applyPatch(structuredClone(p), [
      ...d.patch!,
    ] as fastJsonPatch.Operation[]).newDocument;
    expect(next.spec).toEqual({
      subnet: '10.6.0.1/16',
      ipVersion: 4,
      ips: ['10.6.168.176-10.6.168.180'],
      gateway: '10.6.0.1',
    });
    expect(next.metadata.labels).toEqual({
      team: 'net',
      'ipam.spidernet.io/ippool-cidr': '10-6-0-0-16',
      'ipam.spidernet.io/owner-spider-subnet': 'subnet-test-ens192',
    });
    expect(next.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'spiderpool.spidernet.io/v2beta1',
        kind: 'SpiderSubnet',
        name: 'subnet-test-ens192',
        uid: 'uid-subnet-test-ens192',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    // JSON Pointer escapes "/" in label keys as "~1".
    expect(JSON.stringify(d.patch)).toContain('ipam.spidernet.io~1ippool-cidr');
  });

  it('no change → no patch; an IPv6 label', () => {
    const once = mutate(pool('x', { subnet: 'fd00:7::/64', ips: ['fd00:7::1'] }), snapshot());
    const p2 = fastJsonPatch.applyPatch(
      structuredClone(pool('x', { subnet: 'fd00:7::/64', ips: ['fd00:7::1'] })),
      [...once.patch!] as fastJsonPatch.Operation[],
    ).newDocument;
    expect(mutate(p2, snapshot())).toEqual({ allowed: true, warnings: [] });
    const c = parseCIDR('fd00:7::/64');
    expect(c.ok && cidrLabel(c.value)).toBe('fd00-7-64');
  });

  it('refuses what it cannot mutate, never passes it silently', () => {
    expect(mutate(pool('x', { subnet: 'bogus' }), snapshot())).toEqual({
      allowed: false,
      reason: 'spec.subnet: "bogus" is not a CIDR: missing "/prefix"',
      warnings: [],
    });
  });
});

describe('the finalizer of a pool still holding addresses (review #4)', () => {
  const held = (allocatedIPs: string | undefined): SpiderIPPool =>
    pool(
      'ippool-test-ens192',
      { subnet: '10.6.0.1/16', ips: ['10.6.168.176-10.6.168.180'], gateway: '10.6.0.1' },
      {
        metadata: {
          name: 'ippool-test-ens192',
          uid: 'uid-ippool-test-ens192',
          deletionTimestamp: '2026-12-01T00:00:00Z',
          finalizers: ['spiderpool.spidernet.io', 'example.com/backup'],
        },
        ...(allocatedIPs === undefined ? {} : { status: { allocatedIPs } }),
      },
    );
  const without = (p: SpiderIPPool, f: string): SpiderIPPool => ({
    ...p,
    metadata: { ...p.metadata, finalizers: (p.metadata.finalizers ?? []).filter((x) => x !== f) },
  });
  const busy = (): SpiderIPPool =>
    held(
      JSON.stringify({
        '10.6.168.177': { pod: 'default/web-1', podUid: 'u1', interface: 'eth0' },
        '10.6.168.178': { pod: 'default/web-2', podUid: 'u2', interface: 'eth0' },
      }),
    );

  it('is not removed by an admin while status.allocatedIPs holds records', () => {
    const old = busy();
    expect(validate('UPDATE', without(old, 'spiderpool.spidernet.io'), old, snapshot())).toEqual({
      allowed: false,
      reason:
        'metadata.finalizers: SpiderIPPool ippool-test-ens192 still holds 2 allocated addresses (10.6.168.177 default/web-1 eth0, 10.6.168.178 default/web-2 eth0); its finalizer spiderpool.spidernet.io stays until they are released, or an address live pods use would be handed out again. Delete those pods (kubectl get spiderendpoints -A shows which pod holds which address); the nicpool controller removes the finalizer after the last release',
      warnings: [],
    });
  });

  it('is not removed while the records cannot be read (they count as in use)', () => {
    const old = held('{oops');
    const d = validate('UPDATE', without(old, 'spiderpool.spidernet.io'), old, snapshot());
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain(
      'metadata.finalizers: SpiderIPPool ippool-test-ens192 has unreadable status.allocatedIPs',
    );
  });

  it('is removed by the controller, or by anyone once no address is allocated', () => {
    const old = busy();
    expect(
      validate('UPDATE', without(old, 'spiderpool.spidernet.io'), old, snapshot(), true).allowed,
    ).toBe(true);
    const free = held(undefined);
    expect(
      validate('UPDATE', without(free, 'spiderpool.spidernet.io'), free, snapshot()).allowed,
    ).toBe(true);
    // Another controller's finalizer is not nicpool's business.
    expect(validate('UPDATE', without(old, 'example.com/backup'), old, snapshot()).allowed).toBe(
      true,
    );
  });

  it('the controller is told apart by the AdmissionReview userInfo.username', () => {
    const old = busy();
    const review = (username: string): AdmissionReview => ({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'r1',
        kind: { group: 'spiderpool.spidernet.io', version: 'v2beta1', kind: 'SpiderIPPool' },
        operation: 'UPDATE',
        name: old.metadata.name,
        object: without(old, 'spiderpool.spidernet.io'),
        oldObject: old,
        userInfo: { username },
      },
    });
    const policy = { controllerUsers: ['system:serviceaccount:nicpool-system:nicpool-controller'] };
    expect(
      decide(
        review('system:serviceaccount:nicpool-system:nicpool-controller'),
        false,
        snapshot(),
        policy,
      ).allowed,
    ).toBe(true);
    expect(decide(review('kubernetes-admin'), false, snapshot(), policy).allowed).toBe(false);
  });

  it('a free pool loses its finalizer even if it overlaps what others hold by now', () => {
    const free = held(undefined);
    const snap = snapshot();
    const overlapping = {
      ...snap,
      pools: [...snap.pools, pool('latecomer', { subnet: '10.6.0.1/16', ips: ['10.6.168.180'] })],
    };
    expect(validate('UPDATE', without(free, 'spiderpool.spidernet.io'), free, overlapping)).toEqual(
      { allowed: true, warnings: [] },
    );
  });

  it("a subnet's finalizer stays while pools of it exist", () => {
    const base = snapshot().subnets[0]!;
    const old: SpiderSubnet = {
      ...base,
      metadata: {
        ...base.metadata,
        deletionTimestamp: '2026-12-01T00:00:00Z',
        finalizers: ['spiderpool.spidernet.io'],
      },
    };
    const next: SpiderSubnet = { ...old, metadata: { ...old.metadata, finalizers: [] } };
    const snap = snapshot();
    const owned = {
      ...snap,
      pools: snap.pools.map((p) =>
        p.metadata.name === 'ippool-test-ens192'
          ? {
              ...p,
              metadata: {
                ...p.metadata,
                labels: { 'ipam.spidernet.io/owner-spider-subnet': 'subnet-test-ens192' },
              },
            }
          : p,
      ),
    };
    expect(validate('UPDATE', next, old, owned)).toEqual({
      allowed: false,
      reason:
        'metadata.finalizers: SpiderSubnet subnet-test-ens192 still has pools ippool-test-ens192; its finalizer spiderpool.spidernet.io stays until they are gone (the nicpool controller deletes them and removes the finalizer after)',
      warnings: [],
    });
    expect(validate('UPDATE', next, old, owned, true).allowed).toBe(true);
    expect(validate('UPDATE', next, old, snapshot()).allowed).toBe(true);
  });
});

describe("a subnet's promises to pools not created yet (review #5)", () => {
  const promised = (claims: Record<string, unknown>): ReturnType<typeof snapshot> => {
    const snap = snapshot();
    return {
      ...snap,
      subnets: snap.subnets.map((s) =>
        s.metadata.name === 'subnet-test-ens192'
          ? {
              ...s,
              spec: { ...s.spec, ips: ['10.6.0.10-10.6.0.30', '10.6.168.171-10.6.168.180'] },
              status: { controlledIPPools: JSON.stringify(claims) },
            }
          : s,
      ),
    };
  };
  const claims = {
    'auto-web-v4-eth0-5f1c2a9d7e3b': {
      ips: ['10.6.0.10-10.6.0.12'],
      application: 'apps_v1_Deployment_default_web',
    },
  };
  const manual = (): SpiderIPPool =>
    pool('manual', { subnet: '10.6.0.1/16', ips: ['10.6.0.10-10.6.0.20'] });

  it('a manual pool cannot take addresses a subnet promised to an auto-pool', () => {
    expect(validate('CREATE', manual(), undefined, promised(claims))).toEqual({
      allowed: false,
      reason:
        'spec.ips: 10.6.0.10-10.6.0.12 promised by SpiderSubnet subnet-test-ens192 to pool auto-web-v4-eth0-5f1c2a9d7e3b (not created yet)',
      warnings: [],
    });
    expect(
      validate(
        'CREATE',
        pool('manual', { subnet: '10.6.0.1/16', ips: ['10.6.0.13-10.6.0.20'] }),
        undefined,
        promised(claims),
      ).allowed,
    ).toBe(true);
  });

  it('nor grow into them; its own entry is its own', () => {
    const old = pool('manual', { subnet: '10.6.0.1/16', ips: ['10.6.0.15-10.6.0.20'] });
    const snap = promised({ ...claims, manual: { ips: ['10.6.0.15-10.6.0.20'] } });
    expect(validate('UPDATE', manual(), old, snap).reason).toBe(
      'spec.ips: 10.6.0.10-10.6.0.12 promised by SpiderSubnet subnet-test-ens192 to pool auto-web-v4-eth0-5f1c2a9d7e3b (not created yet)',
    );
    expect(validate('UPDATE', old, old, snap).allowed).toBe(true);
  });

  it('a pool being grown: only what its spec does not already report', () => {
    const snap = promised({
      'ippool-test-ens192': { ips: ['10.6.168.176-10.6.168.180', '10.6.0.10'] },
    });
    expect(validate('CREATE', manual(), undefined, snap).reason).toBe(
      'spec.ips: 10.6.0.10 promised by SpiderSubnet subnet-test-ens192 to pool ippool-test-ens192',
    );
  });

  it('unreadable promises of an overlapping subnet refuse the pool, naming the subnet', () => {
    const snap = snapshot();
    const broken = {
      ...snap,
      subnets: snap.subnets.map((s) =>
        s.metadata.name === 'subnet-test-ens192'
          ? {
              ...s,
              spec: { ...s.spec, ips: ['10.6.0.10-10.6.0.30'] },
              status: { controlledIPPools: '{oops' },
            }
          : s,
      ),
    };
    const d = validate('CREATE', manual(), undefined, broken);
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain(
      'spec.ips: the promises of SpiderSubnet subnet-test-ens192 (status.controlledIPPools) cannot be read',
    );
  });
});

describe('forged auto-pools (review #17)', () => {
  const autoLabels = {
    'ipam.spidernet.io/owner-application-gv': 'apps_v1',
    'ipam.spidernet.io/owner-application-kind': 'Deployment',
    'ipam.spidernet.io/owner-application-namespace': 'default',
    'ipam.spidernet.io/owner-application-name': 'test-app',
    'ipam.spidernet.io/owner-application-uid': 'u-forged',
    'ipam.spidernet.io/interface': 'eth0',
    'ipam.spidernet.io/ip-version': 'IPv4',
  };
  const forged = (): SpiderIPPool =>
    pool(
      'auto-test-app-v4-eth0-forged',
      { subnet: '10.20.0.0/16', ips: ['10.20.0.10-10.20.0.20'] },
      {
        metadata: {
          name: 'auto-test-app-v4-eth0-forged',
          labels: autoLabels,
        },
      },
    );
  const reason =
    "SpiderIPPool auto-test-app-v4-eth0-forged carries the auto-pool labels of Deployment default/test-app (ipam.spidernet.io/owner-application-*); only the nicpool controller makes auto-pools: remove those labels, or give the workload's pod template an ipam.spidernet.io/subnets annotation";

  it('is refused on CREATE unless the controller creates it', () => {
    expect(validate('CREATE', forged(), undefined, snapshot())).toEqual({
      allowed: false,
      reason,
      warnings: [],
    });
    expect(validate('CREATE', forged(), undefined, snapshot(), true).allowed).toBe(true);
  });

  it('an ordinary pool cannot be turned into one by an UPDATE', () => {
    const plain = pool('auto-test-app-v4-eth0-forged', {
      subnet: '10.20.0.0/16',
      ips: ['10.20.0.10-10.20.0.20'],
    });
    expect(validate('UPDATE', forged(), plain, snapshot())).toEqual({
      allowed: false,
      reason,
      warnings: [],
    });
  });
});

describe('time budget: the worst sizes the limits allow', () => {
  it('CREATE against 5000 pools and a subnet promising 5000 auto-pools stays under 500 ms', () => {
    const base = snapshot();
    const claims: Record<string, { ips: string[]; application: string }> = {};
    const pools: SpiderIPPool[] = [];
    for (let i = 0; i < 5000; i++) {
      const ip = `10.6.${100 + Math.floor(i / 250)}.${i % 250}`;
      const name = `auto-w${i}-v4-eth0-${'a'.repeat(12)}`;
      claims[name] = { ips: [ip], application: `apps_v1_Deployment_default_w${i}` };
      pools.push(pool(name, { subnet: '10.6.0.1/16', ips: [ip] }));
    }
    const snap = {
      ...base,
      pools,
      subnets: base.subnets.map((s) =>
        s.metadata.name === 'subnet-test-ens192'
          ? {
              ...s,
              spec: { ...s.spec, ips: ['10.6.0.10-10.6.200.255'] },
              status: { controlledIPPools: JSON.stringify(claims) },
            }
          : s,
      ),
    };
    const p = pool('manual', { subnet: '10.6.0.1/16', ips: ['10.6.150.1-10.6.150.200'] });
    validate('CREATE', p, undefined, snap); // warm-up (JIT), not measured
    const t0 = performance.now();
    const d = validate('CREATE', p, undefined, snap);
    const ms = performance.now() - t0;
    expect(d.allowed).toBe(true);
    // Measured 25-110 ms on the shared 2-core machine; the bound catches a quadratic turn.
    expect(ms).toBeLessThan(500);
  });
});

// The API server runs mutating webhooks before it checks the CRD schema (validating ones
// after), so mutate() sees whatever JSON a client sent: every shape must get an answer.
describe('hostile shapes: an answer naming the field, never a throw', () => {
  const bases = {
    SpiderIPPool: (): unknown => ({
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderIPPool',
      metadata: {
        name: 'new-pool',
        labels: { team: 'net' },
        annotations: { note: 'n' },
        finalizers: ['example.com/keep'],
        ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'c', uid: 'u' }],
      },
      // Inside subnet-test-ens192, so the owner reference and inheritance run too.
      spec: {
        subnet: '10.6.0.1/16',
        ips: ['10.6.168.171-10.6.168.175'],
        excludeIPs: ['10.6.168.175'],
        routes: [{ dst: '10.60.0.0/16', gw: '10.6.0.254' }],
        namespaceName: ['default'],
      },
    }),
    SpiderSubnet: (): unknown => ({
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderSubnet',
      metadata: { name: 'new-subnet', labels: { team: 'net' }, finalizers: [] },
      spec: {
        subnet: '10.50.0.0/16',
        ips: ['10.50.0.1-10.50.0.9'],
        excludeIPs: ['10.50.0.9'],
        gateway: '10.50.0.254',
        routes: [{ dst: '10.60.0.0/16', gw: '10.50.0.253' }],
      },
    }),
    SpiderReservedIP: (): unknown => ({
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderReservedIP',
      metadata: { name: 'r', labels: { team: 'net' } },
      spec: { ips: ['10.6.168.171'] },
    }),
  } as const;
  type Path = readonly (string | number)[];
  const paths: readonly Path[] = [
    [],
    ['kind'],
    ['metadata'],
    ['metadata', 'name'],
    ['metadata', 'labels'],
    ['metadata', 'labels', 'team'],
    ['metadata', 'annotations'],
    ['metadata', 'finalizers'],
    ['metadata', 'finalizers', 0],
    ['metadata', 'ownerReferences'],
    ['metadata', 'ownerReferences', 0],
    ['metadata', 'deletionTimestamp'],
    ['spec'],
    ['spec', 'subnet'],
    ['spec', 'ipVersion'],
    ['spec', 'ips'],
    ['spec', 'ips', 0],
    ['spec', 'excludeIPs'],
    ['spec', 'excludeIPs', 0],
    ['spec', 'gateway'],
    ['spec', 'routes'],
    ['spec', 'routes', 0],
    ['spec', 'routes', 0, 'dst'],
    ['spec', 'routes', 0, 'gw'],
    ['spec', 'namespaceName'],
    ['spec', 'vlan'],
    ['status'],
    ['status', 'allocatedIPs'],
    ['status', 'controlledIPPools'],
  ];
  const DELETE = Symbol('delete');
  const values: readonly unknown[] = [
    DELETE,
    null,
    'x\ny',
    7,
    true,
    [],
    [7],
    [null],
    ['x'],
    {},
    { a: 1 },
    { a: { b: [] } },
  ];
  /** The path as messages write it: `spec.routes[0].dst`. */
  const pathText = (p: Path): string =>
    p.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
  /** A copy of `base` with `value` at `path` (parents created as needed); `path` [] replaces it. */
  const withValue = (base: unknown, path: Path, value: unknown): unknown => {
    if (path.length === 0) return value === DELETE ? undefined : value;
    const root = structuredClone(base) as Record<string | number, unknown>;
    let at = root;
    for (const s of path.slice(0, -1)) {
      const next = at[s];
      if (typeof next !== 'object' || next === null) at[s] = {};
      at = at[s] as Record<string | number, unknown>;
    }
    const last = path[path.length - 1]!;
    if (value === DELETE) {
      if (Array.isArray(at)) at.splice(Number(last), 1);
      else delete at[last];
    } else at[last] = value;
    return root;
  };
  const review = (kind: string, object: unknown, oldObject?: unknown): AdmissionReview => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u1',
      kind: { group: 'spiderpool.spidernet.io', version: 'v2beta1', kind },
      operation: oldObject === undefined ? 'CREATE' : 'UPDATE',
      object,
      ...(oldObject === undefined ? {} : { oldObject }),
    },
  });

  it.each(Object.keys(bases) as (keyof typeof bases)[])(
    '%s: the base object is admitted (so a denial below is the hostile value)',
    (kind) => {
      const o = bases[kind]();
      expect(mutate(o, snapshot()).allowed).toBe(true);
      expect(validate('CREATE', o, undefined, snapshot())).toEqual({ allowed: true, warnings: [] });
    },
  );

  it.each(Object.keys(bases) as (keyof typeof bases)[])(
    '%s: every field mutation or validation reads, set to every JSON type',
    (kind) => {
      const snap = snapshot();
      const base = bases[kind]();
      const problems: string[] = [];
      for (const path of paths)
        for (const value of values) {
          const obj = withValue(base, path, value);
          const where = `${pathText(path) || 'object'} = ${value === DELETE ? '(absent)' : JSON.stringify(value)}`;
          const decisions: [string, () => ReturnType<typeof mutate>][] = [
            ['mutate', () => decide(review(kind, obj), true, snap)],
            ['validate CREATE', () => decide(review(kind, obj), false, snap)],
            ['validate UPDATE', () => decide(review(kind, obj, base), false, snap)],
            ['validate UPDATE of a stored one', () => decide(review(kind, base, obj), false, snap)],
          ];
          for (const [what, run] of decisions) {
            let d: ReturnType<typeof mutate>;
            try {
              d = run();
            } catch (e) {
              problems.push(`${what}, ${where}: threw ${String(e)}`);
              continue;
            }
            if (d.allowed) {
              // A patch must apply to what was sent: no operation on a path the object lacks.
              if (d.patch !== undefined)
                try {
                  fastJsonPatch.applyPatch(
                    structuredClone(obj),
                    [...d.patch] as fastJsonPatch.Operation[],
                    true,
                  );
                } catch (e) {
                  problems.push(`${what}, ${where}: patch does not apply (${String(e)})`);
                }
              continue;
            }
            const reason = d.reason ?? '';
            if (reason.includes('\n') && reason.split('\n').some((l) => l === ''))
              problems.push(`${what}, ${where}: an empty line in ${JSON.stringify(reason)}`);
            // The problem is named by the path or its parent (`spec.routes` for a route's
            // `dst`); an object in place of the whole object lacks its `kind`.
            const named =
              path.length > 0
                ? pathText(path.slice(0, 2))
                : typeof value === 'object' && value !== null && !Array.isArray(value)
                  ? 'kind'
                  : 'request.object';
            if (what !== 'validate UPDATE of a stored one' && !reason.includes(named))
              problems.push(`${what}, ${where}: denial names no ${named}: ${reason}`);
          }
        }
      expect(problems).toEqual([]);
    },
  );

  const deniedBy = (d: { allowed: boolean; reason?: string }): string | undefined =>
    d.allowed ? undefined : d.reason;
  const poolWith = (spec: unknown, metadata: unknown = { name: 'p' }): unknown => ({
    apiVersion: 'spiderpool.spidernet.io/v2beta1',
    kind: 'SpiderIPPool',
    metadata,
    spec,
  });

  it('mutate names what it cannot work with, by field path', () => {
    const snap = snapshot();
    const m = (o: unknown): string | undefined => deniedBy(mutate(o, snap));
    expect(m(undefined)).toBe('request.object: must be a JSON object, not undefined');
    expect(m(poolWith({}))).toBe('spec.subnet: required: a CIDR such as 10.6.0.0/16');
    expect(m({ kind: 'SpiderIPPool', metadata: { name: 'p' } })).toBe('spec: required');
    expect(m(poolWith({ subnet: 16 }))).toBe(
      'spec.subnet: must be a string (a CIDR such as 10.6.0.0/16), not a number',
    );
    expect(m(poolWith({ subnet: '10.6.0.0/16', ips: {} }))).toBe(
      'spec.ips: must be a list of strings (addresses or ranges), not an object',
    );
    expect(m(poolWith({ subnet: '10.6.0.0/16', ips: ['10.6.0.1', 7], excludeIPs: 'x' }))).toBe(
      'spec.ips[1]: must be a string, not a number\nspec.excludeIPs: must be a list of strings (addresses or ranges), not a string',
    );
    expect(m(poolWith({ subnet: '10.6.0.0/16' }, { name: 'p', labels: ['a'] }))).toBe(
      'metadata.labels: must be an object of strings, not a list',
    );
    expect(m(poolWith({ subnet: '10.6.0.0/16' }, { name: 'p', labels: { a: 1 } }))).toBe(
      'metadata.labels["a"]: must be a string, not a number',
    );
    // Today a string here is spread into its characters: a silently wrong patch.
    expect(m(poolWith({ subnet: '10.6.0.0/16' }, { name: 'p', finalizers: 'keep' }))).toBe(
      'metadata.finalizers: must be a list of strings, not a string',
    );
    expect(m(poolWith({ subnet: '10.6.0.1/16' }, { name: 'p', ownerReferences: [null] }))).toBe(
      'metadata.ownerReferences[0]: must be an object, not null',
    );
    expect(m(poolWith({ subnet: '10.6.0.0/16', ipVersion: '4' }))).toBe(
      'spec.ipVersion: must be the number 4 or 6, not a string',
    );
    expect(
      m({ kind: 'SpiderReservedIP', metadata: { name: 'r' }, spec: { ips: [1], ipVersion: 5 } }),
    ).toBe(
      'spec.ipVersion: must be the number 4 or 6, not 5\nspec.ips[0]: must be a string, not a number',
    );
    expect(m({ kind: 'Pod', metadata: { name: 'r' }, spec: {} })).toBe(
      'kind: "Pod" is not SpiderIPPool, SpiderSubnet or SpiderReservedIP',
    );
  });

  it('validate names the routes and gateway it cannot read, and quotes values on one line', () => {
    const snap = snapshot();
    const v = (spec: unknown): string | undefined =>
      deniedBy(validate('CREATE', poolWith(spec), undefined, snap));
    expect(v({ subnet: '10.50.0.0/16', routes: [{ gw: '10.50.0.1' }, 'r'] })).toBe(
      'spec.routes[0].dst: required\nspec.routes[1]: must be an object {dst, gw}, not a string',
    );
    expect(v({ subnet: '10.50.0.0/16', gateway: 1 })).toBe(
      'spec.gateway: must be a string (an IP address), not a number',
    );
    expect(v({ subnet: '10.50.0.0/16', gateway: 'x\ny' })).toBe(
      'spec.gateway: "x\\ny" is not an IPv4 address',
    );
    expect(v({ subnet: '10.50.0.0/16', routes: [{ dst: '1\n', gw: 'g\r' }] })).toBe(
      'spec.routes[0].dst: "1\\n" is not an IPv4 CIDR\nspec.routes[0].gw: "g\\r" is not an IPv4 address',
    );
    // Messages of @nicpool/ip quote values raw; the denial keeps one problem a line anyway.
    expect(v({ subnet: 'x\ny' })).toBe('spec.subnet: "x\\ny" is not a CIDR: missing "/prefix"');
    expect(v({ subnet: '10.50.0.0/16', ips: ['a\u2028b'] })).toBe(
      'spec.ips[0]: "a\\u2028b" is not an IP address or a range "first-last"',
    );
  });

  it('a stored object of a shape the schema refuses is named, not a throw', () => {
    const d = validate(
      'UPDATE',
      poolWith({ subnet: '10.50.0.0/16' }),
      poolWith({ subnet: '10.50.0.0/16' }, { name: 'p', finalizers: 'x' }),
      snapshot(),
    );
    expect(d).toEqual({
      allowed: false,
      reason:
        'metadata.finalizers: must be a list of strings, not a string (in the stored object, request.oldObject)',
      warnings: [],
    });
  });
});
