// LARS (You et al. 2017) as google-research/simclr's lars_optimizer.py: classic momentum, no Nesterov.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { Optimizer, type GroupOptions, type ParamGroup, type ParamGroupSpec, type ParamState } from './optimizer.js';

export interface LarsOptions extends GroupOptions {
  momentum: number;
  /** Trust coefficient: the layer's step is about eta * ||w|| / ||g|| of the learning rate. */
  eta: number;
  /** Skip the trust ratio (use the plain learning rate), as SimCLR does for biases and batch-norm parameters. */
  excludeFromAdaptation: boolean;
}

/** SimCLR's defaults: momentum 0.9, eta 0.001, weight decay 1e-6. */
export const LARS_DEFAULTS: Readonly<Omit<LarsOptions, 'lr'>> = {
  momentum: 0.9,
  eta: 0.001,
  weightDecay: 1e-6,
  excludeFromAdaptation: false,
};

const { _foreach_add_$List, _foreach_addcmul_$Scalar, _foreach_mul_$Scalar, _foreach_norm$Scalar, _foreach_sub_$List } =
  torch.raw;

/**
 * Per parameter: g += weightDecay*w; trust = eta*||w||/||g|| when both norms are positive, else 1
 * (always 1 when excluded from adaptation); v = momentum*v + lr*trust*g; w -= v. The velocity carries the
 * learning rate, so a schedule's change reaches the update gradually, as in the TensorFlow original.
 * Weight decay is exempted by giving a group weightDecay 0; see larsParamGroups.
 * The decay is added to p.grad in place (after step() the gradient holds g + weightDecay*w): a decayed copy
 * would cost a parameter-sized allocation per step, a third of the step time for ResNet-18 on CPU.
 */
export class LARS extends Optimizer<LarsOptions> {
  constructor(
    params: readonly Tensor[] | readonly ParamGroupSpec<LarsOptions>[],
    opts: Partial<LarsOptions> & { lr: number },
  ) {
    super('LARS', params, { ...LARS_DEFAULTS, ...opts });
  }

  protected override validate(g: ParamGroup<LarsOptions>): void {
    if (!(g.lr >= 0)) throw new RangeError(`LARS: invalid learning rate ${g.lr}`);
    if (!(g.momentum >= 0)) throw new RangeError(`LARS: invalid momentum ${g.momentum}`);
    if (!(g.eta > 0)) throw new RangeError(`LARS: invalid trust coefficient ${g.eta}`);
    if (!(g.weightDecay >= 0)) throw new RangeError(`LARS: invalid weight decay ${g.weightDecay}`);
  }

  // A fixed number of operator calls per group whatever its size: the norms come back as 0-d tensors, the trust
  // ratios are computed on one stacked vector, and each 0-d ratio broadcasts inside the fused momentum update.
  protected override updateGroup(
    g: ParamGroup<LarsOptions>,
    params: Tensor[],
    grads: Tensor[],
    states: ParamState[],
  ): void {
    for (const [i, st] of states.entries()) {
      if (st.tensors.momentum === undefined) st.tensors.momentum = torch.zerosLike(params[i]!).keep();
    }
    const velocity = states.map((st) => st.tensors.momentum!);
    if (g.weightDecay !== 0) _foreach_add_$List(grads, params, g.weightDecay);
    _foreach_mul_$Scalar(velocity, g.momentum);
    if (g.excludeFromAdaptation) {
      _foreach_add_$List(velocity, grads, g.lr);
    } else {
      const wNorm = torch.stack(_foreach_norm$Scalar(params, 2));
      const gNorm = torch.stack(_foreach_norm$Scalar(grads, 2));
      const trust = torch.where(wNorm.gt(0).logicalAnd(gNorm.gt(0)), wNorm.mul(g.eta).div(gNorm), 1);
      _foreach_addcmul_$Scalar(velocity, grads, trust.mul(g.lr).unbind(0), 1);
    }
    _foreach_sub_$List(params, velocity);
  }
}

export interface LarsGroupOptions {
  weightDecay?: number;
  /** Which parameters get neither weight decay nor adaptation; default: 1-d tensors and names with 'bias' or
   * 'batch_normalization'. */
  exclude?: (name: string, param: Tensor) => boolean;
}

/** SimCLR's exclusion: biases and batch-norm scales/shifts, recognised by shape (1-d) or by name. */
export function isBiasOrNorm(name: string, param: Tensor): boolean {
  return param.ndim <= 1 || name.includes('bias') || name.includes('batch_normalization');
}

/**
 * Splits named parameters into LARS groups as google-research/simclr does: the weights (weight decay and trust
 * ratio) and the excluded biases/norm parameters (weightDecay 0, excludeFromAdaptation). Empty groups are left out.
 */
export function larsParamGroups(
  named: Iterable<readonly [string, Tensor]>,
  opts: LarsGroupOptions = {},
): ParamGroupSpec<LarsOptions>[] {
  const exclude = opts.exclude ?? isBiasOrNorm;
  const adapted: Tensor[] = [];
  const excluded: Tensor[] = [];
  for (const [name, p] of named) (exclude(name, p) ? excluded : adapted).push(p);
  const groups: ParamGroupSpec<LarsOptions>[] = [];
  if (adapted.length > 0) groups.push({ params: adapted, weightDecay: opts.weightDecay ?? LARS_DEFAULTS.weightDecay });
  if (excluded.length > 0) groups.push({ params: excluded, weightDecay: 0, excludeFromAdaptation: true });
  return groups;
}
