/**
 * The top-level keys of a JSON object text, in order and with repeats. `JSON.parse` keeps
 * only the last of two equal keys, so a pool status holding one address twice
 * (`{"10.6.0.5":{…},"10.6.0.5":{…}}`) would decode as one record: the checker reads the keys
 * itself to see the second one. Undefined when the text is not a JSON object.
 */
export function topLevelKeys(text: string): string[] | undefined {
  let i = skipSpace(text, 0);
  if (text[i] !== '{') return undefined;
  i = skipSpace(text, i + 1);
  const keys: string[] = [];
  if (text[i] === '}') return keys;
  for (;;) {
    if (text[i] !== '"') return undefined;
    const end = stringEnd(text, i);
    if (end === undefined) return undefined;
    let key: unknown;
    try {
      key = JSON.parse(text.slice(i, end));
    } catch {
      return undefined;
    }
    if (typeof key !== 'string') return undefined;
    keys.push(key);
    i = skipSpace(text, end);
    if (text[i] !== ':') return undefined;
    const after = valueEnd(text, skipSpace(text, i + 1));
    if (after === undefined) return undefined;
    i = skipSpace(text, after);
    if (text[i] === '}') return keys;
    if (text[i] !== ',') return undefined;
    i = skipSpace(text, i + 1);
  }
}

function skipSpace(text: string, from: number): number {
  let i = from;
  while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  return i;
}

/** Index just past the string literal that starts at `from` (a `"`). */
function stringEnd(text: string, from: number): number | undefined {
  for (let i = from + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === '"') return i + 1;
  }
  return undefined;
}

/**
 * Index just past the value that starts at `from`: nested objects and arrays are skipped by
 * depth, strings by their quotes (brackets inside strings do not count). Not a validator: the
 * caller decodes the same text with `JSON.parse` and trusts that for the values.
 */
function valueEnd(text: string, from: number): number | undefined {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      const end = stringEnd(text, i);
      if (end === undefined) return undefined;
      if (depth === 0) return end;
      i = end - 1;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      if (depth === 0) return i;
      depth--;
      if (depth === 0) return i + 1;
    } else if (depth === 0 && (c === ',' || ' \t\n\r'.includes(c))) return i;
  }
  return depth === 0 ? text.length : undefined;
}
