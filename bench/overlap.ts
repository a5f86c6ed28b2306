// Would preparing step t+1's views while step t computes pay on this machine? (the design measurement behind
// bench/PERFORMANCE.md, "Prefetch"). A concurrent augmentation only gains the core time that compute leaves
// idle. With OMP_WAIT_POLICY=PASSIVE an OpenMP worker sleeps outside parallel regions, so per step
//   idle core-seconds ~= (main thread CPU - OpenMP worker CPU)     (2 threads: the main thread is always busy)
// which, unlike wall time, other users' load hardly disturbs. Compared with the augmentation's own CPU-seconds
// per step, it bounds what any prefetch (worker thread or process) could hide.
// Usage: node dist/bench/overlap.js [--json] [case ...]   (cases: cifar32 gray28 colour96; default all)
import { readdirSync, readFileSync } from 'node:fs';
import * as torch from '../src/torch/index.js';
import { resolveConfig } from '../src/run/config.js';
import { buildModel } from '../src/run/folder.js';
import { openDataset } from '../src/data/spec.js';
import { defaultAugmentConfig } from '../src/augment/params.js';
import { createViewBatch } from '../src/augment/apply.js';
import { ntXentWithAccuracy } from '../src/loss/ntxent.js';
import { LARS, larsParamGroups } from '../src/optim/index.js';
import { benchData, type DataName } from './datasets.js';

const CASES: Record<string, { data: DataName; width: number; batch: number; colorStrength: number; blur: boolean }> = {
  cifar32: { data: 'cifar-like', width: 1, batch: 32, colorStrength: 0.5, blur: false },
  gray28: { data: 'fashion-mnist', width: 0.25, batch: 256, colorStrength: 0.5, blur: false },
  colour96: { data: 'stl-like', width: 0.25, batch: 256, colorStrength: 1, blur: true },
};
const REPEATS = 3;
const TICKS = 100; // USER_HZ: /proc's unit of CPU time

/** CPU seconds of every thread of this process, by thread id. */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(')').pop()!.trim().split(' ');
    out.set(tid, (Number(fields[11]) + Number(fields[12])) / TICKS);
  }
  return out;
}

/** Per repetition of fn: wall seconds, the main thread's CPU seconds and the busiest other thread's. */
function measure(fn: () => void): { wall: number; main: number; worker: number; total: number } {
  const before = threadCpu();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < REPEATS; i++) fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9 / REPEATS;
  const after = threadCpu();
  const used = [...after].map(([tid, cpu]) => [tid, (cpu - (before.get(tid) ?? 0)) / REPEATS] as const);
  const main = used.find(([tid]) => tid === String(process.pid))![1];
  const others = used.filter(([tid]) => tid !== String(process.pid)).map(([, cpu]) => cpu);
  return { wall, main, worker: Math.max(0, ...others), total: main + others.reduce((a, b) => a + b, 0) };
}

export interface OverlapRow {
  case: string;
  computeWall: number;
  mainCpu: number;
  workerCpu: number;
  /** Core-seconds per step that compute leaves idle: the most a concurrent augmentation could use for free. */
  idleCoreSeconds: number;
  augmentCpu: number;
}

const json = process.argv.includes('--json');
const chosen = process.argv.slice(2).filter((a) => a !== '--json');
const fmt = (x: number): string => x.toFixed(3);
const rows: OverlapRow[] = [];
if (!json) {
  console.log(`threads ${torch.getNumThreads()}; ${REPEATS} repetitions; seconds per step`);
  console.log('case       compute: wall  main CPU  worker CPU  idle core-s | augment: CPU-s | idle / augment');
}
for (const id of chosen.length > 0 ? chosen : Object.keys(CASES)) {
  const c = CASES[id];
  if (!c) throw new Error(`unknown case ${id}; expected one of ${Object.keys(CASES).join(', ')}`);
  const data = benchData(c.data, '.cache/bench');
  const cfg = resolveConfig({
    data: data.spec,
    out: 'unused',
    width: c.width,
    colorStrength: c.colorStrength,
    blur: c.blur,
  });
  const ds = await openDataset(cfg.data, { split: 'train' });
  const shape = [c.batch, ds.channels, ds.height, ds.width];
  const bytes = new Uint8Array(c.batch * ds.channels * ds.height * ds.width);
  const indices = Uint32Array.from({ length: c.batch }, (_, i) => i);
  ds.readBatch(indices, bytes);
  const aug = defaultAugmentConfig(ds.height, ds.channels === 1);
  aug.colorStrength = c.colorStrength;
  if (!c.blur) aug.blurP = 0;
  const images = torch.tensor(bytes, { shape }).keep();
  const augment = (): torch.Tensor =>
    createViewBatch(images, aug, { seed: 0, epoch: 0, indices }, { memoryFormat: 'channelsLast' });
  const model = buildModel(cfg, { channels: ds.channels, height: ds.height }).train();
  const optimizer = new LARS(larsParamGroups(model.namedParameters(), { weightDecay: cfg.weightDecay }), { lr: 0.1 });
  const x = augment().keep();
  const step = (): void =>
    torch.scope(() => {
      const [z1, z2] = model.call(x).z.chunk(2);
      const r = ntXentWithAccuracy(z1!, z2!);
      r.loss.item();
      optimizer.zeroGrad();
      r.loss.backward();
      optimizer.step();
    });
  step();
  const compute = measure(step);
  const augmentation = measure(() => augment().dispose());
  const idle = Math.max(0, compute.main - compute.worker);
  rows.push({
    case: id,
    computeWall: compute.wall,
    mainCpu: compute.main,
    workerCpu: compute.worker,
    idleCoreSeconds: idle,
    augmentCpu: augmentation.total,
  });
  if (!json)
    console.log(
      `${id.padEnd(10)} ${fmt(compute.wall).padStart(13)} ${fmt(compute.main).padStart(9)} ` +
        `${fmt(compute.worker).padStart(11)} ${fmt(idle).padStart(12)} | ${fmt(augmentation.total).padStart(14)} | ` +
        `${(idle / augmentation.total).toFixed(2).padStart(14)}`,
    );
  model.dispose();
  x.dispose();
  images.dispose();
  ds.close();
}
if (json) console.log(JSON.stringify({ rows }));
