import { describe, expect, it, jest } from '@jest/globals';
import fc from 'fast-check';
import { AnnotationErrorCode } from './errors.ts';
import { NamespaceAnnotation } from './keys.ts';
import { compileGlob, MAX_PATTERN_STARS, matchPoolNames, poolPatternProblem } from './names.ts';
import { parseNamespaceDefaultPools, validateNetconfDefaultPools } from './pod.ts';
import { resolveSelection } from './resolve.ts';

/**
 * The RegExp translation nicpool used before the linear matcher (review finding #1), kept
 * here as the oracle the new matcher must agree with (on small inputs it cannot blow up).
 */
function oldCompileGlob(pattern: string): RegExp | undefined {
  let out = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) return undefined;
      let body = pattern.slice(i + 1, close);
      let negate = false;
      if (body.startsWith('!') || body.startsWith('^')) {
        negate = true;
        body = body.slice(1);
      }
      if (body === '') return undefined;
      out += `[${negate ? '^' : ''}${body.replace(/[\\\]]/g, '\\$&')}]`;
      i = close;
    } else if (c === ']') return undefined;
    else out += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  try {
    return new RegExp(`${out}$`);
  } catch {
    return undefined;
  }
}

const ms = (f: () => void): number => {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
};

describe('matchPoolNames is linear (review #1)', () => {
  it("the review's pattern against an auto-pool name takes under 50 ms", () => {
    const pattern = '*[a-y0-9-]'.repeat(10) + '*z';
    let out: string[] = [];
    const took = ms(() => {
      out = matchPoolNames([pattern], ['auto-web-frontend-v4-eth0-5f1c2a9d7e3b']);
    });
    expect(out).toEqual([]);
    expect(took).toBeLessThan(50);
  });
});

describe('star cap', () => {
  it('refuses more than 8 "*" in one pattern, naming the limit', () => {
    expect(poolPatternProblem('a*'.repeat(8))).toBeUndefined();
    expect(poolPatternProblem('a*'.repeat(9))).toMatch(/9 "\*".*at most 8/);
  });
});

describe('matchPoolNames sorts once per names array (review #21)', () => {
  const names = Array.from({ length: 1000 }, (_, i) => `pool-${(i * 7919) % 1000}-x`);

  it('sorts the same array once however often it is passed', () => {
    const sort = jest.spyOn(Array.prototype, 'sort');
    // Sorts of copies of a names array (the matcher also sorts its own few positions).
    const nameSorts = (): number =>
      sort.mock.contexts.filter((a) => (a as unknown[]).length >= names.length).length;
    try {
      for (let i = 0; i < 100; i++) matchPoolNames([`pool-${i}-?`, 'exact'], names);
      expect(nameSorts()).toBe(1);
      // A grown array (or another one) is sorted again, never answered from a stale copy.
      const grown = [...names];
      matchPoolNames(['pool-*'], grown);
      grown.push('pool-1000-x');
      expect(matchPoolNames(['pool-1000-?'], grown)).toEqual(['pool-1000-x']);
      expect(nameSorts()).toBe(3);
    } finally {
      sort.mockRestore();
    }
  });

  it('never sorts for exact names: 10 000 calls against 1000 names under 100 ms', () => {
    // The webhook matches each entry of an annotation on its own (review #21: a 220 KB
    // annotation against 1000 pools cost ~0.5 s per admission in sorts alone).
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) matchPoolNames([`pool-${i % 1000}-x`], names);
    expect(performance.now() - t0).toBeLessThan(100);
  });

  it("looks at only the names sharing a pattern's literal prefix", () => {
    const many = Array.from({ length: 5000 }, (_, i) => `team-${i % 50}-pool-${i}`);
    const seen: string[] = [];
    const spy = jest.spyOn(String.prototype, 'charCodeAt');
    let out: string[] = [];
    try {
      out = matchPoolNames(['team-7-pool-*9'], many);
      for (const c of spy.mock.contexts) seen.push(String(c));
    } finally {
      spy.mockRestore();
    }
    expect(out).toEqual(many.filter((n) => n.startsWith('team-7-pool-') && n.endsWith('9')).sort());
    // 100 names start with `team-7-pool-`; a scan of all 5000 would read every one.
    expect(new Set(seen.filter((n) => n !== 'team-7-pool-*9')).size).toBeLessThanOrEqual(100);
    expect(matchPoolNames(['zzz*', 'a*'], ['a', 'b', 'ab', 'zz'])).toEqual(['a', 'ab']);
    expect(matchPoolNames(['ab?'], ['ab', 'abc', 'abd', 'abcd', 'b'])).toEqual(['abc', 'abd']);
  });

  it('keeps the order contract: patterns as written, name order within one, each name once', () => {
    expect(matchPoolNames(['pool-1?-x', 'pool-10-x', 'pool-9?9-x'], names)).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `pool-1${i}-x`),
      ...Array.from({ length: 10 }, (_, i) => `pool-9${i}9-x`),
    ]);
    expect(matchPoolNames(['b', 'a*', 'b'], ['b', 'a2', 'a1'])).toEqual(['b', 'a1', 'a2']);
  });
});

describe('same meaning as the RegExp translation', () => {
  // Glob metacharacters and the characters that are special inside classes or regexes. No
  // line terminators: `.` of the old RegExp skipped them, `?`/`*` now take any code unit,
  // and a pool name (a DNS subdomain) never holds one.
  const patternChar = fc.constantFrom(...'*?[]!^-\\.abcz09A(|+${'.split(''));
  const nameChar = fc.constantFrom(...'abcz09-.!^[]\\A('.split(''));
  const pattern = fc.array(patternChar, { maxLength: 12 }).map((a) => a.join(''));
  const name = fc.array(nameChar, { maxLength: 10 }).map((a) => a.join(''));

  it('agrees on validity and on every match (fast-check, fixed seed)', () => {
    fc.assert(
      fc.property(pattern, fc.array(name, { maxLength: 6 }), (p, names) => {
        const old = oldCompileGlob(p);
        const now = compileGlob(p);
        expect(now === undefined).toBe(old === undefined);
        if (old === undefined || now === undefined) return;
        for (const n of names) expect([p, n, now.test(n)]).toEqual([p, n, old.test(n)]);
      }),
      { seed: 20261201, numRuns: 15_000 },
    );
  });

  it('agrees on names built to match (fast-check, fixed seed)', () => {
    // Random names rarely match a random pattern; build names from the pattern instead.
    const atom = fc.oneof(
      fc.constant('*'),
      fc.constant('?'),
      fc.constantFrom('[a-c]', '[!a]', '[^z0]', '[]a]', '[-a]', '[a-]', '[a-c-e]', '[\\]'),
      fc.constantFrom(...'abz09-.'.split('')),
    );
    const filler = fc.array(nameChar, { maxLength: 3 }).map((a) => a.join(''));
    fc.assert(
      fc.property(fc.array(fc.tuple(atom, filler, nameChar), { maxLength: 8 }), (parts) => {
        const p = parts.map(([a]) => a).join('');
        const old = oldCompileGlob(p)!;
        const now = compileGlob(p)!;
        // A name that follows the pattern atom by atom (may still miss on a class).
        const n = parts
          .map(([a, f, c]) => (a === '*' ? f : a === '?' ? c : a.startsWith('[') ? c : a))
          .join('');
        expect([p, n, now.test(n)]).toEqual([p, n, old.test(n)]);
      }),
      { seed: 7, numRuns: 10_000 },
    );
  });
});

describe('same meaning on many names per pattern', () => {
  it('agrees with the RegExp on 40 names over a tiny alphabet per pattern (fast-check, fixed seed)', () => {
    // Many names per compiled pattern exercise the matcher's adaptive state (the positions
    // that failed last are compared first); a tiny alphabet makes near-misses common. At
    // most 4 stars and 16 characters keep the backtracking oracle fast.
    const atom = fc.oneof(
      { weight: 2, arbitrary: fc.constant('*') },
      { weight: 1, arbitrary: fc.constant('?') },
      {
        weight: 2,
        arbitrary: fc.constantFrom('[ab]', '[!a]', '[^bc]', '[a-b]', '[c]', '[]a]', '[!-]', '[.-]'),
      },
      { weight: 4, arbitrary: fc.constantFrom('a', 'b', 'c', '-', '.') },
    );
    const pattern = fc
      .array(atom, { maxLength: 10 })
      .map((a) => a.join(''))
      .filter((p) => (p.match(/\*/g) ?? []).length <= 4);
    const name = fc
      .array(fc.constantFrom('a', 'b', 'c', '-', '.', ']'), { maxLength: 16 })
      .map((a) => a.join(''));
    fc.assert(
      fc.property(pattern, fc.array(name, { minLength: 40, maxLength: 40 }), (p, names) => {
        const old = oldCompileGlob(p)!;
        const now = compileGlob(p)!;
        for (const n of names) expect([p, n, now.test(n)]).toEqual([p, n, old.test(n)]);
      }),
      { seed: 1201, numRuns: 1000 },
    );
  });
});

describe('matchPoolNames against the reference expansion', () => {
  /** The expansion as it was written before (sort every call, RegExp per pattern). */
  function reference(patterns: readonly string[], names: readonly string[]): string[] {
    const out: string[] = [];
    const sorted = [...names].sort();
    for (const p of patterns) {
      const re = /[*?[\]]/.test(p) ? oldCompileGlob(p) : undefined;
      const hits = /[*?[\]]/.test(p)
        ? re === undefined
          ? []
          : sorted.filter((n) => re.test(n))
        : [p];
      for (const n of hits) if (!out.includes(n)) out.push(n);
    }
    return out;
  }
  it('gives the same list in the same order (fast-check, fixed seed)', () => {
    const piece = fc.constantFrom('a', 'b', 'ab', 'ba', '-', '.', '0', '*', '?', '[ab]', '[!a]');
    const pattern = fc.array(piece, { maxLength: 5 }).map((a) => a.join(''));
    const name = fc
      .array(fc.constantFrom('a', 'b', '-', '.', '0'), { minLength: 1, maxLength: 6 })
      .map((a) => a.join(''));
    fc.assert(
      fc.property(
        fc.array(pattern, { maxLength: 4 }),
        fc.uniqueArray(name, { maxLength: 30 }),
        (patterns, names) => {
          expect(matchPoolNames(patterns, names)).toEqual(reference(patterns, names));
        },
      ),
      { seed: 42, numRuns: 3000 },
    );
  });
});

describe('hostile input', () => {
  it('never throws on arbitrary UTF-16 (lone surrogates too) and agrees with the RegExp (fast-check, fixed seed)', () => {
    const text = fc.string({ unit: 'binary', maxLength: 40 });
    const globby = fc
      .array(fc.oneof(fc.constantFrom('*', '?', '[', ']', '!', '^', '-'), text), { maxLength: 12 })
      .map((a) => a.join(''));
    fc.assert(
      fc.property(
        fc.array(globby, { maxLength: 4 }),
        fc.array(text, { maxLength: 8 }),
        (ps, ns) => {
          for (const p of ps) {
            expect(typeof (poolPatternProblem(p) ?? '')).toBe('string');
            const g = compileGlob(p);
            const old = oldCompileGlob(p);
            expect(g === undefined).toBe(old === undefined);
            for (const n of ns) {
              // Past 4 stars the backtracking oracle itself could take minutes.
              if (g === undefined || old === undefined || p.split('*').length > 5) continue;
              // The one deliberate difference: `?`/`*` take line terminators, `.` did not.
              if (/[\n\r\u2028\u2029]/.test(n)) expect(typeof g.test(n)).toBe('boolean');
              else expect([p, n, g.test(n)]).toEqual([p, n, old.test(n)]);
            }
          }
          expect(Array.isArray(matchPoolNames(ps, ns))).toBe(true);
        },
      ),
      { seed: 99, numRuns: 3000 },
    );
  });
});

describe('class edge cases', () => {
  const cases: [string, string, boolean][] = [
    ['pool-[ab]', 'pool-a', true],
    ['pool-[ab]', 'pool-c', false],
    ['pool-[!ab]', 'pool-c', true],
    ['pool-[!ab]', 'pool-a', false],
    ['pool-[^ab]', 'pool-c', true],
    ['pool-[a-c]', 'pool-b', true],
    ['pool-[a-c]', 'pool-d', false],
    // `]` right after `[` (or `[!`) belongs to the class.
    ['x[]a]', 'x]', true],
    ['x[]a]', 'xa', true],
    // `-` first, last or after a range is literal.
    ['x[-a]', 'x-', true],
    ['x[a-]', 'x-', true],
    ['x[a-c-e]', 'x-', true],
    ['x[a-c-e]', 'xd', false],
    ['x[a-c-e]', 'xe', true],
    // `!`/`^` negate only in first place.
    ['x[a!]', 'x!', true],
    ['x[!^]', 'xa', true],
    ['x[!^]', 'x^', false],
    // `*` and `?` inside a class are literal.
    ['x[*?]', 'x*', true],
    ['x[*?]', 'xa', false],
    ['x[.]', 'x.', true],
    ['x[.]', 'xa', false],
    ['x?', 'x', false],
    ['x?', 'xy', true],
    ['x*', 'x', true],
    ['**', '', true],
    ['a**b', 'ab', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'acb', false],
    ['*ab*ab', 'abab', true],
    ['*ab*ab', 'aab', false],
  ];
  it.each(cases)('%s against %s is %s', (p, n, want) => {
    expect(compileGlob(p)?.test(n)).toBe(want);
    expect(oldCompileGlob(p)?.test(n)).toBe(want);
  });

  it.each([
    ['[]', 'unbalanced "[" or "]"'],
    ['[a', 'unbalanced "[" or "]"'],
    ['x]', 'unbalanced "[" or "]"'],
    ['[!]', 'the set "[!]" is empty'],
    ['[^]', 'the set "[^]" is empty'],
    ['x[!]a]', 'the set "[!]" is empty'],
    ['x[z-a]', 'the range "z-a" is out of order'],
    ['x[a--]', 'the range "a--" is out of order'],
  ])('%s is malformed: %s', (p, why) => {
    expect(compileGlob(p)).toBeUndefined();
    expect(oldCompileGlob(p)).toBeUndefined();
    expect(poolPatternProblem(p)).toBe(`is not a valid pattern (${why})`);
  });

  it('differs from the RegExp only on line terminators, which no pool name holds', () => {
    expect(compileGlob('a?b')?.test('a\nb')).toBe(true);
    expect(oldCompileGlob('a?b')?.test('a\nb')).toBe(false);
    expect(compileGlob('a*')?.test('a\u2028')).toBe(true);
  });

  it('counts only stars outside classes toward the cap', () => {
    expect(compileGlob('a[*]*')?.stars).toBe(1);
    expect(poolPatternProblem(`${'[*]'.repeat(9)}a*`)).toBeUndefined();
    expect(poolPatternProblem('**'.repeat(5))).toMatch(/has 10 "\*"/);
  });

  it('still refuses literals no pool name can hold', () => {
    expect(poolPatternProblem('Pool-*')).toMatch(/can never match a pool name/);
    expect(poolPatternProblem('pool_*')).toMatch(/can never match a pool name/);
    expect(poolPatternProblem('pool-[A-Z]*')).toBeUndefined();
  });
});

describe('worst patterns the limits allow', () => {
  const NAME = 253;
  const fill = (s: string, n: number): string => s.repeat(Math.ceil(n / s.length)).slice(0, n);
  // 5000 distinct 253-character pool names built so that the patterns below nearly match
  // everywhere: long runs of `a` (or an auto-pool-like text), a decimal tag near the end.
  const runs = Array.from(
    { length: 5000 },
    (_, i) => `${'a'.repeat(NAME - String(i).length - 1)}${i}a`,
  );
  const autoLike = Array.from(
    { length: 5000 },
    (_, i) =>
      `${fill('auto-web-frontend-v4-eth0-5f1c2a9d7e3b-', NAME - String(i).length - 1)}${i}0`,
  );
  /**
   * MAX_PATTERN_STARS stars, each followed by the same number of `atom`s, then `last`,
   * as long as 253 characters allow.
   */
  const starred = (atom: string, last: string): string => {
    const per = Math.floor(
      (NAME - MAX_PATTERN_STARS - last.length) / MAX_PATTERN_STARS / atom.length,
    );
    return `*${atom.repeat(per)}`.repeat(MAX_PATTERN_STARS) + last;
  };
  // A name that repeats `ab`: every class of `a`/`b` fits at every offset.
  const periodic = Array.from(
    { length: 5000 },
    (_, i) => `${fill('ab', NAME - String(i).length - 1)}${i}a`,
  );
  const worst: [string, string, readonly string[]][] = [
    // Each segment fits at every offset up to its last character.
    ['8 × (* a…a) b', starred('a', 'b'), runs],
    ['8 × (* a…ab)', `*${'a'.repeat(29)}b`.repeat(MAX_PATTERN_STARS), runs],
    ['one long segment', `*${'a'.repeat(NAME - 3)}b*`, runs],
    ['two half-length segments', `*${'a'.repeat(125)}b*${'a'.repeat(125)}`, runs],
    ["the review's classes, 8 stars", starred('[a-y0-9-]', 'z'), autoLike],
    ['8 × (* ?…?) z', starred('?', 'z'), autoLike],
    // Classes only: no literal to search for, the failing class first or in the middle.
    ['* [xz] [!z]… *', `*[xz]${'[!z]'.repeat(61)}*`, autoLike],
    ['* [cd] [ab]… *', `*[cd]${'[ab]'.repeat(61)}*`, periodic],
    ['* [!c]… [!ab] [!c]… *', `*${'[!c]'.repeat(30)}[!ab]${'[!c]'.repeat(30)}*`, periodic],
  ];
  // Measured 1–26 ms each on the shared 2-core machine; 500 ms leaves room for a loaded one.
  const BUDGET_MS = 500;

  it('50 distinct worst patterns × 5000 names of 253 characters, each shape within 3 s', () => {
    // What one webhook decision can meet: a 64 KiB annotation holds ~250 such patterns
    // (each matched against every pool of its family); 50 keep the unit run short.
    const shapes: [(k: number) => string, readonly string[]][] = [
      [(k) => `*${'a'.repeat(NAME - 8)}b${String(k).padStart(4, '0')}*`, runs],
      [(k) => `*[cd]${'[ab]'.repeat(60)}*${k}`, periodic],
      [(k) => `*${'[!c]'.repeat(30)}[!ab]${'[!c]'.repeat(29)}*${k}`, periodic],
    ];
    for (const [shape, pool] of shapes) {
      const patterns = Array.from({ length: 50 }, (_, k) => shape(k));
      expect(patterns.filter((p) => poolPatternProblem(p) !== undefined)).toEqual([]);
      let out: string[] = [];
      const took = ms(() => {
        out = matchPoolNames(patterns, pool);
      });
      expect(out).toEqual([]);
      expect(took).toBeLessThan(3000);
    }
  });
  it.each(worst)('%s × 5000 names of 253 characters within the budget', (_, p, pool) => {
    expect(p.length).toBeGreaterThan(200);
    expect(p.length).toBeLessThanOrEqual(NAME);
    expect(poolPatternProblem(p)).toBeUndefined();
    let out: string[] = [];
    const took = ms(() => {
      out = matchPoolNames([p], pool);
    });
    expect(out).toEqual([]);
    expect(took).toBeLessThan(BUDGET_MS);
  });
});

const NINE_STARS = 'a*'.repeat(9);

describe('netconf default pools (ipam.default_ipv4_ippool / default_ipv6_ippool)', () => {
  it('accepts names and patterns the annotations accept', () => {
    expect(validateNetconfDefaultPools({ ipv4: ['pool-a', 'team-*'], ipv6: [] })).toEqual([]);
    expect(validateNetconfDefaultPools({ ipv4: [], ipv6: [] })).toEqual([]);
  });

  it('names the field and index of each bad entry, and what is wrong', () => {
    expect(
      validateNetconfDefaultPools({
        ipv4: ['ok', NINE_STARS],
        ipv6: ['Pool_A', '*[a-y0-9-]'.repeat(10) + '*z', 'x['],
      }),
    ).toEqual([
      `ipam.default_ipv4_ippool[1]: pool name "${NINE_STARS}" has 9 "*" (at most 8 per pattern)`,
      'ipam.default_ipv6_ippool[0]: pool name "Pool_A" is not a valid name (lowercase letters, digits, "-" and ".", starting and ending with a letter or digit)',
      `ipam.default_ipv6_ippool[1]: pool name "${'*[a-y0-9-]'.repeat(10)}*z" has 11 "*" (at most 8 per pattern)`,
      'ipam.default_ipv6_ippool[2]: pool name "x[" is not a valid pattern (unbalanced "[" or "]")',
    ]);
  });
});

describe('namespace default-pool annotations', () => {
  const key = NamespaceAnnotation.defaultIPv4IPPool;
  it('refuses a pattern with too many stars, naming the key and the item', () => {
    const r = parseNamespaceDefaultPools(key, JSON.stringify(['pool-a', NINE_STARS]));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toEqual([
      expect.objectContaining({
        key,
        path: '[1]',
        code: AnnotationErrorCode.invalidPoolName,
        message: `pool name "${NINE_STARS}" has 9 "*" (at most 8 per pattern) in item 1 of ${key}`,
      }),
    ]);
  });

  it('reports an item after a non-string one at its own index', () => {
    const r = parseNamespaceDefaultPools(key, '["ok", 3, "Bad_Name"]');
    expect(r.ok ? [] : r.error.map((e) => e.path)).toEqual(['[1]', '[2]']);
  });

  it('a namespace that already holds a bad pattern fails resolution (CNI ADD) with that error', () => {
    // The allocator's planner turns this error into INVALID_ANNOTATION (CNI 7).
    const r = resolveSelection({
      podAnnotations: {},
      namespaceAnnotations: {
        [NamespaceAnnotation.defaultIPv6IPPool]: JSON.stringify([NINE_STARS]),
      },
      interface: 'eth0',
      netconfDefaults: { ipv4: ['fallback'], ipv6: [] },
    });
    expect(r).toEqual({
      ok: false,
      error: [
        expect.objectContaining({
          key: NamespaceAnnotation.defaultIPv6IPPool,
          path: '[0]',
          code: AnnotationErrorCode.invalidPoolName,
          message: expect.stringContaining('at most 8 per pattern') as unknown,
        }),
      ],
    });
  });
});
