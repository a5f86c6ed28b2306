// Rotation by a multiple of 90 degrees (one of the SimCLR paper's extra augmentations, Figure 4): with probability
// p, the image turns counter-clockwise by k quarter turns, k uniform in {0, 1, 2, 3} (torch.rot90 over H, W). Needs
// square images, which every op after the resized crop sees. Tensor path only.

import type { Tensor } from '../../torch/index.js';
import { probability, rowsWhere, updateRows, type AugmentOp, type SampleContext, type StepParams } from '../op.js';

export interface RotationOptions {
  p: number;
}

/** torch.rot90(x, k, [2, 3]) for [n,C,H,W]. */
export function rot90(x: Tensor, k: number): Tensor {
  switch (((k % 4) + 4) % 4) {
    case 1:
      return x.flip(3).transpose(2, 3);
    case 2:
      return x.flip(2, 3);
    case 3:
      return x.flip(2).transpose(2, 3);
    default:
      return x;
  }
}

export const rotation: AugmentOp<RotationOptions> = {
  name: 'rotation',
  description: 'with probability p, rotate by 0, 90, 180 or 270 degrees (uniform)',
  options: { p: probability(1, 'probability of drawing a rotation (which may be 0 degrees)') },
  columns: ['quarter_turns'],
  identity: () => [0],
  /** Draws: bernoulli(p); k = below(4) (drawn either way). */
  sample(rng, o, ctx: SampleContext, out) {
    if (ctx.height !== ctx.width)
      throw new RangeError(
        `rotation needs square images, got ${ctx.height}x${ctx.width}: put it after randomResizedCrop`,
      );
    const applied = rng.bernoulli(o.p);
    const k = rng.below(4);
    out[0] = applied ? k : 0;
  },
  apply(x: Tensor, p: StepParams) {
    for (const k of [1, 2, 3])
      updateRows(
        x,
        rowsWhere(p, (r) => r[0] === k),
        (sub) => rot90(sub, k).contiguous(),
      );
    return x;
  },
};
