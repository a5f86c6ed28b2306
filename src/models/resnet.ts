// ResNet-18/34/50 encoders with torchvision's structure and parameter names (conv1, bn1, layer1..4.N.*,
// downsample.0/1) and initialisation, minus the classifier: the output is h, the global-average-pooled features.
// Additions for SimCLR: a width multiplier, a CIFAR stem for small images and a configurable input channel count.
import * as torch from '../torch/index.js';
import { Module, Conv2d, BatchNorm2d, Sequential, init } from '../nn/index.js';

type Tensor = torch.Tensor;

export type ResNetDepth = 18 | 34 | 50;
/** 'imagenet': 7x7 stride-2 conv then 3x3 stride-2 max-pool; 'cifar': 3x3 stride-1 conv and no pooling. */
export type Stem = 'imagenet' | 'cifar';

/** The stem for square images of this side: 'cifar' up to 32 px (as in the SimCLR paper's CIFAR-10 runs), else
 * 'imagenet'. */
export function defaultStem(imageSize: number): Stem {
  if (!(imageSize > 0)) throw new RangeError(`defaultStem: imageSize must be positive, got ${imageSize}`);
  return imageSize <= 32 ? 'cifar' : 'imagenet';
}

export interface ResNetOptions {
  /** Channel multiplier, fractional allowed (default 1); see stageChannels(). */
  width?: number;
  /** Overrides the stem; otherwise defaultStem(imageSize), or 'imagenet' without an imageSize (torchvision's). */
  stem?: Stem;
  /** Side of the (square) training images; only used to pick the stem. */
  imageSize?: number;
  /** Input image channels (default 3; 1 for grayscale). */
  inChannels?: number;
  /** Start each residual block's last BN scale at 0, so every block begins as the identity (default false). */
  zeroInitResidual?: boolean;
  /** Draws the initial weights from this generator instead of the default one. */
  generator?: torch.Generator;
}

const BASE_CHANNELS = [64, 128, 256, 512] as const;

/**
 * The block widths of the four stages for a width multiplier: Math.round(c * width) for c = 64, 128, 256, 512
 * (halves round up), at least 1. Bottleneck stages output 4x these; the stem outputs the first.
 */
export function stageChannels(width: number): [number, number, number, number] {
  if (!(width > 0) || !Number.isFinite(width))
    throw new RangeError(`ResNet width must be a positive number, got ${width}`);
  const [a, b, c, d] = BASE_CHANNELS.map((ch) => Math.max(1, Math.round(ch * width)));
  return [a!, b!, c!, d!];
}

/** A residual block: forward(x) = relu(body(x) + shortcut(x)). */
abstract class ResidualBlock extends Module {
  /** The BN whose scale zeroInitResidual zeroes (the last of the body). */
  abstract readonly lastBn: BatchNorm2d;
}

function shortcut(inPlanes: number, outPlanes: number, stride: number, generator?: torch.Generator): Sequential | null {
  if (stride === 1 && inPlanes === outPlanes) return null;
  return new Sequential(
    new Conv2d(inPlanes, outPlanes, 1, { stride, bias: false, generator }),
    new BatchNorm2d(outPlanes),
  );
}

// Owns a and returns bn(a) with ReLU applied in place, releasing a (the BN output is not saved for backward).
function bnRelu(bn: BatchNorm2d, a: Tensor): Tensor {
  const out = bn.call(a);
  a.dispose();
  return out.relu_();
}

// Adds the shortcut in place and applies the final ReLU, as torchvision does.
function addShortcut(out: Tensor, x: Tensor, downsample: Sequential | null): Tensor {
  if (downsample === null) return out.add_(x).relu_();
  const identity = downsample.call(x);
  out.add_(identity);
  identity.dispose();
  return out.relu_();
}

/** Two 3x3 convolutions (ResNet-18/34). */
export class BasicBlock extends ResidualBlock {
  static readonly expansion = 1;
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm2d;
  private readonly conv2: Conv2d;
  private readonly bn2: BatchNorm2d;
  private readonly downsample: Sequential | null;

  constructor(inPlanes: number, planes: number, stride: number, generator?: torch.Generator) {
    super();
    this.conv1 = this.registerModule(
      'conv1',
      new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false, generator }),
    );
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { padding: 1, bias: false, generator }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    const ds = shortcut(inPlanes, planes, stride, generator);
    this.downsample = ds === null ? null : this.registerModule('downsample', ds);
  }

  get lastBn(): BatchNorm2d {
    return this.bn2;
  }

  forward(x: Tensor): Tensor {
    const a = bnRelu(this.bn1, this.conv1.call(x));
    const b = this.conv2.call(a);
    a.dispose();
    const out = this.bn2.call(b);
    b.dispose();
    return addShortcut(out, x, this.downsample);
  }
}

/** 1x1 reduce, 3x3 (carrying the stride, as torchvision's "ResNet v1.5"), 1x1 expand by 4 (ResNet-50). */
export class Bottleneck extends ResidualBlock {
  static readonly expansion = 4;
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm2d;
  private readonly conv2: Conv2d;
  private readonly bn2: BatchNorm2d;
  private readonly conv3: Conv2d;
  private readonly bn3: BatchNorm2d;
  private readonly downsample: Sequential | null;

  constructor(inPlanes: number, planes: number, stride: number, generator?: torch.Generator) {
    super();
    const outPlanes = planes * Bottleneck.expansion;
    this.conv1 = this.registerModule('conv1', new Conv2d(inPlanes, planes, 1, { bias: false, generator }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule(
      'conv2',
      new Conv2d(planes, planes, 3, { stride, padding: 1, bias: false, generator }),
    );
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.conv3 = this.registerModule('conv3', new Conv2d(planes, outPlanes, 1, { bias: false, generator }));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(outPlanes));
    const ds = shortcut(inPlanes, outPlanes, stride, generator);
    this.downsample = ds === null ? null : this.registerModule('downsample', ds);
  }

  get lastBn(): BatchNorm2d {
    return this.bn3;
  }

  forward(x: Tensor): Tensor {
    const a = bnRelu(this.bn1, this.conv1.call(x));
    const b = bnRelu(this.bn2, this.conv2.call(a));
    a.dispose();
    const c = this.conv3.call(b);
    b.dispose();
    const out = this.bn3.call(c);
    c.dispose();
    return addShortcut(out, x, this.downsample);
  }
}

const LAYOUT: Record<
  ResNetDepth,
  { block: typeof BasicBlock | typeof Bottleneck; blocks: [number, number, number, number] }
> = {
  18: { block: BasicBlock, blocks: [2, 2, 2, 2] },
  34: { block: BasicBlock, blocks: [3, 4, 6, 3] },
  50: { block: Bottleneck, blocks: [3, 4, 6, 3] },
};

/** The encoder: forward(x [N, inChannels, H, W]) returns h [N, featureDim]. */
export class ResNet extends Module {
  readonly depth: ResNetDepth;
  readonly width: number;
  readonly stem: Stem;
  readonly inChannels: number;
  /** Block widths of the four stages (see stageChannels()). */
  readonly stageChannels: [number, number, number, number];
  /** Size of h: the last stage's block width times the block expansion (1 basic, 4 bottleneck). */
  readonly featureDim: number;
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm2d;
  private readonly stages: Sequential[] = [];

  constructor(depth: ResNetDepth, opts: ResNetOptions = {}) {
    super();
    const layout = LAYOUT[depth];
    if (layout === undefined) throw new RangeError(`ResNet depth must be 18, 34 or 50, got ${String(depth)}`);
    const { width = 1, inChannels = 3, zeroInitResidual = false, generator } = opts;
    if (!Number.isInteger(inChannels) || inChannels < 1)
      throw new RangeError(`ResNet inChannels must be a positive integer, got ${inChannels}`);
    this.depth = depth;
    this.width = width;
    this.stem = opts.stem ?? (opts.imageSize === undefined ? 'imagenet' : defaultStem(opts.imageSize));
    if (this.stem !== 'imagenet' && this.stem !== 'cifar')
      throw new TypeError(`ResNet stem must be 'imagenet' or 'cifar', got '${String(this.stem)}'`);
    this.inChannels = inChannels;
    this.stageChannels = stageChannels(width);
    const { block: Block, blocks } = layout;
    this.featureDim = this.stageChannels[3] * Block.expansion;

    const big = this.stem === 'imagenet';
    const stemOut = this.stageChannels[0];
    this.conv1 = this.registerModule(
      'conv1',
      new Conv2d(inChannels, stemOut, big ? 7 : 3, {
        stride: big ? 2 : 1,
        padding: big ? 3 : 1,
        bias: false,
        generator,
      }),
    );
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(stemOut));
    let inPlanes = stemOut;
    for (let s = 0; s < 4; s++) {
      const stage = new Sequential();
      for (let i = 0; i < blocks[s]!; i++) {
        stage.append(new Block(inPlanes, this.stageChannels[s]!, i === 0 && s > 0 ? 2 : 1, generator));
        inPlanes = this.stageChannels[s]! * Block.expansion;
      }
      this.stages.push(this.registerModule(`layer${s + 1}`, stage));
    }

    // torchvision's init; BatchNorm2d already starts at weight 1, bias 0.
    for (const m of this.modules()) {
      if (m instanceof Conv2d) init.kaimingNormal_(m.weight, { mode: 'fanOut', nonlinearity: 'relu', generator });
      else if (zeroInitResidual && m instanceof ResidualBlock) init.zeros_(m.lastBn.weight!);
    }
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.inChannels) {
      throw new RangeError(`ResNet: expected input [N, ${this.inChannels}, H, W], got [${x.shape.join(', ')}]`);
    }
    let out = bnRelu(this.bn1, this.conv1.call(x));
    if (this.stem === 'imagenet') {
      const pooled = torch.nn.functional.maxPool2d(out, 3, { stride: 2, padding: 1 });
      out.dispose();
      out = pooled;
    }
    for (const stage of this.stages) {
      const next = stage.call(out);
      out.dispose();
      out = next;
    }
    const pooled = torch.nn.functional.adaptiveAvgPool2d(out, 1);
    out.dispose();
    const h = pooled.flatten(1);
    pooled.dispose();
    return h;
  }
}

export function resnet18(opts: ResNetOptions = {}): ResNet {
  return new ResNet(18, opts);
}
export function resnet34(opts: ResNetOptions = {}): ResNet {
  return new ResNet(34, opts);
}
export function resnet50(opts: ResNetOptions = {}): ResNet {
  return new ResNet(50, opts);
}
