// simclr/models: the SimCLR encoders (backbones), projection heads and the combined model, and the registries that
// name them. A new backbone is one file with a class implementing Encoder and one line in BACKBONES; the config's
// `arch` option, its validation and the CLI's --arch choices read the names from here.
import type * as torch from '../torch/index.js';
import { Identity, type Module } from '../nn/index.js';
import { resnet18, resnet34, resnet50, type Stem } from './resnet.js';
import { ProjectionHead, type ProjectionHeadKind } from './heads.js';
import type { Encoder } from './simclr.js';

export {
  ResNet,
  BasicBlock,
  Bottleneck,
  resnet18,
  resnet34,
  resnet50,
  defaultStem,
  stageChannels,
  type ResNetDepth,
  type ResNetOptions,
  type Stem,
} from './resnet.js';
export { ProjectionHead, type ProjectionHeadKind, type ProjectionHeadOptions } from './heads.js';
export { SimCLRModel, type Encoder, type SimCLROutput } from './simclr.js';

/** What a pretraining config tells every backbone (PretrainConfig's arch-independent encoder settings). */
export interface BackboneOptions {
  /** Channel multiplier (1 = the published widths). */
  width: number;
  /** Input stem, resolved: 'cifar' for small images, 'imagenet' otherwise (backbones without stems may ignore it). */
  stem: Stem;
  /** Channels of the input images (1 grayscale, 3 RGB). */
  inChannels: number;
  /** Draws the initial weights from this generator instead of the default one. */
  generator?: torch.Generator;
}

export interface BackboneEntry {
  /** One line for help texts. */
  summary: string;
  /** A freshly initialised encoder: forward(x float32 [N, inChannels, H, W]) is h [N, featureDim]. */
  create(opts: BackboneOptions): Encoder;
}

/** Name -> encoder. The first is the default. */
export const BACKBONES = {
  resnet18: {
    summary: 'ResNet-18, h of 512 x width (torchvision structure and parameter names)',
    create: (o: BackboneOptions): Encoder => resnet18(o),
  },
  resnet34: { summary: 'ResNet-34, h of 512 x width', create: (o: BackboneOptions): Encoder => resnet34(o) },
  resnet50: {
    summary: "ResNet-50, h of 2048 x width (the paper's encoder)",
    create: (o: BackboneOptions): Encoder => resnet50(o),
  },
} as const satisfies Record<string, BackboneEntry>;

export type BackboneName = keyof typeof BACKBONES;
/** The registered names, in BACKBONES' order. */
export const BACKBONE_NAMES = Object.keys(BACKBONES) as BackboneName[];

/** What a pretraining config tells every projection head. */
export interface HeadOptions {
  /** Linear layers, at least 1. */
  layers: number;
  /** Size of z. */
  outDim: number;
  generator?: torch.Generator;
}

export interface HeadEntry {
  summary: string;
  /** A head g: [N, inDim] -> [N, outDim]. */
  create(inDim: number, opts: HeadOptions): Module<torch.Tensor, torch.Tensor>;
}

const projectionHead =
  (kind: ProjectionHeadKind) =>
  (inDim: number, o: HeadOptions): ProjectionHead =>
    new ProjectionHead(inDim, { kind, ...o });

/** Name -> projection head: the ProjectionHeadKinds, and none (the paper's "no projection", Figure 8). */
export const HEADS = {
  mlp: { summary: "the paper's MLP: (Linear-ReLU) x (layers-1), then Linear", create: projectionHead('mlp') },
  mlpBn: { summary: "SimCLRv2's MLP: (Linear-BN-ReLU) x (layers-1), then Linear-BN", create: projectionHead('mlpBn') },
  none: { summary: 'no head: z = h, the loss sees the encoder features', create: (): Module => new Identity() },
} as const satisfies Record<ProjectionHeadKind | 'none', HeadEntry>;

export type HeadName = keyof typeof HEADS;
