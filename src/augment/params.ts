// SimCLR augmentation settings and per-view random parameters. Sampling is separate from pixel work so the
// parameters can be built on the CPU as plain arrays and then applied to a whole batch at once as tensors.

import { CounterRng } from './rng.js';

export interface AugmentConfig {
  /** Output side in pixels. */
  outputSize: number;
  /** Crop area as a fraction of the source area, sampled uniformly. */
  cropScale: [number, number];
  /** Crop aspect ratio w/h, sampled log-uniformly. */
  cropRatio: [number, number];
  flipP: number;
  colorJitterP: number;
  /** Colour distortion strength s: brightness/contrast/saturation 0.8s, hue 0.2s (needs s <= 2.5). */
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

/** Odd kernel side closest to 10% of the image side (ties go up), at least 3, as in the paper. */
export function blurKernelSize(outputSize: number): number {
  if (!Number.isInteger(outputSize) || outputSize < 1) throw new RangeError(`outputSize must be a positive integer, got ${outputSize}`);
  return Math.max(3, 2 * Math.round((outputSize / 10 - 1) / 2) + 1);
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

function checkProbability(name: string, p: number): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${p}`);
}

function checkRange(name: string, r: [number, number], min: number): void {
  if (!(r[0] > min && r[0] <= r[1] && Number.isFinite(r[1]))) throw new RangeError(`${name} must satisfy ${min} < lo <= hi, got [${r[0]}, ${r[1]}]`);
}

function validateConfig(cfg: AugmentConfig): void {
  checkRange('cropScale', cfg.cropScale, 0);
  checkRange('cropRatio', cfg.cropRatio, 0);
  checkRange('blurSigma', cfg.blurSigma, 0);
  checkProbability('flipP', cfg.flipP);
  checkProbability('colorJitterP', cfg.colorJitterP);
  checkProbability('grayscaleP', cfg.grayscaleP);
  checkProbability('blurP', cfg.blurP);
  checkProbability('solarizeP', cfg.solarizeP);
  // torchvision caps hue at 0.5 turns; 0.2s stays inside that only for s <= 2.5.
  if (!(cfg.colorStrength >= 0 && cfg.colorStrength <= 2.5)) throw new RangeError(`colorStrength must be in [0, 2.5], got ${cfg.colorStrength}`);
}

/** Python's round(): half to even, which torchvision's crop sizes use. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision RandomResizedCrop.get_params; writes x0, y0, w, h at out[o..o+3]. */
function sampleCrop(rng: CounterRng, H: number, W: number, scale: [number, number], ratio: [number, number], out: Float32Array, o: number): void {
  const area = H * W;
  const logLo = Math.log(ratio[0]), logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniformRange(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniformRange(logLo, logHi));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= W && h > 0 && h <= H) {
      const y0 = rng.below(H - h + 1);
      const x0 = rng.below(W - w + 1);
      out.set([x0, y0, w, h], o);
      return;
    }
  }
  // Every attempt missed: the largest centred crop whose aspect is clamped into the ratio range.
  const inRatio = W / H;
  let w = W, h = H;
  if (inRatio < ratio[0]) h = roundHalfEven(W / ratio[0]);
  else if (inRatio > ratio[1]) w = roundHalfEven(H * ratio[1]);
  out.set([Math.floor((W - w) / 2), Math.floor((H - h) / 2), w, h], o);
}

/**
 * Parameters for `view` of each sample in `indices`. Each (seed, epoch, index, view) has its own CounterRng, so a
 * sample's parameters do not depend on the rest of the batch. Draw order within one view:
 *   1. crop: per attempt (at most 10) scale then log-ratio; on success y0 = below(H-h+1), then x0 = below(W-w+1)
 *   2. flip: bernoulli(flipP)
 *   3. jitter: bernoulli(colorJitterP); permutation(4); brightness; contrast; then, for colour input only,
 *      saturation and hue. Factors are drawn even when jitter does not apply (then stored as identity),
 *      so the jitter probability never shifts later draws.
 *   4. grayscale: bernoulli(grayscaleP), colour input only
 *   5. blur: bernoulli(blurP); sigma uniform in blurSigma (drawn either way, stored as 0 when not applied)
 *   6. solarize: bernoulli(solarizeP)
 */
export function sampleViewParams(
  cfg: AugmentConfig, srcHeight: number, srcWidth: number,
  seed: number, epoch: number, indices: ArrayLike<number>, view: number,
): ViewParams {
  validateConfig(cfg);
  if (!Number.isInteger(srcHeight) || srcHeight < 1 || !Number.isInteger(srcWidth) || srcWidth < 1) {
    throw new RangeError(`source size must be positive integers, got ${srcHeight}x${srcWidth}`);
  }
  const n = indices.length;
  const p: ViewParams = {
    count: n,
    crop: new Float32Array(n * 4),
    flip: new Uint8Array(n),
    jitter: new Uint8Array(n),
    brightness: new Float32Array(n),
    contrast: new Float32Array(n),
    saturation: new Float32Array(n),
    hue: new Float32Array(n),
    jitterOrder: new Uint8Array(n * 4),
    grayscale: new Uint8Array(n),
    blurSigma: new Float32Array(n),
    solarize: new Uint8Array(n),
  };
  const s = cfg.colorStrength;
  const bcs = 0.8 * s, hueMax = 0.2 * s;
  const factorLo = Math.max(0, 1 - bcs), factorHi = 1 + bcs;

  for (let b = 0; b < n; b++) {
    const rng = new CounterRng(seed, epoch, indices[b]!, view);
    sampleCrop(rng, srcHeight, srcWidth, cfg.cropScale, cfg.cropRatio, p.crop, b * 4);
    p.flip[b] = rng.bernoulli(cfg.flipP) ? 1 : 0;

    const jitter = rng.bernoulli(cfg.colorJitterP);
    p.jitterOrder.set(rng.permutation(4), b * 4);
    const brightness = rng.uniformRange(factorLo, factorHi);
    const contrast = rng.uniformRange(factorLo, factorHi);
    const saturation = cfg.grayscaleInput ? 1 : rng.uniformRange(factorLo, factorHi);
    const hue = cfg.grayscaleInput ? 0 : rng.uniformRange(-hueMax, hueMax);
    p.jitter[b] = jitter ? 1 : 0;
    p.brightness[b] = jitter ? brightness : 1;
    p.contrast[b] = jitter ? contrast : 1;
    p.saturation[b] = jitter ? saturation : 1;
    p.hue[b] = jitter ? hue : 0;

    p.grayscale[b] = !cfg.grayscaleInput && rng.bernoulli(cfg.grayscaleP) ? 1 : 0;
    const blur = rng.bernoulli(cfg.blurP);
    const sigma = rng.uniformRange(cfg.blurSigma[0], cfg.blurSigma[1]);
    p.blurSigma[b] = blur ? sigma : 0;
    p.solarize[b] = rng.bernoulli(cfg.solarizeP) ? 1 : 0;
  }
  return p;
}
