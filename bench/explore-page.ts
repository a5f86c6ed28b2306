// `simclr explore`'s page load: time from navigation to the map's first draw in headless Chromium (playwright-core
// driving Debian's chromium), with the real server on a real run, in a fresh browser context each time (nothing
// cached). Also the /api/map reply's size and time, and the first frame's drawing time. The server's one-time
// preparation (embeddings, index, kNN graph, map; cached in the run folder) is done before and reported apart.
//
// Run: node dist/bench/explore-page.js --run RUN --data SPEC [--limit N] [--repeat 5] [--screenshot FILE]
//      node dist/bench/explore-page.js --make-fashion-100k DIR
// The second form writes a 100,000-image set in the mnist:DIR layout from Debian's Fashion-MNIST: its 60,000
// training and 10,000 test images, then the first 30,000 training images mirrored left-right (labels kept).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { prepareExplore } from '../src/explore/session.js';
import { startExploreServer } from '../src/explore/server.js';

const FASHION = '/usr/share/datasets/fashion-mnist';

function readIdx(stem: string): Buffer {
  const path = join(FASHION, `${stem}.gz`);
  return gunzipSync(readFileSync(path));
}

function makeFashion100k(dir: string): void {
  const side = 28;
  const trainImages = readIdx('train-images-idx3-ubyte').subarray(16);
  const testImages = readIdx('t10k-images-idx3-ubyte').subarray(16);
  const trainLabels = readIdx('train-labels-idx1-ubyte').subarray(8);
  const testLabels = readIdx('t10k-labels-idx1-ubyte').subarray(8);
  const mirrored = 30_000;
  const n = trainLabels.length + testLabels.length + mirrored;
  const images = Buffer.alloc(16 + n * side * side);
  images.writeUInt32BE(0x803, 0);
  images.writeUInt32BE(n, 4);
  images.writeUInt32BE(side, 8);
  images.writeUInt32BE(side, 12);
  const labels = Buffer.alloc(8 + n);
  labels.writeUInt32BE(0x801, 0);
  labels.writeUInt32BE(n, 4);
  trainImages.copy(images, 16);
  testImages.copy(images, 16 + trainImages.length);
  trainLabels.copy(labels, 8);
  testLabels.copy(labels, 8 + trainLabels.length);
  const first = trainLabels.length + testLabels.length;
  for (let i = 0; i < mirrored; i++) {
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side; x++)
        images[16 + ((first + i) * side + y) * side + x] = trainImages[(i * side + y) * side + (side - 1 - x)]!;
    labels[8 + first + i] = trainLabels[i]!;
  }
  mkdirSync(dir, { recursive: true });
  // The mnist: reader takes train-* (the split explore opens by default).
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), images);
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), labels);
  console.log(`wrote ${n} images to ${dir} (use --data mnist:${dir})`);
}

const { values: o } = parseArgs({
  options: {
    run: { type: 'string' },
    data: { type: 'string' },
    limit: { type: 'string' },
    repeat: { type: 'string', default: '5' },
    screenshot: { type: 'string' },
    'make-fashion-100k': { type: 'string' },
  },
});

if (o['make-fashion-100k']) {
  makeFashion100k(o['make-fashion-100k']);
  process.exit(0);
}
if (!o.run || !o.data) {
  console.error('usage: explore-page --run RUN --data SPEC [--limit N] [--repeat 5] [--screenshot FILE]');
  process.exit(2);
}
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(chromiumPath)) {
  console.error(`no chromium at ${chromiumPath} (set CHROMIUM)`);
  process.exit(2);
}

const cpu = (() => {
  try {
    return /Model name:\s*(.+)/.exec(execFileSync('lscpu', { encoding: 'utf8' }))?.[1]?.trim() ?? 'unknown CPU';
  } catch {
    return 'unknown CPU';
  }
})();

// What the callback evaluated in the page uses of its globals (this file compiles without the DOM library).
interface PageWindow {
  performance: {
    getEntriesByName(name: string): { startTime: number }[];
    getEntriesByType(
      type: 'resource',
    ): { name: string; encodedBodySize: number; requestStart: number; responseEnd: number }[];
    getEntriesByType(type: 'navigation'): { domContentLoadedEventEnd: number }[];
  };
  document: { getElementById(id: string): { textContent: string } };
}

const session = await prepareExplore({
  run: o.run,
  data: o.data,
  ...(o.limit ? { limit: Number(o.limit) } : {}),
  onPhase: (phase, summary, ms) => console.log(`prepare ${phase}: ${summary} (${(ms / 1000).toFixed(1)} s)`),
});
const { app, url } = await startExploreServer(session, { host: '127.0.0.1', port: 0 });
const browser = await chromium.launch({ executablePath: chromiumPath, headless: true });
const chromiumVersion = browser.version();
const rows: { drawnMs: number; domMs: number; mapEndMs: number; mapBytes: number; mapMs: number; frameMs: number }[] =
  [];
try {
  for (let r = 0; r < Number(o.repeat); r++) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(url);
    const m = await page.evaluate(async () => {
      const w = globalThis as unknown as PageWindow;
      const app = await import('/static/explore/web/app.js' as string);
      if ((await app.loaded) === null) return null;
      const drawn = w.performance.getEntriesByName('explore:map-drawn')[0]!.startTime;
      const map = w.performance.getEntriesByType('resource').find((e) => e.name.endsWith('/api/map'))!;
      const frame = Number(/frame ([\d.]+) ms/.exec(w.document.getElementById('map-figures').textContent)?.[1]);
      const domMs = w.performance.getEntriesByType('navigation')[0]!.domContentLoadedEventEnd;
      return {
        drawnMs: drawn,
        domMs,
        mapEndMs: map.responseEnd,
        mapBytes: map.encodedBodySize,
        mapMs: map.responseEnd - map.requestStart,
        frameMs: frame,
      };
    });
    if (!m) throw new Error(`the page did not load: ${errors.join('; ')}`);
    rows.push(m);
    console.log(
      `load ${r + 1}: map drawn ${m.drawnMs.toFixed(0)} ms after navigation (DOMContentLoaded ${m.domMs.toFixed(0)}, ` +
        `/api/map ${(m.mapBytes / 1e6).toFixed(2)} MB in ${m.mapMs.toFixed(0)} ms, ` +
        `received at ${m.mapEndMs.toFixed(0)}); ` +
        `first frame ${m.frameMs.toFixed(1)} ms`,
    );
    if (r === 0 && o.screenshot) await page.screenshot({ path: o.screenshot });
    await context.close();
  }
} finally {
  await browser.close();
  await app.close();
  session.close();
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  JSON.stringify({
    cpu,
    chromium: chromiumVersion,
    count: session.info.count,
    loads: rows.length,
    medianDrawnMs: Math.round(median(rows.map((r) => r.drawnMs))),
    medianDomContentLoadedMs: Math.round(median(rows.map((r) => r.domMs))),
    medianMapReceivedMs: Math.round(median(rows.map((r) => r.mapEndMs))),
    medianMapMs: Math.round(median(rows.map((r) => r.mapMs))),
    mapBytes: rows[0]?.mapBytes,
    medianFirstFrameMs: Number(median(rows.map((r) => r.frameMs)).toFixed(1)),
  }),
);
