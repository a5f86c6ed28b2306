// One run of a study: a cell's pretraining at one seed, in its own run folder (resumed from its checkpoint when a
// killed study left one), then kNN (and optionally linear) evaluation of the encoder on a held-out split, recorded
// atomically in one result file. Runs in a study worker process's training thread (thread.ts), or anywhere.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import * as torch from '../torch/index.js';
import { Module } from '../nn/index.js';
import type { SimCLRModel } from '../models/simclr.js';
import { DivergenceError } from '../errors.js';
import type { PretrainConfig } from '../run/config.js';
import { buildModel, loadRunModel, runPaths, writeFileAtomic } from '../run/folder.js';
import { readMetricsLog } from '../run/metrics-log.js';
import { SubsetDataset, subsetIndices } from '../data/subset.js';
import type { ImageDataset } from '../data/dataset.js';
import { extractFeatures, openEvalSplit, type Features } from '../features/extract.js';
import { knnEvaluate } from '../features/knn.js';
import { linearEvaluate } from '../eval/linear.js';
import { openTrainingData, pretrain, type Progress } from '../train/pretrain.js';
import { downsample } from '../eval/plot.js';
import type { FeatureSet } from './definition.js';

/** kNN settings of every study evaluation: the InstDisc / SimCLR-codebase monitor's k and temperature. */
export const STUDY_KNN = { k: 200, temperature: 0.1 } as const;
/**
 * How long a run waits for its folder's lock: a worker of a killed study session finishes its step and checkpoints
 * (src/cli/parent.ts gives a trainer as long before SIGKILL).
 */
const IN_USE_WAIT_S = 600;
/** Points kept of each run's loss curve (the report's hover plots). */
const CURVE_POINTS = 120;

/** What a worker is asked to do: one cell at one seed. */
export interface CellJob {
  cell: string;
  seed: number;
  /** The run folder of this cell and seed. */
  runDir: string;
  /** Where the result is written (atomically) once the run is evaluated. */
  resultPath: string;
  /** The run's full settings (threads included). */
  config: PretrainConfig;
  features: readonly FeatureSet[];
  /** Test images used as kNN queries (a fixed sample of the test split). */
  testSize: number;
  linear: boolean;
  /**
   * The random-initialisation reference: no training, the model as `config` and the seed initialise it, evaluated
   * like the cells (what the features give before any learning).
   */
  baseline?: boolean;
}

/** A finished run: metrics (fractions in [0, 1]), or why it has none (diverged). */
export interface CellRunResult {
  format: 1;
  cell: string;
  seed: number;
  /** Steps trained. */
  steps: number;
  /** e.g. knn_h_top1, knn_h_top5, knn_z_top1, linear_h_top1, final_loss, contrastive_acc; empty when diverged. */
  metrics: Record<string, number>;
  /** The divergence message when the loss or weights went NaN or infinite; null otherwise. */
  diverged: string | null;
  /** Seconds of pretraining (this session's part, when resumed) and of evaluation. */
  seconds: { train: number; eval: number };
  /** [step, loss] of the logged rows, at most CURVE_POINTS (bucket means beyond that). */
  lossCurve: [number, number][];
  finished: string;
}

export interface CellHooks {
  onProgress?: (p: Progress) => void;
  onWarning?: (msg: string) => void;
  /** Polled after every training step: true checkpoints the run and stops it (runCell then returns null). */
  shouldStop?: () => boolean;
}

/** z = g(h) as a module, so feature extraction can evaluate it like the encoder. */
class Projection extends Module {
  readonly model: SimCLRModel;
  constructor(model: SimCLRModel) {
    super();
    this.model = this.registerModule('model', model);
  }
  forward(x: torch.Tensor): torch.Tensor {
    const { h, z } = this.model.call(x);
    h.dispose();
    return z;
  }
}

function lossCurve(dir: string): { curve: [number, number][]; finalLoss: number; contrastiveAcc: number } {
  const { rows } = readMetricsLog(runPaths(dir).metrics);
  const last = rows[rows.length - 1];
  return {
    curve: downsample(
      rows.map((r) => [r.step, r.loss] as [number, number]),
      CURVE_POINTS,
    ) as [number, number][],
    finalLoss: last?.loss ?? Number.NaN,
    contrastiveAcc: last?.contrastive_acc ?? Number.NaN,
  };
}

/** The kNN memory bank (the training sample the run trained on) and the queries (a fixed test sample). */
async function evalData(
  job: CellJob,
  input: { channels: number; height: number },
): Promise<[ImageDataset, ImageDataset]> {
  const train = await openEvalSplit(job.config.data, 'train', input);
  const test = await openEvalSplit(job.config.data, 'test', input);
  const bank =
    job.config.subset === null ? train : new SubsetDataset(train, subsetIndices(train.length, job.config.subset));
  return [bank, new SubsetDataset(test, subsetIndices(test.length, Math.min(job.testSize, test.length)))];
}

/** kNN (and linear) accuracy of each feature set of `model`, as flat metric names; disposes the model. */
async function evaluate(
  job: CellJob,
  model: SimCLRModel,
  input: { channels: number; height: number },
): Promise<Record<string, number>> {
  // Evaluated where it trained (a GPU when there is one), as `simclr eval knn` does.
  const device = torch.resolveDevice(job.config.device);
  model.eval();
  if (device !== 'cpu') model.to(device);
  const [bank, queries] = await evalData(job, input);
  const metrics: Record<string, number> = {};
  try {
    for (const f of job.features) {
      const net: Module<torch.Tensor, torch.Tensor> = f === 'h' ? model.encoder : new Projection(model);
      torch.scope(() => {
        const train: Features = extractFeatures(net, bank, { device });
        const test: Features = extractFeatures(net, queries, { device });
        const knn = knnEvaluate(train, test, STUDY_KNN);
        metrics[`knn_${f}_top1`] = knn.top1;
        metrics[`knn_${f}_top5`] = knn.top5;
        if (job.linear) {
          const lin = linearEvaluate(train, test, { seed: 0 });
          metrics[`linear_${f}_top1`] = lin.top1;
          metrics[`linear_${f}_top5`] = lin.top5;
        }
      });
    }
  } finally {
    bank.close();
    queries.close();
    model.dispose();
  }
  return metrics;
}

/** The baseline's model: initialised as pretrain() initialises it for this seed, never trained. */
async function initialModel(
  job: CellJob,
): Promise<{ model: SimCLRModel; input: { channels: number; height: number } }> {
  const ds = await openTrainingData(job.config);
  const input = { channels: ds.channels, height: ds.height };
  ds.close();
  torch.manualSeed(job.config.seed);
  return { model: buildModel(job.config, input), input };
}

/** Evaluates the baseline (an untrained model) and writes its result file. */
async function runBaseline(job: CellJob): Promise<CellRunResult> {
  const t0 = performance.now();
  mkdirSync(dirname(job.resultPath), { recursive: true });
  if (job.config.threads !== null) torch.setNumThreads(job.config.threads);
  const { model, input } = await initialModel(job);
  const metrics = await evaluate(job, model, input);
  const result: CellRunResult = {
    format: 1,
    cell: job.cell,
    seed: job.seed,
    steps: 0,
    metrics,
    diverged: null,
    seconds: { train: 0, eval: (performance.now() - t0) / 1000 },
    lossCurve: [],
    finished: new Date().toISOString(),
  };
  writeFileAtomic(job.resultPath, `${JSON.stringify(result)}\n`);
  return result;
}

/**
 * Trains (or resumes) and evaluates one cell at one seed and writes its result file. Returns null when the run was
 * asked to stop before it finished (its checkpoint lets the next study session continue it).
 * @throws what pretrain() throws, except a divergence, which is recorded as the run's result
 */
export async function runCell(job: CellJob, hooks: CellHooks = {}): Promise<CellRunResult | null> {
  if (job.baseline === true) return runBaseline(job);
  const paths = runPaths(job.runDir);
  // A killed study leaves a checkpoint to continue, or a run that never wrote one to start again.
  const start = existsSync(paths.checkpoint) ? { resume: true } : existsSync(paths.config) ? { overwrite: true } : {};
  const t0 = performance.now();
  let diverged: string | null = null;
  let steps = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await pretrain(
        job.config,
        {
          ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}),
          ...(hooks.onWarning ? { onWarning: hooks.onWarning } : {}),
          ...(hooks.shouldStop ? { shouldStop: hooks.shouldStop } : {}),
        },
        start,
      );
      if (r.stopped === 'interrupted') return null;
      steps = r.steps;
      break;
    } catch (e) {
      const name = (e as Error).name;
      // A worker of a killed study session may still be checkpointing this run: it stops within a step.
      if (name === 'RunInUseError' && performance.now() - t0 < IN_USE_WAIT_S * 1000) {
        if (attempt === 0) hooks.onWarning?.(`${(e as Error).message}: waiting for it to stop`);
        await new Promise((r) => setTimeout(r, 1000));
        if (hooks.shouldStop?.() === true) return null;
        continue;
      }
      if (!(e instanceof DivergenceError)) throw e;
      diverged = e.message;
      break;
    }
  }
  const train = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  if (job.config.threads !== null) torch.setNumThreads(job.config.threads);
  const { curve, finalLoss, contrastiveAcc } = lossCurve(job.runDir);
  let metrics: Record<string, number> = {};
  if (diverged === null) {
    const { model, run: stored } = loadRunModel(job.runDir);
    metrics = await evaluate(job, model, stored.input);
  }
  if (diverged === null) {
    metrics.final_loss = finalLoss;
    metrics.contrastive_acc = contrastiveAcc;
  } else {
    steps = curve.length === 0 ? 0 : curve[curve.length - 1]![0];
  }
  const result: CellRunResult = {
    format: 1,
    cell: job.cell,
    seed: job.seed,
    steps,
    metrics,
    diverged,
    seconds: { train, eval: (performance.now() - t1) / 1000 },
    lossCurve: curve,
    finished: new Date().toISOString(),
  };
  writeFileAtomic(job.resultPath, `${JSON.stringify(result)}\n`);
  return result;
}
