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

/** A pool name or a shell pattern (`*`, `?`, `[...]`) over pool names. */
export function poolPatternProblem(pattern: string): string | undefined {
  if (!hasWildcard(pattern)) return objectNameProblem(pattern);
  if (pattern.length > 253) return 'is longer than 253 characters';
  const compiled = compileGlob(pattern);
  if (compiled === undefined) return 'is not a valid pattern (unbalanced "[" or "]")';
  // The literal characters must still be possible in a name.
  const literals = pattern.replace(/\[[^\]]*\]/g, '').replace(/[*?]/g, '');
  if (/[^a-z0-9.-]/.test(literals)) {
    return 'can never match a pool name (names use lowercase letters, digits, "-" and ".")';
  }
  return undefined;
}

/** Compiles a shell pattern into an anchored RegExp, or undefined when malformed. */
export function compileGlob(pattern: string): RegExp | undefined {
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

/**
 * Expands pool patterns against existing names, keeping the order the user wrote (and,
 * within one pattern, name order); a name matched twice is kept once.
 */
export function matchPoolNames(patterns: readonly string[], names: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const sorted = [...names].sort();
  for (const p of patterns) {
    if (!hasWildcard(p)) {
      if (!seen.has(p)) {
        seen.add(p);
        out.push(p);
      }
      continue;
    }
    const re = compileGlob(p);
    if (re === undefined) continue;
    for (const n of sorted) {
      if (re.test(n) && !seen.has(n)) {
        seen.add(n);
        out.push(n);
      }
    }
  }
  return out;
}
