// The training loop: steps from `first` to `lastStep`, each one trainStep (src/train/step.ts) on a prepared batch,
// then the callbacks (progress and metrics, the kNN monitor, checkpoints; src/train/callbacks/) and the stop
// agreement. Like Lightning's Trainer, what happens around a step is a callback, not a branch of the loop.
import { DivergenceError } from '../errors.js';
import type { BatchSource, PreparedBatch } from './batches.js';
import { trainStep, type StepInputs } from './step.js';

/**
 * Seconds per phase of one step. On the CPU every libtorch op returns when its work is done, so consecutive
 * wall-clock marks split the step exactly: data (reading the batch's pixels), augment (both views, batched),
 * forward, loss, backward, optimizer. On CUDA the ops only queue work: the phases are the host's time to queue
 * them (data and augment were spent while the previous step computed), and `wait` is the time the host then waited
 * for the GPU to finish the step (near 0: the GPU is starved).
 */
export interface StepPhases {
  data: number;
  augment: number;
  forward: number;
  loss: number;
  backward: number;
  optimizer: number;
  /**
   * Time reading the step's loss back waited for the device: ~0 on the CPU; on a GPU, what was left of the step once
   * the host had queued it and prepared the next batch (near 0 means the host, not the GPU, sets the pace).
   */
  wait?: number;
}

/** A finished step, as the callbacks see it. */
export interface StepEnd {
  /** Steps done, this one included. */
  step: number;
  /** 0-based epoch of the step. */
  epoch: number;
  lastStep: number;
  /** The step ended an epoch. */
  epochEnd: boolean;
  loss: number;
  acc: number;
  lr: number;
  phases: StepPhases;
}

export interface Callback {
  /** After each step's metrics are read back (finite), before the stop agreement: progress, kNN, metrics. */
  onStepEnd?(s: StepEnd): void;
  /** Once the ranks agreed whether to stop (`interrupted`: a stop was asked for): checkpoints. */
  onStepSettled?(s: StepEnd, interrupted: boolean): void;
}

export interface LoopOptions {
  /** Steps already done, and the last step to do. */
  first: number;
  lastStep: number;
  stepsPerEpoch: number;
  batches: BatchSource;
  /**
   * Prepare step k+1's batch while step k computes: its reading and view parameters are host work, its upload and
   * views queue behind the step (CUDA). Each step's loss is then read back (the host waits for the step, not for
   * more), so the GPU idles only while the host queues the step's first kernels.
   */
  prefetch: boolean;
  lrAt: (step: number) => number;
  step: StepInputs;
  /** Polled once per step; true ends the run after that step (on every rank at once). */
  shouldStop?: () => boolean;
  callbacks: readonly Callback[];
  /** What a divergence leaves behind, for its message (the checkpointer knows). */
  kept: () => string;
  /** What to try after a divergence, for its message (the loss knows: src/loss divergenceAdvice). */
  divergenceAdvice: string;
}

export interface LoopResult {
  /** Steps done. */
  step: number;
  /** NaN when no step was done. */
  lastLoss: number;
  interrupted: boolean;
}

/** @throws DivergenceError when a step's loss is NaN or infinite */
export function runLoop(o: LoopOptions): LoopResult {
  const { lastStep, stepsPerEpoch, step: inputs } = o;
  const dist = inputs.dist;
  let step = o.first;
  let lastLoss = NaN;
  let next: PreparedBatch | null = null;
  try {
    while (step < lastStep) {
      const cur = next ?? o.batches.prepare(step);
      next = null;
      const epoch = cur.epoch;
      const lr = o.lrAt(step);
      inputs.optimizer.lr = lr;
      // Distributed: a stop request travels with the step's metrics, and takes effect after this step.
      const wantStop = dist !== null && o.shouldStop?.() === true;
      let out: ReturnType<typeof trainStep>;
      try {
        out = trainStep(inputs, cur.x, wantStop);
      } finally {
        cur.x.dispose();
      }
      step++;
      if (o.prefetch && step < lastStep) next = o.batches.prepare(step);

      const waitStart = process.hrtime.bigint();
      const values = out.stats.toArray() as Float32Array; // on a GPU, waits for this step (and the next views)
      out.stats.dispose();
      const wait = Number(process.hrtime.bigint() - waitStart) / 1e9;
      const [loss, acc] = [values[0]!, values[1]!];
      if (!Number.isFinite(loss)) {
        throw new DivergenceError(
          `loss is ${loss} at step ${step} (epoch ${epoch + 1}); ` +
            `the run stopped and ${o.kept()}. ${o.divergenceAdvice}`,
        );
      }
      lastLoss = loss;
      const end: StepEnd = {
        step,
        epoch,
        lastStep,
        epochEnd: step % stepsPerEpoch === 0,
        loss,
        acc,
        lr,
        phases: { data: cur.data, augment: cur.augment, ...out.seconds, wait },
      };
      for (const c of o.callbacks) c.onStepEnd?.(end);
      // Every rank must stop at the same step, or the others would wait for it in the next collective.
      const interrupted = dist === null ? o.shouldStop?.() === true : values[2]! > 0;
      for (const c of o.callbacks) c.onStepSettled?.(end, interrupted);
      if (interrupted && step < lastStep) return { step, lastLoss, interrupted: true };
    }
    return { step, lastLoss, interrupted: false };
  } finally {
    next?.x.dispose();
  }
}
