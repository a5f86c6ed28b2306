// Data-parallel throughput on this machine (Fashion-MNIST, 28 px):
//   pretrain  the whole step through pretrain() (data, augmentation, model, loss, gradient averaging, optimiser),
//             ResNet-18 x0.25 at a global batch of 256 images: 1 rank with all cores against 2 local ranks with the
//             cores split between them (as `simclr launch` does), with global and with per-rank BatchNorm
//   step      forward, loss, backward and gradient averaging on fixed views, full-width ResNet-18 (45 MB of
//             gradients, two buckets) at a global batch of 32: 2 ranks with the bucket all-reduces overlapping
//             backward against 2 ranks reducing after backward, and 1 rank for reference
// Variants alternate within each round (reversed every other round) so load from other users hits all of them;
// img/s is the global batch over the median measured step time. Prints a Markdown table.
// Environment: BENCH_ROUNDS (default 2), BENCH_STEPS (measured steps per run, default 4).
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { launch } from '../src/distributed/launch.js';
import type { DistBenchSpec } from './dist-rank.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const steps = Number(process.env.BENCH_STEPS ?? 4);
const cores = availableParallelism();
const here = dirname(fileURLToPath(import.meta.url));
const rankScript = join(here, `dist-rank${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`);
const work = mkdtempSync(join(tmpdir(), 'simclr-bench-dist-'));

// Ranks run under the allocator the CLI uses (tcmalloc where installed).
const TCMALLOC = [
  '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4',
  '/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4',
].find((p) => existsSync(p));
if (TCMALLOC !== undefined && process.env.LD_PRELOAD === undefined && process.env.SIMCLR_ALLOCATOR !== 'system')
  process.env.LD_PRELOAD = TCMALLOC;

interface Variant {
  name: string;
  ranks: 1 | 2;
  mode: DistBenchSpec['mode'];
  syncBn: boolean;
  overlap: boolean;
}

const SHAPE: Record<DistBenchSpec['mode'], { width: number; batch: number }> = {
  pretrain: { width: 0.25, batch: 256 },
  step: { width: 1, batch: 32 },
};

const VARIANTS: readonly Variant[] = [
  { name: 'pretrain, 1 rank', ranks: 1, mode: 'pretrain', syncBn: true, overlap: true },
  { name: 'pretrain, 2 ranks, global BN', ranks: 2, mode: 'pretrain', syncBn: true, overlap: true },
  { name: 'pretrain, 2 ranks, per-rank BN', ranks: 2, mode: 'pretrain', syncBn: false, overlap: true },
  { name: 'step, 1 rank', ranks: 1, mode: 'step', syncBn: true, overlap: true },
  { name: 'step, 2 ranks, overlap', ranks: 2, mode: 'step', syncBn: true, overlap: true },
  { name: 'step, 2 ranks, no overlap', ranks: 2, mode: 'step', syncBn: true, overlap: false },
];

async function run(v: Variant, out: string): Promise<number[]> {
  mkdirSync(out, { recursive: true });
  const spec: DistBenchSpec = {
    mode: v.mode,
    out,
    ...SHAPE[v.mode],
    warmup: 1,
    steps,
    syncBn: v.syncBn,
    overlap: v.overlap,
  };
  const argv = [process.execPath, ...process.execArgv, rankScript, JSON.stringify(spec)];
  if (v.ranks === 1) {
    const r = spawnSync(argv[0]!, argv.slice(1), {
      env: { ...process.env, SIMCLR_NUM_THREADS: String(cores) },
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`${v.name} failed:\n${r.stderr}`);
  } else {
    const lines: string[] = [];
    const r = await launch({
      nproc: 2,
      nnodes: 1,
      nodeRank: 0,
      masterAddr: '127.0.0.1',
      masterPort: null,
      timeoutS: 300,
      argv,
      log: (l) => lines.push(l),
    });
    if (r.exitCode !== 0) throw new Error(`${v.name} failed:\n${lines.join('\n')}`);
  }
  return (JSON.parse(readFileSync(join(out, 'bench-seconds.json'), 'utf8')) as { seconds: number[] }).seconds;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const seconds = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
const load: number[] = [];
try {
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
    for (const v of order) {
      load.push(loadavg()[0]!);
      const s = await run(v, join(work, `${round}-${v.name.replace(/[^a-z0-9]+/gi, '-')}`));
      seconds.get(v.name)!.push(...s);
      process.stderr.write(`round ${round + 1}: ${v.name}: ${s.map((x) => x.toFixed(2)).join(' ')} s\n`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const base = new Map<string, number>();
console.log(
  `\n${cpus()[0]?.model ?? 'cpu'}, ${cores} cores; ${rounds} rounds x ${steps} steps; 1-min load average during the ` +
    `runs ${Math.min(...load).toFixed(1)}-${Math.max(...load).toFixed(1)}`,
);
console.log('\n| variant | model, global batch | threads per rank | median step (s) | global img/s | vs 1 rank |');
console.log('|---|---|---|---|---|---|');
for (const v of VARIANTS) {
  const m = median(seconds.get(v.name)!);
  if (v.ranks === 1) base.set(v.mode, m);
  const threads = v.ranks === 1 ? cores : Math.max(1, Math.floor(cores / 2));
  const { width, batch } = SHAPE[v.mode];
  console.log(
    `| ${v.name} | ResNet-18 x${width}, ${batch} | ${threads} | ${m.toFixed(3)} | ${(batch / m).toFixed(1)} | ` +
      `${(base.get(v.mode)! / m).toFixed(2)}x |`,
  );
}
