// Gaussian blur with probability p (torchvision GaussianBlur with the paper's kernel size): sigma uniform in `sigma`,
// kernel side about 10% of the output side, reflect padding.

import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import {
  perRow,
  probability,
  range,
  rowsWhere,
  updateRows,
  type AugmentOp,
  type ApplyContext,
  type StepParams,
} from '../op.js';

const F = torch.nn.functional;

export interface GaussianBlurOptions {
  p: number;
  sigma: [number, number];
}

/** Odd kernel side closest to 10% of the image side (ties go up), at least 3, as in the paper. */
export function blurKernelSize(outputSize: number): number {
  if (!Number.isInteger(outputSize) || outputSize < 1)
    throw new RangeError(`outputSize must be a positive integer, got ${outputSize}`);
  return Math.max(3, 2 * Math.round((outputSize / 10 - 1) / 2) + 1);
}

/** Separable Gaussian blur with one sigma per row ([n,1]), reflect padding and torchvision's kernel. */
function blur(x: Tensor, sigma: Tensor, k: number): Tensor {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const half = (k - 1) / 2;
  const taps = torch.linspace(-half, half, k, { device: x.device }).reshape(1, k);
  const pdf = taps.div(sigma).square().mul(-0.5).exp();
  const kernel = pdf.div(pdf.sum(1, true)).repeatInterleave(c, 0);
  const planes = F.pad(x.reshape(1, n * c, h, w), [half, half, half, half], 'reflect');
  const vertical = F.conv2d(planes, kernel.reshape(n * c, 1, k, 1), { groups: n * c });
  // The kernel sums to 1 only up to rounding; keep the output inside [0, 1].
  return F.conv2d(vertical, kernel.reshape(n * c, 1, 1, k), { groups: n * c })
    .reshape(n, c, h, w)
    .clamp_(0, 1);
}

export const gaussianBlur: AugmentOp<GaussianBlurOptions> = {
  name: 'gaussianBlur',
  description: 'blur with probability p, sigma uniform in sigma (output pixels); kernel about 10% of the output side',
  options: {
    p: probability(0.5, 'probability of blurring (the paper: 0.5 on ImageNet, 0 on CIFAR)'),
    sigma: range([0.1, 2], 0, 'blur sigma range in output pixels'),
  },
  // blur_sigma is 0 where the view does not blur.
  columns: ['blur_sigma'],
  identity: () => [0],
  sample(rng, o, _ctx, out) {
    // The sigma is drawn either way, so the probability never shifts later draws.
    const applied = rng.bernoulli(o.p);
    const sigma = rng.uniformRange(o.sigma[0], o.sigma[1]);
    out[0] = applied ? sigma : 0;
  },
  apply(x: Tensor, p: StepParams, _o: GaussianBlurOptions, ctx: ApplyContext) {
    const rows = rowsWhere(p, (r) => r[0]! > 0);
    updateRows(x, rows, (sub) =>
      blur(sub, perRow(p, 0, rows, x.device).reshape(rows.length, 1), blurKernelSize(ctx.outputSize)),
    );
    return x;
  },
};
