// Projection heads g(h) -> z for the contrastive loss: SimCLR's MLP and SimCLRv2's deeper MLP with BatchNorm.
import type * as torch from '../torch/index.js';
import { Linear, BatchNorm1d, ReLU, Sequential } from '../nn/index.js';

/**
 * 'mlp': SimCLR (Chen et al. 2020): (Linear-ReLU) x (layers-1), then Linear; biases on.
 * 'mlpBn': SimCLRv2: (Linear(bias=false)-BN-ReLU) x (layers-1), then Linear(bias=false)-BN without ReLU.
 * (SimCLRv2's last BN has no shift; this one has PyTorch's usual affine shift, which starts at 0.)
 */
export type ProjectionHeadKind = 'mlp' | 'mlpBn';

export interface ProjectionHeadOptions {
  /** Default 'mlp'. */
  kind?: ProjectionHeadKind;
  /** Number of Linear layers, at least 1; default 2 for 'mlp' (the paper's) and 3 for 'mlpBn' (SimCLRv2's). */
  layers?: number;
  /** Width of the hidden layers; default the input size (the encoder's featureDim). */
  hiddenDim?: number;
  /** Size of z; default 128. */
  outDim?: number;
  /** Draws the initial weights from this generator instead of the default one. */
  generator?: torch.Generator;
}

/** A Sequential whose children follow the kind's pattern, named '0', '1', ... as in PyTorch. */
export class ProjectionHead extends Sequential {
  readonly kind: ProjectionHeadKind;
  readonly inDim: number;
  readonly hiddenDim: number;
  readonly outDim: number;
  readonly numLayers: number;

  constructor(inDim: number, opts: ProjectionHeadOptions = {}) {
    super();
    const { kind = 'mlp', hiddenDim = inDim, outDim = 128, generator } = opts;
    if (kind !== 'mlp' && kind !== 'mlpBn')
      throw new TypeError(`projection head kind must be 'mlp' or 'mlpBn', got '${String(kind)}'`);
    const layers = opts.layers ?? (kind === 'mlp' ? 2 : 3);
    if (!Number.isInteger(layers) || layers < 1)
      throw new RangeError(`projection head layers must be a positive integer, got ${layers}`);
    this.kind = kind;
    this.inDim = inDim;
    this.hiddenDim = hiddenDim;
    this.outDim = outDim;
    this.numLayers = layers;
    const bias = kind === 'mlp';
    for (let i = 0; i < layers; i++) {
      const last = i === layers - 1;
      const size = last ? outDim : hiddenDim;
      this.append(new Linear(i === 0 ? inDim : hiddenDim, size, { bias, generator }));
      if (kind === 'mlpBn') this.append(new BatchNorm1d(size));
      if (!last) this.append(new ReLU());
    }
  }
}
