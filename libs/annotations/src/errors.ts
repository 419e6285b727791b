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

/** One reused row for {@link editDistance}: "did you mean" runs once per unknown field. */
let row = new Uint32Array(64);

/**
 * Levenshtein distance, or `limit + 1` as soon as it must exceed `limit` (every entry of a
 * row is then above it). Field names are short, but a field or key in an annotation can be
 * 64 KiB: the bound keeps that linear instead of length × length.
 */
export function editDistance(a: string, b: string, limit = Infinity): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  if (row.length < b.length + 1) row = new Uint32Array(b.length + 1);
  const prev = row;
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    let min = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      // Plain comparisons, not Math.min: this is the hot loop of a 64 KiB annotation.
      let v = diag + (a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1);
      if (up + 1 < v) v = up + 1;
      if (prev[j - 1]! + 1 < v) v = prev[j - 1]! + 1;
      prev[j] = v;
      diag = up;
      if (v < min) min = v;
    }
    if (min > limit) return limit + 1;
  }
  return prev[b.length]!;
}

/** The closest candidate within a small distance (or sharing a prefix), if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  const w = word.toLowerCase();
  const limit = Math.max(2, Math.floor(word.length / 3));
  for (const c of candidates) {
    const lc = c.toLowerCase();
    // A shared prefix scores 1 whatever the distance; otherwise only a distance within the
    // limit can win, so the distance is computed only that far.
    const score =
      lc.startsWith(w) || w.startsWith(lc)
        ? Math.min(1, editDistance(w, lc, 1))
        : editDistance(w, lc, Math.min(limit, bestScore));
    if (score < bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return bestScore <= limit ? best : undefined;
}

// Line breaks and other control characters, escaped as JSON writes them.
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f\u0085\u2028\u2029]/g;
const ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text that quotes user input, as one line: line breaks and other control characters are
 * escaped as JSON writes them. Admission denials list one problem a line, and a value quoted
 * raw (by JSON.parse's message, or by @nicpool/ip's) must not split one.
 */
export function escapeControl(text: string): string {
  return text.replace(
    CONTROL,
    (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
