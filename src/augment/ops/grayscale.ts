// Random grayscale (torchvision RandomGrayscale): with probability p, every channel becomes the luma. One-channel
// images draw nothing and stay as they are.

import { luma, probability, randomApply, type RandomApplyOptions } from '../op.js';

export type GrayscaleOptions = RandomApplyOptions;

export const grayscale = randomApply({
  name: 'grayscale',
  description: 'replace every channel by the luma with probability p (colour images only)',
  p: probability(0.2, 'probability of converting to gray'),
  column: 'grayscale',
  colourOnly: true,
  transform: (sub) => luma(sub).expand(sub.shape),
});
