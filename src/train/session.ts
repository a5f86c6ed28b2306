// The phases of a pretraining run before its loop, in the order they must happen: open the run (folder, lock,
// settings check, data, process group), build what trains (model, optimizer, augmentations, loss, schedule), then
// begin (restore a checkpoint, or start the run's files). src/train/pretrain.ts strings them together.
import { dirname } from 'node:path';
import * as torch from '../torch/index.js';
import type { AugmentPipeline } from '../augment/pipeline.js';
import { fusedCoverage } from '../augment/fused.js';
import type { ImageDataset } from '../data/dataset.js';
import { DistributedContext } from '../distributed/context.js';
import { readDistEnv } from '../distributed/env.js';
import { removeStaleTemps } from '../io/files.js';
import { createLoss } from '../loss/index.js';
import type { ContrastiveLoss } from '../loss/pairs.js';
import type { SimCLRModel } from '../models/simclr.js';
import type { GroupOptions, Optimizer } from '../optim/index.js';
import type { StepPlan } from '../optim/schedule.js';
import { ConfigError, type PretrainConfig } from '../run/config.js';
import {
  buildModel,
  prepareRunDir,
  runPaths,
  writeFileAtomic,
  type RunConfigFile,
  type RunPaths,
} from '../run/folder.js';
import { viewPipelinesFor } from '../run/augment.js';
import { acquireRunLock } from '../run/lock.js';
import type { RunStart } from '../run/resume.js';
import type { KnnData } from './callbacks/knn.js';
import {
  beginNewRun,
  checkRunStart,
  makeOptimizer,
  nothingToDo,
  openKnnData,
  openTrainingData,
  planRun,
  prepareDevice,
  recordResume,
  resumeState,
  type RunStartCheck,
} from './setup.js';

/**
 * What a run holds until it ends (the lock, open files, device memory, the process group), released in reverse
 * order on every exit, a divergence or any other error included, so a library caller that retries in the same
 * process starts clean.
 */
export class Resources {
  private readonly undo: (() => void)[] = [];
  /** Registers `release` to run at releaseAll, before everything registered earlier. */
  add(release: () => void): void {
    this.undo.push(release);
  }
  releaseAll(): void {
    for (const release of this.undo.reverse()) release();
    this.undo.length = 0;
  }
}

/** A run opened for training: its folder, data, ranks and device. */
export interface OpenedRun {
  paths: RunPaths;
  rank: number;
  worldSize: number;
  /** Rank 0 alone writes config.json, metrics.jsonl and checkpoints. */
  isMain: boolean;
  device: string;
  onCuda: boolean;
  /** The process group of a launched run (RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT), else null. */
  dist: DistributedContext | null;
  ds: ImageDataset;
  input: { channels: number; height: number; width: number };
  /** The kNN monitor's labelled data, or null when it is off. */
  knnData: KnnData | null;
  checked: RunStartCheck;
  warn: (msg: string) => void;
}

/**
 * Opens the run in cfg.out: device, folder (rank 0 creates it, removes stale temp files and takes the lock), the
 * start check (every rank: the same files give the same verdict), training and kNN data, and the process group.
 * @throws DeviceError, RunInUseError, ConfigError (see `pretrain`)
 */
export async function openRun(
  cfg: PretrainConfig,
  how: RunStart,
  onWarning: ((msg: string) => void) | undefined,
  resources: Resources,
): Promise<OpenedRun> {
  const distEnv = readDistEnv();
  const rank = distEnv?.rank ?? 0;
  const worldSize = distEnv?.worldSize ?? 1;
  const warn = onWarning ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
  const { device, onCuda } = prepareDevice(cfg, distEnv, warn);
  // Rank 0 alone creates and writes the run folder (ranks racing to create it would collide).
  const paths = rank === 0 ? prepareRunDir(cfg.out) : runPaths(cfg.out);
  if (rank === 0) {
    // Temporary files of writers killed mid-write (their pid is gone) would otherwise pile up in the run folder.
    for (const dir of [paths.dir, dirname(paths.checkpoint)]) removeStaleTemps(dir);
    resources.add(acquireRunLock(paths.dir));
  }
  const checked = checkRunStart(
    cfg,
    paths,
    { resume: how.resume ?? false, overwrite: how.overwrite ?? false, forceResume: how.forceResume ?? false },
    { rank, worldSize, device },
  );
  const ds = await openTrainingData(cfg, onWarning);
  resources.add(() => ds.close());
  const dist = DistributedContext.fromEnv(process.env, { device });
  if (dist !== null) resources.add(() => dist.close());
  if (dist !== null && cfg.batchSize % dist.worldSize !== 0) {
    throw new ConfigError(
      `--batch-size ${cfg.batchSize} (the global batch) must split evenly over ${dist.worldSize} ranks`,
    );
  }
  const knnData = cfg.knnEvery > 0 ? await openKnnData(cfg, dist !== null, onWarning) : null;
  if (knnData !== null)
    resources.add(() => {
      knnData.train.close();
      knnData.test.close();
    });
  const input = { channels: ds.channels, height: ds.height, width: ds.width };
  return {
    paths,
    rank,
    worldSize,
    isMain: dist?.isMain ?? true,
    device,
    onCuda,
    dist,
    ds,
    input,
    knnData,
    checked,
    warn,
  };
}

/** What trains: the model and its optimizer, the views' augmentations, the loss and the step schedule. */
export interface TrainingParts {
  model: SimCLRModel;
  optimizer: Optimizer<GroupOptions>;
  /** View 0's and view 1's pipelines (the same object twice without augment2). */
  aug: [AugmentPipeline, AugmentPipeline];
  loss: ContrastiveLoss;
  stepsPerEpoch: number;
  plan: StepPlan;
  peakLr: number;
  /** The last step this run does: the schedule's end, or --max-steps. */
  lastStep: number;
}

/**
 * Builds the run's model (seeded: the same initial weights on every device and rank), optimizer, augmentation
 * pipeline (warning where the fused kernel does not cover it) and loss from the registries.
 * @throws ConfigError for a schedule of zero steps
 */
export function buildParts(cfg: PretrainConfig, run: OpenedRun, resources: Resources): TrainingParts {
  const { stepsPerEpoch, plan, peakLr, lastStep } = planRun(cfg, run.ds);
  torch.manualSeed(cfg.seed);
  // Initialised on the CPU from the seeded CPU generator, then moved: the same initial weights on every device.
  const model = buildModel(cfg, run.input).train();
  resources.add(() => model.dispose());
  if (run.device !== 'cpu') model.to(run.device);
  const optimizer = makeOptimizer(cfg, model, peakLr);
  const aug = viewPipelinesFor(cfg, run.input);
  for (const [v, p] of (aug[0] === aug[1] ? [aug[0]] : aug).entries()) {
    const uncovered = fusedCoverage(p);
    const which = aug[0] === aug[1] ? '' : ` of view ${v + 1}`;
    if (uncovered !== null && run.rank === 0)
      run.warn(`augmentation${which} runs on tensor ops, slower than the fused kernel: ${uncovered}`);
  }
  return { model, optimizer, aug, loss: createLoss(cfg.loss, cfg), stepsPerEpoch, plan, peakLr, lastStep };
}

/** Where the loop starts: a fresh run at step 0, a resume, or a resume with nothing left to do. */
export type Beginning =
  | { kind: 'nothing-to-do'; step: number; message: string }
  | {
      kind: 'train';
      step: number;
      /** Complete rows in metrics.jsonl (rank 0): checkpoints record it, so a later resume cuts the log exactly. */
      metricsRows: number;
      /** The checkpoint step a resume continues from, or null (a new run, or a renumbered resume). */
      checkpointed: number | null;
      /** A forced resume moved to the next epoch boundary: save a checkpoint at once in the new numbering. */
      renumbered: boolean;
    };

/**
 * Begins training: a resume restores the checkpoint into the parts, and rank 0 cuts metrics.jsonl back to it and
 * appends to config-history.jsonl; a new run (rank 0) removes an old run under --overwrite and writes config.json.
 * Then the process group syncs the model. A resume with nothing to train writes nothing.
 * @throws ConfigError for a checkpoint that does not fit (see `resumeState`)
 */
export function beginRun(cfg: PretrainConfig, run: OpenedRun, parts: TrainingParts, how: RunStart): Beginning {
  const { paths, checked, isMain, device, worldSize } = run;
  const force = how.forceResume ?? false;
  const resumed = how.resume
    ? resumeState(paths.checkpoint, cfg, parts.model, parts.optimizer, {
        device,
        recorded: checked.recorded,
        stepsPerEpoch: parts.stepsPerEpoch,
        totalSteps: parts.plan.totalSteps,
        force,
        ds: run.ds,
      })
    : null;
  if (resumed !== null && resumed.position.step >= parts.lastStep) {
    const { lastStep, stepsPerEpoch, plan } = parts;
    const why = { lastStep, totalSteps: plan.totalSteps, maxSteps: cfg.maxSteps, stepsPerEpoch };
    return { kind: 'nothing-to-do', step: resumed.position.step, message: nothingToDo(paths.dir, resumed, why) };
  }
  let metricsRows = 0;
  if (isMain && resumed !== null) {
    const o = { stepsPerEpoch: parts.stepsPerEpoch, force, worldSize, device, warn: run.warn };
    metricsRows = recordResume(paths, cfg, resumed, checked, o);
  } else if (isMain) {
    beginNewRun(paths, checked.folder, how.overwrite ?? false, run.warn);
    // config.json records the run as it started; a resume leaves it and appends to config-history.jsonl.
    const created = new Date().toISOString();
    const file: RunConfigFile = {
      config: cfg,
      input: run.input,
      created,
      libtorch: torch.version(),
      device,
      worldSize,
    };
    writeFileAtomic(paths.config, `${JSON.stringify(file, null, 2)}\n`);
  }
  run.dist?.prepare(parts.model, { syncBn: cfg.syncBn });
  const step = resumed?.position.step ?? 0;
  const renumbered = resumed?.position.renumbered != null;
  return { kind: 'train', step, metricsRows, checkpointed: resumed !== null && !renumbered ? step : null, renumbered };
}
