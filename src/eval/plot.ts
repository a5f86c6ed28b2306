// Line charts as standalone SVG strings: the same markup is inlined in the HTML report and rasterised to PNG
// with sharp, so the page and the image files always show the same picture.
import sharp from 'sharp';

export type Point = readonly [number, number];

export interface Series {
  label: string;
  /** Any SVG colour. */
  color: string;
  /** [x, y] in increasing x. */
  points: readonly Point[];
}

export interface LineChart {
  title: string;
  xLabel: string;
  series: readonly Series[];
  /** Pixel size of the SVG (default 640 x 300). */
  width?: number;
  height?: number;
}

/** Where the data sits in the SVG: what the report's hover script needs to map the pointer back to values. */
export interface ChartLayout {
  width: number;
  height: number;
  box: { left: number; top: number; width: number; height: number };
  x: [number, number];
  y: [number, number];
}

export interface RenderedChart {
  svg: string;
  layout: ChartLayout;
}

const MARGIN = { left: 64, right: 16, top: 34, bottom: 44 };
/** Series this short also get a dot per point, so a single evaluation still shows. */
const DOT_LIMIT = 60;

export function escapeXml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Tick values at a 1-2-5 step covering [lo, hi], about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  // Rounding to the step's decimals keeps labels like 0.30000000000000004 out.
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    ticks.push(Number(v.toFixed(decimals)));
  return ticks;
}

/** Short labels: plain decimals in the usual range, exponents for very small or large magnitudes. */
export function formatNumber(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1).replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}

/** At most `max` points: consecutive points are averaged in equal-count buckets (long runs log many rows). */
export function downsample(points: readonly Point[], max: number): Point[] {
  if (points.length <= max) return [...points];
  const out: Point[] = [];
  for (let b = 0; b < max; b++) {
    const from = Math.floor((b * points.length) / max);
    const to = Math.floor(((b + 1) * points.length) / max);
    let sx = 0;
    let sy = 0;
    for (let i = from; i < to; i++) {
      sx += points[i]![0];
      sy += points[i]![1];
    }
    out.push([sx / (to - from), sy / (to - from)]);
  }
  return out;
}

// A degenerate range (one point, or a flat line) is widened so the line sits mid-chart instead of on an edge.
function domain(values: readonly number[]): [number, number] {
  if (values.length === 0) return [0, 1];
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  return [lo, hi];
}

const f1 = (v: number): string => String(Math.round(v * 10) / 10);

export function renderLineChart(chart: LineChart): RenderedChart {
  const width = chart.width ?? 640;
  const height = chart.height ?? 300;
  const box = {
    left: MARGIN.left,
    top: MARGIN.top,
    width: width - MARGIN.left - MARGIN.right,
    height: height - MARGIN.top - MARGIN.bottom,
  };
  const all = chart.series.flatMap((s) => s.points);
  const [x0, x1] = domain(all.map((p) => p[0]));
  const [yLo, yHi] = domain(all.map((p) => p[1]));
  // y spans whole ticks, so the top and bottom grid lines frame the data.
  const yStep = niceTicks(yLo, yHi);
  const step = yStep.length > 1 ? yStep[1]! - yStep[0]! : 1;
  const y0 = Math.min(yLo, Math.floor(yLo / step + 1e-9) * step);
  const y1 = Math.max(yHi, Math.ceil(yHi / step - 1e-9) * step);
  const sx = (x: number): number => box.left + ((x - x0) / (x1 - x0)) * box.width;
  const sy = (y: number): number => box.top + (1 - (y - y0) / (y1 - y0)) * box.height;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" viewBox="0 0 ` +
      `${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${box.left}" y="20" font-size="14" font-weight="bold" fill="#222">${escapeXml(chart.title)}</text>`,
  ];
  const grid: string[] = [];
  const labels: string[] = [];
  for (const t of niceTicks(y0, y1)) {
    grid.push(`M${box.left} ${f1(sy(t))}H${box.left + box.width}`);
    labels.push(`<text x="${box.left - 6}" y="${f1(sy(t) + 4)}" text-anchor="end">${formatNumber(t)}</text>`);
  }
  for (const t of niceTicks(x0, x1, 6)) {
    grid.push(`M${f1(sx(t))} ${box.top}V${box.top + box.height}`);
    labels.push(
      `<text x="${f1(sx(t))}" y="${box.top + box.height + 16}" text-anchor="middle">${formatNumber(t)}</text>`,
    );
  }
  parts.push(
    `<path class="grid" d="${grid.join('')}" stroke="#e3e3e3" stroke-width="1" fill="none"/>`,
    `<rect x="${box.left}" y="${box.top}" width="${box.width}" height="${box.height}" fill="none" stroke="#999"/>`,
    `<g fill="#555">${labels.join('')}</g>`,
    `<text x="${box.left + box.width / 2}" y="${height - 8}" text-anchor="middle" ` +
      `fill="#333">${escapeXml(chart.xLabel)}</text>`,
  );
  if (all.length === 0) {
    parts.push(
      `<text x="${box.left + box.width / 2}" y="${box.top + box.height / 2}" text-anchor="middle" fill="#888" ` +
        `font-size="13">no data yet</text>`,
    );
  }
  for (const s of chart.series) {
    if (s.points.length === 0) continue;
    const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${f1(sx(p[0]))} ${f1(sy(p[1]))}`).join('');
    parts.push(
      `<path class="series" data-label="${escapeXml(s.label)}" d="${d}" fill="none" stroke="${escapeXml(s.color)}" ` +
        `stroke-width="2" stroke-linejoin="round"/>`,
    );
    if (s.points.length <= DOT_LIMIT) {
      parts.push(
        `<g fill="${escapeXml(s.color)}">${s.points
          .map((p) => `<circle cx="${f1(sx(p[0]))}" cy="${f1(sy(p[1]))}" r="3"/>`)
          .join('')}</g>`,
      );
    }
  }
  if (chart.series.length > 1) {
    // Legend in the title row, right-aligned; label widths estimated from the font size.
    let x = box.left + box.width;
    for (const s of [...chart.series].reverse()) {
      x -= 24 + s.label.length * 6.5;
      parts.push(
        `<rect x="${f1(x)}" y="14" width="14" height="4" fill="${escapeXml(s.color)}"/><text x="${f1(x + 18)}" ` +
          `y="20" fill="#333">${escapeXml(s.label)}</text>`,
      );
    }
  }
  parts.push('</svg>');
  return { svg: parts.join('\n'), layout: { width, height, box, x: [x0, x1], y: [y0, y1] } };
}

/** Rasterises an SVG string to a PNG file at twice its pixel size (sharp renders SVG with librsvg). */
export async function writeSvgPng(svg: string, path: string): Promise<void> {
  await sharp(Buffer.from(svg), { density: 144 }).png().toFile(path);
}
