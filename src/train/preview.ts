// `simclr augment`: a PNG of sampled images beside their two SimCLR views, so a person can check the augmentations.
import * as torch from '../torch/index.js';
import { openDataset } from '../data/spec.js';
import { epochPermutation } from '../data/loader.js';
import { writeAugmentGrid } from '../augment/grid.js';
import { resolveConfig, type PretrainConfig } from '../run/config.js';
import { viewPipelinesFor } from './setup.js';

export interface PreviewOptions {
  data: string;
  out: string;
  count: number;
  seed: number;
  colorStrength: number;
  blur: boolean;
  imageSize?: number;
  /**
   * A run's settings: its augmentation (an `augment` list, or the paper's pipeline with its --color-strength,
   * --crop-min-scale and --blur) replaces colorStrength and blur above, so a report shows what pretraining drew.
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
    const cfg = o.config ?? resolveConfig({ data: o.data, out: '.', colorStrength: o.colorStrength, blur: o.blur });
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
