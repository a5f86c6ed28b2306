// Issue 15, item 12: one colour formula. A colour image decoded for a one-channel run, the grayscale augmentation
// (tensor ops and the fused kernel) and PIL's convert('L') (test/golden/colour.json, from gen_colour.py) agree.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import * as torch from '../../src/torch/index.js';
import { applyViews, identityViewParams } from '../../src/augment/apply.js';
import { defaultAugmentConfig } from '../../src/augment/params.js';
import { LUMA_WEIGHTS, lumaByte, rgbToGray } from '../../src/data/colour.js';
import { openImageFolder } from '../../src/data/folder.js';
import { scratchDir } from './tmp.js';

interface Golden {
  width: number;
  height: number;
  rgb: number[];
  gray: number[];
}

/** test/golden/colour.json, found from both test/data (tsx) and dist/test/data (compiled). */
function loadGolden(): Golden {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const p = join(dir, 'test', 'golden', 'colour.json');
    if (existsSync(p)) return JSON.parse(readFileSync(p, 'utf8')) as Golden;
  }
  throw new Error('test/golden/colour.json not found; run /usr/bin/python3 test/golden/gen_colour.py');
}
const golden = loadGolden();
const count = golden.width * golden.height;

test('the uint8 luma is PIL\'s convert("L") on every golden pixel, rounding ties as PIL does', () => {
  assert.deepEqual(LUMA_WEIGHTS, [0.299, 0.587, 0.114]);
  assert.deepEqual(Array.from(rgbToGray(Uint8Array.from(golden.rgb), count)), golden.gray);
  assert.equal(lumaByte(255, 255, 255), 255);
  // An alpha channel is ignored, as PIL's RGBA -> L.
  const rgba = new Uint8Array(count * 4);
  for (let p = 0; p < count; p++) rgba.set([...golden.rgb.slice(p * 3, p * 3 + 3), 17], p * 4);
  assert.deepEqual(Array.from(rgbToGray(rgba, count, 4)), golden.gray);
  assert.throws(() => rgbToGray(new Uint8Array(5), 2), RangeError);
});

test("a colour image decoded for a one-channel run is PIL's gray, and the grayscale augmentation agrees", async () => {
  const tmp = scratchDir('colour');
  const root = join(tmp, 'set');
  const { width, height } = golden;
  mkdirSync(root);
  await sharp(Buffer.from(golden.rgb), { raw: { width, height, channels: 3 } })
    .png()
    .toFile(join(root, 'img.png'));
  const cacheDir = join(tmp, 'cache');

  // Same size: no resampling, so three channels give back the golden RGB exactly.
  const colour = await openImageFolder(root, { imageSize: width, cacheDir });
  const chw = new Uint8Array(3 * count);
  colour.readBatch([0], chw);
  colour.close();
  const hwc = new Uint8Array(3 * count);
  for (let p = 0; p < count; p++) for (let c = 0; c < 3; c++) hwc[p * 3 + c] = chw[c * count + p]!;
  assert.deepEqual(Array.from(hwc), golden.rgb);

  const gray = await openImageFolder(root, { imageSize: width, grayscale: true, cacheDir });
  const decoded = new Uint8Array(count);
  gray.readBatch([0], decoded);
  gray.close();
  assert.deepEqual(Array.from(decoded), golden.gray, "decoded gray is PIL's");

  // The augmentation's grayscale on the same RGB (identity view otherwise): the same gray before rounding to bytes.
  const cfg = defaultAugmentConfig(width, false);
  for (const implementation of ['tensor', 'fused'] as const) {
    torch.scope(() => {
      const images = torch.tensor(chw, { shape: [1, 3, height, width] });
      const params = identityViewParams(1, height, width);
      params.grayscale[0] = 1;
      const views = applyViews(images, params, cfg, { implementation });
      const red = views.select(1, 0).contiguous().toArray() as Float32Array;
      let worst = 0;
      for (let p = 0; p < count; p++) worst = Math.max(worst, Math.abs(red[p]! * 255 - golden.gray[p]!));
      assert.ok(worst <= 0.5 + 1e-3, `${implementation}: ${worst} levels from PIL's gray`);
    });
  }
});
