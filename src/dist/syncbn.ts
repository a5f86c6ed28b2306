// Synchronised (global) batch normalisation: batch statistics over the samples of every rank.
//
// Why it matters for SimCLR (Chen et al. 2020, section 2.2 "Global BN"): with data parallelism, per-device BN
// computes mean and variance over each device's samples only. The two views of an image and the negatives it is
// contrasted with sit on the same device, so the network can exploit the local statistics, which leak which samples
// share a device, to raise the contrastive prediction accuracy without learning better representations. The paper
// therefore aggregates BN mean and variance over all devices during training; MoCo's shuffled BN answers the same leak.
//
// The layer is built from differentiable ops around a differentiable all-gather of per-rank (mean, variance, count),
// so autograd derives the matching backward: the gradient reaching each rank's statistics is summed over every
// rank's loss, exactly as if one process had normalised the whole global batch.
import * as torch from '../torch/index.js';
import { BatchNorm1d, BatchNorm2d, type AnyModule } from '../nn/index.js';
import { guardCollective } from './env.js';

type Tensor = torch.Tensor;
type BatchNorm = BatchNorm1d | BatchNorm2d;

function reductionDims(bn: BatchNorm, x: Tensor): number[] {
  const name = bn.constructor.name;
  if (bn instanceof BatchNorm2d) {
    if (x.ndim !== 4) throw new RangeError(`${name}: expected 4D input, got ${x.ndim}D input`);
    return [0, 2, 3];
  }
  if (x.ndim !== 2 && x.ndim !== 3) throw new RangeError(`${name}: expected 2D or 3D input, got ${x.ndim}D input`);
  return x.ndim === 2 ? [0] : [0, 2];
}

/**
 * bn's training-mode forward with statistics over all ranks of the group: normalises x with the global batch mean and
 * (biased) variance, and updates bn's running statistics with the global mean and unbiased variance, as one process
 * holding every rank's samples would. Ranks may hold different numbers of samples.
 */
export function syncBatchNorm(bn: BatchNorm, x: Tensor, group: torch.distributed.ProcessGroup): Tensor {
  const dims = reductionDims(bn, x);
  const c = bn.numFeatures;
  if (x.shape[1] !== c) throw new RangeError(`${bn.constructor.name}: expected ${c} channels, got ${x.shape[1]}`);
  const shape = x.ndim === 2 ? [1, c] : x.ndim === 3 ? [1, c, 1] : [1, c, 1, 1];
  return torch.scope(() => {
    // Statistics in float32 even under autocast: a bfloat16 sum over a batch loses most of its digits.
    const xf = x.dtype === 'float32' || x.dtype === 'float64' ? x : x.float();
    const count = x.numel() / c;
    const [variance, mean] = torch.raw.var_mean$dim(xf, dims, false, false);
    const local = torch.stack([mean, variance, torch.full([c], count, { dtype: xf.dtype, device: x.device })]).unsqueeze(0);
    const all = guardCollective('synchronising BatchNorm statistics', () => torch.distributed.allGatherCat(local, group)); // [world, 3, C]
    const [means, variances, counts] = all.unbind(1) as [Tensor, Tensor, Tensor];
    const total = counts.sum(0);
    const globalMean = means.mul(counts).sum(0).div(total);
    // Chan et al.'s parallel variance: within-rank variance plus the spread of rank means around the global mean.
    const globalVar = variances.add(means.sub(globalMean).square()).mul(counts).sum(0).div(total);
    const invStd = globalVar.add(bn.eps).rsqrt();
    const weight = bn.weight;
    const bias = bn.bias;
    const scale = weight === null ? invStd : invStd.mul(weight);
    const shift = bias === null ? globalMean.mul(scale).neg() : bias.sub(globalMean.mul(scale));
    updateRunningStats(bn, globalMean, globalVar, total);
    const y = torch.raw.addcmul(shift.view(shape), xf, scale.view(shape));
    return y.dtype === x.dtype ? y : y.to(x.dtype);
  });
}

function updateRunningStats(bn: BatchNorm, mean: Tensor, variance: Tensor, total: Tensor): void {
  const runningMean = bn.runningMean;
  const runningVar = bn.runningVar;
  const tracked = bn.numBatchesTracked;
  if (runningMean === null || runningVar === null || tracked === null) return;
  torch.noGrad(() => {
    tracked.add_(1);
    const factor = bn.momentum ?? 1 / tracked.item();
    const n = total.max().item();
    // Running variance is unbiased, as torch.nn.BatchNorm's (n / (n - 1) Bessel correction over the global batch).
    const unbiased = variance.mul(n / Math.max(n - 1, 1));
    runningMean.mul_(1 - factor).add_(mean, factor);
    runningVar.mul_(1 - factor).add_(unbiased, factor);
  });
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
