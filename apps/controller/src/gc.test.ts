import { describe, expect, it } from '@jest/globals';
import type { SpiderEndpoint, SpiderIPPool } from '@nicpool/crds';
import {
  DueTracker,
  NOTE_LIMIT,
  endpointCandidates,
  leakReason,
  RecordIndex,
  recordCandidates,
  type GCView,
  type PodState,
} from './gc.ts';

function view(
  pods: Record<string, PodState>,
  sts: Record<string, number> = {},
  owners: Record<string, { type: string; name: string }> = {},
): GCView {
  return {
    pod: (ns, n) => pods[`${ns}/${n}`],
    lastGrace: () => undefined,
    statefulSetReplicas: (ns, n) => sts[`${ns}/${n}`],
    endpointOwner: (ns, n) => owners[`${ns}/${n}`],
  };
}
const live = (uid: string, finished = false): PodState => ({ uid, finished, graceSeconds: 5 });

describe('leakReason', () => {
  it('never releases a live pod’s addresses', () => {
    expect(leakReason('d', 'a', 'u1', view({ 'd/a': live('u1') }))).toBeUndefined();
  });

  it('releases for a gone, re-created or finished pod', () => {
    expect(leakReason('d', 'a', 'u1', view({}))?.reason).toBe('its pod is gone');
    expect(leakReason('d', 'a', 'u1', view({}))?.graceSeconds).toBe(30);
    expect(leakReason('d', 'a', 'u1', view({ 'd/a': live('u2') }))?.reason).toContain('re-created');
    expect(leakReason('d', 'a', 'u1', view({ 'd/a': live('u1', true) }))?.reason).toBe(
      'its pod has finished',
    );
  });

  it('keeps a StatefulSet pod’s addresses while its ordinal is within replicas', () => {
    const owners = { 'd/db-1': { type: 'StatefulSet', name: 'db' } };
    expect(leakReason('d', 'db-1', 'u1', view({}, { 'd/db': 2 }, owners))).toBeUndefined();
    expect(
      leakReason('d', 'db-1', 'u1', view({ 'd/db-1': live('u9') }, { 'd/db': 2 }, owners)),
    ).toBeUndefined();
    expect(leakReason('d', 'db-1', 'u1', view({}, { 'd/db': 1 }, owners))?.reason).toBe(
      'its pod is gone',
    );
    // A Deployment pod whose name happens to end in a number is not a StatefulSet pod.
    const dep = { 'd/web-7': { type: 'Deployment', name: 'web' } };
    expect(leakReason('d', 'web-7', 'u1', view({}, { 'd/web': 9 }, dep))?.reason).toBe(
      'its pod is gone',
    );
  });
});

const pool = (
  name: string,
  records: Record<string, { pod: string; podUid: string }>,
): SpiderIPPool => ({
  apiVersion: 'spiderpool.spidernet.io/v2beta1',
  kind: 'SpiderIPPool',
  metadata: { name },
  spec: { subnet: '10.6.0.0/16' },
  status: { allocatedIPs: JSON.stringify(records) },
});

describe('candidates', () => {
  it('lists leaked records only, and skips pools it cannot read', () => {
    const pools = [
      pool('p', {
        '10.6.0.2': { pod: 'd/alive', podUid: 'u1' },
        '10.6.0.3': { pod: 'd/gone', podUid: 'u2' },
      }),
      { ...pool('bad', {}), status: { allocatedIPs: 'not json' } },
    ];
    const c = recordCandidates(pools, view({ 'd/alive': live('u1') }));
    expect(c.map((x) => [x.key, x.reason])).toEqual([['p/10.6.0.3/u2', 'its pod is gone']]);
  });

  it('lists endpoints of gone pods that no record holds', () => {
    const ep = (name: string, uid: string): SpiderEndpoint => ({
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderEndpoint',
      metadata: { name, namespace: 'd' },
      status: { current: { uid, node: 'n', ips: [] } },
    });
    const pools = [pool('p', { '10.6.0.3': { pod: 'd/held', podUid: 'u2' } })];
    const c = endpointCandidates(
      [ep('orphan', 'u1'), ep('held', 'u2'), ep('alive', 'u3')],
      pools,
      view({ 'd/alive': live('u3') }),
    );
    expect(c.map((x) => x.name)).toEqual(['orphan']);
  });
});

describe('DueTracker', () => {
  it('waits grace + delay from first sight, and forgets what stops being a candidate', () => {
    const t = new DueTracker(1000);
    const c = [{ key: 'k', graceSeconds: 2 }];
    expect(t.due(c, 0)).toEqual([]);
    expect(t.nextDue(c)).toBe(3000);
    expect(t.due(c, 2999)).toEqual([]);
    expect(t.due(c, 3000)).toEqual(c);
    t.due([], 3001);
    expect(t.due(c, 3002)).toEqual([]);
  });
});

describe('DueTracker across leaders (the Lease note)', () => {
  const c = [{ key: 'pool/10.6.0.2/u1', graceSeconds: 30 }];

  it('hands its first sightings over, and the next tracker goes on from them', () => {
    const a = new DueTracker(1000);
    expect(a.note()).toBeUndefined(); // nothing waits: no note
    a.due(c, 100_000);
    const note = a.note();
    expect(JSON.parse(note!)).toEqual({ firstSeen: { 'pool/10.6.0.2/u1': 100_000 } });
    const b = new DueTracker(1000);
    b.adopt(note, 120_000);
    expect(b.due(c, 130_999)).toEqual([]);
    expect(b.due(c, 131_000)).toEqual(c); // 100 s + 30 s grace + 1 s delay
  });

  it('keeps its own earlier sighting, clamps one from the future, ignores what does not parse', () => {
    const t = new DueTracker(0);
    t.due(c, 50_000);
    t.adopt(JSON.stringify({ firstSeen: { 'pool/10.6.0.2/u1': 70_000 } }), 80_000);
    expect(t.nextDue(c)).toBe(80_000); // its own 50 s + 30 s
    const f = new DueTracker(0);
    f.adopt(JSON.stringify({ firstSeen: { 'pool/10.6.0.2/u1': 999_000 } }), 10_000);
    expect(f.nextDue(c)).toBe(40_000); // a clock ahead of ours counts from now
    for (const bad of ['{', 'null', '[]', '{"firstSeen":[1]}', '{"firstSeen":{"k":"x"}}']) {
      const t2 = new DueTracker(0);
      t2.adopt(bad, 0);
      expect(t2.note()).toBeUndefined();
    }
  });

  it('notes at most NOTE_LIMIT sightings, the earliest', () => {
    const t = new DueTracker(0);
    const many = Array.from({ length: NOTE_LIMIT + 50 }, (_, i) => ({
      key: `k${i}`,
      graceSeconds: 30,
    }));
    for (const [i, x] of many.entries()) t.due([...many.slice(0, i), x], 1000 + i);
    const seen = (JSON.parse(t.note()!) as { firstSeen: Record<string, number> }).firstSeen;
    expect(Object.keys(seen)).toHaveLength(NOTE_LIMIT);
    expect(seen['k0']).toBe(1000);
    expect(seen[`k${NOTE_LIMIT}`]).toBeUndefined();
  });
});

describe('RecordIndex', () => {
  /** A pool whose allocatedIPs counts its reads (each read is a decode). */
  const counted = (name: string, records: Record<string, { pod: string; podUid: string }>) => {
    const p = pool(name, records);
    const text = p.status!.allocatedIPs;
    let reads = 0;
    Object.defineProperty(p.status!, 'allocatedIPs', {
      get: () => {
        reads++;
        return text;
      },
    });
    return { p, reads: () => reads };
  };

  it('decodes a pool again only when its object changed', () => {
    const a = counted('a', { '10.6.0.2': { pod: 'd/x', podUid: 'u1' } });
    const b = counted('b', { '10.6.0.3': { pod: 'd/y', podUid: 'u2' } });
    const index = new RecordIndex();
    index.sync([a.p, b.p]);
    index.sync([a.p, b.p]);
    const b2 = counted('b', { '10.6.0.4': { pod: 'd/x', podUid: 'u3' } });
    index.sync([a.p, b2.p]);
    expect([a.reads(), b.reads(), b2.reads()]).toEqual([1, 1, 1]);
    expect([...index.ofPod('d/x')].map((r) => `${r.pool}/${r.ip}`).sort()).toEqual([
      'a/10.6.0.2',
      'b/10.6.0.4',
    ]);
    expect([...index.ofPod('d/y')]).toEqual([]);
    expect(index.holds('u2')).toBe(false);
    expect(index.holds('u3')).toBe(true);
    index.sync([b2.p]);
    expect(index.holds('u1')).toBe(false);
  });

  it('knows when a pool cannot be read', () => {
    const index = new RecordIndex().sync([{ ...pool('bad', {}), status: { allocatedIPs: 'x' } }]);
    expect(index.anyUnreadable).toBe(true);
    expect(index.sync([]).anyUnreadable).toBe(false);
  });
});

describe('DueTracker scoped to one pod', () => {
  it('forgets only that pod’s keys', () => {
    const t = new DueTracker(0);
    t.due(
      [
        { key: 'a1', graceSeconds: 10, pod: 'd/a' },
        { key: 'b1', graceSeconds: 10, pod: 'd/b' },
      ],
      0,
    );
    t.due([], 1000, 'd/a');
    expect(t.waiting()).toEqual({ record: 1, endpoint: 0 });
    expect(t.nextDue([{ key: 'b1', graceSeconds: 10 }])).toBe(10_000);
  });
});

describe('an unreadable pool (review #15)', () => {
  it('holds back only the endpoints that name it, not every endpoint of the cluster', () => {
    const ep = (name: string, uid: string, pool?: string): SpiderEndpoint => ({
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderEndpoint',
      metadata: { name, namespace: 'd' },
      status: {
        current: {
          uid,
          node: 'n',
          ips:
            pool === undefined ? [] : [{ interface: 'eth0', ipv4: '10.6.0.9/16', ipv4Pool: pool }],
        },
      },
    });
    const pools = [pool('good', {}), { ...pool('bad', {}), status: { allocatedIPs: 'not json' } }];
    const c = endpointCandidates(
      [ep('in-good', 'u1', 'good'), ep('in-bad', 'u2', 'bad'), ep('unknown', 'u3')],
      pools,
      view({}),
    );
    expect(c.map((x) => x.name)).toEqual(['in-good']);
  });
});
