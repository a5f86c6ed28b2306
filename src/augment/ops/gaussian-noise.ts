// Additive Gaussian noise (one of the SimCLR paper's extra augmentations, Figure 4): with probability p,
// x + sigma * N(0, 1) clamped to [0, 1], sigma uniform in `sigma`. The noise comes from a CPU torch.Generator seeded
// per view with a seed drawn from the view's stream, so a view is the same whatever its batch or device. Tensor path
// only.

import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import { perRow, probability, range, rowsWhere, updateRows, type AugmentOp, type StepParams } from '../op.js';

export interface GaussianNoiseOptions {
  p: number;
  /** Noise standard deviation range, in units of the [0, 1] pixel scale. */
  sigma: [number, number];
}

/** Seeds stay below 2^24 so they are exact in the float32 parameter column. */
const SEED_RANGE = 2 ** 24;

/** Standard normal noise of `shape` from a CPU generator seeded with `seed`: what a view with that seed adds. */
export function viewNoise(seed: number, shape: readonly number[]): Tensor {
  return torch.randn(shape, { generator: new torch.Generator().manualSeed(seed) });
}

export const gaussianNoise: AugmentOp<GaussianNoiseOptions> = {
  name: 'gaussianNoise',
  description: 'with probability p, add Gaussian noise of standard deviation uniform in sigma, then clamp to [0, 1]',
  options: {
    p: probability(0.5, 'probability of adding noise'),
    sigma: range([0.01, 0.1], 0, 'noise standard deviation range (pixel values in [0, 1])'),
  },
  // noise_sigma is 0 where the view gets no noise.
  columns: ['noise_sigma', 'noise_seed'],
  identity: () => [0, 0],
  /** Draws: bernoulli(p); sigma; seed below(2^24) (all drawn either way). */
  sample(rng, o, _ctx, out) {
    const applied = rng.bernoulli(o.p);
    const sigma = rng.uniformRange(o.sigma[0], o.sigma[1]);
    const seed = rng.below(SEED_RANGE);
    out.set(applied ? [sigma, seed] : [0, 0]);
  },
  apply(x: Tensor, p: StepParams) {
    const rows = rowsWhere(p, (r) => r[0]! > 0);
    const [, c, h, w] = x.shape as [number, number, number, number];
    updateRows(x, rows, (sub) => {
      const noise = torch.stack(rows.map((r) => viewNoise(p.values[r * 2 + 1]!, [c, h, w]))).to(x.device);
      return sub.add(noise.mul(perRow(p, 0, rows, x.device))).clamp_(0, 1);
    });
    return x;
  },
};
