// BatchNorm1d/2d with PyTorch's names (weight, bias, running_mean, running_var, num_batches_tracked) and
// semantics: batch statistics in training (updating the running ones), running statistics in eval.
import * as torch from '../torch/index.js';
import { Module, parameter } from './module.js';

type Tensor = torch.Tensor;

export interface BatchNormOptions {
  /** Added to the variance for stability (default 1e-5). */
  eps?: number;
  /** Running-statistics update weight (default 0.1); null keeps a cumulative average over all batches. */
  momentum?: number | null;
  /** Learnable per-channel scale and shift (default true). */
  affine?: boolean;
  /** Keep running statistics for eval mode (default true); without them eval also uses batch statistics. */
  trackRunningStats?: boolean;
}

abstract class BatchNorm extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;

  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super();
    const { eps = 1e-5, momentum = 0.1, affine = true, trackRunningStats = true } = opts;
    if (!Number.isInteger(numFeatures) || numFeatures < 1)
      throw new RangeError(`${this.constructor.name}: numFeatures must be a positive integer, got ${numFeatures}`);
    if (!(eps > 0)) throw new RangeError(`${this.constructor.name}: eps must be positive, got ${eps}`);
    if (momentum !== null && !(momentum >= 0 && momentum <= 1))
      throw new RangeError(`${this.constructor.name}: momentum must be in [0, 1] or null, got ${momentum}`);
    this.numFeatures = numFeatures;
    this.eps = eps;
    this.momentum = momentum;
    this.affine = affine;
    this.trackRunningStats = trackRunningStats;
    if (affine) {
      this.registerParameter('weight', parameter(torch.ones([numFeatures])));
      this.registerParameter('bias', parameter(torch.zeros([numFeatures])));
    }
    if (trackRunningStats) {
      this.registerBuffer('running_mean', torch.zeros([numFeatures]));
      this.registerBuffer('running_var', torch.ones([numFeatures]));
      this.registerBuffer('num_batches_tracked', torch.zeros([], { dtype: 'int64' }));
    }
  }

  /** Throws unless x has a shape this layer accepts. */
  protected abstract checkInput(x: Tensor): void;

  get weight(): Tensor | null {
    return this.affine ? this.getParameter('weight') : null;
  }
  get bias(): Tensor | null {
    return this.affine ? this.getParameter('bias') : null;
  }
  get runningMean(): Tensor | null {
    return this.trackRunningStats ? this.getBuffer('running_mean') : null;
  }
  get runningVar(): Tensor | null {
    return this.trackRunningStats ? this.getBuffer('running_var') : null;
  }
  get numBatchesTracked(): Tensor | null {
    return this.trackRunningStats ? this.getBuffer('num_batches_tracked') : null;
  }

  forward(x: Tensor): Tensor {
    this.checkInput(x);
    if (x.shape[1] !== this.numFeatures)
      throw new RangeError(`${this.constructor.name}: expected ${this.numFeatures} channels, got ${x.shape[1]}`);
    let factor = this.momentum ?? 0;
    const count = this.numBatchesTracked;
    if (this.training && count !== null) {
      torch.noGrad(() => count.add_(1));
      if (this.momentum === null) factor = 1 / count.item();
    }
    return torch.nn.functional.batchNorm(x, this.runningMean, this.runningVar, {
      weight: this.weight,
      bias: this.bias,
      training: this.training || !this.trackRunningStats,
      momentum: factor,
      eps: this.eps,
    });
  }
}

/** Batch normalisation over [N, C] or [N, C, L] input. */
export class BatchNorm1d extends BatchNorm {
  protected checkInput(x: Tensor): void {
    if (x.ndim !== 2 && x.ndim !== 3)
      throw new RangeError(`BatchNorm1d: expected 2D or 3D input, got ${x.ndim}D input`);
  }
}

/** Batch normalisation over [N, C, H, W] input. */
export class BatchNorm2d extends BatchNorm {
  protected checkInput(x: Tensor): void {
    if (x.ndim !== 4) throw new RangeError(`BatchNorm2d: expected 4D input, got ${x.ndim}D input`);
  }
}
