// The run folder: config.json, metrics.jsonl and checkpoints/last.safetensors, and building a model from a run.
import { mkdirSync, writeFileSync, readFileSync, existsSync, accessSync, constants, renameSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as torch from '../torch/index.js';
import { resnet18, resnet34, resnet50, defaultStem, type ResNet } from '../models/resnet.js';
import { SimCLRModel } from '../models/simclr.js';
import type { OptimizerStateMeta } from '../optim/optimizer.js';
import { ConfigError, resolveConfig, type PretrainConfig } from './config.js';
import { lastHistoryEntry } from './resume.js';

export const CHECKPOINT_FORMAT = 1;

export interface RunPaths {
  dir: string;
  config: string;
  metrics: string;
  checkpoint: string;
}

export function runPaths(dir: string): RunPaths {
  return { dir, config: join(dir, 'config.json'), metrics: join(dir, 'metrics.jsonl'), checkpoint: join(dir, 'checkpoints', 'last.safetensors') };
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

/** Writes a small text file atomically (temp + fsync + rename), so a crash never leaves half a file. */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = join(dirname(path), `.${Date.now()}.${process.pid}.tmp`);
  writeFileSync(tmp, text);
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
}

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

/**
 * The run's config.json, with `config` as the run trains now: the original settings, or those of its latest resume
 * (config-history.jsonl, src/train/resume.ts). Throws ConfigError if dir has no config.json.
 */
export function readRunConfig(dir: string): RunConfigFile {
  const path = runPaths(dir).config;
  if (!existsSync(path)) throw new ConfigError(`${dir} is not a simclr run folder (no config.json)`);
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as RunConfigFile;
  const current = lastHistoryEntry(dir)?.config ?? parsed.config;
  return { ...parsed, config: resolveConfig(current as unknown as Record<string, unknown>) };
}

export function buildEncoder(cfg: PretrainConfig, input: { channels: number; height: number }, generator?: torch.Generator): ResNet {
  const make = { resnet18, resnet34, resnet50 }[cfg.arch];
  const stem = cfg.stem === 'auto' ? defaultStem(input.height) : cfg.stem;
  return make({ width: cfg.width, stem, inChannels: input.channels, ...(generator ? { generator } : {}) });
}

/** Encoder + projection head: 2 layers = the paper's MLP; 3 or more = SimCLRv2's MLP with BN. */
export function buildModel(cfg: PretrainConfig, input: { channels: number; height: number }, generator?: torch.Generator): SimCLRModel {
  const encoder = buildEncoder(cfg, input, generator);
  const kind = cfg.projLayers <= 2 ? 'mlp' : 'mlpBn';
  return new SimCLRModel(encoder, { kind, layers: cfg.projLayers, outDim: cfg.projDim, ...(generator ? { generator } : {}) });
}

export interface CheckpointMeta {
  format: number;
  /** Optimizer steps completed. */
  step: number;
  /** Epoch in progress (0-based) and steps of it completed; stepInEpoch == stepsPerEpoch means it is done. */
  epoch: number;
  stepInEpoch: number;
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

/**
 * Saves model, optimizer and RNG state in one safetensors file, atomically replacing the previous one. Tensors are
 * written from whatever device they are on (safetensors copies to the host); on a CUDA `device` its default
 * generator's state is saved too, so a resumed run draws what an uninterrupted one would.
 */
export function saveCheckpoint(path: string, model: SimCLRModel, optimizerState: { tensors: Record<string, torch.Tensor>; meta: OptimizerStateMeta }, meta: Omit<CheckpointMeta, 'format' | 'optimizer'>, device = 'cpu'): void {
  torch.scope(() => {
    const tensors = new Map<string, torch.Tensor>();
    for (const [k, t] of model.stateDict()) tensors.set(`model.${k}`, t);
    for (const [k, t] of Object.entries(optimizerState.tensors)) tensors.set(`optimizer.${k}`, t);
    tensors.set('rng.default', torch.defaultGenerator().getState());
    if (device !== 'cpu') tensors.set('rng.cuda', torch.defaultGenerator(device).getState());
    const full: CheckpointMeta = { format: CHECKPOINT_FORMAT, ...meta, optimizer: optimizerState.meta };
    torch.safetensors.saveFile(path, tensors, { simclr: JSON.stringify(full) });
  });
}

export function loadCheckpoint(path: string): Checkpoint {
  if (!existsSync(path)) throw new ConfigError(`no checkpoint at ${path}`);
  const { tensors, metadata } = torch.safetensors.loadFile(path);
  const raw = metadata.simclr;
  if (raw === undefined) throw new ConfigError(`${path} is not a simclr checkpoint (no 'simclr' metadata)`);
  const meta = JSON.parse(raw) as CheckpointMeta;
  if (meta.format !== CHECKPOINT_FORMAT) throw new ConfigError(`${path}: checkpoint format ${meta.format} is not supported (expected ${CHECKPOINT_FORMAT})`);
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
export function loadRunModel(dir: string, checkpointPath?: string): { model: SimCLRModel; run: RunConfigFile; meta: CheckpointMeta } {
  const run = readRunConfig(dir);
  const ckpt = loadCheckpoint(checkpointPath ?? runPaths(dir).checkpoint);
  const model = buildModel(run.config, run.input);
  model.loadStateDict(ckpt.model);
  disposeCheckpoint(ckpt);
  return { model: model.eval(), run, meta: ckpt.meta };
}
