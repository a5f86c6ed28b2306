// A run's start, before its first step: the run folder's verdict (new run, resume, overwrite), the data, the
// resumed position and state, and the options that map onto parts (optimizer, augmentation pipeline). What the loop
// needs is ready once these return; nothing here trains.
import { existsSync, writeFileSync } from 'node:fs';
import * as torch from '../torch/index.js';
import { openDataset, specWithoutSplit } from '../data/spec.js';
import { DataError, type ImageDataset } from '../data/dataset.js';
import { withSubset } from '../data/subset.js';
import { scaledLearningRate, stepPlan, type StepPlan } from '../optim/schedule.js';
import type { DistEnv } from '../distributed/env.js';
import { OPTIMIZERS, type Optimizer, type GroupOptions, type OptimizerStateDict } from '../optim/index.js';
import type { SimCLRModel } from '../models/simclr.js';
import { ConfigError, kebab, trainingBoundProblems, type PretrainConfig } from '../run/config.js';
import { PRESET_KEYS } from '../run/presets.js';
import {
  disposeCheckpoint,
  firstNonFinite,
  inspectRunFolder,
  loadCheckpoint,
  readRunConfig,
  removeRunOutputs,
  restoreGenerators,
  type Checkpoint,
  type CheckpointMeta,
  type RunFolderContents,
  type RunPaths,
} from '../run/folder.js';
import { truncateMetricsLog } from '../run/metrics-log.js';
import {
  appendHistory,
  checkNewRun,
  checkResume,
  lastHistoryEntry,
  RESUME_RULES,
  type Changes,
  type HistoryEntry,
} from '../run/resume.js';

export function makeOptimizer(cfg: PretrainConfig, model: SimCLRModel, lr: number): Optimizer<GroupOptions> {
  return OPTIMIZERS[cfg.optimizer].create(model.namedParameters(), { lr, weightDecay: cfg.weightDecay });
}

/** Where a resumed run continues: the checkpoint's step, or the next epoch boundary (renumbered). */
export interface ResumePosition {
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
export function resumePosition(
  path: string,
  meta: CheckpointMeta,
  run: { stepsPerEpoch: number; totalSteps: number; sameData: number | null; force: boolean; data: string },
): ResumePosition {
  const { step, epoch, stepInEpoch } = meta;
  const { stepsPerEpoch, totalSteps } = run;
  let before: number | null = meta.stepsPerEpoch ?? (epoch > 0 ? (step - stepInEpoch) / epoch : run.sameData);
  // A checkpoint at an epoch's end records that epoch as done (stepInEpoch == stepsPerEpoch) or the next as begun.
  const fits = (spe: number): boolean =>
    Number.isSafeInteger(spe) && spe >= 1 && epoch * spe + stepInEpoch === step && stepInEpoch <= spe;
  // sameData was wrong
  if (meta.stepsPerEpoch === undefined && epoch === 0 && before !== null && !fits(before)) before = null;
  const changed = before === null ? run.force && step > 0 : before !== stepsPerEpoch;
  if (!changed) {
    if (step > totalSteps)
      throw new ConfigError(
        `${path}: checkpoint field 'step' (${step}) is beyond this run's ${totalSteps} steps; was --epochs lowered?`,
      );
    if (!fits(stepsPerEpoch)) {
      throw new ConfigError(
        `${path}: checkpoint fields 'epoch' (${epoch}) and 'stepInEpoch' (${stepInEpoch}) do not give 'step' ` +
          `(${step}) at ${stepsPerEpoch} steps per epoch`,
      );
    }
    return { step, renumbered: null };
  }
  if (before !== null && !fits(before)) {
    throw new ConfigError(
      `${path}: checkpoint fields 'epoch' (${epoch}) and 'stepInEpoch' (${stepInEpoch}) do not give 'step' ` +
        `(${step})${
          meta.stepsPerEpoch !== undefined
            ? ` at its ${before} steps per epoch`
            : ' at a whole number of steps per epoch'
        }`,
    );
  }
  if (!run.force) {
    throw new ConfigError(
      `${path}: the run did ${before} steps per epoch and would now do ${stepsPerEpoch} (${run.data}), so its step ` +
        `counter would no longer match; pass --force-resume to continue at the next epoch boundary (README, Run ` +
        `folders)`,
    );
  }
  const next = (epoch + (stepInEpoch > 0 ? 1 : 0)) * stepsPerEpoch;
  return { step: next, renumbered: { step: next, stepsPerEpoch: { from: before, to: stepsPerEpoch } } };
}

/** Checks that a checkpoint to resume holds optimizer state once a step was done, and only finite tensors. */
export function checkResumable(path: string, ckpt: Checkpoint): void {
  const { step } = ckpt.meta;
  if (step > 0 && Object.keys(ckpt.optimizer).length === 0)
    throw new ConfigError(`${path}: checkpoint holds no optimizer state after ${step} steps`);
  const bad = firstNonFinite([
    ...[...ckpt.model].map(([k, t]): [string, torch.Tensor] => [`model.${k}`, t]),
    ...Object.entries(ckpt.optimizer).map(([k, t]): [string, torch.Tensor] => [`optimizer.${k}`, t]),
  ]);
  if (bad !== null)
    throw new ConfigError(`${path}: tensor '${bad}' holds NaN or infinite values; this checkpoint cannot be resumed`);
}

/**
 * Refuses to train with settings outside today's bounds (src/run/bounds.ts), or left to a preset but not resolved (a
 * library caller that built the config without resolveConfig). A resume's settings may carry values an older simclr
 * accepted (`recorded`, the run's stored ones): the message says so and what can be done.
 */
export function checkTrainingBounds(cfg: PretrainConfig, recorded: PretrainConfig | null, dir: string): void {
  const unresolved = PRESET_KEYS.filter((k) => cfg[k] === null || cfg[k] === undefined);
  if (unresolved.length > 0)
    throw new ConfigError(
      `${unresolved.map((k) => `--${kebab(k)}`).join(', ')} not set: pass the config through resolveConfig(), which ` +
        'fills them from its preset',
    );
  const problems = trainingBoundProblems(cfg);
  if (problems.length === 0) return;
  throw new ConfigError(
    problems
      .map(({ key, message }) => {
        if (recorded === null || recorded[key] !== cfg[key]) return message;
        const rule = RESUME_RULES[key];
        const fix =
          rule === 'fixed'
            ? 'it cannot change on resume, so this simclr can read the run (info, eval, export, report) but not ' +
              'train it further'
            : `resume with --${kebab(key)} within them${rule === 'refuse' ? ' and --force-resume' : ''}`;
        return `${message}: the run in ${dir} has it from an older simclr, whose bounds were wider; ${fix}`;
      })
      .join('; '),
  );
}

export async function openTrainingData(cfg: PretrainConfig, onWarning?: (msg: string) => void): Promise<ImageDataset> {
  const whole = await openDataset(cfg.data, {
    split: 'train',
    strict: cfg.strict,
    ...(cfg.imageSize !== null ? { imageSize: cfg.imageSize } : {}),
    ...(onWarning ? { onWarning } : {}),
  });
  if (cfg.subset !== null && cfg.subset > whole.length) {
    whole.close();
    throw new ConfigError(`--subset ${cfg.subset} exceeds the ${whole.length} training images of ${whole.name}`);
  }
  const ds = withSubset(whole, cfg.subset);
  if (cfg.imageSize !== null && !cfg.data.startsWith('folder:') && cfg.imageSize !== ds.height) {
    throw new ConfigError(
      `--image-size ${cfg.imageSize} does not match ${ds.name} (${ds.height} px); it applies to folder: datasets`,
    );
  }
  if (ds.height !== ds.width) throw new ConfigError(`${ds.name}: images must be square, got ${ds.height}x${ds.width}`);
  if (ds.length < cfg.batchSize)
    throw new ConfigError(`--batch-size ${cfg.batchSize} exceeds the ${ds.length} training images of ${ds.name}`);
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
export async function openKnnData(
  cfg: PretrainConfig,
  distributed: boolean,
  onWarning?: (msg: string) => void,
): Promise<{ train: ImageDataset; test: ImageDataset } | null> {
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
    if (e instanceof DataError)
      throw new ConfigError(`--knn-every needs a held-out labelled split of ${cfg.data} for its queries: ${e.message}`);
    throw e;
  }
  if (test.labels === null || !test.labels.some((y) => y >= 0)) {
    const name = test.name;
    train.close();
    test.close();
    throw new ConfigError(
      `--knn-every needs a held-out labelled split of ${cfg.data} for its queries, and ${name} has no labels`,
    );
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
  return (
    '--precision bf16 on a CPU without AVX512-BF16 or AMX: libtorch emulates bfloat16 here, measured at 5-11% ' +
    'of fp32 speed on such a CPU (bench/PERFORMANCE.md); fp32 is faster on this machine'
  );
}

/** What a run's start found: a resume's checked changes, or what a new run's --out held. */
export interface RunStartCheck {
  resumeChanges: Changes;
  /** Said once the resume proceeds: a refused or zero-step one records nothing. */
  resumeWarning: string | null;
  /** The run's stored settings (resume). */
  recorded: PretrainConfig | null;
  /** What --out held before this run (rank 0, new runs): --overwrite removes only a simclr run's files. */
  folder: RunFolderContents;
}

/**
 * Checks that the run may start as asked: a resume's settings against the stored ones (every rank: the same files,
 * so the same verdict), a new run's --out (rank 0), and the training bounds. Writes nothing.
 */
export function checkRunStart(
  cfg: PretrainConfig,
  paths: RunPaths,
  start: { resume: boolean; overwrite: boolean; forceResume: boolean },
  now: { rank: number; worldSize: number; device: string },
): RunStartCheck {
  if (!start.resume) {
    checkTrainingBounds(cfg, null, paths.dir);
    let folder: RunFolderContents = { kind: 'empty' };
    if (now.rank === 0) {
      folder = inspectRunFolder(paths);
      checkNewRun(paths.dir, folder, start.overwrite);
    }
    return { resumeChanges: {}, resumeWarning: null, recorded: null, folder };
  }
  if (!existsSync(paths.checkpoint) && existsSync(paths.config)) {
    throw new ConfigError(
      `${paths.dir} holds a run that never wrote a checkpoint (no ${paths.checkpoint}): there is nothing to resume; ` +
        `pass --overwrite to start it again`,
    );
  }
  const run = readRunConfig(paths.dir);
  checkTrainingBounds(cfg, run.config, paths.dir);
  const before = lastHistoryEntry(paths.dir)?.facts ?? {
    ...(run.device !== undefined ? { device: run.device } : {}),
    ...(run.worldSize !== undefined ? { worldSize: run.worldSize } : {}),
  };
  const checked = checkResume(
    paths.dir,
    run.config,
    cfg,
    { before, now: { worldSize: now.worldSize, device: now.device } },
    start.forceResume,
  );
  return {
    resumeChanges: checked.changes,
    resumeWarning: checked.warning,
    recorded: run.config,
    folder: { kind: 'empty' },
  };
}

/** A resume's restored state: where it continues, and the checkpoint's step and metrics rows. */
export interface ResumedState {
  position: ResumePosition;
  checkpointStep: number;
  checkpointRows: CheckpointMeta['metricsRows'];
}

/**
 * Loads the run's checkpoint into `model` and `optimizer` (keeping the configured weight decay) and restores the
 * random generators, once its position and tensors check out.
 * @throws ConfigError for a checkpoint that does not fit this run, holds non-finite tensors, or (unforced) counts
 *   steps per epoch differently
 */
export function resumeState(
  path: string,
  cfg: PretrainConfig,
  model: SimCLRModel,
  optimizer: Optimizer<GroupOptions>,
  run: {
    device: string;
    recorded: PretrainConfig | null;
    stepsPerEpoch: number;
    totalSteps: number;
    force: boolean;
    ds: ImageDataset;
  },
): ResumedState {
  const { recorded, ds } = run;
  const ckpt = loadCheckpoint(path);
  try {
    // The recorded batch on the same data gives an older checkpoint's steps per epoch in its first epoch.
    const sameData =
      recorded !== null && recorded.data === cfg.data && recorded.imageSize === cfg.imageSize
        ? Math.floor(ds.length / recorded.batchSize)
        : null;
    const position = resumePosition(path, ckpt.meta, {
      stepsPerEpoch: run.stepsPerEpoch,
      totalSteps: run.totalSteps,
      sameData,
      force: run.force,
      data: `${ds.length} images of ${ds.name} in batches of ${cfg.batchSize}`,
    });
    checkResumable(path, ckpt);
    try {
      model.loadStateDict(ckpt.model);
      // The checkpoint's group options (weight decay) would replace the configured ones: a forced change must apply.
      const configured = optimizer.paramGroups.map((g) => ({ weightDecay: g.weightDecay }));
      optimizer.loadStateDict({ tensors: ckpt.optimizer, meta: ckpt.meta.optimizer } as OptimizerStateDict);
      optimizer.paramGroups.forEach((g, i) => {
        Object.assign(g, configured[i]);
      });
    } catch (e) {
      // A checkpoint of another model or optimizer: one line naming the file, not a stack of TypeErrors.
      throw new ConfigError(`${path}: does not fit this run's model and optimizer: ${(e as Error).message}`);
    }
    restoreGenerators(ckpt, run.device);
    return { position, checkpointStep: ckpt.meta.step, checkpointRows: ckpt.meta.metricsRows };
  } finally {
    disposeCheckpoint(ckpt);
  }
}

/** Why a resume has nothing to train: the run is complete, or at --max-steps. */
export function nothingToDo(
  dir: string,
  { position, checkpointStep }: ResumedState,
  run: { lastStep: number; totalSteps: number; maxSteps: number | null; stepsPerEpoch: number },
): string {
  const where =
    position.step >= run.totalSteps
      ? `already complete (step ${position.step} of ${run.totalSteps})`
      : `at step ${position.step} of ${run.lastStep} (--max-steps ${run.maxSteps}; the schedule has ` +
        `${run.totalSteps}): raise --max-steps to continue`;
  const moved = position.renumbered
    ? ` once moved to the next epoch boundary at ${run.stepsPerEpoch} steps per epoch (its checkpoint is at step ` +
      `${checkpointStep})`
    : '';
  return `nothing to do: the run in ${dir} is ${where}${moved}`;
}

/**
 * Rank 0, a resume that proceeds: metrics.jsonl cut back to the checkpoint's rows, the resume's warnings, and its line
 * in config-history.jsonl. Returns the rows kept.
 */
export function recordResume(
  paths: RunPaths,
  cfg: PretrainConfig,
  { position, checkpointStep, checkpointRows }: ResumedState,
  checked: RunStartCheck,
  o: { stepsPerEpoch: number; force: boolean; worldSize: number; device: string; warn: (msg: string) => void },
): number {
  const { dir } = paths;
  const rows = truncateMetricsLog(paths.metrics, checkpointStep, checkpointRows);
  const { renumbered } = position;
  if (checked.resumeWarning !== null) o.warn(checked.resumeWarning);
  if (renumbered !== null) {
    const { from } = renumbered.stepsPerEpoch;
    o.warn(
      `--force-resume changes the steps per epoch of the run in ${dir} from ${from ?? 'an unrecorded number'} to ` +
        `${o.stepsPerEpoch}: it continues at the start of epoch ${position.step / o.stepsPerEpoch + 1}, step ` +
        `${checkpointStep} -> ${position.step}; the rest of a partly done epoch is skipped and the lr schedule ` +
        `continues at the same epoch (recorded in config-history.jsonl)`,
    );
  }
  appendHistory(dir, {
    time: new Date().toISOString(),
    step: checkpointStep,
    forced: o.force,
    changes: checked.resumeChanges,
    config: cfg,
    facts: { worldSize: o.worldSize, device: o.device },
    ...(renumbered !== null ? { renumbered } : {}),
  });
  return rows;
}

/** Rank 0, a new run: --overwrite removes the old run only now (data open, settings valid, model built). */
export function beginNewRun(
  paths: RunPaths,
  folder: RunFolderContents,
  overwrite: boolean,
  warn: (msg: string) => void,
): void {
  if (overwrite && folder.kind === 'run') {
    const removed = removeRunOutputs(paths.dir);
    if (removed.length > 0) warn(`--overwrite removed the old run's ${removed.join(', ')} from ${paths.dir}`);
  }
  writeFileSync(paths.metrics, '');
}

/**
 * The rank's device (cfg.device as torch.resolveDevice reads it), made the current one on CUDA, and the thread
 * count. Warns (rank 0) where bf16 will be slow on this CPU.
 */
export function prepareDevice(
  cfg: PretrainConfig,
  distEnv: DistEnv | null,
  warn: (msg: string) => void,
): { device: string; onCuda: boolean } {
  const device = torch.resolveDevice(cfg.device, { localRank: distEnv?.localRank ?? 0, distributed: distEnv !== null });
  const onCuda = torch.deviceType(device) === 'cuda';
  // The rank's GPU becomes the current device, so that NCCL, the caching allocator and kernels without an explicit
  // device argument use it, as torchrun scripts do with torch.cuda.set_device(LOCAL_RANK).
  if (onCuda) torch.cuda.setDevice(device);
  const slowBf16 =
    cfg.precision === 'bf16' && !onCuda && (distEnv?.rank ?? 0) === 0 ? bf16CpuWarning(torch.cpuFeatures()) : null;
  if (slowBf16 !== null) warn(slowBf16);
  if (cfg.threads !== null) torch.setNumThreads(cfg.threads);
  return { device, onCuda };
}

/** A run's steps on `ds` (drop-last), its schedule, peak lr and last step. @throws ConfigError for zero steps */
export function planRun(
  cfg: PretrainConfig,
  ds: ImageDataset,
): { stepsPerEpoch: number; plan: StepPlan; peakLr: number; lastStep: number } {
  const stepsPerEpoch = Math.floor(ds.length / cfg.batchSize);
  const plan = stepPlan({
    epochs: cfg.epochs,
    stepsPerEpoch,
    ...(cfg.warmupEpochs !== null ? { warmupEpochs: cfg.warmupEpochs } : {}),
  });
  // A run of zero steps would train nothing and report a checkpoint it never wrote: refused before the model exists.
  if (plan.totalSteps < 1) {
    throw new ConfigError(
      `--epochs ${cfg.epochs} gives 0 steps: ${ds.name} has ${stepsPerEpoch} steps of ${cfg.batchSize} images per ` +
        `epoch; use --epochs >= ${Number((0.5 / stepsPerEpoch).toPrecision(2))}`,
    );
  }
  const peakLr = scaledLearningRate(cfg.batchSize, {
    scaling: cfg.lrScaling,
    ...(cfg.lr !== null ? { baseLr: cfg.lr } : {}),
  });
  return { stepsPerEpoch, plan, peakLr, lastStep: Math.min(plan.totalSteps, cfg.maxSteps ?? Infinity) };
}
