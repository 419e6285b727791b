import { describe, expect, it } from '@jest/globals';
import { fromLease, NOTE_ANNOTATION, toLease } from './lease-store.ts';

describe('the Lease note', () => {
  it('travels as an annotation, both ways; no note, no annotation', () => {
    const base = { holder: 'a', durationSeconds: 15, transitions: 2, resourceVersion: '9' };
    const sent = toLease('nicpool-system', 'nicpool-controller', {
      ...base,
      note: '{"firstSeen":{}}',
    });
    expect(sent.metadata?.annotations).toEqual({ [NOTE_ANNOTATION]: '{"firstSeen":{}}' });
    expect(fromLease(sent)).toMatchObject({ ...base, note: '{"firstSeen":{}}' });
    const bare = toLease('nicpool-system', 'nicpool-controller', base);
    expect(bare.metadata?.annotations).toBeUndefined();
    expect(fromLease(bare).note).toBeUndefined();
  });
});
