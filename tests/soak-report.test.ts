import { describe, expect, it } from '@jest/globals';
import { BEGIN, END, renderSoak, verdict, withSoakSection } from '../e2e/soak/report.ts';
import { FAULTS, OPS, type SoakResult } from '../e2e/soak/soak.ts';

const result = (over: Partial<SoakResult> = {}): SoakResult => ({
  seed: 7,
  minutes: 2,
  nodes: 2,
  workers: 3,
  startedAt: '2026-12-01T10:00:00.000Z',
  endedAt: '2026-12-01T10:02:30.000Z',
  ops: Object.fromEntries(
    OPS.map((o, i) => [o, { done: i + 1, refused: i % 2 }]),
  ) as SoakResult['ops'],
  refusals: ['createDeployment: webhook down'],
  faults: Object.fromEntries(FAULTS.map((f) => [f, 2])) as SoakResult['faults'],
  apiProxy: {
    forwarded: 900,
    delay: 30,
    drop: 4,
    status429: 5,
    status500: 3,
    status409: 6,
    status500AfterWrite: 2,
    upstreamError: 1,
  },
  socketProxy: { forward: 300, closeBeforeForward: 7, closeAfterForward: 8, upstreamDown: 3 },
  notInjected: 1,
  restarts: { controller: 1 },
  checks: 40,
  duplicates: [],
  leaksAtEnd: [],
  finalReport: '',
  longestLeakMs: 4200,
  longestLeak: 'record-pod-gone SpiderIPPool soak-eth0: record 10.6.200.3',
  podsSeen: 50,
  podsRunning: 44,
  neverRunning: [],
  logs: [],
  ...over,
});

describe('soak report', () => {
  it('a run that held: the verdict, the figures, the replay command', () => {
    const md = renderSoak(result(), 'make soak SOAK_MINUTES=2 SEED=7');
    expect(md.startsWith(BEGIN)).toBe(true);
    expect(md.endsWith(END)).toBe(true);
    expect(md).toContain('**Held.**');
    expect(md).toContain('`make soak SOAK_MINUTES=2 SEED=7`');
    expect(md).toContain(
      `| operations done (refused) | ${(OPS.length * (OPS.length + 1)) / 2} (4) |`,
    );
    expect(md).toContain(`| faults injected | ${FAULTS.length * 2} |`);
    expect(md).toContain(
      '| longest a leaked address was seen held (checks 3 s apart) | 4.2 s: record-pod-gone',
    );
    expect(md).toContain('| allocatorKill | 2 |');
    expect(md).toContain(
      '| components that exited on their own and were started again | controller: 1 |',
    );
    expect(md).toContain('forwarded 900, delay 30, drop 4, status429 5, status500 3, status409 6');
    expect(md).toContain(
      '| allocator connections through the socket relays | forward 300, closeBeforeForward 7, closeAfterForward 8, upstreamDown 3 |',
    );
    expect(md).toContain('| allocatorKillDelAfterWrite | 2 |');
    expect(md).toContain('reached in 20 s, or an allocator kill with every allocator down) | 1 |');
  });

  it('the verdict names each failure: a fault kind too rare, a duplicate, a leak, a stuck pod', () => {
    const r = result({
      faults: { ...result().faults, webhookKill: 0 },
      duplicates: [
        { kind: 'address-held-twice', object: 'SpiderIPPool p', message: '10.6.200.3 twice' },
      ],
      leaksAtEnd: [{ kind: 'record-pod-gone', object: 'SpiderIPPool p', message: 'x' }],
      neverRunning: [{ pod: 'soak/a', livedMs: 61_000, reason: 'CNI ADD failed' }],
    });
    expect(verdict(r)).toEqual([
      'webhookKill injected 0 times (< 1)',
      '1 instant-invariant findings',
      '1 violations after GC',
      '1 pods never Running',
    ]);
    expect(verdict(result(), 20)).toEqual(FAULTS.map((f) => `${f} injected 2 times (< 20)`));
    expect(renderSoak(r, 'make soak')).toContain('**Failed: webhookKill injected 0 times (< 1);');
  });

  it('replaces the section between the markers, or appends it under "## Soak"', () => {
    const section = `${BEGIN}\nnew\n${END}`;
    expect(withSoakSection(`# R\n\n## Soak\n\n${BEGIN}\nold\n${END}\n\ntail\n`, section)).toBe(
      `# R\n\n## Soak\n\n${section}\n\ntail\n`,
    );
    expect(withSoakSection('# R\n\ntext\n', section)).toBe(
      `# R\n\ntext\n\n## Soak\n\n${section}\n`,
    );
  });
});
