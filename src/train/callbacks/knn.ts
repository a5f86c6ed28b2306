// The kNN monitor (--knn-every): weighted kNN accuracy of the encoder's features on a held-out labelled split,
// added to the metrics row of every knnEvery-th epoch's end.
import type { ImageDataset } from '../../data/dataset.js';
import { knnMonitor } from '../../features/knn.js';
import type { SimCLRModel } from '../../models/simclr.js';
import type { MetricsRow } from '../../run/metrics-log.js';
import type { StepEnd } from '../loop.js';

export interface KnnData {
  /** The memory bank (labelled train split) and the queries (held-out split). */
  train: ImageDataset;
  test: ImageDataset;
}

/** A metrics row's kNN fields (see MetricsLogger's `fields`): non-null at the end of every `every`-th epoch. */
export function knnFields(
  model: SimCLRModel,
  data: KnnData,
  every: number,
  opts: { seed: number; device: string },
): (s: StepEnd) => Partial<MetricsRow> | null {
  return (s) => {
    if (!s.epochEnd || (s.epoch + 1) % every !== 0) return null;
    const knn = knnMonitor(model.encoder, data.train, data.test, opts);
    return { knn_top1: knn.top1, knn_top5: knn.top5, knn_bank: data.train.name, knn_queries: data.test.name };
  };
}
