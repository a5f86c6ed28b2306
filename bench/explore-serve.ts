// `simclr explore` end to end at scale: a synthetic IDX set of N 28 px gray images (default 100,000; 10 classes,
// each bright in its own band, with noise) and a ResNet-18 x0.25 run (its initial weights: the timings do not depend
// on training), prepared as the command prepares it (each phase timed), then served on loopback and queried over
// HTTP one request at a time: GET and POST /api/neighbors (p50/p99), /api/map, /api/embed, a thumbnail. A second
// start reads the caches the first wrote. Keeps OUT (default $TMPDIR/simclr-explore-bench-N) for reruns; with
// --serve it keeps serving afterwards (for measuring the page) until Ctrl-C.
// Run: node dist/bench/explore-serve.js [N] [OUT] [--serve]
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import * as torch from '../src/torch/index.js';
import { resolveConfig } from '../src/run/config.js';
import { buildModel, prepareRunDir, saveCheckpoint, writeFileAtomic, type RunConfigFile } from '../src/run/folder.js';
import { prepareExplore, type ExplorePhase } from '../src/explore/session.js';
import { startExploreServer } from '../src/explore/server.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const serve = process.argv.includes('--serve');
const n = Number(args[0] ?? 100_000);
const out = args[1] ?? join(tmpdir(), `simclr-explore-bench-${n}`);
const data = join(out, 'data');
const run = join(out, 'run');

function writeData(): void {
  mkdirSync(data, { recursive: true });
  let s = 12345;
  const random = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296;
  };
  const images = Buffer.alloc(16 + n * 784);
  images.writeUInt32BE(0x803, 0);
  images.writeUInt32BE(n, 4);
  images.writeUInt32BE(28, 8);
  images.writeUInt32BE(28, 12);
  const labels = Buffer.alloc(8 + n);
  labels.writeUInt32BE(0x801, 0);
  labels.writeUInt32BE(n, 4);
  for (let i = 0; i < n; i++) {
    const c = i % 10;
    labels[8 + i] = c;
    const band = Math.floor((c * 28) / 10);
    for (let p = 0; p < 784; p++) {
      const y = Math.floor(p / 28);
      images[16 + i * 784 + p] = Math.abs(y - band) <= 2 ? 160 + Math.floor(random() * 90) : Math.floor(random() * 70);
    }
  }
  writeFileSync(join(data, 'train-images-idx3-ubyte'), images);
  writeFileSync(join(data, 'train-labels-idx1-ubyte'), labels);
}

function writeRun(): void {
  const config = resolveConfig({ data: `mnist:${data}`, out: run, arch: 'resnet18', width: 0.25, seed: 0 });
  const input = { channels: 1, height: 28, width: 28 };
  const paths = prepareRunDir(run);
  const file: RunConfigFile = { config, input, created: new Date().toISOString(), libtorch: torch.version() };
  writeFileAtomic(paths.config, JSON.stringify(file));
  torch.manualSeed(0);
  const model = buildModel(config, input);
  saveCheckpoint(
    paths.checkpoint,
    model,
    { tensors: {}, meta: { optimizer: 'LARS', paramGroups: [], scalars: {} } },
    { step: 0, epoch: 0, stepInEpoch: 0 },
  );
  model.dispose();
}

async function prepare(label: string): Promise<Awaited<ReturnType<typeof prepareExplore>>> {
  const t0 = performance.now();
  const phases: string[] = [];
  const session = await prepareExplore({
    run,
    data: `mnist:${data}`,
    onPhase: (p: ExplorePhase, summary, ms) => phases.push(`${p} ${(ms / 1000).toFixed(1)} s (${summary})`),
  });
  console.log(`${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s in all: ${phases.join('; ')}`);
  return session;
}

async function timeRequests(count: number, send: (q: number) => Promise<Response>): Promise<string> {
  const times: number[] = [];
  for (let q = 0; q < count; q++) {
    const t0 = performance.now();
    const r = await send(q);
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const at = (p: number): string => times[Math.min(times.length - 1, Math.floor(p * times.length))]!.toFixed(2);
  return `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms (${count} requests)`;
}

if (!existsSync(join(data, 'train-labels-idx1-ubyte'))) writeData();
if (!existsSync(join(run, 'config.json'))) writeRun();
console.log(`${n} samples, threads ${torch.getNumThreads()}, ${out}`);
const first = await prepare('first start');
first.close();
const session = await prepare('second start (caches)');
const { app, url } = await startExploreServer(session, { host: '127.0.0.1', port: 0 });
const picks = (q: number): number => Math.floor(((q + 0.5) * n) / 300);
console.log(
  `GET /api/neighbors k=10: ${await timeRequests(300, (q) => fetch(`${url}api/neighbors?index=${picks(q)}&k=10`))}`,
);
const vector = JSON.stringify({
  embedding: Array.from({ length: session.info.dim }, (_, t) => Math.sin(t + 1)),
  k: 10,
});
console.log(
  `POST /api/neighbors k=10: ${await timeRequests(300, () =>
    fetch(`${url}api/neighbors`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: vector }),
  )}`,
);
const t0 = performance.now();
const map = await (await fetch(`${url}api/map`)).arrayBuffer();
console.log(`GET /api/map: ${(map.byteLength / 1e6).toFixed(1)} MB, first ${(performance.now() - t0).toFixed(0)} ms`);
console.log(`GET /api/map again: ${await timeRequests(5, () => fetch(`${url}api/map`))}`);
const png = await sharp(Buffer.alloc(784, 90), { raw: { width: 28, height: 28, channels: 1 } })
  .png()
  .toBuffer();
console.log(
  `POST /api/embed (28 px PNG): ${await timeRequests(50, () =>
    fetch(`${url}api/embed`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png }),
  )}`,
);
console.log(`GET /thumb: ${await timeRequests(100, (q) => fetch(`${url}thumb/${picks(q)}.png`))}`);
if (serve) {
  console.log(`serving ${url} (Ctrl-C stops)`);
  await new Promise((resolve) => process.once('SIGINT', resolve));
}
await app.close();
session.close();
