// Weighted k-nearest-neighbour classification on L2-normalised encoder features, as in InstDisc (Wu et al. 2018)
// and lightly's knn_predict: the k most cosine-similar training rows vote for their class with weight exp(sim / T).
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { Module } from '../nn/index.js';
import type { ImageDataset } from '../data/dataset.js';
import { epochPermutation } from '../data/loader.js';
import { classCount, extractFeatures, labelledRows, topkAccuracy, type Features } from './extract.js';

const F = torch.nn.functional;

export const DEFAULT_KNN_K = 200;
export const DEFAULT_KNN_TEMPERATURE = 0.1;
/** Similarities held at once by default: test rows per chunk = this / training rows. */
const SIMILARITY_BUDGET = 1 << 24;

export interface KnnOptions {
  /** Neighbours per query (default 200), capped at the number of training rows. */
  k?: number;
  /** Vote weight exp(sim / temperature) (default 0.1). */
  temperature?: number;
  /** Test rows per similarity chunk; default keeps a chunk at about 16M similarities (64 MB). */
  chunkSize?: number;
  /** Default: 1 + the largest label. */
  numClasses?: number;
}

export interface KnnResult {
  top1: number;
  top5: number;
  /** The k actually used (the requested one capped at trainCount). */
  k: number;
  temperature: number;
  trainCount: number;
  testCount: number;
}

function checkFeatures(x: Tensor, what: string): void {
  if (x.ndim !== 2 || !x.isFloatingPoint())
    throw new RangeError(`knn: ${what} must be a floating-point [N, D] tensor, got ${x.dtype} [${x.shape.join(', ')}]`);
}

/**
 * Class scores [M, C] for the test rows: per row, the sum of exp(sim / T) over its k most similar training rows
 * of that class. Computed in chunks of test rows against all training rows, so at most chunkSize x N
 * similarities exist at a time; the chunk size does not change the result.
 */
export function knnScores(train: Tensor, trainLabels: Int32Array, test: Tensor, opts: KnnOptions = {}): Tensor {
  checkFeatures(train, 'training features');
  checkFeatures(test, 'test features');
  const [n, d] = train.shape as [number, number];
  const m = test.shape[0]!;
  if (test.shape[1] !== d)
    throw new RangeError(`knn: test features have ${test.shape[1]} dims, training features ${d}`);
  if (trainLabels.length !== n) throw new RangeError(`knn: ${trainLabels.length} labels for ${n} training rows`);
  if (n === 0) throw new RangeError('knn: no training rows');
  if (trainLabels.some((y) => y < 0))
    throw new RangeError('knn: training labels must be >= 0 (drop unlabelled rows first)');
  const numClasses = opts.numClasses ?? classCount(trainLabels);
  if (trainLabels.some((y) => y >= numClasses))
    throw new RangeError(`knn: a training label is >= numClasses ${numClasses}`);
  const k = Math.min(opts.k ?? DEFAULT_KNN_K, n);
  const temperature = opts.temperature ?? DEFAULT_KNN_TEMPERATURE;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`knn: k must be a positive integer, got ${opts.k}`);
  if (!(temperature > 0)) throw new RangeError(`knn: temperature must be positive, got ${temperature}`);
  const chunk = opts.chunkSize ?? Math.max(1, Math.floor(SIMILARITY_BUDGET / n));
  if (!Number.isInteger(chunk) || chunk < 1)
    throw new RangeError(`knn: chunkSize must be a positive integer, got ${chunk}`);
  const device = train.device;

  return torch.noGrad(() =>
    torch.scope(() => {
      const bankT = F.normalize(train.float()).t();
      const labels = torch.tensor(
        BigInt64Array.from(trainLabels, (y) => BigInt(y)),
        { device },
      );
      const scores = torch.zeros([m, numClasses], { device });
      for (let start = 0; start < m; start += chunk) {
        const rows = Math.min(chunk, m - start);
        torch.scope(() => {
          const sim = F.normalize(test.narrow(0, start, rows).float()).matmul(bankT);
          const [top, index] = sim.topk(k, 1);
          const votes = labels.indexSelect(0, index.flatten()).view(rows, k);
          torch.raw.scatter_add_(scores.narrow(0, start, rows), 1, votes, top.div(temperature).exp());
        });
      }
      return scores;
    }),
  );
}

/** kNN top-1/top-5 of test rows against training rows; unlabelled rows (label -1) are left out of both. */
export function knnEvaluate(train: Features, test: Features, opts: KnnOptions = {}): KnnResult {
  return torch.scope(() => {
    const tr = labelledRows(train);
    const te = labelledRows(test);
    if (tr.labels.length === 0 || te.labels.length === 0)
      throw new RangeError('knn: needs labelled training and test samples');
    const numClasses = opts.numClasses ?? classCount(tr.labels, te.labels);
    const scores = knnScores(tr.features, tr.labels, te.features, { ...opts, numClasses });
    // exp(sim / T) overflows float32 for T below about 0.012: infinite votes would tie and rank by class index.
    if (Number(scores.isinf().sum().item()) > 0)
      throw new RangeError(
        `knn: votes exp(sim / ${opts.temperature ?? DEFAULT_KNN_TEMPERATURE}) overflow; use a larger temperature`,
      );
    // Only voted classes are predictions: top-5 never counts a class no neighbour voted for.
    const [top1, top5] = topkAccuracy(scores, te.labels, [1, 5], { votes: true }) as [number, number];
    return {
      top1,
      top5,
      k: Math.min(opts.k ?? DEFAULT_KNN_K, tr.labels.length),
      temperature: opts.temperature ?? DEFAULT_KNN_TEMPERATURE,
      trainCount: tr.labels.length,
      testCount: te.labels.length,
    };
  });
}

export interface KnnMonitorOptions extends Omit<KnnOptions, 'numClasses'> {
  /** Labelled training samples used as the memory bank (default 10000), drawn at random once per seed. */
  trainSamples?: number;
  /** Test samples classified (default 2000). */
  testSamples?: number;
  seed?: number;
  batchSize?: number;
  inputSize?: number;
  device?: string;
}

/** Up to `count` labelled samples chosen by a seeded shuffle, sorted so reads stay sequential. */
function labelledSample(ds: ImageDataset, count: number, seed: number): Uint32Array {
  if (!ds.labels) throw new RangeError(`knn monitor: ${ds.name} has no labels`);
  const labelled: number[] = [];
  ds.labels.forEach((y, i) => {
    if (y >= 0) labelled.push(i);
  });
  if (count >= labelled.length) return Uint32Array.from(labelled);
  const perm = epochPermutation(labelled.length, seed, 0);
  return Uint32Array.from(perm.subarray(0, count), (j) => labelled[j]!).sort();
}

/**
 * kNN accuracy of an encoder on random subsets of a training and a test set, cheap enough to call during
 * pretraining (e.g. every few epochs). The encoder is used in eval mode and left in the mode it was in.
 */
export function knnMonitor(
  encoder: Module<Tensor, Tensor>,
  trainDs: ImageDataset,
  testDs: ImageDataset,
  opts: KnnMonitorOptions = {},
): KnnResult {
  const seed = opts.seed ?? 0;
  const common = {
    ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
    ...(opts.inputSize !== undefined ? { inputSize: opts.inputSize } : {}),
    ...(opts.device !== undefined ? { device: opts.device } : {}),
  };
  return torch.scope(() => {
    const train = extractFeatures(encoder, trainDs, {
      ...common,
      indices: labelledSample(trainDs, opts.trainSamples ?? 10000, seed),
    });
    const test = extractFeatures(encoder, testDs, {
      ...common,
      indices: labelledSample(testDs, opts.testSamples ?? 2000, seed),
    });
    return knnEvaluate(train, test, { ...opts, numClasses: Math.max(trainDs.numClasses, testDs.numClasses) });
  });
}
