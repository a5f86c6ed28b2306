// The embeddings `simclr explore` works on: read from a file when it is current (an earlier explore's cache in the
// run folder, or a `simclr embed` output given with --embeddings), else computed with the run's encoder and cached.
import { existsSync } from 'node:fs';
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { Module } from '../nn/index.js';
import type { ImageDataset } from '../data/dataset.js';
import { ConfigError } from '../errors.js';
import { extractFeatures, sampleIndices } from '../features/extract.js';
import { readEmbeddings, saveEmbeddings, sourcesEqual, type EmbeddingSource } from '../eval/embed.js';

export interface ExploreEmbeddings {
  /** [N, D] float32 on the CPU. */
  features: Tensor;
  /** Per sample (-1: unlabelled sample), or null for an unlabelled dataset. */
  labels: Int32Array | null;
  /** Where they came from: 'computed', or the file they were read from. */
  from: string;
}

export interface EmbeddingOptions {
  encoder: Module<Tensor, Tensor>;
  ds: ImageDataset;
  /** What the embeddings must be made from (embeddingSource); its count is the number of rows. */
  source: EmbeddingSource;
  /** The run folder's cache file, read when current and (re)written otherwise; null: no cache. */
  cachePath: string | null;
  /** A file the user named (--embeddings): used when current, else a ConfigError says why not. */
  given?: string;
  inputSize: number;
  batchSize: number;
  device: string;
  onProgress?: (done: number, total: number) => void;
  onWarning?: (msg: string) => void;
}

/** The first field in which a file's recorded source differs from the wanted one, in words; null when equal. */
export function sourceDifference(file: EmbeddingSource | null, want: EmbeddingSource): string | null {
  if (file === null) return 'it records no source (written by a simclr before explore existed)';
  if (sourcesEqual(file, want)) return null;
  const fields: [keyof EmbeddingSource, string][] = [
    ['run', 'another run'],
    ['checkpoint', 'another checkpoint (or the checkpoint changed since)'],
    ['data', 'another data spec'],
    ['split', 'another split'],
    ['dataset', 'another dataset'],
    ['input', 'another encoder input size'],
    ['count', 'another number of samples'],
    ['fingerprint', 'data that changed since'],
  ];
  for (const [key, words] of fields)
    if (JSON.stringify(file[key]) !== JSON.stringify(want[key]))
      return `it was made from ${words}: ${key} ${JSON.stringify(file[key])}, now ${JSON.stringify(want[key])}`;
  return 'its source differs';
}

/** The rows of a current file, or why it cannot be used (null rows). */
function tryFile(path: string, want: EmbeddingSource): { rows: ExploreEmbeddings | null; why: string | null } {
  let file: ReturnType<typeof readEmbeddings>;
  try {
    file = readEmbeddings(path);
  } catch (e) {
    return { rows: null, why: (e as Error).message };
  }
  const why = sourceDifference(file.source, want);
  if (why !== null || file.features.shape[0] !== want.count) {
    file.features.dispose();
    return { rows: null, why: why ?? `it has ${file.features.shape[0]} rows, not ${want.count}` };
  }
  return { rows: { features: file.features, labels: file.labels, from: path }, why: null };
}

/**
 * The embeddings of the first `source.count` samples of `ds` (see the file comment for where they come from).
 * @throws ConfigError when `given` is not a current embeddings file of this run and dataset
 */
export function exploreEmbeddings(o: EmbeddingOptions): ExploreEmbeddings {
  if (o.given !== undefined) {
    const { rows, why } = tryFile(o.given, o.source);
    if (rows === null) throw new ConfigError(`--embeddings ${o.given} cannot be used: ${why}`);
    return rows;
  }
  if (o.cachePath !== null && existsSync(o.cachePath)) {
    const { rows } = tryFile(o.cachePath, o.source);
    if (rows !== null) return rows;
  }
  const indices = sampleIndices(o.ds, { limit: o.source.count });
  const computed = extractFeatures(o.encoder, o.ds, {
    indices,
    inputSize: o.inputSize,
    batchSize: o.batchSize,
    device: o.device,
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  const features = torch.noGrad(() => torch.scope(() => computed.features.float().cpu()));
  computed.features.dispose();
  if (o.cachePath !== null) {
    try {
      saveEmbeddings(o.cachePath, features, computed.labels, o.ds, indices, { source: o.source });
    } catch (e) {
      o.onWarning?.(`embeddings not cached in ${o.cachePath}: ${(e as Error).message}`);
    }
  }
  return { features, labels: o.ds.labels ? computed.labels : null, from: 'computed' };
}
