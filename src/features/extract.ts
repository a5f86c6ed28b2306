// Frozen-encoder features for evaluation: images in batches through an encoder in eval mode without autograd,
// written into one preallocated [N, D] tensor, plus the accuracy rule every evaluation shares.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { Module } from '../nn/index.js';
import { DataError, type ImageDataset } from '../data/dataset.js';
import { openDataset, parseDataSpec, type Split } from '../data/spec.js';
import {
  applyViews,
  defaultAugmentConfig,
  identityViewParams,
  sampleViewParams,
  type AugmentConfig,
} from '../augment/index.js';

export const DEFAULT_EVAL_BATCH_SIZE = 256;

/** Training views for evaluation, drawn per sample from (seed, epoch, index, view) as pretraining draws them. */
export interface FeatureAugment {
  config: AugmentConfig;
  seed: number;
  epoch: number;
  /** View id (default 0); pretraining's pairs use 0 and 1, so other ids give crops of their own. */
  view?: number;
}

export interface FeatureOptions {
  /** Images per forward pass (default 256); memory grows with it, the result does not depend on it. */
  batchSize?: number;
  /** Only the first `limit` samples. */
  limit?: number;
  /** Exactly these samples, in this order (overrides limit). */
  indices?: ArrayLike<number>;
  /** Side of the square images the encoder expects; other sizes are resized whole. Default: the dataset's size. */
  inputSize?: number;
  /** Device of the encoder's parameters; images are sent there and the features stay there (default 'cpu'). */
  device?: string;
  /** Random training views (e.g. crop + flip for linear evaluation) instead of the plain images. */
  augment?: FeatureAugment;
  onProgress?: (done: number, total: number) => void;
}

export interface Features {
  /** [N, D] float32. */
  features: Tensor;
  /** Per row; -1 where the sample is unlabelled. */
  labels: Int32Array;
}

/** SimCLR's augmentation for linear evaluation and fine-tuning: random resized crop and horizontal flip only. */
export function cropFlipAugmentConfig(outputSize: number, grayscaleInput: boolean): AugmentConfig {
  return {
    ...defaultAugmentConfig(outputSize, grayscaleInput),
    colorJitterP: 0,
    grayscaleP: 0,
    blurP: 0,
    solarizeP: 0,
  };
}

/**
 * Opens a split of a data spec for a run's encoder: folder images are decoded at the run's input size and channel
 * count; other datasets must have the run's channel count (a different size is resized when read). A split named
 * in the spec (stl10:DIR:SPLIT) wins over `split`.
 */
export async function openForEncoder(
  spec: string,
  split: Split,
  input: { channels: number; height: number },
): Promise<ImageDataset> {
  const ds = await openDataset(spec, { split, imageSize: input.height, grayscale: input.channels === 1 });
  if (ds.channels !== input.channels) {
    ds.close();
    throw new DataError(
      `data spec '${spec}': ${ds.name} has ${ds.channels}-channel images but the encoder takes ` +
        `${input.channels}-channel ones`,
    );
  }
  return ds;
}

/** openForEncoder for evaluation, which reads the train and test splits itself and so refuses a spec naming one. */
export async function openEvalSplit(
  spec: string,
  split: 'train' | 'test',
  input: { channels: number; height: number },
): Promise<ImageDataset> {
  if (parseDataSpec(spec).split !== undefined)
    throw new DataError(
      `data spec '${spec}': evaluation reads the train and test splits itself; give the spec without a split`,
    );
  return openForEncoder(spec, split, input);
}

function positiveInt(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what} must be a positive integer, got ${v}`);
  return v;
}

/** The samples to read: opts.indices, else the first `limit` (all by default). */
export function sampleIndices(ds: ImageDataset, opts: { limit?: number; indices?: ArrayLike<number> }): Uint32Array {
  if (opts.indices !== undefined) return Uint32Array.from(opts.indices);
  const n = opts.limit === undefined ? ds.length : Math.min(ds.length, positiveInt(opts.limit, 'limit'));
  return Uint32Array.from({ length: n }, (_, i) => i);
}

/**
 * A batch of samples as float [B, C, S, S] in [0, 1] on `device`: the images themselves when they are S px
 * already, else resized whole (identity view parameters), or random training views when `augment` is given.
 */
export function loadImages(
  ds: ImageDataset,
  indices: Uint32Array,
  inputSize: number,
  device: string,
  augment?: FeatureAugment,
): Tensor {
  const { channels: c, height: h, width: w } = ds;
  const bytes = new Uint8Array(indices.length * c * h * w);
  ds.readBatch(indices, bytes);
  return torch.scope(() => {
    const images = torch.tensor(bytes, { shape: [indices.length, c, h, w], device });
    if (augment) {
      if (augment.config.outputSize !== inputSize)
        throw new RangeError(
          `augment outputSize ${augment.config.outputSize} differs from the encoder's input size ${inputSize}`,
        );
      return applyViews(
        images,
        sampleViewParams(augment.config, h, w, augment.seed, augment.epoch, indices, augment.view ?? 0),
        augment.config,
      );
    }
    if (h === inputSize && w === inputSize) return images.float().div(255);
    return applyViews(images, identityViewParams(indices.length, h, w), defaultAugmentConfig(inputSize, c === 1));
  });
}

/**
 * Runs `encoder` over samples of `ds` in eval mode under noGrad and returns its outputs stacked as [N, D]
 * float32 (any module mapping images to vectors works, e.g. a fine-tuned classifier giving logits). Memory holds
 * the result plus one batch. The encoder's train/eval mode is restored afterwards.
 */
export function extractFeatures(
  encoder: Module<Tensor, Tensor>,
  ds: ImageDataset,
  opts: FeatureOptions = {},
): Features {
  const batchSize = positiveInt(opts.batchSize ?? DEFAULT_EVAL_BATCH_SIZE, 'batchSize');
  const inputSize = positiveInt(opts.inputSize ?? ds.height, 'inputSize');
  const device = opts.device ?? 'cpu';
  const indices = sampleIndices(ds, opts);
  const n = indices.length;
  if (n === 0) throw new RangeError(`extractFeatures: no samples selected from ${ds.name}`);
  const labels = Int32Array.from(indices, (i) => (ds.labels ? ds.labels[i]! : -1));

  const wasTraining = encoder.training;
  encoder.eval();
  // The size of h is known only after the first batch, so the output is allocated there.
  const result: { features?: Tensor } = {};
  try {
    torch.noGrad(() => {
      for (let start = 0; start < n; start += batchSize) {
        const batch = indices.subarray(start, Math.min(n, start + batchSize));
        // Handles are released by hand rather than by a scope, so the output belongs to the caller's scope if any.
        const h = torch.scope(() => encoder.call(loadImages(ds, batch, inputSize, device, opts.augment)));
        try {
          if (h.ndim !== 2 || h.shape[0] !== batch.length)
            throw new RangeError(
              `extractFeatures: encoder gave [${h.shape.join(', ')}], expected [${batch.length}, D]`,
            );
          result.features ??= torch.empty([n, h.shape[1]!], { device });
          const rows = result.features.narrow(0, start, batch.length);
          rows.copy_(h);
          rows.dispose();
        } finally {
          h.dispose();
        }
        opts.onProgress?.(Math.min(n, start + batchSize), n);
      }
    });
  } catch (e) {
    result.features?.dispose();
    throw e;
  } finally {
    encoder.train(wasTraining);
  }
  return { features: result.features!, labels };
}

/**
 * Features of `views` random training views of every selected sample (view v drawn as epoch v of `seed`), stacked
 * view after view: [views * N, D], with the labels repeated to match.
 */
export function extractViews(
  encoder: Module<Tensor, Tensor>,
  ds: ImageDataset,
  views: number,
  augment: { config: AugmentConfig; seed: number },
  opts: Omit<FeatureOptions, 'augment'> = {},
): Features {
  positiveInt(views, 'views');
  return torch.scope(() => {
    const parts = Array.from({ length: views }, (_, v) =>
      extractFeatures(encoder, ds, { ...opts, augment: { ...augment, epoch: v } }),
    );
    const labels = new Int32Array(parts.reduce((n, p) => n + p.labels.length, 0));
    parts.forEach((p, v) => {
      labels.set(p.labels, v * p.labels.length);
    });
    return { features: torch.cat(parts.map((p) => p.features)), labels };
  });
}

export interface TopkOptions {
  /**
   * The scores are vote sums (kNN): a class scoring 0 got no votes and is no prediction, so a row whose true class got
   * none is a miss at every k, however the unvoted classes tie.
   */
  votes?: boolean;
}

/**
 * Top-k accuracy of class scores [M, C] for each k in ks. A class ranks after every class with a higher score
 * and after equal-scored classes of lower index, so ties count the same every time. With `votes`, only classes with
 * a positive score are predictions (kNN with k = 1 gives top-5 == top-1).
 * @throws RangeError for a label outside [0, C), and for NaN scores (NaN features or logits would otherwise rank
 *   first: NaN compares greater than nothing).
 */
export function topkAccuracy(
  scores: Tensor,
  labels: Int32Array,
  ks: readonly number[],
  opts: TopkOptions = {},
): number[] {
  const [m, c] = scores.shape as [number, number];
  if (scores.ndim !== 2 || m !== labels.length)
    throw new RangeError(`topkAccuracy: scores [${scores.shape.join(', ')}] for ${labels.length} labels`);
  const bad = labels.findIndex((y) => y < 0 || y >= c);
  if (bad >= 0) throw new RangeError(`topkAccuracy: label ${labels[bad]} of row ${bad} is outside [0, ${c})`);
  return torch.noGrad(() =>
    torch.scope(() => {
      const nanRows = Number(scores.isnan().any(1).sum().item());
      if (nanRows > 0)
        throw new RangeError(
          `topkAccuracy: ${nanRows} of ${m} rows have NaN scores (NaN features or logits); no accuracy is computed ` +
            `from them`,
        );
      const y = torch.tensor(
        BigInt64Array.from(labels, (v) => BigInt(v)),
        { shape: [m, 1], device: scores.device },
      );
      const own = scores.gather(1, y);
      const classes = torch.arange(c, undefined, 1, { device: scores.device }).unsqueeze(0);
      const before = scores.gt(own).logicalOr(scores.eq(own).logicalAnd(classes.lt(y)));
      const rank = before.sum(1).toArray() as BigInt64Array;
      // An unvoted true class gets a rank no k reaches.
      const voted = opts.votes ? (own.gt(0).flatten().toArray() as Uint8Array) : null;
      return ks.map(
        (k) => rank.reduce((hits, r, i) => hits + (r < BigInt(k) && (voted === null || voted[i]) ? 1 : 0), 0) / m,
      );
    }),
  );
}

/** 1 + the largest label among the given label arrays (0 when none is >= 0). */
export function classCount(...labelSets: Int32Array[]): number {
  let top = -1;
  for (const labels of labelSets) for (const y of labels) if (y > top) top = y;
  return top + 1;
}

/** The rows of a feature set whose samples are labelled (label >= 0), as a new Features (the input is kept). */
export function labelledRows(f: Features): Features {
  const keep: number[] = [];
  f.labels.forEach((y, i) => {
    if (y >= 0) keep.push(i);
  });
  if (keep.length === f.labels.length) return { features: torch.raw.alias(f.features), labels: f.labels };
  const index = torch.tensor(
    BigInt64Array.from(keep, (i) => BigInt(i)),
    { device: f.features.device },
  );
  const features = f.features.indexSelect(0, index);
  index.dispose();
  return { features, labels: Int32Array.from(keep, (i) => f.labels[i]!) };
}
