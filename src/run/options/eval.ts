// `simclr eval knn` and `simclr eval linear`: a run's frozen encoder on a labelled dataset's train and test splits.
// EVAL_INPUT is the group they share with `simclr finetune` (./finetune.ts).
import { DEFAULT_KNN_K, DEFAULT_KNN_TEMPERATURE } from '../../features/knn.js';
import { SHARED_BOUNDS as B } from '../bounds.js';
import { bool, commandSchema, num, numList, numOrNull } from './fields.js';
import { CHECKPOINT, configFlag, dataSpec, ENCODER_COMPUTE, firstSamples, JSON_OUTPUT, RUN } from './common.js';

/** The run, the labelled data and how the encoder computes: the options every evaluation of a run has. */
export const EVAL_INPUT = {
  run: RUN,
  /** A labelled data spec; its train split trains (or is the memory bank), its test split is scored. */
  data: dataSpec(
    'labelled dataset: fashion-mnist[:DIR] | mnist:DIR | cifar10:DIR | cifar100:DIR | stl10:DIR | folder:DIR',
    'labelled dataset (as `pretrain`; `stl10:DIR` uses its train/test)',
  ),
  checkpoint: CHECKPOINT,
  limit: firstSamples('training samples'),
  testLimit: firstSamples('test samples'),
  ...ENCODER_COMPUTE,
  json: JSON_OUTPUT,
};

/** Weighted kNN (src/features/knn.ts): cosine similarity, votes exp(sim/T); defaults as the paper's monitor. */
export const EVAL_KNN = commandSchema(
  'eval knn',
  {
    ...EVAL_INPUT,
    k: num({ kind: 'int', min: 1, max: 1e6 }, DEFAULT_KNN_K, {
      arg: '<n>',
      help: 'neighbours that vote, capped at the training samples (default {default})',
    }),
    temperature: num(
      { kind: 'number', min: 0.02, max: 100, why: 'votes exp(sim/T) stay finite in float32' },
      DEFAULT_KNN_TEMPERATURE,
      { arg: '<t>', help: 'each neighbour votes with weight exp(cosine similarity / t) (default {default})' },
    ),
    /** null = about 16M similarities at once. */
    chunkSize: numOrNull(B.positiveCount, {
      arg: '<n>',
      help: 'test rows per similarity chunk: memory, not results (default: about 16M similarities at once)',
      readme: { default: '~16M similarities' },
    }),
  },
  [configFlag()],
);

/** Regularisation strengths `eval linear` tries by default, strongest first (each fit warm-starts the next). */
export const DEFAULT_L2_GRID: readonly number[] = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6];

/**
 * Linear evaluation (src/eval/linear.ts): L2-regularised logistic regression on frozen features; linearEvaluate's
 * defaults are these fields'.
 */
export const EVAL_LINEAR_FIELDS = {
  ...EVAL_INPUT,
  l2: numList({ kind: 'number', min: 0, max: 1e6 }, DEFAULT_L2_GRID, {
    arg: '<list>',
    help:
      'comma-separated L2 strengths to try; the best on the validation split is refit on all rows (default ' +
      '{default})',
  }),
  valFraction: num({ kind: 'number', min: 0, minExclusive: true, max: 1, maxExclusive: true }, 0.2, {
    arg: '<f>',
    help: 'share of each class held out to choose L2 (default {default})',
  }),
  /** null = the plain images, one row each. */
  augmentViews: numOrNull(
    { kind: 'int', min: 1, max: 100 },
    {
      arg: '<n>',
      help: 'train on n random crop+flip views per image instead of the plain images',
      readme: { default: 'off' },
    },
  ),
  maxIter: num({ kind: 'int', min: 1, max: 1e6 }, 1000, {
    arg: '<n>',
    help: 'L-BFGS iterations per fit at most (default {default})',
  }),
  /** Standardise with the training rows' mean and deviation: better-conditioned fits. */
  standardize: bool(true, { help: 'fit on the raw features instead of standardised ones', negatedOnly: true }),
  seed: num(B.seed, 0, { arg: '<n>', help: 'seed of the validation split and the views (default {default})' }),
};

export const EVAL_LINEAR = commandSchema('eval linear', EVAL_LINEAR_FIELDS, [configFlag()]);
