// `simclr demo`: the quick start. Its training settings are fixed (DEMO_SETTINGS, src/cli/commands.ts); these say
// where, on what, for how long and on which device.
import { SHARED_BOUNDS as B } from '../bounds.js';
import { commandSchema, numOrNull, text } from './fields.js';
import { DEVICE } from './common.js';

export const DEMO = commandSchema('demo', {
  out: text('runs/demo', {
    arg: '<dir>',
    help: 'run folder (default {default})',
    readme: {
      flag: '`--out DIR`',
      meaning: 'run folder; a rerun replaces an earlier demo run there, and nothing else',
    },
  }),
  /** null = two epochs. */
  maxSteps: numOrNull(B.positiveCount, {
    arg: '<n>',
    help: 'stop early after this many steps of 256 images (default: two epochs)',
    readme: { default: 'two epochs' },
  }),
  data: text('fashion-mnist', {
    arg: '<spec>',
    help: 'dataset (default {default})',
    readme: { flag: '`--data SPEC`', meaning: 'dataset (as `pretrain`); labelled, for the evaluation' },
  }),
  device: DEVICE,
});
