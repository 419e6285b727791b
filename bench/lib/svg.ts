// Line plots for docs/benchmarks.md as self-contained SVG: no fonts, scripts or styles from
// outside, and the same bytes for the same input, so a re-run that measured the same thing
// leaves the committed files untouched.
import type { Plot } from './types.ts';

const WIDTH = 640;
const LEFT = 72;
const RIGHT = WIDTH - 20;
const TOP = 40;
const BOTTOM = 290;
const LEGEND_TOP = 346;
const LEGEND_ROW = 18;
/** Rough width of one character at font-size 12, for laying out the legend. */
const CHAR_WIDTH = 6.6;

/** Okabe–Ito, readable with the common colour-vision deficiencies; yellow last (faint on white). */
const PALETTE = [
  '#0072B2',
  '#E69F00',
  '#009E73',
  '#D55E00',
  '#CC79A7',
  '#56B4E9',
  '#000000',
  '#F0E442',
] as const;
/** Past eight series the colours repeat, so the line pattern tells them apart. */
const DASHES = ['', '6 3', '2 3'] as const;

/** Escapes text for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

interface Axis {
  readonly lo: number;
  readonly hi: number;
  readonly ticks: readonly number[];
  readonly label: (v: number) => string;
}

const SUFFIXES = ['', 'k', 'M', 'G', 'T'] as const;

/**
 * Round ticks (1, 2, 2.5 or 5 × 10^e apart, about five of them) covering [min, max]; the
 * axis is widened to the outer ticks. Labels from 10 000 up use k/M/G/T; zero is `0`.
 */
export function niceAxis(min: number, max: number): Axis {
  if (max === min) {
    // A flat line sits mid-height; all zeros sit on the axis.
    return min === 0
      ? niceAxis(0, 1)
      : niceAxis(min - Math.abs(min) / 10, max + Math.abs(max) / 10);
  }
  const raw = (max - min) / 5;
  const e = Math.floor(Math.log10(raw));
  const f = raw / 10 ** e;
  const nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
  const step = nice * 10 ** e;
  const first = Math.floor(min / step + 1e-9);
  const last = Math.ceil(max / step - 1e-9);
  // Index times step, not repeated addition, so no 0.30000000000000004.
  const ticks = Array.from({ length: last - first + 1 }, (_, i) => (first + i) * step);
  const top = Math.max(Math.abs(first * step), Math.abs(last * step));
  const power = top >= 1e4 ? Math.min(Math.floor(Math.log10(top) / 3), SUFFIXES.length - 1) : 0;
  // Digits after the point that the step needs once divided by the suffix's unit.
  const stepExp = (nice === 10 ? e + 1 : e) - 3 * power;
  const decimals = Math.max(0, -stepExp + (nice === 2.5 ? 1 : 0));
  const label = (v: number): string => {
    const text = (v / 1000 ** power).toFixed(decimals);
    return Number(text) === 0 ? '0' : text + SUFFIXES[power];
  };
  return { lo: first * step, hi: last * step, ticks, label };
}

/** A coordinate with one decimal: enough for 640 px, and stable text. */
const c = (v: number): string => {
  const t = v.toFixed(1);
  return t.endsWith('.0') ? t.slice(0, -2) : t;
};

function text(x: number, y: number, body: string, attrs = ''): string {
  return `<text x="${c(x)}" y="${c(y)}"${attrs}>${escapeXml(body)}</text>`;
}

/** Smallest and largest value, [0, 1] for none; a loop, as long series overflow `Math.min(...)`. */
function extent(values: readonly number[]): [number, number] {
  if (values.length === 0) return [0, 1];
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return [lo, hi];
}

/** The legend's rows: entries left to right, wrapped at the plot's width. */
function legendRows(names: readonly string[]): { x: number; row: number }[] {
  let x = LEFT;
  let row = 0;
  return names.map((name) => {
    const width = 30 + name.length * CHAR_WIDTH + 16;
    if (x > LEFT && x + width > RIGHT) {
      x = LEFT;
      row += 1;
    }
    const at = { x, row };
    x += width;
    return at;
  });
}

/**
 * An SVG line plot of `plot`, about 640×360 (taller when the legend wraps): title, axes
 * with round ticks and labels, one colour per series, a marker on each point of a series
 * with at most 40 points, and a legend. Points with a non-finite coordinate are left out;
 * each series is drawn in increasing x. The y axis starts at 0 when every y is ≥ 0 and the
 * smallest is under half the largest; otherwise both axes fit the data.
 */
export function linePlot(plot: Plot): string {
  const series = plot.series.map((s) => ({
    name: s.name,
    points: s.points
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
      .toSorted((a, b) => a[0] - b[0]),
  }));
  const all = series.flatMap((s) => s.points);
  const [xMin, xMax] = extent(all.map((p) => p[0]));
  const [yMin, yMax] = extent(all.map((p) => p[1]));
  const x = niceAxis(xMin, xMax);
  const y = niceAxis(yMin >= 0 && yMin < yMax / 2 ? 0 : yMin, yMax);
  const px = (v: number): number => LEFT + ((v - x.lo) / (x.hi - x.lo)) * (RIGHT - LEFT);
  const py = (v: number): number => BOTTOM - ((v - y.lo) / (y.hi - y.lo)) * (BOTTOM - TOP);

  const legend = legendRows(series.map((s) => s.name));
  const rows = legend.length === 0 ? 1 : (legend.at(-1)?.row ?? 0) + 1;
  const height = LEGEND_TOP + rows * LEGEND_ROW - 4;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" ` +
      `viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12" ` +
      `role="img" aria-label="${escapeXml(plot.title)}">`,
    `<title>${escapeXml(plot.title)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    text(WIDTH / 2, 22, plot.title, ' text-anchor="middle" font-size="15" font-weight="bold"'),
  ];
  for (const t of x.ticks) {
    out.push(
      `<line x1="${c(px(t))}" y1="${TOP}" x2="${c(px(t))}" y2="${BOTTOM + 5}" stroke="#e5e5e5"/>`,
      text(px(t), BOTTOM + 18, x.label(t), ' text-anchor="middle"'),
    );
  }
  for (const t of y.ticks) {
    out.push(
      `<line x1="${LEFT - 5}" y1="${c(py(t))}" x2="${RIGHT}" y2="${c(py(t))}" stroke="#e5e5e5"/>`,
      text(LEFT - 8, py(t) + 4, y.label(t), ' text-anchor="end"'),
    );
  }
  out.push(
    `<path d="M${LEFT} ${TOP}V${BOTTOM}H${RIGHT}" fill="none" stroke="#333333"/>`,
    text((LEFT + RIGHT) / 2, BOTTOM + 38, plot.xLabel, ' text-anchor="middle"'),
    text(
      16,
      (TOP + BOTTOM) / 2,
      plot.yLabel,
      ` text-anchor="middle" transform="rotate(-90 16 ${(TOP + BOTTOM) / 2})"`,
    ),
  );
  if (all.length === 0) {
    out.push(
      text(
        (LEFT + RIGHT) / 2,
        (TOP + BOTTOM) / 2,
        'no data',
        ' text-anchor="middle" fill="#666666"',
      ),
    );
  }
  series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length] ?? '#000000';
    const dash = DASHES[Math.floor(i / PALETTE.length) % DASHES.length] ?? '';
    const style = `stroke="${colour}"${dash === '' ? '' : ` stroke-dasharray="${dash}"`}`;
    if (s.points.length > 1) {
      const points = s.points.map(([a, b]) => `${c(px(a))},${c(py(b))}`).join(' ');
      out.push(`<polyline points="${points}" fill="none" ${style} stroke-width="2"/>`);
    }
    if (s.points.length <= 40) {
      for (const [a, b] of s.points) {
        out.push(`<circle cx="${c(px(a))}" cy="${c(py(b))}" r="3" fill="${colour}"/>`);
      }
    }
    const at = legend[i] ?? { x: LEFT, row: 0 };
    const ly = LEGEND_TOP + at.row * LEGEND_ROW;
    out.push(
      `<line x1="${c(at.x)}" y1="${ly - 4}" x2="${c(at.x + 24)}" y2="${ly - 4}" ${style} stroke-width="2"/>`,
      text(at.x + 30, ly, s.name),
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
