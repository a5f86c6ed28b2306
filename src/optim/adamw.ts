// Adam with decoupled weight decay, as torch.optim.AdamW (multi-tensor form).
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { Optimizer, type GroupOptions, type ParamGroup, type ParamGroupSpec, type ParamState } from './optimizer.js';

export interface AdamWOptions extends GroupOptions {
  betas: readonly [number, number];
  eps: number;
}

const {
  _foreach_add_$List,
  _foreach_add_$Scalar,
  _foreach_addcdiv_$Scalar,
  _foreach_addcmul_$Scalar,
  _foreach_div_$Scalar,
  _foreach_mul_$Scalar,
  _foreach_sqrt,
} = torch.raw;

/**
 * PyTorch's AdamW: w *= 1 - lr*weightDecay; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
 * w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps), with t counted per parameter (a parameter that had no
 * gradient in some step lags behind, as in PyTorch). Defaults are PyTorch's (lr 1e-3, weight decay 1e-2).
 */
export class AdamW extends Optimizer<AdamWOptions> {
  constructor(params: readonly Tensor[] | readonly ParamGroupSpec<AdamWOptions>[], opts: Partial<AdamWOptions> = {}) {
    super('AdamW', params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, ...opts });
  }

  protected override validate(g: ParamGroup<AdamWOptions>): void {
    if (!(g.lr >= 0)) throw new RangeError(`AdamW: invalid learning rate ${g.lr}`);
    if (!(g.eps >= 0)) throw new RangeError(`AdamW: invalid epsilon ${g.eps}`);
    if (g.betas.length !== 2 || !g.betas.every((b) => b >= 0 && b < 1))
      throw new RangeError(`AdamW: invalid betas [${g.betas.join(', ')}]`);
    if (!(g.weightDecay >= 0)) throw new RangeError(`AdamW: invalid weight decay ${g.weightDecay}`);
  }

  protected override updateGroup(
    g: ParamGroup<AdamWOptions>,
    params: Tensor[],
    grads: Tensor[],
    states: ParamState[],
  ): void {
    const [beta1, beta2] = g.betas;
    for (const [i, st] of states.entries()) {
      if (st.tensors.expAvg === undefined) {
        st.tensors.expAvg = torch.zerosLike(params[i]!).keep();
        st.tensors.expAvgSq = torch.zerosLike(params[i]!).keep();
        st.scalars.step = 0;
      }
      st.scalars.step! += 1;
    }
    const expAvg = states.map((st) => st.tensors.expAvg!);
    const expAvgSq = states.map((st) => st.tensors.expAvgSq!);
    // Multiplying by exactly 1 changes nothing, so skipping it keeps PyTorch's results bit for bit.
    if (g.weightDecay !== 0) _foreach_mul_$Scalar(params, 1 - g.lr * g.weightDecay);
    _foreach_mul_$Scalar(expAvg, beta1);
    _foreach_add_$List(expAvg, grads, 1 - beta1);
    _foreach_mul_$Scalar(expAvgSq, beta2);
    _foreach_addcmul_$Scalar(expAvgSq, grads, grads, 1 - beta2);
    // Bias corrections depend on the step count; parameters normally share one, so this is one bucket.
    const buckets = new Map<number, number[]>();
    for (const [i, st] of states.entries()) {
      const t = st.scalars.step!;
      const bucket = buckets.get(t);
      if (bucket === undefined) buckets.set(t, [i]);
      else bucket.push(i);
    }
    for (const [t, idx] of buckets) {
      const stepSize = g.lr / (1 - beta1 ** t);
      const denom = _foreach_sqrt(idx.map((i) => expAvgSq[i]!));
      _foreach_div_$Scalar(denom, Math.sqrt(1 - beta2 ** t));
      _foreach_add_$Scalar(denom, g.eps);
      _foreach_addcdiv_$Scalar(
        idx.map((i) => params[i]!),
        idx.map((i) => expAvg[i]!),
        denom,
        -stepSize,
      );
    }
  }
}
