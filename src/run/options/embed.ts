// `simclr embed`: a run's encoder features (and labels) of one split of a dataset, written to a safetensors file.
import { commandSchema, oneOf, required } from './fields.js';
import { CHECKPOINT, configFlag, dataSpec, ENCODER_COMPUTE, firstSamples, JSON_OUTPUT, RUN } from './common.js';

export const EMBED_FIELDS = {
  run: RUN,
  data: dataSpec(
    'dataset spec (a split in the spec, e.g. stl10:DIR:unlabeled, wins over --split)',
    'dataset (as `pretrain`); a split in it (`stl10:DIR:unlabeled`) wins over `--split`',
  ),
  out: required('(the .safetensors file to write)', {
    arg: '<file>',
    help: 'output .safetensors file',
    readme: {
      flag: '`--out FILE`',
      meaning: 'safetensors file: `features` float32 [n, dim], `labels` int64 [n] for labelled data',
    },
  }),
  split: oneOf(['train', 'test'] as const, 'train', { arg: '<name>', help: 'split to embed (default {default})' }),
  checkpoint: CHECKPOINT,
  limit: firstSamples('samples'),
  ...ENCODER_COMPUTE,
  json: JSON_OUTPUT,
};

export const EMBED = commandSchema('embed', EMBED_FIELDS, [configFlag()]);
