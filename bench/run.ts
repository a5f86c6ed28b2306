// `npm run bench` (issue 6): SimCLR pretraining throughput of simclr against Python torch references on the same
// libtorch, measured in one invocation. Per case (same model, batch and threads everywhere):
//   ours            pretraining steps through simclr's pretrain() API (data, augmentation, model, loss, optimiser)
//   ours compute    the same step on fixed views (what the input pipeline costs is the gap to `ours`)
//   ours bf16       `--precision bf16` (CPU autocast, fp32 master weights, loss and BN statistics)
//   torch batched   Python torch with the same augmentations as batched tensor ops (bench/torch_pretrain.py, a port
//                   of simclr's tensor-op path; simclr itself runs the fused kernel, which gives the same views)
//   torch batched bf16  the same under torch.autocast(bfloat16): Python torch's own bf16 ratio, for comparison
//   torch PIL       Python torch with torchvision PIL transforms in a DataLoader with workers
// Every run is a fresh process. Variants alternate within each round (the order reverses every other round), so
// the load other users put on a shared machine hits all of them; img/s comes from the median step time of all
// measured steps of all rounds (the best step is reported too), with CPU time per step beside it. Also measured:
// allocator, OpenMP wait policy and thread count (runSettings), the idle core time a prefetch could use
// (bench/overlap.ts), the dtypes of a bf16 step, and weighted-kNN top-1 of the fp32 and bf16 runs. Writes JSON and
// Markdown (bench/PERFORMANCE.md explains the method and the results).
// Environment: BENCH_ROUNDS (default 2), BENCH_STEPS (measured steps per run, default 3), BENCH_THREADS (default:
// all cores), BENCH_OUT (default bench/results), BENCH_CASES (comma list of case ids), BENCH_SETTINGS_ROUNDS
// (default 2).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchData, type BenchData, type DataName } from './datasets.js';
import type { OursSpec, StepTimes } from './ours.js';
import type { OverlapRow } from './overlap.js';
import { DEBIAN_PYTHON, sameLibtorchPython } from './python.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
// The batched references run Python torch on the same libtorch as ours (bench/python.ts). The PIL DataLoader
// reference needs torchvision, which only Debian's Python has here (1.13): on the default build it runs on another
// libtorch, which the report says.
const PYTHON = sameLibtorchPython(['numpy']);
const LIBDIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu'];
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const measured = Number(process.env.BENCH_STEPS ?? 3);
const settingsRounds = Number(process.env.BENCH_SETTINGS_ROUNDS ?? 2);
const threads = Number(process.env.BENCH_THREADS ?? availableParallelism());
const outDir = resolve(process.env.BENCH_OUT ?? join(ROOT, 'bench', 'results'));
const work = join(tmpdir(), `simclr-bench-${process.pid}`);

interface CaseDef {
  id: string;
  title: string;
  data: DataName;
  width: number;
  stem: 'cifar' | 'imagenet';
  batch: number;
  colorStrength: number;
  blur: boolean;
  variants: readonly VariantName[];
}

type VariantName = 'ours' | 'ours compute' | 'ours bf16' | 'torch batched' | 'torch batched bf16' | 'torch PIL';

// Batches and variants are sized so that `npm run bench` stays under 10 minutes on a busy 2-core machine: bf16 on
// gray28 (where the kNN check is; on cifar32 it measured 0.3x fp32 at 12 s a step), PIL on the 96 px case.
const CASES: readonly CaseDef[] = [
  {
    id: 'cifar32',
    title: 'ResNet-18, CIFAR stem, 32 px colour',
    data: 'cifar-like',
    width: 1,
    stem: 'cifar',
    batch: 32,
    colorStrength: 0.5,
    blur: false,
    variants: ['ours', 'ours compute', 'torch batched'],
  },
  {
    id: 'gray28',
    title: 'ResNet-18 x0.25, 28 px grayscale (Fashion-MNIST)',
    data: 'fashion-mnist',
    width: 0.25,
    stem: 'cifar',
    batch: 256,
    colorStrength: 0.5,
    blur: false,
    // torch batched bf16: what autocast gives Python torch on the same libtorch and CPU, the yardstick for ours bf16.
    variants: ['ours', 'ours compute', 'ours bf16', 'torch batched', 'torch batched bf16'],
  },
  {
    id: 'colour96',
    title: 'ResNet-18 x0.25, 96 px colour, full colour distortion + blur',
    data: 'stl-like',
    width: 0.25,
    stem: 'imagenet',
    batch: 256,
    colorStrength: 1,
    blur: true,
    variants: ['ours', 'ours compute', 'torch batched', 'torch PIL'],
  },
];

// ------------------------------------------------------------------------------------------------ environment
function library(name: string): string | null {
  for (const dir of LIBDIRS) if (existsSync(join(dir, name))) return join(dir, name);
  return null;
}
const ALLOCATORS: Record<string, string | null> = {
  glibc: '',
  tcmalloc: library('libtcmalloc_minimal.so.4'),
  jemalloc: library('libjemalloc.so.2'),
};
/** simclr's CLI preloads tcmalloc where installed (src/cli/main.ts); the runs here do the same unless told otherwise.
 */
const DEFAULT_ALLOCATOR = ALLOCATORS.tcmalloc ? 'tcmalloc' : 'glibc';

interface RunEnv {
  allocator: string;
  /** OMP_WAIT_POLICY; '' leaves libgomp's default (spin, then sleep). */
  ompWait: string;
}
const STANDARD_ENV: RunEnv = { allocator: DEFAULT_ALLOCATOR, ompWait: 'PASSIVE' };

function childEnv(e: RunEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_WAIT_POLICY: e.ompWait, SIMCLR_NUM_THREADS: String(threads) };
  delete env.OMP_NUM_THREADS;
  const lib = ALLOCATORS[e.allocator];
  if (lib) env.LD_PRELOAD = lib;
  else delete env.LD_PRELOAD;
  return env;
}

function runChild(cmd: string, args: string[], env: RunEnv): Record<string, unknown> {
  const r = spawnSync(cmd, args, { env: childEnv(env), encoding: 'utf8', maxBuffer: 1 << 26, timeout: 900_000 });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args[0]} failed (${r.status ?? r.signal}): ${(r.stderr ?? '').slice(-2000)}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

function ours(spec: OursSpec, env: RunEnv = STANDARD_ENV): Record<string, unknown> {
  return runChild(process.execPath, [join(ROOT, 'dist', 'bench', 'ours.js'), JSON.stringify(spec)], env);
}

function torchRef(
  c: CaseDef,
  data: BenchData,
  mode: 'batched' | 'pil' | 'compute',
  precision: 'fp32' | 'bf16' = 'fp32',
  env: RunEnv = STANDARD_ENV,
): Record<string, unknown> {
  const spec = {
    mode,
    precision,
    threads,
    seed: 0,
    data: data.python,
    batch: c.batch,
    warmup: 1,
    steps: measured,
    width: c.width,
    stem: c.stem,
    color_strength: c.colorStrength,
    blur_p: c.blur ? 0.5 : 0,
    workers: threads,
  };
  return runChild(
    mode === 'pil' ? DEBIAN_PYTHON : PYTHON,
    [join(ROOT, 'bench', 'torch_pretrain.py'), JSON.stringify(spec)],
    env,
  );
}

function oursSpec(
  c: CaseDef,
  data: BenchData,
  mode: 'e2e' | 'compute',
  precision: 'fp32' | 'bf16',
  out: string,
): OursSpec {
  return {
    mode,
    data: data.spec,
    out,
    width: c.width,
    batch: c.batch,
    warmup: 1,
    steps: measured,
    threads,
    precision,
    colorStrength: c.colorStrength,
    blur: c.blur,
    seed: 0,
  };
}

// ------------------------------------------------------------------------------------------------ statistics
const PHASES = ['data', 'augment', 'forward', 'loss', 'backward', 'optimizer'] as const;

interface Summary {
  /** img/s from the median step time over every measured step of every round. */
  imgPerSec: number;
  /** img/s of the fastest step. */
  bestImgPerSec: number;
  /** Images per CPU-second (all threads and worker processes), from the median CPU time per step. */
  imgPerCpuSec: number;
  steps: number;
  /** Median seconds per phase. */
  phases: Record<(typeof PHASES)[number], number>;
  /** 1-minute load average when each run started (the machine is shared). */
  load: number[];
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function summarise(batch: number, runs: { steps: StepTimes[]; load: number }[]): Summary {
  const steps = runs.flatMap((r) => r.steps);
  const phases = Object.fromEntries(PHASES.map((p) => [p, median(steps.map((s) => s[p]))])) as Summary['phases'];
  return {
    imgPerSec: batch / median(steps.map((s) => s.total)),
    bestImgPerSec: batch / Math.min(...steps.map((s) => s.total)),
    imgPerCpuSec: batch / median(steps.map((s) => s.cpu)),
    steps: steps.length,
    phases,
    load: runs.map((r) => r.load),
  };
}

const fmt = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
const log = (msg: string): void => {
  process.stderr.write(`[bench] ${msg}\n`);
};

// ------------------------------------------------------------------------------------------------ the cases
interface CaseResult {
  id: string;
  title: string;
  batch: number;
  variants: Partial<Record<VariantName, Summary>>;
  ratios: Record<string, number>;
  /** The same ratios from CPU time per step, which other users' load disturbs much less. */
  cpuRatios: Record<string, number>;
  /** (data + augment) / step of ours end to end, from its phase split. */
  inputShare: number;
}

const RATIOS: readonly [string, VariantName, VariantName][] = [
  ['ours / torch batched', 'ours', 'torch batched'],
  ['ours / ours compute', 'ours', 'ours compute'],
  ['ours / torch PIL', 'ours', 'torch PIL'],
  ['ours bf16 / ours', 'ours bf16', 'ours'],
  ['torch bf16 / torch', 'torch batched bf16', 'torch batched'],
];

/** Run folders of the first round's end-to-end runs, by `${case} ${variant}`, for the kNN comparison. */
const runDirs = new Map<string, string>();

function runCase(c: CaseDef): CaseResult {
  const data = benchData(c.data, join(ROOT, '.cache', 'bench'));
  const collected = new Map<VariantName, { steps: StepTimes[]; load: number }[]>();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? c.variants : [...c.variants].reverse();
    for (const v of order) {
      const load = loadavg()[0]!;
      const out = join(work, `${c.id}-${v.replace(/ /g, '-')}-${round}`);
      const r =
        v === 'ours'
          ? ours(oursSpec(c, data, 'e2e', 'fp32', out))
          : v === 'ours compute'
            ? ours(oursSpec(c, data, 'compute', 'fp32', out))
            : v === 'ours bf16'
              ? ours(oursSpec(c, data, 'e2e', 'bf16', out))
              : v === 'torch batched bf16'
                ? torchRef(c, data, 'batched', 'bf16')
                : torchRef(c, data, v === 'torch batched' ? 'batched' : 'pil');
      const steps = r.steps as StepTimes[];
      if (!collected.has(v)) collected.set(v, []);
      collected.get(v)!.push({ steps, load });
      log(
        `${c.id} round ${round + 1} ${v}: ${fmt(c.batch / median(steps.map((s) => s.total)))} img/s (load ` +
          `${fmt(load, 2)})`,
      );
      if (round === 0) runDirs.set(`${c.id} ${v}`, out);
    }
  }
  const variants: CaseResult['variants'] = {};
  for (const [v, runs] of collected) variants[v] = summarise(c.batch, runs);
  const ratio = (key: 'imgPerSec' | 'imgPerCpuSec'): Record<string, number> =>
    Object.fromEntries(RATIOS.map(([name, a, b]) => [name, (variants[a]?.[key] ?? NaN) / (variants[b]?.[key] ?? NaN)]));
  const p = variants.ours?.phases;
  const inputShare = p ? (p.data + p.augment) / PHASES.reduce((sum, k) => sum + p[k], 0) : NaN;
  return {
    id: c.id,
    title: c.title,
    batch: c.batch,
    variants,
    ratios: ratio('imgPerSec'),
    cpuRatios: ratio('imgPerCpuSec'),
    inputShare,
  };
}

// Allocator and OpenMP wait policy, chosen by measurement: simclr end to end under each setting on one case.
interface SettingResult {
  name: string;
  env: RunEnv;
  threads: number;
  summary: Summary;
}

function runSettings(c: CaseDef): SettingResult[] {
  const data = benchData(c.data, join(ROOT, '.cache', 'bench'));
  const settings: { name: string; env: RunEnv; threads: number }[] = [
    { name: `${DEFAULT_ALLOCATOR}, OMP_WAIT_POLICY=PASSIVE (simclr's default)`, env: STANDARD_ENV, threads },
    { name: 'glibc malloc, PASSIVE', env: { allocator: 'glibc', ompWait: 'PASSIVE' }, threads },
    ...(ALLOCATORS.jemalloc
      ? [{ name: 'jemalloc, PASSIVE', env: { allocator: 'jemalloc', ompWait: 'PASSIVE' }, threads }]
      : []),
    {
      name: `${DEFAULT_ALLOCATOR}, libgomp's default wait policy (spin, then sleep)`,
      env: { allocator: DEFAULT_ALLOCATOR, ompWait: '' },
      threads,
    },
    ...(threads > 1 ? [{ name: `${DEFAULT_ALLOCATOR}, PASSIVE, 1 thread`, env: STANDARD_ENV, threads: 1 }] : []),
  ];
  const collected = settings.map(() => [] as { steps: StepTimes[]; load: number }[]);
  for (let round = 0; round < settingsRounds; round++) {
    const order = settings.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    for (const i of order) {
      const s = settings[i]!;
      const load = loadavg()[0]!;
      const spec = { ...oursSpec(c, data, 'e2e', 'fp32', join(work, `settings-${i}-${round}`)), threads: s.threads };
      const steps = ours(spec, s.env).steps as StepTimes[];
      collected[i]!.push({ steps, load });
      log(
        `settings round ${round + 1} ${s.name}: ${fmt(c.batch / median(steps.map((t) => t.total)))} img/s (load ` +
          `${fmt(load, 2)})`,
      );
    }
  }
  return settings.map((s, i) => ({ ...s, summary: summarise(c.batch, collected[i]!) }));
}

// ------------------------------------------------------------------------------------------------ report
interface Target {
  what: string;
  /** From median wall-clock step times. */
  value: number;
  /** The same from CPU time per step. */
  cpuValue: number;
  goal: string;
  met: boolean;
}

function targets(cases: CaseResult[], knn: Report['knn']): Target[] {
  const t: Target[] = [];
  const add = (c: CaseResult, ratio: string, what: string, min: number): void => {
    const value = c.ratios[ratio]!;
    if (Number.isFinite(value))
      t.push({ what: `${c.id}: ${what}`, value, cpuValue: c.cpuRatios[ratio]!, goal: `>= ${min}`, met: value >= min });
  };
  for (const c of cases) {
    add(c, 'ours / torch batched', 'ours / torch batched', 1);
    add(c, 'ours / ours compute', 'ours / ours compute-only', 0.95);
    if (c.id === 'colour96') add(c, 'ours / torch PIL', 'ours / torch PIL DataLoader', 1.2);
    add(c, 'ours bf16 / ours', 'ours bf16 / ours fp32', 1.8);
  }
  if (knn) {
    const diff = (knn.bf16 - knn.fp32) * 100;
    t.push({
      what: `gray28: kNN top-1 after ${knn.steps} steps, bf16 - fp32 (points)`,
      value: diff,
      cpuValue: NaN,
      goal: '>= -1',
      met: diff >= -1,
    });
  }
  return t;
}

function markdown(r: Report): string {
  const L: string[] = [];
  const m = r.machine;
  L.push(
    `Machine: ${m.cpu} (${m.isa}), ${m.cores} cores, ${m.memoryGiB} GiB, shared with other users (1-minute load ` +
      `average ${fmt(m.loadStart, 2)} at the start, ${fmt(m.loadEnd, 2)} at the end). libtorch ${m.libtorch}, Node ` +
      `${m.node}, Python torch ${m.pythonTorch}.`,
  );
  L.push('');
  L.push(
    `Settings: ${r.settings.threads} threads for every variant; ${r.settings.rounds} rounds x ${r.settings.steps} ` +
      `measured steps per variant after 1 warm-up step, variants alternating; allocator ${r.settings.allocator} and ` +
      `OMP_WAIT_POLICY=PASSIVE for ours and the Python references alike. ${fmt(r.wallSeconds, 0)} s in all.`,
  );
  L.push('');
  L.push('Images per second (source images, two views each; median step time, best step in brackets):');
  L.push('');
  const names: VariantName[] = [
    'ours',
    'ours compute',
    'ours bf16',
    'torch batched',
    'torch batched bf16',
    'torch PIL',
  ];
  L.push(`| case | batch | ${names.join(' | ')} |`);
  L.push(`|---|---:|${names.map(() => '---:').join('|')}|`);
  for (const c of r.cases) {
    L.push(
      `| ${c.title} | ${c.batch} | ${names
        .map((n) => {
          const s = c.variants[n];
          return s ? `${fmt(s.imgPerSec)} (${fmt(s.bestImgPerSec)})` : '-';
        })
        .join(' | ')} |`,
    );
  }
  L.push('');
  L.push(
    'Ratios of the medians; in brackets the same ratio from CPU time per step (all threads and worker processes), ' +
      "which the machine's other load disturbs much less:",
  );
  L.push('');
  L.push(`| case | ${RATIOS.map(([n]) => n).join(' | ')} | input pipeline share of ours |`);
  L.push(`|---|${RATIOS.map(() => '---:').join('|')}|---:|`);
  for (const c of r.cases) {
    L.push(
      `| ${c.id} | ${RATIOS.map(([n]) =>
        Number.isFinite(c.ratios[n]!) ? `${fmt(c.ratios[n]!, 2)} (${fmt(c.cpuRatios[n]!, 2)})` : '-',
      ).join(' | ')} | ${fmt(c.inputShare * 100, 1)}% |`,
    );
  }
  L.push('');
  L.push('Where a step goes: median ms per phase (share of the phase sum).');
  for (const variant of ['ours', 'torch batched', 'ours bf16', 'torch batched bf16', 'torch PIL'] as const) {
    const rows = r.cases.filter((c) => c.variants[variant]);
    if (rows.length === 0) continue;
    L.push('');
    L.push(`${variant}:`);
    L.push('');
    L.push(`| case | ${PHASES.join(' | ')} |`);
    L.push(`|---|${PHASES.map(() => '---:').join('|')}|`);
    for (const c of rows) {
      const s = c.variants[variant]!;
      const total = PHASES.reduce((a, p) => a + s.phases[p], 0);
      L.push(
        `| ${c.id} | ${PHASES.map((p) => `${fmt(s.phases[p] * 1e3, 0)} (${fmt((s.phases[p] / total) * 100, 0)}%)`).join(
          ' | ',
        )} |`,
      );
    }
  }
  if (r.settingsStudy.length > 0) {
    L.push('');
    L.push(
      `Runtime settings, ours end to end on ${r.settingsCase} (${r.settings.settingsRounds} round(s) x ` +
        `${r.settings.steps} steps):`,
    );
    L.push('');
    L.push('| setting | img/s | vs default | img per CPU-s |');
    L.push('|---|---:|---:|---:|');
    const base = r.settingsStudy[0]!.summary.imgPerSec;
    for (const s of r.settingsStudy)
      L.push(
        `| ${s.name} | ${fmt(s.summary.imgPerSec)} | ${fmt(s.summary.imgPerSec / base, 2)} | ` +
          `${fmt(s.summary.imgPerCpuSec)} |`,
      );
  }
  L.push('');
  L.push(
    "Could step t+1's augmentation run while step t computes? Core time the compute step leaves idle (main thread " +
      "CPU minus OpenMP worker CPU, per step) against the augmentation's CPU time (bench/overlap.ts):",
  );
  L.push('');
  L.push('| case | compute step wall s | idle core-s | augmentation CPU-s | hideable share of the augmentation |');
  L.push('|---|---:|---:|---:|---:|');
  for (const o of r.overlap)
    L.push(
      `| ${o.case} | ${fmt(o.computeWall, 3)} | ${fmt(o.idleCoreSeconds, 3)} | ${fmt(o.augmentCpu, 3)} | ` +
        `${fmt(Math.min(1, o.idleCoreSeconds / o.augmentCpu) * 100, 0)}% |`,
    );
  if (r.bf16Dtypes) {
    L.push('');
    L.push(
      `bf16 (one step of the loop's code): ${Object.entries(r.bf16Dtypes)
        .map(([k, v]) => `${k} ${v.join('/')}`)
        .join('; ')}.`,
    );
  }
  if (r.knn) {
    L.push('');
    L.push(
      `Weighted kNN (k=200, T=0.1; 10k train / 2k test Fashion-MNIST images) after the same ${r.knn.steps}-step ` +
        `gray28 run (seed, data order, augmentations): fp32 top-1 ${fmt(r.knn.fp32 * 100, 2)}%, bf16 ` +
        `${fmt(r.knn.bf16 * 100, 2)}%.`,
    );
  }
  L.push('');
  L.push('| target | measured (CPU-time basis) | goal | met |');
  L.push('|---|---:|---:|:---:|');
  for (const t of r.targets)
    L.push(
      `| ${t.what} | ${fmt(t.value, 2)}${Number.isFinite(t.cpuValue) ? ` (${fmt(t.cpuValue, 2)})` : ''} | ${t.goal} ` +
        `| ${t.met ? 'yes' : 'no'} |`,
    );
  return `${L.join('\n')}\n`;
}

interface Report {
  created: string;
  machine: {
    cpu: string;
    isa: string;
    cores: number;
    memoryGiB: number;
    node: string;
    libtorch: string;
    pythonTorch: string;
    loadStart: number;
    loadEnd: number;
  };
  settings: { threads: number; rounds: number; steps: number; settingsRounds: number; allocator: string };
  cases: CaseResult[];
  settingsCase: string;
  settingsStudy: SettingResult[];
  overlap: OverlapRow[];
  bf16Dtypes: Record<string, string[]> | null;
  knn: { steps: number; fp32: number; bf16: number } | null;
  targets: Target[];
  wallSeconds: number;
}

/** The CPU features that decide bf16 speed: AVX-512 BF16 dot products, AMX tiles. */
function isa(): string {
  const flags = existsSync('/proc/cpuinfo')
    ? (readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '').split(' ')
    : [];
  const has = (f: string): string => (flags.includes(f) ? 'yes' : 'no');
  return `AVX-512 ${has('avx512f')}, AVX-512 BF16 ${has('avx512_bf16')}, AMX ${has('amx_tile')}`;
}

// ------------------------------------------------------------------------------------------------ main
const started = Date.now();
const loadStart = loadavg()[0]!;
mkdirSync(work, { recursive: true });
const chosen = process.env.BENCH_CASES
  ? CASES.filter((c) => process.env.BENCH_CASES!.split(',').includes(c.id))
  : CASES;
try {
  const cases = chosen.map((c) => runCase(c));
  const settingsCase = chosen.find((c) => c.id === 'colour96') ?? chosen[0]!;
  const settingsStudy = runSettings(settingsCase);
  const overlap = runChild(
    process.execPath,
    [join(ROOT, 'dist', 'bench', 'overlap.js'), '--json', ...chosen.map((c) => c.id)],
    STANDARD_ENV,
  ).rows as OverlapRow[];
  const gray = CASES.find((c) => c.id === 'gray28')!;
  const grayData = benchData('fashion-mnist', join(ROOT, '.cache', 'bench'));
  const bf16Dtypes = ours({
    ...oursSpec(gray, grayData, 'e2e', 'bf16', join(work, 'dtypes')),
    mode: 'dtypes',
    batch: 32,
  }).dtypes as Record<string, string[]>;
  // The first round's fp32 and bf16 gray28 runs: same seed, data order, augmentations and steps. (bf16 steps cost
  // 10x fp32 ones here, so a longer dedicated run would not fit the time budget.)
  let knn: Report['knn'] = null;
  const fp32Run = runDirs.get('gray28 ours');
  const bf16Run = runDirs.get('gray28 ours bf16');
  if (fp32Run && bf16Run) {
    const top1 = (out: string): number =>
      ours({ ...oursSpec(gray, grayData, 'e2e', 'fp32', out), mode: 'knn' }).top1 as number;
    knn = { steps: 1 + measured, fp32: top1(fp32Run), bf16: top1(bf16Run) };
    log(`kNN top-1 after ${knn.steps} steps: fp32 ${fmt(knn.fp32 * 100, 2)}%, bf16 ${fmt(knn.bf16 * 100, 2)}%`);
  }
  const pyVersion = (python: string): string =>
    spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).stdout?.trim() ?? '?';
  const py = {
    stdout:
      PYTHON === DEBIAN_PYTHON
        ? pyVersion(PYTHON)
        : `${pyVersion(PYTHON)} (batched, .venv-torch), ${pyVersion(DEBIAN_PYTHON)} (PIL DataLoader, Debian's ` +
          `python3-torch)`,
  };
  const probe = spawnSync(
    process.execPath,
    ['-e', `import('${join(ROOT, 'dist', 'src', 'torch', 'index.js')}').then((t) => console.log(t.version()))`],
    { encoding: 'utf8' },
  );
  const report: Report = {
    created: new Date().toISOString(),
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      isa: isa(),
      cores: availableParallelism(),
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      libtorch: probe.stdout.trim(),
      pythonTorch: py.stdout.trim(),
      loadStart,
      loadEnd: loadavg()[0]!,
    },
    settings: { threads, rounds, steps: measured, settingsRounds, allocator: DEFAULT_ALLOCATOR },
    cases,
    settingsCase: settingsCase.id,
    settingsStudy,
    overlap,
    bf16Dtypes,
    knn,
    targets: targets(cases, knn),
    wallSeconds: (Date.now() - started) / 1000,
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'bench.json'), `${JSON.stringify(report, null, 2)}\n`);
  const md = markdown(report);
  writeFileSync(join(outDir, 'bench.md'), md);
  process.stdout.write(md);
  log(`wrote ${join(outDir, 'bench.json')} and bench.md in ${fmt(report.wallSeconds, 0)} s`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
