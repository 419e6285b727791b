import { describe, expect, it } from '@jest/globals';
import { VersionedMap } from './cache.ts';

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
