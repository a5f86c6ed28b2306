// The SimCLR network: encoder f (x -> h) followed by projection head g (h -> z).
import type * as torch from '../torch/index.js';
import { Module } from '../nn/index.js';
import { ProjectionHead, type ProjectionHeadOptions } from './heads.js';

type Tensor = torch.Tensor;

/**
 * The encoder f as training, evaluation, export and ONNX use it: forward(x float32 [N, C, H, W] in [0, 1]) returns
 * the features h [N, featureDim]; as a Module it has the state dict (weights and BN statistics) checkpoints and
 * exports store. ResNet is one; BACKBONES (src/models/index.ts) names them. Exporters that need to know the layer
 * structure (eval/export.ts, eval/onnx.ts) refuse other encoders with a message saying so.
 */
export interface Encoder extends Module<Tensor, Tensor> {
  /** Size of h. */
  readonly featureDim: number;
}

export interface SimCLROutput {
  /** Encoder features [N, featureDim], the representation used downstream. */
  h: Tensor;
  /** Projections [N, head output size], the input of the contrastive loss. */
  z: Tensor;
}

/** Registered as 'encoder' and 'head', so state-dict names read e.g. 'encoder.layer1.0.conv1.weight', 'head.0.weight'.
 */
export class SimCLRModel extends Module<Tensor, SimCLROutput> {
  readonly encoder: Encoder;
  readonly head: Module<Tensor, Tensor>;

  /** head: a module taking [N, featureDim], or options for a ProjectionHead over the encoder's featureDim. */
  constructor(encoder: Encoder, head: Module<Tensor, Tensor> | ProjectionHeadOptions = {}) {
    super();
    this.encoder = this.registerModule('encoder', encoder);
    this.head = this.registerModule(
      'head',
      head instanceof Module ? head : new ProjectionHead(encoder.featureDim, head),
    );
  }

  forward(x: Tensor): SimCLROutput {
    const h = this.encoder.call(x);
    return { h, z: this.head.call(h) };
  }
}
