// Stochastic gradient descent with momentum, as torch.optim.SGD (multi-tensor form).
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { Optimizer, type GroupOptions, type ParamGroup, type ParamGroupSpec, type ParamState } from './optimizer.js';

export interface SgdOptions extends GroupOptions {
  momentum: number;
  dampening: number;
  nesterov: boolean;
}

const { _foreach_add$List, _foreach_add_$List, _foreach_mul_$Scalar } = torch.raw;

/**
 * PyTorch's SGD: d = g + weightDecay*w; buf = momentum*buf + (1-dampening)*d (buf = d on the first step);
 * d = nesterov ? d + momentum*buf : buf; w -= lr*d. The learning rate is applied after the momentum, so a
 * schedule changes the step size immediately (unlike LARS, whose velocity carries the rate).
 */
export class SGD extends Optimizer<SgdOptions> {
  constructor(
    params: readonly Tensor[] | readonly ParamGroupSpec<SgdOptions>[],
    opts: Partial<SgdOptions> & { lr: number },
  ) {
    super('SGD', params, { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, ...opts });
  }

  protected override validate(g: ParamGroup<SgdOptions>): void {
    if (!(g.lr >= 0)) throw new RangeError(`SGD: invalid learning rate ${g.lr}`);
    if (!(g.momentum >= 0)) throw new RangeError(`SGD: invalid momentum ${g.momentum}`);
    if (!(g.weightDecay >= 0)) throw new RangeError(`SGD: invalid weight decay ${g.weightDecay}`);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0))
      throw new RangeError('SGD: Nesterov momentum requires a momentum and zero dampening');
  }

  protected override updateGroup(
    g: ParamGroup<SgdOptions>,
    params: Tensor[],
    grads: Tensor[],
    states: ParamState[],
  ): void {
    let d = g.weightDecay !== 0 ? _foreach_add$List(grads, params, g.weightDecay) : grads;
    if (g.momentum !== 0) {
      const existing: number[] = [];
      for (const [i, st] of states.entries()) {
        if (st.tensors.momentumBuffer === undefined) st.tensors.momentumBuffer = d[i]!.clone().keep();
        else existing.push(i);
      }
      if (existing.length > 0) {
        const bufs = existing.map((i) => states[i]!.tensors.momentumBuffer!);
        _foreach_mul_$Scalar(bufs, g.momentum);
        _foreach_add_$List(
          bufs,
          existing.map((i) => d[i]!),
          1 - g.dampening,
        );
      }
      const bufs = states.map((st) => st.tensors.momentumBuffer!);
      d = g.nesterov ? _foreach_add$List(d, bufs, g.momentum) : bufs;
    }
    _foreach_add_$List(params, d, -g.lr);
  }
}
