// SimCLR pretraining, put together: the run's start (src/train/setup.ts: folder checks, data, resume), then the loop
// (src/train/loop.ts) over the step function (src/train/step.ts) with its callbacks (src/train/callbacks/: metrics,
// kNN monitor, checkpoints). Synchronous per step; run it in a worker to keep an event loop free.
import { dirname } from 'node:path';
import * as torch from '../torch/index.js';
import { fusedCoverage } from '../augment/fused.js';
import { createLoss } from '../loss/index.js';
import { learningRate } from '../optim/schedule.js';
import { DistributedContext } from '../distributed/context.js';
import { readDistEnv } from '../distributed/env.js';
import { DivergenceError } from '../errors.js';
import { ConfigError, type PretrainConfig } from '../run/config.js';
import {
  buildModel,
  prepareRunDir,
  runPaths,
  writeFileAtomic,
  type RunConfigFile,
  type RunPaths,
} from '../run/folder.js';
import type { MetricsRow } from '../run/metrics-log.js';
import { removeStaleTemps } from '../io/files.js';
import { acquireRunLock } from '../run/lock.js';
import { normalizeStart, type RunStart } from '../run/resume.js';
import { BatchSource } from './batches.js';
import { runLoop } from './loop.js';
import { MetricsLogger, type Progress } from './callbacks/metrics.js';
import { Checkpointer } from './callbacks/checkpoint.js';
import { knnFields } from './callbacks/knn.js';
import {
  augmentPipelineFor,
  beginNewRun,
  bf16CpuWarning,
  checkRunStart,
  makeOptimizer,
  nothingToDo,
  openKnnData,
  openTrainingData,
  planRun,
  prepareDevice,
  recordResume,
  resumeState,
  viewPipelinesFor,
} from './setup.js';

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
  const { resume = false, overwrite = false, forceResume = false } = normalizeStart(start);
  const distEnv = readDistEnv();
  const warn = hooks.onWarning ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
  const { device, onCuda } = prepareDevice(cfg, distEnv, warn);
  // Rank 0 alone creates and writes the run folder (ranks racing to create it would collide).
  const paths: RunPaths = (distEnv?.rank ?? 0) === 0 ? prepareRunDir(cfg.out) : runPaths(cfg.out);
  // Temporary files of writers killed mid-write (their pid is gone) would otherwise pile up in the run folder.
  if ((distEnv?.rank ?? 0) === 0) for (const dir of [paths.dir, dirname(paths.checkpoint)]) removeStaleTemps(dir);
  // What is acquired from here on is released in reverse order on every exit, a divergence or any other error
  // included, so a library caller that retries in the same process starts clean (device memory, open files, the
  // process group).
  const release: (() => void)[] = [];
  try {
    const rank = distEnv?.rank ?? 0;
    if (rank === 0) release.push(acquireRunLock(paths.dir));
    // Every rank checks a resume's settings (the same files, so the same verdict); rank 0 alone records them.
    const worldSize = distEnv?.worldSize ?? 1;
    const checked = checkRunStart(cfg, paths, { resume, overwrite, forceResume }, { rank, worldSize, device });
    const ds = await openTrainingData(cfg, hooks.onWarning);
    release.push(() => ds.close());
    const input = { channels: ds.channels, height: ds.height, width: ds.width };
    // Data parallel when launched with RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT (simclr launch); null otherwise.
    const dist = DistributedContext.fromEnv(process.env, { device });
    if (dist !== null) release.push(() => dist.close());
    if (dist !== null && cfg.batchSize % dist.worldSize !== 0) {
      throw new ConfigError(
        `--batch-size ${cfg.batchSize} (the global batch) must split evenly over ${dist.worldSize} ranks`,
      );
    }
    // Rank 0 alone writes config.json, metrics.jsonl and checkpoints.
    const isMain = dist?.isMain ?? true;
    const knnData = cfg.knnEvery > 0 ? await openKnnData(cfg, dist !== null, hooks.onWarning) : null;
    if (knnData !== null)
      release.push(() => {
        knnData.train.close();
        knnData.test.close();
      });

    const { stepsPerEpoch, plan, peakLr, lastStep } = planRun(cfg, ds);

    torch.manualSeed(cfg.seed);
    // Initialised on the CPU from the seeded CPU generator, then moved: the same initial weights on every device.
    const model = buildModel(cfg, input).train();
    release.push(() => model.dispose());
    if (device !== 'cpu') model.to(device);
    const optimizer = makeOptimizer(cfg, model, peakLr);
    const aug = viewPipelinesFor(cfg, input);
    for (const [v, p] of (aug[0] === aug[1] ? [aug[0]] : aug).entries()) {
      const uncovered = fusedCoverage(p);
      const which = aug[0] === aug[1] ? '' : ` of view ${v + 1}`;
      if (uncovered !== null && rank === 0)
        warn(`augmentation${which} runs on tensor ops, slower than the fused kernel: ${uncovered}`);
    }
    const contrastiveLoss = createLoss(cfg.loss, cfg);

    const resumed = resume
      ? resumeState(paths.checkpoint, cfg, model, optimizer, {
          device,
          recorded: checked.recorded,
          stepsPerEpoch,
          totalSteps: plan.totalSteps,
          force: forceResume,
          ds,
        })
      : null;
    if (resumed !== null && resumed.position.step >= lastStep) {
      // Nothing to train: nothing is written (no history line, metrics as they are).
      return {
        steps: resumed.position.step,
        totalSteps: plan.totalSteps,
        stopped: 'nothing-to-do',
        message: nothingToDo(paths.dir, resumed, {
          lastStep,
          totalSteps: plan.totalSteps,
          maxSteps: cfg.maxSteps,
          stepsPerEpoch,
        }),
        finalLoss: NaN,
        checkpoint: paths.checkpoint,
        wallSeconds: Number(process.hrtime.bigint() - started) / 1e9,
      };
    }
    const step = resumed?.position.step ?? 0;
    const renumbered = resumed?.position.renumbered ?? null;
    // Complete rows in metrics.jsonl (rank 0): checkpoints record it, so a resume keeps exactly the rows before them.
    let metricsRows = 0;
    if (isMain && resumed !== null)
      metricsRows = recordResume(paths, cfg, resumed, checked, {
        stepsPerEpoch,
        force: forceResume,
        worldSize,
        device,
        warn,
      });
    else if (isMain) beginNewRun(paths, checked.folder, overwrite, warn);
    dist?.prepare(model, { syncBn: cfg.syncBn });
    hooks.onStart?.({
      device,
      deviceName: torch.deviceName(device),
      step,
      totalSteps: lastStep,
      worldSize: dist?.worldSize ?? 1,
      backend: dist?.group.backend ?? null,
      knn: knnData === null ? null : { every: cfg.knnEvery, bank: knnData.train.name, queries: knnData.test.name },
    });
    // config.json records the run as it started; a resume leaves it and appends to config-history.jsonl (above).
    const runFile: RunConfigFile = {
      config: cfg,
      input,
      created: new Date().toISOString(),
      libtorch: torch.version(),
      device,
      worldSize,
    };
    if (isMain && !resume) writeFileAtomic(paths.config, `${JSON.stringify(runFile, null, 2)}\n`);

    const logger = new MetricsLogger({
      isMain,
      path: paths.metrics,
      batchSize: cfg.batchSize,
      logSteps: cfg.logSteps,
      rows: metricsRows,
      fields: knnData === null ? [] : [knnFields(model, knnData, cfg.knnEvery, { seed: cfg.seed, device })],
      onProgress: (p: Progress): void => hooks.onProgress?.(p),
      onLog: (row: MetricsRow): void => hooks.onLog?.(row),
    });
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
      },
      resumed !== null && renumbered === null ? step : null,
    ); // a renumbered run's checkpoint counts the old way
    // A renumbered run's first checkpoint, at once: the one on disk otherwise counts steps the old way, and a later
    // plain --resume would find it does not fit.
    if (renumbered !== null) checkpointer.save(step);

    const batches = new BatchSource({ ds, aug, dist, seed: cfg.seed, batchSize: cfg.batchSize, stepsPerEpoch, device });
    release.push(() => batches.dispose());
    const done = runLoop({
      first: step,
      lastStep,
      stepsPerEpoch,
      batches,
      // On CUDA only by default, where it overlaps the GPU; on the CPU it would only hold one more batch.
      prefetch: internals.prefetch ?? onCuda,
      lrAt: (s: number): number => learningRate(s, { baseLr: peakLr, ...plan }),
      step: { model, loss: contrastiveLoss, optimizer, dist, precision: cfg.precision, device },
      shouldStop: (): boolean => hooks.shouldStop?.() === true,
      callbacks: [logger, checkpointer],
      kept: () => checkpointer.kept(),
    });
    const stopped: PretrainResult['stopped'] = done.interrupted
      ? 'interrupted'
      : lastStep < plan.totalSteps
        ? 'max-steps'
        : 'completed';
    return {
      steps: done.step,
      totalSteps: plan.totalSteps,
      stopped,
      finalLoss: done.lastLoss,
      checkpoint: paths.checkpoint,
      wallSeconds: Number(process.hrtime.bigint() - started) / 1e9,
    };
  } finally {
    for (const undo of release.reverse()) undo();
  }
}
