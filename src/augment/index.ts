// The augmentation layer: ops (op.ts, one file each under ops/, named in registry.ts), pipelines of them
// (pipeline.ts; params.ts is the default pipeline's flat form), per-view random parameters from the keyed counter
// RNG (rng.ts), their batched application (apply, with the fused CPU and CUDA kernels in fused) and a PNG contact
// sheet of views (grid).
export { CounterRng, philox4x32, mulhi32 } from './rng.js';
export {
  type AugmentOp,
  type OptionSpec,
  type SampleContext,
  type ApplyContext,
  type StepParams,
  resolveOptions,
} from './op.js';
export { AUGMENTATIONS } from './registry.js';
export {
  type AugmentPipeline,
  type AugmentStepConfig,
  type PipelineParams,
  SHARED_VIEW,
  sharedPrefix,
  type PipelineStep,
  parseAugmentSteps,
  resolvePipeline,
  pipelineSteps,
  samplePipeline,
  identityPipelineParams,
  applyPipelineTensor,
} from './pipeline.js';
export {
  type AugmentConfig,
  type ViewParams,
  defaultAugmentConfig,
  blurKernelSize,
  sampleViewParams,
  configSteps,
  pipelineFromConfig,
} from './params.js';
export {
  type ApplyOptions,
  type Augmentation,
  type ViewSeed,
  type ViewAugmentations,
  viewPipelines,
  applyViews,
  applyIdentity,
  createTwoViews,
  createViewBatch,
  identityViewParams,
  toPipeline,
} from './apply.js';
export {
  type FusedDevice,
  FUSED_OPS,
  fusedCoverage,
  fusedKernelAvailable,
  fusedKernelDevices,
  fusedKernelError,
} from './fused.js';
export { type RawImage, tileRows, writeAugmentGrid } from './grid.js';
