// Pretraining configuration: one typed object, its defaults, and validation with messages that name the field.
import type { LrScaling } from '../optim/schedule.js';
import type { Stem } from '../models/resnet.js';
import { BACKBONE_NAMES, type BackboneName } from '../models/index.js';
import { OPTIMIZER_NAMES, type OptimizerName } from '../optim/index.js';
import { LOSS_NAMES, type LossName } from '../loss/index.js';
import { DEFAULT_MARGIN } from '../loss/margintriplet.js';
import { PRETRAIN_BOUNDS, boundMessage, describeValue, withinBound, type NumberBound } from './bounds.js';
import { parseAugmentSteps, type AugmentStepConfig } from '../augment/pipeline.js';
import { ConfigError } from '../errors.js';

/** A BACKBONES key (src/models/index.ts). */
export type Arch = BackboneName;
export type { OptimizerName, LossName };
export type Precision = 'fp32' | 'bf16';

export interface PretrainConfig {
  /** Data spec, e.g. 'fashion-mnist', 'cifar10:DIR', 'stl10:DIR:unlabeled', 'folder:DIR'. */
  data: string;
  /** Run folder: config.json, metrics.jsonl, checkpoints/. */
  out: string;
  /** Encoder, a BACKBONES key (src/models/index.ts). */
  arch: Arch;
  width: number;
  /** Folder datasets: side of the decoded square images; others: their own size (must match if given). */
  imageSize: number | null;
  /** 'auto' picks the CIFAR stem for images <= 32 px. */
  stem: Stem | 'auto';
  epochs: number;
  /** Global batch: source images per step; each gives two views. */
  batchSize: number;
  /** An OPTIMIZERS key (src/optim/index.ts). */
  optimizer: OptimizerName;
  /** Base rate before scaling: lr = base*bs/256 (linear) or base*sqrt(bs) (sqrt); null = the paper's base. */
  lr: number | null;
  lrScaling: LrScaling;
  /** null = min(10, epochs/10). */
  warmupEpochs: number | null;
  weightDecay: number;
  /** The pretraining loss, a LOSSES key (src/loss/index.ts): 'ntxent' (the paper's), 'ntlogistic', 'margintriplet'. */
  loss: LossName;
  /** τ of 'ntxent' and 'ntlogistic'. */
  temperature: number;
  /** m of 'margintriplet', in cosine-similarity units. */
  margin: number;
  projLayers: number;
  projDim: number;
  colorStrength: number;
  /** Smallest crop area fraction of the random resized crop (the paper: 0.08). */
  cropMinScale: number;
  blur: boolean;
  /**
   * The augmentation pipeline as a list of { op, ...options } (ops: src/augment/registry.ts), config files only;
   * null = the paper's pipeline with --color-strength, --crop-min-scale and --blur. Stored with every option filled in.
   */
  augment: AugmentStepConfig[] | null;
  seed: number;
  maxSteps: number | null;
  logSteps: number;
  /** 0 = only at epoch ends. */
  checkpointSteps: number;
  threads: number | null;
  precision: Precision;
  /**
   * Where to train: 'auto' (the first visible CUDA device, or cuda:LOCAL_RANK under `simclr launch`, else the
   * CPU), 'cpu', 'cuda' or 'cuda:N'. Resolved when the run starts (torch.resolveDevice).
   */
  device: string;
  strict: boolean;
  /** Distributed runs: BatchNorm statistics over the global batch (the paper's global BN) rather than per rank. */
  syncBn: boolean;
  /**
   * kNN monitor every n epochs (0 = off; single-process runs): the dataset's labelled train split as the memory bank
   * and its held-out test split as the queries, whatever split `data` names (pretrain.ts, openKnnData).
   */
  knnEvery: number;
}

export const DEFAULT_CONFIG: Readonly<Omit<PretrainConfig, 'data' | 'out'>> = {
  arch: 'resnet18',
  width: 1,
  imageSize: null,
  stem: 'auto',
  epochs: 100,
  batchSize: 256,
  optimizer: 'lars',
  lr: null,
  lrScaling: 'linear',
  warmupEpochs: null,
  weightDecay: 1e-6,
  loss: 'ntxent',
  temperature: 0.5,
  margin: DEFAULT_MARGIN,
  projLayers: 2,
  projDim: 128,
  colorStrength: 1,
  cropMinScale: 0.08,
  blur: true,
  augment: null,
  seed: 0,
  maxSteps: null,
  logSteps: 10,
  checkpointSteps: 0,
  threads: null,
  precision: 'fp32',
  device: 'auto',
  strict: false,
  syncBn: true,
  knnEvery: 0,
};

// A configuration problem the user can fix (exit code 2); defined with the other typed errors in src/errors.ts.
export { ConfigError };

type BoundedKey = keyof typeof PRETRAIN_BOUNDS;

/**
 * What a stored config (a run's config.json or history) must hold for a field: its type, finite, and on the same side
 * of zero as the training bound (a positive integer stays one), so the model can be rebuilt and the run read. The
 * training bounds themselves are newer than some runs and apply only to configs about to train.
 */
function storedBound(b: NumberBound, key: BoundedKey): NumberBound {
  const positive = b.min > 0 || b.minExclusive === true;
  // The fields that size the model keep a cap, 16x today's: no run was ever trained past it (its weights would not
  // fit in memory), and rebuilding such a model from an edited config.json would fail deep inside libtorch instead.
  const max = MODEL_SIZE_KEYS.has(key) ? 16 * b.max : b.kind === 'int' ? Number.MAX_SAFE_INTEGER : Number.MAX_VALUE;
  const why = MODEL_SIZE_KEYS.has(key) ? 'a model larger than any simclr run' : undefined;
  if (b.kind === 'int') return { kind: 'int', min: positive ? 1 : b.min, max, ...(why ? { why } : {}) };
  return { kind: 'number', min: positive ? 0 : b.min, minExclusive: positive, max, ...(why ? { why } : {}) };
}

const MODEL_SIZE_KEYS: ReadonlySet<BoundedKey> = new Set<BoundedKey>(['width', 'projDim', 'projLayers', 'imageSize']);

/** A number field checked against its row of PRETRAIN_BOUNDS (or, for a stored config, its storedBound). */
function bounded(v: unknown, key: BoundedKey, stored: boolean): number {
  const b: NumberBound = stored ? storedBound(PRETRAIN_BOUNDS[key], key) : PRETRAIN_BOUNDS[key];
  if (!withinBound(v, b)) throw new ConfigError(boundMessage(`--${kebab(key)}`, v, b));
  return v;
}
function orNull(v: unknown, key: BoundedKey, stored: boolean): number | null {
  return v === null ? null : bounded(v, key, stored);
}

/**
 * The fields of a resolved config outside today's training bounds, each as its one-line message: none for a config
 * resolveConfig made for training; possibly some for a stored one (made by an older simclr).
 */
export function trainingBoundProblems(cfg: PretrainConfig): { key: BoundedKey; message: string }[] {
  const problems: { key: BoundedKey; message: string }[] = [];
  for (const key of Object.keys(PRETRAIN_BOUNDS) as BoundedKey[]) {
    const v = cfg[key];
    if (v === null || withinBound(v, PRETRAIN_BOUNDS[key])) continue;
    problems.push({ key, message: boundMessage(`--${kebab(key)}`, v, PRETRAIN_BOUNDS[key]) });
  }
  return problems;
}
function oneOf<T extends string>(v: unknown, key: string, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) throw new ConfigError(`--${kebab(key)} must be one of ${allowed.join('|')}, got ${describeValue(v)}`);
  return v as T;
}
/** Exactly true or false: a config file's "yes" or "false" string is refused, not read as false or true. */
function bool(v: unknown, key: string): boolean {
  if (typeof v !== 'boolean') throw new ConfigError(`--${kebab(key)} must be true or false, got ${describeValue(v)}`);
  return v;
}

/** The `augment` list, checked; it replaces the flags that shape the default pipeline, so those must stay default. */
function augmentSteps(c: Record<string, unknown>): AugmentStepConfig[] | null {
  if (c.augment === null) return null;
  let steps: AugmentStepConfig[];
  try {
    steps = parseAugmentSteps(c.augment);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const set = (['colorStrength', 'cropMinScale', 'blur'] as const).filter((k) => c[k] !== DEFAULT_CONFIG[k]);
  if (set.length > 0) throw new ConfigError(`${set.map((k) => `--${kebab(k)}`).join(', ')} cannot be combined with an augment list: set the options of its ops instead`);
  return steps;
}

export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * Merges defaults with the given values and checks every field: types exactly (a string "32" is not a number, "yes"
 * is not a boolean) and numbers against PRETRAIN_BOUNDS (src/run/bounds.ts). With `stored` (a run's recorded
 * settings, read by info, eval, export, report and before a resume) numbers are checked for type and sign only
 * (storedBound): a run an older simclr made with a value today's bounds refuse still opens; pretrain() checks the
 * bounds of what it is about to train.
 * @throws ConfigError naming the option, for unknown keys (all of them at once) and for any value out of its type or
 *   bounds. Whether --epochs gives at least one step depends on the data, so pretrain() checks that when it opens it.
 */
export function resolveConfig(values: Record<string, unknown>, opts: { stored?: boolean } = {}): PretrainConfig {
  const stored = opts.stored === true;
  const known = new Set([...Object.keys(DEFAULT_CONFIG), 'data', 'out']);
  const unknown = Object.keys(values).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new ConfigError(`unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${kebab(k)}'`).join(', ')}`);
  const c = { ...DEFAULT_CONFIG, ...values } as Record<string, unknown>;
  if (typeof c.data !== 'string' || c.data === '') throw new ConfigError(`--data is required (e.g. --data fashion-mnist)${c.data === undefined ? '' : `, got ${describeValue(c.data)}`}`);
  if (typeof c.out !== 'string' || c.out === '') throw new ConfigError(`--out is required (the run folder)${c.out === undefined ? '' : `, got ${describeValue(c.out)}`}`);
  const cfg: PretrainConfig = {
    data: c.data,
    out: c.out,
    arch: oneOf(c.arch, 'arch', BACKBONE_NAMES),
    width: bounded(c.width, 'width', stored),
    imageSize: orNull(c.imageSize, 'imageSize', stored),
    stem: oneOf(c.stem, 'stem', ['auto', 'cifar', 'imagenet'] as const),
    epochs: bounded(c.epochs, 'epochs', stored),
    batchSize: bounded(c.batchSize, 'batchSize', stored),
    optimizer: oneOf(c.optimizer, 'optimizer', OPTIMIZER_NAMES),
    lr: orNull(c.lr, 'lr', stored),
    lrScaling: oneOf(c.lrScaling, 'lrScaling', ['linear', 'sqrt'] as const),
    warmupEpochs: orNull(c.warmupEpochs, 'warmupEpochs', stored),
    weightDecay: bounded(c.weightDecay, 'weightDecay', stored),
    loss: oneOf(c.loss, 'loss', LOSS_NAMES),
    temperature: bounded(c.temperature, 'temperature', stored),
    margin: bounded(c.margin, 'margin', stored),
    projLayers: bounded(c.projLayers, 'projLayers', stored),
    projDim: bounded(c.projDim, 'projDim', stored),
    colorStrength: bounded(c.colorStrength, 'colorStrength', stored),
    cropMinScale: bounded(c.cropMinScale, 'cropMinScale', stored),
    blur: bool(c.blur, 'blur'),
    augment: augmentSteps(c),
    seed: bounded(c.seed, 'seed', stored),
    maxSteps: orNull(c.maxSteps, 'maxSteps', stored),
    logSteps: bounded(c.logSteps, 'logSteps', stored),
    checkpointSteps: bounded(c.checkpointSteps, 'checkpointSteps', stored),
    threads: orNull(c.threads, 'threads', stored),
    precision: oneOf(c.precision, 'precision', ['fp32', 'bf16'] as const),
    device: (() => {
      const d = c.device;
      if (typeof d !== 'string' || !/^(auto|cpu|cuda(:\d+)?)$/.test(d)) throw new ConfigError(`--device must be cpu, cuda, cuda:N or auto, got ${describeValue(d)}`);
      return d;
    })(),
    strict: bool(c.strict, 'strict'),
    knnEvery: bounded(c.knnEvery, 'knnEvery', stored),
    syncBn: bool(c.syncBn, 'syncBn'),
  };
  return cfg;
}
