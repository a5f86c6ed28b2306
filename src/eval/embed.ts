// Embeddings export: encoder features of a dataset in one safetensors file, for use outside simclr, and the record
// of what they were made from (EmbeddingSource), so `simclr explore` can tell whether a file is current.
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { Module } from '../nn/index.js';
import type { ImageDataset } from '../data/dataset.js';
import { extractFeatures, sampleIndices } from '../features/extract.js';

/**
 * What an embeddings file was computed from; a file is current for a run and a dataset when its recorded source
 * equals the one computed now (sourcesEqual). Recorded as JSON under 'simclr_embed'.source.
 */
export interface EmbeddingSource {
  /** The run folder, resolved to an absolute path. */
  run: string;
  /** The checkpoint file (absolute), its optimizer step, size in bytes and modification time (ms since the epoch). */
  checkpoint: { path: string; step: number; bytes: number; mtimeMs: number };
  /** The data spec as given, and the split opened. */
  data: string;
  split: string;
  /** The dataset's name and the encoder's input (images are resized to it). */
  dataset: string;
  input: { channels: number; height: number; width: number };
  /** Rows embedded: the first `count` samples. */
  count: number;
  /** datasetFingerprint of those rows. */
  fingerprint: string;
}

/** How many evenly spaced samples' pixels datasetFingerprint hashes: a few MB at most, read in well under a second. */
const FINGERPRINT_SAMPLES = 1024;

/**
 * A sha256 (hex) over the first `count` samples' geometry, labels, source paths and the pixels of up to 1,024 evenly
 * spaced ones (first and last included): it changes when the data does, without reading a large set whole.
 */
export function datasetFingerprint(ds: ImageDataset, count: number): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([ds.name, count, ds.channels, ds.height, ds.width, ds.classNames ?? null]));
  if (ds.labels) h.update(new Uint8Array(ds.labels.buffer, ds.labels.byteOffset, count * 4));
  if (ds.paths) h.update(JSON.stringify(ds.paths.slice(0, count)));
  const picks = Math.min(count, FINGERPRINT_SAMPLES);
  const indices = Uint32Array.from({ length: picks }, (_, i) =>
    picks === 1 ? 0 : Math.round((i * (count - 1)) / (picks - 1)),
  );
  const bytes = new Uint8Array(picks * ds.channels * ds.height * ds.width);
  ds.readBatch(indices, bytes);
  h.update(bytes);
  return h.digest('hex');
}

/** The source of embeddings of the first `count` samples of `ds` made with the checkpoint at `checkpointPath`. */
export function embeddingSource(o: {
  run: string;
  checkpointPath: string;
  step: number;
  data: string;
  split: string;
  ds: ImageDataset;
  input: { channels: number; height: number; width: number };
  count: number;
}): EmbeddingSource {
  const st = statSync(o.checkpointPath);
  return {
    run: resolve(o.run),
    checkpoint: { path: resolve(o.checkpointPath), step: o.step, bytes: st.size, mtimeMs: st.mtimeMs },
    data: o.data,
    split: o.split,
    dataset: o.ds.name,
    input: { channels: o.input.channels, height: o.input.height, width: o.input.width },
    count: o.count,
    fingerprint: datasetFingerprint(o.ds, o.count),
  };
}

/** Whether two sources describe the same embeddings (every field equal). */
export function sourcesEqual(a: EmbeddingSource, b: EmbeddingSource): boolean {
  const canonical = (s: EmbeddingSource): string =>
    JSON.stringify([s.run, s.checkpoint, s.data, s.split, s.dataset, s.input, s.count, s.fingerprint]);
  return canonical(a) === canonical(b);
}

/** An embeddings file as writeEmbeddings wrote it. */
export interface EmbeddingsFile {
  /** [N, D] float32 on the CPU. */
  features: Tensor;
  /** Per row (-1: unlabelled sample), or null when the file has none. */
  labels: Int32Array | null;
  classNames: string[] | null;
  paths: string[] | null;
  /** The 'simclr_embed' metadata: dataset, count, dim and what writeEmbeddings was given as info. */
  info: Record<string, unknown>;
  /** info.source when the writer recorded one (simclr embed and simclr explore do). */
  source: EmbeddingSource | null;
}

/**
 * Reads an embeddings file back. Throws SafetensorsError for an unreadable file and RangeError for one that is not
 * what writeEmbeddings writes (no 'features' [N, D] float32, labels of another length, bad metadata JSON).
 */
export function readEmbeddings(path: string): EmbeddingsFile {
  const { tensors, metadata } = torch.safetensors.loadFile(path);
  const fail = (why: string): never => {
    for (const t of tensors.values()) t.dispose();
    throw new RangeError(`${path}: not a simclr embeddings file (${why})`);
  };
  const features = tensors.get('features');
  if (features?.ndim !== 2 || features.dtype !== 'float32') return fail("no 'features' [N, D] float32");
  const n = features.shape[0]!;
  let labels: Int32Array | null = null;
  const l = tensors.get('labels');
  if (l) {
    if (l.ndim !== 1 || l.shape[0] !== n || l.dtype !== 'int64') return fail(`'labels' is not int64 [${n}]`);
    labels = Int32Array.from(l.toArray() as BigInt64Array, (v) => Number(v));
    l.dispose();
  }
  const json = (key: string): unknown => {
    const raw = metadata[key];
    if (raw === undefined) return null;
    try {
      return JSON.parse(raw);
    } catch {
      return fail(`metadata '${key}' is not JSON`);
    }
  };
  const info = json('simclr_embed');
  if (info === null || typeof info !== 'object' || Array.isArray(info)) return fail("no 'simclr_embed' metadata");
  const classNames = json('class_names') as string[] | null;
  const paths = json('paths') as string[] | null;
  if (paths !== null && (!Array.isArray(paths) || paths.length !== n)) return fail(`'paths' is not ${n} names`);
  const rec = info as Record<string, unknown>;
  const source = rec.source && typeof rec.source === 'object' ? (rec.source as EmbeddingSource) : null;
  return { features, labels, classNames, paths, info: rec, source };
}

export interface EmbedOptions {
  /** Only the first `limit` samples. */
  limit?: number;
  batchSize?: number;
  inputSize?: number;
  device?: string;
  /** Extra facts recorded under the 'simclr_embed' metadata key (e.g. the run and checkpoint). */
  info?: Record<string, unknown>;
  onProgress?: (done: number, total: number) => void;
}

export interface EmbedResult {
  path: string;
  count: number;
  dim: number;
  /** Whether a 'labels' tensor was written (the dataset has labels; -1 marks unlabelled samples). */
  labelled: boolean;
}

/**
 * Writes `features` [N, D] float32 and, for labelled data, `labels` [N] int64 to a safetensors file. Metadata:
 * 'simclr_embed' (JSON: dataset, count, dim and opts.info), 'class_names' (JSON array) where the dataset names its
 * classes, and 'paths' (JSON array of each row's source file) for image folders.
 */
export function writeEmbeddings(
  encoder: Module<Tensor, Tensor>,
  ds: ImageDataset,
  path: string,
  opts: EmbedOptions = {},
): EmbedResult {
  const indices = sampleIndices(ds, opts);
  return torch.scope(() => {
    const { features, labels } = extractFeatures(encoder, ds, {
      indices,
      ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
      ...(opts.inputSize !== undefined ? { inputSize: opts.inputSize } : {}),
      ...(opts.device !== undefined ? { device: opts.device } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    return saveEmbeddings(path, features, labels, ds, indices, opts.info);
  });
}

/**
 * Writes features [N, D] (any float dtype and device; stored float32) of the samples `indices` of `ds`, with their
 * labels, in the layout writeEmbeddings documents. The write is atomic (safetensors.saveFile).
 */
export function saveEmbeddings(
  path: string,
  features: Tensor,
  labels: Int32Array,
  ds: ImageDataset,
  indices: ArrayLike<number>,
  info: Record<string, unknown> = {},
): EmbedResult {
  return torch.scope(() => {
    const [count, dim] = features.shape as [number, number];
    const tensors: Record<string, Tensor> = { features: features.float() };
    if (ds.labels) tensors.labels = torch.tensor(BigInt64Array.from(labels, (y) => BigInt(y)));
    const metadata: Record<string, string> = {
      simclr_embed: JSON.stringify({ dataset: ds.name, count, dim, ...info }),
    };
    if (ds.classNames) metadata.class_names = JSON.stringify(ds.classNames);
    if (ds.paths) metadata.paths = JSON.stringify(Array.from(indices, (i) => ds.paths![i]));
    torch.safetensors.saveFile(path, tensors, metadata);
    return { path, count, dim, labelled: ds.labels !== null };
  });
}
