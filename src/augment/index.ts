// The augmentation layer: per-view random parameters (rng, params), their batched application (apply, with the
// fused CPU and CUDA kernels in fused) and a PNG contact sheet of views (grid).
export { CounterRng, philox4x32, mulhi32 } from './rng.js';
export { type AugmentConfig, type ViewParams, defaultAugmentConfig, blurKernelSize, sampleViewParams } from './params.js';
export { type ApplyOptions, type ViewSeed, applyViews, createTwoViews, createViewBatch, identityViewParams } from './apply.js';
export { type FusedDevice, fusedKernelAvailable, fusedKernelDevices, fusedKernelError } from './fused.js';
export { type RawImage, tileRows, writeAugmentGrid } from './grid.js';
