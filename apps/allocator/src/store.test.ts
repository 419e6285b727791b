import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { decodeAllocatedIPs, type SpiderIPPool } from '@nicpool/crds';
import { PoolCache } from './store.ts';
import { pool } from '../test/fixtures.ts';

function withRecords(
  name: string,
  rv: string,
  records: Record<string, { pod: string; podUid: string; interface?: string }>,
): SpiderIPPool {
  const p = pool(
    name,
    { subnet: '10.6.0.0/16', ips: ['10.6.0.1-10.6.0.99'] },
    { status: { allocatedIPs: JSON.stringify(records) } },
  );
  return { ...p, metadata: { ...p.metadata, resourceVersion: rv } };
}

const ips = (list: readonly { pool: string; ip: string }[]): string[] =>
  list.map((r) => `${r.pool}:${r.ip}`).sort();

describe('PoolCache index (review #7)', () => {
  it('follows every set, delete and clear: by pod UID and by pod name', () => {
    const c = new PoolCache();
    c.set(
      'a',
      withRecords('a', '1', {
        '10.6.0.1': { pod: 'ns/web-0', podUid: 'u1', interface: 'eth0' },
        '10.6.0.2': { pod: 'ns/other', podUid: 'u9' },
      }),
    );
    c.set('b', withRecords('b', '2', { '10.6.0.5': { pod: 'ns/web-0', podUid: 'u1' } }));
    expect(ips(c.heldBy('u1'))).toEqual(['a:10.6.0.1', 'b:10.6.0.5']);
    expect(c.heldBy('u1').find((r) => r.pool === 'a')?.interface).toBe('eth0');

    // A write that moves one record and releases another.
    c.set('a', withRecords('a', '3', { '10.6.0.1': { pod: 'ns/web-0', podUid: 'u2' } }));
    expect(ips(c.heldBy('u1'))).toEqual(['b:10.6.0.5']);
    expect(ips(c.heldBy('u2'))).toEqual(['a:10.6.0.1']);
    expect(c.heldBy('u9')).toEqual([]);
    expect(ips(c.heldByName('ns/web-0'))).toEqual(['a:10.6.0.1', 'b:10.6.0.5']);

    c.delete('b');
    expect(c.heldBy('u1')).toEqual([]);
    c.clear();
    expect(c.heldByName('ns/web-0')).toEqual([]);
  });

  it('lists a pool whose status does not decode as unreadable, until it is readable again', () => {
    const c = new PoolCache();
    c.set('a', withRecords('a', '1', { '10.6.0.1': { pod: 'ns/x', podUid: 'u1' } }));
    c.set('a', { ...withRecords('a', '2', {}), status: { allocatedIPs: '{not json' } });
    expect([...c.unreadable().keys()]).toEqual(['a']);
    expect(c.unreadable().get('a')).toMatch(/status\.allocatedIPs is not valid JSON/);
    expect(c.heldBy('u1')).toEqual([]);
    c.set('a', withRecords('a', '3', { '10.6.0.1': { pod: 'ns/x', podUid: 'u1' } }));
    expect(c.unreadable().size).toBe(0);
    expect(ips(c.heldBy('u1'))).toEqual(['a:10.6.0.1']);
  });
});

const holderOf = (podUid: string) => ({ pod: 'ns/z', podUid });
const plain = (r: { pod: string; podUid: string; interface?: string }) =>
  r.interface === undefined
    ? { pod: r.pod, podUid: r.podUid }
    : { pod: r.pod, podUid: r.podUid, interface: r.interface };

describe('PoolCache index, property', () => {
  const holder = fc.record({
    pod: fc.constantFrom('ns/a', 'ns/b', 'ns/c'),
    podUid: fc.constantFrom('u1', 'u2', 'u3', 'u4'),
    interface: fc.constantFrom('eth0', 'net1'),
  });
  const step = fc.oneof(
    fc.record({
      kind: fc.constant('set' as const),
      name: fc.constantFrom('p', 'q', 'r'),
      records: fc.dictionary(
        fc.constantFrom('10.6.0.1', '10.6.0.2', '10.6.0.3', '10.6.0.4'),
        holder,
      ),
      corrupt: fc.boolean(),
      // A write of ours announced with expectWrite: with the records it encoded, or (stale)
      // with records of another text, which the cache must not take; its answer (refresh) or
      // its watch event (set) is indexed first.
      written: fc.constantFrom('no', 'answer', 'answerStale', 'event', 'eventStale'),
    }),
    fc.record({ kind: fc.constant('delete' as const), name: fc.constantFrom('p', 'q', 'r') }),
  );
  /** What the index must say: every record of every cached pool, decoded from scratch. */
  const expected = (c: PoolCache, pick: (r: { pod: string; podUid: string }) => boolean) =>
    [...c.values()]
      .flatMap((p) => {
        const d = decodeAllocatedIPs(p.status?.allocatedIPs);
        return d.ok
          ? [...d.value].filter(([, r]) => pick(r)).map(([ip]) => `${p.metadata.name}:${ip}`)
          : [];
      })
      .sort();

  it('after any sequence of sets, write-throughs and deletes, the index and recordsOf equal a decode of the cache', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        const c = new PoolCache();
        let rv = 1;
        for (const st of steps) {
          if (st.kind === 'delete') c.delete(st.name);
          else {
            const p0 = withRecords(st.name, String(rv++), st.records);
            const p = st.corrupt ? { ...p0, status: { allocatedIPs: '{' } } : p0;
            const d = decodeAllocatedIPs(p0.status?.allocatedIPs);
            if (st.written === 'no' || !d.ok) c.set(st.name, p);
            else {
              const mine =
                (st.written === 'answer' || st.written === 'event') && !st.corrupt
                  ? { text: p.status?.allocatedIPs, records: d.value }
                  : { text: 'another text', records: new Map([['10.6.0.9', holderOf('u1')]]) };
              const done = c.expectWrite(st.name, mine);
              if (st.written.startsWith('answer')) c.refresh(p);
              else c.set(st.name, p);
              done();
            }
          }
          for (const p of c.values()) {
            const d = decodeAllocatedIPs(p.status?.allocatedIPs);
            const got = c.recordsOf(p);
            if (!d.ok) expect(got).toBeUndefined();
            else
              expect([...(got ?? [])].map(([ip, r]) => [ip, plain(r)])).toEqual([
                ...[...d.value].map(([ip, r]) => [ip, plain(r)]),
              ]);
            expect(c.recordsOf({ ...p, status: { allocatedIPs: '{"10.6.0.77":{}}' } })).toBe(
              undefined,
            );
          }
          for (const uid of ['u1', 'u2', 'u3', 'u4'])
            expect(ips(c.heldBy(uid))).toEqual(expected(c, (r) => r.podUid === uid));
          for (const pod of ['ns/a', 'ns/b', 'ns/c'])
            expect(ips(c.heldByName(pod))).toEqual(expected(c, (r) => r.pod === pod));
          expect([...c.unreadable().keys()].sort()).toEqual(
            [...c.values()]
              .filter((p) => p.status?.allocatedIPs === '{')
              .map((p) => p.metadata.name)
              .sort(),
          );
        }
      }),
      { seed: 20261201, numRuns: 300 },
    );
  });
});

describe('PoolCache monotonic (review #12)', () => {
  it('never steps back to an older resourceVersion (a watch event behind our write-through)', () => {
    const c = new PoolCache({ monotonic: true });
    c.set('a', withRecords('a', '10', {}));
    c.refresh(withRecords('a', '12', { '10.6.0.1': { pod: 'ns/x', podUid: 'u1' } }));
    c.set('a', withRecords('a', '11', {}));
    expect(c.get('a')?.metadata.resourceVersion).toBe('12');
    expect(ips(c.heldBy('u1'))).toEqual(['a:10.6.0.1']);
  });

  it('a late answer never resurrects a pool the watch saw deleted', () => {
    const c = new PoolCache({ monotonic: true });
    c.set('a', withRecords('a', '10', {}));
    c.delete('a');
    c.refresh(withRecords('a', '10', { '10.6.0.1': { pod: 'ns/x', podUid: 'u1' } }));
    expect(c.has('a')).toBe(false);
    expect(c.heldBy('u1')).toEqual([]);
    // A re-created pool of that name comes back through the watch, as any new pool.
    c.set('a', withRecords('a', '20', {}));
    expect(c.get('a')?.metadata.resourceVersion).toBe('20');
  });
});
