// Sobel filtering (one of the SimCLR paper's extra augmentations, Figure 4): with probability p, the image becomes
// the gradient magnitude of its luma, sqrt(gx^2 + gy^2) of the 3x3 Sobel kernels with replicate padding, divided by
// its largest possible value 4*sqrt(2) so it stays in [0, 1], copied to every channel. Tensor path only.

import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import { luma, probability, randomApply, type RandomApplyOptions } from '../op.js';

const F = torch.nn.functional;

export type SobelOptions = RandomApplyOptions;

/** Gradient magnitude of [n,C,H,W] images in [0, 1] (C = 1 or 3), scaled into [0, 1]: [n,C,H,W]. */
export function sobelMagnitude(x: Tensor): Tensor {
  const gray = x.shape[1] === 3 ? luma(x) : x;
  // gx (left to right) then gy (top to bottom) as two output channels of one convolution.
  const kernels = torch.tensor(Float32Array.of(-1, 0, 1, -2, 0, 2, -1, 0, 1, -1, -2, -1, 0, 0, 0, 1, 2, 1), {
    shape: [2, 1, 3, 3],
    device: x.device,
  });
  const g = F.conv2d(F.pad(gray, [1, 1, 1, 1], 'replicate'), kernels);
  return g
    .square()
    .sum(1, true)
    .sqrt()
    .div(4 * Math.SQRT2)
    .clamp_(0, 1)
    .expand(x.shape);
}

export const sobel = randomApply({
  name: 'sobel',
  description: 'with probability p, replace the image by the Sobel gradient magnitude of its luma',
  p: probability(0.5, 'probability of Sobel filtering'),
  column: 'sobel',
  transform: sobelMagnitude,
});
