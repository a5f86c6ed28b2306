// Pretraining configuration: one typed object, its defaults, and validation with messages that name the field.
import type { LrScaling } from '../optim/schedule.js';
import type { ResNetDepth, Stem } from '../models/resnet.js';

export type Arch = `resnet${ResNetDepth}`;
export type OptimizerName = 'lars' | 'sgd' | 'adamw';
export type Precision = 'fp32' | 'bf16';

export interface PretrainConfig {
  /** Data spec, e.g. 'fashion-mnist', 'cifar10:DIR', 'stl10:DIR:unlabeled', 'folder:DIR'. */
  data: string;
  /** Run folder: config.json, metrics.jsonl, checkpoints/. */
  out: string;
  arch: Arch;
  width: number;
  /** Folder datasets: side of the decoded square images; others: their own size (must match if given). */
  imageSize: number | null;
  /** 'auto' picks the CIFAR stem for images <= 32 px. */
  stem: Stem | 'auto';
  epochs: number;
  /** Global batch: source images per step; each gives two views. */
  batchSize: number;
  optimizer: OptimizerName;
  /** Base rate before scaling: lr = base*bs/256 (linear) or base*sqrt(bs) (sqrt); null = the paper's base. */
  lr: number | null;
  lrScaling: LrScaling;
  /** null = min(10, epochs/10). */
  warmupEpochs: number | null;
  weightDecay: number;
  temperature: number;
  projLayers: number;
  projDim: number;
  colorStrength: number;
  /** Smallest crop area fraction of the random resized crop (the paper: 0.08). */
  cropMinScale: number;
  blur: boolean;
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
  /** kNN monitor on the labelled train/test splits every n epochs (0 = off; single-process runs). */
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
  temperature: 0.5,
  projLayers: 2,
  projDim: 128,
  colorStrength: 1,
  cropMinScale: 0.08,
  blur: true,
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

/** A configuration problem the user can fix; the CLI prints it on one line and exits with code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

function positiveInt(v: unknown, key: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ConfigError(`--${kebab(key)} must be a positive integer, got ${String(v)}`);
  return v;
}
function nonNegativeInt(v: unknown, key: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new ConfigError(`--${kebab(key)} must be a non-negative integer, got ${String(v)}`);
  return v;
}
function positiveNumber(v: unknown, key: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ConfigError(`--${kebab(key)} must be a positive number, got ${String(v)}`);
  return v;
}
function oneOf<T extends string>(v: unknown, key: string, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) throw new ConfigError(`--${kebab(key)} must be one of ${allowed.join('|')}, got '${String(v)}'`);
  return v as T;
}

export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Merges defaults with the given values (unknown keys rejected) and checks every field. */
export function resolveConfig(values: Record<string, unknown>): PretrainConfig {
  const known = new Set([...Object.keys(DEFAULT_CONFIG), 'data', 'out']);
  for (const k of Object.keys(values)) if (!known.has(k)) throw new ConfigError(`unknown option '${kebab(k)}'`);
  const c = { ...DEFAULT_CONFIG, ...values } as Record<string, unknown>;
  if (typeof c.data !== 'string' || c.data === '') throw new ConfigError('--data is required (e.g. --data fashion-mnist)');
  if (typeof c.out !== 'string' || c.out === '') throw new ConfigError('--out is required (the run folder)');
  const cfg: PretrainConfig = {
    data: c.data,
    out: c.out,
    arch: oneOf(c.arch, 'arch', ['resnet18', 'resnet34', 'resnet50'] as const),
    width: positiveNumber(c.width, 'width'),
    imageSize: c.imageSize === null ? null : positiveInt(c.imageSize, 'imageSize'),
    stem: oneOf(c.stem, 'stem', ['auto', 'cifar', 'imagenet'] as const),
    epochs: positiveNumber(c.epochs, 'epochs'),
    batchSize: positiveInt(c.batchSize, 'batchSize'),
    optimizer: oneOf(c.optimizer, 'optimizer', ['lars', 'sgd', 'adamw'] as const),
    lr: c.lr === null ? null : positiveNumber(c.lr, 'lr'),
    lrScaling: oneOf(c.lrScaling, 'lrScaling', ['linear', 'sqrt'] as const),
    warmupEpochs: c.warmupEpochs === null ? null : (() => {
      const w = c.warmupEpochs;
      if (typeof w !== 'number' || !(w >= 0)) throw new ConfigError(`--warmup-epochs must be >= 0, got ${String(w)}`);
      return w;
    })(),
    weightDecay: (() => {
      const w = c.weightDecay;
      if (typeof w !== 'number' || !(w >= 0)) throw new ConfigError(`--weight-decay must be >= 0, got ${String(w)}`);
      return w;
    })(),
    temperature: positiveNumber(c.temperature, 'temperature'),
    projLayers: positiveInt(c.projLayers, 'projLayers'),
    projDim: positiveInt(c.projDim, 'projDim'),
    colorStrength: (() => {
      const s = c.colorStrength;
      if (typeof s !== 'number' || !(s >= 0 && s <= 2.5)) throw new ConfigError(`--color-strength must be in [0, 2.5], got ${String(s)}`);
      return s;
    })(),
    cropMinScale: (() => {
      const m = c.cropMinScale;
      if (typeof m !== 'number' || !(m > 0 && m <= 1)) throw new ConfigError(`--crop-min-scale must be in (0, 1], got ${String(m)}`);
      return m;
    })(),
    blur: typeof c.blur === 'boolean' ? c.blur : (() => { throw new ConfigError(`--blur must be true or false, got ${String(c.blur)}`); })(),
    seed: nonNegativeInt(c.seed, 'seed'),
    maxSteps: c.maxSteps === null ? null : positiveInt(c.maxSteps, 'maxSteps'),
    logSteps: positiveInt(c.logSteps, 'logSteps'),
    checkpointSteps: nonNegativeInt(c.checkpointSteps, 'checkpointSteps'),
    threads: c.threads === null ? null : positiveInt(c.threads, 'threads'),
    precision: oneOf(c.precision, 'precision', ['fp32', 'bf16'] as const),
    device: (() => {
      const d = c.device;
      if (typeof d !== 'string' || !/^(auto|cpu|cuda(:\d+)?)$/.test(d)) throw new ConfigError(`--device must be cpu, cuda, cuda:N or auto, got '${String(d)}'`);
      return d;
    })(),
    strict: c.strict === true,
    knnEvery: nonNegativeInt(c.knnEvery, 'knnEvery'),
    syncBn: typeof c.syncBn === 'boolean' ? c.syncBn : (() => { throw new ConfigError(`--sync-bn must be true or false, got ${String(c.syncBn)}`); })(),
  };
  return cfg;
}
