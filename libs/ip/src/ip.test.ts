import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { canonicalIP, formatIP, parseCIDR, parseIP, parseRange, RangeSet } from './index.ts';

const set4 = (...entries: string[]): RangeSet => {
  const r = RangeSet.parse(4, entries);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};
const set6 = (...entries: string[]): RangeSet => {
  const r = RangeSet.parse(6, entries);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};

describe('parseIP', () => {
  it.each([
    ['10.6.168.171', 4],
    ['0.0.0.0', 4],
    ['255.255.255.255', 4],
    ['fd00::1', 6],
    ['::', 6],
    ['2001:DB8::A', 6],
    ['::ffff:10.0.0.1', 6],
  ])('accepts %s as IPv%s', (text, family) => {
    const r = parseIP(text);
    expect(r.ok && r.value.family).toBe(family);
  });

  it.each([
    '',
    ' 10.0.0.1',
    '10.0.0.1 ',
    '10.1',
    '010.0.0.1',
    '0x0a.0.0.1',
    '256.0.0.1',
    '10.0.0.1/32',
    'fe80::1%eth0',
    '1:2:3:4:5:6:7:8:9',
    'abc',
  ])('rejects %j', (text) => {
    const r = parseIP(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('INVALID_IP');
  });

  it('formats IPv6 per RFC 5952', () => {
    expect(canonicalIP('2001:0DB8:0000:0000:0000:0000:0000:000A')).toBe('2001:db8::a');
    expect(canonicalIP('10.6.0.1')).toBe('10.6.0.1');
    // The fast path for canonical IPv4 answers what the parse would, and only for those.
    const slow = (t: string): string | undefined => {
      const r = parseIP(t);
      return r.ok ? formatIP(r.value.family, r.value.value) : undefined;
    };
    const parts = [
      '0',
      '1',
      '9',
      '10',
      '99',
      '100',
      '199',
      '200',
      '249',
      '250',
      '255',
      '256',
      '01',
      '001',
      '300',
      '',
    ];
    for (const a of parts)
      for (const b of ['0', '255', '256', '07'])
        for (const t of [
          `${a}.${b}.0.1`,
          `10.6.${a}.${b}`,
          `${a}.${b}.1`,
          `${a}.1.2.3\n`,
          ` ${a}.1.2.3`,
        ])
          expect(canonicalIP(t)).toBe(slow(t));
  });
});

describe('parseCIDR', () => {
  it('accepts host bits, keeps what was written, computes the network', () => {
    const r = parseCIDR('10.6.0.1/16');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.canonical).toBe(false);
    expect(formatIP(4, r.value.network)).toBe('10.6.0.0');
    expect(formatIP(4, r.value.address)).toBe('10.6.0.1');
    expect(formatIP(4, r.value.last)).toBe('10.6.255.255');
    expect(r.value.prefix).toBe(16);
  });

  it('marks canonical CIDRs', () => {
    const r = parseCIDR('fd00:10::/64');
    expect(r.ok && r.value.canonical && r.value.family === 6).toBe(true);
  });

  it.each([
    '10.0.0.0',
    '10.0.0.0/33',
    'fd00::/129',
    '10.0.0.0/-1',
    '10.0.0.0/08',
    'x/8',
    '10.0.0.0/',
  ])('rejects %j', (text) => {
    const r = parseCIDR(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('INVALID_CIDR');
  });
});

describe('parseRange', () => {
  it('reads single addresses and ranges', () => {
    expect(set4('10.6.168.171-10.6.168.173').count()).toBe(3n);
    expect(set4('10.6.168.171').count()).toBe(1n);
  });
  it.each([
    ['10.0.0.5-10.0.0.1', 'INVALID_RANGE'],
    ['10.0.0.1-fd00::1', 'FAMILY_MISMATCH'],
    ['10.0.0.0/24', 'INVALID_RANGE'],
    ['10.0.0.1-', 'INVALID_RANGE'],
    ['nope', 'INVALID_RANGE'],
  ])('rejects %j with %s', (text, code) => {
    const r = parseRange(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe(code);
  });
  it('names the index of the bad entry and refuses the other family', () => {
    const r = RangeSet.parse(4, ['10.0.0.1', 'fd00::1']);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ code: 'FAMILY_MISMATCH', index: 1 });
  });
});

describe('RangeSet', () => {
  it('merges to canonical strings: sorted, merged, a-b only when b > a', () => {
    const s = set4('10.0.0.9', '10.0.0.1-10.0.0.3', '10.0.0.4', '10.0.0.2', '10.0.0.7-10.0.0.7');
    expect(s.toStrings()).toEqual(['10.0.0.1-10.0.0.4', '10.0.0.7', '10.0.0.9']);
  });

  it('union, subtract, intersect, contains', () => {
    const a = set4('10.0.0.1-10.0.0.10');
    const b = set4('10.0.0.5-10.0.0.15');
    expect(a.union(b).toStrings()).toEqual(['10.0.0.1-10.0.0.15']);
    expect(a.subtract(b).toStrings()).toEqual(['10.0.0.1-10.0.0.4']);
    expect(b.subtract(a).toStrings()).toEqual(['10.0.0.11-10.0.0.15']);
    expect(a.intersect(b).toStrings()).toEqual(['10.0.0.5-10.0.0.10']);
    expect(a.subtract(set4('10.0.0.3', '10.0.0.5-10.0.0.6')).toStrings()).toEqual([
      '10.0.0.1-10.0.0.2',
      '10.0.0.4',
      '10.0.0.7-10.0.0.10',
    ]);
    expect(a.containsText('10.0.0.10')).toBe(true);
    expect(a.containsText('10.0.0.11')).toBe(false);
    expect(a.containsText('fd00::1')).toBe(false);
    expect(a.covers(set4('10.0.0.2-10.0.0.3'))).toBe(true);
    expect(a.overlaps(set4('10.0.0.11'))).toBe(false);
  });

  it('n-th, lowest free, lowest and highest n', () => {
    const pool = set4('10.6.168.171-10.6.168.173', '10.6.168.180');
    expect(formatIP(4, pool.nth(3n)!)).toBe('10.6.168.180');
    expect(pool.nth(4n)).toBeUndefined();
    expect(formatIP(4, pool.lowestFree(set4('10.6.168.171'))!)).toBe('10.6.168.172');
    expect(pool.lowestFree(pool)).toBeUndefined();
    expect(pool.takeLowest(4n).toStrings()).toEqual(['10.6.168.171-10.6.168.173', '10.6.168.180']);
    expect(pool.takeLowest(2n).toStrings()).toEqual(['10.6.168.171-10.6.168.172']);
    expect(pool.takeHighest(2n).toStrings()).toEqual(['10.6.168.173', '10.6.168.180']);
  });

  it('handles IPv6 with BigInt', () => {
    const s = set6('fd00::1-fd00::ffff', 'fd00::1:0');
    expect(s.toStrings()).toEqual(['fd00::1-fd00::1:0']);
    expect(s.count()).toBe(0x10000n);
  });

  it('handles a /8 and a /64 in time independent of their size', () => {
    // The sets stay a handful of intervals whatever their size; the same operations on a
    // /30 and on a /64 must cost about the same. The bound is generous for a busy machine.
    const work = (cidr: string, family: 4 | 6, holes: string[]): number => {
      const all = RangeSet.parseCIDR(cidr);
      if (!all.ok) throw new Error(all.error.message);
      const used = family === 4 ? set4(...holes) : set6(...holes);
      const t0 = performance.now();
      for (let k = 0; k < 2000; k++) {
        const free = all.value.subtract(used);
        free.count();
        free.nth(free.count() - 1n);
        free.lowestFree(used);
        free.takeLowest(1000n).toStrings();
        free.contains(all.value.intervals[0]!.end);
      }
      return performance.now() - t0;
    };
    const small = work('10.0.0.0/30', 4, ['10.0.0.1']);
    const v4 = work('10.0.0.0/8', 4, ['10.0.0.1', '10.128.0.0-10.128.0.9', '10.255.255.255']);
    const v6 = work('fd00::/64', 6, ['fd00::1', 'fd00::8000:0:0:0-fd00::8000:0:0:9']);
    const huge = RangeSet.parseCIDR('fd00::/64');
    expect(huge.ok && huge.value.count()).toBe(1n << 64n);
    expect(huge.ok && huge.value.intervals.length).toBe(1);
    // Expanding a /8 into a list would take seconds and gigabytes; interval math takes ms.
    expect(v4).toBeLessThan(Math.max(small * 20, 2000));
    expect(v6).toBeLessThan(Math.max(small * 20, 2000));
  });

  it('property: set algebra agrees with a reference over small IPv4 sets', () => {
    const intervalArb = fc
      .tuple(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 8 }))
      .map(([s, len]) => ({ start: BigInt(s), end: BigInt(s + len) }));
    const setArb = fc
      .array(intervalArb, { maxLength: 6 })
      .map((ivs) => RangeSet.fromIntervals(4, ivs));
    const members = (s: RangeSet): Set<number> => {
      const out = new Set<number>();
      for (const i of s.intervals)
        for (let v = Number(i.start); v <= Number(i.end); v++) out.add(v);
      return out;
    };
    fc.assert(
      fc.property(setArb, setArb, (a, b) => {
        const ma = members(a);
        const mb = members(b);
        const u = members(a.union(b));
        const d = members(a.subtract(b));
        const x = members(a.intersect(b));
        for (let v = 0; v <= 80; v++) {
          expect(u.has(v)).toBe(ma.has(v) || mb.has(v));
          expect(d.has(v)).toBe(ma.has(v) && !mb.has(v));
          expect(x.has(v)).toBe(ma.has(v) && mb.has(v));
          expect(a.contains(BigInt(v))).toBe(ma.has(v));
        }
        expect(a.count()).toBe(BigInt(ma.size));
        // canonical strings parse back to the same set
        const back = RangeSet.parse(4, a.toStrings());
        expect(back.ok && back.value.equals(a)).toBe(true);
      }),
    );
  });
});
