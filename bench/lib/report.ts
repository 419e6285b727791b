// docs/benchmarks.md from the results of one `make bench` run: the run's command, machine
// and versions, every target with met/missed, then one section per benchmark with its
// tables (each also a CSV of the run) and plots (SVG). Rendering is pure; writeReport is
// the only part that touches the disk.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, posix, relative, resolve } from 'node:path';
import { linePlot } from './svg.ts';
import type { BenchResult, Table } from './types.ts';

/** Where the report lives, relative to the repository root. */
export const REPORT_PATH = 'docs/benchmarks.md';

type Cell = string | number;

function checkWidths(table: Table): void {
  table.rows.forEach((row, i) => {
    if (row.length !== table.columns.length) {
      throw new Error(
        `table ${table.csv}: row ${i + 1} has ${row.length} cells for ${table.columns.length} columns`,
      );
    }
  });
}

/** One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
function csvField(cell: Cell): string {
  const text = String(cell);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The table as RFC 4180 CSV: a header row of the columns, then the rows, each line ended by
 * `\n`. Numbers are written in full (`String(n)`); rounding is for the markdown only.
 * Throws when a row's width differs from the columns'.
 */
export function csv(table: Table): string {
  checkWidths(table);
  return [table.columns, ...table.rows].map((r) => r.map(csvField).join(',') + '\n').join('');
}

/**
 * A number for a markdown cell: integers as they are; other numbers to 3 significant
 * digits below 10, 2 decimals from 10, 1 decimal from 100, trailing zeros dropped
 * (0.01234 → 0.0123, 3.5 → 3.5, 12.345 → 12.35, 1234.56 → 1234.6).
 */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n) || Number.isInteger(n)) return String(n);
  const abs = Math.abs(n);
  const text = abs >= 100 ? n.toFixed(1) : abs >= 10 ? n.toFixed(2) : n.toPrecision(3);
  return String(Number(text));
}

/** A markdown cell: `|` escaped, line breaks as `<br>`. */
function mdCell(cell: Cell): string {
  const text = typeof cell === 'number' ? formatNumber(cell) : cell;
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

/**
 * The table in GitHub markdown (no title), numbers per formatNumber; a column whose cells
 * are all numbers is right-aligned. Throws when a row's width differs from the columns'.
 */
export function markdownTable(table: Table): string {
  checkWidths(table);
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |\n`;
  const align = table.columns.map((_, i) =>
    table.rows.length > 0 && table.rows.every((r) => typeof r[i] === 'number') ? '---:' : '---',
  );
  return (
    line(table.columns.map(mdCell)) +
    line(align) +
    table.rows.map((r) => line(r.map(mdCell))).join('')
  );
}

/** A key/value table, for the machine and the versions. */
function pairs(columns: readonly [string, string], record: Record<string, string>): string {
  return markdownTable({ csv: '', title: '', columns, rows: Object.entries(record) });
}

function duration(startedAt: string, finishedAt: string): string {
  const seconds = Math.round((Date.parse(finishedAt) - Date.parse(startedAt)) / 1000);
  if (!Number.isFinite(seconds)) return '';
  const min = Math.floor(seconds / 60);
  return ` (${min > 0 ? `${min} min ` : ''}${seconds % 60} s)`;
}

/** A link from docs/benchmarks.md to a repository-relative path. */
function link(path: string): string {
  return encodeURI(posix.relative(posix.dirname(REPORT_PATH), path));
}

export interface ReportInput {
  readonly results: readonly BenchResult[];
  readonly machine: Record<string, string>;
  readonly versions: Record<string, string>;
  readonly startedAt: string;
  readonly finishedAt: string;
  /** The command that produced the run, e.g. `make bench`. */
  readonly command: string;
  /** Repository-relative directory of the run's CSV files. */
  readonly runDir: string;
  /** Repository-relative directory of the SVG plots, e.g. `docs/benchmarks`. */
  readonly plotDir: string;
}

export interface RenderedReport {
  /** The content of docs/benchmarks.md. */
  readonly markdown: string;
  /** Repository-relative paths and contents: each table's CSV, each plot's SVG. */
  readonly files: readonly { readonly path: string; readonly content: string }[];
}

/**
 * The report of one run and the files it links, without writing anything. Throws when two
 * tables or two plots would write the same file, or a table's rows do not fit its columns.
 */
export function renderReport(input: ReportInput): RenderedReport {
  const files: { path: string; content: string }[] = [];
  const add = (path: string, content: string): string => {
    if (files.some((f) => f.path === path)) throw new Error(`two outputs write ${path}`);
    files.push({ path, content });
    return path;
  };
  const targets = input.results.flatMap((r) => r.targets.map((t) => ({ id: r.id, ...t })));
  const met = targets.filter((t) => t.met).length;
  const md: string[] = [
    '# Benchmarks',
    '<!-- Generated by `make bench` (bench/lib/report.ts); do not edit by hand. -->',
    'Generated by `make bench`: every figure, table and plot below comes from the run ' +
      'described here. Do not edit this file by hand; run `make bench` again.',
    '## Run',
    `From ${input.startedAt} to ${input.finishedAt}${duration(input.startedAt, input.finishedAt)}:`,
    '```sh\n' + input.command + '\n```',
    '### Machine',
    pairs(['property', 'value'], input.machine),
    '### Versions',
    pairs(['component', 'version'], input.versions),
    '## Targets',
    `${met} of ${targets.length} targets met.`,
    markdownTable({
      csv: '',
      title: '',
      columns: ['benchmark', 'what', 'target', 'measured', 'result'],
      rows: targets.map((t) => [t.id, t.what, t.target, t.measured, t.met ? 'met' : '**missed**']),
    }),
  ];
  for (const r of input.results) {
    md.push(`## ${r.id}: ${r.title}`);
    if (r.commands.length > 0) md.push('```sh\n' + r.commands.join('\n') + '\n```');
    for (const t of r.tables) {
      const path = add(posix.join(input.runDir, t.csv), csv(t));
      md.push(`### ${t.title}`, markdownTable(t), `CSV: [${t.csv}](${link(path)})`);
    }
    for (const p of r.plots) {
      const path = add(posix.join(input.plotDir, p.file), linePlot(p));
      md.push(`![${p.title.replace(/[[\]]/g, '\\$&')}](${link(path)})`);
    }
    md.push(...r.notes);
  }
  // One blank line between blocks; a table's own trailing newline is folded in.
  return { markdown: md.map((b) => b.trimEnd()).join('\n\n') + '\n', files };
}

/** Writes the report's files (creating their directories) and docs/benchmarks.md. */
export function writeReport(repoRoot: string, rendered: RenderedReport): void {
  const root = resolve(repoRoot);
  for (const { path, content } of [
    ...rendered.files,
    { path: REPORT_PATH, content: rendered.markdown },
  ]) {
    const target = resolve(root, path);
    if (relative(root, target).startsWith('..')) {
      throw new Error(`${path} is outside ${root}`);
    }
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
  }
}
