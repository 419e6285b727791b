/**
 * The shape every benchmark of `make bench` returns, so one report (bench/lib/report.ts)
 * renders them all into docs/benchmarks.md, with a CSV per table and SVG plots.
 */

/** One table: a CSV file of the run and a markdown table in the report. */
export interface Table {
  /** File name of the CSV in the run's directory, e.g. `b1-throughput.csv`. */
  readonly csv: string;
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number)[])[];
}

/** A line plot: x/y series, rendered as SVG by the report. */
export interface Plot {
  /** File name of the SVG in docs/benchmarks/, e.g. `b3-running.svg`. */
  readonly file: string;
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly {
    readonly name: string;
    readonly points: readonly (readonly [number, number])[];
  }[];
}

/** A target from the issue and what this run measured. */
export interface Target {
  readonly what: string;
  /** e.g. `≥ 10×`, `≤ 1.2`. */
  readonly target: string;
  /** What was measured, as printed, e.g. `12.4×`. */
  readonly measured: string;
  readonly met: boolean;
}

export interface BenchResult {
  /** `B1` … `B4`, `shim`, … */
  readonly id: string;
  readonly title: string;
  /** The command(s) that reproduce this section alone. */
  readonly commands: readonly string[];
  readonly tables: readonly Table[];
  readonly plots: readonly Plot[];
  readonly targets: readonly Target[];
  /** Paragraphs (markdown): method, why a target is missed, what would close it. */
  readonly notes: readonly string[];
}

/** Progress lines for long benchmarks (stderr, with the time). */
export function say(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** The value after `--name` on the command line, if given. */
export function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}
