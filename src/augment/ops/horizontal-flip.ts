// Horizontal flip with probability p (torchvision RandomHorizontalFlip).

import { probability, randomApply, type RandomApplyOptions } from '../op.js';

export type HorizontalFlipOptions = RandomApplyOptions;

export const horizontalFlip = randomApply({
  name: 'horizontalFlip',
  description: 'mirror left-right with probability p',
  p: probability(0.5, 'probability of a flip'),
  column: 'flip',
  transform: (sub) => sub.flip(3),
});
