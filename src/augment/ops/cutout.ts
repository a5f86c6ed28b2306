// Cutout (DeVries & Taylor 2017; one of the SimCLR paper's extra augmentations, Figure 4): with probability p, a
// square of side `size` x the image side, centred on a uniformly drawn pixel and clipped at the borders, is set to 0.
// Tensor path only (the fused kernel does not cover it).

import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import { bounded, probability, rowsWhere, updateRows, type AugmentOp, type StepParams } from '../op.js';

export interface CutoutOptions {
  p: number;
  /** Side of the square as a fraction of the image side (rounded to whole pixels, at least 1). */
  size: number;
}

/** Box [x0, y0, x1, y1) of side `side` centred on (cx, cy), clipped to a w x h image. */
export function cutoutBox(
  cx: number,
  cy: number,
  side: number,
  w: number,
  h: number,
): [number, number, number, number] {
  const before = Math.floor(side / 2);
  return [
    Math.max(0, cx - before),
    Math.max(0, cy - before),
    Math.min(w, cx - before + side),
    Math.min(h, cy - before + side),
  ];
}

export const cutout: AugmentOp<CutoutOptions> = {
  name: 'cutout',
  description:
    'with probability p, zero a square of side size x image side at a random centre (clipped at the borders)',
  options: {
    p: probability(0.5, 'probability of a cutout'),
    size: bounded(0.5, 0, 1, 'side of the square as a fraction of the image side'),
  },
  // The box in pixels, end exclusive; all 0 (empty) where the view has no cutout.
  columns: ['cutout_x0', 'cutout_y0', 'cutout_x1', 'cutout_y1'],
  identity: () => [0, 0, 0, 0],
  /** Draws: bernoulli(p); centre row below(H); centre column below(W) (both drawn either way). */
  sample(rng, o, ctx, out) {
    const applied = rng.bernoulli(o.p);
    const cy = rng.below(ctx.height),
      cx = rng.below(ctx.width);
    const side = Math.max(1, Math.round(o.size * Math.min(ctx.height, ctx.width)));
    out.set(applied && o.size > 0 ? cutoutBox(cx, cy, side, ctx.width, ctx.height) : [0, 0, 0, 0]);
  },
  apply(x: Tensor, p: StepParams) {
    const rows = rowsWhere(p, (r) => r[2]! > r[0]! && r[3]! > r[1]!);
    const [, , h, w] = x.shape as [number, number, number, number];
    updateRows(x, rows, (sub) => {
      const box = (c: number): Tensor =>
        torch.tensor(
          Float32Array.from(rows, (r) => p.values[r * 4 + c]!),
          { shape: [rows.length, 1, 1, 1], device: x.device },
        );
      const ys = torch.arange(0, h, 1, { device: x.device }).to('float32').reshape(1, 1, h, 1);
      const xs = torch.arange(0, w, 1, { device: x.device }).to('float32').reshape(1, 1, 1, w);
      const inside = ys
        .ge(box(1))
        .logicalAnd(ys.lt(box(3)))
        .logicalAnd(xs.ge(box(0)).logicalAnd(xs.lt(box(2))));
      return sub.where(inside.logicalNot(), 0);
    });
    return x;
  },
};
