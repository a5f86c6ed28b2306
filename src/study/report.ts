// The study's report: one self-contained HTML page (no network, no libraries) drawn from study.json alone. The
// paper's findings against ours, the study's chart (a heatmap for augment-pairs like the paper's Figure 5, line or
// bar charts with seed spread for the others), every cell with its mean, spread and distance from the best, and each
// cell's loss curves on hover.
import { escapeXml as esc, formatNumber, niceTicks } from '../eval/plot.js';
import { BASELINE_ID, type CellRecord, type StudyRecord } from './record.js';
import type { Summary, Verdict } from './stats.js';
import { NOISE_ALPHA } from './stats.js';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];
const pct = (v: number): string => (v * 100).toFixed(1);
const f1 = (v: number): string => String(Math.round(v * 10) / 10);

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
  return `<span class="badge ${v.replace(' ', '-')}">${esc(text)}</span>`;
}

const metricName = (m: string): string =>
  m.replace(/^knn_(h|z)_top1$/, 'kNN top-1 of $1').replace(/^linear_(h|z)_top1$/, 'linear top-1 of $1');

function labelOf(rec: StudyRecord, id: string): string {
  return rec.cells.find((c) => c.id === id)?.label ?? id;
}

function findingsTable(rec: StudyRecord): string {
  const rows = rec.findings.map((f) => {
    const t = f.test;
    const delta = f.meanA !== null && f.meanB !== null ? (f.meanA - f.meanB) * 100 : null;
    return `<tr><td>${esc(f.claim)}${f.note ? `<div class="sub">${esc(f.note)}</div>` : ''}</td><td>${esc(f.source)}</td>
<td data-cell="${esc(f.a)}">${esc(labelOf(rec, f.a))}<div class="sub">${esc(metricName(f.metric))}</div></td>
<td data-cell="${esc(f.b)}">${esc(labelOf(rec, f.b))}<div class="sub">${esc(metricName(f.bMetric))}</div></td>
<td class="num">${f.meanA === null ? '' : pct(f.meanA)}</td><td class="num">${f.meanB === null ? '' : pct(f.meanB)}</td>
<td class="num">${delta === null ? '' : `${delta >= 0 ? '+' : ''}${delta.toFixed(1)}`}</td>
<td class="num">${t === null ? '' : formatNumber(t.p)}</td><td>${badge(f.verdict)}</td></tr>`;
  });
  return `<table class="findings"><thead><tr><th>the paper found</th><th>where</th><th>a</th><th>b</th><th>a %</th><th>b %</th><th>a - b</th><th>p</th><th>here</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`;
}

// ------------------------------------------------------------------------------------------------ heatmap
function heatmap(rec: StudyRecord): string {
  const cells = rec.cells.filter(
    (c): c is CellRecord & { position: { row: string; col: string } } => 'row' in c.position,
  );
  const rows = [...new Set(cells.map((c) => c.position.row))];
  const cols = [...new Set(cells.map((c) => c.position.col))];
  const means = cells.map((c) => c.summary[rec.primary]?.mean).filter((v): v is number => v !== undefined);
  const lo = Math.min(...means);
  const hi = Math.max(...means);
  const at = (r: string, col: string) => cells.find((c) => c.position.row === r && c.position.col === col);
  const body = rows.map((r) => {
    const tds = cols.map((col) => {
      const c = at(r, col);
      const s = c?.summary[rec.primary];
      if (c === undefined || s === undefined) return `<td class="empty"${c ? ` data-cell="${esc(c.id)}"` : ''}>-</td>`;
      const u = hi > lo ? (s.mean - lo) / (hi - lo) : 0.5;
      // White to dark blue; dark squares get white text.
      const rgb = [247 - u * 239, 251 - u * 203, 255 - u * 148].map(Math.round);
      const best = c.id === rec.best;
      const near = c.vsBest !== null && c.vsBest.verdict === 'within noise';
      const mark = best ? ' best' : near ? ' near' : '';
      return `<td class="heat${mark}" data-cell="${esc(c.id)}" style="background:rgb(${rgb.join(',')});color:${u > 0.55 ? '#fff' : '#111'}">${pct(s.mean)}${s.std === null ? '' : `<small>±${pct(s.std)}</small>`}${near ? '<small>≈ best</small>' : ''}</td>`;
    });
    return `<tr><th>${esc(r)}</th>${tds.join('')}</tr>`;
  });
  return `<table class="heatmap"><thead><tr><th>1st \\ 2nd</th>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead>
<tbody>${body.join('\n')}</tbody></table>
<p class="sub">${esc(metricName(rec.primary))} (%, mean ± standard deviation over seeds). Rows: the first op on the second view, columns: the op after it; the diagonal: one op alone. The first view is the shared crop as it is. Outlined: the best cell; "≈ best": within noise of it.</p>`;
}

// ------------------------------------------------------------------------------------------------ line and bar
interface Point {
  x: string;
  series: string;
  cell: string;
  s: Summary;
}

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

function axes(
  width: number,
  height: number,
  box: { left: number; top: number; width: number; height: number },
  y: [number, number],
  xLabel: string,
  yLabel: string,
): { parts: string[]; sy: (v: number) => number } {
  const sy = (v: number): number => box.top + (1 - (v - y[0]) / (y[1] - y[0])) * box.height;
  const parts = [
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<rect x="${box.left}" y="${box.top}" width="${box.width}" height="${box.height}" fill="none" stroke="#999"/>`,
  ];
  for (const t of niceTicks(y[0], y[1])) {
    parts.push(
      `<path d="M${box.left} ${f1(sy(t))}H${box.left + box.width}" stroke="#e3e3e3"/>`,
      `<text x="${box.left - 6}" y="${f1(sy(t) + 4)}" text-anchor="end" fill="#555">${formatNumber(t)}</text>`,
    );
  }
  parts.push(
    `<text x="${box.left + box.width / 2}" y="${height - 6}" text-anchor="middle" fill="#333">${esc(xLabel)}</text>`,
    `<text transform="translate(14 ${box.top + box.height / 2}) rotate(-90)" text-anchor="middle" fill="#333">${esc(yLabel)}</text>`,
  );
  return { parts, sy };
}

/** y range covering every mean ± std, padded, in percent. */
function yRange(points: readonly Point[]): [number, number] {
  const lo = Math.min(...points.map((p) => (p.s.mean - (p.s.std ?? 0)) * 100));
  const hi = Math.max(...points.map((p) => (p.s.mean + (p.s.std ?? 0)) * 100));
  const pad = Math.max(0.5, (hi - lo) * 0.1);
  const ticks = niceTicks(lo - pad, hi + pad);
  const step = ticks.length > 1 ? ticks[1]! - ticks[0]! : 1;
  return [Math.floor((lo - pad) / step) * step, Math.ceil((hi + pad) / step) * step];
}

function legend(series: readonly string[], right: number): string {
  let x = right;
  const out: string[] = [];
  for (const [i, s] of [...series.entries()].reverse()) {
    if (s === '') continue;
    x -= 26 + s.length * 6.5;
    out.push(
      `<rect x="${f1(x)}" y="12" width="14" height="8" fill="${PALETTE[i % PALETTE.length]}"/><text x="${f1(x + 18)}" y="20" fill="#333">${esc(s)}</text>`,
    );
  }
  return out.join('');
}

function svgChart(rec: StudyRecord): string {
  const { xs, series, points } = chartPoints(rec);
  if (points.length === 0) return '<p class="note">No finished runs yet.</p>';
  const width = 760;
  const height = 340;
  const box = { left: 64, top: 34, width: width - 80, height: height - 34 - 48 };
  const base = rec.baseline?.summary[rec.chart.seriesBy === 'features' ? 'knn_h_top1' : rec.primary];
  const y = yRange(base === undefined ? points : [...points, { x: '', series: '', cell: '', s: base }]);
  const yLabel = rec.chart.seriesBy === 'features' ? 'kNN top-1 (%)' : `${metricName(rec.primary)} (%)`;
  const { parts, sy } = axes(width, height, box, y, rec.chart.xLabel ?? '', yLabel);
  const slot = box.width / xs.length;
  const cx = (x: string): number => box.left + slot * (xs.indexOf(x) + 0.5);
  for (const x of xs)
    parts.push(
      `<text x="${f1(cx(x))}" y="${box.top + box.height + 16}" text-anchor="middle" fill="#555">${esc(x)}</text>`,
    );
  const errorBar = (x: number, p: Point, color: string): string =>
    p.s.std === null
      ? ''
      : `<path d="M${f1(x)} ${f1(sy((p.s.mean - p.s.std) * 100))}V${f1(sy((p.s.mean + p.s.std) * 100))}M${f1(x - 4)} ${f1(sy((p.s.mean - p.s.std) * 100))}h8M${f1(x - 4)} ${f1(sy((p.s.mean + p.s.std) * 100))}h8" stroke="${color}" stroke-width="1.5"/>`;
  if (rec.chart.kind === 'bar') {
    const bw = Math.min(40, (slot * 0.8) / series.length);
    for (const p of points) {
      const i = series.indexOf(p.series);
      const color = PALETTE[i % PALETTE.length]!;
      const x = cx(p.x) - (bw * series.length) / 2 + bw * i;
      const top = sy(p.s.mean * 100);
      parts.push(
        `<rect data-cell="${esc(p.cell)}" x="${f1(x + 1)}" y="${f1(top)}" width="${f1(bw - 2)}" height="${f1(box.top + box.height - top)}" fill="${color}" fill-opacity="0.8"/>`,
        errorBar(x + bw / 2, p, '#222'),
      );
    }
  } else {
    for (const [i, name] of series.entries()) {
      const color = PALETTE[i % PALETTE.length]!;
      const pts = points.filter((p) => p.series === name).sort((a, b) => xs.indexOf(a.x) - xs.indexOf(b.x));
      const d = pts.map((p, k) => `${k === 0 ? 'M' : 'L'}${f1(cx(p.x))} ${f1(sy(p.s.mean * 100))}`).join('');
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
      for (const p of pts)
        parts.push(
          errorBar(cx(p.x), p, color),
          `<circle data-cell="${esc(p.cell)}" cx="${f1(cx(p.x))}" cy="${f1(sy(p.s.mean * 100))}" r="5" fill="${color}" stroke="#fff"/>`,
        );
    }
  }
  if (base !== undefined) {
    const yb = f1(sy(base.mean * 100));
    parts.push(
      `<path data-cell="${BASELINE_ID}" d="M${box.left} ${yb}H${box.left + box.width}" stroke="#777" stroke-width="2" stroke-dasharray="6 4"/>`,
      `<text x="${box.left + 6}" y="${f1(sy(base.mean * 100) - 5)}" fill="#555">random init, no training: ${pct(base.mean)}</text>`,
    );
  }
  parts.push(legend(series, box.left + box.width));
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">${parts.join('')}</svg>
<p class="sub">Means over seeds with ± one standard deviation; hover a point for its runs' loss curves.</p>`;
}

// ------------------------------------------------------------------------------------------------ tables
function cellsTable(rec: StudyRecord): string {
  const metrics = [...new Set(rec.cells.flatMap((c) => Object.keys(c.summary)))].sort((a, b) =>
    a === rec.primary ? -1 : b === rec.primary ? 1 : a.localeCompare(b),
  );
  const shown = metrics.filter((m) => !/_top5$/.test(m));
  const head = [
    'cell',
    'runs',
    ...shown.map((m) => (m === rec.primary ? `${m} (ranked)` : m)),
    'vs best: a - b',
    'p',
    '',
    's / run',
  ];
  const b = rec.baseline;
  const baselineRow =
    b === null
      ? []
      : [
          `<tr data-cell="${BASELINE_ID}" class="baseline"><td>random init (no training)</td><td class="num">${b.runs.length}/${rec.seeds.length}</td>
${shown.map((m) => `<td class="num">${/loss/.test(m) ? '' : meanStd(b.summary[m])}</td>`).join('')}<td></td><td></td><td>reference</td><td class="num">${f1(b.runs.reduce((t, r) => t + r.seconds.eval, 0) / b.runs.length)}</td></tr>`,
        ];
  const rows = rec.cells.map((c) => {
    const vb = c.vsBest;
    const test = vb !== null && 'p' in vb ? vb : null;
    const perRun =
      c.runs.length === 0 ? '' : f1(c.runs.reduce((s, r) => s + r.seconds.train + r.seconds.eval, 0) / c.runs.length);
    return `<tr data-cell="${esc(c.id)}"><td>${esc(c.label)}</td><td class="num">${c.runs.length}/${rec.seeds.length}${c.diverged > 0 ? ` (${c.diverged} diverged)` : ''}</td>
${shown.map((m) => `<td class="num">${/loss/.test(m) ? (c.summary[m] ? formatNumber(c.summary[m].mean) : '') : meanStd(c.summary[m])}</td>`).join('')}
<td class="num">${test ? `${(test.delta * 100).toFixed(1)}` : ''}</td><td class="num">${test ? formatNumber(test.p) : ''}</td>
<td>${c.id === rec.best ? '<span class="badge best">best</span>' : vb === null ? '' : vb.verdict === 'within noise' ? badge('within noise', '≈ best (within noise)') : vb.verdict === 'untested' ? badge('untested') : badge('holds', 'below the best')}</td><td class="num">${perRun}</td></tr>`;
  });
  return `<table class="cells"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>
${[...baselineRow, ...rows].join('\n')}</tbody></table>
<p class="sub">Accuracies in %, mean ± standard deviation over the seeds that finished; losses are the last logged value, averaged. "vs best": this cell's ${esc(metricName(rec.primary))} minus the best cell's, with Welch's t-test.</p>`;
}

function settingsTable(rec: StudyRecord): string {
  const s = rec.settings;
  const m = rec.machine;
  const hms = (sec: number): string =>
    sec >= 3600
      ? `${Math.floor(sec / 3600)} h ${Math.round((sec % 3600) / 60)} min`
      : sec >= 60
        ? `${Math.floor(sec / 60)} min ${Math.round(sec % 60)} s`
        : `${sec.toFixed(1)} s`;
  const rows: [string, string][] = [
    [
      'data',
      `${s.data}: ${s.images} training images${s.subset === null ? '' : ` (a fixed sample, --subset ${s.subset})`}`,
    ],
    [
      'budget',
      `${s.budget} steps per cell (batch ${String(s.base.batchSize)}${rec.study === 'batch-epochs' ? '; batch-epochs scales steps with the batch' : ''})`,
    ],
    ['seeds', `${rec.seeds.join(', ')} for every cell (model init, data order, augmentations)`],
    [
      'evaluation',
      `kNN (k ${s.knn.k}, temperature ${s.knn.temperature}) with the training images as the memory bank and ${s.testSize} held-out test images as queries${s.linear ? '; linear: logistic regression on the same features' : ''}`,
    ],
    [
      'machine',
      `${m.cpu}, ${m.cores} cores; ${m.nproc} run(s) at a time with ${m.threadsPerProcess} thread(s) each; libtorch ${m.libtorch}`,
    ],
    ['wall time', `${hms(rec.elapsedSeconds)} in all (runs: ${hms(rec.runSeconds)} summed)`],
    ['written', `created ${rec.created}, updated ${rec.updated}`],
  ];
  const base = Object.entries(s.base)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(typeof v === 'string' ? v : JSON.stringify(v))}</td></tr>`);
  return `<table class="summary">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('\n')}</table>
<h3>Base settings of every cell (each cell changes some)</h3><table class="summary">${base.join('\n')}</table>`;
}

// ------------------------------------------------------------------------------------------------ page
const STYLE = `
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 24px auto; max-width: 1340px; color: #222; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; } h3 { font-size: 14px; }
.sub { color: #666; margin-top: 2px; font-size: 12px; }
table { border-collapse: collapse; font-size: 13px; } td, th { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } table.summary th { width: 150px; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.heatmap td { width: 74px; height: 48px; text-align: center; vertical-align: middle; font-variant-numeric: tabular-nums; cursor: default; }
table.heatmap td small { display: block; font-size: 10px; opacity: 0.85; } table.heatmap td.best { outline: 3px solid #e6550d; outline-offset: -3px; }
table.heatmap td.empty { background: #f2f2f2; color: #999; }
.badge { display: inline-block; padding: 1px 6px; border-radius: 8px; font-size: 12px; white-space: nowrap; }
.badge.holds { background: #dff0d8; color: #2b5e2b; } .badge.reversed { background: #f8d7da; color: #842029; }
.badge.within-noise { background: #fff3cd; color: #6b5300; } .badge.untested { background: #eee; color: #555; } .badge.best { background: #e6550d; color: #fff; }
.note { color: #8a5a00; background: #fff7e0; padding: 6px 10px; border-radius: 4px; font-size: 13px; }
[data-cell] { cursor: default; } tr.baseline td { color: #555; font-style: italic; } tr[data-cell]:hover td { background: #f6faff; }
#tip { position: fixed; display: none; pointer-events: none; background: #fff; border: 1px solid #999; border-radius: 4px; padding: 6px; box-shadow: 0 2px 8px rgba(0,0,0,0.2); font-size: 12px; z-index: 10; }
`;

// The hover plot: each run's loss curve (one colour per seed) for the cell under the pointer. Plain DOM, no libraries.
const SCRIPT = `
(function () {
  var NS = 'http://www.w3.org/2000/svg';
  var data = JSON.parse(document.getElementById('curves').textContent);
  var colors = ${JSON.stringify(PALETTE)};
  var tip = document.getElementById('tip');
  function plot(cell) {
    var W = 300, H = 150, L = 44, T = 8, w = W - L - 8, h = H - T - 24;
    var all = [];
    cell.runs.forEach(function (r) { r.curve.forEach(function (p) { all.push(p); }); });
    var svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('width', W); svg.setAttribute('height', H);
    if (all.length === 0) return svg;
    var x0 = Math.min.apply(null, all.map(function (p) { return p[0]; })), x1 = Math.max.apply(null, all.map(function (p) { return p[0]; }));
    var y0 = Math.min.apply(null, all.map(function (p) { return p[1]; })), y1 = Math.max.apply(null, all.map(function (p) { return p[1]; }));
    if (x1 === x0) x1 = x0 + 1; if (y1 === y0) y1 = y0 + 1;
    function sx(v) { return L + (v - x0) / (x1 - x0) * w; } function sy(v) { return T + (1 - (v - y0) / (y1 - y0)) * h; }
    var frame = document.createElementNS(NS, 'rect');
    frame.setAttribute('x', L); frame.setAttribute('y', T); frame.setAttribute('width', w); frame.setAttribute('height', h);
    frame.setAttribute('fill', 'none'); frame.setAttribute('stroke', '#bbb'); svg.appendChild(frame);
    [[y1, T + 4], [y0, T + h]].forEach(function (t) {
      var e = document.createElementNS(NS, 'text'); e.setAttribute('x', L - 4); e.setAttribute('y', t[1]); e.setAttribute('text-anchor', 'end');
      e.setAttribute('font-size', '10'); e.textContent = Number(t[0].toPrecision(3)); svg.appendChild(e);
    });
    var lab = document.createElementNS(NS, 'text'); lab.setAttribute('x', L + w / 2); lab.setAttribute('y', H - 6);
    lab.setAttribute('text-anchor', 'middle'); lab.setAttribute('font-size', '10'); lab.textContent = 'step (loss, one line per seed)'; svg.appendChild(lab);
    cell.runs.forEach(function (r, i) {
      if (r.curve.length === 0) return;
      var path = document.createElementNS(NS, 'path');
      path.setAttribute('d', r.curve.map(function (p, k) { return (k ? 'L' : 'M') + sx(p[0]).toFixed(1) + ' ' + sy(p[1]).toFixed(1); }).join(''));
      path.setAttribute('fill', 'none'); path.setAttribute('stroke', colors[i % colors.length]); path.setAttribute('stroke-width', '1.5');
      svg.appendChild(path);
    });
    return svg;
  }
  document.querySelectorAll('[data-cell]').forEach(function (el) {
    el.addEventListener('mouseenter', function () {
      var cell = data[el.getAttribute('data-cell')];
      if (!cell) return;
      tip.textContent = '';
      var title = document.createElement('div'); title.textContent = cell.label + ': ' + cell.text; tip.appendChild(title);
      tip.appendChild(plot(cell));
      tip.style.display = 'block';
    });
    el.addEventListener('mousemove', function (ev) {
      var x = ev.clientX + 16, y = ev.clientY + 16;
      if (x + 320 > window.innerWidth) x = ev.clientX - 330;
      if (y + 190 > window.innerHeight) y = ev.clientY - 200;
      tip.style.left = x + 'px'; tip.style.top = y + 'px';
    });
    el.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
  });
})();
`;

// JSON inside a <script> element: '<' escaped so no value can close the element early.
const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c');

/** The report page for a study record; pure, so it can be tested without files. */
export function renderStudyHtml(rec: StudyRecord): string {
  const curves = Object.fromEntries(
    [
      ...rec.cells,
      ...(rec.baseline === null
        ? []
        : [{ id: BASELINE_ID, label: 'random init', summary: rec.baseline.summary, runs: [] }]),
    ].map((c) => [
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
      ? `complete: ${rec.done} runs (${rec.cells.length} cells x ${rec.seeds.length} seeds)`
      : `partial: ${rec.done} of ${rec.total} runs; run the same command again to continue`;
  const body = [
    `<h1>SimCLR study: ${esc(rec.study)} (paper ${esc(rec.paper)})</h1>`,
    `<p class="sub">${esc(rec.summary)} &middot; ${esc(status)}</p>`,
    rec.status === 'partial' ? `<p class="note">${esc(status)}.</p>` : '',
    '<h2>Findings: the paper against these runs</h2>',
    findingsTable(rec),
    `<p class="sub">"reproduces": a beats b by more than the noise (Welch's t-test over seeds, p &lt; ${NOISE_ALPHA}); "reversed": b beats a beyond the noise; "within noise": the runs cannot tell them apart (p &ge; ${NOISE_ALPHA}); "untested": a cell with fewer than two seeds. With a few seeds the test is weak: "within noise" means "not shown here", not "no difference".</p>`,
    `<h2>${rec.chart.kind === 'heatmap' ? 'Heatmap' : 'Chart'}</h2>`,
    rec.chart.kind === 'heatmap' ? heatmap(rec) : svgChart(rec),
    '<h2>Cells</h2>',
    cellsTable(rec),
    '<h2>Settings</h2>',
    settingsTable(rec),
  ];
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>SimCLR study: ${esc(rec.study)}</title>`,
    `<style>${STYLE}</style>`,
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
