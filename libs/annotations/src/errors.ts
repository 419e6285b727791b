/** Stable error codes; callers branch on these, never on message text. */
export const AnnotationErrorCode = {
  invalidJSON: 'INVALID_JSON',
  wrongType: 'WRONG_TYPE',
  emptyList: 'EMPTY_LIST',
  emptyValue: 'EMPTY_VALUE',
  unknownField: 'UNKNOWN_FIELD',
  missingField: 'MISSING_FIELD',
  unknownKey: 'UNKNOWN_KEY',
  mixedInterface: 'MIXED_INTERFACE',
  duplicateInterface: 'DUPLICATE_INTERFACE',
  invalidInterface: 'INVALID_INTERFACE',
  unknownInterface: 'UNKNOWN_INTERFACE',
  tooManyItems: 'TOO_MANY_ITEMS',
  invalidPoolName: 'INVALID_POOL_NAME',
  duplicatePool: 'DUPLICATE_POOL',
  invalidSubnetName: 'INVALID_SUBNET_NAME',
  wildcardNotAllowed: 'WILDCARD_NOT_ALLOWED',
  noFamily: 'NO_FAMILY',
  duplicateSubnet: 'DUPLICATE_SUBNET',
  invalidIPNumber: 'INVALID_IP_NUMBER',
  invalidBoolean: 'INVALID_BOOLEAN',
  invalidRoute: 'INVALID_ROUTE',
  duplicateRoute: 'DUPLICATE_ROUTE',
  defaultRoute: 'DEFAULT_ROUTE',
  invalidNetwork: 'INVALID_NETWORK',
  interfaceNotListed: 'INTERFACE_NOT_LISTED',
  noPool: 'NO_POOL',
  ignoredAnnotation: 'IGNORED_ANNOTATION',
  extraSubnet: 'EXTRA_SUBNET',
} as const;
export type AnnotationErrorCode = (typeof AnnotationErrorCode)[keyof typeof AnnotationErrorCode];

/**
 * One problem with one annotation. `path` is the JSON path inside the value
 * (`[1].ipv4[0]`, empty for the whole value); `message` is one line an admin understands
 * and already names the key; `hint` is a "did you mean" when there is one.
 */
export interface AnnotationError {
  /** An annotation key of keys.ts, or an unknown `ipam.spidernet.io/` key a warning is about. */
  readonly key: string;
  readonly path: string;
  readonly code: AnnotationErrorCode;
  readonly message: string;
  readonly hint?: string;
}

/** Renders an error as one line, e.g. for a CNI error or a log. */
export function formatAnnotationError(e: AnnotationError): string {
  return e.hint === undefined ? e.message : `${e.message}; ${e.hint}`;
}

/** Levenshtein distance, for "did you mean". Inputs are short field names. */
export function editDistance(a: string, b: string): number {
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
}

/** The closest candidate within a small distance (or sharing a prefix), if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  const w = word.toLowerCase();
  for (const c of candidates) {
    const lc = c.toLowerCase();
    let score = editDistance(w, lc);
    if (lc.startsWith(w) || w.startsWith(lc)) score = Math.min(score, 1);
    if (score < bestScore) {
      best = c;
      bestScore = score;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  return bestScore <= limit ? best : undefined;
}
