// Training presets: the settings a pretraining run takes from `--preset` where the user leaves them unset (null).
// `auto` (the default) chooses from the images and the batch, from the paper's advice for small images, small
// batches and short runs and from what the studies measured here (docs/STUDY.md); `paper` is the paper's ImageNet
// recipe. A preset is one entry of PRESETS; the settings it governs are PRESET_KEYS.
import { DEFAULT_BASE_LR, scaledLearningRate } from '../optim/schedule.js';

/** The pretrain settings a preset fills in where they are null (not given by a flag, a config file or a run). */
export const PRESET_KEYS = ['temperature', 'lrScaling', 'colorStrength', 'cropMinScale', 'blur', 'projLayers'] as const;
export type PresetKey = (typeof PRESET_KEYS)[number];

/** The values of PRESET_KEYS: NT-Xent/NT-Logistic temperature, lr scaling rule, augmentation strength, head depth. */
export interface PresetSettings {
  temperature: number;
  lrScaling: 'linear' | 'sqrt';
  colorStrength: number;
  cropMinScale: number;
  blur: boolean;
  /** Projection head layers (--proj-layers): 1 = linear, 2 = the paper's MLP. */
  projLayers: number;
}

/**
 * What a preset may look at: the training images' side in px (null: not known from the data spec), the batch and the
 * run's length in epochs.
 */
export interface PresetContext {
  imageSize: number | null;
  batchSize: number;
  epochs: number;
}

export interface Preset {
  /** One line for the flag's help and the README. */
  summary: string;
  settings(ctx: PresetContext): PresetSettings;
  /** Why these settings for this context, one short phrase (printed at the start of a run). */
  reason(ctx: PresetContext): string;
}

/** Images at most this side (px) count as small: CIFAR-10's 32 and Fashion-MNIST's 28 (paper Appendix B.9). */
export const SMALL_IMAGE_MAX = 32;

/**
 * At and below this batch, square-root lr scaling (0.075 x sqrt(bs)); above it, linear (0.3 x bs/256). The two rules
 * give the same peak rate, 4.8, at 4096, the paper's default batch; below it sqrt gives the larger rate that the
 * paper's Appendix B.1 (Figure B.1) found better for small batches and short training.
 */
export const SQRT_SCALING_MAX_BATCH = 4096;

/**
 * Runs of at most this many epochs count as short, where `auto` gives small images a linear projection head. Measured
 * on Fashion-MNIST at 1 and 5 epochs (docs/STUDY.md, Defaults), not between 5 and 10; the paper's nonlinear-head
 * advantage (Figure 8) is a finding at 100 epochs and more, with the head trained to convergence.
 */
export const SHORT_RUN_MAX_EPOCHS = 10;

const small = (ctx: PresetContext): boolean => ctx.imageSize !== null && ctx.imageSize <= SMALL_IMAGE_MAX;
const shortSmall = (ctx: PresetContext): boolean => small(ctx) && ctx.epochs <= SHORT_RUN_MAX_EPOCHS;

/**
 * `auto`:
 * - temperature 0.1: Table 5's best in the paper, and the best of the temperature study here (docs/STUDY.md); one
 *   epoch of Fashion-MNIST (MLP head) gained 2.4 kNN points over the 1-step encoder at 0.1 against 1.3 at 0.2, where
 *   the old default 0.5 (the paper's CIFAR-10 choice for 1000 epochs, Appendix B.9) lost 0.8 (docs/STUDY.md,
 *   Defaults).
 * - square-root lr scaling up to batch 4096 (SQRT_SCALING_MAX_BATCH), linear above.
 * - small images (<= 32 px): colour strength 0.5 and no blur, the paper's CIFAR-10 setting (Appendix B.9); crops of
 *   at least 25% of the area, since 8% of a 28 px image is 8 x 8 px (the demo's tuning; in one epoch of
 *   Fashion-MNIST crops from 8% did as well, within noise: docs/STUDY.md, Defaults).
 * - small images in short runs (<= SHORT_RUN_MAX_EPOCHS epochs): a linear projection head. With the paper's MLP the
 *   encoder's own features h learn more slowly here: the head study at 100 steps, one epoch of Fashion-MNIST (three
 *   seeds, +0.6 points on average) and five epochs (one seed, +0.6) put the linear head ahead; at 400 steps the head
 *   study found them level (docs/STUDY.md, Defaults). Longer runs get the paper's 2-layer MLP.
 * - larger images: the paper's ImageNet augmentation (strength 1, blur, crops from 8%) and its MLP head.
 */
const auto: Preset = {
  summary:
    'chosen from the image size, batch and epochs: small images get CIFAR-style augmentation (and a linear head in ' +
    'short runs); sqrt lr scaling',
  settings: (ctx) => ({
    temperature: 0.1,
    lrScaling: ctx.batchSize <= SQRT_SCALING_MAX_BATCH ? 'sqrt' : 'linear',
    ...(small(ctx)
      ? { colorStrength: 0.5, cropMinScale: 0.25, blur: false }
      : { colorStrength: 1, cropMinScale: 0.08, blur: true }),
    projLayers: shortSmall(ctx) ? 1 : 2,
  }),
  reason: (ctx) => {
    const size = ctx.imageSize === null ? 'images of unknown size' : `${ctx.imageSize} px images`;
    const kind = small(ctx)
      ? `small-image augmentation${shortSmall(ctx) ? ', short run' : ''}`
      : 'ImageNet augmentation';
    return `${size}, batch ${ctx.batchSize}, ${ctx.epochs} epoch${ctx.epochs === 1 ? '' : 's'}: ${kind}`;
  },
};

/**
 * `paper`: the ImageNet recipe of the paper's section 2.3 and google-research/simclr's ImageNet command: LARS at
 * 0.3 x bs/256, temperature 0.1 (Table 5's best), colour strength 1, Gaussian blur, crops from 8% of the area, the
 * 2-layer MLP head (section 2.1).
 */
const paper: Preset = {
  summary:
    "the paper's ImageNet recipe: temperature 0.1, linear lr scaling, colour strength 1, blur, crops from 8%, MLP head",
  settings: () => ({
    temperature: 0.1,
    lrScaling: 'linear',
    colorStrength: 1,
    cropMinScale: 0.08,
    blur: true,
    projLayers: 2,
  }),
  reason: () => "the paper's ImageNet recipe",
};

/**
 * The defaults before presets (simclr 0.1 up to issue 13): a stored run config without a `preset` key was made with
 * these where it lacks a key, whatever a preset would choose today.
 */
export const PRE_PRESET_DEFAULTS: Readonly<PresetSettings> = {
  temperature: 0.5,
  lrScaling: 'linear',
  colorStrength: 1,
  cropMinScale: 0.08,
  blur: true,
  projLayers: 2,
};

/** The presets by name; `auto` is the default. */
export const PRESETS = { auto, paper } as const satisfies Record<string, Preset>;
export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

/**
 * Fills the preset's settings into `values` where they are null or absent; values given stay as they are.
 * @returns the settings, and which of PRESET_KEYS came from the preset.
 */
export function applyPreset(
  name: PresetName,
  ctx: PresetContext,
  values: Partial<Record<PresetKey, unknown>>,
): { settings: Record<PresetKey, unknown>; fromPreset: PresetKey[] } {
  const preset = PRESETS[name].settings(ctx);
  const settings = {} as Record<PresetKey, unknown>;
  const fromPreset: PresetKey[] = [];
  for (const k of PRESET_KEYS) {
    const given = values[k];
    if (given === null || given === undefined) {
      settings[k] = preset[k];
      fromPreset.push(k);
    } else settings[k] = given;
  }
  return { settings, fromPreset };
}

/** The projection head as the settings line names it (--proj-layers). */
function headName(layers: number): string {
  if (layers === 0) return 'no head';
  if (layers === 1) return 'linear head';
  return layers === 2 ? 'MLP head' : `${layers}-layer MLP head`;
}

/**
 * The resolved settings as one line for the start of a run: 'preset auto (28 px images, batch 256, 1 epoch:
 * small-image augmentation, short run): temperature 0.1, lr 0.075 x sqrt(256) = 1.2, colour strength 0.5, crops >= 25%,
 * no blur, linear head', each setting that is not the preset's choice marked '(set)': given now (`given`: config
 * keys), or the run's own (a resumed run made with other settings, or before presets).
 */
export function describeSettings(
  cfg: PresetSettings & { preset: PresetName; batchSize: number; lr: number | null },
  ctx: PresetContext,
  given: readonly string[] = [],
): string {
  const own = PRESETS[cfg.preset].settings(ctx);
  const mark = (keys: readonly string[], text: string): string =>
    keys.some((k) => given.includes(k) || (k in own && own[k as PresetKey] !== cfg[k as PresetKey])) ||
    (keys.includes('lr') && cfg.lr !== null)
      ? `${text} (set)`
      : text;
  const base = cfg.lr ?? DEFAULT_BASE_LR[cfg.lrScaling];
  const peak = scaledLearningRate(cfg.batchSize, { scaling: cfg.lrScaling, baseLr: base });
  const rule = cfg.lrScaling === 'sqrt' ? `${base} x sqrt(${cfg.batchSize})` : `${base} x ${cfg.batchSize}/256`;
  const parts = [
    mark(['temperature'], `temperature ${cfg.temperature}`),
    mark(['lrScaling', 'lr'], `lr ${rule} = ${Number(peak.toPrecision(3))}`),
    mark(['colorStrength'], `colour strength ${cfg.colorStrength}`),
    mark(['cropMinScale'], `crops >= ${Number((cfg.cropMinScale * 100).toPrecision(3))}%`),
    mark(['blur'], cfg.blur ? 'blur' : 'no blur'),
    mark(['projLayers'], headName(cfg.projLayers)),
  ];
  return `preset ${cfg.preset} (${PRESETS[cfg.preset].reason(ctx)}): ${parts.join(', ')}`;
}
