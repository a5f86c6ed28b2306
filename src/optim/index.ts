// Optimizers and learning-rate schedules for SimCLR pre-training and evaluation.
export { Optimizer, type GroupOptions, type OptionValue, type ParamGroup, type ParamGroupSpec, type ParamState, type OptimizerStateDict, type OptimizerStateMeta } from './optimizer.js';
export { SGD, type SgdOptions } from './sgd.js';
export { AdamW, type AdamWOptions } from './adamw.js';
export { LARS, LARS_DEFAULTS, larsParamGroups, isBiasOrNorm, type LarsOptions, type LarsGroupOptions } from './lars.js';
export {
  learningRate, scaledLearningRate, stepPlan, DEFAULT_BASE_LR, DEFAULT_WARMUP_EPOCHS, type LrScaling, type ScheduleOptions, type StepPlan,
} from './schedule.js';
