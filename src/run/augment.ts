// A run's augmentations: the pipeline its settings give (an `augment` list, or the paper's pipeline with
// --color-strength, --crop-min-scale and --blur), and `simclr augment`'s PNG of sampled images beside their two views,
// which the report draws too. Shared by train/ and eval/, so it sits below both.
import * as torch from '../torch/index.js';
import { openDataset } from '../data/spec.js';
import { epochPermutation } from '../data/loader.js';
import { writeAugmentGrid } from '../augment/grid.js';
import { resolveConfig, type PretrainConfig } from './config.js';
import type { PresetName } from './presets.js';
import { configSteps, defaultAugmentConfig } from '../augment/params.js';
import { describePipeline, resolvePipeline, type AugmentPipeline } from '../augment/pipeline.js';

/**
 * The run's augmentation pipeline for its data: cfg.augment, or the paper's with --color-strength, --crop-min-scale
 * and --blur. Throws ConfigError for an augment list that does not fit the data (rotation before the crop on
 * non-square images is found when sampling).
 */
export function augmentPipelineFor(cfg: PretrainConfig, ds: { channels: number; height: number }): AugmentPipeline {
  const channels = ds.channels === 1 ? 1 : 3;
  if (cfg.augment !== null) return resolvePipeline(cfg.augment, ds.height, channels);
  const aug = defaultAugmentConfig(ds.height, channels === 1);
  aug.colorStrength = cfg.colorStrength;
  aug.cropScale = [cfg.cropMinScale, 1];
  if (!cfg.blur) aug.blurP = 0;
  return resolvePipeline(configSteps(aug), ds.height, channels);
}

/**
 * The pipelines of view 0 and view 1: augmentPipelineFor's for both, or with cfg.augment2 that list for view 1
 * (the same object twice when there is no augment2, so the fused kernel makes both views in one call).
 */
export function viewPipelinesFor(
  cfg: PretrainConfig,
  ds: { channels: number; height: number },
): [AugmentPipeline, AugmentPipeline] {
  const first = augmentPipelineFor(cfg, ds);
  if (cfg.augment2 === null) return [first, first];
  return [first, resolvePipeline(cfg.augment2, ds.height, ds.channels === 1 ? 1 : 3)];
}

/** The ops of the run's views in order, as info and the report show them ('view 1: ...; view 2: ...' with augment2). */
export function describeViews(cfg: PretrainConfig, ds: { channels: number; height: number }): string {
  const [a, b] = viewPipelinesFor(cfg, ds);
  return a === b ? describePipeline(a) : `view 1: ${describePipeline(a)}; view 2: ${describePipeline(b)}`;
}

export interface PreviewOptions {
  data: string;
  out: string;
  count: number;
  seed: number;
  /** Where the augmentation settings left null come from (src/run/presets.ts); default 'auto', as pretrain. */
  preset?: PresetName;
  colorStrength?: number | null;
  cropMinScale?: number | null;
  blur?: boolean | null;
  imageSize?: number;
  /**
   * A run's settings: its augmentation (an `augment` list, or the paper's pipeline with its --color-strength,
   * --crop-min-scale and --blur) replaces preset, colorStrength, cropMinScale and blur above, so a report shows what
   * pretraining drew.
   */
  config?: PretrainConfig;
}

export async function writeAugmentationGrid(o: PreviewOptions): Promise<void> {
  const ds = await openDataset(o.data, { split: 'train', ...(o.imageSize ? { imageSize: o.imageSize } : {}) });
  try {
    const count = Math.min(o.count, ds.length);
    const indices = epochPermutation(ds.length, o.seed, 0).slice(0, count);
    const bytes = new Uint8Array(count * ds.channels * ds.height * ds.width);
    ds.readBatch(indices, bytes);
    const { preset, colorStrength, cropMinScale, blur } = o;
    const cfg =
      o.config ??
      resolveConfig({ data: o.data, out: '.', imageSize: o.imageSize, preset, colorStrength, cropMinScale, blur });
    const aug = viewPipelinesFor(cfg, ds);
    const images = torch.tensor(bytes, { shape: [count, ds.channels, ds.height, ds.width] });
    try {
      await writeAugmentGrid(images, aug, { seed: o.seed, epoch: 0, indices }, o.out);
    } finally {
      images.dispose();
    }
  } finally {
    ds.close();
  }
}
