// Random grayscale (torchvision RandomGrayscale): with probability p, every channel becomes the luma. One-channel
// images draw nothing and stay as they are.

import type { Tensor } from '../../torch/index.js';
import { luma, probability, rowsWhere, updateRows, type AugmentOp, type ApplyContext, type StepParams } from '../op.js';

export interface GrayscaleOptions {
  p: number;
}

export const grayscale: AugmentOp<GrayscaleOptions> = {
  name: 'grayscale',
  description: 'replace every channel by the luma with probability p (colour images only)',
  options: { p: probability(0.2, 'probability of converting to gray') },
  columns: ['grayscale'],
  identity: () => [0],
  sample(rng, o, ctx, out) {
    out[0] = ctx.channels === 3 && rng.bernoulli(o.p) ? 1 : 0;
  },
  apply(x: Tensor, p: StepParams, _o: GrayscaleOptions, ctx: ApplyContext) {
    if (ctx.channels === 3)
      updateRows(
        x,
        rowsWhere(p, (r) => r[0] === 1),
        (sub) => luma(sub).expand(sub.shape),
      );
    return x;
  },
};
