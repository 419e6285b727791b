import { AnnotationErrorCode, closest, escapeControl, type AnnotationError } from './errors.ts';

/**
 * Collects the errors of one annotation value while it is walked. Every error carries the
 * key and the JSON path, and its message says where in plain words.
 */
export class Reader {
  readonly key: string;
  readonly errors: AnnotationError[] = [];

  constructor(key: string) {
    this.key = key;
  }

  /** Records an error; `at` overrides the path used to describe where (default: `path`). */
  fail(
    path: string,
    code: AnnotationErrorCode,
    what: string,
    hint?: string,
    at: string = path,
  ): void {
    const message = `${what} ${this.where(at)}`;
    const error: AnnotationError =
      hint === undefined
        ? { key: this.key, path, code, message }
        : { key: this.key, path, code, message, hint };
    this.errors.push(error);
  }

  /** "in ipam.spidernet.io/ippools", "in item 1 of …", "at ipv4[0] of item 1 of …". */
  where(path: string): string {
    if (path === '') return `in ${this.key}`;
    const m = /^\[(\d+)\](?:\.(.*))?$/.exec(path);
    if (m !== null) {
      const item = `item ${m[1]} of ${this.key}`;
      return m[2] === undefined ? `in ${item}` : `at ${m[2]} of ${item}`;
    }
    return `at ${path} of ${this.key}`;
  }

  /** JSON.parse with an error naming the key and the position JSON.parse reports. */
  parseJSON(text: string): { ok: true; value: unknown } | { ok: false } {
    // Typed as a string, but reached with whatever raw JSON held (see validate.ts).
    if (typeof text !== 'string') {
      this.fail('', AnnotationErrorCode.wrongType, `expected a string, got ${describe(text)}`);
      return { ok: false };
    }
    if (text.trim() === '') {
      this.fail('', AnnotationErrorCode.emptyValue, 'empty value');
      return { ok: false };
    }
    try {
      return { ok: true, value: JSON.parse(text) as unknown };
    } catch (e) {
      const detail = oneLine(e instanceof Error ? e.message : String(e));
      this.fail('', AnnotationErrorCode.invalidJSON, `invalid JSON (${detail})`);
      return { ok: false };
    }
  }

  isObject(v: unknown, path: string, what = 'an object'): v is Record<string, unknown> {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return true;
    this.fail(path, AnnotationErrorCode.wrongType, `expected ${what}, got ${describe(v)}`);
    return false;
  }

  isArray(v: unknown, path: string, what = 'an array'): v is unknown[] {
    if (Array.isArray(v)) return true;
    this.fail(path, AnnotationErrorCode.wrongType, `expected ${what}, got ${describe(v)}`);
    return false;
  }

  /**
   * Reports every field of `obj` that is not in `allowed`, with a "did you mean".
   * Returns how many there were.
   */
  checkFields(obj: Record<string, unknown>, allowed: readonly string[], path: string): number {
    let unknown = 0;
    for (const field of Object.keys(obj)) {
      if (allowed.includes(field)) continue;
      unknown++;
      const guess = closest(field, allowed);
      this.fail(
        join(path, field),
        AnnotationErrorCode.unknownField,
        `unknown field \`${field}\``,
        guess === undefined
          ? `allowed fields are ${allowed.map((f) => `\`${f}\``).join(', ')}`
          : `did you mean \`${guess}\`?`,
        path,
      );
    }
    return unknown;
  }

  /** An optional array of strings; absent → []. */
  stringList(obj: Record<string, unknown>, field: string, path: string): string[] | undefined {
    const v = obj[field];
    const p = join(path, field);
    if (v === undefined || v === null) return [];
    if (!this.isArray(v, p, 'an array of names')) return undefined;
    const out: string[] = [];
    let good = true;
    v.forEach((item, i) => {
      if (typeof item !== 'string') {
        this.fail(
          `${p}[${i}]`,
          AnnotationErrorCode.wrongType,
          `expected a string, got ${describe(item)}`,
        );
        good = false;
      } else out.push(item);
    });
    return good ? out : undefined;
  }

  optionalString(
    obj: Record<string, unknown>,
    field: string,
    path: string,
  ): string | undefined | null {
    const v = obj[field];
    if (v === undefined) return undefined;
    if (typeof v === 'string') return v;
    this.fail(
      join(path, field),
      AnnotationErrorCode.wrongType,
      `expected a string, got ${describe(v)}`,
    );
    return null;
  }

  optionalBoolean(obj: Record<string, unknown>, field: string, path: string): boolean | null {
    const v = obj[field];
    if (v === undefined) return false;
    if (typeof v === 'boolean') return v;
    this.fail(
      join(path, field),
      AnnotationErrorCode.wrongType,
      `expected true or false, got ${describe(v)}`,
    );
    return null;
  }
}

export function join(path: string, field: string): string {
  return path === '' ? field : `${path}.${field}`;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string')
    return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'object') return 'an object';
  return typeof v === 'number' || typeof v === 'boolean' ? `${typeof v} ${v}` : typeof v;
}

/**
 * JSON.parse quotes the start of the bad input in its message; line breaks and control
 * characters are escaped and the text capped, so an error stays one line (a webhook denial
 * lists one problem per line).
 */
function oneLine(text: string): string {
  const escaped = escapeControl(text);
  return escaped.length > 200 ? `${escaped.slice(0, 200)}…` : escaped;
}
