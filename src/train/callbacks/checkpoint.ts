// Checkpoints at each epoch's end, every --checkpoint-steps steps, at the last step and when the run is stopped.
// Rank 0 writes them; a checkpoint holding NaN or infinite weights is refused as a divergence.
import type { Optimizer, GroupOptions } from '../../optim/index.js';
import type { SimCLRModel } from '../../models/simclr.js';
import { NonFiniteStateError, saveCheckpoint, type RunPaths } from '../../run/folder.js';
import { DivergenceError } from '../../errors.js';
import type { Callback, StepEnd } from '../loop.js';

export interface CheckpointerOptions {
  isMain: boolean;
  paths: RunPaths;
  model: SimCLRModel;
  optimizer: Optimizer<GroupOptions>;
  stepsPerEpoch: number;
  device: string;
  /** 0: only at epoch ends, the last step and a stop. */
  everySteps: number;
  /** The metrics log's complete rows, recorded so that a resume keeps exactly those. */
  metricsRows: () => number;
  onCheckpoint?: (path: string, step: number) => void;
  /** What to try after a divergence, for its message (src/loss divergenceAdvice). */
  divergenceAdvice: string;
}

export class Checkpointer implements Callback {
  /**
   * @param savedStep the step of the checkpoint on disk that this run resumed from; null while there is none (a new
   *   run, or a renumbered resume whose checkpoint counts steps the old way)
   */
  constructor(
    private readonly o: CheckpointerOptions,
    public savedStep: number | null,
  ) {}

  onStepSettled(s: StepEnd, interrupted: boolean): void {
    const every = this.o.everySteps;
    if (s.epochEnd || s.step === s.lastStep || interrupted || (every > 0 && s.step % every === 0)) this.save(s.step);
  }

  /**
   * Writes the checkpoint of `step` (rank 0; other ranks only note it).
   * @throws DivergenceError for non-finite state
   */
  save(step: number): void {
    const { isMain, paths, model, optimizer, stepsPerEpoch, device } = this.o;
    if (!isMain) {
      this.savedStep = step; // rank 0 writes it
      return;
    }
    const epoch = Math.floor(step / stepsPerEpoch);
    const state = optimizer.stateDict();
    try {
      saveCheckpoint(
        paths.checkpoint,
        model,
        state,
        { step, epoch, stepInEpoch: step - epoch * stepsPerEpoch, stepsPerEpoch, metricsRows: this.o.metricsRows() },
        device,
      );
    } catch (e) {
      // The loss can still be finite when the update after it made the weights infinite.
      if (e instanceof NonFiniteStateError)
        throw new DivergenceError(
          `the model diverged at step ${step} (epoch ${epoch + 1}): ${e.message}; the run stopped and ` +
            `${this.kept()}. ${this.o.divergenceAdvice}`,
        );
      throw e;
    } finally {
      for (const t of Object.values(state.tensors)) t.dispose();
    }
    this.savedStep = step;
    this.o.onCheckpoint?.(paths.checkpoint, step);
  }

  /** What a divergence leaves behind, naming only a checkpoint that exists. */
  kept(): string {
    return this.savedStep === null
      ? 'no checkpoint was written (none had been saved yet)'
      : `the last good checkpoint (${this.o.paths.checkpoint}, step ${this.savedStep}) was kept`;
  }
}
