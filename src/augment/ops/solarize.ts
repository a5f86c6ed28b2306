// Solarize with probability p (torchvision RandomSolarize, threshold 0.5): pixels >= 0.5 become 1 - x.

import type { Tensor } from '../../torch/index.js';
import { probability, rowsWhere, updateRows, type AugmentOp, type StepParams } from '../op.js';

export interface SolarizeOptions {
  p: number;
}

export const solarize: AugmentOp<SolarizeOptions> = {
  name: 'solarize',
  description: 'invert pixels at or above 0.5 with probability p',
  options: { p: probability(0, 'probability of solarizing (the paper: 0; BYOL: 0.2 on one view)') },
  columns: ['solarize'],
  identity: () => [0],
  sample(rng, o, _ctx, out) {
    out[0] = rng.bernoulli(o.p) ? 1 : 0;
  },
  apply(x: Tensor, p: StepParams) {
    updateRows(
      x,
      rowsWhere(p, (r) => r[0] === 1),
      (sub) => sub.rsub(1).where(sub.ge(0.5), sub),
    );
    return x;
  },
};
