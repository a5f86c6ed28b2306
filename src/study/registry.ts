// Every study `simclr study` can run, by name. A new study: one file under studies/ and one line here.
import type { StudyDefinition } from './definition.js';
import { augmentPairs } from './studies/augment-pairs.js';
import { colorStrength } from './studies/color-strength.js';
import { head } from './studies/head.js';
import { loss } from './studies/loss.js';
import { temperature } from './studies/temperature.js';
import { batchEpochs } from './studies/batch-epochs.js';

export const STUDIES: Readonly<Record<string, StudyDefinition>> = Object.freeze(
  Object.fromEntries([augmentPairs, colorStrength, head, loss, temperature, batchEpochs].map((s) => [s.name, s])),
);

export const STUDY_NAMES: readonly string[] = Object.keys(STUDIES);
