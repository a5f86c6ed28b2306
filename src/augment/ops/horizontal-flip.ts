// Horizontal flip with probability p (torchvision RandomHorizontalFlip).

import type { Tensor } from '../../torch/index.js';
import { probability, rowsWhere, updateRows, type AugmentOp, type StepParams } from '../op.js';

export interface HorizontalFlipOptions {
  p: number;
}

export const horizontalFlip: AugmentOp<HorizontalFlipOptions> = {
  name: 'horizontalFlip',
  description: 'mirror left-right with probability p',
  options: { p: probability(0.5, 'probability of a flip') },
  columns: ['flip'],
  identity: () => [0],
  sample(rng, o, _ctx, out) {
    out[0] = rng.bernoulli(o.p) ? 1 : 0;
  },
  apply(x: Tensor, p: StepParams) {
    updateRows(
      x,
      rowsWhere(p, (r) => r[0] === 1),
      (sub) => sub.flip(3),
    );
    return x;
  },
};
