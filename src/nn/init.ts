// torch.nn.init: in-place initialisers, each drawing from an optional Generator so a model's initial weights
// are reproducible independently of other random streams. The arithmetic follows PyTorch's step by step, so a
// generator seeded like PyTorch's gives the same numbers.
import * as torch from '../torch/index.js';

type Tensor = torch.Tensor;

export type Nonlinearity =
  | 'linear'
  | 'conv1d'
  | 'conv2d'
  | 'conv3d'
  | 'convTranspose1d'
  | 'convTranspose2d'
  | 'convTranspose3d'
  | 'sigmoid'
  | 'tanh'
  | 'relu'
  | 'leakyRelu'
  | 'selu';
export type FanMode = 'fanIn' | 'fanOut';

export interface KaimingOptions {
  /** Negative slope of the leaky ReLU that follows (only used with 'leakyRelu'); default 0. */
  a?: number;
  mode?: FanMode;
  /** Default 'leakyRelu', as PyTorch. */
  nonlinearity?: Nonlinearity;
  generator?: torch.Generator;
}

/** The gain PyTorch recommends for a nonlinearity; param is leakyRelu's negative slope (default 0.01). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv1d':
    case 'conv2d':
    case 'conv3d':
    case 'convTranspose1d':
    case 'convTranspose2d':
    case 'convTranspose3d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.sqrt(2);
    case 'leakyRelu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new TypeError(`calculateGain: unsupported nonlinearity '${String(nonlinearity)}'`);
  }
}

/** [fanIn, fanOut]: input/output feature maps times the receptive field size (weights of 2 or more dims). */
export function calculateFanInAndFanOut(t: Tensor): [number, number] {
  const shape = t.shape;
  if (shape.length < 2)
    throw new RangeError(
      `fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (got ${shape.length})`,
    );
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return [shape[1]! * receptive, shape[0]! * receptive];
}

function correctFan(t: Tensor, mode: FanMode): number {
  if (mode !== 'fanIn' && mode !== 'fanOut')
    throw new TypeError(`mode must be 'fanIn' or 'fanOut', got '${String(mode)}'`);
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  return mode === 'fanIn' ? fanIn : fanOut;
}

// Initialisers write into parameters, which are leaves requiring grad: in-place writes need grad mode off.
export function uniform_(t: Tensor, a = 0, b = 1, generator?: torch.Generator): Tensor {
  return torch.noGrad(() => t.uniform_(a, b, generator));
}

export function normal_(t: Tensor, mean = 0, std = 1, generator?: torch.Generator): Tensor {
  return torch.noGrad(() => t.normal_(mean, std, generator));
}

export function constant_(t: Tensor, value: number): Tensor {
  return torch.noGrad(() => t.fill_(value));
}

export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}

/** He et al. uniform: U(-bound, bound) with bound = gain * sqrt(3 / fan). */
export function kaimingUniform_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  const { a = 0, mode = 'fanIn', nonlinearity = 'leakyRelu', generator } = opts;
  const std = calculateGain(nonlinearity, a) / Math.sqrt(correctFan(t, mode));
  const bound = Math.sqrt(3) * std;
  return uniform_(t, -bound, bound, generator);
}

/** He et al. normal: N(0, std^2) with std = gain / sqrt(fan). */
export function kaimingNormal_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  const { a = 0, mode = 'fanIn', nonlinearity = 'leakyRelu', generator } = opts;
  const std = calculateGain(nonlinearity, a) / Math.sqrt(correctFan(t, mode));
  return normal_(t, 0, std, generator);
}

/**
 * PyTorch's default for Conv and Linear layers: weight kaiming-uniform with a = sqrt(5) (U(-1/sqrt(fanIn),
 * 1/sqrt(fanIn)) in effect) and bias U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
 */
export function defaultLayerInit_(weight: Tensor, bias: Tensor | null, generator?: torch.Generator): void {
  kaimingUniform_(weight, { a: Math.sqrt(5), generator });
  if (bias === null) return;
  const [fanIn] = calculateFanInAndFanOut(weight);
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  uniform_(bias, -bound, bound, generator);
}
