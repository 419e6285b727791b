import { describe, expect, it } from '@jest/globals';
import { MAX_STATUS_COUNT } from '@nicpool/crds';
import {
  checkSnapshot,
  formatFinding,
  Kind,
  summaryLine,
  topLevelKeys,
  type CheckOptions,
  type InvariantReport,
} from './index.ts';
import {
  ago,
  AUTO,
  consistent,
  endpoint,
  NOW,
  OWNED,
  pod,
  pool,
  reserved,
  subnet,
  type Cluster,
} from './test-fixtures.ts';

const check = (c: Cluster, opts: CheckOptions = {}): InvariantReport =>
  checkSnapshot(c, { now: NOW, ...opts });
const kinds = (r: InvariantReport): string[] => r.violations.map((f) => f.kind).sort();
const lines = (r: InvariantReport): string[] => r.violations.map(formatFinding);

/** The cluster with one pool replaced by `f(pool)`. */
function withPool(c: Cluster, name: string, f: (p: Cluster['pools'][number]) => void): Cluster {
  const p = c.pools.find((x) => x.metadata.name === name);
  if (p === undefined) throw new Error(`fixture has no pool ${name}`);
  f(p);
  return c;
}
const endpointOf = (c: Cluster, name: string): Cluster['endpoints'][number] => {
  const e = c.endpoints.find((x) => x.metadata.name === name);
  if (e === undefined) throw new Error(`fixture has no endpoint ${name}`);
  return e;
};

describe('the consistent fixture', () => {
  it('holds every invariant and says so in one line', () => {
    const r = check(consistent());
    expect(r.violations).toEqual([]);
    expect(r.settling).toEqual([]);
    expect(r.totals).toEqual({ pools: 4, records: 4, endpoints: 2, pods: 2, subnets: 1 });
    expect(summaryLine(r)).toBe('4 pools, 4 records, 2 endpoints, 2 pods: all invariants hold');
  });
});

describe('records ⇔ SpiderEndpoints', () => {
  it('a record whose pod has no SpiderEndpoint', () => {
    const c = consistent();
    c.endpoints = c.endpoints.filter((e) => e.metadata.name !== 'b');
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.recordWithoutEndpoint]);
    expect(lines(r)).toEqual([
      `SpiderIPPool ${AUTO}: record 10.6.200.1 (pod default/b uid u2, eth0) has no SpiderEndpoint`,
    ]);
  });

  it('a record its SpiderEndpoint does not list', () => {
    const c = consistent();
    const ep = endpointOf(c, 'a');
    ep.status!.current!.ips = ep.status!.current!.ips.filter((i) => i.interface !== 'net1');
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.recordWithoutEndpoint]);
    expect(lines(r)[0]).toBe(
      'SpiderIPPool test-ippool-2: record 10.7.168.171 (pod default/a uid u1, net1): SpiderEndpoint default/a does not list it',
    );
  });

  it('an endpoint entry with no record in its pool', () => {
    const c = consistent();
    endpointOf(c, 'a').status!.current!.ips.push({
      interface: 'net2',
      ipv4: '10.7.168.175/16',
      ipv4Pool: 'test-ippool-2',
    });
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.endpointWithoutRecord]);
    expect(lines(r)[0]).toBe(
      'SpiderEndpoint default/a: net2 10.7.168.175/16 (uid u1): SpiderIPPool test-ippool-2 has no record of 10.7.168.175',
    );
  });

  it('an endpoint entry naming a pool that does not exist', () => {
    const c = consistent();
    endpointOf(c, 'b').status!.current!.ips.push({
      interface: 'net1',
      ipv4: '10.9.0.5/16',
      ipv4Pool: 'gone-pool',
    });
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.endpointWithoutRecord]);
    expect(lines(r)[0]).toContain('its pool SpiderIPPool gone-pool does not exist');
  });

  it('an endpoint that lists the address for another interface: both sides say so', () => {
    const c = consistent();
    endpointOf(c, 'a').status!.current!.ips[1]!.interface = 'net9';
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.endpointWithoutRecord, Kind.recordEndpointMismatch]);
    expect(lines(r)).toEqual([
      'SpiderIPPool test-ippool-2: record 10.7.168.171 (pod default/a uid u1, net1): SpiderEndpoint default/a lists it for net9 from pool test-ippool-2',
      'SpiderEndpoint default/a: net9 10.7.168.171/16 (uid u1): SpiderIPPool test-ippool-2 records 10.7.168.171 for net1',
    ]);
  });

  it('an endpoint of another pod UID than the records', () => {
    const c = consistent();
    endpointOf(c, 'b').status!.current!.uid = 'u9';
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.endpointWithoutRecord, Kind.recordEndpointMismatch]);
    expect(lines(r)[0]).toContain('SpiderEndpoint default/b is of pod uid u9');
  });

  it('an endpoint whose pod is gone and which lists nothing', () => {
    const c = consistent();
    c.endpoints.push(endpoint('default', 'old', 'u7', []));
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.endpointOrphan]);
    expect(lines(r)[0]).toBe(
      'SpiderEndpoint default/old: pod uid u7 does not exist and the endpoint lists no address',
    );
  });
});

describe('records ⇔ live pods', () => {
  it('records of a pod that does not exist', () => {
    const c = consistent();
    c.pods = c.pods.filter((p) => p.name !== 'b');
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.recordPodGone]);
    expect(lines(r)[0]).toBe(
      `SpiderIPPool ${AUTO}: record 10.6.200.1 (pod default/b uid u2, eth0): its pod does not exist`,
    );
  });

  it('records of a pod re-created under another UID', () => {
    const c = consistent();
    c.pods = [pod('default', 'a', 'u1'), pod('default', 'b', 'u3')];
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.recordPodRecreated]);
    expect(lines(r)[0]).toContain('its pod was re-created (live UID u3)');
  });

  it('records of a finished pod', () => {
    const c = consistent();
    c.pods = [pod('default', 'a', 'u1'), pod('default', 'b', 'u2', { finished: true })];
    expect(kinds(check(c))).toEqual([Kind.recordPodFinished]);
  });

  it('records of a Terminating pod: a violation unless settling is allowed', () => {
    const c = consistent();
    c.pods = [pod('default', 'a', 'u1'), pod('default', 'b', 'u2', { deletionTimestamp: ago(2) })];
    expect(kinds(check(c))).toEqual([Kind.recordPodTerminating]);
    const r = check(c, { allowSettling: true });
    expect(r.violations).toEqual([]);
    expect(r.settling.map(formatFinding)).toEqual([
      `SpiderIPPool ${AUTO}: record 10.6.200.1 (pod default/b uid u2, eth0): its pod is Terminating (settling: pod is Terminating)`,
    ]);
    expect(summaryLine(r)).toBe(
      '4 pools, 4 records, 2 endpoints, 2 pods: all invariants hold (1 settling)',
    );
  });

  it('settling covers a pod deleted less than graceMs ago, not one deleted before', () => {
    const c = consistent();
    c.pods = c.pods.filter((p) => p.name !== 'b');
    endpointOf(c, 'b').metadata.deletionTimestamp = ago(10);
    const settled = check(c, { allowSettling: true, graceMs: 30_000 });
    expect(settled.violations).toEqual([]);
    expect(settled.settling.map((f) => f.settling)).toEqual(['pod deleted 10s ago']);
    const late = check(c, { allowSettling: true, graceMs: 5_000 });
    expect(kinds(late)).toEqual([Kind.recordPodGone]);
  });

  it('settling covers a re-created pod younger than graceMs and a pod that just finished', () => {
    const c = consistent();
    c.pods = [
      pod('default', 'a', 'u1', { finished: true, finishedAt: ago(3) }),
      pod('default', 'b', 'u3', { creationTimestamp: ago(4) }),
    ];
    const r = check(c, { allowSettling: true, graceMs: 30_000 });
    expect(r.violations).toEqual([]);
    expect(new Set(r.settling.map((f) => f.settling))).toEqual(
      new Set(['pod finished 3s ago', 'pod created 4s ago']),
    );
  });

  it('a pod created 30 s ago is past its ADD: its record without endpoint is a violation even when settling', () => {
    const c = consistent();
    c.endpoints = c.endpoints.filter((e) => e.metadata.name !== 'b');
    c.pods = [pod('default', 'a', 'u1'), pod('default', 'b', 'u2', { creationTimestamp: ago(30) })];
    expect(kinds(check(c, { allowSettling: true }))).toEqual([Kind.recordWithoutEndpoint]);
    const young = check(c, { allowSettling: true, inFlightMs: 60_000 });
    expect(young.violations).toEqual([]);
    expect(young.settling.map((f) => f.settling)).toEqual(['pod created 30s ago']);
  });

  it('a gone StatefulSet pod keeps its records while its ordinal is within replicas', () => {
    const c = consistent();
    c.pods = c.pods.filter((p) => p.name !== 'b');
    const ep = endpointOf(c, 'b');
    ep.metadata.name = 'db-1';
    ep.status!.ownerControllerType = 'StatefulSet';
    ep.status!.ownerControllerName = 'db';
    withPool(c, AUTO, (p) => {
      p.status!.allocatedIPs = JSON.stringify({
        '10.6.200.1': { pod: 'default/db-1', podUid: 'u2', interface: 'eth0' },
      });
    });
    c.statefulSets = [{ namespace: 'default', name: 'db', replicas: 2 }];
    expect(check(c).violations).toEqual([]);
    c.statefulSets = [{ namespace: 'default', name: 'db', replicas: 1 }];
    expect(kinds(check(c))).toEqual([Kind.recordPodGone]);
  });

  it('a re-created StatefulSet pod not yet through ADD: the record waits for it; after ADD it must have been adopted', () => {
    const c = consistent();
    const ep = endpointOf(c, 'b');
    ep.metadata.name = 'db-1';
    ep.status!.ownerControllerType = 'StatefulSet';
    ep.status!.ownerControllerName = 'db';
    withPool(c, AUTO, (p) => {
      p.status!.allocatedIPs = JSON.stringify({
        '10.6.200.1': { pod: 'default/db-1', podUid: 'u2', interface: 'eth0' },
      });
    });
    c.statefulSets = [{ namespace: 'default', name: 'db', replicas: 2 }];
    // The successor (u3) exists, Pending for a minute: its ADD will adopt the record.
    c.pods = [
      pod('default', 'a', 'u1'),
      pod('default', 'db-1', 'u3', { creationTimestamp: ago(60) }),
    ];
    expect(check(c).violations).toEqual([]);
    // Its ADD ran (the endpoint is u3's) but left u2's record behind.
    ep.status!.current!.uid = 'u3';
    ep.status!.current!.ips = [];
    expect(kinds(check(c))).toEqual([Kind.recordEndpointMismatch, Kind.recordPodRecreated]);
  });
});

describe('no address held twice', () => {
  it('one address recorded in two pools', () => {
    const c = consistent();
    c.pools.push(
      pool(
        'other-pool',
        '10.6.0.0/16',
        ['10.6.168.171'],
        { '10.6.168.171': { pod: 'default/c', podUid: 'u5', interface: 'eth0' } },
        1,
      ),
    );
    c.pods.push(pod('default', 'c', 'u5'));
    c.endpoints.push(
      endpoint('default', 'c', 'u5', [
        { interface: 'eth0', ipv4: '10.6.168.171/16', ipv4Pool: 'other-pool' },
      ]),
    );
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.addressHeldTwice]);
    expect(lines(r)[0]).toBe(
      'SpiderIPPool test-ippool-1: record 10.6.168.171 (pod default/a uid u1, eth0): 10.6.168.171 is also held by SpiderIPPool other-pool (pod default/c uid u5)',
    );
  });

  it('one address twice among the keys of one pool (JSON.parse would keep one)', () => {
    const c = consistent();
    withPool(c, 'test-ippool-2', (p) => {
      p.status!.allocatedIPs =
        '{"10.7.168.171":{"pod":"default/x","podUid":"u8","interface":"net1"},' +
        '"10.7.168.171":{"pod":"default/a","podUid":"u1","interface":"net1"}}';
    });
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.recordTwiceInPool]);
    expect(lines(r)[0]).toBe(
      'SpiderIPPool test-ippool-2: status.allocatedIPs records 10.7.168.171 2 times',
    );
  });

  it('two spellings of one IPv6 address in one pool', () => {
    const c = consistent();
    withPool(c, 'v6-pool', (p) => {
      p.status!.allocatedIPs =
        '{"fd00:6::10":{"pod":"default/a","podUid":"u1","interface":"eth0"},' +
        '"fd00:6:0::10":{"pod":"default/z","podUid":"u9","interface":"eth0"}}';
    });
    expect(kinds(check(c))).toEqual([Kind.recordTwiceInPool]);
  });

  it('one NIC holding two addresses of one family', () => {
    const c = consistent();
    c.pools.push(
      pool(
        'second-pool',
        '10.8.0.0/16',
        ['10.8.0.1-10.8.0.9'],
        { '10.8.0.1': { pod: 'default/a', podUid: 'u1', interface: 'eth0' } },
        9,
      ),
    );
    endpointOf(c, 'a').status!.current!.ips.push({
      interface: 'eth0',
      ipv4: '10.8.0.1/16',
      ipv4Pool: 'second-pool',
    });
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.nicHoldsTwo]);
    expect(lines(r)[0]).toBe(
      'Pod default/a: uid u1 eth0 holds 2 IPv4 addresses: 10.6.168.171 (SpiderIPPool test-ippool-1), 10.8.0.1 (SpiderIPPool second-pool)',
    );
  });
});

describe('counts', () => {
  it('allocatedIPCount differs from the number of records', () => {
    const c = withPool(consistent(), 'test-ippool-1', (p) => (p.status!.allocatedIPCount = 2));
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.allocatedCount]);
    expect(lines(r)[0]).toBe(
      'SpiderIPPool test-ippool-1: status.allocatedIPCount is 2 but status.allocatedIPs holds 1 records',
    );
  });

  it('totalIPCount differs from ips − excludeIPs', () => {
    const c = withPool(consistent(), 'test-ippool-1', (p) => (p.status!.totalIPCount = 11));
    expect(kinds(check(c))).toEqual([Kind.totalCount]);
  });

  it('a /64 pool: totalIPCount saturates at 2^53 − 1, and the unsaturated count is wrong', () => {
    const c = withPool(consistent(), 'v6-pool', (p) => {
      p.spec.ips = ['fd00:6::-fd00:6::ffff:ffff:ffff:ffff'];
      p.status!.totalIPCount = MAX_STATUS_COUNT;
    });
    expect(check(c).violations).toEqual([]);
    withPool(c, 'v6-pool', (p) => (p.status!.totalIPCount = 18446744073709552000));
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.totalCount]);
    expect(lines(r)[0]).toContain(
      'holds 18446744073709551616 addresses (expected 9007199254740991)',
    );
  });

  it('a pool whose status nobody has written yet is not wrong', () => {
    const c = consistent();
    c.pools.push({ ...pool('fresh', '10.9.0.0/16', ['10.9.0.1'], {}, 1), status: undefined });
    expect(check(c).violations).toEqual([]);
  });

  it("a subnet's allocatedIPCount differs from what its claims hold", () => {
    const c = consistent();
    c.subnets = [subnet({ [AUTO]: ['10.6.200.1-10.6.200.3'] }, 4)];
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.subnetCount]);
    expect(lines(r)[0]).toBe(
      'SpiderSubnet subnet-6: status.allocatedIPCount is 4 but its claims hold 3 addresses',
    );
  });
});

describe('records inside ips − excludeIPs − reserved', () => {
  it('a record outside spec.ips', () => {
    const c = withPool(
      consistent(),
      'test-ippool-2',
      (p) => (p.spec.ips = ['10.7.168.172-10.7.168.181']),
    );
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.recordOutsideIPs]);
    expect(lines(r)[0]).toBe(
      'SpiderIPPool test-ippool-2: record 10.7.168.171 (pod default/a uid u1, net1) is not in spec.ips',
    );
  });

  it('a record in spec.excludeIPs', () => {
    const c = withPool(consistent(), 'test-ippool-2', (p) => {
      p.spec.excludeIPs = ['10.7.168.171'];
      p.status!.totalIPCount = 9;
    });
    expect(kinds(check(c))).toEqual([Kind.recordExcluded]);
  });

  it('a record reserved by a SpiderReservedIP', () => {
    const c = consistent();
    c.reservedIPs.push(reserved('hold-it', ['10.7.168.170-10.7.168.172', 'fd00:9::1']));
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.recordReserved]);
    expect(lines(r)[0]).toBe(
      'SpiderIPPool test-ippool-2: record 10.7.168.171 (pod default/a uid u1, net1) is reserved by SpiderReservedIP hold-it',
    );
  });

  it('an IPv4 record in an IPv6 pool', () => {
    const c = withPool(consistent(), 'v6-pool', (p) => {
      p.status!.allocatedIPs = JSON.stringify({
        '10.6.168.177': { pod: 'default/q', podUid: 'u4', interface: 'eth0' },
      });
    });
    c.pods.push(pod('default', 'q', 'u4'));
    c.endpoints.push(
      endpoint('default', 'q', 'u4', [
        { interface: 'eth0', ipv4: '10.6.168.177/16', ipv4Pool: 'v6-pool' },
      ]),
    );
    const ep = endpointOf(c, 'a').status!.current!.ips[0]!;
    delete ep.ipv6;
    delete ep.ipv6Pool;
    expect(kinds(check(c))).toEqual([Kind.recordOutsideIPs]);
  });
});

describe('subnet claims', () => {
  it("an owned pool missing from the subnet's claims", () => {
    const c = consistent();
    c.subnets = [subnet({}, 0)];
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.claimMissing]);
    expect(lines(r)[0]).toBe(
      `SpiderSubnet subnet-6: SpiderIPPool ${AUTO} (10.6.200.1-10.6.200.3) has no entry in status.controlledIPPools`,
    );
  });

  it('a pool holding addresses outside its claim', () => {
    const c = consistent();
    c.subnets = [subnet({ [AUTO]: ['10.6.200.1-10.6.200.2'] }, 2)];
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.claimShort]);
    expect(lines(r)[0]).toBe(
      `SpiderSubnet subnet-6: SpiderIPPool ${AUTO} holds 10.6.200.3, outside its claim 10.6.200.1-10.6.200.2`,
    );
  });

  it('a claim holding addresses its pool does not', () => {
    const c = consistent();
    c.subnets = [subnet({ [AUTO]: ['10.6.200.1-10.6.200.5'] }, 5)];
    expect(kinds(check(c))).toEqual([Kind.claimExcess]);
  });

  it('a claim for a pool that does not exist', () => {
    const c = consistent();
    c.subnets = [subnet({ [AUTO]: ['10.6.200.1-10.6.200.3'], 'auto-gone': ['10.6.200.9'] }, 4)];
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.claimWithoutPool]);
    expect(lines(r)[0]).toBe(
      'SpiderSubnet subnet-6: status.controlledIPPools claims 10.6.200.9 for SpiderIPPool auto-gone, which does not exist',
    );
  });

  it('a claim outside the subnet’s ips', () => {
    const c = withPool(
      consistent(),
      AUTO,
      (p) => (p.spec.ips = ['10.6.200.1-10.6.200.2', '10.6.201.1']),
    );
    c.subnets = [subnet({ [AUTO]: ['10.6.200.1-10.6.200.2', '10.6.201.1'] }, 3)];
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.claimOutsideSubnet]);
    expect(lines(r)[0]).toContain('holds 10.6.201.1, outside spec.ips − spec.excludeIPs');
  });

  it('two claims sharing addresses', () => {
    const c = consistent();
    c.pools.push(
      pool('auto-two', '10.6.0.0/16', ['10.6.200.3-10.6.200.4'], {}, 2, { labels: OWNED }),
    );
    c.subnets = [
      subnet({ [AUTO]: ['10.6.200.1-10.6.200.3'], 'auto-two': ['10.6.200.3-10.6.200.4'] }, 4),
    ];
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.claimsOverlap]);
    expect(lines(r)[0]).toBe(
      `SpiderSubnet subnet-6: the claim of SpiderIPPool auto-two shares 10.6.200.3 with the claim of SpiderIPPool ${AUTO}`,
    );
  });

  it('a claim sharing addresses with a pool of no subnet (finding 5)', () => {
    const c = consistent();
    c.pools.push(pool('manual', '10.6.0.0/16', ['10.6.200.2-10.6.200.10'], {}, 9));
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.claimOverlapsPool]);
    expect(lines(r)[0]).toContain('shares 10.6.200.2-10.6.200.3 with SpiderIPPool manual');
  });
});

describe('unreadable objects are findings, never skipped silently', () => {
  it('a pool status that is not JSON', () => {
    const c = withPool(consistent(), 'test-ippool-2', (p) => (p.status!.allocatedIPs = '{oops'));
    endpointOf(c, 'a').status!.current!.ips.pop();
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.poolUnreadable]);
    expect(lines(r)[0]).toMatch(
      /^SpiderIPPool test-ippool-2: status.allocatedIPs is not valid JSON/,
    );
  });

  it('a subnet claim that is not JSON', () => {
    const c = consistent();
    c.subnets[0]!.status!.controlledIPPools = '[]';
    expect(kinds(check(c))).toEqual([Kind.subnetUnreadable]);
  });

  it('an endpoint address that is not an address', () => {
    const c = consistent();
    endpointOf(c, 'b').status!.current!.ips.push({
      interface: 'net1',
      ipv4: 'x/16',
      ipv4Pool: AUTO,
    });
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.endpointUnreadable]);
    expect(lines(r)[0]).toBe('SpiderEndpoint default/b: net1 x/16: ipv4 is not an address');
  });

  it('a reserved range that does not parse', () => {
    const c = consistent();
    c.reservedIPs.push(reserved('bad', ['10.0.0.9-10.0.0.1']));
    const r = check(c);
    expect(kinds(r)).toEqual([Kind.reservedUnreadable]);
    expect(lines(r)[0]).toContain('SpiderReservedIP bad: spec.ips[0]:');
  });
});

describe('topLevelKeys', () => {
  it('lists repeats, skips nested values and braces inside strings', () => {
    expect(topLevelKeys('{"a":{"x":"}{,"},"b":[1,{"c":2}],"a":"\\"q","d":3 , "e":null}')).toEqual([
      'a',
      'b',
      'a',
      'd',
      'e',
    ]);
    expect(topLevelKeys(' { } ')).toEqual([]);
    expect(topLevelKeys('[1]')).toBeUndefined();
    expect(topLevelKeys('{"a" 1}')).toBeUndefined();
  });
});

describe('budget', () => {
  it('10 000 records in 100 pools with their endpoints and pods: checked within 5 s (a generous bound, not a benchmark)', () => {
    const c: Cluster = {
      pools: [],
      subnets: [],
      endpoints: [],
      reservedIPs: [],
      pods: [],
      statefulSets: [],
    };
    for (let p = 0; p < 100; p++) {
      const recs: Record<string, { pod: string; podUid: string; interface: string }> = {};
      for (let i = 0; i < 100; i++) {
        const ip = `10.${p}.${i >> 8}.${(i & 255) + 1}`;
        const name = `p${p}-${i}`;
        recs[ip] = { pod: `ns/${name}`, podUid: `u-${name}`, interface: 'eth0' };
        c.pods.push(pod('ns', name, `u-${name}`));
        c.endpoints.push(
          endpoint('ns', name, `u-${name}`, [
            { interface: 'eth0', ipv4: `${ip}/16`, ipv4Pool: `pool-${p}` },
          ]),
        );
      }
      c.pools.push(pool(`pool-${p}`, `10.${p}.0.0/16`, [`10.${p}.0.1-10.${p}.0.200`], recs, 200));
    }
    const t0 = performance.now();
    const r = check(c);
    const ms = performance.now() - t0;
    expect(r.violations).toEqual([]);
    expect(r.totals.records).toBe(10_000);
    expect(ms).toBeLessThan(5000);
  });
});
