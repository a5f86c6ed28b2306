// Optimizers and learning-rate schedules for SimCLR pre-training and evaluation.
import type { Tensor } from '../torch/index.js';
import type { Optimizer, GroupOptions } from './optimizer.js';
import { SGD } from './sgd.js';
import { AdamW } from './adamw.js';
import { LARS, larsParamGroups } from './lars.js';

export {
  Optimizer,
  type GroupOptions,
  type OptionValue,
  type ParamGroup,
  type ParamGroupSpec,
  type ParamState,
  type OptimizerStateDict,
  type OptimizerStateMeta,
} from './optimizer.js';
export { SGD, type SgdOptions } from './sgd.js';
export { AdamW, type AdamWOptions } from './adamw.js';
export { LARS, LARS_DEFAULTS, larsParamGroups, isBiasOrNorm, type LarsOptions, type LarsGroupOptions } from './lars.js';
export {
  learningRate,
  scaledLearningRate,
  stepPlan,
  DEFAULT_BASE_LR,
  DEFAULT_WARMUP_EPOCHS,
  type LrScaling,
  type ScheduleOptions,
  type StepPlan,
} from './schedule.js';

/** What a pretraining config tells every optimizer: the peak learning rate (a schedule rewrites lr) and weight decay.
 */
export interface OptimizerSettings {
  lr: number;
  weightDecay: number;
}

export interface OptimizerEntry {
  /** One line for help texts. */
  summary: string;
  /** An optimizer over a model's named parameters (namedParameters(), in order: the order checkpoints index them by).
   */
  create(named: readonly (readonly [string, Tensor])[], settings: OptimizerSettings): Optimizer<GroupOptions>;
}

// Each algorithm's own option type widened to the base's: pretraining only sets lr and reads weightDecay.
const widen = <O extends GroupOptions>(o: Optimizer<O>): Optimizer<GroupOptions> =>
  o as unknown as Optimizer<GroupOptions>;

/**
 * Name -> pretraining optimizer. The first is the default. A new one is one file with an Optimizer subclass and one
 * line here; the config's `optimizer` option, its validation and the CLI's --optimizer choices read the names from
 * here.
 */
export const OPTIMIZERS = {
  lars: {
    summary:
      'LARS as the paper (momentum 0.9, trust coefficient 0.001; biases and BN parameters excluded from weight ' +
      'decay and adaptation)',
    create: (named, { lr, weightDecay }) => widen(new LARS(larsParamGroups(named, { weightDecay }), { lr })),
  },
  sgd: {
    summary: 'SGD with momentum 0.9',
    create: (named, { lr, weightDecay }) =>
      widen(
        new SGD(
          named.map(([, p]) => p),
          { lr, momentum: 0.9, weightDecay },
        ),
      ),
  },
  adamw: {
    summary: "AdamW (PyTorch's betas and epsilon)",
    create: (named, { lr, weightDecay }) =>
      widen(
        new AdamW(
          named.map(([, p]) => p),
          { lr, weightDecay },
        ),
      ),
  },
} as const satisfies Record<string, OptimizerEntry>;

export type OptimizerName = keyof typeof OPTIMIZERS;
/** The registered names, in OPTIMIZERS' order. */
export const OPTIMIZER_NAMES = Object.keys(OPTIMIZERS) as OptimizerName[];
