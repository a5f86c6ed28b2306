// One run of a study: a cell's pretraining at one seed, in its own run folder (resumed from its checkpoint when a
// killed study left one), then kNN (and optionally linear) evaluation of the encoder on a held-out split, recorded
// atomically in one result file. Runs inside a study worker process (worker.ts).
import { existsSync } from 'node:fs';
import * as torch from '../torch/index.js';
import { Module } from '../nn/index.js';
import type { SimCLRModel } from '../models/simclr.js';
import { DivergenceError } from '../errors.js';
import type { PretrainConfig } from '../run/config.js';
import { loadRunModel, runPaths, writeFileAtomic } from '../run/folder.js';
import { readMetricsLog } from '../run/metrics-log.js';
import { SubsetDataset, subsetIndices } from '../data/subset.js';
import type { ImageDataset } from '../data/dataset.js';
import { extractFeatures, openEvalSplit, type Features } from '../features/extract.js';
import { knnEvaluate } from '../features/knn.js';
import { linearEvaluate } from '../eval/linear.js';
import { pretrainInBackground } from '../train/background.js';
import type { Progress } from '../train/pretrain.js';
import { downsample } from '../eval/plot.js';
import type { FeatureSet } from './definition.js';

/** kNN settings of every study evaluation: the InstDisc / SimCLR-codebase monitor's k and temperature. */
export const STUDY_KNN = { k: 200, temperature: 0.1 } as const;
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
  /** Receives the function that asks the run to checkpoint and stop after its current step. */
  onStoppable?: (stop: () => void) => void;
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

/** kNN (and linear) accuracy of each feature set, as flat metric names. */
async function evaluate(job: CellJob): Promise<Record<string, number>> {
  const { model, run } = loadRunModel(job.runDir);
  const [bank, queries] = await evalData(job, run.input);
  const metrics: Record<string, number> = {};
  try {
    for (const f of job.features) {
      const net: Module<torch.Tensor, torch.Tensor> = f === 'h' ? model.encoder : new Projection(model);
      torch.scope(() => {
        const train: Features = extractFeatures(net, bank);
        const test: Features = extractFeatures(net, queries);
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

/**
 * Trains (or resumes) and evaluates one cell at one seed and writes its result file. Returns null when the run was
 * asked to stop before it finished (its checkpoint lets the next study session continue it).
 * @throws what pretrain() throws, except a divergence, which is recorded as the run's result
 */
export async function runCell(job: CellJob, hooks: CellHooks = {}): Promise<CellRunResult | null> {
  const paths = runPaths(job.runDir);
  // A killed study leaves a checkpoint to continue, or a run that never wrote one to start again.
  const start = existsSync(paths.checkpoint) ? { resume: true } : existsSync(paths.config) ? { overwrite: true } : {};
  const t0 = performance.now();
  let diverged: string | null = null;
  let steps = 0;
  const run = pretrainInBackground(
    job.config,
    {
      ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}),
      ...(hooks.onWarning ? { onWarning: hooks.onWarning } : {}),
    },
    start,
  );
  hooks.onStoppable?.(() => run.requestStop());
  try {
    const r = await run.result;
    if (r.stopped === 'interrupted') return null;
    steps = r.steps;
  } catch (e) {
    if (!(e instanceof DivergenceError) && (e as Error).name !== 'DivergenceError') throw e;
    diverged = (e as Error).message;
  }
  const train = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  if (job.config.threads !== null) torch.setNumThreads(job.config.threads);
  const { curve, finalLoss, contrastiveAcc } = lossCurve(job.runDir);
  const metrics = diverged === null ? await evaluate(job) : {};
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
