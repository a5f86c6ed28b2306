// torch.nn.functional against PyTorch (test/golden/ops_nn.json): convolution, normalisation (batch norm's running
// statistics included), pooling, losses, resampling and activations; plus dropout's random semantics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import type {
  ClassificationLossOptions,
  Conv2dOptions,
  GridSampleOptions,
  InterpolateOptions,
  Pool2dOptions,
  Reduction,
} from '../../src/torch/functional.js';
import { bool, goldenSuite, int, ints, num, obj, pair, str, type Args, type Json, type OpImpl } from './golden.js';

const F = torch.nn.functional;

function pairOrScale(v: Json | undefined): number | [number, number] {
  if (Array.isArray(v)) return [num(v[0]), num(v[1])];
  return num(v);
}

function convOptions(a: Args): Conv2dOptions {
  const o: Conv2dOptions = {};
  if (a.stride !== undefined) o.stride = pair(a.stride);
  if (a.padding !== undefined)
    o.padding = typeof a.padding === 'string' ? str<'same' | 'valid'>(a.padding) : pair(a.padding);
  if (a.dilation !== undefined) o.dilation = pair(a.dilation);
  if (a.groups !== undefined) o.groups = int(a.groups);
  return o;
}

function poolOptions(
  a: Args,
): Pool2dOptions & { dilation?: number | [number, number]; countIncludePad?: boolean; divisorOverride?: number } {
  const o = obj(a.opts);
  return {
    ...(o.stride !== undefined ? { stride: pair(o.stride) } : {}),
    ...(o.padding !== undefined ? { padding: pair(o.padding) } : {}),
    ...(o.ceil_mode !== undefined ? { ceilMode: bool(o.ceil_mode) } : {}),
    ...(o.dilation !== undefined ? { dilation: pair(o.dilation) } : {}),
    ...(o.count_include_pad !== undefined ? { countIncludePad: bool(o.count_include_pad) } : {}),
    ...(o.divisor_override !== undefined ? { divisorOverride: int(o.divisor_override) } : {}),
  };
}

function lossOptions(x: readonly Tensor[], a: Args): ClassificationLossOptions & { labelSmoothing?: number } {
  return {
    ...(x.length > 2 ? { weight: x[2]! } : {}),
    ...(a.reduction !== undefined ? { reduction: str<Reduction>(a.reduction) } : {}),
    ...(a.ignore_index !== undefined ? { ignoreIndex: int(a.ignore_index) } : {}),
    ...(a.label_smoothing !== undefined ? { labelSmoothing: num(a.label_smoothing) } : {}),
  };
}

function interpolateOptions(a: Args): InterpolateOptions {
  return {
    mode: str<'nearest' | 'bilinear'>(a.mode),
    ...(a.size !== undefined ? { size: pair(a.size) } : {}),
    ...(a.scale_factor !== undefined ? { scaleFactor: pairOrScale(a.scale_factor) } : {}),
    ...(a.align_corners !== undefined ? { alignCorners: bool(a.align_corners) } : {}),
  };
}

function gridOptions(a: Args): GridSampleOptions {
  return {
    mode: str<'bilinear' | 'nearest'>(a.mode),
    paddingMode: str<'zeros' | 'border' | 'reflection'>(a.padding_mode),
    alignCorners: bool(a.align_corners),
  };
}

const batchNorm: OpImpl = (x, a) => {
  const [input, weight, bias, runningMean, runningVar] = x;
  const y = F.batchNorm(input!, runningMean!, runningVar!, {
    weight: weight!,
    bias: bias!,
    training: bool(a.training),
    momentum: num(a.momentum),
    eps: num(a.eps),
  });
  return [y, runningMean!, runningVar!];
};

goldenSuite('nn', {
  conv2d: (x, a) => F.conv2d(x[0]!, x[1]!, { bias: x[2]!, ...convOptions(a) }),
  conv2d_nobias: (x, a) => F.conv2d(x[0]!, x[1]!, convOptions(a)),
  linear: (x) => F.linear(x[0]!, x[1]!, x[2]!),
  linear_nobias: (x) => F.linear(x[0]!, x[1]!),
  batchNorm,
  batchNorm_bare: (x) => F.batchNorm(x[0]!, null, null, { training: true }),
  layerNorm: (x, a) => F.layerNorm(x[0]!, ints(a.shape), { weight: x[1]!, bias: x[2]!, eps: num(a.eps) }),
  layerNorm_plain: (x, a) => F.layerNorm(x[0]!, ints(a.shape)),
  maxPool2d: (x, a) => F.maxPool2d(x[0]!, pair(a.kernel), poolOptions(a)),
  avgPool2d: (x, a) => F.avgPool2d(x[0]!, pair(a.kernel), poolOptions(a)),
  adaptiveAvgPool2d: (x, a) => F.adaptiveAvgPool2d(x[0]!, pair(a.size)),
  softmax: (x, a) => F.softmax(x[0]!, int(a.dim)),
  logSoftmax: (x, a) => F.logSoftmax(x[0]!, int(a.dim)),
  softmax_dtype: (x, a) => F.softmax(x[0]!, int(a.dim), str<'float64'>(a.dtype)),
  crossEntropy: (x, a) => F.crossEntropy(x[0]!, x[1]!, lossOptions(x, a)),
  nllLoss: (x, a) => F.nllLoss(x[0]!, x[1]!, lossOptions(x, a)),
  mseLoss: (x, a) => F.mseLoss(x[0]!, x[1]!, { reduction: str<Reduction>(a.reduction) }),
  l1Loss: (x, a) => F.l1Loss(x[0]!, x[1]!, { reduction: str<Reduction>(a.reduction) }),
  bceWithLogits: (x) => F.binaryCrossEntropyWithLogits(x[0]!, x[1]!),
  bceWithLogits_weighted: (x, a) =>
    F.binaryCrossEntropyWithLogits(x[0]!, x[1]!, {
      weight: x[2]!,
      posWeight: x[3]!,
      reduction: str<Reduction>(a.reduction),
    }),
  normalize: (x, a) =>
    F.normalize(x[0]!, {
      ...(a.p !== undefined ? { p: num(a.p) } : {}),
      ...(a.dim !== undefined ? { dim: int(a.dim) } : {}),
      ...(a.eps !== undefined ? { eps: num(a.eps) } : {}),
    }),
  cosineSimilarity: (x, a) => F.cosineSimilarity(x[0]!, x[1]!, int(a.dim)),
  oneHot: (x, a) => F.oneHot(x[0]!, int(a.numClasses)),
  pad: (x, a) =>
    F.pad(x[0]!, ints(a.pad), str<'constant' | 'reflect' | 'replicate' | 'circular'>(a.mode), num(a.value)),
  interpolate: (x, a) => F.interpolate(x[0]!, interpolateOptions(a)),
  gridSample: (x, a) => F.gridSample(x[0]!, x[1]!, gridOptions(a)),
  affineGrid: (x, a) => F.affineGrid(x[0]!, ints(a.size), bool(a.alignCorners)),
  affineGridSample: (x) => F.gridSample(x[1]!, F.affineGrid(x[0]!, x[1]!.shape, false), { alignCorners: false }),
  act_relu: (x) => F.relu(x[0]!),
  act_sigmoid: (x) => F.sigmoid(x[0]!),
  act_tanh: (x) => F.tanh(x[0]!),
  act_silu: (x) => F.silu(x[0]!),
  act_gelu: (x, a) => F.gelu(x[0]!, str<'none' | 'tanh'>(a.approximate)),
  act_leaky_relu: (x, a) => F.leakyRelu(x[0]!, num(a.negative_slope)),
  dropout: (x, a) => F.dropout(x[0]!, num(a.p), bool(a.training)),
});

test('dropout keeps each element with probability 1-p and scales kept ones by 1/(1-p)', () => {
  torch.scope(() => {
    const n = 20000;
    const p = 0.3;
    const x = torch.rand([n], { dtype: 'float64' }).add(0.5);
    const y = F.dropout(x, p, true);
    assert.deepEqual(y.shape, x.shape);
    const kept = y.ne(0);
    const scaled = x.div(1 - p);
    assert.equal(
      y.where(kept, 0).sub(scaled.where(kept, 0)).abs().max().item() < 1e-12,
      true,
      'kept elements are x/(1-p)',
    );
    const keptFraction = kept.sum().item() / n;
    // Binomial standard deviation is sqrt(p(1-p)/n) ~ 0.0032; allow six of them.
    assert.ok(Math.abs(keptFraction - (1 - p)) < 0.02, `kept fraction ${keptFraction}`);
  });
});

test('dropout refuses p outside [0, 1] and flows gradients through the same mask', () => {
  torch.scope(() => {
    assert.throws(() => F.dropout(torch.ones([2]), 1.5), RangeError);
    assert.throws(() => F.dropout(torch.ones([2]), -0.1), RangeError);
    const x = torch.ones([1000], { requiresGrad: true });
    const y = F.dropout(x, 0.5);
    y.sum().backward();
    const g = x.grad!;
    assert.equal(g.equal(y.detach()), true, 'd(sum y)/dx equals the mask times 1/(1-p), which is y for x = 1');
  });
});

test('batchNorm in training mode without running stats leaves nothing to update; eval mode needs them', () => {
  torch.scope(() => {
    const x = torch.randn([4, 3]);
    const y = F.batchNorm(x, null, null, { training: true });
    assert.ok(y.mean(0).abs().max().item() < 1e-5);
    assert.throws(() => F.batchNorm(x, null, null, { training: false }));
  });
});

test('interpolate validates its arguments', () => {
  torch.scope(() => {
    const img = torch.zeros([1, 1, 2, 2]);
    assert.throws(() => F.interpolate(img, {}), TypeError);
    assert.throws(() => F.interpolate(img, { size: 3, scaleFactor: 2 }), TypeError);
    assert.throws(() => F.interpolate(torch.zeros([2, 2]), { size: 3 }), RangeError);
    assert.throws(() => F.interpolate(img, { size: 3, mode: 'bicubic' as 'nearest' }), TypeError);
    assert.deepEqual(F.interpolate(img, { size: 3 }).shape, [1, 1, 3, 3]);
  });
});

test('losses reject an unknown reduction, and BCE a target of another shape (as F does)', () => {
  torch.scope(() => {
    assert.throws(() => F.mseLoss(torch.zeros([2]), torch.zeros([2]), { reduction: 'avg' as Reduction }), TypeError);
    assert.throws(
      () => F.binaryCrossEntropyWithLogits(torch.zeros([2, 3]), torch.zeros([3])),
      /target size \[3\] must be the same as input size \[2, 3\]/,
    );
  });
});

test('interpolate refuses alignCorners with nearest, as F.interpolate does', () => {
  torch.scope(() => {
    assert.throws(
      () => F.interpolate(torch.zeros([1, 1, 2, 2]), { size: 3, alignCorners: true }),
      /alignCorners can only be set/,
    );
  });
});
