// simclr/models: the SimCLR encoder, projection heads and the combined model.
export {
  ResNet, BasicBlock, Bottleneck, resnet18, resnet34, resnet50, defaultStem, stageChannels,
  type ResNetDepth, type ResNetOptions, type Stem,
} from './resnet.js';
export { ProjectionHead, type ProjectionHeadKind, type ProjectionHeadOptions } from './heads.js';
export { SimCLRModel, type Encoder, type SimCLROutput } from './simclr.js';
