// `simclr study NAME`: the SimCLR paper's ablations as grids of short runs (src/study). The study's own settings, and
// `base`, the pretrain settings every cell starts from (config files only; the flags below set a few of them).
import { SHARED_BOUNDS as B } from '../bounds.js';
import { dataSpec } from './common.js';
import { bool, commandSchema, num, numOrNull, parsed, required, text, type Field } from './fields.js';
import { PRETRAIN_BOUNDS as P } from './pretrain.js';

/** The study runner's defaults (src/study/runner.ts reads them from here). */
export const STUDY_DEFAULTS = { budget: 200, seeds: 3, subset: 10000, testSize: 2000 } as const;

/** --subset: training images, an integer >= 2, or null ('all' on the command line) for every one. */
const subset: Field<number | null> = {
  ...parsed<number | null>(
    (v) => {
      if (v === null || (Number.isSafeInteger(v) && (v as number) >= 2)) return v as number | null;
      throw new Error(`--subset must be an integer >= 2, or all, got ${JSON.stringify(v)}`);
    },
    STUDY_DEFAULTS.subset,
    {
      arg: '<n>',
      help: `training images, a fixed sample the same for every run, or 'all' (default ${STUDY_DEFAULTS.subset})`,
    },
  ),
  parseArg: (t) => {
    if (t === 'all') return null;
    const n = t.trim() === '' ? Number.NaN : Number(t);
    if (!Number.isSafeInteger(n) || n < 2) throw new Error(`expected an integer >= 2 or 'all', got '${t}'`);
    return n;
  },
};

/** `base` of a config file: a mapping of pretrain settings (checked by resolveConfig when the study starts). */
const base = parsed<Record<string, unknown>>((v) => {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new Error(`base must be a mapping of pretrain settings, got ${JSON.stringify(v)}`);
  return v as Record<string, unknown>;
}, {});

export const STUDY = commandSchema(
  'study',
  {
    data: dataSpec(
      'dataset with labelled train and test splits (as pretrain)',
      'dataset, as above; it needs labelled train and test splits',
    ),
    out: required('(the study folder)', {
      arg: '<dir>',
      help: 'study folder: study.json, report.html, cells/<cell>/seed-<s>/ run folders',
      readme: {
        flag: '`--out DIR`',
        meaning: 'study folder: `study.json`, `report.html`, `cells/<cell>/seed-<s>/` run folders',
      },
    }),
    budget: num({ kind: 'int', min: 1, max: 1e7 }, STUDY_DEFAULTS.budget, {
      arg: '<steps>',
      help: 'training steps per cell; batch-epochs scales them with its batch and length (default {default})',
    }),
    subset,
    seeds: num({ kind: 'int', min: 1, max: 100 }, STUDY_DEFAULTS.seeds, {
      arg: '<n>',
      help: 'seeds 0..n-1 for every cell; two or more give the spread and the tests (default {default})',
    }),
    testSize: num(B.positiveCount, STUDY_DEFAULTS.testSize, {
      arg: '<n>',
      help: 'held-out test images used as kNN queries, a fixed sample (default {default})',
    }),
    linear: bool(false, { help: 'also linear evaluation: logistic regression on the frozen features' }),
    /** null = the cores, at most 4. */
    nproc: numOrNull(
      { kind: 'int', min: 1, max: 256 },
      {
        arg: '<n>',
        help: 'runs side by side, one process each (default: the cores, at most 4)',
        readme: { default: 'cores, at most 4' },
      },
    ),
    /** null = the cores divided among nproc. */
    threads: numOrNull(B.threads, {
      arg: '<n>',
      help: 'libtorch threads per run (default: the cores divided among --nproc)',
      readme: { default: 'cores / nproc' },
    }),
    arch: text(null, {
      arg: '<name>',
      help: 'encoder of every cell (default resnet18)',
      readme: { default: '`resnet18`' },
    }),
    width: numOrNull(P.width, {
      arg: '<x>',
      help: 'ResNet width multiplier of every cell (default 0.125)',
      readme: { default: '0.125' },
    }),
    stem: text(null, {
      arg: '<kind>',
      help: 'ResNet stem: auto, cifar or imagenet (default auto)',
      readme: { default: '`auto`' },
    }),
    batchSize: numOrNull(P.batchSize, {
      arg: '<n>',
      help: 'batch of every cell but batch-epochs, which varies it around this (default 128)',
      readme: { default: '128' },
    }),
    lr: numOrNull(P.lr, {
      arg: '<base>',
      help: 'base learning rate before batch scaling (default: square-root scaling of 0.075)',
      readme: { default: '0.075 (sqrt)' },
    }),
    /** Pretrain settings of every cell's base, config files only; the flags above override them. */
    base,
  },
  [
    {
      key: 'config',
      readsConfig: true,
      cli: {
        arg: '<file>',
        help: 'JSON or YAML with these keys, and base: pretrain settings every cell starts from; flags override it',
        readme: {
          flag: '`--config FILE`',
          meaning:
            'JSON or YAML with the same keys, and `base`: a mapping of pretrain settings every cell starts from ' +
            '(not `data`, `out`, `seed`, `epochs`, `subset`, `threads` or logging); flags override it',
        },
      },
    },
  ],
);
