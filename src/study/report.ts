// The study's report: one self-contained HTML page (no network, no libraries) drawn from study.json alone. The
// paper's findings against ours, the study's chart (a heatmap for augment-pairs like the paper's Figure 5, line or
// bar charts with seed spread for the others), every cell with its mean, spread and distance from the best, and each
// cell's loss curves on hover.
import { escapeXml as esc, formatNumber, niceTicks } from '../eval/plot.js';
import { BASELINE_ID, type CellRecord, type StudyRecord } from './record.js';
import { NOISE_ALPHA, type Summary, type Verdict } from './stats.js';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];
const pct = (v: number): string => (v * 100).toFixed(1);
const f1 = (v: number): string => String(Math.round(v * 10) / 10);

/**
 * An element: `<tag a="v" ...>children</tag>`, or self-closed without children. Attribute values are escaped;
 * children are markup already (escape text with esc).
 */
function el(tag: string, attrs: Record<string, string | number | null>, ...children: string[]): string {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => ` ${k}="${esc(String(v))}"`)
    .join('');
  return children.length === 0 ? `<${tag}${a}/>` : `<${tag}${a}>${children.join('')}</${tag}>`;
}
const td = (content: string, cls: string | null = null): string => el('td', { class: cls }, content);
const num = (content: string): string => td(content, 'num');

/** "71.2 ± 0.4" (percent), "71.2" for one seed, "" without runs. */
function meanStd(s: Summary | undefined): string {
  if (s === undefined) return '';
  return s.std === null ? pct(s.mean) : `${pct(s.mean)} ± ${pct(s.std)}`;
}

const VERDICT_TEXT: Record<Verdict, string> = {
  holds: 'reproduces',
  reversed: 'reversed',
  'within noise': 'within noise',
  untested: 'untested (one seed)',
};

function badge(v: Verdict, text = VERDICT_TEXT[v]): string {
  return el('span', { class: `badge ${v.replace(' ', '-')}` }, esc(text));
}

const metricName = (m: string): string =>
  m.replace(/^knn_(h|z)_top1$/, 'kNN top-1 of $1').replace(/^linear_(h|z)_top1$/, 'linear top-1 of $1');

function labelOf(rec: StudyRecord, id: string): string {
  return rec.cells.find((c) => c.id === id)?.label ?? id;
}

function table(cls: string, head: readonly string[], rows: readonly string[]): string {
  const th = head.map((h) => el('th', {}, esc(h))).join('');
  return el('table', { class: cls }, el('thead', {}, el('tr', {}, th)), el('tbody', {}, `\n${rows.join('\n')}\n`));
}

// ------------------------------------------------------------------------------------------------ findings
function findingsTable(rec: StudyRecord): string {
  const rows = rec.findings.map((f) => {
    const delta = f.meanA !== null && f.meanB !== null ? (f.meanA - f.meanB) * 100 : null;
    const side = (id: string, metric: string): string =>
      el('td', { 'data-cell': id }, esc(labelOf(rec, id)), el('div', { class: 'sub' }, esc(metricName(metric))));
    return el(
      'tr',
      {},
      td(esc(f.claim) + (f.note ? el('div', { class: 'sub' }, esc(f.note)) : '')),
      td(esc(f.source)),
      side(f.a, f.metric),
      side(f.b, f.bMetric),
      num(f.meanA === null ? '' : pct(f.meanA)),
      num(f.meanB === null ? '' : pct(f.meanB)),
      num(delta === null ? '' : `${delta >= 0 ? '+' : ''}${delta.toFixed(1)}`),
      num(f.test === null ? '' : formatNumber(f.test.p)),
      td(badge(f.verdict)),
    );
  });
  const head = ['the paper found', 'where', 'a', 'b', 'a %', 'b %', 'a - b', 'p', 'here'];
  return [
    table('findings', head, rows),
    el(
      'p',
      { class: 'sub' },
      `"reproduces": a beats b by more than the noise (Welch's t-test over seeds, p &lt; ${NOISE_ALPHA}); `,
      '"reversed": b beats a beyond the noise; "within noise": the runs cannot tell them apart ',
      `(p &ge; ${NOISE_ALPHA}); "untested": a cell with fewer than two seeds. With a few seeds the test is weak: `,
      '"within noise" means "not shown here", not "no difference".',
    ),
  ].join('\n');
}

// ------------------------------------------------------------------------------------------------ heatmap
function heatmap(rec: StudyRecord): string {
  type Square = CellRecord & { position: { row: string; col: string } };
  const cells = rec.cells.filter((c): c is Square => 'row' in c.position);
  const rows = [...new Set(cells.map((c) => c.position.row))];
  const cols = [...new Set(cells.map((c) => c.position.col))];
  const means = cells.map((c) => c.summary[rec.primary]?.mean).filter((v): v is number => v !== undefined);
  const lo = Math.min(...means);
  const hi = Math.max(...means);
  const square = (c: Square | undefined): string => {
    const s = c?.summary[rec.primary];
    if (c === undefined || s === undefined) return el('td', { class: 'empty', 'data-cell': c?.id ?? null }, '-');
    const u = hi > lo ? (s.mean - lo) / (hi - lo) : 0.5;
    // White to dark blue; dark squares get white text.
    const rgb = [247 - u * 239, 251 - u * 203, 255 - u * 148].map(Math.round).join(',');
    const near = c.vsBest !== null && c.vsBest.verdict === 'within noise';
    const cls = `heat${c.id === rec.best ? ' best' : near ? ' near' : ''}`;
    const style = `background:rgb(${rgb});color:${u > 0.55 ? '#fff' : '#111'}`;
    const spread = s.std === null ? '' : el('small', {}, `±${pct(s.std)}`);
    return el(
      'td',
      { class: cls, 'data-cell': c.id, style },
      pct(s.mean),
      spread,
      near ? el('small', {}, '≈ best') : '',
    );
  };
  const body = rows.map((r) =>
    el(
      'tr',
      {},
      el('th', {}, esc(r)),
      ...cols.map((col) => square(cells.find((c) => c.position.row === r && c.position.col === col))),
    ),
  );
  const base = rec.baseline?.summary[rec.primary];
  return [
    table('heatmap', ['1st \\ 2nd', ...cols], body),
    el(
      'p',
      { class: 'sub' },
      `${esc(metricName(rec.primary))} (%, mean ± standard deviation over seeds). Rows: the first op on the second `,
      'view, columns: the op after it; the diagonal: one op alone. The first view is the shared crop as it is. ',
      'Outlined: the best cell; "≈ best": within noise of it.',
      base === undefined ? '' : ` The untrained encoder: ${meanStd(base)}.`,
    ),
  ].join('\n');
}

// ------------------------------------------------------------------------------------------------ line and bar
interface Point {
  x: string;
  series: string;
  cell: string;
  s: Summary;
}

/** The chart's x categories (in cell order), series, and one point per cell and series that has runs. */
function chartPoints(rec: StudyRecord): { xs: string[]; series: string[]; points: Point[] } {
  const points: Point[] = [];
  const xs: string[] = [];
  const series: string[] = [];
  for (const c of rec.cells) {
    if (!('x' in c.position)) continue;
    if (!xs.includes(c.position.x)) xs.push(c.position.x);
    const entries: [string, string][] =
      rec.chart.seriesBy === 'features'
        ? c.features.map((f) => [f === 'h' ? 'h (encoder)' : 'z = g(h)', `knn_${f}_top1`])
        : [[c.position.series, rec.primary]];
    for (const [name, metric] of entries) {
      if (!series.includes(name)) series.push(name);
      const s = c.summary[metric];
      if (s !== undefined) points.push({ x: c.position.x, series: name, cell: c.id, s });
    }
  }
  return { xs, series, points };
}

interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Frame, y grid and labels, axis titles; sy maps a percentage to the SVG's y. */
function axes(size: [number, number], box: Box, y: [number, number], xLabel: string, yLabel: string) {
  const sy = (v: number): number => box.top + (1 - (v - y[0]) / (y[1] - y[0])) * box.height;
  const parts = [
    el('rect', { width: size[0], height: size[1], fill: '#fff' }),
    el('rect', { x: box.left, y: box.top, width: box.width, height: box.height, fill: 'none', stroke: '#999' }),
  ];
  for (const t of niceTicks(y[0], y[1])) {
    parts.push(
      el('path', { d: `M${box.left} ${f1(sy(t))}H${box.left + box.width}`, stroke: '#e3e3e3' }),
      el('text', { x: box.left - 6, y: f1(sy(t) + 4), 'text-anchor': 'end', fill: '#555' }, formatNumber(t)),
    );
  }
  const middle = { 'text-anchor': 'middle', fill: '#333' };
  parts.push(
    el('text', { x: box.left + box.width / 2, y: size[1] - 6, ...middle }, esc(xLabel)),
    el('text', { transform: `translate(14 ${box.top + box.height / 2}) rotate(-90)`, ...middle }, esc(yLabel)),
  );
  return { parts, sy };
}

/** y range covering every mean ± std, padded, in percent, on whole ticks. */
function yRange(summaries: readonly Summary[]): [number, number] {
  const lo = Math.min(...summaries.map((s) => (s.mean - (s.std ?? 0)) * 100));
  const hi = Math.max(...summaries.map((s) => (s.mean + (s.std ?? 0)) * 100));
  const pad = Math.max(0.5, (hi - lo) * 0.1);
  const ticks = niceTicks(lo - pad, hi + pad);
  const step = ticks.length > 1 ? ticks[1]! - ticks[0]! : 1;
  return [Math.floor((lo - pad) / step) * step, Math.ceil((hi + pad) / step) * step];
}

/** Swatches and names in the title row, right-aligned (widths estimated from the font size). */
function legend(series: readonly string[], right: number): string {
  let x = right;
  const out: string[] = [];
  for (const [i, s] of [...series.entries()].reverse()) {
    if (s === '') continue;
    x -= 26 + s.length * 6.5;
    out.push(
      el('rect', { x: f1(x), y: 12, width: 14, height: 8, fill: PALETTE[i % PALETTE.length]! }),
      el('text', { x: f1(x + 18), y: 20, fill: '#333' }, esc(s)),
    );
  }
  return out.join('');
}

function svgChart(rec: StudyRecord): string {
  const { xs, series, points } = chartPoints(rec);
  if (points.length === 0) return el('p', { class: 'note' }, 'No finished runs yet.');
  const size: [number, number] = [760, 340];
  const box = { left: 64, top: 34, width: size[0] - 80, height: size[1] - 34 - 48 };
  const base = rec.baseline?.summary[rec.chart.seriesBy === 'features' ? 'knn_h_top1' : rec.primary];
  const y = yRange([...points.map((p) => p.s), ...(base === undefined ? [] : [base])]);
  const yLabel = rec.chart.seriesBy === 'features' ? 'kNN top-1 (%)' : `${metricName(rec.primary)} (%)`;
  const { parts, sy } = axes(size, box, y, rec.chart.xLabel ?? '', yLabel);
  const slot = box.width / xs.length;
  const cx = (x: string): number => box.left + slot * (xs.indexOf(x) + 0.5);
  for (const x of xs)
    parts.push(
      el('text', { x: f1(cx(x)), y: box.top + box.height + 16, 'text-anchor': 'middle', fill: '#555' }, esc(x)),
    );
  const errorBar = (x: number, p: Point, color: string): string => {
    if (p.s.std === null) return '';
    const [a, b] = [sy((p.s.mean - p.s.std) * 100), sy((p.s.mean + p.s.std) * 100)].map(f1);
    return el('path', { d: `M${f1(x)} ${a}V${b}M${f1(x - 4)} ${a}h8M${f1(x - 4)} ${b}h8`, stroke: color });
  };
  if (rec.chart.kind === 'bar') {
    const bw = Math.min(40, (slot * 0.8) / series.length);
    for (const p of points) {
      const i = series.indexOf(p.series);
      const x = cx(p.x) - (bw * series.length) / 2 + bw * i;
      const top = sy(p.s.mean * 100);
      const bar = { x: f1(x + 1), y: f1(top), width: f1(bw - 2), height: f1(box.top + box.height - top) };
      const fill = PALETTE[i % PALETTE.length]!;
      parts.push(
        el('rect', { 'data-cell': p.cell, ...bar, fill, 'fill-opacity': 0.8 }),
        errorBar(x + bw / 2, p, '#222'),
      );
    }
  } else {
    for (const [i, name] of series.entries()) {
      const color = PALETTE[i % PALETTE.length]!;
      const pts = points.filter((p) => p.series === name).sort((a, b) => xs.indexOf(a.x) - xs.indexOf(b.x));
      const d = pts.map((p, k) => `${k === 0 ? 'M' : 'L'}${f1(cx(p.x))} ${f1(sy(p.s.mean * 100))}`).join('');
      parts.push(el('path', { d, fill: 'none', stroke: color, 'stroke-width': 2 }));
      for (const p of pts) {
        const dot = { cx: f1(cx(p.x)), cy: f1(sy(p.s.mean * 100)), r: 5, fill: color, stroke: '#fff' };
        parts.push(errorBar(cx(p.x), p, color), el('circle', { 'data-cell': p.cell, ...dot }));
      }
    }
  }
  if (base !== undefined) {
    const yb = sy(base.mean * 100);
    const d = `M${box.left} ${f1(yb)}H${box.left + box.width}`;
    parts.push(
      el('path', { 'data-cell': BASELINE_ID, d, stroke: '#777', 'stroke-width': 2, 'stroke-dasharray': '6 4' }),
      el('text', { x: box.left + 6, y: f1(yb - 5), fill: '#555' }, `random init, no training: ${pct(base.mean)}`),
    );
  }
  parts.push(legend(series, box.left + box.width));
  const svg = el(
    'svg',
    {
      xmlns: 'http://www.w3.org/2000/svg',
      class: 'chart',
      width: size[0],
      height: size[1],
      viewBox: `0 0 ${size[0]} ${size[1]}`,
      'font-family': 'DejaVu Sans, Helvetica, Arial, sans-serif',
      'font-size': 11,
    },
    ...parts,
  );
  const note = "Means over seeds with ± one standard deviation; hover a point for its runs' loss curves.";
  return `${svg}\n${el('p', { class: 'sub' }, note)}`;
}

// ------------------------------------------------------------------------------------------------ tables
function cellsTable(rec: StudyRecord): string {
  const metrics = [...new Set(rec.cells.flatMap((c) => Object.keys(c.summary)))]
    .filter((m) => !m.endsWith('_top5'))
    .sort((a, b) => (a === rec.primary ? -1 : b === rec.primary ? 1 : a.localeCompare(b)));
  const values = (summary: Record<string, Summary>): string[] =>
    metrics.map((m) => num(/loss/.test(m) ? (summary[m] ? formatNumber(summary[m].mean) : '') : meanStd(summary[m])));
  const perRun = (runs: CellRecord['runs']): string =>
    runs.length === 0 ? '' : f1(runs.reduce((s, r) => s + r.seconds.train + r.seconds.eval, 0) / runs.length);
  const b = rec.baseline;
  const baseline =
    b === null
      ? []
      : [
          el(
            'tr',
            { 'data-cell': BASELINE_ID, class: 'baseline' },
            td('random init (no training)'),
            num(`${b.runs.length}/${rec.seeds.length}`),
            ...values(b.summary),
            td(''),
            td(''),
            td('reference'),
            num(perRun(b.runs)),
          ),
        ];
  const rows = rec.cells.map((c) => {
    const vb = c.vsBest;
    const test = vb !== null && 'p' in vb ? vb : null;
    const mark =
      c.id === rec.best
        ? el('span', { class: 'badge best' }, 'best')
        : vb === null
          ? ''
          : vb.verdict === 'within noise'
            ? badge('within noise', '≈ best (within noise)')
            : vb.verdict === 'untested'
              ? badge('untested')
              : badge('holds', 'below the best');
    return el(
      'tr',
      { 'data-cell': c.id },
      td(esc(c.label)),
      num(`${c.runs.length}/${rec.seeds.length}${c.diverged > 0 ? ` (${c.diverged} diverged)` : ''}`),
      ...values(c.summary),
      num(test ? (test.delta * 100).toFixed(1) : ''),
      num(test ? formatNumber(test.p) : ''),
      td(mark),
      num(perRun(c.runs)),
    );
  });
  const head = ['cell', 'runs', ...metrics.map((m) => (m === rec.primary ? `${m} (ranked)` : m))];
  return [
    table('cells', [...head, 'vs best: a - b', 'p', '', 's / run'], [...baseline, ...rows]),
    el(
      'p',
      { class: 'sub' },
      'Accuracies in %, mean ± standard deviation over the seeds that finished; losses are the last logged ',
      `value, averaged. "vs best": this cell's ${esc(metricName(rec.primary))} minus the best cell's, with `,
      "Welch's t-test.",
    ),
  ].join('\n');
}

/** '1 h 5 min', '3 min 7 s', '42 s': rounded as a whole first, so never '60 s' or '60 min'. */
export function formatDuration(sec: number): string {
  const s = Math.round(sec);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function settingsTable(rec: StudyRecord): string {
  const s = rec.settings;
  const m = rec.machine;
  const sample = s.subset === null ? '' : ` (a fixed sample, --subset ${s.subset})`;
  const scaled = rec.study === 'batch-epochs' ? '; batch-epochs scales the steps with the batch' : '';
  const rows: [string, string][] = [
    ['data', `${s.data}: ${s.images} training images${sample}`],
    ['budget', `${s.budget} steps per cell (batch ${String(s.base.batchSize)}${scaled})`],
    ['seeds', `${rec.seeds.join(', ')} for every cell (model init, data order, augmentations)`],
    [
      'evaluation',
      `kNN (k ${s.knn.k}, temperature ${s.knn.temperature}) with the training images as the memory bank and ` +
        `${s.testSize} held-out test images as queries${s.linear ? '; linear: logistic regression on them' : ''}`,
    ],
    [
      'machine',
      `${m.cpu}, ${m.cores} cores; ${m.nproc} run(s) at a time with ${m.threadsPerProcess} thread(s) each; ` +
        `libtorch ${m.libtorch}`,
    ],
    ['wall time', `${formatDuration(rec.elapsedSeconds)} in all (runs: ${formatDuration(rec.runSeconds)} summed)`],
    ['written', `created ${rec.created}, updated ${rec.updated}`],
  ];
  const kv = ([k, v]: [string, string]): string => el('tr', {}, el('th', {}, esc(k)), td(esc(v)));
  const base = Object.entries(s.base)
    .filter(([, v]) => v !== null)
    .map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)]);
  return [
    el('table', { class: 'summary' }, rows.map(kv).join('\n')),
    el('h3', {}, 'Base settings of every cell (each cell changes some)'),
    el('table', { class: 'summary' }, base.map(kv).join('\n')),
  ].join('\n');
}

// ------------------------------------------------------------------------------------------------ page
const STYLE = [
  'body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 24px auto;',
  '  max-width: 1340px; color: #222; padding: 0 16px; }',
  'h1 { font-size: 22px; margin-bottom: 4px; } h3 { font-size: 14px; }',
  'h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }',
  '.sub { color: #666; margin-top: 2px; font-size: 12px; }',
  'table { border-collapse: collapse; font-size: 13px; }',
  'td, th { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }',
  'th { background: #f4f4f4; } table.summary th { width: 150px; }',
  'td.num { text-align: right; font-variant-numeric: tabular-nums; }',
  'table.heatmap td { width: 74px; height: 48px; text-align: center; vertical-align: middle; }',
  'table.heatmap td small { display: block; font-size: 10px; opacity: 0.85; }',
  'table.heatmap td.best { outline: 3px solid #e6550d; outline-offset: -3px; }',
  'table.heatmap td.empty { background: #f2f2f2; color: #999; }',
  '.badge { display: inline-block; padding: 1px 6px; border-radius: 8px; font-size: 12px; white-space: nowrap; }',
  '.badge.holds { background: #dff0d8; color: #2b5e2b; } .badge.reversed { background: #f8d7da; color: #842029; }',
  '.badge.within-noise { background: #fff3cd; color: #6b5300; } .badge.untested { background: #eee; color: #555; }',
  '.badge.best { background: #e6550d; color: #fff; }',
  '.note { color: #8a5a00; background: #fff7e0; padding: 6px 10px; border-radius: 4px; font-size: 13px; }',
  '[data-cell] { cursor: default; } tr[data-cell]:hover td { background: #f6faff; }',
  'tr.baseline td { color: #555; font-style: italic; }',
  '#tip { position: fixed; display: none; pointer-events: none; background: #fff; border: 1px solid #999;',
  '  border-radius: 4px; padding: 6px; box-shadow: 0 2px 8px rgba(0,0,0,0.2); font-size: 12px; z-index: 10; }',
].join('\n');

// The hover plot: each run's loss curve (one colour per seed) for the cell under the pointer. Plain DOM, no libraries.
const SCRIPT = `
(function () {
  var NS = 'http://www.w3.org/2000/svg';
  var data = JSON.parse(document.getElementById('curves').textContent);
  var colors = ${JSON.stringify(PALETTE)};
  var tip = document.getElementById('tip');
  function svgEl(tag, attrs, parent) {
    var e = document.createElementNS(NS, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    parent.appendChild(e);
    return e;
  }
  function range(all, i) {
    var v = all.map(function (p) { return p[i]; });
    var lo = Math.min.apply(null, v), hi = Math.max.apply(null, v);
    return hi > lo ? [lo, hi] : [lo, lo + 1];
  }
  function plot(cell) {
    var W = 300, H = 150, L = 44, T = 8, w = W - L - 8, h = H - T - 24;
    var svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('width', W);
    svg.setAttribute('height', H);
    var all = [];
    cell.runs.forEach(function (r) { all = all.concat(r.curve); });
    if (all.length === 0) return svg;
    var x = range(all, 0), y = range(all, 1);
    function sx(v) { return L + (v - x[0]) / (x[1] - x[0]) * w; }
    function sy(v) { return T + (1 - (v - y[0]) / (y[1] - y[0])) * h; }
    svgEl('rect', { x: L, y: T, width: w, height: h, fill: 'none', stroke: '#bbb' }, svg);
    [[y[1], T + 4], [y[0], T + h]].forEach(function (t) {
      var e = svgEl('text', { x: L - 4, y: t[1], 'text-anchor': 'end', 'font-size': 10 }, svg);
      e.textContent = Number(t[0].toPrecision(3));
    });
    var lab = svgEl('text', { x: L + w / 2, y: H - 6, 'text-anchor': 'middle', 'font-size': 10 }, svg);
    lab.textContent = 'step (loss, one line per seed)';
    cell.runs.forEach(function (r, i) {
      if (r.curve.length === 0) return;
      var d = r.curve.map(function (p, k) {
        return (k ? 'L' : 'M') + sx(p[0]).toFixed(1) + ' ' + sy(p[1]).toFixed(1);
      }).join('');
      svgEl('path', { d: d, fill: 'none', stroke: colors[i % colors.length], 'stroke-width': 1.5 }, svg);
    });
    return svg;
  }
  document.querySelectorAll('[data-cell]').forEach(function (el) {
    el.addEventListener('mouseenter', function () {
      var cell = data[el.getAttribute('data-cell')];
      if (!cell) return;
      tip.textContent = '';
      var title = document.createElement('div');
      title.textContent = cell.label + ': ' + cell.text;
      tip.appendChild(title);
      tip.appendChild(plot(cell));
      tip.style.display = 'block';
    });
    el.addEventListener('mousemove', function (ev) {
      var x = ev.clientX + 16, y = ev.clientY + 16;
      if (x + 320 > window.innerWidth) x = ev.clientX - 330;
      if (y + 190 > window.innerHeight) y = ev.clientY - 200;
      tip.style.left = x + 'px';
      tip.style.top = y + 'px';
    });
    el.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
  });
})();
`;

// JSON inside a <script> element: '<' escaped so no value can close the element early.
const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c');

/** The report page for a study record; pure, so it can be tested without files. */
export function renderStudyHtml(rec: StudyRecord): string {
  const entries = [
    ...rec.cells,
    ...(rec.baseline === null
      ? []
      : [{ id: BASELINE_ID, label: 'random init', summary: rec.baseline.summary, runs: rec.baseline.runs }]),
  ];
  const curves = Object.fromEntries(
    entries.map((c) => [
      c.id,
      {
        label: c.label,
        text: `${metricName(rec.primary)} ${meanStd(c.summary[rec.primary]) || 'no runs yet'}`,
        runs: c.runs.map((r) => ({ seed: r.seed, curve: r.lossCurve })),
      },
    ]),
  );
  const status =
    rec.status === 'complete'
      ? `complete: ${rec.done} runs (${rec.cells.length} cells and the untrained reference x ${rec.seeds.length} seeds)`
      : `partial: ${rec.done} of ${rec.total} runs; run the same command again to continue`;
  const body = [
    el('h1', {}, `SimCLR study: ${esc(rec.study)} (paper ${esc(rec.paper)})`),
    el('p', { class: 'sub' }, `${esc(rec.summary)} &middot; ${esc(status)}`),
    rec.status === 'partial' ? el('p', { class: 'note' }, `${esc(status)}.`) : '',
    el('h2', {}, 'Findings: the paper against these runs'),
    findingsTable(rec),
    el('h2', {}, rec.chart.kind === 'heatmap' ? 'Heatmap' : 'Chart'),
    rec.chart.kind === 'heatmap' ? heatmap(rec) : svgChart(rec),
    el('h2', {}, 'Cells'),
    cellsTable(rec),
    el('h2', {}, 'Settings'),
    settingsTable(rec),
  ];
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>SimCLR study: ${esc(rec.study)}</title>`,
    `<style>\n${STYLE}\n</style>`,
    '</head>',
    '<body>',
    ...body.filter((s) => s !== ''),
    '<div id="tip"></div>',
    `<script type="application/json" id="curves">${scriptJson(curves)}</script>`,
    `<script>${SCRIPT}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
