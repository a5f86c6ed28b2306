// Colour jitter with probability p (torchvision ColorJitter inside RandomApply), at the paper's strength s:
// brightness, contrast and saturation factors uniform in [max(0, 1 - 0.8s), 1 + 0.8s], hue shift uniform in
// [-0.2s, 0.2s] turns, the four applied in a random order. One-channel images get brightness and contrast only.

import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import {
  bounded,
  luma,
  perRow,
  probability,
  rowsWhere,
  updateRows,
  type AugmentOp,
  type ApplyContext,
  type StepParams,
} from '../op.js';

/**
 * The largest colour distortion strength s: the hue shift of 0.2s turns stays within torchvision's 0.5 (the
 * --color-strength bound, src/run/bounds.ts, reads it too).
 */
export const MAX_COLOR_STRENGTH = 2.5;

export interface ColorJitterOptions {
  p: number;
  /** Colour distortion strength s, in [0, MAX_COLOR_STRENGTH]. */
  strength: number;
}

// Columns: applied flag, the four factors, then the order of application (codes 0..3 = the factors' order).
const JITTER = 0,
  FACTORS = 1,
  ORDER = 5;

// Each op clamps to [0, 1] as torchvision's blend does; f is [n,1,1,1].
function brightness(x: Tensor, f: Tensor): Tensor {
  return x.mul(f).clamp_(0, 1);
}
function contrast(x: Tensor, f: Tensor): Tensor {
  // The mean of the luma image is the luma of the per-channel means, which needs no full-size luma image.
  const channelMeans = x.mean([2, 3], true);
  const mean = x.shape[1] === 3 ? luma(channelMeans) : channelMeans;
  return mean.lerp(x, f).clamp_(0, 1);
}
function saturation(x: Tensor, f: Tensor): Tensor {
  return luma(x).lerp(x, f).clamp_(0, 1);
}
/**
 * Rotates hue by f turns, as torchvision's RGB -> HSV -> RGB. Hue is measured in sixths of a turn: for the largest
 * channel i (first of r, g, b on ties, where the formula agrees anyway) it is 2i + (next - previous)/chroma.
 * Back to RGB each channel is max - chroma * clamp(min(k, 4 - k), 0, 1) with k = (offset + hue) mod 6 and offsets
 * 5, 3, 1 for r, g, b; value * saturation is the chroma. Results stay within [min, max] of the pixel, so in [0, 1].
 */
function hue(x: Tensor, f: Tensor): Tensor {
  const [r, g, b] = x.unbind(1) as [Tensor, Tensor, Tensor];
  const maxc = x.amax(1),
    chroma = maxc.sub(x.amin(1));
  const scaled = torch.where(
    r.eq(maxc),
    g.sub(b),
    torch.where(g.eq(maxc), b.sub(r).add(chroma, 2), r.sub(g).add(chroma, 4)),
  );
  // Grey pixels (chroma 0) come out as max whatever their hue; the divisor 1 only avoids 0/0.
  const sixths = scaled
    .div(chroma.where(chroma.gt(0), 1))
    .unsqueeze(1)
    .add(f.mul(6));
  const k = sixths.add(torch.tensor(Float32Array.of(5, 3, 1), { shape: [1, 3, 1, 1], device: x.device })).remainder(6);
  const ramp = k.minimum(k.rsub(4)).clamp_(0, 1);
  return maxc.unsqueeze(1).sub(ramp.mul_(chroma.unsqueeze(1)));
}
const OPS: readonly ((x: Tensor, f: Tensor) => Tensor)[] = [brightness, contrast, saturation, hue];

export const colorJitter: AugmentOp<ColorJitterOptions> = {
  name: 'colorJitter',
  description:
    'with probability p, jitter brightness, contrast, saturation (0.8 strength) and hue (0.2 strength) in random order',
  options: {
    p: probability(0.8, 'probability of jittering'),
    strength: bounded(
      1,
      0,
      MAX_COLOR_STRENGTH,
      'colour distortion strength s (the paper: 1 on ImageNet, 0.5 on CIFAR)',
    ),
  },
  columns: ['jitter', 'brightness', 'contrast', 'saturation', 'hue', 'order0', 'order1', 'order2', 'order3'],
  identity: () => [0, 1, 1, 1, 0, 0, 1, 2, 3],
  /**
   * Draws: bernoulli(p); permutation(4); brightness; contrast; then, for colour input only, saturation and hue.
   * Factors are drawn even when jitter does not apply (then stored as the identity).
   */
  sample(rng, o, ctx, out) {
    const bcs = 0.8 * o.strength,
      hueMax = 0.2 * o.strength;
    const lo = Math.max(0, 1 - bcs),
      hi = 1 + bcs;
    const applied = rng.bernoulli(o.p);
    out.set(rng.permutation(4), ORDER);
    const b = rng.uniformRange(lo, hi);
    const c = rng.uniformRange(lo, hi);
    const s = ctx.channels === 1 ? 1 : rng.uniformRange(lo, hi);
    const h = ctx.channels === 1 ? 0 : rng.uniformRange(-hueMax, hueMax);
    out[JITTER] = applied ? 1 : 0;
    out.set(applied ? [b, c, s, h] : [1, 1, 1, 0], FACTORS);
  },
  /** For each of the 4 positions, each factor op runs once on the rows that have it at that position. */
  apply(x: Tensor, p: StepParams, _o: ColorJitterOptions, ctx: ApplyContext) {
    const opCount = ctx.channels === 3 ? 4 : 2;
    for (let pos = 0; pos < 4; pos++) {
      for (let op = 0; op < opCount; op++) {
        const rows = rowsWhere(p, (r) => r[JITTER] === 1 && r[ORDER + pos] === op);
        updateRows(x, rows, (sub) => OPS[op]!(sub, perRow(p, FACTORS + op, rows, x.device)));
      }
    }
    return x;
  },
};
