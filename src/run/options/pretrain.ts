// The pretrain command's options, each written once: its type and check, default, bound (with why), flag and help,
// and README row. PretrainConfig, DEFAULT_CONFIG, resolveConfig (src/run/config.ts), the commander flags
// (src/cli/pretrain.ts) and the README's flag table (test/cli/flags-doc.test.ts) all come from PRETRAIN_OPTIONS.
import { BACKBONES, BACKBONE_NAMES } from '../../models/index.js';
import { OPTIMIZERS, OPTIMIZER_NAMES } from '../../optim/index.js';
import { LOSSES, LOSS_NAMES } from '../../loss/index.js';
import { DEFAULT_MARGIN } from '../../loss/margintriplet.js';
import { parseAugmentSteps, type AugmentStepConfig } from '../../augment/pipeline.js';
import { SHARED_BOUNDS as B, type NumberBound } from '../bounds.js';
import { PRESETS, PRESET_NAMES } from '../presets.js';
import {
  bool,
  boundsOf,
  num,
  numOrNull,
  oneOf,
  orNull,
  parsed,
  required,
  type CliOnlyFlag,
  commandSchema,
} from './fields.js';
import { configFlag, device, THREADS } from './common.js';

const SAFE = Number.MAX_SAFE_INTEGER;

// A registry's names and summaries as README text: a newly registered entry appears in the flag table by itself.
const listed = (names: readonly string[], summary: (name: string) => string): string =>
  names.map((n) => `\`${n}\`: ${summary(n)}`).join('; ');

/** Field order is the order of checks (the first refused value is reported) and of a resolved config's keys. */
export const PRETRAIN_OPTIONS = {
  /** Data spec, e.g. 'fashion-mnist', 'cifar10:DIR', 'stl10:DIR:unlabeled', 'folder:DIR'. */
  data: required('(e.g. --data fashion-mnist)', {
    arg: '<spec>',
    help: 'dataset: fashion-mnist[:DIR] | mnist:DIR | cifar10:DIR | cifar100:DIR | stl10:DIR[:SPLIT] | folder:DIR',
    readme: { flag: '`--data SPEC`', meaning: 'dataset, as above' },
  }),
  /** Run folder: config.json, metrics.jsonl, checkpoints/. */
  out: required('(the run folder)', {
    arg: '<dir>',
    help: 'run folder (config.json, metrics.jsonl, checkpoints/)',
    readme: {
      flag: '`--out DIR`',
      meaning: 'run folder: `config.json`, `metrics.jsonl`, `checkpoints/last.safetensors`',
    },
  }),
  /** Train on a fixed sample of this many training images (subsetIndices, src/data/subset.ts); null = all. */
  subset: numOrNull(B.positiveCount, {
    arg: '<n>',
    help: 'train on a fixed random sample of n training images, the same whatever --seed (default: all)',
    readme: {
      default: 'all',
      meaning: 'train on a fixed random sample of n images of `--data` (the same n images whatever `--seed`)',
    },
  }),
  /** Encoder, a BACKBONES key (src/models/index.ts). */
  arch: oneOf(BACKBONE_NAMES, 'resnet18', {
    arg: '<name>',
    help: 'encoder (default {default})',
    readme: { meaning: listed(BACKBONE_NAMES, (n) => BACKBONES[n as keyof typeof BACKBONES].summary) },
  }),
  width: num(
    { kind: 'number', min: 1 / 16, max: 8, why: 'every ResNet stage keeps at least 4 channels' },
    1,
    {
      arg: '<x>',
      help: 'ResNet width multiplier, fractional allowed (default {default})',
      readme: { meaning: 'channel multiplier, fractional allowed (stage widths `round(64·w)`, `round(128·w)`, ...)' },
    },
    { modelSize: true },
  ),
  /** Folder datasets: side of the decoded square images; others: their own size (must match if given). */
  imageSize: numOrNull(
    B.imageSize,
    {
      arg: '<px>',
      help: 'side of decoded images for folder: data (default 64)',
      readme: { default: '64', meaning: 'decoded side for `folder:` data (other datasets have their own size)' },
    },
    { modelSize: true },
  ),
  /** 'auto' picks the CIFAR stem for images <= 32 px. */
  stem: oneOf(['auto', 'cifar', 'imagenet'] as const, 'auto', {
    arg: '<kind>',
    help: 'ResNet stem; auto = CIFAR stem for images <= 32 px (default auto)',
    readme: {
      meaning: '`cifar` (3x3/1, no max-pool), `imagenet` (7x7/2 + max-pool); auto = CIFAR stem for images <= 32 px',
    },
  }),
  /**
   * Where the settings it governs (src/run/presets.ts, PRESET_KEYS) come from when they are null: 'auto' chooses from
   * the image size, batch and epochs, 'paper' is the paper's ImageNet recipe.
   */
  preset: oneOf(PRESET_NAMES, 'auto', {
    arg: '<name>',
    help:
      'where --temperature, --lr-scaling, --color-strength, --crop-min-scale, --blur and --proj-layers come from ' +
      'when not given (default {default})',
    readme: {
      meaning:
        `${listed(PRESET_NAMES, (n) => PRESETS[n as keyof typeof PRESETS].summary)}; it sets ` +
        '`--temperature`, `--lr-scaling`, `--color-strength`, `--crop-min-scale`, `--blur` and `--proj-layers` where ' +
        'they are not given, and the run prints what it resolved ([Presets](#presets))',
    },
  }),
  epochs: num({ kind: 'number', min: 0, minExclusive: true, max: 1e6 }, 100, {
    arg: '<n>',
    help: 'epochs (default {default})',
    readme: { meaning: 'epochs (fractions allowed)' },
  }),
  /** Global batch: source images per step; each gives two views. */
  batchSize: num(
    { kind: 'int', min: 2, max: 1 << 20, why: 'NT-Xent needs at least one other image as a negative' },
    256,
    {
      arg: '<n>',
      help: 'global batch: source images per step, two views each (default {default})',
      readme: { meaning: 'global batch: source images per step; each gives two views' },
    },
  ),
  /** An OPTIMIZERS key (src/optim/index.ts). */
  optimizer: oneOf(OPTIMIZER_NAMES, 'lars', {
    arg: '<name>',
    help: 'optimizer (default {default})',
    readme: { meaning: listed(OPTIMIZER_NAMES, (n) => OPTIMIZERS[n as keyof typeof OPTIMIZERS].summary) },
  }),
  /** Base rate before scaling: lr = base*bs/256 (linear) or base*sqrt(bs) (sqrt); null = the paper's base. */
  lr: numOrNull(B.lr, {
    arg: '<base>',
    help: 'base learning rate before batch scaling (default 0.3 linear / 0.075 sqrt)',
    readme: { default: '0.3 / 0.075', meaning: 'base rate before scaling' },
  }),
  /** null: from the preset. */
  lrScaling: orNull(
    oneOf(['linear', 'sqrt'] as const, 'linear', {
      arg: '<rule>',
      help: 'linear: base*bs/256, sqrt: base*sqrt(bs) (default: the preset)',
      readme: { default: 'preset', meaning: '`linear`: base·bs/256; `sqrt`: base·sqrt(bs)' },
    }),
  ),
  /** null = min(10, epochs/10). */
  warmupEpochs: numOrNull(
    { kind: 'number', min: 0, max: 1e6 },
    {
      arg: '<n>',
      help: 'linear warm-up epochs (default min(10, epochs/10))',
      readme: { default: 'min(10, epochs/10)', meaning: 'linear warm-up, then cosine decay to 0 without restarts' },
    },
  ),
  weightDecay: num(B.weightDecay, 1e-6, {
    arg: '<x>',
    help: 'weight decay (default 1e-6)',
    readme: { default: '1e-6', meaning: '' },
  }),
  /** The pretraining loss, a LOSSES key (src/loss/index.ts): 'ntxent' (the paper's), 'ntlogistic', 'margintriplet'. */
  loss: oneOf(LOSS_NAMES, 'ntxent', {
    arg: '<name>',
    help: 'contrastive loss (default {default})',
    readme: {
      meaning:
        `${listed(LOSS_NAMES, (n) => LOSSES[n as keyof typeof LOSSES].summary)}; the alternatives average ` +
        `each anchor's negatives, without semi-hard mining`,
    },
  }),
  /** τ of 'ntxent' and 'ntlogistic'; null: from the preset. */
  temperature: numOrNull(
    { kind: 'number', min: 0, minExclusive: true, max: 100 },
    {
      arg: '<t>',
      help: 'temperature of ntxent and ntlogistic (default: the preset)',
      readme: { default: 'preset', meaning: 'temperature of `ntxent` and `ntlogistic`' },
    },
  ),
  /** m of 'margintriplet', in cosine-similarity units. */
  margin: num({ kind: 'number', min: 0, max: 2, why: 'cosine similarities differ by at most 2' }, DEFAULT_MARGIN, {
    arg: '<m>',
    help: 'margin of margintriplet, in cosine similarity (default {default})',
    readme: { meaning: 'margin of `margintriplet`, in cosine similarity, in [0, 2]' },
  }),
  /** false: the losses score pairs by raw dot products instead of cosine similarities (paper Tables 2 and 5). */
  l2Normalize: bool(true, {
    help: 'L2-normalise z in the loss: cosine similarities (default on)',
    negate: "raw dot products z.z' in the loss instead of cosine similarities (paper Table 5)",
    readme: {
      meaning:
        "the loss compares cosine similarities of z (the paper's); `--no-l2-normalize`: raw dot products " +
        '(paper Tables 2 and 5)',
    },
  }),
  /** null: from the preset (auto: 1 for small images in short runs, else 2). */
  projLayers: numOrNull(
    { kind: 'int', min: 0, max: 16 },
    {
      arg: '<n>',
      help:
        "projection head layers: 0 = none (z = h), 1 = linear, 2 = paper's MLP, >=3 = SimCLRv2 MLP with BN " +
        '(default: the preset)',
      readme: {
        default: 'preset',
        meaning:
          "0 = no head (z = h); 1 = linear; 2 = the paper's MLP (Linear-ReLU-Linear); 3+ = SimCLRv2's MLP with BN",
      },
    },
    { modelSize: true },
  ),
  projDim: num(
    { kind: 'int', min: 1, max: 16384 },
    128,
    {
      arg: '<n>',
      help: 'projection output size (default {default})',
      readme: { meaning: 'size of z' },
    },
    { modelSize: true },
  ),
  /** null: from the preset. */
  colorStrength: numOrNull(B.colorStrength, {
    arg: '<s>',
    help: 'colour distortion strength (default: the preset)',
    readme: {
      default: 'preset',
      meaning: 'colour distortion strength s (jitter 0.8s/0.8s/0.8s/0.2s, p=0.8; grayscale p=0.2)',
    },
  }),
  /** Smallest crop area fraction of the random resized crop (the paper: 0.08); null: from the preset. */
  cropMinScale: numOrNull(B.share, {
    arg: '<x>',
    help: 'smallest random-crop area fraction (default: the preset)',
    readme: {
      default: 'preset',
      meaning: 'smallest area fraction of the random resized crop (aspect ratio 3/4 to 4/3, flip p=0.5)',
    },
  }),
  /** null: from the preset. */
  blur: orNull(
    bool(true, {
      help: 'Gaussian blur p=0.5 (default: the preset)',
      negate: 'no Gaussian blur',
      readme: { default: 'preset', meaning: 'Gaussian blur p=0.5, sigma in [0.1, 2], kernel ~10% of the side' },
    }),
  ),
  /**
   * The augmentation pipeline as a list of { op, ...options } (ops: src/augment/registry.ts), config files only;
   * null = the paper's pipeline with --color-strength, --crop-min-scale and --blur. Stored with every option filled in.
   */
  augment: parsed<AugmentStepConfig[] | null>((v) => (v === null ? null : parseAugmentSteps(v)), null),
  /**
   * The second view's augmentation list (view id 1), config files only; null = the same pipeline as the first view.
   * With it, `augment` (or the paper's pipeline) makes the first view only (the paper's one-branch ablations,
   * Figure 5).
   */
  augment2: parsed<AugmentStepConfig[] | null>((v) => (v === null ? null : parseAugmentSteps(v)), null),
  seed: num(B.seed, 0, {
    arg: '<n>',
    help: 'seed for init, data order and augmentations (default {default})',
    readme: { meaning: 'model init, data order and every augmentation' },
  }),
  maxSteps: numOrNull(B.positiveCount, {
    arg: '<n>',
    help: 'stop (with a checkpoint) after this many steps',
    readme: { meaning: 'stop after this many steps (with a checkpoint)' },
  }),
  logSteps: num(B.positiveCount, 10, {
    arg: '<n>',
    help: 'metrics.jsonl row every n steps (default {default})',
    readme: { meaning: 'a `metrics.jsonl` row every n steps, and at each epoch end' },
  }),
  /** 0 = only at epoch ends. */
  checkpointSteps: num({ kind: 'int', min: 0, max: SAFE }, 0, {
    arg: '<n>',
    help: 'also checkpoint every n steps (default: epoch ends only)',
    readme: { meaning: 'also checkpoint every n steps (always: each epoch end, the end, SIGINT/SIGTERM)' },
  }),
  threads: THREADS,
  precision: oneOf(['fp32', 'bf16'] as const, 'fp32', {
    arg: '<p>',
    help: 'fp32 or bf16 autocast (default fp32)',
    readme: {
      meaning:
        '`bf16`: autocast to bfloat16 on the training device with fp32 master weights, loss and BN statistics; ' +
        "warns on an x86 CPU without AVX512-BF16 or AMX, where libtorch emulates bf16 (measured 5-11% of fp32's " +
        'speed)',
    },
  }),
  /**
   * Where to train: 'auto' (the first visible CUDA device, or cuda:LOCAL_RANK under `simclr launch`, else the
   * CPU), 'cpu', 'cuda' or 'cuda:N'. Resolved when the run starts (torch.resolveDevice).
   */
  device: device({
    arg: '<dev>',
    help:
      'cpu | cuda | cuda:N | auto: the first visible GPU (cuda:LOCAL_RANK under launch), else the CPU (default ' +
      'auto)',
    readme: {
      meaning:
        '`cpu`, `cuda`, `cuda:N`, or `auto`: the first visible GPU (`cuda:LOCAL_RANK` under `simclr launch`) when ' +
        'the libtorch has CUDA, else the CPU; see [GPU](#gpu)',
    },
  }),
  strict: bool(false, {
    help: 'fail on unreadable images instead of skipping them',
    readme: { meaning: 'fail on unreadable images instead of skipping them' },
  }),
  /**
   * kNN monitor every n epochs (0 = off; single-process runs): the dataset's labelled train split as the memory bank
   * and its held-out test split as the queries, whatever split `data` names (src/train/setup.ts, openKnnData).
   */
  knnEvery: num({ kind: 'int', min: 0, max: SAFE }, 0, {
    arg: '<n>',
    help: 'kNN monitor (k=200, T=0.1; 10k train / 2k test samples) every n epochs into metrics.jsonl (default off)',
    readme: {
      default: 'off',
      meaning:
        'kNN monitor (k=200, T=0.1, 10k train / 2k test labelled samples) every n epochs, as `knn_top1`/`knn_top5` ' +
        'on epoch-end rows (single-process runs)',
    },
  }),
  /** Distributed runs: BatchNorm statistics over the global batch (the paper's global BN) rather than per rank. */
  syncBn: bool(true, {
    help: 'distributed runs: BatchNorm statistics over all ranks, as the paper (default on)',
    negate: 'distributed runs: BatchNorm statistics per rank',
    readme: { meaning: 'with `simclr launch`: BatchNorm statistics over all ranks (global BN) or per rank' },
  }),
};

/** Pretrain flags that are not config keys: how the run starts, and the config file itself. */
export const PRETRAIN_CLI_ONLY: readonly CliOnlyFlag[] = [
  {
    key: 'resume',
    after: 'seed',
    cli: {
      help: 'continue the run in --out from its last checkpoint, exactly',
      readme: {
        meaning:
          'continue the run in `--out` from its last checkpoint; changed settings follow [the resume ' +
          'rules](#run-folders)',
      },
    },
  },
  {
    key: 'forceResume',
    after: 'seed',
    cli: {
      help:
        'resume even with settings that change the step counter, data order, schedule or loss (--batch-size, ' +
        '--epochs, --seed, --lr, ...; README, Run folders)',
      readme: {
        meaning:
          'resume even with changes that alter the step counter, data order, schedule or loss (recorded in ' +
          '`config-history.jsonl`)',
      },
    },
  },
  {
    key: 'overwrite',
    after: 'seed',
    cli: {
      help:
        'start a new run in an --out that holds one, deleting what simclr wrote there (checkpoint, metrics, ' +
        'history, eval results, report)',
      readme: {
        meaning:
          'start a new run in an `--out` that holds one (its checkpoint, metrics and history are deleted); without ' +
          'it, that is refused',
      },
    },
  },
  configFlag(
    'JSON or YAML file with the same keys, plus augment: a list of { op, ...options } replacing the default ' +
      'augmentations (README); flags override it',
  ),
];

type Options = typeof PRETRAIN_OPTIONS;
/** The keys of the numeric pretrain options (those with a bound). */
export type BoundedKey = { [K in keyof Options]: Options[K] extends { bound: NumberBound } ? K : never }[keyof Options];

/** The numeric pretrain options' bounds, by camelCase key (the command-line parsers and resolveConfig use these). */
export const PRETRAIN_BOUNDS = boundsOf(PRETRAIN_OPTIONS) as Readonly<Record<BoundedKey, NumberBound>>;

/** The pretrain command's schema (src/run/options/index.ts lists every command's). */
export const PRETRAIN = commandSchema('pretrain', PRETRAIN_OPTIONS, PRETRAIN_CLI_ONLY);
