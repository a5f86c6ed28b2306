// simclr: SimCLR contrastive self-supervised learning for Node.js on libtorch.
// The tensor library is also published alone as 'simclr/torch'.
export * as torch from './torch/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as augment from './augment/index.js';
export * as models from './models/index.js';
export * as data from './data/spec.js';
export * as evaluation from './eval/index.js';
export * as loss from './loss/index.js';
export {
  ntXentLoss,
  ntXentWithAccuracy,
  DEFAULT_TEMPERATURE,
  type NtXentOptions,
  type NtXentResult,
} from './loss/ntxent.js';
export {
  pretrain,
  DivergenceError,
  type MetricsRow,
  type PretrainHooks,
  type PretrainResult,
  type Progress,
} from './train/pretrain.js';
export { pretrainInBackground } from './train/background.js';
export {
  resolveConfig,
  DEFAULT_CONFIG,
  ConfigError,
  presetContext,
  type PretrainConfig,
  type PretrainOptions,
} from './run/config.js';
export {
  PRESETS,
  PRESET_NAMES,
  PRESET_KEYS,
  applyPreset,
  describeSettings,
  type PresetName,
  type PresetSettings,
} from './run/presets.js';
export { loadRunModel, readRunConfig, buildModel, buildEncoder } from './run/folder.js';
