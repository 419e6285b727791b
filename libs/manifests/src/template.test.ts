import { describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import {
  block,
  choose,
  expr,
  FromValues,
  items,
  Merge,
  optional,
  optionalScalar,
  renderDocuments,
  renderTemplate,
  scalar,
  Test,
} from './template.ts';

const v = (p: string): FromValues => new FromValues(`.Values.${p}`);
const on = new Test('.Values.on');
const text = (lines: string[]): string => `${lines.join('\n')}\n`;

describe('renderTemplate', () => {
  it('with no marker writes what the YAML writer writes (deploy/ stays as it was)', () => {
    const obj = {
      a: choose(true, 1, 2),
      b: scalar(3),
      c: block({ x: 1 }),
      d: optional(undefined),
      e: optional(undefined, { y: 2 }),
      f: items('p', choose(false, 'q', undefined), ['r', 's']),
    };
    expect(renderTemplate(obj)).toBe(
      stringify({ a: 1, b: 3, c: { x: 1 }, e: { y: 2 }, f: ['p', 'r', 's'] }),
    );
  });

  it('writes inline expressions unquoted, inside strings too', () => {
    expect(
      renderTemplate({
        ns: expr('.Release.Namespace'),
        n: scalar(v('replicas')),
        q: scalar(v('logLevel'), true),
        user: `system:serviceaccount:${expr('.Release.Namespace')}:x`,
      }),
    ).toBe(
      text([
        'ns: {{ .Release.Namespace }}',
        'n: {{ .Values.replicas }}',
        'q: {{ .Values.logLevel | quote }}',
        'user: system:serviceaccount:{{ .Release.Namespace }}:x',
      ]),
    );
  });

  it('refuses an inline expression YAML could change', () => {
    expect(() => expr('.Values.a | default "x"')).toThrow(/unsupported character/);
  });

  it('writes toYaml blocks indented for their key, in list items too', () => {
    expect(renderTemplate({ spec: { c: [{ name: 'x', resources: block(v('r')) }] } })).toBe(
      text([
        'spec:',
        '  c:',
        '    - name: x',
        '      resources:',
        '        {{- toYaml .Values.r | nindent 8 }}',
      ]),
    );
  });

  it('puts a map entry behind if/else, and leaves it out on an undefined side', () => {
    expect(
      renderTemplate({ a: { m: choose(on, 'x', 'y'), n: choose(on, undefined, { k: 1 }) } }),
    ).toBe(
      text([
        'a:',
        '  {{- if .Values.on }}',
        '  m: x',
        '  {{- else }}',
        '  m: y',
        '  {{- end }}',
        '  {{- if not (.Values.on) }}',
        '  n:',
        '    k: 1',
        '  {{- end }}',
      ]),
    );
  });

  it('writes optional settings with `with`, and a fallback in `else`', () => {
    expect(
      renderTemplate({ s: { ns: optional(v('sel')), aff: optional(v('aff'), { d: 1 }) } }),
    ).toBe(
      text([
        's:',
        '  {{- with .Values.sel }}',
        '  ns:',
        '    {{- toYaml . | nindent 4 }}',
        '  {{- end }}',
        '  {{- with .Values.aff }}',
        '  aff:',
        '    {{- toYaml . | nindent 4 }}',
        '  {{- else }}',
        '  aff:',
        '    d: 1',
        '  {{- end }}',
      ]),
    );
    expect(renderTemplate({ i: optionalScalar(v('every'), true) })).toBe(
      text(['{{- with .Values.every }}', 'i: {{ . | quote }}', '{{- end }}']),
    );
  });

  it('puts one list item, or several spliced, behind a condition', () => {
    const env = items(
      { name: 'A', value: '1' },
      choose(on, { name: 'B', value: '2' }, [
        { name: 'C', value: '3' },
        { name: 'D', value: '4' },
      ]),
      choose(on, 'plain', undefined),
      { name: 'E', value: '5' },
    );
    expect(renderTemplate({ env })).toBe(
      text([
        'env:',
        '  - name: A',
        '    value: "1"',
        '  {{- if .Values.on }}',
        '  - name: B',
        '    value: "2"',
        '  {{- else }}',
        '  - name: C',
        '    value: "3"',
        '  - name: D',
        '    value: "4"',
        '  {{- end }}',
        '  {{- if .Values.on }}',
        '  - plain',
        '  {{- end }}',
        '  - name: E',
        '    value: "5"',
      ]),
    );
  });

  it('merges a map of the values into a fixed one', () => {
    expect(renderTemplate({ labels: { a: 'b', '...': new Merge('.Values.extra') } })).toBe(
      text([
        'labels:',
        '  a: b',
        '  {{- with .Values.extra }}',
        '  {{- toYaml . | nindent 2 }}',
        '  {{- end }}',
      ]),
    );
  });

  it('refuses a conditional entry as the first key of a list item (no place for its `if`)', () => {
    expect(() => renderTemplate({ l: [{ a: choose(on, 1, 2), b: 3 }] })).toThrow(
      /cannot be the first key of a list item/,
    );
  });
});

describe('renderDocuments', () => {
  it('puts whole documents behind a condition, each with its own ---', () => {
    expect(
      renderDocuments([{ a: 1 }, choose(on, [{ b: 2 }, { c: 3 }], undefined), undefined]),
    ).toBe(
      ['---', 'a: 1', '{{- if .Values.on }}', '---', 'b: 2', '---', 'c: 3', '{{- end }}', ''].join(
        '\n',
      ),
    );
  });
});
