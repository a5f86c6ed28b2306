// Embeddings export: encoder features of a dataset in one safetensors file, for use outside simclr.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { Module } from '../nn/index.js';
import type { ImageDataset } from '../data/dataset.js';
import { extractFeatures, sampleIndices } from '../features/extract.js';

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
    const [count, dim] = features.shape as [number, number];
    const tensors: Record<string, Tensor> = { features: features.float() };
    if (ds.labels) tensors.labels = torch.tensor(BigInt64Array.from(labels, (y) => BigInt(y)));
    const metadata: Record<string, string> = {
      simclr_embed: JSON.stringify({ dataset: ds.name, count, dim, ...opts.info }),
    };
    if (ds.classNames) metadata.class_names = JSON.stringify(ds.classNames);
    if (ds.paths) metadata.paths = JSON.stringify(Array.from(indices, (i) => ds.paths![i]));
    torch.safetensors.saveFile(path, tensors, metadata);
    return { path, count, dim, labelled: ds.labels !== null };
  });
}
