// SimCLR's learning-rate rules: batch-size scaling, linear warm-up, then cosine decay to zero without restarts.

export type LrScaling = 'linear' | 'sqrt';

/** The paper's base rates: 0.3 x batch/256 (linear), 0.075 x sqrt(batch) (sqrt, better for small batches). */
export const DEFAULT_BASE_LR: Readonly<Record<LrScaling, number>> = { linear: 0.3, sqrt: 0.075 };

/** The paper's warm-up, chosen for runs of 100 epochs and more. */
export const DEFAULT_WARMUP_EPOCHS = 10;

/** Peak learning rate for a batch size: baseLr*batch/256 ('linear') or baseLr*sqrt(batch) ('sqrt'). */
export function scaledLearningRate(batchSize: number, opts: { scaling?: LrScaling; baseLr?: number } = {}): number {
  const scaling = opts.scaling ?? 'linear';
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  const base = opts.baseLr ?? DEFAULT_BASE_LR[scaling];
  if (base === undefined) throw new TypeError(`unknown learning-rate scaling '${String(scaling)}'`);
  return scaling === 'linear' ? (base * batchSize) / 256 : base * Math.sqrt(batchSize);
}

export interface ScheduleOptions {
  /** The peak rate, reached at the end of warm-up (usually scaledLearningRate's result). */
  baseLr: number;
  warmupSteps: number;
  totalSteps: number;
}

/**
 * The rate for the update made after `step` completed steps (0-based, as TensorFlow's global_step):
 * baseLr*step/warmupSteps during warm-up (so the very first update has rate 0, as in google-research/simclr),
 * then baseLr*(1+cos(pi*(step-warmup)/(total-warmup)))/2, which reaches 0 at totalSteps and stays there.
 */
export function learningRate(step: number, opts: ScheduleOptions): number {
  const { baseLr, warmupSteps, totalSteps } = opts;
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`step must be a non-negative integer, got ${step}`);
  if (!Number.isInteger(warmupSteps) || !Number.isInteger(totalSteps) || warmupSteps < 0 || totalSteps < warmupSteps) {
    throw new RangeError(`need integers 0 <= warmupSteps <= totalSteps, got ${warmupSteps} and ${totalSteps}`);
  }
  if (step < warmupSteps) return (baseLr * step) / warmupSteps;
  if (step >= totalSteps) return 0;
  const progress = (step - warmupSteps) / (totalSteps - warmupSteps);
  return 0.5 * baseLr * (1 + Math.cos(Math.PI * progress));
}

export interface StepPlan {
  warmupSteps: number;
  totalSteps: number;
}

/**
 * Step counts for a run. Without an explicit warmupEpochs the warm-up is min(10, epochs/10): the paper's 10
 * epochs are 10% of its shortest (100-epoch) schedule, and keeping that 10% share stops a short run from
 * spending most of its steps warming up. An explicit warmupEpochs is honoured, capped at the run length.
 */
export function stepPlan(opts: { epochs: number; stepsPerEpoch: number; warmupEpochs?: number }): StepPlan {
  const { epochs, stepsPerEpoch } = opts;
  if (!(epochs > 0) || !Number.isInteger(stepsPerEpoch) || stepsPerEpoch < 1) {
    throw new RangeError(`need epochs > 0 and a positive integer stepsPerEpoch, got ${epochs} and ${stepsPerEpoch}`);
  }
  const warmupEpochs = opts.warmupEpochs ?? Math.min(DEFAULT_WARMUP_EPOCHS, epochs / 10);
  if (!(warmupEpochs >= 0)) throw new RangeError(`warmupEpochs must be >= 0, got ${warmupEpochs}`);
  const totalSteps = Math.round(epochs * stepsPerEpoch);
  return { warmupSteps: Math.min(totalSteps, Math.round(warmupEpochs * stepsPerEpoch)), totalSteps };
}
