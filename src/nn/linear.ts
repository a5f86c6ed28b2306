// Linear: y = x W^T + b, with PyTorch's parameter names and default initialisation.
import * as torch from '../torch/index.js';
import { Module, parameter } from './module.js';
import { defaultLayerInit_ } from './init.js';

type Tensor = torch.Tensor;

export interface LinearOptions {
  /** Learnable bias (default true). */
  bias?: boolean;
  /** Draws the initial weights from this generator instead of the default one. */
  generator?: torch.Generator;
}

export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  private readonly hasBias: boolean;

  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    const { bias = true, generator } = opts;
    for (const [what, v] of [
      ['inFeatures', inFeatures],
      ['outFeatures', outFeatures],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`Linear: ${what} must be a positive integer, got ${v}`);
    }
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.hasBias = bias;
    const weight = this.registerParameter('weight', parameter(torch.empty([outFeatures, inFeatures])));
    const b = bias ? this.registerParameter('bias', parameter(torch.empty([outFeatures]))) : null;
    defaultLayerInit_(weight, b, generator);
  }

  get weight(): Tensor {
    return this.getParameter('weight');
  }

  get bias(): Tensor | null {
    return this.hasBias ? this.getParameter('bias') : null;
  }

  forward(x: Tensor): Tensor {
    return torch.nn.functional.linear(x, this.weight, this.bias);
  }
}
