// `simclr embed`: a run's encoder features (and labels) of one split of a dataset, written to a safetensors file.
import { SHARED_BOUNDS as B } from '../bounds.js';
import { commandSchema, numOrNull, oneOf, required } from './fields.js';
import { CHECKPOINT, configFlag, DEVICE, EVAL_BATCH_SIZE, JSON_OUTPUT, RUN, THREADS } from './common.js';

export const EMBED_FIELDS = {
  run: RUN,
  data: required('(e.g. --data fashion-mnist)', {
    arg: '<spec>',
    help: 'dataset spec (a split in the spec, e.g. stl10:DIR:unlabeled, wins over --split)',
    readme: { flag: '`--data SPEC`', meaning: 'dataset (as `pretrain`); a split in it (`stl10:DIR:unlabeled`) wins' },
  }),
  out: required('(the .safetensors file to write)', {
    arg: '<file>',
    help: 'output .safetensors file',
    readme: {
      flag: '`--out FILE`',
      meaning: 'safetensors file: `features` float32 [n, dim], `labels` int64 [n] for labelled data',
    },
  }),
  split: oneOf(['train', 'test'] as const, 'train', {
    arg: '<name>',
    help: 'split to embed (default {default})',
    readme: { meaning: 'split to embed' },
  }),
  checkpoint: CHECKPOINT,
  /** null = every sample of the split. */
  limit: numOrNull(B.positiveCount, {
    arg: '<n>',
    help: 'only the first n samples',
    readme: { default: 'all', meaning: 'only the first n samples' },
  }),
  batchSize: EVAL_BATCH_SIZE,
  device: DEVICE,
  threads: THREADS,
  json: JSON_OUTPUT,
};

export const EMBED = commandSchema('embed', EMBED_FIELDS, [configFlag()]);
