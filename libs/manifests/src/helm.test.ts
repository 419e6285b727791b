import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { helmChart } from './helm.ts';
import { DEPLOY } from './install.ts';
import { IMAGE } from './deploy.ts';
import { leaves, valuesSchema, VALUES, type Group } from './values.ts';

const crds = new Map([
  ['spiderpool.spidernet.io_spiderippools.yaml', 'kind: CustomResourceDefinition\n'],
  ['k8s.cni.cncf.io_network-attachment-definitions.yaml', 'kind: CustomResourceDefinition\n'],
]);
const chart = helmChart(crds);
const templates = [...chart].filter(([f]) => f.startsWith('templates/'));
const paths = leaves().map(([p]) => p);

describe('the chart', () => {
  it('is nicpool 0.1.0 (apiVersion v2), the image tag its appVersion', () => {
    expect(parse(chart.get('Chart.yaml') ?? '')).toMatchObject({
      apiVersion: 'v2',
      name: 'nicpool',
      version: '0.1.0',
      appVersion: '0.1.0',
    });
    expect(IMAGE).toBe('nicpool:0.1.0');
  });

  it("ships nicpool's own CRDs in crds/, not Multus's", () => {
    expect([...chart.keys()].filter((f) => f.startsWith('crds/'))).toEqual([
      'crds/spiderpool.spidernet.io_spiderippools.yaml',
    ]);
  });

  it('reads only values that exist, and every value is read somewhere', () => {
    const used = new Set<string>();
    for (const [, text] of templates)
      for (const m of text.matchAll(/\.Values\.([\w.]+)/g)) used.add(m[1] ?? '');
    for (const u of used) expect(paths).toContain(u);
    for (const p of paths) expect(used).toContain(p);
  });

  it('names no namespace of its own: every one is the release namespace', () => {
    for (const [file, text] of templates) {
      expect([file, text.includes('nicpool-system')]).toEqual([file, false]);
      expect([file, /namespace: (?!\{\{ \.Release\.Namespace \}\})/.test(text)]).toEqual([
        file,
        false,
      ]);
    }
  });
});

describe('values.yaml and values.schema.json', () => {
  const defaults = parse(chart.get('values.yaml') ?? '') as Record<string, unknown>;
  const at = (o: unknown, path: string): unknown =>
    path.split('.').reduce<unknown>((x, k) => (x as Record<string, unknown>)[k], o);

  it('hold every value with its default and a comment above it', () => {
    const lines = (chart.get('values.yaml') ?? '').split('\n');
    for (const [path, leaf] of leaves()) {
      expect([path, at(defaults, path)]).toEqual([path, leaf.default]);
      const key = path.split('.').at(-1) ?? '';
      const i = lines.findIndex((l) => l.trimStart().startsWith(`${key}:`) && l.length > 0);
      expect([path, lines[i - 1]?.trimStart().startsWith('#')]).toEqual([path, true]);
    }
  });

  it('refuse unknown keys at every level and describe every value', () => {
    const walk = (s: Record<string, unknown>, g: Group): void => {
      expect(s['additionalProperties']).toBe(false);
      const props = s['properties'] as Record<string, Record<string, unknown>>;
      expect(Object.keys(props)).toEqual(Object.keys(g.fields));
      for (const [k, f] of Object.entries(g.fields)) {
        const p = props[k] ?? {};
        expect(typeof p['description']).toBe('string');
        if (f.kind === 'group') walk(p, f);
        else expect(p['default']).toEqual(f.default);
      }
    };
    walk(valuesSchema(), VALUES);
    expect(JSON.parse(chart.get('values.schema.json') ?? '')).toEqual(valuesSchema());
  });

  it('are the values deploy/ is rendered with', () => {
    expect(DEPLOY.image).toBe(
      `${String(at(defaults, 'image.repository'))}:${String(at(defaults, 'image.tag'))}`,
    );
    expect(DEPLOY.webhook.replicas).toBe(at(defaults, 'webhook.replicas'));
    expect(DEPLOY.webhook.resources).toEqual(at(defaults, 'webhook.resources'));
    expect(DEPLOY.allocator.tolerations).toEqual(at(defaults, 'allocator.tolerations'));
    expect(DEPLOY.cniBinDir).toBe(at(defaults, 'cni.binDir'));
    expect(DEPLOY.selfManagedCerts).toBe(true);
  });

  it('are each described in docs/helm.md', () => {
    const doc = readFileSync(
      join(import.meta.dirname, '..', '..', '..', 'docs', 'helm.md'),
      'utf8',
    );
    for (const p of paths) expect([p, doc.includes(`\`${p}\``)]).toEqual([p, true]);
  });
});
