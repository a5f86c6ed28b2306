// A PNG contact sheet for eyeballing the augmentation: one row per image, original | view 1 | view 2.

import sharp from 'sharp';
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { applyIdentity, createTwoViews, viewPipelines, type ViewAugmentations, type ViewSeed } from './apply.js';

/** 8-bit interleaved pixels, row-major [height, width, channels]: the layout of sharp's raw input. */
export interface RawImage {
  pixels: Buffer;
  width: number;
  height: number;
  channels: 1 | 3;
}

/** Lays out float [B,C,S,S] tiles (values in [0, 1]) side by side, one row of tiles per image. */
export function tileRows(tiles: readonly Tensor[]): RawImage {
  return torch.scope(() => {
    const [b, c, s] = tiles[0]!.shape as [number, 1 | 3, number, number];
    const sheet = torch
      .cat(tiles, 3)
      .permute(0, 2, 3, 1)
      .reshape(b * s, tiles.length * s, c);
    const bytes = sheet.mul(255).round().clamp(0, 255).to('uint8').cpu().contiguous().toArray() as Uint8Array;
    return {
      pixels: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      width: tiles.length * s,
      height: b * s,
      channels: c,
    };
  });
}

/** Writes the sheet for uint8 [B,C,H,W] images (C = 1 or 3) to outPath as PNG: width 3S, height B*S. */
export async function writeAugmentGrid(
  images: Tensor,
  aug: ViewAugmentations,
  at: ViewSeed,
  outPath: string,
): Promise<void> {
  const sheet = torch.scope(() => {
    return tileRows([applyIdentity(images, viewPipelines(aug)[0]), ...createTwoViews(images, aug, at)]);
  });
  const png = sharp(sheet.pixels, { raw: { width: sheet.width, height: sheet.height, channels: sheet.channels } });
  // sharp widens one-channel input to sRGB unless told to keep it grey.
  await (sheet.channels === 1 ? png.toColourspace('b-w') : png).png().toFile(outPath);
}
