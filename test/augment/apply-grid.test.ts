import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import * as torch from '../../src/torch/index.js';
import { applyViews, createTwoViews, identityViewParams } from '../../src/augment/apply.js';
import { writeAugmentGrid } from '../../src/augment/grid.js';
import { defaultAugmentConfig, type AugmentConfig } from '../../src/augment/params.js';

const dir = mkdtempSync(join(tmpdir(), 'simclr-augment-grid-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The tiles' expected 8-bit pixels, as [B*S, 3S, C] bytes. */
function expectedSheet(
  images: torch.Tensor,
  cfg: AugmentConfig,
  at: { seed: number; epoch: number; indices: number[] },
): Uint8Array {
  return torch.scope(() => {
    const [b, c, h, w] = images.shape as [number, number, number, number];
    const s = cfg.outputSize;
    const tiles = [applyViews(images, identityViewParams(b, h, w), cfg), ...createTwoViews(images, cfg, at)];
    return torch
      .cat(tiles, 3)
      .permute(0, 2, 3, 1)
      .reshape(b * s, 3 * s, c)
      .mul(255)
      .round()
      .to('uint8')
      .contiguous()
      .toArray() as Uint8Array;
  });
}

for (const [channels, size] of [
  [3, 20],
  [1, 16],
] as const) {
  test(`writeAugmentGrid writes original | view 1 | view 2 per row (${channels} channel(s))`, async () => {
    const images = torch.randint(0, 256, [4, channels, 24, 28], {
      dtype: 'uint8',
      generator: new torch.Generator().manualSeed(11),
    });
    const cfg = { ...defaultAugmentConfig(size, channels === 1), blurP: 1 };
    const at = { seed: 3, epoch: 1, indices: [5, 6, 7, 8] };
    const out = join(dir, `grid-${channels}.png`);
    await writeAugmentGrid(images, cfg, at, out);

    const meta = await sharp(out).metadata();
    assert.equal(meta.format, 'png');
    assert.equal(meta.width, 3 * size);
    assert.equal(meta.height, 4 * size);
    assert.equal(meta.channels, channels);
    // Decoding widens grey to sRGB unless asked to keep it grey.
    const reader = channels === 1 ? sharp(out).toColourspace('b-w') : sharp(out);
    const { data, info } = await reader.raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.channels, channels);
    assert.deepEqual(new Uint8Array(data), expectedSheet(images, cfg, at));
    images.dispose();
  });
}
