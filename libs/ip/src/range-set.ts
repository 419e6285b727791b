import { err, ok, type Result } from '@nicpool/result';
import { formatIP, parseCIDR, parseIP, type Cidr, type IPError, type IPFamily } from './address.ts';

/** An inclusive interval of addresses of one family. */
export interface Interval {
  readonly start: bigint;
  readonly end: bigint;
}

/**
 * Parses a pool/subnet range entry: a single address (`10.6.168.171`) or `a-b` with
 * a <= b in one family. CIDR notation is not a range here (the CRDs use `subnet` for that).
 */
export function parseRange(
  text: string,
): Result<{ family: IPFamily; interval: Interval }, IPError> {
  const dash = text.indexOf('-');
  if (dash < 0) {
    if (text.includes('/')) {
      return err({
        code: 'INVALID_RANGE',
        message: `"${text}" is a CIDR; write a single IP or a range "first-last"`,
      });
    }
    const a = parseIP(text);
    if (!a.ok)
      return err({
        code: 'INVALID_RANGE',
        message: `"${text}" is not an IP address or a range "first-last"`,
      });
    return ok({ family: a.value.family, interval: { start: a.value.value, end: a.value.value } });
  }
  const a = parseIP(text.slice(0, dash));
  const b = parseIP(text.slice(dash + 1));
  if (!a.ok || !b.ok) {
    return err({
      code: 'INVALID_RANGE',
      message: `"${text}" is not a range "first-last" of two IP addresses`,
    });
  }
  if (a.value.family !== b.value.family) {
    return err({
      code: 'FAMILY_MISMATCH',
      message: `"${text}" mixes an IPv${a.value.family} and an IPv${b.value.family} address`,
    });
  }
  if (b.value.value < a.value.value) {
    return err({
      code: 'INVALID_RANGE',
      message: `"${text}" ends before it starts; write the lower address first`,
    });
  }
  return ok({ family: a.value.family, interval: { start: a.value.value, end: b.value.value } });
}

/**
 * An immutable set of addresses of one family, kept as sorted, disjoint, non-adjacent
 * intervals. Every operation works on the intervals, never on the addresses, so a /8 or
 * a /64 costs the same as a /30.
 */
export class RangeSet {
  readonly family: IPFamily;
  readonly intervals: readonly Interval[];

  private constructor(family: IPFamily, intervals: readonly Interval[]) {
    this.family = family;
    this.intervals = intervals;
  }

  static empty(family: IPFamily): RangeSet {
    return new RangeSet(family, []);
  }

  /** Builds a set from arbitrary intervals (any order, overlapping or adjacent). */
  static fromIntervals(family: IPFamily, intervals: readonly Interval[]): RangeSet {
    return new RangeSet(family, normalize(intervals));
  }

  /** All addresses of a CIDR's network, including network and broadcast addresses. */
  static fromCIDR(c: Cidr): RangeSet {
    return new RangeSet(c.family, [{ start: c.network, end: c.last }]);
  }

  /** Parses range entries (`a`, `a-b`) of one family; the first bad entry is the error. */
  static parse(
    family: IPFamily,
    entries: readonly string[],
  ): Result<RangeSet, IPError & { index: number }> {
    const intervals: Interval[] = [];
    for (const [index, entry] of entries.entries()) {
      const r = parseRange(entry);
      if (!r.ok) return err({ ...r.error, index });
      if (r.value.family !== family) {
        return err({
          code: 'FAMILY_MISMATCH',
          message: `"${entry}" is IPv${r.value.family}, expected IPv${family}`,
          index,
        });
      }
      intervals.push(r.value.interval);
    }
    return ok(RangeSet.fromIntervals(family, intervals));
  }

  /** Parses a CIDR string into the set of its network's addresses. */
  static parseCIDR(text: string): Result<RangeSet, IPError> {
    const c = parseCIDR(text);
    return c.ok ? ok(RangeSet.fromCIDR(c.value)) : c;
  }

  isEmpty(): boolean {
    return this.intervals.length === 0;
  }

  /** Number of addresses, exact for any size. */
  count(): bigint {
    let n = 0n;
    for (const i of this.intervals) n += i.end - i.start + 1n;
    return n;
  }

  contains(value: bigint): boolean {
    // Binary search: pools of thousands of fragments are checked per allocation.
    let lo = 0;
    let hi = this.intervals.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const iv = this.intervals[mid]!;
      if (value < iv.start) hi = mid - 1;
      else if (value > iv.end) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** Parses `text` as an address of this set's family and tests membership. */
  containsText(text: string): boolean {
    const a = parseIP(text);
    return a.ok && a.value.family === this.family && this.contains(a.value.value);
  }

  /** True when every address of `other` is in this set. */
  covers(other: RangeSet): boolean {
    return other.subtract(this).isEmpty();
  }

  overlaps(other: RangeSet): boolean {
    return !this.intersect(other).isEmpty();
  }

  union(other: RangeSet): RangeSet {
    this.assertFamily(other);
    return new RangeSet(this.family, normalize([...this.intervals, ...other.intervals]));
  }

  intersect(other: RangeSet): RangeSet {
    this.assertFamily(other);
    const out: Interval[] = [];
    let i = 0;
    let j = 0;
    while (i < this.intervals.length && j < other.intervals.length) {
      const a = this.intervals[i]!;
      const b = other.intervals[j]!;
      const start = a.start > b.start ? a.start : b.start;
      const end = a.end < b.end ? a.end : b.end;
      if (start <= end) out.push({ start, end });
      if (a.end < b.end) i++;
      else j++;
    }
    return new RangeSet(this.family, out);
  }

  subtract(other: RangeSet): RangeSet {
    this.assertFamily(other);
    const out: Interval[] = [];
    let j = 0;
    for (const a of this.intervals) {
      let start = a.start;
      while (j < other.intervals.length && other.intervals[j]!.end < start) j++;
      let k = j;
      while (k < other.intervals.length && other.intervals[k]!.start <= a.end) {
        const b = other.intervals[k]!;
        if (b.start > start) out.push({ start, end: b.start - 1n });
        start = b.end + 1n;
        if (b.end >= a.end) break;
        k++;
      }
      if (start <= a.end) out.push({ start, end: a.end });
    }
    return new RangeSet(this.family, out);
  }

  /** The n-th address (0-based) in ascending order, or undefined past the end. */
  nth(n: bigint): bigint | undefined {
    if (n < 0n) return undefined;
    let left = n;
    for (const i of this.intervals) {
      const size = i.end - i.start + 1n;
      if (left < size) return i.start + left;
      left -= size;
    }
    return undefined;
  }

  /** The lowest address of this set that is not in `used`, or undefined when none is free. */
  lowestFree(used: RangeSet): bigint | undefined {
    return this.subtract(used).nth(0n);
  }

  /** The lowest `n` addresses of this set (fewer if the set is smaller). */
  takeLowest(n: bigint): RangeSet {
    const out: Interval[] = [];
    let left = n;
    for (const i of this.intervals) {
      if (left <= 0n) break;
      const size = i.end - i.start + 1n;
      if (size <= left) {
        out.push(i);
        left -= size;
      } else {
        out.push({ start: i.start, end: i.start + left - 1n });
        left = 0n;
      }
    }
    return new RangeSet(this.family, out);
  }

  /** The highest `n` addresses of this set (fewer if the set is smaller). */
  takeHighest(n: bigint): RangeSet {
    const out: Interval[] = [];
    let left = n;
    for (let idx = this.intervals.length - 1; idx >= 0 && left > 0n; idx--) {
      const i = this.intervals[idx]!;
      const size = i.end - i.start + 1n;
      if (size <= left) {
        out.unshift(i);
        left -= size;
      } else {
        out.unshift({ start: i.end - left + 1n, end: i.end });
        left = 0n;
      }
    }
    return new RangeSet(this.family, out);
  }

  /** Canonical strings: sorted, merged, `a-b` only when b > a. */
  toStrings(): string[] {
    return this.intervals.map((i) =>
      i.start === i.end
        ? formatIP(this.family, i.start)
        : `${formatIP(this.family, i.start)}-${formatIP(this.family, i.end)}`,
    );
  }

  equals(other: RangeSet): boolean {
    if (this.family !== other.family || this.intervals.length !== other.intervals.length)
      return false;
    return this.intervals.every(
      (a, k) => a.start === other.intervals[k]!.start && a.end === other.intervals[k]!.end,
    );
  }

  private assertFamily(other: RangeSet): void {
    if (other.family !== this.family) {
      // A programming error, not bad input: callers group by family before combining.
      throw new Error(`cannot combine IPv${this.family} and IPv${other.family} sets`);
    }
  }
}

function normalize(intervals: readonly Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) =>
    a.start < b.start ? -1 : a.start > b.start ? 1 : 0,
  );
  const out: Interval[] = [];
  for (const iv of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && iv.start <= last.end + 1n) {
      if (iv.end > last.end) out[out.length - 1] = { start: last.start, end: iv.end };
    } else {
      out.push({ start: iv.start, end: iv.end });
    }
  }
  return out;
}
