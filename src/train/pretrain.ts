// The SimCLR pretraining loop: data order, two augmented views, encoder + head, the loss (NT-Xent by default),
// optimizer and schedule, metrics, checkpoints and exact resume. Synchronous per step; run it in a worker to keep an
// event loop free.
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import * as torch from '../torch/index.js';
import { openDataset, specWithoutSplit } from '../data/spec.js';
import { DataError, type ImageDataset } from '../data/dataset.js';
import { epochPermutation } from '../data/loader.js';
import { BatchUploader } from '../data/uploader.js';
import { configSteps, defaultAugmentConfig } from '../augment/params.js';
import { resolvePipeline, type AugmentPipeline } from '../augment/pipeline.js';
import { createViewBatch } from '../augment/apply.js';
import { fusedCoverage } from '../augment/fused.js';
import { createLoss } from '../loss/index.js';
import { OPTIMIZERS, type Optimizer, type GroupOptions, type OptimizerStateDict } from '../optim/index.js';
import { learningRate, scaledLearningRate, stepPlan, type StepPlan } from '../optim/schedule.js';
import type { SimCLRModel } from '../models/simclr.js';
import { DistributedContext } from '../distributed/context.js';
import { readDistEnv } from '../distributed/env.js';
import { DivergenceError } from '../errors.js';
// The row type lives with the log's reader (src/run); exported here too, where the loop writes it.
export type { MetricsRow };
import { knnMonitor } from '../features/knn.js';
import { ConfigError, kebab, trainingBoundProblems, type PretrainConfig } from '../run/config.js';
import { buildModel, disposeCheckpoint, firstNonFinite, loadCheckpoint, NonFiniteStateError, prepareRunDir, readRunConfig, removeRunOutputs, inspectRunFolder, restoreGenerators, runPaths, saveCheckpoint, writeFileAtomic, type Checkpoint, type CheckpointMeta, type RunConfigFile, type RunFolderContents, type RunPaths } from '../run/folder.js';
import { truncateMetricsLog, type MetricsRow } from '../run/metrics-log.js';
import { removeStaleTemps } from '../io/files.js';
import { acquireRunLock } from '../run/lock.js';
import { appendHistory, checkNewRun, checkResume, lastHistoryEntry, normalizeStart, RESUME_RULES, type Changes, type HistoryEntry, type RunStart } from '../run/resume.js';

export interface Progress {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  lr: number;
  contrastiveAcc: number;
  imagesPerSec: number;
  /** Where this step's time went. */
  phases: StepPhases;
}

/**
 * Seconds per phase of one step. On the CPU every libtorch op returns when its work is done, so consecutive
 * wall-clock marks split the step exactly: data (reading the batch's pixels), augment (both views, batched),
 * forward, loss, backward, optimizer. On CUDA the ops only queue work: the phases are the host's time to queue
 * them (data and augment were spent while the previous step computed), and `wait` is the time the host then waited
 * for the GPU to finish the step (near 0: the GPU is starved).
 */
export interface StepPhases {
  data: number;
  augment: number;
  forward: number;
  loss: number;
  backward: number;
  optimizer: number;
  /**
   * Time reading the step's loss back waited for the device: ~0 on the CPU; on a GPU, what was left of the step once
   * the host had queued it and prepared the next batch (near 0 means the host, not the GPU, sets the pace).
   */
  wait?: number;
}

/** A step's batch made ready: its both views (channels-last, on the device) and the host seconds that took. */
interface PreparedBatch {
  /** 0-based epoch of the step. */
  epoch: number;
  x: torch.Tensor;
  data: number;
  augment: number;
}

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

const DIVERGENCE_ADVICE = 'Try a lower --lr or --temperature closer to 0.5.';

function makeOptimizer(cfg: PretrainConfig, model: SimCLRModel, lr: number): Optimizer<GroupOptions> {
  return OPTIMIZERS[cfg.optimizer].create(model.namedParameters(), { lr, weightDecay: cfg.weightDecay });
}

/**
 * The run's augmentation pipeline for its data: cfg.augment, or the paper's with --color-strength, --crop-min-scale
 * and --blur. Throws ConfigError for an augment list that does not fit the data (rotation before the crop on
 * non-square images is found when sampling).
 */
export function augmentPipelineFor(cfg: PretrainConfig, ds: { channels: number; height: number }): AugmentPipeline {
  const channels = ds.channels === 1 ? 1 : 3;
  if (cfg.augment !== null) return resolvePipeline(cfg.augment, ds.height, channels);
  const aug = defaultAugmentConfig(ds.height, channels === 1);
  aug.colorStrength = cfg.colorStrength;
  aug.cropScale = [cfg.cropMinScale, 1];
  if (!cfg.blur) aug.blurP = 0;
  return resolvePipeline(configSteps(aug), ds.height, channels);
}

/** Where a resumed run continues: the checkpoint's step, or the next epoch boundary (renumbered). */
interface ResumePosition {
  step: number;
  renumbered: NonNullable<HistoryEntry['renumbered']> | null;
}

/**
 * Where a checkpoint's run continues at this run's steps per epoch, checking its step counts.
 * The checkpoint's own steps per epoch: its 'stepsPerEpoch' field; in older checkpoints, what its epoch and step give
 * after the first epoch, else `sameData` (the recorded batch size on this data), else unknown (null).
 * Unchanged: the run continues at the checkpoint's step, whose fields must agree (as before). Changed (a forced
 * --batch-size, --data or --image-size; unknown counts as changed when forced): the run continues at the next epoch
 * boundary, epoch' = epoch + (stepInEpoch > 0 ? 1 : 0) at step epoch' x stepsPerEpoch, skipping the rest of a partly
 * done epoch, so the schedule continues at the same epoch position. Unforced, a change is refused.
 */
function resumePosition(path: string, meta: CheckpointMeta, run: { stepsPerEpoch: number; totalSteps: number; sameData: number | null; force: boolean; data: string }): ResumePosition {
  const { step, epoch, stepInEpoch } = meta;
  const { stepsPerEpoch, totalSteps } = run;
  let before: number | null = meta.stepsPerEpoch ?? (epoch > 0 ? (step - stepInEpoch) / epoch : run.sameData);
  // A checkpoint at an epoch's end records that epoch as done (stepInEpoch == stepsPerEpoch) or the next as begun.
  const fits = (spe: number): boolean => Number.isSafeInteger(spe) && spe >= 1 && epoch * spe + stepInEpoch === step && stepInEpoch <= spe;
  if (meta.stepsPerEpoch === undefined && epoch === 0 && before !== null && !fits(before)) before = null; // sameData was wrong
  const changed = before === null ? run.force && step > 0 : before !== stepsPerEpoch;
  if (!changed) {
    if (step > totalSteps) throw new ConfigError(`${path}: checkpoint field 'step' (${step}) is beyond this run's ${totalSteps} steps; was --epochs lowered?`);
    if (!fits(stepsPerEpoch)) {
      throw new ConfigError(`${path}: checkpoint fields 'epoch' (${epoch}) and 'stepInEpoch' (${stepInEpoch}) do not give 'step' (${step}) at ${stepsPerEpoch} steps per epoch`);
    }
    return { step, renumbered: null };
  }
  if (before !== null && !fits(before)) {
    throw new ConfigError(`${path}: checkpoint fields 'epoch' (${epoch}) and 'stepInEpoch' (${stepInEpoch}) do not give 'step' (${step})${meta.stepsPerEpoch !== undefined ? ` at its ${before} steps per epoch` : ' at a whole number of steps per epoch'}`);
  }
  if (!run.force) {
    throw new ConfigError(`${path}: the run did ${before} steps per epoch and would now do ${stepsPerEpoch} (${run.data}), so its step counter would no longer match; pass --force-resume to continue at the next epoch boundary (README, Run folders)`);
  }
  const next = (epoch + (stepInEpoch > 0 ? 1 : 0)) * stepsPerEpoch;
  return { step: next, renumbered: { step: next, stepsPerEpoch: { from: before, to: stepsPerEpoch } } };
}

/** Checks that a checkpoint to resume holds optimizer state once a step was done, and only finite tensors. */
function checkResumable(path: string, ckpt: Checkpoint): void {
  const { step } = ckpt.meta;
  if (step > 0 && Object.keys(ckpt.optimizer).length === 0) throw new ConfigError(`${path}: checkpoint holds no optimizer state after ${step} steps`);
  const bad = firstNonFinite([...[...ckpt.model].map(([k, t]): [string, torch.Tensor] => [`model.${k}`, t]), ...Object.entries(ckpt.optimizer).map(([k, t]): [string, torch.Tensor] => [`optimizer.${k}`, t])]);
  if (bad !== null) throw new ConfigError(`${path}: tensor '${bad}' holds NaN or infinite values; this checkpoint cannot be resumed`);
}

/**
 * Refuses to train with settings outside today's bounds (src/train/bounds.ts). A resume's settings may carry values
 * an older simclr accepted (`recorded`, the run's stored ones): the message says so and what can be done.
 */
function checkTrainingBounds(cfg: PretrainConfig, recorded: PretrainConfig | null, dir: string): void {
  const problems = trainingBoundProblems(cfg);
  if (problems.length === 0) return;
  throw new ConfigError(problems.map(({ key, message }) => {
    if (recorded === null || recorded[key] !== cfg[key]) return message;
    const rule = RESUME_RULES[key];
    const fix = rule === 'fixed'
      ? 'it cannot change on resume, so this simclr can read the run (info, eval, export, report) but not train it further'
      : `resume with --${kebab(key)} within them${rule === 'refuse' ? ' and --force-resume' : ''}`;
    return `${message}: the run in ${dir} has it from an older simclr, whose bounds were wider; ${fix}`;
  }).join('; '));
}

export async function openTrainingData(cfg: PretrainConfig, onWarning?: (msg: string) => void): Promise<ImageDataset> {
  const ds = await openDataset(cfg.data, {
    split: 'train', strict: cfg.strict,
    ...(cfg.imageSize !== null ? { imageSize: cfg.imageSize } : {}),
    ...(onWarning ? { onWarning } : {}),
  });
  if (cfg.imageSize !== null && !cfg.data.startsWith('folder:') && cfg.imageSize !== ds.height) {
    throw new ConfigError(`--image-size ${cfg.imageSize} does not match ${ds.name} (${ds.height} px); it applies to folder: datasets`);
  }
  if (ds.height !== ds.width) throw new ConfigError(`${ds.name}: images must be square, got ${ds.height}x${ds.width}`);
  if (ds.length < cfg.batchSize) throw new ConfigError(`--batch-size ${cfg.batchSize} exceeds the ${ds.length} training images of ${ds.name}`);
  return ds;
}

/**
 * The kNN monitor's data (--knn-every): the held-out labelled split of the training data's dataset, whatever split
 * --data names: the labelled train split is the memory bank and the test split the queries (stl10:DIR:train+unlabeled
 * trains on train+unlabeled and is monitored on stl10/train vs stl10/test, as the SimCLR papers evaluate). Null
 * (with a warning) where the data has no labels or the run is distributed: other ranks would wait in their next
 * collective while rank 0 evaluated.
 * @throws ConfigError where the dataset has labels but no held-out labelled split (a folder without test/ or val/):
 *   monitoring on training images would report a number that looks like held-out accuracy and is not.
 */
async function openKnnData(cfg: PretrainConfig, distributed: boolean, onWarning?: (msg: string) => void): Promise<{ train: ImageDataset; test: ImageDataset } | null> {
  const warn = onWarning ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
  if (distributed) {
    warn('--knn-every is ignored in distributed runs; evaluate with `simclr eval knn` instead');
    return null;
  }
  const spec = specWithoutSplit(cfg.data);
  const opts = { ...(cfg.imageSize !== null ? { imageSize: cfg.imageSize } : {}), strict: cfg.strict };
  const train = await openDataset(spec, { split: 'train', ...opts });
  if (train.labels === null || train.numClasses === 0) {
    train.close();
    warn(`--knn-every needs labels, and ${cfg.data} has none; the kNN monitor is off`);
    return null;
  }
  let test: ImageDataset;
  try {
    test = await openDataset(spec, { split: 'test', ...opts });
  } catch (e) {
    train.close();
    if (e instanceof DataError) throw new ConfigError(`--knn-every needs a held-out labelled split of ${cfg.data} for its queries: ${e.message}`);
    throw e;
  }
  if (test.labels === null || !test.labels.some((y) => y >= 0)) {
    const name = test.name;
    train.close();
    test.close();
    throw new ConfigError(`--knn-every needs a held-out labelled split of ${cfg.data} for its queries, and ${name} has no labels`);
  }
  return { train, test };
}

/**
 * Why `--precision bf16` will be slow on a CPU with these features (an x86 CPU without AVX512-BF16 or AMX), or null.
 * Measured 2026-11-29 on an AVX2-only CPU: bf16 ran at 5-11% of fp32's speed on libtorch 1.13 and 2.13 alike
 * (oneDNN emulates bfloat16 there; bench/PERFORMANCE.md).
 */
export function bf16CpuWarning(features: readonly string[]): string | null {
  if (!features.includes('avx2') || features.includes('avx512_bf16') || features.includes('amx_bf16')) return null;
  return '--precision bf16 on a CPU without AVX512-BF16 or AMX: libtorch emulates bfloat16 here, measured at 5-11% of fp32 speed on such a CPU (bench/PERFORMANCE.md); fp32 is faster on this machine';
}

export interface PretrainInternals {
  /**
   * Make the next step's views while the current step computes (default: on CUDA only, where it overlaps the GPU;
   * on the CPU it would only hold one more batch). Tests set it to check on the CPU that it changes nothing.
   */
  prefetch?: boolean;
}

/**
 * Pretrains a SimCLR model as configured, writing config.json, metrics.jsonl and checkpoints into cfg.out, which it
 * locks while it runs (rank 0 only in a distributed run; src/train/lock.ts).
 * With `resume`, continues the run in cfg.out from its last checkpoint: same data order, augmentations, optimizer
 * state and schedule, so the result equals an uninterrupted run. Changed settings follow RESUME_RULES
 * (src/train/resume.ts): config.json keeps the original ones, config-history.jsonl gets each resume's changes.
 * Trains on cfg.device as torch.resolveDevice reads it ('auto': the first visible GPU, else the CPU).
 * Throws DeviceError where that device does not exist; RunInUseError where another live process holds cfg.out;
 * ConfigError where cfg.out holds a run and neither resume nor overwrite is given, where a resume changes a 'fixed'
 * setting or (unless forceResume) a 'refuse' one, and where resume and overwrite are both given.
 */
export async function pretrain(cfg: PretrainConfig, hooks: PretrainHooks = {}, start: boolean | RunStart = false, internals: PretrainInternals = {}): Promise<PretrainResult> {
  const started = process.hrtime.bigint();
  const { resume = false, overwrite = false, forceResume = false } = normalizeStart(start);
  const distEnv = readDistEnv();
  const device = torch.resolveDevice(cfg.device, { localRank: distEnv?.localRank ?? 0, distributed: distEnv !== null });
  const onCuda = torch.deviceType(device) === 'cuda';
  // The rank's GPU becomes the current device, so that NCCL, the caching allocator and kernels without an explicit
  // device argument use it, as torchrun scripts do with torch.cuda.set_device(LOCAL_RANK).
  if (onCuda) torch.cuda.setDevice(device);
  const slowBf16 = cfg.precision === 'bf16' && !onCuda && (distEnv?.rank ?? 0) === 0 ? bf16CpuWarning(torch.cpuFeatures()) : null;
  if (slowBf16 !== null) (hooks.onWarning ?? ((m: string) => process.stderr.write(`warning: ${m}\n`)))(slowBf16);
  if (cfg.threads !== null) torch.setNumThreads(cfg.threads);
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
    const warn = hooks.onWarning ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
    if (rank === 0) release.push(acquireRunLock(paths.dir));
    // Every rank checks a resume's settings (the same files, so the same verdict); rank 0 alone records them.
    let resumeChanges: Changes = {};
    // Said once the resume proceeds: a refused or zero-step one records nothing.
    let resumeWarning: string | null = null;
    let recorded: PretrainConfig | null = null;
    // What --out held before this run (rank 0, new runs): --overwrite removes only a simclr run's files.
    let folder: RunFolderContents = { kind: 'empty' };
    const worldSize = distEnv?.worldSize ?? 1;
    if (resume) {
      if (!existsSync(paths.checkpoint) && existsSync(paths.config)) {
        throw new ConfigError(`${paths.dir} holds a run that never wrote a checkpoint (no ${paths.checkpoint}): there is nothing to resume; pass --overwrite to start it again`);
      }
      const run = readRunConfig(paths.dir);
      recorded = run.config;
      checkTrainingBounds(cfg, recorded, paths.dir);
      const before = lastHistoryEntry(paths.dir)?.facts ?? { ...(run.device !== undefined ? { device: run.device } : {}), ...(run.worldSize !== undefined ? { worldSize: run.worldSize } : {}) };
      const checked = checkResume(paths.dir, run.config, cfg, { before, now: { worldSize, device } }, forceResume);
      resumeChanges = checked.changes;
      resumeWarning = checked.warning;
    } else {
      checkTrainingBounds(cfg, null, paths.dir);
      if (rank === 0) {
        folder = inspectRunFolder(paths);
        checkNewRun(paths.dir, folder, overwrite);
      }
    }
    const ds = await openTrainingData(cfg, hooks.onWarning);
    release.push(() => ds.close());
    const input = { channels: ds.channels, height: ds.height, width: ds.width };
    // Data parallel when launched with RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT (simclr launch); null otherwise.
    const dist = DistributedContext.fromEnv(process.env, { device });
    if (dist !== null) release.push(() => dist.close());
    if (dist !== null && cfg.batchSize % dist.worldSize !== 0) {
      throw new ConfigError(`--batch-size ${cfg.batchSize} (the global batch) must split evenly over ${dist.worldSize} ranks`);
    }
    // Rank 0 alone writes config.json, metrics.jsonl and checkpoints.
    const isMain = dist?.isMain ?? true;
    const localBatch = cfg.batchSize / (dist?.worldSize ?? 1);
    const knnData = cfg.knnEvery > 0 ? await openKnnData(cfg, dist !== null, hooks.onWarning) : null;
    if (knnData !== null) release.push(() => { knnData.train.close(); knnData.test.close(); });

    const stepsPerEpoch = Math.floor(ds.length / cfg.batchSize); // drop-last
    const plan: StepPlan = stepPlan({ epochs: cfg.epochs, stepsPerEpoch, ...(cfg.warmupEpochs !== null ? { warmupEpochs: cfg.warmupEpochs } : {}) });
    // A run of zero steps would train nothing and report a checkpoint it never wrote: refused before the model exists.
    if (plan.totalSteps < 1) {
      throw new ConfigError(`--epochs ${cfg.epochs} gives 0 steps: ${ds.name} has ${stepsPerEpoch} steps of ${cfg.batchSize} images per epoch; use --epochs >= ${Number((0.5 / stepsPerEpoch).toPrecision(2))}`);
    }
    const peakLr = scaledLearningRate(cfg.batchSize, { scaling: cfg.lrScaling, ...(cfg.lr !== null ? { baseLr: cfg.lr } : {}) });
    const lastStep = Math.min(plan.totalSteps, cfg.maxSteps ?? Infinity);

    torch.manualSeed(cfg.seed);
    // Initialised on the CPU from the seeded CPU generator, then moved: the same initial weights on every device.
    const model = buildModel(cfg, input).train();
    release.push(() => model.dispose());
    if (device !== 'cpu') model.to(device);
    const optimizer = makeOptimizer(cfg, model, peakLr);
    const aug = augmentPipelineFor(cfg, input);
    const uncovered = fusedCoverage(aug);
    if (uncovered !== null && rank === 0) warn(`augmentation runs on tensor ops, slower than the fused kernel: ${uncovered}`);
    const contrastiveLoss = createLoss(cfg.loss, cfg);

    let step = 0;
    // The step of the checkpoint on disk that this run wrote or resumed from; null while there is none.
    let savedStep: number | null = null;
    // Complete rows in metrics.jsonl (rank 0): checkpoints record it, so a resume keeps exactly the rows before them.
    let metricsRows = 0;
    let renumbered: ResumePosition['renumbered'] = null;
    if (resume) {
      const ckpt = loadCheckpoint(paths.checkpoint);
      let position: ResumePosition;
      try {
        // The recorded batch on the same data gives an older checkpoint's steps per epoch in its first epoch.
        const sameData = recorded !== null && recorded.data === cfg.data && recorded.imageSize === cfg.imageSize ? Math.floor(ds.length / recorded.batchSize) : null;
        position = resumePosition(paths.checkpoint, ckpt.meta, {
          stepsPerEpoch, totalSteps: plan.totalSteps, sameData, force: forceResume, data: `${ds.length} images of ${ds.name} in batches of ${cfg.batchSize}`,
        });
        checkResumable(paths.checkpoint, ckpt);
        try {
          model.loadStateDict(ckpt.model);
          // The checkpoint's group options (weight decay) would replace the configured ones: a forced change must apply.
          const configured = optimizer.paramGroups.map((g) => ({ weightDecay: g.weightDecay }));
          optimizer.loadStateDict({ tensors: ckpt.optimizer, meta: ckpt.meta.optimizer } as OptimizerStateDict);
          optimizer.paramGroups.forEach((g, i) => Object.assign(g, configured[i]));
        } catch (e) {
          // A checkpoint of another model or optimizer: one line naming the file, not a stack of TypeErrors.
          throw new ConfigError(`${paths.checkpoint}: does not fit this run's model and optimizer: ${(e as Error).message}`);
        }
        restoreGenerators(ckpt, device);
      } finally {
        disposeCheckpoint(ckpt);
      }
      if (position.step >= lastStep) {
        // Nothing to train: nothing is written (no history line, metrics as they are).
        const where = position.step >= plan.totalSteps
          ? `already complete (step ${position.step} of ${plan.totalSteps})`
          : `at step ${position.step} of ${lastStep} (--max-steps ${cfg.maxSteps}; the schedule has ${plan.totalSteps}): raise --max-steps to continue`;
        const moved = position.renumbered ? ` once moved to the next epoch boundary at ${stepsPerEpoch} steps per epoch (its checkpoint is at step ${ckpt.meta.step})` : '';
        return {
          steps: position.step, totalSteps: plan.totalSteps, stopped: 'nothing-to-do', message: `nothing to do: the run in ${paths.dir} is ${where}${moved}`,
          finalLoss: NaN, checkpoint: paths.checkpoint, wallSeconds: Number(process.hrtime.bigint() - started) / 1e9,
        };
      }
      step = position.step;
      renumbered = position.renumbered;
      savedStep = renumbered === null ? step : null;
      if (isMain) {
        metricsRows = truncateMetricsLog(paths.metrics, ckpt.meta.step, ckpt.meta.metricsRows);
        if (resumeWarning !== null) warn(resumeWarning);
        if (renumbered !== null) {
          const { from } = renumbered.stepsPerEpoch;
          warn(`--force-resume changes the steps per epoch of the run in ${paths.dir} from ${from ?? 'an unrecorded number'} to ${stepsPerEpoch}: it continues at the start of epoch ${step / stepsPerEpoch + 1}, step ${ckpt.meta.step} -> ${step}; the rest of a partly done epoch is skipped and the lr schedule continues at the same epoch (recorded in config-history.jsonl)`);
        }
        appendHistory(paths.dir, {
          time: new Date().toISOString(), step: ckpt.meta.step, forced: forceResume, changes: resumeChanges, config: cfg, facts: { worldSize, device },
          ...(renumbered !== null ? { renumbered } : {}),
        });
      }
    } else if (isMain) {
      // Only now, with the data open, the settings valid and the model built, does --overwrite remove the old run.
      if (overwrite && folder.kind === 'run') {
        const removed = removeRunOutputs(paths.dir);
        if (removed.length > 0) warn(`--overwrite removed the old run's ${removed.join(', ')} from ${paths.dir}`);
      }
      writeFileSync(paths.metrics, '');
    }
    dist?.prepare(model, { syncBn: cfg.syncBn });
    hooks.onStart?.({
      device, deviceName: torch.deviceName(device), step, totalSteps: lastStep, worldSize: dist?.worldSize ?? 1,
      backend: dist?.group.backend ?? null,
      knn: knnData === null ? null : { every: cfg.knnEvery, bank: knnData.train.name, queries: knnData.test.name },
    });
    // config.json records the run as it started; a resume leaves it and appends to config-history.jsonl (above).
    const runFile: RunConfigFile = { config: cfg, input, created: new Date().toISOString(), libtorch: torch.version(), device, worldSize };
    if (isMain && !resume) writeFileAtomic(paths.config, `${JSON.stringify(runFile, null, 2)}\n`);

    const checkpoint = (): void => {
      if (!isMain) {
        savedStep = step; // rank 0 writes it
        return;
      }
      const epoch = Math.floor(step / stepsPerEpoch);
      const state = optimizer.stateDict();
      try {
        saveCheckpoint(paths.checkpoint, model, state, { step, epoch, stepInEpoch: step - epoch * stepsPerEpoch, stepsPerEpoch, metricsRows }, device);
      } catch (e) {
        // The loss can still be finite when the update after it made the weights infinite.
        if (e instanceof NonFiniteStateError) throw new DivergenceError(`the model diverged at step ${step} (epoch ${epoch + 1}): ${e.message}; the run stopped and ${keptCheckpoint()}. ${DIVERGENCE_ADVICE}`);
        throw e;
      } finally {
        for (const t of Object.values(state.tensors)) t.dispose();
      }
      savedStep = step;
      hooks.onCheckpoint?.(paths.checkpoint, step);
    };
    // What a divergence leaves behind, naming only a checkpoint that exists.
    const keptCheckpoint = (): string => (savedStep === null
      ? 'no checkpoint was written (none had been saved yet)'
      : `the last good checkpoint (${paths.checkpoint}, step ${savedStep}) was kept`);
    const log = (row: MetricsRow): void => {
      if (!isMain) return;
      appendFileSync(paths.metrics, `${JSON.stringify(row)}\n`);
      metricsRows++;
      hooks.onLog?.(row);
    };
    // A renumbered run's first checkpoint, at once: the one on disk otherwise counts steps the old way, and a later
    // plain --resume would find it does not fit.
    if (renumbered !== null) checkpoint();

    const { channels: c, height: h, width: w } = input;
    const batchBytes = new Uint8Array(localBatch * c * h * w);
    const uploader = new BatchUploader([localBatch, c, h, w], device);
    release.push(() => uploader.dispose());
    let window = { loss: 0, acc: 0, steps: 0, images: 0, started: process.hrtime.bigint() };
    let lastLoss = NaN;
    let stopped: PretrainResult['stopped'] = 'completed';
    let perm: Uint32Array | null = null;
    let permEpoch = -1;
    const seconds = (from: bigint): number => Number(process.hrtime.bigint() - from) / 1e9;

    // Step s's batch read, uploaded and made into both views (uint8 pixels -> channels-last float views on the device).
    const prepare = (s: number): PreparedBatch => {
      const epoch = Math.floor(s / stepsPerEpoch);
      const inEpoch = s - epoch * stepsPerEpoch;
      if (permEpoch !== epoch) {
        perm = epochPermutation(ds.length, cfg.seed, epoch);
        permEpoch = epoch;
      }
      const globalIndices = perm!.subarray(inEpoch * cfg.batchSize, (inEpoch + 1) * cfg.batchSize);
      const indices = dist === null ? globalIndices : dist.shard(globalIndices);
      const t0 = process.hrtime.bigint();
      ds.readBatch(indices, batchBytes);
      const data = seconds(t0);
      const t1 = process.hrtime.bigint();
      // Both views in one batch, every first view before every second. Channels-last: oneDNN convolves NHWC directly
      // instead of reordering NCHW around every conv, and BatchNorm and ReLU keep the layout. Measured 1.2x less
      // compute per step at 96 px, no change at 28-32 px (bench/PERFORMANCE.md); the weights stay NCHW, so checkpoints
      // do not change. cuDNN's bf16 tensor-core convolutions also prefer NHWC. On CUDA the bytes go through pinned
      // memory without blocking the host (BatchUploader) and the views are made on the GPU.
      const x = torch.scope(() => createViewBatch(uploader.upload(batchBytes), aug, { seed: cfg.seed, epoch, indices }, { memoryFormat: 'channelsLast' }).keep());
      return { epoch, x, data, augment: seconds(t1) };
    };
    // On CUDA the next step's batch is prepared while the device computes the current one: its reading and view
    // parameters are host work, its upload and views queue behind the step. Each step's loss is then read back (the
    // host waits for the step, not for more), so the GPU idles only while the host queues the step's first kernels.
    const ahead = internals.prefetch ?? onCuda;
    let next: PreparedBatch | null = null;

    try {
      while (step < lastStep) {
        const cur = next ?? prepare(step);
        next = null;
        const epoch = cur.epoch;
        const lr = learningRate(step, { baseLr: peakLr, ...plan });
        optimizer.lr = lr;
        // Distributed: a stop request travels with the step's metrics (one all-reduce), so ranks agree on it with no
        // collective of its own; it takes effect after this step.
        const wantStop = dist !== null && hooks.shouldStop?.() === true;
        const marks: bigint[] = [process.hrtime.bigint()];
        const mark = (): void => { marks.push(process.hrtime.bigint()); };
        let stats: torch.Tensor;
        try {
          stats = torch.scope((): torch.Tensor => {
            dist?.beforeForward();
            const forward = (): torch.Tensor => model.call(cur.x).z;
            const z = (cfg.precision === 'bf16' ? torch.autocast(torch.deviceType(device), 'bfloat16', forward) : forward()).float();
            mark();
            const [z1, z2] = z.chunk(2);
            // Distributed: negatives from every rank's projections, and the loss and accuracy of the global batch.
            const gathered = dist?.gatherPairs(z1!, z2!);
            const r = contrastiveLoss(z1!, z2!, gathered);
            // Loss, accuracy (and the stop flag) stay on the device until read back below.
            const parts = [r.loss.detach(), r.contrastiveAccuracy];
            if (dist !== null) parts.push(r.contrastiveAccuracy.mul(0).add(wantStop ? 1 : 0));
            const both = torch.stack(parts).float();
            if (dist !== null) dist.averageInPlace(both);
            mark();
            optimizer.zeroGrad();
            if (dist === null) r.loss.backward();
            else dist.backward(r.loss);
            mark();
            optimizer.step();
            mark();
            return both.keep();
          });
        } finally {
          cur.x.dispose();
        }
        step++;
        if (ahead && step < lastStep) next = prepare(step);

        const waitStart = process.hrtime.bigint();
        const values = stats.toArray() as Float32Array; // on a GPU, waits for this step (and the next views) to finish
        stats.dispose();
        const wait = seconds(waitStart);
        const [loss, acc] = [values[0]!, values[1]!];
        if (!Number.isFinite(loss)) {
          throw new DivergenceError(`loss is ${loss} at step ${step} (epoch ${epoch + 1}); the run stopped and ${keptCheckpoint()}. ${DIVERGENCE_ADVICE}`);
        }
        lastLoss = loss;
        window.loss += loss;
        window.acc += acc;
        window.steps++;
        window.images += cfg.batchSize;
        const imagesPerSec = window.images / seconds(window.started);
        const phases: StepPhases = {
          data: cur.data, augment: cur.augment, forward: Number(marks[1]! - marks[0]!) / 1e9, loss: Number(marks[2]! - marks[1]!) / 1e9,
          backward: Number(marks[3]! - marks[2]!) / 1e9, optimizer: Number(marks[4]! - marks[3]!) / 1e9, wait,
        };
        hooks.onProgress?.({ step, totalSteps: lastStep, epoch: epoch + 1, loss, lr, contrastiveAcc: acc, imagesPerSec, phases });

        const epochEnd = step % stepsPerEpoch === 0;
        if (step % cfg.logSteps === 0 || epochEnd || step === lastStep) {
          const knn = epochEnd && knnData !== null && (epoch + 1) % cfg.knnEvery === 0
            ? knnMonitor(model.encoder, knnData.train, knnData.test, { seed: cfg.seed, device })
            : null;
          log({
            epoch: epoch + 1, step, loss: window.loss / window.steps, lr, contrastive_acc: window.acc / window.steps,
            images_per_s: Math.round(imagesPerSec * 10) / 10, ...(epochEnd ? { epoch_end: true } : {}),
            ...(knn ? { knn_top1: knn.top1, knn_top5: knn.top5, knn_bank: knnData!.train.name, knn_queries: knnData!.test.name } : {}),
          });
          window = { loss: 0, acc: 0, steps: 0, images: 0, started: process.hrtime.bigint() };
        }
        // Every rank must stop at the same step, or the others would wait for it in the next collective.
        const interrupted = dist === null ? hooks.shouldStop?.() === true : values[2]! > 0;
        if (epochEnd || step === lastStep || interrupted || (cfg.checkpointSteps > 0 && step % cfg.checkpointSteps === 0)) checkpoint();
        if (interrupted && step < lastStep) {
          stopped = 'interrupted';
          break;
        }
      }
    } finally {
      next?.x.dispose();
    }
    if (stopped !== 'interrupted' && lastStep < plan.totalSteps) stopped = 'max-steps';
    return {
      steps: step, totalSteps: plan.totalSteps, stopped, finalLoss: lastLoss, checkpoint: paths.checkpoint,
      wallSeconds: Number(process.hrtime.bigint() - started) / 1e9,
    };
  } finally {
    for (const undo of release.reverse()) undo();
  }
}
