// One benchmark run of simclr in a fresh process (bench/run.ts starts it with the allocator and OpenMP settings
// under test). Modes:
//   e2e      pretraining steps through the library's pretrain() API: data, augmentation, model, loss, optimiser
//   compute  the same step on fixed pre-made views: forward, loss, backward and optimiser only
//   knn      weighted-kNN top-1 of a finished run's encoder on Fashion-MNIST
//   dtypes   one bf16 step as the loop runs it, reporting the dtype of everything that must stay float32
// Prints one JSON object: per-step phase times in seconds (after warm-up), the kNN result or the dtypes.
import * as torch from '../src/torch/index.js';
import { pretrain, type StepPhases } from '../src/train/pretrain.js';
import { resolveConfig, type PretrainConfig } from '../src/run/config.js';
import { buildModel, loadRunModel } from '../src/run/folder.js';
import { openDataset } from '../src/data/spec.js';
import { defaultAugmentConfig } from '../src/augment/params.js';
import { createTwoViews } from '../src/augment/apply.js';
import { ntXentWithAccuracy } from '../src/loss/ntxent.js';
import { LARS, larsParamGroups } from '../src/optim/index.js';
import { scaledLearningRate } from '../src/optim/schedule.js';
import { knnMonitor } from '../src/features/knn.js';

export interface OursSpec {
  mode: 'e2e' | 'compute' | 'knn' | 'dtypes';
  data: string;
  out: string;
  width: number;
  batch: number;
  warmup: number;
  steps: number;
  threads: number;
  precision: 'fp32' | 'bf16';
  colorStrength: number;
  blur: boolean;
  seed: number;
}

/** Seconds; `cpu` is the process's CPU time (all threads), which other users' load inflates far less than wall time. */
export type StepTimes = StepPhases & { total: number; cpu: number };

const now = (): number => Number(process.hrtime.bigint()) / 1e9;
const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

function config(s: OursSpec): PretrainConfig {
  // Many epochs so that maxSteps, not the end of the schedule, ends the run.
  return resolveConfig({
    data: s.data,
    out: s.out,
    arch: 'resnet18',
    width: s.width,
    batchSize: s.batch,
    epochs: 1000,
    maxSteps: s.warmup + s.steps,
    logSteps: 1000,
    threads: s.threads,
    precision: s.precision,
    colorStrength: s.colorStrength,
    blur: s.blur,
    seed: s.seed,
  });
}

async function endToEnd(s: OursSpec): Promise<StepTimes[]> {
  const rows: StepTimes[] = [];
  let last = now();
  let lastCpu = cpuNow();
  await pretrain(config(s), {
    onProgress: (p) => {
      const t = now();
      const c = cpuNow();
      rows.push({ ...p.phases, total: t - last, cpu: c - lastCpu });
      last = t;
      lastCpu = c;
    },
  });
  return rows.slice(s.warmup);
}

// The training step (src/train/step.ts, as the loop in src/train/loop.ts calls it) with the views made once: what a
// step costs when the input
// pipeline is free. Keep it in step with the loop.
async function computeOnly(s: OursSpec): Promise<StepTimes[]> {
  const cfg = config(s);
  torch.setNumThreads(s.threads);
  const ds = await openDataset(cfg.data, { split: 'train' });
  const input = { channels: ds.channels, height: ds.height, width: ds.width };
  const bytes = new Uint8Array(s.batch * ds.channels * ds.height * ds.width);
  const indices = Uint32Array.from({ length: s.batch }, (_, i) => i);
  ds.readBatch(indices, bytes);
  ds.close();
  torch.manualSeed(cfg.seed);
  const model = buildModel(cfg, input).train();
  const optimizer = new LARS(larsParamGroups(model.namedParameters(), { weightDecay: cfg.weightDecay }), {
    lr: scaledLearningRate(s.batch),
  });
  const aug = defaultAugmentConfig(ds.height, ds.channels === 1);
  aug.colorStrength = cfg.colorStrength;
  if (!cfg.blur) aug.blurP = 0;
  const x = torch
    .scope(() => {
      const [v1, v2] = createTwoViews(
        torch.tensor(bytes, { shape: [s.batch, ds.channels, ds.height, ds.width] }),
        aug,
        { seed: cfg.seed, epoch: 0, indices },
      );
      return torch.cat([v1, v2]).contiguous('channelsLast');
    })
    .keep();
  const rows: StepTimes[] = [];
  for (let step = 0; step < s.warmup + s.steps; step++) {
    const t0 = now();
    const c0 = cpuNow();
    let t1 = 0,
      t2 = 0,
      t3 = 0;
    torch.scope(() => {
      const forward = (): torch.Tensor => model.call(x).z;
      const z = (cfg.precision === 'bf16' ? torch.autocast('cpu', 'bfloat16', forward) : forward()).float();
      t1 = now();
      const [z1, z2] = z.chunk(2);
      const r = ntXentWithAccuracy(z1!, z2!, { temperature: cfg.temperature });
      r.loss.item();
      r.contrastiveAccuracy.item();
      t2 = now();
      optimizer.zeroGrad();
      r.loss.backward();
      t3 = now();
      optimizer.step();
    });
    const t4 = now();
    rows.push({
      data: 0,
      augment: 0,
      forward: t1 - t0,
      loss: t2 - t1,
      backward: t3 - t2,
      optimizer: t4 - t3,
      total: t4 - t0,
      cpu: cpuNow() - c0,
    });
  }
  model.dispose();
  x.dispose();
  return rows.slice(s.warmup);
}

/** What `--precision bf16` computes in bf16 and what it keeps in float32, read off one step of the loop's code. */
async function dtypes(s: OursSpec): Promise<Record<string, string[]>> {
  const cfg = config(s);
  const ds = await openDataset(cfg.data, { split: 'train' });
  const bytes = new Uint8Array(s.batch * ds.channels * ds.height * ds.width);
  ds.readBatch(
    Uint32Array.from({ length: s.batch }, (_, i) => i),
    bytes,
  );
  const model = buildModel(cfg, { channels: ds.channels, height: ds.height }).train();
  const optimizer = new LARS(larsParamGroups(model.namedParameters(), { weightDecay: cfg.weightDecay }), { lr: 0.1 });
  const seen: Record<string, Set<string>> = {};
  const note = (what: string, t: torch.Tensor): void => {
    seen[what] ??= new Set();
    seen[what].add(t.dtype);
  };
  torch.scope(() => {
    const x = torch
      .tensor(bytes, { shape: [s.batch, ds.channels, ds.height, ds.width] })
      .float()
      .div(255)
      .contiguous('channelsLast');
    const out = torch.autocast('cpu', 'bfloat16', () => model.call(x));
    note('encoder features h (autocast)', out.h);
    note('projections z (autocast)', out.z);
    const z = out.z.float();
    const [z1, z2] = z.chunk(2);
    const r = ntXentWithAccuracy(z1!, z2!, { temperature: cfg.temperature });
    note('loss', r.loss);
    optimizer.zeroGrad();
    r.loss.backward();
    for (const [, p] of model.namedParameters()) {
      note('parameters (master weights)', p);
      const g = p.grad;
      if (g) note('gradients', g);
    }
    optimizer.step();
    for (const t of Object.values(optimizer.stateDict().tensors)) note('optimizer state', t);
    for (const [name, b] of model.namedBuffers())
      if (name.endsWith('running_mean') || name.endsWith('running_var')) note('BatchNorm running statistics', b);
  });
  ds.close();
  model.dispose();
  return Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, [...v]]));
}

async function knn(s: OursSpec): Promise<{ top1: number; top5: number; trainCount: number; testCount: number }> {
  torch.setNumThreads(s.threads);
  const { model } = loadRunModel(s.out);
  const [train, test] = await Promise.all([
    openDataset(s.data, { split: 'train' }),
    openDataset(s.data, { split: 'test' }),
  ]);
  const r = knnMonitor(model.encoder, train, test, { trainSamples: 10000, testSamples: 2000, seed: 0 });
  model.dispose();
  return { top1: r.top1, top5: r.top5, trainCount: r.trainCount, testCount: r.testCount };
}

const spec = JSON.parse(process.argv[2]!) as OursSpec;
const result =
  spec.mode === 'knn'
    ? await knn(spec)
    : spec.mode === 'dtypes'
      ? { dtypes: await dtypes(spec) }
      : { steps: await (spec.mode === 'e2e' ? endToEnd(spec) : computeOnly(spec)) };
process.stdout.write(`${JSON.stringify({ ...result, threads: torch.getNumThreads(), libtorch: torch.version() })}\n`);
