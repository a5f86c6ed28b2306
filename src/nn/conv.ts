// Conv2d: a 2-d convolution layer over NCHW input with PyTorch's parameter names and default initialisation.
import * as torch from '../torch/index.js';
import { Module, parameter } from './module.js';
import { defaultLayerInit_ } from './init.js';

type Tensor = torch.Tensor;
export type IntOrPair = number | readonly [number, number];

export interface Conv2dOptions {
  stride?: IntOrPair;
  padding?: IntOrPair | 'same' | 'valid';
  dilation?: IntOrPair;
  groups?: number;
  /** Learnable bias (default true). */
  bias?: boolean;
  /** Draws the initial weights from this generator instead of the default one. */
  generator?: torch.Generator;
}

function pair(v: IntOrPair, what: string): [number, number] {
  const p: readonly number[] = typeof v === 'number' ? [v, v] : v;
  if (p.length !== 2 || p.some((d) => !Number.isInteger(d) || d < 0))
    throw new RangeError(`Conv2d: ${what} must be a non-negative integer or a pair, got ${JSON.stringify(v)}`);
  return [p[0]!, p[1]!];
}

export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number] | 'same' | 'valid';
  readonly dilation: [number, number];
  readonly groups: number;
  private readonly hasBias: boolean;

  constructor(inChannels: number, outChannels: number, kernelSize: IntOrPair, opts: Conv2dOptions = {}) {
    super();
    const { stride = 1, padding = 0, dilation = 1, groups = 1, bias = true, generator } = opts;
    for (const [what, v] of [
      ['inChannels', inChannels],
      ['outChannels', outChannels],
      ['groups', groups],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`Conv2d: ${what} must be a positive integer, got ${v}`);
    }
    if (inChannels % groups !== 0)
      throw new RangeError(`Conv2d: inChannels (${inChannels}) must be divisible by groups (${groups})`);
    if (outChannels % groups !== 0)
      throw new RangeError(`Conv2d: outChannels (${outChannels}) must be divisible by groups (${groups})`);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pair(kernelSize, 'kernelSize');
    if (this.kernelSize.some((k) => k < 1))
      throw new RangeError(`Conv2d: kernelSize must be positive, got ${JSON.stringify(kernelSize)}`);
    this.stride = pair(stride, 'stride');
    if (this.stride.some((s) => s < 1))
      throw new RangeError(`Conv2d: stride must be positive, got ${JSON.stringify(stride)}`);
    this.padding = typeof padding === 'string' ? padding : pair(padding, 'padding');
    this.dilation = pair(dilation, 'dilation');
    this.groups = groups;
    this.hasBias = bias;
    const weight = this.registerParameter(
      'weight',
      parameter(torch.empty([outChannels, inChannels / groups, ...this.kernelSize])),
    );
    const b = bias ? this.registerParameter('bias', parameter(torch.empty([outChannels]))) : null;
    defaultLayerInit_(weight, b, generator);
  }

  get weight(): Tensor {
    return this.getParameter('weight');
  }

  get bias(): Tensor | null {
    return this.hasBias ? this.getParameter('bias') : null;
  }

  forward(x: Tensor): Tensor {
    return torch.nn.functional.conv2d(x, this.weight, {
      bias: this.bias,
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
    });
  }
}
