// simclr/torch: a typed PyTorch-style tensor library for Node.js on libtorch.
export {
  Tensor,
  Slice,
  slice,
  type Index,
  type Scalar,
  type TensorOrScalar,
  type ToOptions,
  type BackwardOptions,
} from './tensor.js';
export { type DType, isFloatingPoint, elementSize } from './dtype.js';
export {
  tensor,
  scalarTensor,
  zeros,
  ones,
  full,
  empty,
  arange,
  linspace,
  eye,
  rand,
  randn,
  randint,
  randperm,
  zerosLike,
  onesLike,
  fullLike,
  emptyLike,
  randLike,
  randnLike,
  randintLike,
  type TensorOptions,
  type RandomOptions,
  type NestedArray,
} from './creation.js';
export { cat, stack, where, einsum, broadcastTensors, cdist } from './functions.js';
export { noGrad, enableGrad, setGradEnabled, isGradEnabled } from './autograd.js';
export * as autograd from './autograd.js';
export { Generator, manualSeed, defaultGenerator } from './random.js';
export { scope, keep } from './scope.js';
export {
  setNumThreads,
  getNumThreads,
  setNumInteropThreads,
  cuda,
  backends,
  type CudaDeviceProperties,
  type CudaDevice,
  version,
  config,
  parallelInfo,
  autocast,
  isAutocastEnabled,
  memoryStats,
} from './runtime.js';
export * as raw from './generated/ops.js';
export * as safetensors from './safetensors.js';
export { loadLibrary, customOp, builtLibraryPath } from './library.js';
export { collectEnv, cpuFeatures, type TorchEnv } from './env.js';
export {
  resolveDevice,
  deviceType,
  deviceName,
  cudaBuilt,
  DeviceError,
  type DeviceSpec,
  type ResolveDeviceOptions,
} from './device.js';
import * as functional from './functional.js';
export const nn = { functional };
export * as distributed from './distributed.js';
