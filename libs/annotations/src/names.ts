/**
 * Names inside annotations: Linux interface names, pool names (with shell wildcards) and
 * subnet names (without). Each check returns the reason a name is wrong, or undefined.
 */

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const WILDCARD = /[*?[\]]/;

/** Linux accepts 1–15 bytes, not `.`/`..`, without `/`, `:` or whitespace (dev_valid_name). */
export function interfaceNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (Buffer.byteLength(name, 'utf8') > 15) return 'is longer than 15 characters';
  if (name === '.' || name === '..') return 'is not a valid interface name';
  if (/[/:\s]/.test(name)) return 'contains "/", ":" or whitespace';
  return undefined;
}

/** Kubernetes object names of cluster-scoped resources: DNS-1123 subdomains. */
export function objectNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > 253) return 'is longer than 253 characters';
  if (!DNS_SUBDOMAIN.test(name)) {
    return 'is not a valid name (lowercase letters, digits, "-" and ".", starting and ending with a letter or digit)';
  }
  return undefined;
}

export function hasWildcard(name: string): boolean {
  return WILDCARD.test(name);
}

/**
 * At most this many `*` in one pattern (outside classes). The matcher's cost does not grow
 * with the number of stars (see {@link compileGlob}); the cap is defence in depth: a
 * backtracking matcher (the RegExp one nicpool had, review finding #1, froze on 11 stars)
 * is exponential in the stars, and a pattern sent to Spiderpool or to any other tool stays
 * harmless there too. Real naming schemes (`team-*`, `auto-*-v4-*`) use one or two.
 */
export const MAX_PATTERN_STARS = 8;

/** A pool name or a shell pattern (`*`, `?`, `[...]`) over pool names. */
export function poolPatternProblem(pattern: string): string | undefined {
  if (!hasWildcard(pattern)) return objectNameProblem(pattern);
  if (pattern.length > 253) return 'is longer than 253 characters';
  const compiled = compile(pattern);
  if (typeof compiled === 'string') return `is not a valid pattern (${compiled})`;
  if (compiled.stars > MAX_PATTERN_STARS) {
    return `has ${compiled.stars} "*" (at most ${MAX_PATTERN_STARS} per pattern)`;
  }
  // The literal characters must still be possible in a name.
  if (/[^a-z0-9.-]/.test(compiled.literals)) {
    return 'can never match a pool name (names use lowercase letters, digits, "-" and ".")';
  }
  return undefined;
}

/** A compiled shell pattern. `test` has the shape of `RegExp.test` for older callers. */
export interface GlobMatcher {
  /** Whether the whole name matches the pattern. */
  test(name: string): boolean;
  /** `*` outside classes (`**` counts two). */
  readonly stars: number;
  /** The pattern's literal characters (outside classes, without `*` and `?`). */
  readonly literals: string;
  /** What every matching name starts with (the literal characters before any wildcard). */
  readonly prefix: string;
}

// One pattern position: a UTF-16 code unit (>= 0), ANY (`?`), or a class: CLASS - index.
const ANY = -1;
const CLASS = -2;

/** A `[...]` class: inclusive code-unit ranges as flat `lo, hi` pairs, maybe negated. */
interface CharClass {
  readonly negate: boolean;
  readonly ranges: readonly number[];
  /** Membership of the ASCII code units (pool names are ASCII), looked up per comparison. */
  readonly ascii: Uint8Array;
  /** How many of the characters a pool name may hold the class accepts. */
  readonly breadth: number;
  /**
   * The class alone as a global RegExp, to find the next code unit it accepts natively.
   * One character class and no quantifier: nothing to backtrack over.
   */
  readonly search: RegExp;
}

/** The characters of pool names (DNS-1123 subdomains), for ordering classes. */
const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789-.';

function inRanges(ranges: readonly number[], negate: boolean, code: number): boolean {
  let inside = false;
  for (let i = 0; i < ranges.length; i += 2) {
    if (code >= ranges[i]! && code <= ranges[i + 1]!) {
      inside = true;
      break;
    }
  }
  return inside !== negate;
}

function charClass(negate: boolean, ranges: readonly number[]): CharClass {
  const ascii = new Uint8Array(128);
  for (let c = 0; c < 128; c++) ascii[c] = inRanges(ranges, negate, c) ? 1 : 0;
  let breadth = 0;
  for (let i = 0; i < NAME_CHARS.length; i++) breadth += ascii[NAME_CHARS.charCodeAt(i)]!;
  const unit = (c: number): string => `\\u${c.toString(16).padStart(4, '0')}`;
  let body = '';
  for (let i = 0; i < ranges.length; i += 2) body += `${unit(ranges[i]!)}-${unit(ranges[i + 1]!)}`;
  // No `u` flag: code units, as everywhere in this matcher.
  const search = new RegExp(`[${negate ? '^' : ''}${body}]`, 'g');
  return { negate, ranges, ascii, breadth, search };
}

function classHas(c: CharClass, code: number): boolean {
  return code < 128 ? c.ascii[code] === 1 : inRanges(c.ranges, c.negate, code);
}

/**
 * Parses a class body the way the RegExp translation of earlier versions read it, so that
 * patterns keep their meaning: `a-z` is a range (out of order: invalid), a `-` first, last
 * or right after a range is literal, everything else (also `[`, `\`, `^` inside) literal.
 */
function parseClass(body: string): number[] | string {
  const ranges: number[] = [];
  for (let j = 0; j < body.length;) {
    const lo = body.charCodeAt(j);
    if (body[j + 1] === '-' && j + 2 < body.length) {
      const hi = body.charCodeAt(j + 2);
      if (hi < lo) return `the range "${body.slice(j, j + 3)}" is out of order`;
      ranges.push(lo, hi);
      j += 3;
    } else {
      ranges.push(lo, lo);
      j += 1;
    }
  }
  return ranges;
}

/**
 * Compiles a shell pattern (`*` any run, `?` one character, `[abc]`/`[a-z]` a class,
 * `[!…]`/`[^…]` its complement, a `]` right after `[` is part of the class) into a
 * matcher, or undefined when malformed. Matching never backtracks beyond one star
 * segment: each star-free segment is placed at its leftmost fit, which is enough because
 * a later fit can only leave less room to what follows. Cost per name: at most
 * O(name length × pattern length), usually O(name length); never exponential (review
 * finding #1: the RegExp translation took 24 s for one 92-character pattern).
 *
 * Same answers as that translation, except that `?` and `*` also take line terminators
 * (its `.` did not; pool names never hold one). The matcher remembers which positions
 * failed last, to try them first on the next name: speed only, never the answer.
 */
export function compileGlob(pattern: string): GlobMatcher | undefined {
  const compiled = compile(pattern);
  return typeof compiled === 'string' ? undefined : compiled;
}

const UNBALANCED = 'unbalanced "[" or "]"';

/** {@link compileGlob}, or why the pattern is malformed. */
function compile(pattern: string): GlobMatcher | string {
  const classes: CharClass[] = [];
  const segments: number[][] = [[]];
  let literals = '';
  let stars = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      stars++;
      // `**` is one star for matching; an empty segment between them would only cost time.
      if (segments[segments.length - 1]!.length > 0 || segments.length === 1) segments.push([]);
    } else if (c === '?') segments[segments.length - 1]!.push(ANY);
    else if (c === '[') {
      // The search starts past the first body character, so `[]` opens a class holding `]`.
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) return UNBALANCED;
      let body = pattern.slice(i + 1, close);
      let negate = false;
      if (body.startsWith('!') || body.startsWith('^')) {
        negate = true;
        body = body.slice(1);
      }
      if (body === '') return `the set "${pattern.slice(i, close + 1)}" is empty`;
      const ranges = parseClass(body);
      if (typeof ranges === 'string') return ranges;
      // A one-character set is that character (and can then anchor the search below).
      if (!negate && ranges.length === 2 && ranges[0] === ranges[1])
        segments[segments.length - 1]!.push(ranges[0]!);
      else {
        classes.push(charClass(negate, ranges));
        segments[segments.length - 1]!.push(CLASS - (classes.length - 1));
      }
      i = close;
    } else if (c === ']') return UNBALANCED;
    else {
      segments[segments.length - 1]!.push(pattern.charCodeAt(i));
      literals += c;
    }
  }
  return globMatcher(segments, classes, stars, literals);
}

/**
 * The order in which a segment's positions are compared: literals first, the rarest in the
 * segment first (a run of `a` around one `b`: the `b`), then classes, the narrowest over
 * pool-name characters first (`[xz]` before `[!z]`); `?` never (it takes any code unit).
 * A segment that fits a name at most offsets but one (`?…?z`, `[!z]…[xz]`, `a…ab`) then
 * fails at most offsets on the first comparison.
 */
function compareOrder(seg: readonly number[], classes: readonly CharClass[]): number[] {
  const count = new Map<number, number>();
  for (const t of seg) if (t >= 0) count.set(t, (count.get(t) ?? 0) + 1);
  const literals: number[] = [];
  const sets: number[] = [];
  seg.forEach((t, k) => {
    if (t >= 0) literals.push(k);
    else if (t !== ANY) sets.push(k);
  });
  const breadth = (k: number): number => classes[CLASS - seg[k]!]!.breadth;
  literals.sort((a, b) => count.get(seg[a]!)! - count.get(seg[b]!)! || b - a);
  sets.sort((a, b) => breadth(a) - breadth(b) || b - a);
  return [...literals, ...sets];
}

/**
 * How many recently failing positions of a segment are compared before the static order:
 * on a name that repeats with a short period the same few positions fail again and again,
 * whatever order was chosen up front (`[cd][ab]…[ab]` against `abab…`).
 */
const RECENT = 4;

function globMatcher(
  segments: readonly (readonly number[])[],
  classes: readonly CharClass[],
  stars: number,
  literals: string,
): GlobMatcher {
  const orders = segments.map((seg) => compareOrder(seg, classes));
  const recent = segments.map(() => new Int32Array(RECENT).fill(-1));
  // The rarest literal of each segment (compared first), to jump between candidates.
  const anchors = segments.map((seg, s) => {
    const k = orders[s]![0];
    return k !== undefined && seg[k]! >= 0
      ? { char: String.fromCharCode(seg[k]!), offset: k }
      : undefined;
  });
  const fits = (want: number, got: number): boolean =>
    want === got || (want < 0 && classHas(classes[CLASS - want]!, got));
  // Whether segment `s` fits `name` at `start` (the caller keeps it inside the name).
  const at = (s: number, name: string, start: number): boolean => {
    const seg = segments[s]!;
    const seen = recent[s]!;
    for (let r = 0; r < RECENT; r++) {
      const k = seen[r]!;
      if (k >= 0 && !fits(seg[k]!, name.charCodeAt(start + k))) return false;
    }
    for (const k of orders[s]!) {
      if (fits(seg[k]!, name.charCodeAt(start + k))) continue;
      seen.copyWithin(1, 0, RECENT - 1);
      seen[0] = k;
      return false;
    }
    return true;
  };
  /**
   * The leftmost offset in [from, final] where segment `s` fits, or -1. Candidates come
   * from the native search for the segment's rarest literal, so offsets without it cost
   * nothing (a long native substring search would cost name × run on periodic names).
   * A segment of classes and `?` skips ahead, by its class's native search, to where its
   * last failing class fits.
   */
  const find = (s: number, name: string, from: number, final: number): number => {
    const anchor = anchors[s];
    const seg = segments[s]!;
    for (let p = from; p <= final; p++) {
      if (anchor !== undefined) {
        const hit = name.indexOf(anchor.char, p + anchor.offset);
        if (hit < 0 || hit - anchor.offset > final) return -1;
        p = hit - anchor.offset;
      } else {
        const k = recent[s]![0]!;
        if (k >= 0) {
          const search = classes[CLASS - seg[k]!]!.search;
          search.lastIndex = p + k;
          const hit = search.exec(name);
          if (hit === null || hit.index - k > final) return -1;
          p = hit.index - k;
        }
      }
      if (at(s, name, p)) return p;
    }
    return -1;
  };
  // segments = [head, ...middle, tail] when there is a star; just [head] when there is none.
  const last = segments.length - 1;
  const headLength = segments[0]!.length;
  const tailLength = last > 0 ? segments[last]!.length : 0;
  let minLength = 0;
  for (const seg of segments) minLength += seg.length;
  const head = segments[0]!;
  let prefixLength = 0;
  while (prefixLength < head.length && head[prefixLength]! >= 0) prefixLength++;
  return {
    stars,
    literals,
    prefix: String.fromCharCode(...head.slice(0, prefixLength)),
    test(name: string): boolean {
      if (last === 0) return name.length === headLength && at(0, name, 0);
      if (name.length < minLength) return false;
      const end = name.length - tailLength;
      if (!at(0, name, 0) || !at(last, name, end)) return false;
      // A segment whose rarest literal the name lacks cannot fit: say so before placing
      // the segments in front of it (`*[a-y]…*[a-y]…*z*` against a name without `z`).
      for (let s = 1; s < last; s++) {
        const anchor = anchors[s];
        if (anchor !== undefined && name.indexOf(anchor.char, headLength + anchor.offset) < 0)
          return false;
      }
      let pos = headLength;
      for (let s = 1; s < last; s++) {
        const fit = find(s, name, pos, end - segments[s]!.length);
        if (fit < 0) return false;
        pos = fit + segments[s]!.length;
      }
      return true;
    },
  };
}

// Sorted copies of the names arrays callers pass again and again (the webhook matches each
// pattern of an annotation on its own against one snapshot's names): sorting per call cost
// ~0.5 s per admission for a 220 KB annotation against 1000 pools (review finding #21).
// Keyed weakly by the array, so a snapshot's copy goes with the snapshot; the length check
// catches an array grown since, but the contract is `readonly`: do not edit it in place.
const sortedNames = new WeakMap<readonly string[], readonly string[]>();

/** The first index whose name is not below `prefix` (the order `sort()` gives: code units). */
function lowerBound(sorted: readonly string[], prefix: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < prefix) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function sortedOnce(names: readonly string[]): readonly string[] {
  const memo = sortedNames.get(names);
  if (memo !== undefined && memo.length === names.length) return memo;
  const sorted = [...names].sort();
  sortedNames.set(names, sorted);
  return sorted;
}

/**
 * Expands pool patterns against existing names, keeping the order the user wrote (and,
 * within one pattern, name order); a name matched twice is kept once. A name without a
 * wildcard is kept as written, whether it exists or not. `names` is sorted once per array
 * (and remembered): pass the same array again rather than a fresh copy, and never edit it.
 */
export function matchPoolNames(patterns: readonly string[], names: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  let sorted: readonly string[] | undefined;
  for (const p of patterns) {
    if (!hasWildcard(p)) {
      if (!seen.has(p)) {
        seen.add(p);
        out.push(p);
      }
      continue;
    }
    const glob = compileGlob(p);
    if (glob === undefined) continue;
    sorted ??= sortedOnce(names);
    // Names sharing the literal prefix are one run of the sorted array (`team-*`: only
    // the team's pools are looked at, not every pool of the cluster).
    const { prefix } = glob;
    for (let i = prefix === '' ? 0 : lowerBound(sorted, prefix); i < sorted.length; i++) {
      const n = sorted[i]!;
      if (!n.startsWith(prefix)) break;
      if (!seen.has(n) && glob.test(n)) {
        seen.add(n);
        out.push(n);
      }
    }
  }
  return out;
}
