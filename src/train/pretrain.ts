// SimCLR pretraining, put together: the run's start (src/train/setup.ts: folder checks, data, resume), then the loop
// (src/train/loop.ts) over the step function (src/train/step.ts) with its callbacks (src/train/callbacks/: metrics,
// kNN monitor, checkpoints). Synchronous per step; run it in a worker to keep an event loop free.
import * as torch from '../torch/index.js';
import { divergenceAdvice } from '../loss/index.js';
import { learningRate } from '../optim/schedule.js';
import { DivergenceError } from '../errors.js';
import type { PretrainConfig } from '../run/config.js';
import type { RunPaths } from '../run/folder.js';
import type { MetricsRow } from '../run/metrics-log.js';
import { normalizeStart, type RunStart } from '../run/resume.js';
import { BatchSource } from './batches.js';
import { runLoop } from './loop.js';
import { MetricsLogger, type Progress } from './callbacks/metrics.js';
import { Checkpointer } from './callbacks/checkpoint.js';
import { knnFields } from './callbacks/knn.js';
import { augmentPipelineFor } from '../run/augment.js';
import { bf16CpuWarning, openTrainingData } from './setup.js';
import {
  beginRun,
  buildParts,
  openRun,
  Resources,
  type Beginning,
  type OpenedRun,
  type TrainingParts,
} from './session.js';

// The row type lives with the log's reader (src/run); exported here too, where the loop writes it.
export type { MetricsRow, Progress };
export type { StepPhases } from './loop.js';
// Part of the library's surface since before the split into setup, step, loop and callbacks.
export { augmentPipelineFor, bf16CpuWarning, openTrainingData };

/** What a run is about to do, once its data, device and model are ready. */
export interface StartInfo {
  /** Resolved device ('cpu', 'cuda:0') and its name (CPU model or GPU name). */
  device: string;
  deviceName: string;
  /** Steps already done (resumed runs) and the last step this run will do. */
  step: number;
  totalSteps: number;
  /** Data-parallel ranks (1 without `simclr launch`) and their process-group backend, if any. */
  worldSize: number;
  backend: string | null;
  /** The kNN monitor's datasets (memory bank and queries, by name), or null when it is off. */
  knn: { every: number; bank: string; queries: string } | null;
}

export interface PretrainHooks {
  onStart?: (info: StartInfo) => void;
  onProgress?: (p: Progress) => void;
  onLog?: (row: MetricsRow) => void;
  onCheckpoint?: (path: string, step: number) => void;
  onWarning?: (msg: string) => void;
  /** Polled after every step; true ends the run after a checkpoint (SIGINT/SIGTERM). */
  shouldStop?: () => boolean;
}

export interface PretrainResult {
  steps: number;
  totalSteps: number;
  /** 'nothing-to-do': a resume of a run already at its last step; it trained and wrote nothing (see `message`). */
  stopped: 'completed' | 'max-steps' | 'interrupted' | 'nothing-to-do';
  /** Why nothing was done, for 'nothing-to-do'. */
  message?: string;
  /** NaN when no step was done. */
  finalLoss: number;
  checkpoint: string;
  wallSeconds: number;
}

// The loss went NaN or infinite; defined with the other typed errors in src/errors.ts.
export { DivergenceError };

export interface PretrainInternals {
  /**
   * Make the next step's views while the current step computes (default: on CUDA only, where it overlaps the GPU;
   * on the CPU it would only hold one more batch). Tests set it to check on the CPU that it changes nothing.
   */
  prefetch?: boolean;
}

/**
 * Pretrains a SimCLR model as configured, writing config.json, metrics.jsonl and checkpoints into cfg.out, which it
 * locks while it runs (rank 0 only in a distributed run; src/run/lock.ts).
 * With `resume`, continues the run in cfg.out from its last checkpoint: same data order, augmentations, optimizer
 * state and schedule, so the result equals an uninterrupted run. Changed settings follow RESUME_RULES
 * (src/run/resume.ts): config.json keeps the original ones, config-history.jsonl gets each resume's changes.
 * Trains on cfg.device as torch.resolveDevice reads it ('auto': the first visible GPU, else the CPU).
 * Throws DeviceError where that device does not exist; RunInUseError where another live process holds cfg.out;
 * ConfigError where cfg.out holds a run and neither resume nor overwrite is given, where a resume changes a 'fixed'
 * setting or (unless forceResume) a 'refuse' one, and where resume and overwrite are both given.
 */
export async function pretrain(
  cfg: PretrainConfig,
  hooks: PretrainHooks = {},
  start: boolean | RunStart = false,
  internals: PretrainInternals = {},
): Promise<PretrainResult> {
  const started = process.hrtime.bigint();
  const wallSeconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;
  const how = normalizeStart(start);
  const resources = new Resources();
  try {
    const run = await openRun(cfg, how, hooks.onWarning, resources);
    const parts = buildParts(cfg, run, resources);
    const begun = beginRun(cfg, run, parts, how);
    const { paths, ds, dist, device, knnData } = run;
    const { totalSteps } = parts.plan;
    if (begun.kind === 'nothing-to-do') {
      const { step, message } = begun;
      return { steps: step, totalSteps, stopped: 'nothing-to-do', message, finalLoss: NaN, ...ended(paths) };
    }
    hooks.onStart?.({
      device,
      deviceName: torch.deviceName(device),
      step: begun.step,
      totalSteps: parts.lastStep,
      worldSize: dist?.worldSize ?? 1,
      backend: dist?.group.backend ?? null,
      knn: knnData === null ? null : { every: cfg.knnEvery, bank: knnData.train.name, queries: knnData.test.name },
    });
    const callbacks = trainingCallbacks(cfg, run, parts, begun, hooks);
    const { seed, batchSize } = cfg;
    const { aug, stepsPerEpoch } = parts;
    const batches = new BatchSource({ ds, aug, dist, seed, batchSize, stepsPerEpoch, device });
    resources.add(() => batches.dispose());
    const done = runLoop({
      first: begun.step,
      lastStep: parts.lastStep,
      stepsPerEpoch: parts.stepsPerEpoch,
      batches,
      // On CUDA only by default, where it overlaps the GPU; on the CPU it would only hold one more batch.
      prefetch: internals.prefetch ?? run.onCuda,
      lrAt: (s: number): number => learningRate(s, { baseLr: parts.peakLr, ...parts.plan }),
      step: {
        model: parts.model,
        loss: parts.loss,
        optimizer: parts.optimizer,
        dist,
        precision: cfg.precision,
        device,
      },
      shouldStop: (): boolean => hooks.shouldStop?.() === true,
      callbacks: [callbacks.logger, callbacks.checkpointer],
      kept: () => callbacks.checkpointer.kept(),
      divergenceAdvice: divergenceAdvice(cfg.loss),
    });
    const stopped = done.interrupted ? 'interrupted' : parts.lastStep < totalSteps ? 'max-steps' : 'completed';
    return { steps: done.step, totalSteps, stopped, finalLoss: done.lastLoss, ...ended(paths) };
  } finally {
    resources.releaseAll();
  }

  function ended(paths: RunPaths): { checkpoint: string; wallSeconds: number } {
    return { checkpoint: paths.checkpoint, wallSeconds: wallSeconds() };
  }
}

/** The loop's callbacks: metrics rows (with the kNN monitor's fields) and checkpoints, wired to the hooks. */
function trainingCallbacks(
  cfg: PretrainConfig,
  run: OpenedRun,
  parts: TrainingParts,
  begun: Extract<Beginning, { kind: 'train' }>,
  hooks: PretrainHooks,
): { logger: MetricsLogger; checkpointer: Checkpointer } {
  const { isMain, paths, device, knnData } = run;
  const logger = new MetricsLogger({
    isMain,
    path: paths.metrics,
    batchSize: cfg.batchSize,
    logSteps: cfg.logSteps,
    rows: begun.metricsRows,
    fields: knnData === null ? [] : [knnFields(parts.model, knnData, cfg.knnEvery, { seed: cfg.seed, device })],
    onProgress: (p: Progress): void => hooks.onProgress?.(p),
    onLog: (row: MetricsRow): void => hooks.onLog?.(row),
  });
  const { model, optimizer, stepsPerEpoch } = parts;
  const checkpointer = new Checkpointer(
    {
      isMain,
      paths,
      model,
      optimizer,
      stepsPerEpoch,
      device,
      everySteps: cfg.checkpointSteps,
      metricsRows: () => logger.rows,
      onCheckpoint: (path: string, s: number): void => hooks.onCheckpoint?.(path, s),
      divergenceAdvice: divergenceAdvice(cfg.loss),
    },
    begun.checkpointed,
  );
  // A renumbered run's first checkpoint, at once: the one on disk counts steps the old way, and a later plain
  // --resume would find it does not fit.
  if (begun.renumbered) checkpointer.save(begun.step);
  return { logger, checkpointer };
}
