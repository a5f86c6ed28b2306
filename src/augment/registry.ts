// Every augmentation a pipeline (and so a config file's `augment` list) can name. A new op: one file under ops/
// and one line here.

import type { AugmentOp } from './op.js';
import { randomResizedCrop } from './ops/random-resized-crop.js';
import { horizontalFlip } from './ops/horizontal-flip.js';
import { colorJitter } from './ops/color-jitter.js';
import { grayscale } from './ops/grayscale.js';
import { gaussianBlur } from './ops/gaussian-blur.js';
import { solarize } from './ops/solarize.js';
import { cutout } from './ops/cutout.js';
import { sobel } from './ops/sobel.js';
import { gaussianNoise } from './ops/gaussian-noise.js';
import { rotation } from './ops/rotation.js';

/** The ops by name. */
export const AUGMENTATIONS: Readonly<Record<string, AugmentOp<object>>> = Object.freeze(
  Object.fromEntries(
    (
      [
        randomResizedCrop,
        horizontalFlip,
        colorJitter,
        grayscale,
        gaussianBlur,
        solarize,
        cutout,
        sobel,
        gaussianNoise,
        rotation,
      ] as AugmentOp<object>[]
    ).map((op) => [op.name, op]),
  ),
);
