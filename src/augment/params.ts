// The default SimCLR pipeline in its flat form: AugmentConfig (one field per setting of the six paper ops) and
// ViewParams (their per-view parameters, struct-of-arrays). Both are views of the general pipeline (pipeline.ts):
// pipelineFromConfig builds the ops from the settings, and sampling or applying a ViewParams goes through them.

import {
  resolvePipeline,
  samplePipeline,
  type AugmentPipeline,
  type AugmentStepConfig,
  type PipelineParams,
} from './pipeline.js';
export { blurKernelSize } from './ops/gaussian-blur.js';

export interface AugmentConfig {
  /** Output side in pixels. */
  outputSize: number;
  /** Crop area as a fraction of the source area, sampled uniformly. */
  cropScale: [number, number];
  /** Crop aspect ratio w/h, sampled log-uniformly. */
  cropRatio: [number, number];
  flipP: number;
  colorJitterP: number;
  /** Colour distortion strength s: brightness/contrast/saturation 0.8s, hue 0.2s (s <= ops/color-jitter.ts's max). */
  colorStrength: number;
  grayscaleP: number;
  /** Gaussian blur probability; 0 disables (the paper blurs for ImageNet, not CIFAR). */
  blurP: number;
  blurSigma: [number, number];
  solarizeP: number;
  /** One-channel input: only brightness and contrast jitter apply; grayscaleP is ignored. */
  grayscaleInput: boolean;
}

/** The paper's ImageNet settings (Chen et al. 2020, appendix A); use colorStrength 0.5 and blurP 0 for CIFAR. */
export function defaultAugmentConfig(outputSize: number, grayscaleInput: boolean): AugmentConfig {
  return {
    outputSize,
    cropScale: [0.08, 1],
    cropRatio: [3 / 4, 4 / 3],
    flipP: 0.5,
    colorJitterP: 0.8,
    colorStrength: 1.0,
    grayscaleP: grayscaleInput ? 0 : 0.2,
    blurP: 0.5,
    blurSigma: [0.1, 2.0],
    solarizeP: 0,
    grayscaleInput,
  };
}

/**
 * The six ops of an AugmentConfig as pipeline entries, in the SimCLR order: resized crop -> flip -> colour jitter
 * -> grayscale -> blur -> solarize. Every op stays in even at probability 0, as each draws the same words whatever
 * its probability: dropping one would shift the draws of those after it.
 */
export function configSteps(cfg: AugmentConfig): AugmentStepConfig[] {
  return [
    { op: 'randomResizedCrop', scale: cfg.cropScale, ratio: cfg.cropRatio },
    { op: 'horizontalFlip', p: cfg.flipP },
    { op: 'colorJitter', p: cfg.colorJitterP, strength: cfg.colorStrength },
    { op: 'grayscale', p: cfg.grayscaleP },
    { op: 'gaussianBlur', p: cfg.blurP, sigma: cfg.blurSigma },
    { op: 'solarize', p: cfg.solarizeP },
  ];
}

/** The pipeline an AugmentConfig describes. @throws RangeError for settings out of range, naming the op option. */
export function pipelineFromConfig(cfg: AugmentConfig): AugmentPipeline {
  return resolvePipeline(configSteps(cfg), cfg.outputSize, cfg.grayscaleInput ? 1 : 3);
}

/** Parameters for a batch of `count` views, struct-of-arrays so each field maps straight onto a tensor. */
export interface ViewParams {
  count: number;
  /** count*4: x0, y0, w, h in source pixels (integers). */
  crop: Float32Array;
  flip: Uint8Array;
  /** 1 where colour jitter applies; where 0 the factors below hold the identity (1, 1, 1, 0). */
  jitter: Uint8Array;
  brightness: Float32Array;
  contrast: Float32Array;
  saturation: Float32Array;
  /** Hue shift in turns, within [-0.5, 0.5]. */
  hue: Float32Array;
  /** count*4: order of application, a permutation of 0=brightness, 1=contrast, 2=saturation, 3=hue. */
  jitterOrder: Uint8Array;
  grayscale: Uint8Array;
  /** Gaussian sigma in output pixels; 0 = no blur. */
  blurSigma: Float32Array;
  solarize: Uint8Array;
}

/** The flat fields of the config pipeline's params (its six steps in configSteps' order). */
export function toViewParams(p: PipelineParams): ViewParams {
  const [crop, flip, jitter, gray, blur, sol] = p.steps as [(typeof p.steps)[0], ...typeof p.steps];
  if (p.steps.length !== 6 || crop.width !== 4 || jitter!.width !== 9)
    throw new RangeError('toViewParams: not the parameters of the six-op config pipeline');
  const n = p.count;
  const col = (s: typeof crop, c: number): number[] => Array.from({ length: n }, (_, b) => s.values[b * s.width + c]!);
  const jitterOrder = new Uint8Array(n * 4);
  for (let b = 0; b < n; b++) jitterOrder.set(jitter!.values.subarray(b * 9 + 5, b * 9 + 9), b * 4);
  return {
    count: n,
    crop: Float32Array.from(crop.values),
    flip: Uint8Array.from(flip!.values),
    jitter: Uint8Array.from(col(jitter!, 0)),
    brightness: Float32Array.from(col(jitter!, 1)),
    contrast: Float32Array.from(col(jitter!, 2)),
    saturation: Float32Array.from(col(jitter!, 3)),
    hue: Float32Array.from(col(jitter!, 4)),
    jitterOrder,
    grayscale: Uint8Array.from(gray!.values),
    blurSigma: Float32Array.from(blur!.values),
    solarize: Uint8Array.from(sol!.values),
  };
}

/** ViewParams as the config pipeline's params (configSteps' six steps). */
export function fromViewParams(v: ViewParams): PipelineParams {
  const n = v.count;
  const jitter = new Float32Array(n * 9);
  for (let b = 0; b < n; b++) {
    jitter.set([v.jitter[b]!, v.brightness[b]!, v.contrast[b]!, v.saturation[b]!, v.hue[b]!], b * 9);
    jitter.set(v.jitterOrder.subarray(b * 4, b * 4 + 4), b * 9 + 5);
  }
  const step = (width: number, values: ArrayLike<number>): PipelineParams['steps'][number] => ({
    count: n,
    width,
    values: Float32Array.from(values),
  });
  return {
    count: n,
    steps: [
      step(4, v.crop),
      step(1, v.flip),
      step(9, jitter),
      step(1, v.grayscale),
      step(1, v.blurSigma),
      step(1, v.solarize),
    ],
  };
}

/**
 * Parameters for `view` of each sample in `indices`: the config pipeline's (pipeline.ts samplePipeline), whose draw
 * order within one view is
 *   1. crop: per attempt (at most 10) scale then log-ratio; on success y0 = below(H-h+1), then x0 = below(W-w+1)
 *   2. flip: bernoulli(flipP)
 *   3. jitter: bernoulli(colorJitterP); permutation(4); brightness; contrast; then, for colour input only,
 *      saturation and hue. Factors are drawn even when jitter does not apply (then stored as identity),
 *      so the jitter probability never shifts later draws.
 *   4. grayscale: bernoulli(grayscaleP), colour input only
 *   5. blur: bernoulli(blurP); sigma uniform in blurSigma (drawn either way, stored as 0 when not applied)
 *   6. solarize: bernoulli(solarizeP)
 * @throws RangeError for settings out of range and sizes that are not positive integers.
 */
export function sampleViewParams(
  cfg: AugmentConfig,
  srcHeight: number,
  srcWidth: number,
  seed: number,
  epoch: number,
  indices: ArrayLike<number>,
  view: number,
): ViewParams {
  return toViewParams(samplePipeline(pipelineFromConfig(cfg), srcHeight, srcWidth, seed, epoch, indices, view));
}
