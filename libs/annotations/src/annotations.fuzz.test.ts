// Property-based fuzzing of every annotation key through parse, validate and resolve
// (issue #12 item 5a). `make test` runs a fixed-seed sample; `make fuzz` the full size.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  annotationMap,
  annotationValue,
  FUZZ_TEST_TIMEOUT_MS,
  fuzzParams,
  nameish,
  prototypePollution,
  withinBudget,
} from '@nicpool/testing';
import {
  AnnotationErrorCode,
  closest,
  KNOWN_POD_KEYS,
  MultusAnnotation as M,
  NamespaceAnnotation as N,
  parseDefaultNetwork,
  parseDefaultRouteNic,
  parseIPNumber,
  parseIPPool,
  parseIPPools,
  parseNamespaceDefaultPools,
  parseNetworks,
  parseReclaim,
  parseRoutes,
  parseSubnet,
  parseSubnets,
  PodAnnotation as P,
  podInterfaces,
  resolveSelection,
  validateNamespaceAnnotations,
  validatePodAnnotations,
  type AnnotationError,
} from './index.ts';

const CODES: ReadonlySet<string> = new Set(Object.values(AnnotationErrorCode));

/** Every parser of a key, as the key's value would reach it. */
const PARSERS: Readonly<Record<string, (v: string) => { ok: boolean; error?: unknown }>> = {
  [P.ippool]: parseIPPool,
  [P.ippools]: parseIPPools,
  [P.subnet]: parseSubnet,
  [P.subnets]: parseSubnets,
  [P.ippoolIPNumber]: parseIPNumber,
  [P.ippoolReclaim]: parseReclaim,
  [P.routes]: parseRoutes,
  [P.defaultRouteNic]: parseDefaultRouteNic,
  [N.defaultIPv4IPPool]: (v) => parseNamespaceDefaultPools(N.defaultIPv4IPPool, v),
  [N.defaultIPv6IPPool]: (v) => parseNamespaceDefaultPools(N.defaultIPv6IPPool, v),
  [M.networks]: parseNetworks,
  [M.defaultNetwork]: parseDefaultNetwork,
};
const KEYS = Object.keys(PARSERS);

/**
 * What is wrong with one error, or undefined: a known code, a key, a message naming the
 * key, and, inside JSON, a message that says which item (`[2]…` → "item 2").
 */
function problem(e: AnnotationError, allowedKeys: readonly string[]): string | undefined {
  if (!CODES.has(e.code)) return `unknown code ${JSON.stringify(e.code)}`;
  if (e.code === AnnotationErrorCode.noPool) return undefined; // no key: no rule applied at all
  if (e.key === '' || !allowedKeys.includes(e.key)) return `key ${JSON.stringify(e.key)}`;
  if (!e.message.includes(e.key)) return `message does not name ${e.key}`;
  if (typeof e.path !== 'string') return 'no path';
  const item = /^\[(\d+)\]/.exec(e.path);
  if (item !== null && !e.message.includes(`item ${item[1]}`) && !e.message.includes(item[0]))
    return `message does not say which item (${e.path})`;
  // Inside an item (or the top-level object), the field the path ends in is named too:
  // `[0].ipv4[1]` → "ipv4", `ipv4s` → "ipv4s".
  const field = /(?:^|\.)([^.[\]]+)(?:\[\d+\])*$/.exec(e.path)?.[1];
  if (field !== undefined && !e.message.includes(field))
    return `message does not name the field ${JSON.stringify(field)} (${e.path})`;
  return undefined;
}

// Plain checks that throw only on failure: expect() per case would cost more than the case.
function expectWellFormed(errors: readonly AnnotationError[], keys: readonly string[]): void {
  for (const e of errors) {
    const p = problem(e, keys);
    if (p !== undefined) throw new Error(`${p}: ${JSON.stringify(e).slice(0, 300)}`);
  }
}

function expectNoPollution(): void {
  const found = prototypePollution();
  if (found.length > 0 || ({} as Record<string, unknown>)['polluted'] !== undefined)
    throw new Error(`prototype polluted: ${found.join(', ')}`);
}

// A warning about an interface the pod does not have quotes the interface, not the item
// (decide-pod.test.ts asserts that wording), so the item rule does not apply to it.
const locatedByValue = (e: AnnotationError): boolean =>
  e.code === AnnotationErrorCode.unknownInterface || e.code === AnnotationErrorCode.tooManyItems;

describe('annotation fuzzing', () => {
  it(
    'every parser: never throws, finishes within the case budget, errors carry code, key and item',
    () => {
      fc.assert(
        fc.property(fc.constantFrom(...KEYS), annotationValue, (key, value) => {
          const r = withinBudget(`parse ${key}`, () => PARSERS[key]!(value));
          if (!r.ok) expectWellFormed(r.error as AnnotationError[], [key]);
          expectNoPollution();
        }),
        fuzzParams('annotations/parse', 30_000),
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );

  it(
    'validatePodAnnotations / validateNamespaceAnnotations / podInterfaces: never throw, findings well-formed',
    () => {
      fc.assert(
        fc.property(annotationMap, (a) => {
          const keys = Object.keys(a);
          const pod = withinBudget('validatePodAnnotations', () => validatePodAnnotations(a));
          expectWellFormed(pod.errors, keys);
          expectWellFormed(
            pod.warnings.filter((w) => !locatedByValue(w)),
            keys,
          );
          const ns = withinBudget('validateNamespaceAnnotations', () =>
            validateNamespaceAnnotations(a),
          );
          expectWellFormed([...ns.errors, ...ns.warnings], keys);
          const nics = podInterfaces(a);
          if (!nics.ok) expectWellFormed(nics.error, keys);
          expectNoPollution();
        }),
        fuzzParams('annotations/validate', 15_000),
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );

  it(
    'resolveSelection: never throws; a pod that validates resolves or names the NIC, never a parse error',
    () => {
      fc.assert(
        fc.property(
          annotationMap,
          annotationMap,
          fc.oneof(fc.constantFrom('eth0', 'net1', 'net2'), nameish),
          fc.record({
            ipv4: fc.array(nameish, { maxLength: 3 }),
            ipv6: fc.array(nameish, { maxLength: 3 }),
          }),
          (pod, ns, ifName, netconfDefaults) => {
            const r = withinBudget('resolveSelection', () =>
              resolveSelection({
                podAnnotations: pod,
                namespaceAnnotations: ns,
                interface: ifName,
                netconfDefaults,
              }),
            );
            if (r.ok) return;
            expectWellFormed(r.error, [...Object.keys(pod), ...Object.keys(ns)]);
            // Admission and allocation read the same annotations: what the webhook admitted
            // must not fail to parse at ADD (only "this NIC is not listed" or "no pool").
            if (validatePodAnnotations(pod).errors.length === 0) {
              const parseErrors = r.error.filter(
                (e) =>
                  KNOWN_POD_KEYS.includes(e.key) &&
                  pod[e.key] !== undefined &&
                  e.code !== AnnotationErrorCode.interfaceNotListed &&
                  e.code !== AnnotationErrorCode.noPool,
              );
              expect(parseErrors).toEqual([]);
            }
            expectNoPollution();
          },
        ),
        fuzzParams('annotations/resolve', 15_000),
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );

  it(
    'values that are not strings (raw JSON reaching the webhook): a WRONG_TYPE error naming the key, never a throw',
    () => {
      const notString = fc.oneof(
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(nameish, { maxLength: 2 }),
        fc.dictionary(nameish, nameish, { maxKeys: 2 }),
      );
      fc.assert(
        fc.property(annotationMap, fc.constantFrom(...KEYS), notString, (base, key, bad) => {
          // Typed as strings, as the API server guarantees; the webhook's body is unchecked JSON.
          const a = { ...base, [key]: bad as unknown as string };
          const checked = [P, N].some((o) => (Object.values(o) as string[]).includes(key))
            ? [validatePodAnnotations(a), validateNamespaceAnnotations(a)]
            : [validatePodAnnotations(a)];
          const errors = checked.flatMap((f) => f.errors);
          expectWellFormed(errors, Object.keys(a));
          const own = errors.filter((e) => e.key === key);
          if (!own.some((e) => e.code === AnnotationErrorCode.wrongType))
            throw new Error(`no WRONG_TYPE error for ${key}: ${JSON.stringify(own)}`);
          expectNoPollution();
        }),
        fuzzParams('annotations/not-strings', 5_000),
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );
});

/** closest() as it was before its distance got a bound: the reference for equivalence. */
function referenceClosest(word: string, candidates: readonly string[]): string | undefined {
  const distance = (a: string, b: string): number => {
    const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let diag = prev[0]!;
      prev[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const up = prev[j]!;
        prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
        diag = up;
      }
    }
    return prev[b.length]!;
  };
  let best: string | undefined;
  let bestScore = Infinity;
  const w = word.toLowerCase();
  for (const c of candidates) {
    const lc = c.toLowerCase();
    let score = distance(w, lc);
    if (lc.startsWith(w) || w.startsWith(lc)) score = Math.min(score, 1);
    if (score < bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return bestScore <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

describe('the error check itself', () => {
  it('refuses an error that does not say which item or field, or names no key', () => {
    const e = (path: string, message: string): AnnotationError => ({
      key: P.ippools,
      path,
      code: AnnotationErrorCode.wrongType,
      message,
    });
    const keys = [P.ippools];
    expect(
      problem(e('[0].ipv4[1]', `bad at ipv4[1] of item 0 of ${P.ippools}`), keys),
    ).toBeUndefined();
    expect(problem(e('[0].ipv4[1]', `bad in item 0 of ${P.ippools}`), keys)).toMatch(
      /field "ipv4"/,
    );
    expect(problem(e('[3]', `bad in ${P.ippools}`), keys)).toMatch(/which item/);
    expect(problem(e('', 'bad'), keys)).toMatch(/does not name/);
    expect(problem({ ...e('', 'bad'), code: 'NOPE' as AnnotationErrorCode }, keys)).toMatch(
      /unknown code/,
    );
  });
});

describe('"did you mean" with a bounded distance', () => {
  it(
    'closest() answers exactly what the unbounded version answered',
    () => {
      const word = fc.oneof(
        fc.string({ unit: fc.constantFrom(...'interfacipv46clngtwyIPV_ x'), maxLength: 16 }),
        fc.string({ maxLength: 40 }),
      );
      fc.assert(
        fc.property(word, fc.array(word, { maxLength: 6 }), (w, candidates) => {
          const got = closest(w, candidates);
          const want = referenceClosest(w, candidates);
          if (got !== want)
            throw new Error(
              `closest(${JSON.stringify(w)}): ${String(got)} instead of ${String(want)}`,
            );
        }),
        fuzzParams('annotations/closest', 20_000),
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );
});

describe('counterexamples fuzzing found (fixed; deterministic)', () => {
  const raw = (v: unknown): string => v as string;

  it('a null ippool value is WRONG_TYPE, not an empty value', () => {
    expect(validatePodAnnotations({ [P.ippool]: raw(null) }).errors).toEqual([
      {
        key: P.ippool,
        path: '',
        code: AnnotationErrorCode.wrongType,
        message: `expected a string, got null in ${P.ippool}`,
      },
    ]);
  });

  it('a number where a JSON or Multus annotation belongs is WRONG_TYPE, not a TypeError', () => {
    for (const key of [P.ippools, P.routes, M.networks, P.defaultRouteNic]) {
      const f = validatePodAnnotations({ [key]: raw(5) });
      expect(f.errors.map((e) => [e.key, e.code])).toEqual([[key, AnnotationErrorCode.wrongType]]);
    }
    expect(
      validateNamespaceAnnotations({ [N.defaultIPv4IPPool]: raw(['a']) }).errors.map((e) => e.code),
    ).toEqual([AnnotationErrorCode.wrongType]);
  });

  it('invalid JSON with a line break: one line naming the key (a denial is one problem per line)', () => {
    const r = parseIPPool('\na\u2028');
    expect(r.ok).toBe(false);
    const [e] = r.ok ? [] : r.error;
    expect(e?.code).toBe(AnnotationErrorCode.invalidJSON);
    expect(e?.message).toContain(P.ippool);
    expect(e?.message).not.toMatch(/[\r\n\u2028\u2029]/);
  });

  it('the parsers called directly (as resolveSelection does) answer WRONG_TYPE too', () => {
    expect(parseIPPools(raw(5))).toMatchObject({ ok: false, error: [{ code: 'WRONG_TYPE' }] });
    expect(parseNetworks(raw({}))).toMatchObject({ ok: false, error: [{ code: 'WRONG_TYPE' }] });
  });
});
