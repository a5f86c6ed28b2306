// `npm run bench:libtorch` (issue 10): simclr's pretraining throughput on Debian's libtorch 1.13 against pip's
// libtorch 2.13, measured in one invocation, fp32 and `--precision bf16`, on the three cases of `npm run bench`.
// Both addons are built from the same sources (scripts/provision.sh with SIMCLR_LIBTORCH=system, then =pip; each
// copied to .cache/bench/addons/<choice> and reused while the sources and the libtorch are unchanged) and loaded by
// fresh processes through SIMCLR_ADDON_DIR. Engines and precisions alternate within each round (the order reverses
// every other round) so that other users' load hits all of them; img/s from the median step time of all measured
// steps, with the same ratio from CPU time per step beside it. The build left in native/build is the default one.
// Environment: BENCH_ROUNDS (default 2), BENCH_STEPS (measured steps per run, default 3), BENCH_THREADS (default:
// all cores), BENCH_OUT (default bench/results), BENCH_CASES (comma list of case ids), BENCH_PRECISIONS (fp32,bf16).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchData, type DataName } from './datasets.js';
import type { OursSpec, StepTimes } from './ours.js';
import type { TorchEnv } from '../src/torch/env.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const measured = Number(process.env.BENCH_STEPS ?? 3);
const threads = Number(process.env.BENCH_THREADS ?? availableParallelism());
const outDir = resolve(process.env.BENCH_OUT ?? join(ROOT, 'bench', 'results'));
const work = join(tmpdir(), `simclr-bench-libtorch-${process.pid}`);
const log = (msg: string): void => {
  process.stderr.write(`[bench:libtorch] ${msg}\n`);
};
const fmt = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '-');

interface CaseDef {
  id: string;
  title: string;
  data: DataName;
  width: number;
  batch: number;
  colorStrength: number;
  blur: boolean;
  precisions: readonly ('fp32' | 'bf16')[];
}

// The cases of bench/run.ts (stems follow the image size: CIFAR stem at 28-32 px, ImageNet stem at 96 px). No bf16
// on cifar32: on a CPU without AVX512-BF16, libtorch 1.13's bf16 convolutions at full width took minutes a step.
const CASES: readonly CaseDef[] = [
  {
    id: 'cifar32',
    title: 'ResNet-18, CIFAR stem, 32 px colour',
    data: 'cifar-like',
    width: 1,
    batch: 32,
    colorStrength: 0.5,
    blur: false,
    precisions: ['fp32'],
  },
  {
    id: 'gray28',
    title: 'ResNet-18 x0.25, 28 px grayscale (Fashion-MNIST)',
    data: 'fashion-mnist',
    width: 0.25,
    batch: 256,
    colorStrength: 0.5,
    blur: false,
    precisions: ['fp32', 'bf16'],
  },
  {
    id: 'colour96',
    title: 'ResNet-18 x0.25, 96 px colour, full colour distortion + blur',
    data: 'stl-like',
    width: 0.25,
    batch: 256,
    colorStrength: 1,
    blur: true,
    precisions: ['fp32', 'bf16'],
  },
];

type Choice = 'system' | 'pip';
interface Engine {
  choice: Choice;
  dir: string;
  version: string;
  /** From `simclr doctor`: ATen's CPU capability in use, BLAS, oneDNN. */
  capability: string;
  blas: string;
  onednn: string;
}

// The stamp scripts/provision.sh keeps in native/build/.simclr-stamp: sources plus the libtorch they build against.
function stampFor(choice: Choice): string {
  return execFileSync(process.execPath, [join(ROOT, 'scripts', 'find-libtorch.mjs'), 'stamp'], {
    env: { ...process.env, SIMCLR_LIBTORCH: choice },
    encoding: 'utf8',
  }).trim();
}

/** Builds (or reuses) the addon for one libtorch choice; returns where it lies and what it links. */
function engine(choice: Choice): Engine {
  const dir = join(ROOT, '.cache', 'bench', 'addons', choice);
  const read = (f: string): string => (existsSync(f) ? readFileSync(f, 'utf8').trim() : '');
  const stamp = stampFor(choice);
  if (read(join(dir, '.stamp')) !== stamp) {
    if (read(join(ROOT, 'native', 'build', '.simclr-stamp')) !== stamp) {
      log(`building the addon against SIMCLR_LIBTORCH=${choice}`);
      const r = spawnSync('bash', [join(ROOT, 'scripts', 'provision.sh')], {
        env: { ...process.env, SIMCLR_LIBTORCH: choice },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      if (r.status !== 0) throw new Error(`provision with SIMCLR_LIBTORCH=${choice} failed`);
    }
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dirname(dir), { recursive: true });
    cpSync(join(ROOT, 'native', 'build', 'Release'), dir, { recursive: true });
    writeFileSync(join(dir, '.stamp'), stamp);
  }
  // What `simclr doctor` reports for that build.
  const doctor = JSON.parse(
    execFileSync(process.execPath, [join(ROOT, 'dist', 'src', 'cli', 'main.js'), 'doctor', '--json'], {
      env: { ...process.env, SIMCLR_ADDON_DIR: dir },
      encoding: 'utf8',
    }),
  ) as { torch: TorchEnv };
  const t = doctor.torch;
  return {
    choice,
    dir,
    version: t.libtorch.version,
    capability: t.cpu.capability,
    blas: t.blas,
    onednn: t.onednn ?? 'none',
  };
}

/** Puts the default (pip) build back into native/build where a cached copy of it was used instead of a build. */
function restoreDefaultBuild(e: Engine): void {
  const stampFile = join(ROOT, 'native', 'build', '.simclr-stamp');
  const stamp = stampFor(e.choice);
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp) return;
  rmSync(join(ROOT, 'native', 'build', 'Release'), { recursive: true, force: true });
  cpSync(e.dir, join(ROOT, 'native', 'build', 'Release'), { recursive: true });
  rmSync(join(ROOT, 'native', 'build', 'Release', '.stamp'), { force: true });
  writeFileSync(stampFile, `${stamp}\n`);
  log(`native/build holds the default build again (libtorch ${e.version})`);
}

function ours(spec: OursSpec, e: Engine): StepTimes[] {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SIMCLR_ADDON_DIR: e.dir,
    OMP_WAIT_POLICY: 'PASSIVE',
    SIMCLR_NUM_THREADS: String(threads),
  };
  delete env.OMP_NUM_THREADS;
  const tcmalloc = [
    '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4',
    '/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4',
  ].find(existsSync);
  if (tcmalloc) env.LD_PRELOAD = tcmalloc;
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'bench', 'ours.js'), JSON.stringify(spec)], {
    env,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    timeout: 900_000,
  });
  if (r.status !== 0)
    throw new Error(
      `ours.js on libtorch ${e.version} failed (${r.status ?? r.signal}): ${(r.stderr ?? '').slice(-2000)}`,
    );
  const lines = r.stdout.trim().split('\n');
  return (JSON.parse(lines[lines.length - 1]!) as { steps: StepTimes[] }).steps;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Cell {
  imgPerSec: number;
  imgPerCpuSec: number;
  steps: number;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const loadStart = loadavg()[0]!;
  // The non-default first, so that the default build is the one left in native/build.
  const engines = [engine('system'), engine('pip')];
  if (engines[0]!.version === engines[1]!.version)
    throw new Error(
      `both builds link libtorch ${engines[0]!.version} (did pip fall back to Debian's? see .venv-torch.unavailable)`,
    );
  for (const e of engines)
    log(`${e.choice}: libtorch ${e.version}, CPU capability ${e.capability}, BLAS ${e.blas}, oneDNN ${e.onednn}`);
  const wanted = process.env.BENCH_CASES?.split(',');
  const cases = CASES.filter((c) => !wanted || wanted.includes(c.id));
  const onlyPrecisions = process.env.BENCH_PRECISIONS?.split(',');
  const results: { id: string; title: string; batch: number; cells: Record<string, Cell> }[] = [];
  for (const c of cases) {
    const data = benchData(c.data, join(ROOT, '.cache', 'bench'));
    const variants = engines.flatMap((e) =>
      c.precisions
        .filter((p) => !onlyPrecisions || onlyPrecisions.includes(p))
        .map((p) => ({ e, p, key: `${e.version} ${p}` })),
    );
    const collected = new Map<string, StepTimes[]>();
    for (let round = 0; round < rounds; round++) {
      for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
        const spec: OursSpec = {
          mode: 'e2e',
          data: data.spec,
          out: join(work, `${c.id}-${v.e.choice}-${v.p}-${round}`),
          width: c.width,
          batch: c.batch,
          warmup: 1,
          steps: measured,
          threads,
          precision: v.p,
          colorStrength: c.colorStrength,
          blur: c.blur,
          seed: 0,
        };
        const load = loadavg()[0]!;
        const steps = ours(spec, v.e);
        collected.set(v.key, [...(collected.get(v.key) ?? []), ...steps]);
        log(
          `${c.id} round ${round + 1} ${v.key}: ${fmt(c.batch / median(steps.map((s) => s.total)))} img/s (load ` +
            `${fmt(load, 2)})`,
        );
      }
    }
    const cells = Object.fromEntries(
      [...collected].map(([k, steps]) => [
        k,
        {
          imgPerSec: c.batch / median(steps.map((s) => s.total)),
          imgPerCpuSec: c.batch / median(steps.map((s) => s.cpu)),
          steps: steps.length,
        },
      ]),
    );
    results.push({ id: c.id, title: c.title, batch: c.batch, cells });
  }
  rmSync(work, { recursive: true, force: true });
  restoreDefaultBuild(engines[1]!);

  const [a, b] = engines as [Engine, Engine];
  const L: string[] = [];
  L.push(
    `Machine: ${cpus()[0]?.model ?? '?'}, ${availableParallelism()} cores; load average ${fmt(loadStart, 2)} at the ` +
      `start, ${fmt(loadavg()[0]!, 2)} at the end; ${threads} threads, tcmalloc, OMP_WAIT_POLICY=PASSIVE; ${rounds} ` +
      `rounds x ${measured} measured steps per variant; ${fmt((Date.now() - t0) / 1000, 0)} s in all.`,
  );
  L.push('');
  L.push(`| libtorch | source | CPU capability | BLAS | oneDNN |`);
  L.push('|---|---|---|---|---|');
  for (const e of engines)
    L.push(
      `| ${e.version} | ${e.choice === 'system' ? "Debian's libtorch-dev" : 'pip torch (.venv-torch)'} | ` +
        `${e.capability} | ${e.blas} | ${e.onednn} |`,
    );
  L.push('');
  L.push(`Images per second, ours end to end (median step; in brackets images per CPU-second):`);
  L.push('');
  const keys = engines.flatMap((e) => (['fp32', 'bf16'] as const).map((p) => `${e.version} ${p}`));
  L.push(
    `| case | batch | ${keys.join(' | ')} | ${b.version} / ${a.version} fp32 | ${b.version} / ${a.version} bf16 | ` +
      `bf16 / fp32 on ${a.version} | bf16 / fp32 on ${b.version} |`,
  );
  L.push(`|---|---:|${keys.map(() => '---:').join('|')}|---:|---:|---:|---:|`);
  for (const r of results) {
    const cell = (k: string): Cell | undefined => r.cells[k];
    const ratio = (x: string, y: string): string => {
      const cx = cell(x);
      const cy = cell(y);
      return cx && cy ? `${fmt(cx.imgPerSec / cy.imgPerSec, 2)} (${fmt(cx.imgPerCpuSec / cy.imgPerCpuSec, 2)})` : '-';
    };
    L.push(
      `| ${r.title} | ${r.batch} | ${keys
        .map((k) => {
          const x = cell(k);
          return x ? `${fmt(x.imgPerSec)} (${fmt(x.imgPerCpuSec)})` : '-';
        })
        .join(' | ')} | ${ratio(`${b.version} fp32`, `${a.version} fp32`)} | ${ratio(
        `${b.version} bf16`,
        `${a.version} bf16`,
      )} | ${ratio(`${a.version} bf16`, `${a.version} fp32`)} | ${ratio(`${b.version} bf16`, `${b.version} fp32`)} |`,
    );
  }
  const md = `${L.join('\n')}\n`;
  mkdirSync(outDir, { recursive: true });
  writeFileSync(
    join(outDir, 'libtorch.json'),
    JSON.stringify({ created: new Date().toISOString(), engines, results }, null, 2),
  );
  writeFileSync(join(outDir, 'libtorch.md'), md);
  process.stdout.write(md);
}

main().catch((e: unknown) => {
  process.stderr.write(`[bench:libtorch] error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
