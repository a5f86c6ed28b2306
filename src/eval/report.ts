// `simclr report`: one self-contained HTML page for a run (training curves, evaluation results, augmented samples;
// no network needed) plus the same charts as PNG files beside it. Also defines RUN/eval.json, where evaluation
// commands record their results.
import { existsSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { ConfigError, type PretrainConfig } from '../run/config.js';
import { EVAL_FILE, GRID_FILE, readRunConfig, runPaths, writeFileAtomic, type RunConfigFile } from '../run/folder.js';
import { readMetricsLog, type MetricsRow } from '../run/metrics-log.js';
import { readChecked, readTextChecked } from '../io/files.js';
import { defaultStem } from '../models/resnet.js';
import { describeViews, writeAugmentationGrid } from '../run/augment.js';
import { describeLoss } from '../loss/index.js';

// Named in src/run/folder.ts with every file simclr writes into a run folder (RUN_OUTPUTS).
export { EVAL_FILE, GRID_FILE };
import {
  downsample,
  escapeXml,
  formatNumber,
  renderLineChart,
  writeSvgPng,
  type ChartLayout,
  type Series,
} from './plot.js';

// ------------------------------------------------------------------------------------------------ eval.json

/**
 * One evaluation of a run, as stored in RUN/eval.json (a JSON array of these, oldest first). `metric` names the
 * protocol ('knn', 'linear', 'finetune', ...); accuracies are fractions in [0, 1]; any other JSON fields (k,
 * epochs, split, checkpoint step, ...) are kept and shown in the report.
 */
export interface EvalResult {
  metric: string;
  top1?: number;
  top5?: number;
  /** ISO time; appendEvalResult sets it when missing. */
  time?: string;
  [field: string]: unknown;
}

export function evalPath(runDir: string): string {
  return join(runDir, EVAL_FILE);
}

/** The results recorded for a run, oldest first; [] when there are none yet. */
export function readEvalResults(runDir: string): EvalResult[] {
  const path = evalPath(runDir);
  if (!existsSync(path)) return [];
  // Checked first: a regular file of a plausible size (results are a few hundred bytes each).
  const text = readTextChecked(
    path,
    { what: 'an eval results file', minBytes: 2, maxBytes: 64 * 1024 * 1024 },
    (m) => new ConfigError(m),
  );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  if (
    !Array.isArray(parsed) ||
    !parsed.every((r) => r !== null && typeof r === 'object' && typeof (r as EvalResult).metric === 'string')
  ) {
    throw new ConfigError(`${path}: expected a JSON array of objects with a string 'metric'`);
  }
  return parsed as EvalResult[];
}

/** Adds one result to RUN/eval.json (atomically, so a reader never sees half a file); returns the stored row. */
export function appendEvalResult(runDir: string, result: EvalResult): EvalResult {
  if (typeof result.metric !== 'string' || result.metric === '')
    throw new TypeError("appendEvalResult: 'metric' must be a non-empty string");
  if (!existsSync(runDir)) throw new ConfigError(`${runDir}: no such run folder`);
  const row: EvalResult = { ...result, time: result.time ?? new Date().toISOString() };
  const rows = [...readEvalResults(runDir), row];
  writeFileAtomic(evalPath(runDir), `[\n${rows.map((r) => `  ${JSON.stringify(r)}`).join(',\n')}\n]\n`);
  return row;
}

// ------------------------------------------------------------------------------------------------ inputs
/** A metrics.jsonl row; `knn_top1` is there when the kNN monitor ran at that step. */
export type ReportMetricsRow = MetricsRow & { knn_top1?: number };

/** The rows of metrics.jsonl (see readMetricsLog): a torn last line (a run writing right now) is skipped. */
export function readMetricsRows(path: string): ReportMetricsRow[] {
  return readMetricsLog(path).rows;
}

export interface ReportInputs {
  runDir: string;
  run: RunConfigFile;
  rows: readonly ReportMetricsRow[];
  evals: readonly EvalResult[];
  /** PNG bytes of the augmentation grid, or null when there is none. */
  grid: Buffer | null;
  /** Things the reader should know (e.g. why the grid is missing). */
  notes: readonly string[];
  /** Names of the PNG files written beside the page, by chart id, for links. */
  pngNames?: Readonly<Record<string, string>>;
}

// ------------------------------------------------------------------------------------------------ charts
export interface ReportChart {
  /** Used in element ids and PNG file names. */
  id: string;
  svg: string;
  layout: ChartLayout;
  series: Series[];
}

/** Points per series drawn; longer series are bucket-averaged (the hover readout uses the same points). */
const MAX_POINTS = 800;
const COLORS = { loss: '#1f77b4', lr: '#2ca02c', contrastive: '#d62728', knn: '#9467bd' } as const;

function seriesOf(
  rows: readonly ReportMetricsRow[],
  label: string,
  color: string,
  pick: (r: ReportMetricsRow) => number | undefined,
): Series {
  const points: [number, number][] = [];
  for (const r of rows) {
    const v = pick(r);
    if (typeof v === 'number' && Number.isFinite(v)) points.push([r.step, v]);
  }
  return { label, color, points: downsample(points, MAX_POINTS) };
}

/** Loss, learning rate and accuracy (contrastive, plus kNN top-1 where the monitor ran) against the step. */
export function reportCharts(rows: readonly ReportMetricsRow[]): ReportChart[] {
  const knn = seriesOf(rows, 'kNN top-1', COLORS.knn, (r) => r.knn_top1);
  const specs: { id: string; title: string; series: Series[] }[] = [
    { id: 'loss', title: 'NT-Xent loss', series: [seriesOf(rows, 'loss', COLORS.loss, (r) => r.loss)] },
    { id: 'lr', title: 'Learning rate', series: [seriesOf(rows, 'lr', COLORS.lr, (r) => r.lr)] },
    {
      id: 'accuracy',
      title: knn.points.length > 0 ? 'Contrastive accuracy and kNN top-1' : 'Contrastive accuracy',
      series: [
        seriesOf(rows, 'contrastive', COLORS.contrastive, (r) => r.contrastive_acc),
        ...(knn.points.length > 0 ? [knn] : []),
      ],
    },
  ];
  return specs.map(({ id, title, series }) => ({ id, series, ...renderLineChart({ title, xLabel: 'step', series }) }));
}

// ------------------------------------------------------------------------------------------------ HTML
const esc = escapeXml;

function cell(v: unknown): string {
  if (typeof v === 'number') return esc(formatNumber(v));
  if (typeof v === 'string') return esc(v);
  return esc(JSON.stringify(v) ?? '');
}

/** Every field that appears in any result, 'metric' first and 'time' last, so the table shows whatever exists. */
function evalTable(evals: readonly EvalResult[]): string {
  const keys: string[] = ['metric'];
  for (const r of evals) for (const k of Object.keys(r)) if (!keys.includes(k) && k !== 'time') keys.push(k);
  keys.push('time');
  const head = `<tr>${keys.map((k) => `<th>${esc(k)}</th>`).join('')}</tr>`;
  const body = evals.map(
    (r) => `<tr>${keys.map((k) => `<td>${r[k] === undefined ? '' : cell(r[k])}</td>`).join('')}</tr>`,
  );
  return `<table class="evals">\n<thead>${head}</thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table>`;
}

function summaryTable(run: RunConfigFile, rows: readonly ReportMetricsRow[]): string {
  const c: PretrainConfig = run.config;
  const out: [string, string][] = [
    ['data', `${c.data} (${run.input.channels}x${run.input.height}x${run.input.width})`],
    ['encoder', `${c.arch}, width ${c.width}, ${c.stem === 'auto' ? defaultStem(run.input.height) : c.stem} stem`],
    [
      'projection head',
      c.projLayers === 0 ? 'none (z = h)' : `${c.projLayers} layer${c.projLayers === 1 ? '' : 's'} -> ${c.projDim}`,
    ],
    [
      'optimisation',
      `${c.optimizer}, base lr ${c.lr ?? 'default'} (${c.lrScaling} scaling), weight decay ${c.weightDecay}, ` +
        `${c.precision}`,
    ],
    ['batch', `${c.batchSize} images (${2 * c.batchSize} views)`],
    ['loss function', describeLoss(c.loss, c)],
    ['augmentations', describeViews(c, run.input)],
    ['schedule', `${c.epochs} epochs${c.maxSteps === null ? '' : `, at most ${c.maxSteps} steps`}, seed ${c.seed}`],
    ['created', run.created],
  ];
  const last = rows[rows.length - 1];
  if (last !== undefined) {
    const speeds = rows.map((r) => r.images_per_s);
    out.push(
      ['progress', `step ${last.step}, epoch ${last.epoch}`],
      ['loss', `${formatNumber(rows[0]!.loss)} -> ${formatNumber(last.loss)}`],
      [
        'throughput',
        `${formatNumber(speeds.reduce((a, b) => a + b, 0) / speeds.length)} images/s (mean of logged windows)`,
      ],
    );
  }
  const cells = out.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${cell(v)}</td></tr>`);
  return `<table class="summary">\n${cells.join('\n')}\n</table>`;
}

const STYLE =
  `
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 24px auto; max-width: ` +
  `1340px; color: #222; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; ` +
  `padding-bottom: 4px; }
.sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; font-size: 13px; } td, th { border: 1px solid #ddd; padding: 4px 10px; ` +
  `text-align: left; }
th { background: #f4f4f4; } table.summary th { width: 150px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; position: relative; } figure svg { display: block; border: 1px solid #ddd; }
figcaption { font-size: 12px; color: #666; min-height: 16px; padding-top: 4px; }
.note { color: #8a5a00; background: #fff7e0; padding: 6px 10px; border-radius: 4px; font-size: 13px; }
img.grid { image-rendering: pixelated; max-width: 100%; border: 1px solid #ddd; }
`;

// Hover readout: maps the pointer's x to the data, marks the nearest point of each series and writes its values.
// Plain DOM code, no libraries: the page has to work offline.
const SCRIPT =
  `
(function () {
  var NS = 'http://www.w3.org/2000/svg';
  function fmt(v) { var a = Math.abs(v); return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : ` +
  `String(Number(v.toPrecision(4))); }
  document.querySelectorAll('figure[data-chart]').forEach(function (fig) {
    var spec = JSON.parse(fig.querySelector('script[type="application/json"]').textContent);
    var svg = fig.querySelector('svg'), cap = fig.querySelector('figcaption'), L = spec.layout, b = L.box;
    var sx = function (x) { return b.left + (x - L.x[0]) / (L.x[1] - L.x[0]) * b.width; };
    var sy = function (y) { return b.top + (1 - (y - L.y[0]) / (L.y[1] - L.y[0])) * b.height; };
    var layer = document.createElementNS(NS, 'g');
    layer.setAttribute('class', 'hover');
    layer.style.display = 'none';
    var line = document.createElementNS(NS, 'line');
    line.setAttribute('y1', b.top); line.setAttribute('y2', b.top + b.height); line.setAttribute('stroke', '#888'); ` +
  `line.setAttribute('stroke-dasharray', '3 3');
    layer.appendChild(line);
    var dots = spec.series.map(function (s) {
      var c = document.createElementNS(NS, 'circle');
      c.setAttribute('r', 4); c.setAttribute('fill', s.color); c.setAttribute('stroke', '#fff');
      layer.appendChild(c);
      return c;
    });
    svg.appendChild(layer);
    var idle = cap.textContent;
    svg.addEventListener('mousemove', function (ev) {
      var r = svg.getBoundingClientRect();
      var x = L.x[0] + ((ev.clientX - r.left) * L.width / r.width - b.left) / b.width * (L.x[1] - L.x[0]);
      var parts = [];
      spec.series.forEach(function (s, i) {
        var p = s.points, lo = 0, hi = p.length - 1;
        if (hi < 0) { dots[i].style.display = 'none'; return; }
        while (hi - lo > 1) { var mid = (lo + hi) >> 1; if (p[mid][0] < x) lo = mid; else hi = mid; }
        var q = Math.abs(p[lo][0] - x) <= Math.abs(p[hi][0] - x) ? p[lo] : p[hi];
        dots[i].style.display = '';
        dots[i].setAttribute('cx', sx(q[0])); dots[i].setAttribute('cy', sy(q[1]));
        if (i === 0) { line.setAttribute('x1', sx(q[0])); line.setAttribute('x2', sx(q[0])); parts.push('step ' + ` +
  `fmt(q[0])); }
        parts.push(s.label + ' ' + fmt(q[1]));
      });
      layer.style.display = '';
      cap.textContent = parts.join(' \\u00b7 ');
    });
    svg.addEventListener('mouseleave', function () { layer.style.display = 'none'; cap.textContent = idle; });
  });
})();
`;

// Small images (28 px Fashion-MNIST) are shown enlarged, about 96 px a tile; the PNG width is in its IHDR chunk.
function gridDisplayWidth(png: Buffer): number {
  const width = png.readUInt32BE(16);
  return width * Math.max(1, Math.round(96 / (width / 3)));
}

// JSON inside a <script> element: '<' escaped so no value can close the element early.
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c');
}

/** The report page; pure (all inputs given), so it can be tested without files. */
export function renderReportHtml(inputs: ReportInputs, charts: readonly ReportChart[]): string {
  const { run, rows, evals, grid, notes } = inputs;
  const name = basename(resolve(inputs.runDir));
  const figures = charts.map((c) => {
    const png = inputs.pngNames?.[c.id];
    const caption = png === undefined ? '' : `also as <a href="${esc(png)}">${esc(png)}</a>`;
    return [
      `<figure data-chart="${esc(c.id)}" id="chart-${esc(c.id)}">`,
      c.svg,
      `<script type="application/json">${scriptJson({ layout: c.layout, series: c.series })}</script>`,
      `<figcaption>${caption}</figcaption>`,
      '</figure>',
    ].join('\n');
  });
  const hasKnn = rows.some((r) => typeof r.knn_top1 === 'number');
  const body = [
    `<h1>SimCLR run ${esc(name)}</h1>`,
    `<p class="sub">${esc(resolve(inputs.runDir))} &middot; report generated ${esc(new Date().toISOString())}</p>`,
    ...notes.map((n) => `<p class="note">${esc(n)}</p>`),
    '<h2>Run</h2>',
    summaryTable(run, rows),
    '<h2>Training curves</h2>',
    rows.length === 0 ? '<p class="note">metrics.jsonl has no rows yet.</p>' : '',
    `<div class="charts">\n${figures.join('\n')}\n</div>`,
    hasKnn ? '' : '<p class="sub">No kNN monitor values in metrics.jsonl (rows with knn_top1).</p>',
    '<h2>Evaluation</h2>',
    evals.length === 0
      ? `<p class="sub">No evaluation results yet (${esc(EVAL_FILE)} in the run folder).</p>`
      : evalTable(evals),
    '<h2>Augmented samples</h2>',
    grid === null
      ? '<p class="sub">No augmentation grid.</p>'
      : `<p class="sub">Each row: original, view 1, view 2 (the run's augmentation settings).</p>\n<img ` +
        `class="grid" alt="augmentation grid" width="${gridDisplayWidth(grid)}" ` +
        `src="data:image/png;base64,${grid.toString('base64')}">`,
  ];
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>SimCLR report: ${esc(name)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    ...body.filter((s) => s !== ''),
    `<script>${SCRIPT}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

// ------------------------------------------------------------------------------------------------ writing
export interface ReportOptions {
  /** The HTML file (default RUN/report.html); the PNG charts go beside it as <name>-<chart>.png. */
  out?: string;
  /** Rows of the augmentation grid (default 8). */
  gridRows?: number;
}

export interface ReportResult {
  html: string;
  pngs: string[];
  /** RUN/augment-grid.png, or null when it could not be made and none was there. */
  grid: string | null;
  notes: string[];
}

/**
 * Writes the report for a run. The augmentation grid is drawn anew from the run's data and settings; when the
 * data cannot be opened (a run copied from elsewhere) an existing RUN/augment-grid.png is used, or none.
 */
export async function writeReport(runDir: string, opts: ReportOptions = {}): Promise<ReportResult> {
  const run = readRunConfig(runDir);
  const rows = readMetricsRows(runPaths(runDir).metrics);
  const evals = readEvalResults(runDir);
  const html = resolve(opts.out ?? join(runDir, 'report.html'));
  if (!existsSync(dirname(html))) throw new ConfigError(`--out ${opts.out}: folder ${dirname(html)} does not exist`);
  const notes: string[] = [];

  const gridPath = join(runDir, GRID_FILE);
  const c = run.config;
  try {
    await writeAugmentationGrid({
      data: c.data,
      out: gridPath,
      count: opts.gridRows ?? 8,
      seed: c.seed,
      colorStrength: c.colorStrength,
      blur: c.blur,
      config: c,
      ...(c.imageSize === null ? {} : { imageSize: c.imageSize }),
    });
  } catch (e) {
    notes.push(
      `Augmentation grid not redrawn: ${(e as Error).message}${
        existsSync(gridPath) ? ` (showing the existing ${GRID_FILE})` : ''
      }`,
    );
  }
  const grid = existsSync(gridPath)
    ? readChecked(
        gridPath,
        { what: 'a PNG image', minBytes: 8, maxBytes: 256 * 1024 * 1024 },
        (m) => new ConfigError(m),
      )
    : null;

  const charts = reportCharts(rows);
  const stem = basename(html, extname(html));
  const pngNames = Object.fromEntries(charts.map((ch) => [ch.id, `${stem}-${ch.id}.png`]));
  const pngs = charts.map((ch) => join(dirname(html), pngNames[ch.id]!));
  await Promise.all(charts.map((ch, i) => writeSvgPng(ch.svg, pngs[i]!)));
  writeFileSync(html, renderReportHtml({ runDir, run, rows, evals, grid, notes, pngNames }, charts));
  return { html, pngs, grid: grid === null ? null : gridPath, notes };
}
