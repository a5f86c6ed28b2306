// `simclr report`: RUN/eval.json, the charts, the page and its PNGs, and the page as headless Chromium draws it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import * as torch from '../../src/torch/index.js';
import { resolveConfig } from '../../src/run/config.js';
import {
  appendEvalResult,
  readEvalResults,
  reportCharts,
  writeReport,
  GRID_FILE,
  type ReportMetricsRow,
} from '../../src/eval/report.js';
import { downsample, niceTicks, renderLineChart } from '../../src/eval/plot.js';
import { runCli } from '../../src/cli/commands.js';
import { scratchDir } from '../data/tmp.js';

const root = scratchDir('report');

/** A small RGB image folder, so the augmentation grid needs no installed dataset. */
async function makeImageFolder(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const gen = new torch.Generator().manualSeed(3);
  for (let i = 0; i < 4; i++) {
    const pixels = torch.randint(0, 256, [40, 40, 3], { generator: gen, dtype: 'uint8' });
    await sharp(Buffer.from((pixels.toArray() as Uint8Array).buffer), { raw: { width: 40, height: 40, channels: 3 } })
      .png()
      .toFile(join(dir, `img${i}.png`));
    pixels.dispose();
  }
}

function metricsRows(steps: number): ReportMetricsRow[] {
  const rows: ReportMetricsRow[] = [];
  for (let step = 5; step <= steps; step += 5) {
    const row: ReportMetricsRow = {
      epoch: 1 + Math.floor(step / 100),
      step,
      loss: 6 * Math.exp(-step / 150) + 1,
      lr: 0.3 * Math.min(1, step / 50),
      contrastive_acc: 1 - Math.exp(-step / 120),
      images_per_s: 150 + (step % 7),
    };
    if (step % 100 === 0) Object.assign(row, { epoch_end: true, knn_top1: 0.4 + step / 1000 });
    rows.push(row);
  }
  return rows;
}

function makeRun(dir: string, data: string, rows: readonly ReportMetricsRow[]): void {
  mkdirSync(dir, { recursive: true });
  const config = resolveConfig({ data, out: dir, imageSize: 32, width: 0.25 });
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      config,
      input: { channels: 3, height: 32, width: 32 },
      created: '2026-01-02T03:04:05.000Z',
      libtorch: torch.version(),
    }),
  );
  writeFileSync(join(dir, 'metrics.jsonl'), rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

test('appendEvalResult keeps RUN/eval.json a JSON array, oldest first, with a time on every row', () => {
  const dir = join(root, 'evals');
  mkdirSync(dir);
  assert.deepEqual(readEvalResults(dir), []);
  const a = appendEvalResult(dir, { metric: 'knn', top1: 0.71, k: 200 });
  appendEvalResult(dir, { metric: 'linear', top1: 0.8, top5: 0.99, epochs: 90, time: '2026-01-01T00:00:00.000Z' });
  const rows = JSON.parse(readFileSync(join(dir, 'eval.json'), 'utf8')) as Record<string, unknown>[];
  assert.deepEqual(
    rows.map((r) => r.metric),
    ['knn', 'linear'],
  );
  assert.match(String(a.time), /^\d{4}-\d\d-\d\dT/);
  assert.equal(rows[1]!.time, '2026-01-01T00:00:00.000Z');
  assert.deepEqual(readEvalResults(dir), rows);
  assert.throws(() => appendEvalResult(dir, { metric: '' }), /metric/);
  writeFileSync(join(dir, 'eval.json'), '{"metric": "knn"}');
  assert.throws(() => readEvalResults(dir), /expected a JSON array/);
});

test('chart helpers: 1-2-5 ticks, bucket means, one path per series in data order', () => {
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0.013, 0.061, 4), [0.02, 0.04, 0.06]);
  assert.deepEqual(niceTicks(2e-5, 9e-5), [2e-5, 4e-5, 6e-5, 8e-5]);
  assert.deepEqual(
    downsample(
      [
        [0, 0],
        [1, 2],
        [2, 4],
        [3, 6],
      ],
      2,
    ),
    [
      [0.5, 1],
      [2.5, 5],
    ],
  );
  const { svg, layout } = renderLineChart({
    title: 'a < b',
    xLabel: 'step',
    series: [
      {
        label: 'y',
        color: '#123456',
        points: [
          [0, 1],
          [10, 3],
        ],
      },
    ],
  });
  assert.match(svg, /<text[^>]*>a &lt; b<\/text>/);
  const d = /<path class="series"[^>]* d="([^"]+)"/.exec(svg)![1]!;
  const coords = [...d.matchAll(/[ML]([\d.]+) ([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
  const { box, y } = layout;
  const py = (v: number): number => box.top + box.height * (1 - (v - y[0]) / (y[1] - y[0]));
  // First point on the left edge of the plot box, last on the right; y grows downwards.
  const expected = [
    [box.left, py(1)],
    [box.left + box.width, py(3)],
  ];
  assert.equal(coords.length, 2);
  coords.forEach((c, i) => {
    c.forEach((v, j) => {
      assert.ok(Math.abs(v - expected[i]![j]!) <= 0.05, `${d} vs ${JSON.stringify(expected)}`);
    });
  });
  const charts = reportCharts(metricsRows(300));
  assert.deepEqual(
    charts.map((c) => c.id),
    ['loss', 'lr', 'accuracy'],
  );
  assert.deepEqual(
    charts[2]!.series.map((s) => [s.label, s.points.length]),
    [
      ['contrastive', 60],
      ['kNN top-1', 3],
    ],
  );
  assert.equal(reportCharts(metricsRows(300).map(({ knn_top1: _, ...r }) => r))[2]!.series.length, 1);
});

/** One report of a full run, shared by the file checks and the browser check. */
const site = join(root, 'site');
const reportOfRun = (async () => {
  const data = join(root, 'images');
  await makeImageFolder(data);
  const run = join(root, 'run');
  makeRun(run, `folder:${data}`, metricsRows(400));
  appendEvalResult(run, { metric: 'linear', top1: 0.8512, top5: 0.9911, epochs: 90 });
  appendEvalResult(run, { metric: 'knn', top1: 0.7734, k: 200 });
  mkdirSync(site);
  return { run, result: await writeReport(run, { out: join(site, 'run.html'), gridRows: 3 }) };
})();

test(
  'writeReport: a self-contained page with charts, the eval table and the embedded grid, and the PNG charts ' +
    'beside it',
  async () => {
    const { run, result: r } = await reportOfRun;
    const out = join(site, 'run.html');
    assert.equal(r.html, out);
    assert.deepEqual(r.notes, []);
    const html = readFileSync(out, 'utf8');
    // Nothing is fetched: no external scripts, styles, images or fonts.
    assert.doesNotMatch(html, /\b(src|href)="(https?:)?\/\//);
    assert.doesNotMatch(html, /@import|url\(/);
    const grid = readFileSync(join(run, GRID_FILE));
    assert.ok(html.includes(`src="data:image/png;base64,${grid.toString('base64')}"`));
    const gridMeta = await sharp(grid).metadata();
    assert.deepEqual([gridMeta.width, gridMeta.height], [3 * 32, 3 * 32]);
    assert.match(html, /<td>linear<\/td><td>0\.8512<\/td><td>0\.9911<\/td><td>90<\/td>/);
    assert.match(html, /<td>knn<\/td><td>0\.7734<\/td><td><\/td><td><\/td><td>200<\/td>/);
    assert.deepEqual(
      r.pngs,
      ['loss', 'lr', 'accuracy'].map((id) => join(site, `run-${id}.png`)),
    );
    for (const png of r.pngs) {
      const meta = await sharp(png).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['png', 1280, 600], png);
      // Not a blank image: the rasterised chart has its coloured line.
      const { data: px } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      let coloured = 0;
      for (let i = 0; i < px.length; i += 3)
        if (Math.max(px[i]!, px[i + 1]!, px[i + 2]!) - Math.min(px[i]!, px[i + 1]!, px[i + 2]!) > 80) coloured++;
      assert.ok(coloured > 1000, `${png}: ${coloured} coloured pixels`);
    }
  },
);

test('writeReport without the data: notes why, keeps an existing grid; report CLI errors exit 2', async () => {
  const { run: full } = await reportOfRun;
  const run = join(root, 'moved-run');
  makeRun(run, `folder:${join(root, 'gone')}`, metricsRows(20));
  let r = await writeReport(run);
  assert.equal(r.grid, null);
  assert.equal(r.notes.length, 1);
  assert.match(readFileSync(r.html, 'utf8'), /No augmentation grid/);
  writeFileSync(join(run, GRID_FILE), readFileSync(join(full, GRID_FILE)));
  r = await writeReport(run);
  assert.equal(r.grid, join(run, GRID_FILE));
  assert.match(r.notes[0]!, /showing the existing augment-grid\.png/);
  assert.equal(await runCli(['node', 'simclr', 'report', join(root, 'no-run')]), 2);
  assert.equal(await runCli(['node', 'simclr', 'report', run, '--out', join(root, 'no-dir', 'r.html')]), 2);
  assert.equal(await runCli(['node', 'simclr', 'report', run, '--out', join(root, 'cli.html')]), 0);
  assert.ok(existsSync(join(root, 'cli-loss.png')));
});

// ------------------------------------------------------------------------------------------------ in a browser
// scripts/provision.sh installs Debian's chromium; elsewhere set CHROMIUM to a Chrome/Chromium binary.
const CHROMIUM = [process.env.CHROMIUM, '/usr/bin/chromium', 'chromium', 'chromium-browser'].find(
  (c) => c !== undefined && spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0,
);

function chromium(args: string[]): string {
  const profile = mkdtempSync(join(root, 'chromium-'));
  try {
    const r = spawnSync(
      CHROMIUM!,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
        ...args,
      ],
      { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 },
    );
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

const SERIES_COLOURS: Record<string, [number, number, number]> = {
  loss: [0x1f, 0x77, 0xb4],
  lr: [0x2c, 0xa0, 0x2c],
  contrastive: [0xd6, 0x27, 0x28],
  knn: [0x94, 0x67, 0xbd],
};

test('headless Chromium runs the page script and draws every chart', {
  skip: CHROMIUM
    ? false
    : "chromium not found and could not be installed (scripts/provision.sh installs Debian's chromium; or set " +
      'CHROMIUM=/path/to/chrome)',
}, async () => {
  const url = `file://${(await reportOfRun).result.html}`;

  const dom = chromium(['--dump-dom', url]);
  const figures = dom.split('<figure').slice(1);
  assert.equal(figures.length, 3);
  for (const f of figures) {
    // The hover layer exists only if the inline script ran without errors.
    assert.match(f, /<g class="hover"/);
    const paths = [...f.matchAll(/<path class="series"[^>]* d="([^"]*)"/g)].map((m) => m[1]!);
    assert.ok(
      paths.length >= 1 && paths.every((d) => /^M[\d.]+ [\d.]+(L[\d.]+ [\d.]+)+$/.test(d)),
      'series paths have points',
    );
  }

  const shot = join(root, 'shot.png');
  chromium([`--screenshot=${shot}`, '--window-size=1400,2000', '--hide-scrollbars', url]);
  const { data: px, info } = await sharp(shot).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.width, 1400);
  for (const [name, [r, g, b]] of Object.entries(SERIES_COLOURS)) {
    let n = 0;
    for (let i = 0; i < px.length; i += 3)
      if (Math.abs(px[i]! - r) + Math.abs(px[i + 1]! - g) + Math.abs(px[i + 2]! - b) < 24) n++;
    assert.ok(n > 150, `${name}: only ${n} pixels of its colour on screen`);
  }
});
