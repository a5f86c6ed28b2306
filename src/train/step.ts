// One SimCLR optimisation step as a function: views -> model -> loss -> backward -> optimizer, returning the step's
// metrics as device tensors. No I/O and no bookkeeping (the loop, src/train/loop.ts, owns those), in the spirit of
// torch/optim's split between the functional update and the class that keeps the state.
import * as torch from '../torch/index.js';
import type { ContrastiveLoss } from '../loss/index.js';
import type { Optimizer, GroupOptions } from '../optim/index.js';
import type { SimCLRModel } from '../models/simclr.js';
import type { DistributedContext } from '../distributed/context.js';
import type { PretrainConfig } from '../run/config.js';

export interface StepInputs {
  model: SimCLRModel;
  loss: ContrastiveLoss;
  /** lr already set for this step. */
  optimizer: Optimizer<GroupOptions>;
  /** Data parallel: gathered negatives, averaged metrics and gradients; null on one process. */
  dist: DistributedContext | null;
  /** 'bf16': the forward pass under autocast on `device`'s type. */
  precision: PretrainConfig['precision'];
  device: string;
}

export interface StepOutput {
  /**
   * [loss, contrastive accuracy] as float32 on the device (averaged over ranks), plus, distributed, a stop flag > 0
   * when any rank asked to stop: read back once, so the host waits for the step only there.
   */
  stats: torch.Tensor;
  /** Host seconds spent queuing (CPU: computing) each phase. */
  seconds: { forward: number; loss: number; backward: number; optimizer: number };
}

/**
 * Runs one step on both views `x` (every first view before every second). `wantStop` travels with the metrics of a
 * distributed step (one all-reduce), so ranks agree on a stop with no collective of its own.
 */
export function trainStep(s: StepInputs, x: torch.Tensor, wantStop = false): StepOutput {
  const { model, optimizer, dist } = s;
  const marks: bigint[] = [process.hrtime.bigint()];
  const mark = (): void => {
    marks.push(process.hrtime.bigint());
  };
  const stats = torch.scope((): torch.Tensor => {
    dist?.beforeForward();
    const forward = (): torch.Tensor => model.call(x).z;
    const z = (
      s.precision === 'bf16' ? torch.autocast(torch.deviceType(s.device), 'bfloat16', forward) : forward()
    ).float();
    mark();
    const [z1, z2] = z.chunk(2);
    // Distributed: negatives from every rank's projections, and the loss and accuracy of the global batch.
    const gathered = dist?.gatherPairs(z1!, z2!);
    const r = s.loss(z1!, z2!, gathered);
    // Loss, accuracy (and the stop flag) stay on the device until the caller reads them back.
    const parts = [r.loss.detach(), r.contrastiveAccuracy];
    if (dist !== null) parts.push(r.contrastiveAccuracy.mul(0).add(wantStop ? 1 : 0));
    const both = torch.stack(parts).float();
    if (dist !== null) dist.averageInPlace(both);
    mark();
    optimizer.zeroGrad();
    if (dist === null) r.loss.backward();
    else dist.backward(r.loss);
    mark();
    optimizer.step();
    mark();
    return both.keep();
  });
  const sec = (i: number): number => Number(marks[i + 1]! - marks[i]!) / 1e9;
  return { stats, seconds: { forward: sec(0), loss: sec(1), backward: sec(2), optimizer: sec(3) } };
}
