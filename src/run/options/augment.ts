// `simclr augment`: a PNG grid of a dataset's images beside the two views pretraining's augmentation makes of them.
// The data and augmentation fields are pretrain's own, so both commands read and check them alike and resolve the
// same preset: the grid shows what `simclr pretrain` with the same flags would draw.
import { SHARED_BOUNDS as B } from '../bounds.js';
import { PRESETS, PRESET_NAMES } from '../presets.js';
import { commandSchema, num, oneOf, required } from './fields.js';
import { PRETRAIN_OPTIONS as P } from './pretrain.js';

export const AUGMENT = commandSchema('augment', {
  data: P.data,
  out: required('(the PNG to write)', {
    arg: '<file.png>',
    help: 'output PNG',
    readme: { flag: '`--out FILE`', meaning: 'PNG: one row per image, the original beside its two views' },
  }),
  count: num({ kind: 'int', min: 1, max: 1024 }, 8, {
    arg: '<n>',
    help: 'images (rows), the first ones of a seeded shuffle (default {default})',
  }),
  seed: num(B.seed, 0, { arg: '<n>', help: 'seed for picking images and views (default {default})' }),
  imageSize: P.imageSize,
  preset: oneOf(PRESET_NAMES, 'auto', {
    arg: '<name>',
    help: 'where --color-strength, --crop-min-scale and --blur come from when not given (default {default})',
    readme: {
      meaning:
        `${PRESET_NAMES.map((n) => `\`${n}\`: ${PRESETS[n].summary}`).join('; ')}; it sets the three flags below ` +
        'where they are not given, as for `pretrain` ([Presets](#presets))',
    },
  }),
  colorStrength: P.colorStrength,
  cropMinScale: P.cropMinScale,
  blur: P.blur,
});
