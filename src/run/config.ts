// Pretraining configuration: its type, defaults and validation, all derived from the one option schema
// (src/run/options/pretrain.ts), with messages that name the field.
import type { BackboneName } from '../models/index.js';
import type { OptimizerName } from '../optim/index.js';
import type { LossName } from '../loss/index.js';
import { ConfigError } from '../errors.js';
import { sharedPrefix } from '../augment/pipeline.js';
import { specImageSize } from '../data/spec.js';
import { PRETRAIN_OPTIONS, type BoundedKey } from './options/pretrain.js';
import { boundProblems, defaultsOf, kebab, resolveFields, type ConfigOf } from './options/fields.js';
import {
  applyPreset,
  PRE_PRESET_DEFAULTS,
  PRESETS,
  type PresetContext,
  type PresetKey,
  type PresetSettings,
} from './presets.js';

/** A BACKBONES key (src/models/index.ts). */
export type Arch = BackboneName;
export type { OptimizerName, LossName };
export type Precision = PretrainConfig['precision'];

/**
 * Pretrain settings as given: each field is documented where it is defined, in PRETRAIN_OPTIONS; the preset's
 * settings (PRESET_KEYS, src/run/presets.ts) may be null, meaning "from the preset".
 */
export type PretrainOptions = ConfigOf<typeof PRETRAIN_OPTIONS>;

/** A resolved pretrain config: PretrainOptions with the preset's settings filled in. */
export type PretrainConfig = Omit<PretrainOptions, PresetKey> & PresetSettings;

/** The schema's defaults: the preset's settings are null (resolveConfig fills them from `preset`). */
export const DEFAULT_CONFIG: Readonly<Omit<PretrainOptions, 'data' | 'out'>> = defaultsOf(PRETRAIN_OPTIONS) as Omit<
  PretrainOptions,
  'data' | 'out'
>;

/** The settings of the default augmentation pipeline, which an `augment` list replaces (its ops carry them). */
export const PIPELINE_SETTINGS = ['colorStrength', 'cropMinScale', 'blur'] as const;

/** What the preset of a config looks at: the side of its images (known from the data spec), its batch and epochs. */
export function presetContext(
  cfg: Pick<PretrainOptions, 'data' | 'imageSize' | 'batchSize' | 'epochs'>,
): PresetContext {
  return { imageSize: specImageSize(cfg.data, cfg.imageSize), batchSize: cfg.batchSize, epochs: cfg.epochs };
}

// A configuration problem the user can fix (exit code 2); defined with the other typed errors in src/errors.ts.
export { ConfigError, kebab };

/**
 * The fields of a resolved config outside today's training bounds, each as its one-line message: none for a config
 * resolveConfig made for training; possibly some for a stored one (made by an older simclr).
 */
export function trainingBoundProblems(cfg: PretrainConfig): { key: BoundedKey; message: string }[] {
  return boundProblems(PRETRAIN_OPTIONS, cfg) as { key: BoundedKey; message: string }[];
}

/**
 * Merges defaults with the given values (an undefined value counts as not given) and checks every field: types
 * exactly (a string "32" is not a number, "yes" is not a boolean) and numbers against their bounds
 * (PRETRAIN_OPTIONS); then fills the settings left null from the preset (applyPreset, src/run/presets.ts). A stored
 * config without a `preset` (made before presets) fills what it lacks with PRE_PRESET_DEFAULTS instead.
 * With `stored` (a run's recorded settings, read by info, eval, export, report and before a resume) numbers are
 * checked for type and sign only (storedBound): a run an older simclr made with a value today's bounds refuse still
 * opens; pretrain() checks the bounds of what it is about to train.
 * @throws ConfigError naming the option, for unknown keys (all of them at once) and for any value out of its type or
 *   bounds. Whether --epochs gives at least one step depends on the data, so pretrain() checks that when it opens it.
 */
export function resolveConfig(values: Record<string, unknown>, opts: { stored?: boolean } = {}): PretrainConfig {
  const given = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
  // A run stored before presets existed took the defaults of its day for what it does not record.
  if (opts.stored === true && given.preset === undefined)
    for (const [k, v] of Object.entries(PRE_PRESET_DEFAULTS)) given[k] ??= v;
  const c = { ...DEFAULT_CONFIG, ...given } as Record<string, unknown>;
  const o = resolveFields(PRETRAIN_OPTIONS, c, opts.stored === true, (m) => new ConfigError(m));
  const ctx = presetContext(o);
  const cfg = { ...o, ...applyPreset(o.preset, ctx, o).settings } as PretrainConfig;
  // An augment list replaces the flags that shape the default pipeline, so those must be left to the preset. Not
  // checked for a stored config (it was when the run began, against the preset of its day; pretrain --resume checks
  // what is given then), nor where the image size, and so the preset's choice, is unknown (a --config file alone).
  if (cfg.augment !== null && opts.stored !== true && ctx.imageSize !== null) {
    const preset = PRESETS[o.preset].settings(ctx);
    const set = PIPELINE_SETTINGS.filter((k) => o[k] !== null && o[k] !== preset[k]);
    if (set.length > 0)
      throw new ConfigError(
        `${set.map((k) => `--${kebab(k)}`).join(', ')} cannot be combined with an augment list: set the options of ` +
          `its ops instead`,
      );
  }
  // Shared steps give both views the same parameters only when both lists start with the same ones.
  if (cfg.augment2 !== null && sharedPrefix(cfg.augment2) !== sharedPrefix(cfg.augment ?? [])) {
    throw new ConfigError(
      `augment2 must start with the same shared steps as augment (${sharedPrefix(cfg.augment ?? [])}), ` +
        `got ${sharedPrefix(cfg.augment2)}`,
    );
  }
  return cfg;
}
