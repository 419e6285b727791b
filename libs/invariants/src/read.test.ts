import { describe, expect, it } from '@jest/globals';
import { listAll, podView } from './index.ts';

describe('listAll', () => {
  it('follows typed lists (`_continue`) and raw custom-object JSON (`continue`) to the last page', async () => {
    for (const field of ['_continue', 'continue'] as const) {
      const asked: (string | undefined)[] = [];
      const pages: Record<string, { items: number[]; next?: string }> = {
        first: { items: [1, 2], next: 'a' },
        a: { items: [3], next: 'b' },
        b: { items: [4] },
      };
      const items = await listAll<number>(async (cont) => {
        asked.push(cont);
        const p = pages[cont ?? 'first']!;
        return { items: p.items, metadata: p.next === undefined ? {} : { [field]: p.next } };
      });
      expect(items).toEqual([1, 2, 3, 4]);
      expect(asked).toEqual([undefined, 'a', 'b']);
    }
  });

  it('an empty token ends the list', async () => {
    let calls = 0;
    const items = await listAll<string>(async () => {
      calls++;
      return { items: ['x'], metadata: { continue: '' } };
    });
    expect(items).toEqual(['x']);
    expect(calls).toBe(1);
  });
});

describe('podView', () => {
  it('keeps identity, phase as finished, and timestamps as ISO text (Date or string)', () => {
    expect(
      podView({
        metadata: {
          namespace: 'ns',
          name: 'p',
          uid: 'u',
          creationTimestamp: new Date('2026-12-01T10:00:00Z'),
          deletionTimestamp: '2026-12-01T10:05:00Z',
        },
        status: {
          phase: 'Failed',
          containerStatuses: [
            { state: { terminated: { finishedAt: new Date('2026-12-01T10:02:00Z') } } },
            { state: { terminated: { finishedAt: '2026-12-01T10:03:00Z' } } },
            { state: {} },
          ],
        },
      }),
    ).toEqual({
      namespace: 'ns',
      name: 'p',
      uid: 'u',
      finished: true,
      creationTimestamp: '2026-12-01T10:00:00.000Z',
      deletionTimestamp: '2026-12-01T10:05:00.000Z',
      finishedAt: '2026-12-01T10:03:00.000Z',
    });
  });

  it('a running pod is not finished and has no finishedAt', () => {
    expect(
      podView({ metadata: { namespace: 'ns', name: 'p', uid: 'u' }, status: { phase: 'Running' } }),
    ).toEqual({
      namespace: 'ns',
      name: 'p',
      uid: 'u',
      finished: false,
    });
  });
});
