// The benchmark report renderer: CSV and markdown escaping, SVG that any XML reader accepts
// for the awkward inputs (no data, one point, flat lines, odd names), byte-stable output,
// and a report that lists every target and links every file it asks to write.
import { describe, expect, it } from '@jest/globals';
import { csv, formatNumber, markdownTable, renderReport } from '../bench/lib/report.ts';
import { escapeXml, linePlot, niceAxis } from '../bench/lib/svg.ts';
import type { BenchResult, Plot, Table } from '../bench/lib/types.ts';

/**
 * Throws unless `xml` is one well-formed element: tags balanced and properly nested,
 * attribute values quoted, no bare `<` or `&` in text. Enough for what linePlot emits.
 */
function checkXml(xml: string): void {
  const open: string[] = [];
  let i = 0;
  const checkText = (t: string): void => {
    if (/&(?!(amp|lt|gt|quot|apos);)/.test(t)) throw new Error(`bare & in ${t}`);
  };
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) {
      checkText(xml.slice(i));
      break;
    }
    checkText(xml.slice(i, lt));
    const gt = xml.indexOf('>', lt);
    if (gt < 0) throw new Error(`unclosed tag at ${lt}`);
    const tag = xml.slice(lt + 1, gt);
    if (tag.includes('<')) throw new Error(`bare < at ${lt}`);
    const close = /^\/([\w-]+)$/.exec(tag);
    if (close) {
      if (open.pop() !== close[1]) throw new Error(`</${close[1]}> closes the wrong element`);
    } else {
      const m = /^([\w-]+)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)$/.exec(tag);
      if (!m?.[1]) throw new Error(`malformed tag <${tag}>`);
      if (open.length === 0 && lt > 0) throw new Error('content after the root element');
      checkText(m[2] ?? '');
      if (m[3] !== '/') open.push(m[1]);
    }
    i = gt + 1;
    if (open.length === 0 && xml.slice(i).trim() !== '') throw new Error('trailing content');
  }
  if (open.length > 0) throw new Error(`unclosed <${open.join('>, <')}>`);
}

const plot = (series: Plot['series'], over: Partial<Plot> = {}): Plot => ({
  file: 'p.svg',
  title: 'Pods <running> & "ready"',
  xLabel: 'seconds',
  yLabel: 'pods',
  series,
  ...over,
});

const EDGE_CASES: Record<string, Plot> = {
  'no series': plot([]),
  'an empty series': plot([{ name: 'empty', points: [] }]),
  'a single point': plot([{ name: 'one', points: [[3, 7]] }]),
  'all-equal values': plot([
    {
      name: 'flat',
      points: [
        [1, 5],
        [2, 5],
        [3, 5],
      ],
    },
  ]),
  'all zeros': plot([
    {
      name: 'zero',
      points: [
        [0, 0],
        [0, 0],
      ],
    },
  ]),
  'starting above 0': plot([
    {
      name: 'high',
      points: [
        [1000, 1e6],
        [1010, 1.2e6],
      ],
    },
  ]),
  'negative and tiny values': plot([
    {
      name: 'neg',
      points: [
        [-0.003, -2],
        [0.001, 1e-7],
      ],
    },
  ]),
  'non-finite points': plot([
    {
      name: 'nan',
      points: [
        [NaN, 1],
        [1, Infinity],
        [2, 3],
      ],
    },
  ]),
  'odd names, many series': plot(
    Array.from({ length: 11 }, (_, i) => ({
      name: `nicpool <v${i}> & "peer" 'x' ${'long '.repeat(i)}`,
      points: Array.from({ length: 60 }, (_, k) => [k, (k * (i + 1)) % 17] as const),
    })),
  ),
};

describe('linePlot', () => {
  it.each(Object.entries(EDGE_CASES))('is well-formed, finite SVG for %s', (_, p) => {
    const svg = linePlot(p);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(() => checkXml(svg.trim())).not.toThrow();
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
    expect(svg).toContain(escapeXml(p.title));
    for (const s of p.series) expect(svg).toContain(`>${escapeXml(s.name)}</text>`);
  });

  it('the checker catches what it must', () => {
    expect(() => checkXml('<svg><g></svg>')).toThrow();
    expect(() => checkXml('<svg><text>a & b</text></svg>')).toThrow();
    expect(() => checkXml('<svg><text x=1>a</text></svg>')).toThrow();
  });

  it('gives the same bytes for the same input', () => {
    for (const p of Object.values(EDGE_CASES)) {
      expect(linePlot(structuredClone(p))).toBe(linePlot(p));
    }
  });

  it('draws a line per series with more than one point, each in its own colour', () => {
    const svg = linePlot(
      plot([
        {
          name: 'a',
          points: [
            [0, 1],
            [1, 2],
          ],
        },
        {
          name: 'b',
          points: [
            [0, 2],
            [1, 1],
          ],
        },
        { name: 'c', points: [[0, 3]] },
      ]),
    );
    const colours = [...svg.matchAll(/<polyline [^>]*stroke="(#\w+)"/g)].map((m) => m[1]);
    expect(colours).toHaveLength(2);
    expect(new Set(colours).size).toBe(2);
    expect(svg).toContain('<circle');
  });
});

describe('niceAxis', () => {
  it.each([
    [0, 1, ['0', '0.2', '0.4', '0.6', '0.8', '1.0']],
    [3, 97, ['0', '20', '40', '60', '80', '100']],
    [0.1, 0.3, ['0.10', '0.15', '0.20', '0.25', '0.30']],
    [0, 11, ['0', '2.5', '5.0', '7.5', '10.0', '12.5']],
    [0, 1.1, ['0', '0.25', '0.50', '0.75', '1.00', '1.25']],
    [1e6, 1.2e6, ['1.00M', '1.05M', '1.10M', '1.15M', '1.20M']],
    [-3, 3, ['-4', '-2', '0', '2', '4']],
  ])('covers [%p, %p] with round ticks', (min, max, labels) => {
    const axis = niceAxis(min, max);
    expect(axis.ticks.map(axis.label)).toEqual(labels);
    expect(axis.lo).toBeLessThanOrEqual(min);
    expect(axis.hi).toBeGreaterThanOrEqual(max);
  });
});

const table = (rows: Table['rows'], columns = ['name', 'value']): Table => ({
  csv: 't.csv',
  title: 'T',
  columns,
  rows,
});

describe('csv', () => {
  it('quotes fields with commas, quotes or line breaks, and doubles the quotes', () => {
    expect(
      csv(
        table([
          ['a,b', 1],
          ['say "hi"', 2.5],
          ['two\nlines', -0],
          ['plain', 1e21],
        ]),
      ),
    ).toBe('name,value\n"a,b",1\n"say ""hi""",2.5\n"two\nlines",0\nplain,1e+21\n');
  });

  it('refuses a row that does not fit the columns', () => {
    expect(() => csv(table([['a']]))).toThrow(/row 1 has 1 cells for 2 columns/);
  });
});

describe('markdownTable', () => {
  it('escapes pipes and line breaks and right-aligns number columns', () => {
    expect(
      markdownTable(
        table(
          [
            ['a|b', 1],
            ['c\nd', 2],
          ],
          ['x|y', 'n'],
        ),
      ),
    ).toBe('| x\\|y | n |\n| --- | ---: |\n| a\\|b | 1 |\n| c<br>d | 2 |\n');
  });

  it.each([
    [12000, '12000'],
    [0.012345, '0.0123'],
    [3.5, '3.5'],
    [1.0004, '1'],
    [12.345, '12.35'],
    [1234.56, '1234.6'],
    [-0.5, '-0.5'],
  ])('formats %p as %p', (n, text) => {
    expect(formatNumber(n)).toBe(text);
  });
});

const results: BenchResult[] = [
  {
    id: 'B1',
    title: 'Throughput',
    commands: ['node bench/b1.ts 100', 'node bench/b1.ts 1000'],
    tables: [
      table([
        ['nicpool', 12.345],
        ['peer', 1],
      ]),
      { ...table([]), csv: 'b1 extra.csv' },
    ],
    plots: [
      plot(
        [
          {
            name: 'nicpool',
            points: [
              [1, 2],
              [2, 4],
            ],
          },
        ],
        { file: 'b1.svg' },
      ),
    ],
    targets: [
      { what: 'pods per second vs peer', target: '≥ 10×', measured: '12.3×', met: true },
      { what: 'p99 | latency', target: '≤ 1.2', measured: '1.5', met: false },
    ],
    notes: ['The peer is whereabouts.', 'Second paragraph.'],
  },
  {
    id: 'shim',
    title: 'Shim start-up',
    commands: ['bash bench/shim-startup.sh'],
    tables: [{ ...table([['x', 1]]), csv: 'shim.csv' }],
    plots: [],
    targets: [{ what: 'start-up', target: '≤ 50 ms', measured: '31 ms', met: true }],
    notes: [],
  },
];
const input = {
  results,
  machine: { cpu: '2 cores', memory: '8 GiB' },
  versions: { node: 'v24.21.0', 'kube-apiserver': 'v1.36.3' },
  startedAt: '2026-05-01T10:00:00Z',
  finishedAt: '2026-05-01T10:12:03Z',
  command: 'make bench',
  runDir: 'bench/runs/2026-05-01',
  plotDir: 'docs/benchmarks',
};

describe('renderReport', () => {
  const { markdown, files } = renderReport(input);

  it('says it is generated, with the command, machine and versions', () => {
    expect(markdown).toMatch(/^# Benchmarks\n/);
    expect(markdown).toContain('do not edit by hand');
    expect(markdown).toContain('(12 min 3 s)');
    expect(markdown).toContain('```sh\nmake bench\n```');
    expect(markdown).toContain('| cpu | 2 cores |');
    expect(markdown).toContain('| kube-apiserver | v1.36.3 |');
  });

  it('lists every target with met or missed', () => {
    expect(markdown).toContain('2 of 3 targets met.');
    for (const r of results) {
      for (const t of r.targets) {
        const what = t.what.replace(/\|/g, '\\|');
        const result = t.met ? 'met' : '**missed**';
        expect(markdown).toContain(
          `| ${r.id} | ${what} | ${t.target} | ${t.measured} | ${result} |`,
        );
      }
    }
  });

  it('has a section per result with its commands, tables and notes', () => {
    expect(markdown).toContain(
      '## B1: Throughput\n\n```sh\nnode bench/b1.ts 100\nnode bench/b1.ts 1000\n```',
    );
    expect(markdown).toContain('| nicpool | 12.35 |');
    expect(markdown).toContain('The peer is whereabouts.\n\nSecond paragraph.');
    expect(markdown).toContain('## shim: Shim start-up');
  });

  it('returns a CSV per table and an SVG per plot, and links each of them', () => {
    expect(files.map((f) => f.path)).toEqual([
      'bench/runs/2026-05-01/t.csv',
      'bench/runs/2026-05-01/b1 extra.csv',
      'docs/benchmarks/b1.svg',
      'bench/runs/2026-05-01/shim.csv',
    ]);
    expect(markdown).toContain('CSV: [t.csv](../bench/runs/2026-05-01/t.csv)');
    expect(markdown).toContain('CSV: [b1 extra.csv](../bench/runs/2026-05-01/b1%20extra.csv)');
    expect(markdown).toContain('![Pods <running> & "ready"](benchmarks/b1.svg)');
    for (const f of files) {
      const link = encodeURI(f.path.startsWith('docs/') ? f.path.slice(5) : `../${f.path}`);
      expect(markdown).toContain(`](${link})`);
    }
    expect(files[0]?.content).toBe(
      csv(
        table([
          ['nicpool', 12.345],
          ['peer', 1],
        ]),
      ),
    );
  });

  it('is deterministic and refuses two outputs to one file', () => {
    expect(renderReport(structuredClone(input))).toEqual(renderReport(input));
    const twice = { ...input, results: [results[1], results[1]] as BenchResult[] };
    expect(() => renderReport(twice)).toThrow(
      /two outputs write bench\/runs\/2026-05-01\/shim.csv/,
    );
  });
});
