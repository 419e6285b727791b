import { describe, expect, it } from '@jest/globals';
import { GroupedMap, Tombstones, VersionedMap } from './cache.ts';

const obj = (rv: string) => ({ metadata: { resourceVersion: rv } });

describe('VersionedMap', () => {
  it('never steps back to an older resourceVersion', () => {
    const m = new VersionedMap<ReturnType<typeof obj>>();
    m.set('a', obj('10'));
    m.set('a', obj('9'));
    expect(m.get('a')).toEqual(obj('10'));
    m.set('a', obj('11'));
    expect(m.get('a')).toEqual(obj('11'));
  });

  it('does not revive an object deleted after a write whose answer arrives late', () => {
    const m = new VersionedMap<ReturnType<typeof obj>>();
    m.set('a', obj('10'));
    m.deleted('a', obj('12'));
    m.set('a', obj('11')); // our finalizer removal, answered after the delete event
    expect(m.has('a')).toBe(false);
    m.set('a', obj('20')); // re-created
    expect(m.get('a')).toEqual(obj('20'));
  });
});

describe('VersionedMap deletions', () => {
  it('forgets the oldest deletions first, never all at once', () => {
    const m = new VersionedMap<ReturnType<typeof obj>>();
    m.deleted('first', obj('5'));
    for (let i = 0; i < 10_000; i++) m.deleted(`k${i}`, obj('10'));
    // Past the bound: the oldest deletion is forgotten…
    m.set('first', obj('4'));
    expect(m.has('first')).toBe(true);
    // …but the recent ones still block a late, older answer.
    m.set('k9999', obj('9'));
    expect(m.has('k9999')).toBe(false);
  });
});

describe('Tombstones', () => {
  it('answers within the time to live and forgets after it', () => {
    const t = new Tombstones<number>(1000, 100);
    t.set('a', 30, 0);
    expect(t.get('a', 1000)).toBe(30);
    expect(t.get('a', 1001)).toBeUndefined();
  });

  it('expires from the old end only: a delete costs O(1), not a scan of the hour', () => {
    const t = new Tombstones<number>(3_600_000, 1_000_000);
    for (let i = 0; i < 200_000; i++) t.set(`p${i}`, 30, i);
    const started = performance.now();
    for (let i = 0; i < 10_000; i++) t.set(`q${i}`, 30, 200_000 + i);
    // 10 000 deletes among 200 000 live tombstones: a scan per delete would be 2·10⁹ steps.
    expect(performance.now() - started).toBeLessThan(200);
    expect(t.size).toBe(210_000);
  });

  it('is bounded in count, dropping the oldest', () => {
    const t = new Tombstones<number>(3_600_000, 3);
    for (const k of ['a', 'b', 'c', 'd']) t.set(k, 1, 0);
    expect(t.size).toBe(3);
    expect(t.get('a', 0)).toBeUndefined();
    expect(t.get('d', 0)).toBe(1);
  });
});

describe('GroupedMap', () => {
  const item = (rv: string, group?: string) => ({ metadata: { resourceVersion: rv }, group });
  type Item = ReturnType<typeof item>;
  const names = (m: GroupedMap<Item>, g: string) =>
    m.group(g).map((v) => v.metadata.resourceVersion);

  it('keeps groups in step with writes, moves, deletes and refused older writes', () => {
    const m = new GroupedMap<Item>((v) => v.group);
    m.set('a', item('1', 'web'));
    m.set('b', item('2', 'web'));
    m.set('c', item('3'));
    expect(names(m, 'web')).toEqual(['1', '2']);
    m.set('a', item('5', 'db')); // relabelled
    expect(names(m, 'web')).toEqual(['2']);
    expect(names(m, 'db')).toEqual(['5']);
    m.set('a', item('4', 'web')); // an older answer: refused, and the group stays
    expect(names(m, 'db')).toEqual(['5']);
    expect(names(m, 'web')).toEqual(['2']);
    m.delete('b');
    expect(m.group('web')).toEqual([]);
    m.deleted('a', item('9'));
    expect(m.group('db')).toEqual([]);
    m.set('a', item('8', 'db')); // a late write of the deleted object: not revived
    expect(m.group('db')).toEqual([]);
  });
});
