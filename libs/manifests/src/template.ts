/**
 * Helm templates from the very objects deploy/ is made of. The builders in deploy.ts put a
 * concrete value where deploy/ has one; for the chart they get markers instead, and
 * {@link renderTemplate} turns a tree holding markers into template text: `{{ }}` inline,
 * `toYaml` blocks, and `if`/`with` around map entries, list items or whole objects. With
 * no marker in the tree the helpers return plain values, so deploy/ is what it always was.
 */
import { stringify } from 'yaml';

type Obj = Record<string, unknown>;

/** Characters an inline expression may hold: none that YAML would escape or that end a scalar. */
const INLINE = /^[\w.$|() -]+$/;

/**
 * An inline Go-template expression kept inside a string (`expr('.Release.Namespace')`),
 * rendered as `{{ .Release.Namespace }}` unquoted: an expression yielding a string that
 * YAML could misread must quote itself (`| quote`).
 */
export function expr(e: string): string {
  if (!INLINE.test(e))
    throw new Error(`template expression ${JSON.stringify(e)}: unsupported character`);
  return `__{{${e}}}__`;
}

/** A value that becomes `key:` + `{{- toYaml <expr> | nindent n }}`. */
export class Block {
  readonly expr: string;
  constructor(e: string) {
    this.expr = e;
  }
}

/** Entries of the chart's map value merged into the map it stands in (its key is ignored). */
export class Merge {
  readonly expr: string;
  constructor(e: string) {
    this.expr = e;
  }
}

/**
 * `{{- <open> }}` then … `{{- else }}` otherwise … `{{- end }}` around a map entry, a list
 * item (an array splices several), or whole documents. `undefined` on a side: nothing.
 */
export class When {
  readonly open: string;
  readonly then: unknown;
  readonly otherwise: unknown;
  constructor(open: string, then: unknown, otherwise: unknown) {
    this.open = open;
    this.then = then;
    this.otherwise = otherwise;
  }
}

/** A condition of the chart, e.g. `.Values.metrics.serviceMonitor.enabled`. */
export class Test {
  readonly expr: string;
  constructor(e: string) {
    this.expr = e;
  }
}

/** A condition: known (deploy/) or decided by the chart's values at install time. */
export type Cond = boolean | Test;

/** A path into the chart's values (`.Values.webhook.resources`). */
export class FromValues {
  readonly path: string;
  constructor(path: string) {
    this.path = path;
  }
}

/** A setting: the concrete value deploy/ uses, or the chart's value. */
export type Knob<T> = T | FromValues;

/** `then` or `otherwise`, or both behind an `if` in the chart. */
export function choose<A, B>(c: Cond, then: A, otherwise: B): A | B | When {
  if (typeof c === 'boolean') return c ? then : otherwise;
  return then === undefined
    ? new When(`if not (${c.expr})`, otherwise, undefined)
    : new When(`if ${c.expr}`, then, otherwise);
}

/** A scalar setting in place: the value, or `{{ .Values.x }}` (quoted if asked). */
export function scalar<T>(k: Knob<T>, quote = false): T | string {
  return k instanceof FromValues ? expr(quote ? `${k.path} | quote` : k.path) : k;
}

/** A structured setting in place: the value, or `toYaml` of the chart's value. */
export function block<T>(k: Knob<T>): T | Block {
  return k instanceof FromValues ? new Block(k.path) : k;
}

/** A setting whose key is left out when empty (`with`), else `fallback` in its place. */
export function optional<T, F>(k: Knob<T> | undefined, fallback?: F): T | F | When | undefined {
  if (k instanceof FromValues) return new When(`with ${k.path}`, new Block('.'), fallback);
  return k ?? fallback;
}

/** A scalar setting whose key is left out when empty: `{{ . }}` inside `with`. */
export function optionalScalar<T>(k: Knob<T> | undefined, quote = false): T | When | undefined {
  if (k instanceof FromValues)
    return new When(`with ${k.path}`, expr(quote ? '. | quote' : '.'), undefined);
  return k;
}

/** List items, with concrete arrays spliced and `undefined` dropped. */
export function items(...xs: unknown[]): unknown[] {
  return xs.flatMap((x) => (x === undefined ? [] : Array.isArray(x) ? (x as unknown[]) : [x]));
}

interface BlockEntry {
  readonly kind: 'block';
  readonly expr: string;
}
interface MergeEntry {
  readonly kind: 'merge';
  readonly expr: string;
}
interface CondEntry {
  readonly kind: 'if' | 'else';
  readonly open: string;
  /** The map key the entry stands for; absent for a list item. */
  readonly key?: string;
  /** An `if`'s `else` entry. */
  readonly partner?: number;
}
type Entry = BlockEntry | MergeEntry | CondEntry;

const TOKEN = (n: number): string => `__TPL_${n}__`;

/** Replaces markers by tokens the YAML writer keeps as they are; the registry says what each is. */
function lower(v: unknown, reg: Entry[]): unknown {
  if (v instanceof Block) {
    reg.push({ kind: 'block', expr: v.expr });
    return TOKEN(reg.length - 1);
  }
  if (v instanceof When || v instanceof Merge || v instanceof Test || v instanceof FromValues)
    throw new Error('a template marker stands only as a map value or a list item');
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (const item of v) {
      if (!(item instanceof When)) {
        out.push(lower(item, reg));
        continue;
      }
      const [ifId, elseId] = conds(item, reg);
      out.push({ [TOKEN(ifId)]: lower(item.then, reg) });
      if (elseId !== undefined) out.push({ [TOKEN(elseId)]: lower(item.otherwise, reg) });
    }
    return out;
  }
  if (v !== null && typeof v === 'object') {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) {
      if (x instanceof Merge) {
        reg.push({ kind: 'merge', expr: x.expr });
        out[TOKEN(reg.length - 1)] = null;
        continue;
      }
      if (!(x instanceof When)) {
        out[k] = lower(x, reg);
        continue;
      }
      const [ifId, elseId] = conds(x, reg, k);
      out[TOKEN(ifId)] = lower(x.then, reg);
      if (elseId !== undefined) out[TOKEN(elseId)] = lower(x.otherwise, reg);
    }
    return out;
  }
  return v;
}

function conds(w: When, reg: Entry[], key?: string): [number, number | undefined] {
  const ifId = reg.length;
  const elseId = w.otherwise === undefined ? undefined : ifId + 1;
  reg.push({ kind: 'if', open: w.open, ...(key === undefined ? {} : { key }), partner: elseId });
  if (elseId !== undefined)
    reg.push({ kind: 'else', open: 'else', ...(key === undefined ? {} : { key }) });
  return [ifId, elseId];
}

interface Open {
  readonly id: number;
  /** Indentation of the token line in the YAML writer's output. */
  readonly indent: number;
  /** Spaces taken off the lines inside (a list item's wrapper map). */
  readonly dedent: number;
  /** The first line inside gets the list item's `- `. */
  dash: boolean;
  /** Where its `{{- if }}` went, for the `else` and `end` lines. */
  readonly ws: string;
}

const indentOf = (line: string): number => line.length - line.trimStart().length;

/** Rewrites the YAML writer's lines, tokens into template actions. */
function emit(yaml: string, reg: Entry[]): string {
  const lines = yaml.replace(/\n$/, '').split('\n');
  const out: string[] = [];
  const stack: Open[] = [];
  const entry = (id: string | undefined): Entry => {
    const e = reg[Number(id)];
    if (e === undefined) throw new Error(`unknown template token ${id}`);
    return e;
  };
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    const indent = indentOf(raw);
    // Close what this line is no longer inside of; an `else` keeps its `if` open.
    const next = /^\s*(?:- )?__TPL_(\d+)__:/.exec(raw)?.[1];
    let isElse = false;
    for (let top = stack.at(-1); top !== undefined && indent <= top.indent; top = stack.at(-1)) {
      const e = entry(String(top.id));
      isElse = e.kind === 'if' && e.partner === Number(next) && indent === top.indent;
      if (isElse) break;
      stack.pop();
      out.push(`${top.ws}{{- end }}`);
    }
    // An `else` line stands where its `if` stood, outside the `if`'s own dedent.
    const around = isElse ? stack.slice(0, -1) : stack;
    let line = raw.slice(around.reduce((n, o) => n + o.dedent, 0));
    const top = stack.at(-1);
    if (top?.dash === true) {
      line = `${line.slice(0, indentOf(line) - 2)}- ${line.trimStart()}`;
      top.dash = false;
    }
    const cond = /^(\s*)(- )?__TPL_(\d+)__:(.*)$/.exec(line);
    if (cond) {
      const [, ws = '', dash, id, rest = ''] = cond;
      const e = entry(id);
      if (e.kind === 'block') throw new Error('a toYaml block stands only as a map value');
      if (e.kind === 'merge') {
        if (dash !== undefined)
          throw new Error('a merged map cannot be the first key of a list item');
        out.push(
          `${ws}{{- with ${e.expr} }}`,
          `${ws}{{- toYaml . | nindent ${ws.length} }}`,
          `${ws}{{- end }}`,
        );
        continue;
      }
      if (e.kind === 'else') stack.pop();
      out.push(`${ws}{{- ${e.open} }}`);
      const open = { id: Number(id), indent, dedent: 0, dash: false, ws };
      if (dash === undefined) {
        if (e.key === undefined) throw new Error('a conditional list item outside a list');
        line = `${ws}${e.key}:${rest}`;
      } else if (e.key !== undefined) {
        throw new Error(`conditional entry ${e.key} cannot be the first key of a list item`);
      } else if (rest.trim() !== '') {
        line = `${ws}- ${rest.trim()}`;
      } else {
        // `- TOKEN:` over a list splices its items; over anything else it is one item.
        const splice = (lines[i + 1] ?? '').trimStart().startsWith('- ');
        stack.push({ ...open, dedent: splice ? 4 : 2, dash: !splice });
        continue;
      }
      stack.push(open);
    }
    const blk = /^(\s*)((?:- )?)(.+?): __TPL_(\d+)__$/.exec(line);
    if (blk) {
      const [, ws = '', dash = '', key = '', id] = blk;
      const e = entry(id);
      if (e.kind !== 'block') throw new Error(`template token ${id} out of place`);
      const n = ws.length + dash.length + 2;
      out.push(`${ws}${dash}${key}:`, `${' '.repeat(n)}{{- toYaml ${e.expr} | nindent ${n} }}`);
      continue;
    }
    out.push(line);
  }
  for (let o = stack.pop(); o !== undefined; o = stack.pop()) out.push(`${o.ws}{{- end }}`);
  const text = out
    .join('\n')
    .replace(/(["'])__\{\{([^}]*)\}\}__\1/g, '{{ $2 }}')
    .replace(/__\{\{([^}]*)\}\}__/g, '{{ $1 }}');
  if (text.includes('__TPL_') || text.includes('__{{'))
    throw new Error(`a template marker was left in place:\n${text}`);
  return `${text}\n`;
}

/** One object (markers allowed anywhere a value goes) as Helm template text. */
export function renderTemplate(obj: unknown): string {
  const reg: Entry[] = [];
  const lowered = lower(obj, reg);
  return emit(stringify(lowered, { lineWidth: 0, aliasDuplicateObjects: false }), reg);
}

/**
 * Documents as one template file: a `When` among them puts its document(s) behind its
 * condition, each with its own `---`.
 */
export function renderDocuments(docs: readonly unknown[]): string {
  const parts: string[] = [];
  const doc = (d: unknown): void => {
    if (d === undefined) return;
    if (Array.isArray(d)) {
      for (const x of d) doc(x);
      return;
    }
    if (d instanceof When) {
      parts.push(`{{- ${d.open} }}\n`);
      doc(d.then);
      if (d.otherwise !== undefined) {
        parts.push('{{- else }}\n');
        doc(d.otherwise);
      }
      parts.push('{{- end }}\n');
      return;
    }
    parts.push(`---\n${renderTemplate(d)}`);
  };
  for (const d of docs) doc(d);
  return parts.join('');
}
