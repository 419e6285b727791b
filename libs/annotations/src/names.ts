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
  const compiled = compileGlob(pattern);
  if (compiled === undefined) return 'is not a valid pattern (unbalanced "[" or "]")';
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
}

// One pattern position: a UTF-16 code unit (>= 0), ANY (`?`), or a class: CLASS - index.
const ANY = -1;
const CLASS = -2;

/** A `[...]` class: inclusive code-unit ranges as flat `lo, hi` pairs, maybe negated. */
interface CharClass {
  readonly negate: boolean;
  readonly ranges: readonly number[];
}

function classHas(c: CharClass, code: number): boolean {
  let inside = false;
  for (let i = 0; i < c.ranges.length; i += 2) {
    if (code >= c.ranges[i]! && code <= c.ranges[i + 1]!) {
      inside = true;
      break;
    }
  }
  return inside !== c.negate;
}

/**
 * Parses a class body the way the RegExp translation of earlier versions read it, so that
 * patterns keep their meaning: `a-z` is a range (out of order: invalid), a `-` first, last
 * or right after a range is literal, everything else (also `[`, `\`, `^` inside) literal.
 */
function parseClass(body: string): number[] | undefined {
  const ranges: number[] = [];
  for (let j = 0; j < body.length;) {
    const lo = body.charCodeAt(j);
    if (body[j + 1] === '-' && j + 2 < body.length) {
      const hi = body.charCodeAt(j + 2);
      if (hi < lo) return undefined;
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
 */
export function compileGlob(pattern: string): GlobMatcher | undefined {
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
      if (close < 0) return undefined;
      let body = pattern.slice(i + 1, close);
      let negate = false;
      if (body.startsWith('!') || body.startsWith('^')) {
        negate = true;
        body = body.slice(1);
      }
      if (body === '') return undefined;
      const ranges = parseClass(body);
      if (ranges === undefined) return undefined;
      classes.push({ negate, ranges });
      segments[segments.length - 1]!.push(CLASS - (classes.length - 1));
      i = close;
    } else if (c === ']') return undefined;
    else {
      segments[segments.length - 1]!.push(pattern.charCodeAt(i));
      literals += c;
    }
  }
  return globMatcher(segments, classes, stars, literals);
}

function globMatcher(
  segments: readonly (readonly number[])[],
  classes: readonly CharClass[],
  stars: number,
  literals: string,
): GlobMatcher {
  const at = (seg: readonly number[], name: string, start: number): boolean => {
    for (let k = 0; k < seg.length; k++) {
      const want = seg[k]!;
      const got = name.charCodeAt(start + k);
      if (want === got || want === ANY) continue;
      if (want >= 0 || !classHas(classes[CLASS - want]!, got)) return false;
    }
    return true;
  };
  const head = segments[0]!;
  // segments = [head, ...middle, tail] when there is a star; just [head] when there is none.
  const starred = segments.length > 1;
  const tail = starred ? segments[segments.length - 1]! : [];
  const middle = segments.slice(1, -1);
  let minLength = 0;
  for (const s of segments) minLength += s.length;
  return {
    stars,
    literals,
    test(name: string): boolean {
      if (!starred) return name.length === head.length && at(head, name, 0);
      if (name.length < minLength) return false;
      const end = name.length - tail.length;
      if (!at(head, name, 0) || !at(tail, name, end)) return false;
      let pos = head.length;
      for (const seg of middle) {
        const last = end - seg.length;
        while (pos <= last && !at(seg, name, pos)) pos++;
        if (pos > last) return false;
        pos += seg.length;
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
    for (const n of sorted) {
      if (!seen.has(n) && glob.test(n)) {
        seen.add(n);
        out.push(n);
      }
    }
  }
  return out;
}
