// The run folder: config.json, metrics.jsonl and checkpoints/last.safetensors, and building a model from a run.
import { mkdirSync, existsSync, accessSync, constants, rmSync, readdirSync, lstatSync, rmdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as torch from '../torch/index.js';
import { defaultStem } from '../models/resnet.js';
import { SimCLRModel, type Encoder } from '../models/simclr.js';
import { BACKBONES, HEADS } from '../models/index.js';
import type { OptimizerStateMeta } from '../optim/optimizer.js';
import { readTextChecked } from '../io/files.js';
import { NonFiniteStateError } from '../errors.js';
import { ConfigError, resolveConfig, type PretrainConfig } from './config.js';
import { HISTORY_FILE, lastHistoryEntry } from './resume.js';
import { readMetricsLog } from './metrics-log.js';

export const CHECKPOINT_FORMAT = 1;

export interface RunPaths {
  dir: string;
  config: string;
  metrics: string;
  checkpoint: string;
}

export function runPaths(dir: string): RunPaths {
  return {
    dir,
    config: join(dir, 'config.json'),
    metrics: join(dir, 'metrics.jsonl'),
    checkpoint: join(dir, 'checkpoints', 'last.safetensors'),
  };
}

/** `simclr eval` results (src/eval/report.ts). */
export const EVAL_FILE = 'eval.json';
/** The augmentation grid `simclr report` draws into the run folder. */
export const GRID_FILE = 'augment-grid.png';
/**
 * `simclr explore`'s caches (src/explore/session.ts): the embeddings of the last dataset explored, their
 * nearest-neighbour graph, the 2-D map, the encoder as ONNX and the HNSW index (for large sets), each ONNX and
 * HNSW file with a JSON note of what it was made from.
 */
export const EXPLORE_FILES = {
  embeddings: 'explore/embeddings.safetensors',
  graph: 'explore/graph.safetensors',
  map: 'explore/map.safetensors',
  onnx: 'explore/encoder.onnx',
  onnxSource: 'explore/encoder.json',
  hnsw: 'explore/index.hnsw',
  hnswSource: 'explore/index.json',
} as const;

/**
 * Every file simclr writes into a run folder by default, relative to it: what `--overwrite` removes so that nothing of
 * the old run is credited to the new one. config.json goes last, so a removal cut short still leaves a held run.
 * `report`'s charts are `report-<chart>.png` beside report.html; `finetune` writes FINETUNE_FILES into `finetune-<f>/`.
 * Not listed: run.lock (the lock of the process doing this) and temporary files (removeStaleTemps).
 */
export const RUN_OUTPUTS = [
  'checkpoints/last.safetensors',
  'metrics.jsonl',
  HISTORY_FILE,
  EVAL_FILE,
  'report.html',
  'report-loss.png',
  'report-lr.png',
  'report-accuracy.png',
  GRID_FILE,
  ...Object.values(EXPLORE_FILES),
  'config.json',
] as const;
export const FINETUNE_FILES = ['labels.json', 'model.safetensors', 'result.json'] as const;

/**
 * What a folder given as --out holds: nothing of a run; a simclr run (its checkpoint, config.json or metrics.jsonl
 * read as simclr writes them); or a file under one of those names that simclr did not write, which no command
 * replaces or removes, --overwrite included.
 */
export type RunFolderContents =
  | { kind: 'empty' }
  | { kind: 'run'; checkpoint: boolean }
  | { kind: 'foreign'; file: string; why: string };

export function inspectRunFolder(paths: RunPaths): RunFolderContents {
  const why = (e: unknown): string => (e instanceof Error ? e.message : String(e));
  if (existsSync(paths.checkpoint)) {
    try {
      readCheckpointMeta(paths.checkpoint);
      return { kind: 'run', checkpoint: true };
    } catch (e) {
      return { kind: 'foreign', file: paths.checkpoint, why: why(e) };
    }
  }
  if (existsSync(paths.config)) {
    try {
      readRunConfig(paths.dir);
      return { kind: 'run', checkpoint: false };
    } catch (e) {
      return { kind: 'foreign', file: paths.config, why: why(e) };
    }
  }
  if (existsSync(paths.metrics)) {
    try {
      return readMetricsLog(paths.metrics).rows.length > 0 ? { kind: 'run', checkpoint: false } : { kind: 'empty' };
    } catch (e) {
      return { kind: 'foreign', file: paths.metrics, why: why(e) };
    }
  }
  return { kind: 'empty' };
}

/**
 * Removes RUN_OUTPUTS and the default finetune outputs (and their folders once empty) from a run folder; returns what
 * it removed, relative to dir. Other files (the user's) stay.
 */
export function removeRunOutputs(dir: string): string[] {
  const removed: string[] = [];
  const remove = (rel: string): void => {
    const p = join(dir, rel);
    if (!existsSync(p) || lstatSync(p).isDirectory()) return;
    rmSync(p, { force: true });
    removed.push(rel);
  };
  for (const name of readdirSync(dir)) {
    if (!/^finetune-/.test(name) || !lstatSync(join(dir, name)).isDirectory()) continue;
    for (const f of FINETUNE_FILES) remove(join(name, f));
    if (readdirSync(join(dir, name)).length === 0) rmdirSync(join(dir, name));
  }
  for (const rel of RUN_OUTPUTS) remove(rel);
  const explore = join(dir, 'explore');
  if (existsSync(explore) && lstatSync(explore).isDirectory() && readdirSync(explore).length === 0) rmdirSync(explore);
  return removed;
}

// mkdir -p one level at a time: Node's recursive mkdirSync never returns for some paths (e.g. under /proc).
function makeDirs(dir: string): void {
  if (existsSync(dir)) return;
  const parent = dirname(dir);
  if (parent !== dir) makeDirs(parent);
  mkdirSync(dir);
}

/** Creates the run folder (and checkpoints/), failing with a ConfigError that names it if it is not writable. */
export function prepareRunDir(dir: string): RunPaths {
  const paths = runPaths(dir);
  try {
    makeDirs(resolve(dirname(paths.checkpoint)));
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new ConfigError(`--out ${dir} is not writable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return paths;
}

export { writeFileAtomic } from '../io/files.js';

export interface RunConfigFile {
  config: PretrainConfig;
  /** Facts about the data the run was made on, needed to rebuild the model without opening the data. */
  input: { channels: number; height: number; width: number };
  created: string;
  libtorch: string;
  /** The device the run trained on, resolved ('cpu', 'cuda:0'); absent in runs made before --device existed. */
  device?: string;
  /** Data-parallel ranks it started with; absent in runs made before it was recorded. */
  worldSize?: number;
}

// config.json holds a config and a few facts: a megabyte is far beyond any real one.
const MAX_CONFIG_BYTES = 1 << 20;

/**
 * The run folder's config.json, checked: a regular file of a plausible size, valid JSON, with a valid config and
 * input. `config` is the run's settings as it trains now: the original ones, or those of its latest resume
 * (config-history.jsonl, src/run/resume.ts). Throws ConfigError with one line naming the file (and the field, where
 * one is wrong).
 */
export function readRunConfig(dir: string): RunConfigFile {
  const path = runPaths(dir).config;
  if (!existsSync(path)) throw new ConfigError(`${dir} is not a simclr run folder (no config.json)`);
  const text = readTextChecked(
    path,
    { what: 'a run config', minBytes: 2, maxBytes: MAX_CONFIG_BYTES },
    (m) => new ConfigError(m),
  );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(parsed)) throw new ConfigError(`${path}: expected a JSON object, got ${shortJson(parsed)}`);
  if (!isObject(parsed.config))
    throw new ConfigError(`${path}: field 'config' must be an object, got ${shortJson(parsed.config)}`);
  const input = parsed.input;
  if (!isObject(input)) throw new ConfigError(`${path}: field 'input' must be an object, got ${shortJson(input)}`);
  for (const k of ['channels', 'height', 'width'] as const) {
    const v = input[k];
    if (!Number.isSafeInteger(v) || (v as number) < 1)
      throw new ConfigError(`${path}: field 'input.${k}' must be a positive integer, got ${shortJson(v)}`);
  }
  const history = lastHistoryEntry(dir);
  let config: PretrainConfig;
  try {
    config = resolveConfig((history?.config ?? parsed.config) as Record<string, unknown>, { stored: true });
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${history ? join(dir, HISTORY_FILE) : path}: ${e.message}`);
    throw e;
  }
  return { ...(parsed as unknown as RunConfigFile), config };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// A value as it appears in a message: JSON, cut short.
function shortJson(v: unknown): string {
  const text = v === undefined ? 'nothing' : (JSON.stringify(v) ?? String(v));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The run's encoder, freshly initialised: BACKBONES[cfg.arch] at the configured width, stem and input channels. */
export function buildEncoder(
  cfg: PretrainConfig,
  input: { channels: number; height: number },
  generator?: torch.Generator,
): Encoder {
  const stem = cfg.stem === 'auto' ? defaultStem(input.height) : cfg.stem;
  return BACKBONES[cfg.arch].create({
    width: cfg.width,
    stem,
    inChannels: input.channels,
    ...(generator ? { generator } : {}),
  });
}

/**
 * Encoder + projection head: 0 layers = none, z = h (HEADS.none); 1 = a linear head and 2 the paper's MLP
 * (HEADS.mlp); 3 or more = SimCLRv2's MLP with BN (HEADS.mlpBn).
 */
export function buildModel(
  cfg: PretrainConfig,
  input: { channels: number; height: number },
  generator?: torch.Generator,
): SimCLRModel {
  const encoder = buildEncoder(cfg, input, generator);
  const kind = cfg.projLayers === 0 ? 'none' : cfg.projLayers <= 2 ? 'mlp' : 'mlpBn';
  const head = HEADS[kind].create(encoder.featureDim, {
    layers: cfg.projLayers,
    outDim: cfg.projDim,
    ...(generator ? { generator } : {}),
  });
  return new SimCLRModel(encoder, head);
}

export interface CheckpointMeta {
  format: number;
  /** Optimizer steps completed. */
  step: number;
  /** Epoch in progress (0-based) and steps of it completed; stepInEpoch == stepsPerEpoch means it is done. */
  epoch: number;
  stepInEpoch: number;
  /** Steps per epoch of the run that wrote it; absent in checkpoints of older simclr versions. */
  stepsPerEpoch?: number;
  /** Complete rows metrics.jsonl held when it was written (what a resume keeps); absent in older checkpoints. */
  metricsRows?: number;
  optimizer: OptimizerStateMeta;
}

export interface Checkpoint {
  meta: CheckpointMeta;
  model: Map<string, torch.Tensor>;
  optimizer: Record<string, torch.Tensor>;
  rng: torch.Tensor | null;
  /** The training device's default generator state ('rng.cuda' in the file), for runs trained on a GPU. */
  rngCuda: torch.Tensor | null;
}

// Defined with the other typed errors (src/errors.ts); exported here, where it is thrown, as before.
export { NonFiniteStateError };

/**
 * The name of the first tensor holding a NaN or an infinity, or null when all are finite. One reduction over all the
 * floating-point tensors and one read back when they are (the usual case); the name is looked for only otherwise.
 */
export function firstNonFinite(tensors: Iterable<[string, torch.Tensor]>): string | null {
  const floats = [...tensors].filter(([, t]) => t.isFloatingPoint());
  if (floats.length === 0) return null;
  return torch.scope(() => {
    const perTensor = (t: torch.Tensor): torch.Tensor => t.isfinite().all();
    // Tensors on different devices cannot be stacked; each device's flags are reduced on it.
    const byDevice = new Map<string, torch.Tensor[]>();
    for (const [, t] of floats) {
      const flags = byDevice.get(t.device) ?? [];
      flags.push(perTensor(t));
      byDevice.set(t.device, flags);
    }
    if ([...byDevice.values()].every((flags) => torch.stack(flags).all().item() !== 0)) return null;
    return floats.find(([, t]) => perTensor(t).item() === 0)?.[0] ?? null;
  });
}

/**
 * Saves model, optimizer and RNG state in one safetensors file, atomically replacing the previous one. Tensors are
 * written from whatever device they are on (safetensors copies to the host); on a CUDA `device` its default
 * generator's state is saved too, so a resumed run draws what an uninterrupted one would.
 * Throws NonFiniteStateError, writing nothing, when a model or optimizer tensor holds a NaN or an infinity: a
 * checkpoint on disk is always one a run can resume from. Throws SafetensorsError when the file cannot be written
 * (the previous one is then unchanged).
 */
export function saveCheckpoint(
  path: string,
  model: SimCLRModel,
  optimizerState: { tensors: Record<string, torch.Tensor>; meta: OptimizerStateMeta },
  meta: Omit<CheckpointMeta, 'format' | 'optimizer'>,
  device = 'cpu',
): void {
  torch.scope(() => {
    const tensors = new Map<string, torch.Tensor>();
    for (const [k, t] of model.stateDict()) tensors.set(`model.${k}`, t);
    for (const [k, t] of Object.entries(optimizerState.tensors)) tensors.set(`optimizer.${k}`, t);
    const bad = firstNonFinite(tensors);
    if (bad !== null)
      throw new NonFiniteStateError(
        `'${bad}' holds NaN or infinite values at step ${meta.step}; no checkpoint was written for it`,
      );
    tensors.set('rng.default', torch.defaultGenerator().getState());
    if (device !== 'cpu') tensors.set('rng.cuda', torch.defaultGenerator(device).getState());
    const full: CheckpointMeta = { format: CHECKPOINT_FORMAT, ...meta, optimizer: optimizerState.meta };
    torch.safetensors.saveFile(path, tensors, { simclr: JSON.stringify(full) });
  });
}

function checkpointError(path: string, message: string): ConfigError {
  return new ConfigError(`${path}: ${message}`);
}

function naturalField(path: string, obj: Record<string, unknown>, key: string, label = key): number {
  const v = obj[key];
  if (!Number.isSafeInteger(v) || (v as number) < 0)
    throw checkpointError(path, `checkpoint field '${label}' must be a non-negative integer, got ${shortJson(v)}`);
  return v as number;
}

/**
 * Parses and checks a checkpoint's 'simclr' metadata against the names of the tensors the file holds: every field
 * present and of its type, step counts non-negative integers, the optimizer's groups, options and scalars well
 * formed, model tensors present, optimizer tensors named `<param index>.<buffer>` for an index the groups have.
 * Throws ConfigError: one line naming the file and the field.
 */
export function parseCheckpointMeta(
  raw: string | undefined,
  tensorNames: Iterable<string>,
  path: string,
): CheckpointMeta {
  if (raw === undefined) throw checkpointError(path, "not a simclr checkpoint (no 'simclr' metadata)");
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw checkpointError(path, `checkpoint metadata is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(parsed))
    throw checkpointError(path, `checkpoint metadata must be a JSON object, got ${shortJson(parsed)}`);
  if (parsed.format !== CHECKPOINT_FORMAT)
    throw checkpointError(
      path,
      `checkpoint format ${shortJson(parsed.format)} is not supported (expected ${CHECKPOINT_FORMAT})`,
    );
  const step = naturalField(path, parsed, 'step');
  const epoch = naturalField(path, parsed, 'epoch');
  const stepInEpoch = naturalField(path, parsed, 'stepInEpoch');
  if (stepInEpoch > step)
    throw checkpointError(path, `checkpoint field 'stepInEpoch' (${stepInEpoch}) exceeds 'step' (${step})`);
  if (epoch > step) throw checkpointError(path, `checkpoint field 'epoch' (${epoch}) exceeds 'step' (${step})`);
  // Fields later versions added: absent in older checkpoints, checked where present.
  if (
    parsed.stepsPerEpoch !== undefined &&
    (!Number.isSafeInteger(parsed.stepsPerEpoch) || (parsed.stepsPerEpoch as number) < 1)
  ) {
    throw checkpointError(
      path,
      `checkpoint field 'stepsPerEpoch' must be a positive integer, got ${shortJson(parsed.stepsPerEpoch)}`,
    );
  }
  if (parsed.metricsRows !== undefined) naturalField(path, parsed, 'metricsRows');
  const opt = parsed.optimizer;
  if (!isObject(opt))
    throw checkpointError(path, `checkpoint field 'optimizer' must be an object, got ${shortJson(opt)}`);
  if (typeof opt.optimizer !== 'string' || opt.optimizer === '')
    throw checkpointError(
      path,
      `checkpoint field 'optimizer.optimizer' must be a non-empty string, got ${shortJson(opt.optimizer)}`,
    );
  // Empty is well formed (a model saved without training has no optimizer); a resume then finds it does not fit.
  if (!Array.isArray(opt.paramGroups))
    throw checkpointError(
      path,
      `checkpoint field 'optimizer.paramGroups' must be an array, got ${shortJson(opt.paramGroups)}`,
    );
  let params = 0;
  opt.paramGroups.forEach((g: unknown, i: number) => {
    const field = `optimizer.paramGroups[${i}]`;
    if (!isObject(g)) throw checkpointError(path, `checkpoint field '${field}' must be an object, got ${shortJson(g)}`);
    const size = g.size;
    if (!Number.isSafeInteger(size) || (size as number) < 1)
      throw checkpointError(
        path,
        `checkpoint field '${field}.size' must be a positive integer, got ${shortJson(size)}`,
      );
    params += size as number;
    if (!isObject(g.options))
      throw checkpointError(path, `checkpoint field '${field}.options' must be an object, got ${shortJson(g.options)}`);
    for (const [k, v] of Object.entries(g.options)) {
      const ok =
        typeof v === 'boolean' || Number.isFinite(v) || (Array.isArray(v) && v.every((x) => Number.isFinite(x)));
      if (!ok)
        throw checkpointError(
          path,
          `checkpoint field '${field}.options.${k}' must be a finite number, a boolean or an array of numbers, got ` +
            `${shortJson(v)}`,
        );
    }
  });
  const paramIndex = (key: string): boolean => /^(0|[1-9]\d*)$/.test(key) && Number(key) < params;
  if (!isObject(opt.scalars))
    throw checkpointError(
      path,
      `checkpoint field 'optimizer.scalars' must be an object, got ${shortJson(opt.scalars)}`,
    );
  for (const [key, values] of Object.entries(opt.scalars)) {
    if (!paramIndex(key))
      throw checkpointError(
        path,
        `checkpoint field 'optimizer.scalars' has '${key}', not the index of one of its ${params} parameters`,
      );
    if (!isObject(values) || !Object.values(values).every((x) => Number.isFinite(x))) {
      throw checkpointError(
        path,
        `checkpoint field 'optimizer.scalars.${key}' must be an object of finite numbers, got ${shortJson(values)}`,
      );
    }
  }
  let modelTensors = 0;
  for (const name of tensorNames) {
    if (name.startsWith('model.')) modelTensors++;
    if (!name.startsWith('optimizer.')) continue;
    const rest = name.slice('optimizer.'.length);
    const dot = rest.indexOf('.');
    if (dot < 1 || !paramIndex(rest.slice(0, dot)))
      throw checkpointError(
        path,
        `tensor '${name}' is not 'optimizer.<index>.<buffer>' for one of the optimizer's ${params} parameters`,
      );
  }
  if (modelTensors === 0) throw checkpointError(path, 'checkpoint holds no model tensors');
  return parsed as unknown as CheckpointMeta;
}

/**
 * A checkpoint's validated metadata, read from its header alone (cheap whatever the file's size).
 * Throws ConfigError (no checkpoint there, or bad metadata) or SafetensorsError (not a readable safetensors file).
 */
export function readCheckpointMeta(path: string): CheckpointMeta {
  if (!existsSync(path)) throw new ConfigError(`no checkpoint at ${path}`);
  const { tensors, metadata } = torch.safetensors.readHeader(path);
  return parseCheckpointMeta(metadata.simclr, tensors.keys(), path);
}

/**
 * Reads a checkpoint: its validated metadata (see parseCheckpointMeta) and its tensors on the CPU.
 * Throws ConfigError (no checkpoint there, or bad metadata) or SafetensorsError (not a readable safetensors file).
 */
export function loadCheckpoint(path: string): Checkpoint {
  // The metadata is checked from the header before any tensor data is read.
  readCheckpointMeta(path);
  const { tensors, metadata } = torch.safetensors.loadFile(path);
  let meta: CheckpointMeta;
  try {
    // From the file as loaded: another process may have replaced it since its header was read.
    meta = parseCheckpointMeta(metadata.simclr, tensors.keys(), path);
  } catch (e) {
    for (const t of tensors.values()) t.dispose();
    throw e;
  }
  const model = new Map<string, torch.Tensor>();
  const optimizer: Record<string, torch.Tensor> = {};
  let rng: torch.Tensor | null = null;
  let rngCuda: torch.Tensor | null = null;
  for (const [k, t] of tensors) {
    if (k.startsWith('model.')) model.set(k.slice('model.'.length), t);
    else if (k.startsWith('optimizer.')) optimizer[k.slice('optimizer.'.length)] = t;
    else if (k === 'rng.default') rng = t;
    else if (k === 'rng.cuda') rngCuda = t;
    else t.dispose();
  }
  return { meta, model, optimizer, rng, rngCuda };
}

/**
 * Puts a checkpoint's generator states back: the CPU's, and the CUDA device's when both the checkpoint and this run
 * are on a GPU. A run moved between the CPU and a GPU keeps the CPU state only: simclr's training draws nothing from
 * a device generator (augmentations come from the keyed counter RNG), so results do not depend on it.
 */
export function restoreGenerators(ckpt: Checkpoint, device: string): void {
  if (ckpt.rng) torch.defaultGenerator().setState(ckpt.rng);
  if (ckpt.rngCuda && device !== 'cpu') torch.defaultGenerator(device).setState(ckpt.rngCuda);
}

/** Frees every tensor a loaded checkpoint holds. */
export function disposeCheckpoint(ckpt: Checkpoint): void {
  for (const t of [...ckpt.model.values(), ...Object.values(ckpt.optimizer), ckpt.rng, ckpt.rngCuda]) t?.dispose();
}

/** A pretrained run's model with weights loaded from its last (or the given) checkpoint, in eval mode. */
export function loadRunModel(
  dir: string,
  checkpointPath?: string,
): { model: SimCLRModel; run: RunConfigFile; meta: CheckpointMeta } {
  const run = readRunConfig(dir);
  const ckpt = loadCheckpoint(checkpointPath ?? runPaths(dir).checkpoint);
  const model = buildModel(run.config, run.input);
  model.loadStateDict(ckpt.model);
  disposeCheckpoint(ckpt);
  return { model: model.eval(), run, meta: ckpt.meta };
}
