// simclr/nn: PyTorch-style modules over simclr/torch.
export {
  Module,
  parameter,
  type AnyModule,
  type Parameter,
  type LoadStateDictOptions,
  type LoadStateDictResult,
} from './module.js';
export { Conv2d, type Conv2dOptions, type IntOrPair } from './conv.js';
export { Linear, type LinearOptions } from './linear.js';
export { BatchNorm1d, BatchNorm2d, type BatchNormOptions } from './batchnorm.js';
export { ReLU } from './activation.js';
export { Identity, Flatten } from './shape.js';
export { Sequential } from './container.js';
export * as init from './init.js';
