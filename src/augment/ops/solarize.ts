// Solarize with probability p (torchvision RandomSolarize, threshold 0.5): pixels >= 0.5 become 1 - x.

import { probability, randomApply, type RandomApplyOptions } from '../op.js';

export type SolarizeOptions = RandomApplyOptions;

export const solarize = randomApply({
  name: 'solarize',
  description: 'invert pixels at or above 0.5 with probability p',
  p: probability(0, 'probability of solarizing (the paper: 0; BYOL: 0.2 on one view)'),
  column: 'solarize',
  transform: (sub) => sub.rsub(1).where(sub.ge(0.5), sub),
});
