// torch.nn.functional: PyTorch's functional layer API in camelCase, with keyword arguments as option objects.
import * as ops from './generated/ops.js';
import type { Tensor } from './tensor.js';
import { type DType, dtypeCode } from './dtype.js';

type IntOrPair = number | readonly [number, number];
export type Reduction = 'none' | 'mean' | 'sum';
const REDUCTION: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

function reduction(r: Reduction | undefined): number {
  const code = REDUCTION[r ?? 'mean'];
  if (code === undefined) throw new TypeError(`reduction must be 'none', 'mean' or 'sum', got '${String(r)}'`);
  return code;
}

export interface Conv2dOptions {
  bias?: Tensor | null;
  stride?: IntOrPair;
  padding?: IntOrPair | 'same' | 'valid';
  dilation?: IntOrPair;
  groups?: number;
}
export function conv2d(input: Tensor, weight: Tensor, opts: Conv2dOptions = {}): Tensor {
  const { bias = null, stride = 1, padding = 0, dilation = 1, groups = 1 } = opts;
  if (typeof padding === 'string') return ops.conv2d$padding(input, weight, bias, stride, padding, dilation, groups);
  return ops.conv2d(input, weight, bias, stride, padding, dilation, groups);
}

export function linear(input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return ops.linear(input, weight, bias);
}

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  training?: boolean;
  momentum?: number;
  eps?: number;
}
/** Batch normalisation; in training mode with running stats given, they are updated in place (momentum as PyTorch). */
export function batchNorm(
  input: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  opts: BatchNormOptions = {},
): Tensor {
  const { weight = null, bias = null, training = false, momentum = 0.1, eps = 1e-5 } = opts;
  return ops.batch_norm(input, weight, bias, runningMean, runningVar, training, momentum, eps, true);
}

export function layerNorm(
  input: Tensor,
  normalizedShape: readonly number[],
  opts: { weight?: Tensor | null; bias?: Tensor | null; eps?: number } = {},
): Tensor {
  return ops.layer_norm(input, normalizedShape, opts.weight ?? null, opts.bias ?? null, opts.eps ?? 1e-5, true);
}

export interface Pool2dOptions {
  stride?: IntOrPair;
  padding?: IntOrPair;
  ceilMode?: boolean;
}
export function maxPool2d(
  input: Tensor,
  kernelSize: IntOrPair,
  opts: Pool2dOptions & { dilation?: IntOrPair } = {},
): Tensor {
  return ops.max_pool2d(
    input,
    kernelSize,
    opts.stride ?? kernelSize,
    opts.padding ?? 0,
    opts.dilation ?? 1,
    opts.ceilMode ?? false,
  );
}
export function avgPool2d(
  input: Tensor,
  kernelSize: IntOrPair,
  opts: Pool2dOptions & { countIncludePad?: boolean; divisorOverride?: number } = {},
): Tensor {
  return ops.avg_pool2d(
    input,
    kernelSize,
    opts.stride ?? kernelSize,
    opts.padding ?? 0,
    opts.ceilMode ?? false,
    opts.countIncludePad ?? true,
    opts.divisorOverride ?? null,
  );
}
export function adaptiveAvgPool2d(input: Tensor, outputSize: IntOrPair): Tensor {
  return ops.adaptive_avg_pool2d(input, outputSize);
}

export function dropout(input: Tensor, p = 0.5, training = true): Tensor {
  if (p < 0 || p > 1) throw new RangeError(`dropout probability must be in [0, 1], got ${p}`);
  return ops.dropout(input, p, training);
}

export function relu(input: Tensor): Tensor {
  return ops.relu(input);
}
export function gelu(input: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return ops.gelu(input, approximate);
}
export function silu(input: Tensor): Tensor {
  return ops.silu(input);
}
export function sigmoid(input: Tensor): Tensor {
  return ops.sigmoid(input);
}
/** log(sigmoid(x)), computed stably for large |x| (PyTorch's F.logsigmoid). */
export function logsigmoid(input: Tensor): Tensor {
  return ops.log_sigmoid(input);
}
export function tanh(input: Tensor): Tensor {
  return ops.tanh(input);
}
export function leakyRelu(input: Tensor, negativeSlope = 0.01): Tensor {
  return ops.leaky_relu(input, negativeSlope);
}

export function softmax(input: Tensor, dim: number, dtype?: DType): Tensor {
  return ops.softmax$int(input, dim, dtype === undefined ? null : dtypeCode(dtype));
}
export function logSoftmax(input: Tensor, dim: number, dtype?: DType): Tensor {
  return ops.log_softmax$int(input, dim, dtype === undefined ? null : dtypeCode(dtype));
}

export interface ClassificationLossOptions {
  weight?: Tensor | null;
  reduction?: Reduction;
  ignoreIndex?: number;
}
/** Cross entropy over logits [N, C, ...] with class-index targets or class-probability targets. */
export function crossEntropy(
  input: Tensor,
  target: Tensor,
  opts: ClassificationLossOptions & { labelSmoothing?: number } = {},
): Tensor {
  return ops.cross_entropy_loss(
    input,
    target,
    opts.weight ?? null,
    reduction(opts.reduction),
    opts.ignoreIndex ?? -100,
    opts.labelSmoothing ?? 0,
  );
}
export function nllLoss(input: Tensor, target: Tensor, opts: ClassificationLossOptions = {}): Tensor {
  return ops.nll_loss_nd(input, target, opts.weight ?? null, reduction(opts.reduction), opts.ignoreIndex ?? -100);
}
function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

// Broadcasts input and target to one shape first, as F.mse_loss/F.l1_loss do: aten's mse_loss backward scales
// the target's gradient by the target's own element count, which is wrong for a target that was broadcast.
function pointwiseLoss(
  op: (i: Tensor, t: Tensor, r: number) => Tensor,
  input: Tensor,
  target: Tensor,
  r: Reduction | undefined,
): Tensor {
  const code = reduction(r);
  if (sameShape(input.shape, target.shape)) return op(input, target, code);
  const [i, t] = ops.broadcast_tensors([input, target]);
  const out = op(i!, t!, code);
  i!.dispose();
  t!.dispose();
  return out;
}
export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  return pointwiseLoss(ops.mse_loss, input, target, opts.reduction);
}
export function l1Loss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  return pointwiseLoss(ops.l1_loss, input, target, opts.reduction);
}
export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  opts: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction } = {},
): Tensor {
  if (!sameShape(input.shape, target.shape)) {
    throw new RangeError(
      `binaryCrossEntropyWithLogits: target size [${target.shape.join(', ')}] must be the same as input size ` +
        `[${input.shape.join(', ')}]`,
    );
  }
  return ops.binary_cross_entropy_with_logits(
    input,
    target,
    opts.weight ?? null,
    opts.posWeight ?? null,
    reduction(opts.reduction),
  );
}

/** x / max(||x||_p, eps) along dim, as F.normalize. */
export function normalize(input: Tensor, opts: { p?: number; dim?: number; eps?: number } = {}): Tensor {
  const { p = 2, dim = 1, eps = 1e-12 } = opts;
  const norm = input.norm(p, dim, true);
  const denom = norm.clampMin(eps);
  norm.dispose();
  const expanded = denom.expandAs(input);
  denom.dispose();
  const out = input.div(expanded);
  expanded.dispose();
  return out;
}

export function cosineSimilarity(x1: Tensor, x2: Tensor, dim = 1, eps = 1e-8): Tensor {
  return ops.cosine_similarity(x1, x2, dim, eps);
}

export function oneHot(input: Tensor, numClasses = -1): Tensor {
  return ops.one_hot(input, numClasses);
}

/** Pads the last dims: pad = [left, right, top, bottom, ...] as F.pad. */
export function pad(
  input: Tensor,
  padding: readonly number[],
  mode: 'constant' | 'reflect' | 'replicate' | 'circular' = 'constant',
  value = 0,
): Tensor {
  return ops.pad(input, padding, mode, mode === 'constant' ? value : null);
}

export interface InterpolateOptions {
  size?: IntOrPair;
  scaleFactor?: number | readonly [number, number];
  mode?: 'nearest' | 'bilinear';
  alignCorners?: boolean;
}
/** Resizes NCHW images (nearest or bilinear), by output size or scale factor, as F.interpolate. */
export function interpolate(input: Tensor, opts: InterpolateOptions): Tensor {
  const { mode = 'nearest' } = opts;
  if ((opts.size === undefined) === (opts.scaleFactor === undefined))
    throw new TypeError('interpolate: give exactly one of size and scaleFactor');
  if (input.ndim !== 4) throw new RangeError(`interpolate: expected a 4-d NCHW tensor, got ${input.ndim} dims`);
  if (mode === 'nearest' && opts.alignCorners !== undefined) {
    throw new TypeError('interpolate: alignCorners can only be set with the interpolating mode bilinear');
  }
  const size = opts.size === undefined ? null : typeof opts.size === 'number' ? [opts.size, opts.size] : opts.size;
  const scales =
    opts.scaleFactor === undefined
      ? null
      : typeof opts.scaleFactor === 'number'
        ? [opts.scaleFactor, opts.scaleFactor]
        : opts.scaleFactor;
  if (mode === 'nearest') return ops.upsample_nearest2d$vec(input, size, scales);
  if (mode === 'bilinear') return ops.upsample_bilinear2d$vec(input, size, opts.alignCorners ?? false, scales);
  throw new TypeError(`interpolate: unsupported mode '${String(mode)}'`);
}

const GRID_MODE = { bilinear: 0, nearest: 1, bicubic: 2 } as const;
const GRID_PADDING = { zeros: 0, border: 1, reflection: 2 } as const;
export interface GridSampleOptions {
  mode?: keyof typeof GRID_MODE;
  paddingMode?: keyof typeof GRID_PADDING;
  alignCorners?: boolean;
}
/** Samples input [N,C,H,W] at grid [N,Ho,Wo,2] locations in [-1, 1], as F.grid_sample. */
export function gridSample(input: Tensor, grid: Tensor, opts: GridSampleOptions = {}): Tensor {
  return ops.grid_sampler(
    input,
    grid,
    GRID_MODE[opts.mode ?? 'bilinear'],
    GRID_PADDING[opts.paddingMode ?? 'zeros'],
    opts.alignCorners ?? false,
  );
}
/** Sampling grid [N,H,W,2] for affine matrices theta [N,2,3], as F.affine_grid. */
export function affineGrid(theta: Tensor, size: readonly number[], alignCorners = false): Tensor {
  return ops.affine_grid_generator(theta, size, alignCorners);
}
