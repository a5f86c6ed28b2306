// `simclr finetune`: the encoder fine-tuned with a new linear head on a class-balanced fraction of the labels
// (src/eval/finetune.ts, whose defaults are these fields').
import { SHARED_BOUNDS as B } from '../bounds.js';
import { bool, commandSchema, need, num, numOrNull, text } from './fields.js';
import { configFlag, reworded } from './common.js';
import { EVAL_INPUT } from './eval.js';

export const FINETUNE_FIELDS = {
  ...EVAL_INPUT,
  batchSize: reworded(EVAL_INPUT.batchSize, {
    arg: '<n>',
    help: 'training batch size, capped at the labelled samples; the lr scales with it (default {default})',
  }),
  /** Share of each class's labels, in (0, 1]; the paper's 1% and 10%. */
  labelFraction: need(
    num(B.share, undefined, {
      arg: '<f>',
      help: "share of each class's labels to train on, e.g. 0.01 or 0.1",
      readme: { meaning: "share of each class's labels to train on, e.g. 0.01 or 0.1 (the paper's 1% and 10%)" },
    }),
    '(e.g. --label-fraction 0.1)',
  ),
  /** null = the paper's schedule: 60 epochs for fractions up to 1%, else 30. */
  epochs: numOrNull(
    { kind: 'int', min: 1, max: 1e5 },
    {
      arg: '<n>',
      help: 'epochs over the labelled subset (default 60 for <= 1% labels, else 30)',
      readme: { default: '60 / 30' },
    },
  ),
  /** The paper's base rate for fine-tuning. */
  lr: num(B.lr, 0.05, {
    arg: '<base>',
    help: 'base learning rate, scaled by batch/256, cosine decay without warm-up (default {default})',
  }),
  momentum: num({ kind: 'number', min: 0, max: 1, maxExclusive: true }, 0.9, {
    arg: '<m>',
    help: 'Nesterov momentum, plain SGD at 0 (default {default})',
  }),
  /** 0: the paper fine-tunes without regularisation. */
  weightDecay: num(B.weightDecay, 0, { arg: '<x>', help: 'weight decay (default {default})' }),
  fromHeadLayer: bool(false, {
    help: "keep the projection head's first layer under the new head (SimCLRv2)",
    readme: {
      meaning:
        "keep the projection head's first layer under the new head (SimCLRv2); needs a head of 2+ layers (`auto` " +
        'gives runs of at most 10 epochs on small images a linear one: pretrain with `--proj-layers 2`)',
    },
  }),
  seed: num(B.seed, 0, {
    arg: '<n>',
    help: 'seed of the label subset, data order, views and head init (default {default})',
  }),
  /** null = RUN/finetune-<fraction>. */
  out: text(null, {
    arg: '<dir>',
    help: 'output folder (default RUN/finetune-<fraction>)',
    readme: {
      flag: '`--out DIR`',
      default: '`RUN/finetune-<fraction>`',
      meaning: '`labels.json` (the subset), `model.safetensors`, `result.json`',
    },
  }),
};

export const FINETUNE = commandSchema('finetune', FINETUNE_FIELDS, [configFlag()]);
