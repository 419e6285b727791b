import { describe, expect, it } from '@jest/globals';
import { decideNamespace } from './decide-namespace.ts';
import { pool, snapshot } from '../test/fixtures.ts';

const V4 = 'ipam.spidernet.io/default-ipv4-ippool';
const V6 = 'ipam.spidernet.io/default-ipv6-ippool';
const NINE_STARS = 'a*'.repeat(9);

const ns = (annotations: Record<string, unknown> | undefined, labels = {}): unknown => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name: 'team-a', labels, ...(annotations === undefined ? {} : { annotations }) },
});

describe('decideNamespace', () => {
  it('allows valid default pools without a word', () => {
    const d = decideNamespace(
      'CREATE',
      ns({ [V4]: '["ippool-test-ens192","ippool-test-*"]', [V6]: '["v6-pool"]' }),
      undefined,
      snapshot(),
    );
    expect(d).toEqual({ allowed: true, warnings: [] });
  });

  it('allows a namespace without nicpool annotations', () => {
    expect(decideNamespace('CREATE', ns(undefined), undefined, snapshot())).toEqual({
      allowed: true,
      warnings: [],
    });
    expect(decideNamespace('CREATE', ns({ other: 'x' }), undefined, snapshot()).allowed).toBe(true);
  });

  it('denies a pattern over the "*" cap with a field path naming key and item', () => {
    const d = decideNamespace(
      'CREATE',
      ns({ [V4]: JSON.stringify(['ippool-test-ens192', NINE_STARS]) }),
      undefined,
      snapshot(),
    );
    expect(d).toEqual({
      allowed: false,
      reason: `metadata.annotations[${V4}][1]: pool name "${NINE_STARS}" has 9 "*" (at most 8 per pattern) in item 1 of ${V4}`,
      warnings: [],
    });
  });

  it("denies the review's pattern quickly (review #1)", () => {
    const t0 = performance.now();
    const d = decideNamespace(
      'CREATE',
      ns({ [V6]: JSON.stringify(['*[a-y0-9-]'.repeat(10) + '*z']) }),
      undefined,
      snapshot(),
    );
    expect(performance.now() - t0).toBeLessThan(50);
    expect(d.allowed).toBe(false);
    expect(d.reason).toMatch(
      /^metadata\.annotations\[ipam\.spidernet\.io\/default-ipv6-ippool\]\[0\]: .*has 11 "\*"/,
    );
  });

  it('denies every problem, one line each: bad JSON, a non-string value, bad names', () => {
    const d = decideNamespace(
      'CREATE',
      ns({ [V4]: '["ok", 3, "Bad_Name"]', [V6]: '{"ipv6":["x"]}' }),
      undefined,
      snapshot(),
    );
    expect(d.allowed).toBe(false);
    expect(d.reason?.split('\n')).toEqual([
      `metadata.annotations[${V4}][1]: expected a pool name, got number 3 in item 1 of ${V4}`,
      `metadata.annotations[${V4}][2]: pool name "Bad_Name" is not a valid name (lowercase letters, digits, "-" and ".", starting and ending with a letter or digit) in item 2 of ${V4}`,
      `metadata.annotations[${V6}]: expected an array of pool names like ["pool-a","pool-b*"], got an object in ${V6}`,
    ]);
    const n = decideNamespace('CREATE', ns({ [V4]: 7 }), undefined, snapshot());
    expect(n.allowed).toBe(false);
    expect(n.reason).toMatch(
      /^metadata\.annotations\[ipam\.spidernet\.io\/default-ipv4-ippool\]: expected a string/,
    );
  });

  it('lets an UPDATE through that leaves a bad annotation as it was, with a warning', () => {
    // Made before the webhook existed: labelling the namespace must still work; pods that
    // fall back to these defaults get the same error at CNI ADD.
    const bad = { [V4]: JSON.stringify([NINE_STARS]) };
    const d = decideNamespace('UPDATE', ns(bad, { team: 'a' }), ns(bad), snapshot());
    expect(d).toEqual({
      allowed: true,
      warnings: [
        `metadata.annotations[${V4}][0]: pool name "${NINE_STARS}" has 9 "*" (at most 8 per pattern) in item 0 of ${V4} (set before; pods using these defaults fail at CNI ADD until it is fixed)`,
      ],
    });
  });

  it('denies an UPDATE that changes a default-pool annotation to a bad value', () => {
    const d = decideNamespace(
      'UPDATE',
      ns({ [V4]: JSON.stringify(['x[']) }),
      ns({ [V4]: '["ippool-test-ens192"]' }),
      snapshot(),
    );
    expect(d.allowed).toBe(false);
    expect(d.reason).toBe(
      `metadata.annotations[${V4}][0]: pool name "x[" is not a valid pattern (unbalanced "[" or "]") in item 0 of ${V4}`,
    );
  });

  it('warns about pools that do not exist, match nothing, or are of the other family', () => {
    const d = decideNamespace(
      'CREATE',
      ns({ [V4]: '["nope","v6-pool","zz-*"]', [V6]: '["ippool-test-ens192"]' }),
      undefined,
      snapshot(),
    );
    expect(d).toEqual({
      allowed: true,
      warnings: [
        `metadata.annotations[${V4}][0]: SpiderIPPool "nope" does not exist (yet)`,
        `metadata.annotations[${V4}][1]: pool "v6-pool" is IPv6, listed as an IPv4 default`,
        `metadata.annotations[${V4}][2]: pattern "zz-*" matches no IPv4 SpiderIPPool (yet)`,
        `metadata.annotations[${V6}][0]: pool "ippool-test-ens192" is IPv4, listed as an IPv6 default`,
      ],
    });
  });

  it('warns about an ipam.spidernet.io/ key nicpool does not read on namespaces', () => {
    const d = decideNamespace(
      'CREATE',
      ns({ 'ipam.spidernet.io/default-ipv4-ipool': '["x"]' }),
      undefined,
      snapshot(),
    );
    expect(d).toEqual({
      allowed: true,
      warnings: [
        'metadata.annotations[ipam.spidernet.io/default-ipv4-ipool]: annotation ipam.spidernet.io/default-ipv4-ipool is not one nicpool reads; did you mean ipam.spidernet.io/default-ipv4-ippool?',
      ],
    });
  });

  it('allows other operations and objects without metadata', () => {
    expect(decideNamespace('DELETE', ns({ [V4]: 'nope' }), undefined, snapshot()).allowed).toBe(
      true,
    );
    expect(decideNamespace('CREATE', {}, undefined, snapshot()).allowed).toBe(true);
    expect(decideNamespace('CREATE', null, undefined, snapshot()).allowed).toBe(true);
  });
});

describe('decideNamespace within its budget on the worst inputs the limits allow', () => {
  const NAME = 253;
  const fill = (t: string, n: number): string => t.repeat(Math.ceil(n / t.length)).slice(0, n);
  // 5000 IPv4 pools with 253-character names: auto-pool-like text, or a name repeating
  // `ab` (every class of `a`/`b` fits everywhere: the matcher's hardest case).
  const snapOf = (text: string) => ({
    ...snapshot(),
    pools: Array.from({ length: 5000 }, (_, i) =>
      pool(`${fill(text, NAME - String(i).length - 1)}${i}a`, {
        subnet: '10.0.0.0/8',
        ipVersion: 4 as const,
      }),
    ),
  });
  // As many distinct 8-star patterns as a 64 KiB annotation holds, each 200+ characters.
  const annotation = (pattern: (k: number) => string): string => {
    const list: string[] = [];
    while (JSON.stringify(list).length < 64 * 1024) list.push(pattern(list.length));
    list.pop();
    return JSON.stringify(list);
  };
  // Distinct patterns without an anchored tail (a suffix would fail at once): pattern k
  // spells k in base 20 with the letter each class leaves out.
  const letters = 'cdefghijklmnopqrstuv';
  const spell = (k: number, digits: number): string[] =>
    Array.from({ length: digits }, (_, d) => letters[Math.floor(k / 20 ** d) % 20]!);
  const cases: [string, string, (k: number) => string][] = [
    [
      "the review's classes",
      'auto-web-frontend-v4-eth0-5f1c2a9d7e3b-',
      (k) =>
        `${`*${'[a-y0-9-]'.repeat(3)}`.repeat(6)}*${spell(k, 3)
          .map((c) => `[!${c}]`)
          .join('')}z*`,
    ],
    [
      'one class failing amid fitting ones',
      'ab',
      (k) =>
        `*${spell(k, 2)
          .map((c) => `[!${c}]`)
          .join('')}${'[!c]'.repeat(28)}[!ab]${'[!c]'.repeat(28)}*`,
    ],
    [
      'a long literal run',
      'a',
      (k) => `*${'a'.repeat(200)}${spell(k, 3).join('')}${'a'.repeat(20)}*`,
    ],
  ];
  // Measured 0.16–0.85 s each (~350 patterns × 5000 pools, load average 5 on the shared
  // 2-core machine); 8 s leaves room for a loaded one. Before the linear matcher one such
  // pattern took 24 s against a single pool.
  it.each(cases)('%s: a 64 KiB annotation against 5000 pools', (_, names, pattern) => {
    const snap = snapOf(names);
    const value = annotation(pattern);
    const t0 = performance.now();
    const d = decideNamespace('CREATE', ns({ [V4]: value }), undefined, snap);
    const took = performance.now() - t0;
    expect(d.allowed).toBe(true);
    expect(d.warnings.length).toBeGreaterThan(200);
    expect(d.warnings[0]).toMatch(/matches no IPv4 SpiderIPPool \(yet\)$/);
    expect(took).toBeLessThan(8000);
  });
});
