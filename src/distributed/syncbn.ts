// Synchronised (global) batch normalisation: batch statistics over the samples of every rank.
//
// Why it matters for SimCLR (Chen et al. 2020, section 2.2 "Global BN"): with data parallelism, per-device BN
// computes mean and variance over each device's samples only. The two views of an image and the negatives it is
// contrasted with sit on the same device, so the network can exploit the local statistics, which leak which samples
// share a device, to raise the contrastive prediction accuracy without learning better representations. The paper
// therefore aggregates BN mean and variance over all devices during training; MoCo's shuffled BN answers the same leak.
//
// The statistics and the matching backward are native (torch.distributed.syncBatchNorm): forward all-gathers each
// rank's (mean, variance, count), backward all-reduces the per-channel sums the input gradient needs, so every rank's
// gradients equal those of one process normalising the whole global batch.
import * as torch from '../torch/index.js';
import { BatchNorm1d, BatchNorm2d, type AnyModule } from '../nn/index.js';
import { guardCollective } from './env.js';

type Tensor = torch.Tensor;
type BatchNorm = BatchNorm1d | BatchNorm2d;

function checkInput(bn: BatchNorm, x: Tensor): void {
  const name = bn.constructor.name;
  if (bn instanceof BatchNorm2d ? x.ndim !== 4 : x.ndim !== 2 && x.ndim !== 3) {
    throw new RangeError(
      `${name}: expected ${bn instanceof BatchNorm2d ? '4D' : '2D or 3D'} input, got ${x.ndim}D input`,
    );
  }
  if (x.shape[1] !== bn.numFeatures)
    throw new RangeError(`${name}: expected ${bn.numFeatures} channels, got ${x.shape[1]}`);
}

/**
 * bn's training-mode forward with statistics over all ranks of the group: normalises x with the global batch mean and
 * (biased) variance, and updates bn's running statistics with the global mean and unbiased variance, as one process
 * holding every rank's samples would. Ranks may hold different numbers of samples.
 */
export function syncBatchNorm(bn: BatchNorm, x: Tensor, group: torch.distributed.ProcessGroup): Tensor {
  checkInput(bn, x);
  let factor = bn.momentum ?? 0;
  const tracked = bn.numBatchesTracked;
  if (tracked !== null) {
    torch.noGrad(() => tracked.add_(1));
    // momentum null: a cumulative average over all batches, as torch.nn.BatchNorm.
    if (bn.momentum === null) factor = 1 / tracked.item();
  }
  return guardCollective('synchronising BatchNorm statistics', () =>
    torch.distributed.syncBatchNorm(x, group, {
      weight: bn.weight,
      bias: bn.bias,
      runningMean: bn.runningMean,
      runningVar: bn.runningVar,
      momentum: factor,
      eps: bn.eps,
    }),
  );
}

/**
 * Switches every BatchNorm layer of a model to global statistics over the group while training (eval mode keeps
 * using the running statistics, as before). Models keep direct references to their layers, so each layer's forward
 * is replaced in place rather than the layer swapped for another module; parameters, buffers and state-dict names
 * stay the same. Returns the number of layers converted.
 */
export function convertSyncBatchNorm(model: AnyModule, group: torch.distributed.ProcessGroup): number {
  let converted = 0;
  for (const m of model.modules()) {
    if (!(m instanceof BatchNorm1d || m instanceof BatchNorm2d)) continue;
    const local = m.forward.bind(m);
    m.forward = (x: Tensor): Tensor => (m.training || m.runningMean === null ? syncBatchNorm(m, x, group) : local(x));
    converted++;
  }
  return converted;
}
