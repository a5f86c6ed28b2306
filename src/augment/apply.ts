// Applies sampled view parameters to a whole batch. Two implementations of the same transforms: the fused kernels
// (fused.ts: CPU, and CUDA where built), used by default on those devices for the pipelines they cover, and the
// pipeline's batched libtorch ops (pipeline.ts, each op's own apply), the reference and the path for other devices
// and other pipelines; nothing loops over pixels in JavaScript. The default ops match torchvision's functional ops
// on a float tensor image (see test/golden/gen_augment.py), the paper's extra ops PyTorch (gen_augment_extra.py).

import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { fromViewParams, pipelineFromConfig, type AugmentConfig, type ViewParams } from './params.js';
import {
  applyPipelineTensor,
  identityPipelineParams,
  samplePipeline,
  type AugmentPipeline,
  type PipelineParams,
} from './pipeline.js';
import { augmentFused, fusedCoverage, fusedKernelAvailable } from './fused.js';

export interface ApplyOptions {
  /** Per-channel (x - mean) / std after every augmentation. Off by default: the paper feeds [0, 1] inputs. */
  normalize?: { mean: readonly number[]; std: readonly number[] };
  /** Memory layout of the result; channels-last is what the training loop feeds the model. Default contiguous. */
  memoryFormat?: 'contiguous' | 'channelsLast';
  /**
   * 'fused': the fused kernel for the images' device (fused.ts; CPU, or CUDA where simclr_ops_cuda.so is built),
   * one pass per view; 'tensor': batched libtorch ops on any device; 'blockwise': the CUDA kernel's per-view code
   * run on the CPU (CPU images only; for tests). Default: fused for CPU and CUDA images when that device's kernel
   * loads (a one-time warning says why where it does not) and covers the pipeline (fusedCoverage; silently
   * otherwise, callers log the reason), tensor otherwise. All give the same views (to float rounding).
   */
  implementation?: 'fused' | 'tensor' | 'blockwise';
}

export interface ViewSeed {
  seed: number;
  epoch: number;
  /** Dataset index of each image in the batch, in batch order. */
  indices: ArrayLike<number>;
}

/** What to apply: a pipeline, or the flat settings of the default one. */
export type Augmentation = AugmentPipeline | AugmentConfig;

/**
 * The augmentation of both SimCLR views: one for both, or one per view ([view 0, view 1]; the paper's one-branch
 * ablations). Both must make views of one size and channel count.
 */
export type ViewAugmentations = Augmentation | readonly [Augmentation, Augmentation];

/** The pipelines of view 0 and view 1 (the same object twice for a single augmentation). */
export function viewPipelines(aug: ViewAugmentations): [AugmentPipeline, AugmentPipeline] {
  if (!Array.isArray(aug)) {
    const p = toPipeline(aug as Augmentation);
    return [p, p];
  }
  const [a, b] = (aug as readonly [Augmentation, Augmentation]).map(toPipeline) as [AugmentPipeline, AugmentPipeline];
  if (a.outputSize !== b.outputSize || a.channels !== b.channels)
    throw new RangeError(
      `the two views' augmentations differ in output (${a.channels}x${a.outputSize} vs ${b.channels}x${b.outputSize})`,
    );
  return [a, b];
}

/** The pipeline of an Augmentation. @throws RangeError for AugmentConfig settings out of range. */
export function toPipeline(aug: Augmentation): AugmentPipeline {
  return 'steps' in aug ? aug : pipelineFromConfig(aug);
}

/** Parameters that leave an image as it is apart from resizing it whole to the output size. */
export function identityViewParams(count: number, srcHeight: number, srcWidth: number): ViewParams {
  const crop = new Float32Array(count * 4);
  const jitterOrder = new Uint8Array(count * 4);
  for (let b = 0; b < count; b++) {
    crop.set([0, 0, srcWidth, srcHeight], b * 4);
    jitterOrder.set([0, 1, 2, 3], b * 4);
  }
  return {
    count,
    crop,
    flip: new Uint8Array(count),
    jitter: new Uint8Array(count),
    brightness: new Float32Array(count).fill(1),
    contrast: new Float32Array(count).fill(1),
    saturation: new Float32Array(count).fill(1),
    hue: new Float32Array(count),
    jitterOrder,
    grayscale: new Uint8Array(count),
    blurSigma: new Float32Array(count),
    solarize: new Uint8Array(count),
  };
}

function checkInputs(images: Tensor, views: readonly PipelineParams[], p: AugmentPipeline, opts: ApplyOptions): void {
  if (images.dtype !== 'uint8' || images.ndim !== 4)
    throw new TypeError(`applyViews: expected uint8 [B,C,H,W] images, got ${images.dtype} [${images.shape.join(',')}]`);
  const [n, c] = images.shape as [number, number, number, number];
  if (c !== 1 && c !== 3) throw new RangeError(`applyViews: expected 1 or 3 channels, got ${c}`);
  if (p.channels !== c)
    throw new RangeError(
      `applyViews: the augmentation is for ${p.channels}-channel images but images have ${c} channel(s)`,
    );
  for (const v of views) {
    if (v.count !== n) throw new RangeError(`applyViews: ${v.count} view parameters for ${n} images`);
    if (v.steps.length !== p.steps.length || v.steps.some((s, i) => s.width !== p.steps[i]!.op.columns.length)) {
      throw new RangeError('applyViews: view parameters of another pipeline');
    }
  }
  const norm = opts.normalize;
  if (norm && (norm.mean.length !== c || norm.std.length !== c))
    throw new RangeError(`applyViews: normalize needs ${c} means and stds`);
}

/** Every view in `views` of each image, view after view: [V*B,C,S,S]. */
function applyViewList(
  images: Tensor,
  views: readonly PipelineParams[],
  p: AugmentPipeline,
  opts: ApplyOptions,
): Tensor {
  checkInputs(images, views, p, opts);
  const channelsLast = opts.memoryFormat === 'channelsLast';
  // fusedKernelAvailable is false (warning once where the kernel should exist) for devices without a fused kernel.
  const implementation =
    opts.implementation ?? (fusedCoverage(p) === null && fusedKernelAvailable(images.device) ? 'fused' : 'tensor');
  if (implementation !== 'tensor')
    return augmentFused(images, p, views, { normalize: opts.normalize, channelsLast, implementation });
  const c = p.channels;
  return torch.scope(() => {
    const parts = views.map((v) => applyPipelineTensor(images, p, v));
    let x = parts.length === 1 ? parts[0]! : torch.cat(parts);
    const norm = opts.normalize;
    if (norm) {
      const mean = torch.tensor(Float32Array.from(norm.mean), { shape: [1, c, 1, 1], device: x.device });
      const std = torch.tensor(Float32Array.from(norm.std), { shape: [1, c, 1, 1], device: x.device });
      x = x.sub(mean).div(std);
    }
    return channelsLast ? x.contiguous('channelsLast') : x;
  });
}

/**
 * Applies one view's parameters to each image: uint8 [B,C,H,W] (C = 1 or 3, the augmentation's channels) ->
 * float32 [B,C,S,S] in [0, 1] (unless normalised), S = the output size. ViewParams go with an AugmentConfig (or
 * its pipeline); PipelineParams with the pipeline they were sampled for. One-channel images get brightness and
 * contrast only (saturation, hue and grayscale are identities there, as in torchvision).
 * @throws TypeError for images that are not uint8 [B,C,H,W]; RangeError for parameters or options that do not fit.
 */
export function applyViews(
  images: Tensor,
  params: ViewParams | PipelineParams,
  aug: Augmentation,
  opts: ApplyOptions = {},
): Tensor {
  const views = 'steps' in params ? params : fromViewParams(params);
  return applyViewList(images, [views], toPipeline(aug), opts);
}

/** Images resized whole to the output size, nothing else: the "original" beside views (grid.ts). */
export function applyIdentity(images: Tensor, aug: Augmentation, opts: ApplyOptions = {}): Tensor {
  const p = { ...toPipeline(aug), steps: [] };
  const [n, , h, w] = images.shape as [number, number, number, number];
  return applyViewList(images, [identityPipelineParams(p, n, h, w)], p, opts);
}

/**
 * Both SimCLR views (view ids 0 and 1) of each image in one batch: [2B,C,S,S], every view 0 first. With one
 * augmentation per view, view v is made by the v-th (each by its own implementation: fused where it covers it).
 */
export function createViewBatch(images: Tensor, aug: ViewAugmentations, at: ViewSeed, opts: ApplyOptions = {}): Tensor {
  const [, , h, w] = images.shape as [number, number, number, number];
  const pipelines = viewPipelines(aug);
  const views = pipelines.map((p, v) => samplePipeline(p, h, w, at.seed, at.epoch, at.indices, v));
  if (pipelines[0] === pipelines[1]) return applyViewList(images, views, pipelines[0], opts);
  return torch.scope(() => {
    const both = torch.cat(views.map((v, i) => applyViewList(images, [v], pipelines[i]!, opts)));
    return opts.memoryFormat === 'channelsLast' ? both.contiguous('channelsLast') : both;
  });
}

/** The two SimCLR views (view ids 0 and 1) of each image. */
export function createTwoViews(
  images: Tensor,
  aug: ViewAugmentations,
  at: ViewSeed,
  opts: ApplyOptions = {},
): [Tensor, Tensor] {
  return torch.scope(() => createViewBatch(images, aug, at, opts).chunk(2) as [Tensor, Tensor]);
}
