import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import {
  applyViews,
  createTwoViews,
  createViewBatch,
  identityViewParams,
  type ApplyOptions,
} from '../../src/augment/apply.js';
import {
  blurKernelSize,
  defaultAugmentConfig,
  sampleViewParams,
  type AugmentConfig,
  type ViewParams,
} from '../../src/augment/params.js';

/** Both implementations answer to the same references: the fused CPU kernel and the batched tensor ops. */
const IMPLEMENTATIONS: readonly NonNullable<ApplyOptions['implementation']>[] = ['fused', 'tensor'];

interface GoldenCase {
  name: string;
  image: string;
  sample: number;
  size: number;
  kernel: number;
  params: {
    crop: [number, number, number, number];
    flip: number;
    jitter: number;
    order: [number, number, number, number];
    factors: [number, number, number, number];
    grayscale: number;
    sigma: number;
    solarize: number;
  };
  expected: number[];
}
interface Golden {
  images: Record<string, { shape: [number, number, number, number]; data: number[] }>;
  cases: GoldenCase[];
}

/** test/golden/augment.json, found from both test/augment (tsx) and dist/test/augment (compiled). */
function loadGolden(): Golden {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    const p = join(dir, 'test', 'golden', 'augment.json');
    if (existsSync(p)) return JSON.parse(readFileSync(p, 'utf8')) as Golden;
  }
  throw new Error('test/golden/augment.json not found; run /usr/bin/python3 test/golden/gen_augment.py');
}
const golden = loadGolden();

/**
 * Tolerances (max abs difference; values in [0, 1]). Both sides run float32 with the same formulas, so most cases
 * agree to rounding (largest seen 1.3e-6). Ops built on luma (contrast, saturation, grayscale) use 0.299 for red
 * where torchvision's tensor path uses 0.2989: up to 1e-4 per step (largest seen 1.0e-4); with 0.2989 swapped in,
 * every case agrees within 1.7e-6.
 */
const TOL_EXACT = 3e-6;
const TOL_LUMA = 2e-4;

function usesLuma(c: GoldenCase): boolean {
  const p = c.params;
  if (golden.images[c.image]!.shape[1] !== 3) return false;
  return p.grayscale === 1 || (p.jitter === 1 && (p.factors[1] !== 1 || p.factors[2] !== 1));
}

function cfgFor(size: number, channels: number): AugmentConfig {
  return defaultAugmentConfig(size, channels === 1);
}

/** ViewParams for a list of golden cases, one view each. */
function paramsFor(cases: readonly GoldenCase[]): ViewParams {
  const first = golden.images[cases[0]!.image]!.shape;
  const p = identityViewParams(cases.length, first[2], first[3]);
  cases.forEach((c, b) => {
    const q = c.params;
    p.crop.set(q.crop, b * 4);
    p.flip[b] = q.flip;
    p.jitter[b] = q.jitter;
    [p.brightness[b], p.contrast[b], p.saturation[b], p.hue[b]] = q.factors;
    p.jitterOrder.set(q.order, b * 4);
    p.grayscale[b] = q.grayscale;
    p.blurSigma[b] = q.sigma;
    p.solarize[b] = q.solarize;
  });
  return p;
}

/** uint8 [n,C,H,W] holding the golden source images of these cases, in order. */
function sourcesFor(cases: readonly GoldenCase[]): Tensor {
  const img = golden.images[cases[0]!.image]!;
  const all = torch.tensor(Uint8Array.from(img.data), { shape: img.shape });
  const index = torch.tensor(BigInt64Array.from(cases, (c) => BigInt(c.sample)));
  return all.indexSelect(0, index);
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return torch.scope(() => a.sub(b).abs().max().item());
}

function expectedOf(c: GoldenCase): Tensor {
  const channels = golden.images[c.image]!.shape[1];
  return torch.tensor(Float32Array.from(c.expected), { shape: [1, channels, c.size, c.size] });
}

for (const implementation of IMPLEMENTATIONS) {
  test(`${implementation}: each transform matches torchvision for fixed parameters`, () => {
    for (const c of golden.cases) {
      torch.scope(() => {
        const channels = golden.images[c.image]!.shape[1];
        assert.equal(blurKernelSize(c.size), c.kernel, `${c.name}: kernel size`);
        const out = applyViews(sourcesFor([c]), paramsFor([c]), cfgFor(c.size, channels), { implementation });
        assert.deepEqual(out.shape, [1, channels, c.size, c.size], c.name);
        const tol = usesLuma(c) ? TOL_LUMA : TOL_EXACT;
        const diff = maxAbsDiff(out, expectedOf(c));
        assert.ok(diff <= tol, `${c.name}: max |diff| ${diff} > ${tol}`);
      });
    }
  });

  test(`${implementation}: jitter order matters and each sample follows its own order within one batch`, () => {
    torch.scope(() => {
      const byName = (n: string): GoldenCase => golden.cases.find((c) => c.name === n)!;
      const cases = ['order-a', 'order-b', 'order-c', 'hue-pos', 'identity'].map(byName);
      // The references differ, so matching each one exercises the per-order masking.
      assert.ok(maxAbsDiff(expectedOf(cases[0]!), expectedOf(cases[1]!)) > 0.05);
      const out = applyViews(sourcesFor(cases), paramsFor(cases), cfgFor(16, 3), { implementation });
      cases.forEach((c, b) => {
        const diff = maxAbsDiff(out.narrow(0, b, 1), expectedOf(c));
        assert.ok(diff <= (usesLuma(c) ? TOL_LUMA : TOL_EXACT), `${c.name}: max |diff| ${diff}`);
      });
    });
  });

  test(`${implementation}: a sample's output does not depend on its batch companions`, () => {
    torch.scope(() => {
      for (const [image, size] of [
        ['rgb', 16],
        ['gray', 16],
        ['rgb', 12],
      ] as const) {
        const cases = golden.cases.filter((c) => c.image === image && c.size === size);
        assert.ok(cases.length >= 2);
        const cfg = cfgFor(size, golden.images[image]!.shape[1]);
        const batch = applyViews(sourcesFor(cases), paramsFor(cases), cfg, { implementation });
        cases.forEach((c, b) => {
          const alone = applyViews(sourcesFor([c]), paramsFor([c]), cfg, { implementation });
          assert.ok(maxAbsDiff(batch.narrow(0, b, 1), alone) <= 1e-6, `${image}/${c.name}`);
        });
      }
    });
  });
}

test('the fused kernel and the tensor ops agree on random views of every kind', () => {
  // Sizes cover up- and downscaling, odd sides, both channel counts and kernel sizes 3 to 9; strength 2.5 with
  // every transform likely exercises the clamps. The gap is float rounding (largest seen 4e-5, at 96 px).
  for (const [n, src, out, channels] of [
    [24, 96, 96, 3],
    [24, 32, 32, 3],
    [24, 28, 28, 1],
    [16, 40, 24, 3],
    [12, 20, 33, 3],
    [12, 17, 50, 1],
  ] as const) {
    torch.scope(() => {
      const gen = new torch.Generator().manualSeed(n * src + out);
      const images = torch.randint(0, 256, [n, channels, src, src], { dtype: 'uint8', generator: gen });
      const cfg: AugmentConfig = {
        ...defaultAugmentConfig(out, channels === 1),
        colorStrength: 2.5,
        blurP: 0.7,
        solarizeP: 0.3,
      };
      const params = sampleViewParams(
        cfg,
        src,
        src,
        11,
        0,
        Array.from({ length: n }, (_, i) => i),
        0,
      );
      const fused = applyViews(images, params, cfg, { implementation: 'fused' });
      const tensor = applyViews(images, params, cfg, { implementation: 'tensor' });
      const diff = maxAbsDiff(fused, tensor);
      assert.ok(diff <= 1e-4, `${n}x${channels}x${src}->${out}: max |diff| ${diff}`);
      assert.ok(fused.min().item() >= 0 && fused.max().item() <= 1);
    });
  }
});

test('a view batch holds every first view, then every second, in the layout asked for', () => {
  torch.scope(() => {
    const images = torch.randint(0, 256, [5, 3, 30, 30], {
      dtype: 'uint8',
      generator: new torch.Generator().manualSeed(4),
    });
    const cfg = defaultAugmentConfig(24, false);
    const at = { seed: 3, epoch: 1, indices: [4, 8, 15, 16, 23] };
    const norm = { mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3] };
    for (const implementation of IMPLEMENTATIONS) {
      const batch = createViewBatch(images, cfg, at, { implementation, memoryFormat: 'channelsLast', normalize: norm });
      assert.deepEqual(batch.shape, [10, 3, 24, 24]);
      assert.ok(batch.isContiguous('channelsLast'), implementation);
      const [v1, v2] = createTwoViews(images, cfg, at, { implementation, normalize: norm });
      assert.ok(v1!.isContiguous(), implementation);
      assert.ok(
        maxAbsDiff(batch.narrow(0, 0, 5), v1!) <= 1e-6 && maxAbsDiff(batch.narrow(0, 5, 5), v2!) <= 1e-6,
        implementation,
      );
    }
  });
});

test('the fused kernel and the tensor ops agree on non-square images and one-pixel crops at every edge', () => {
  torch.scope(() => {
    const [h, w] = [13, 21];
    const images = torch.randint(0, 256, [8, 3, h, w], {
      dtype: 'uint8',
      generator: new torch.Generator().manualSeed(8),
    });
    const cfg: AugmentConfig = { ...defaultAugmentConfig(9, false), blurP: 1 };
    const p = sampleViewParams(cfg, h, w, 2, 0, [0, 1, 2, 3, 4, 5, 6, 7], 0);
    // x0, y0, width, height: single columns and rows at the right, bottom, left and top edges, a single pixel in the
    // bottom-right corner, the whole image, a tall and a wide strip.
    const boxes = [
      [w - 1, 0, 1, h],
      [0, h - 1, w, 1],
      [0, 0, 1, h],
      [0, 0, w, 1],
      [w - 1, h - 1, 1, 1],
      [0, 0, w, h],
      [5, 0, 3, h],
      [0, 4, w, 2],
    ];
    boxes.forEach((box, b) => {
      p.crop.set(box, b * 4);
    });
    for (let b = 0; b < 8; b++) p.flip[b] = b % 2;
    const diff = maxAbsDiff(
      applyViews(images, p, cfg, { implementation: 'fused' }),
      applyViews(images, p, cfg, { implementation: 'tensor' }),
    );
    assert.ok(diff <= 1e-4, `max |diff| ${diff}`);
  });
});

test('the fused kernel names a crop box it cannot use, and a blur too wide only where a view blurs', () => {
  torch.scope(() => {
    const images = torch.zeros([2, 3, 8, 8], { dtype: 'uint8' });
    const cfg = defaultAugmentConfig(8, false);
    const p = identityViewParams(2, 8, 8);
    p.crop.set([4, 0, 6, 8], 4);
    assert.throws(
      () => applyViews(images, p, cfg, { implementation: 'fused' }),
      /view 1 crop box is outside the 8x8 image/,
    );
    p.crop.set([0.5, 0, 6, 8], 4);
    assert.throws(
      () => applyViews(images, p, cfg, { implementation: 'fused' }),
      /view 1 crop box is not in whole pixels/,
    );
    // A 1-pixel output has a 3-tap blur kernel: fine until a view blurs.
    const tiny = defaultAugmentConfig(1, false);
    const q = identityViewParams(2, 8, 8);
    assert.deepEqual(applyViews(images, q, tiny, { implementation: 'fused' }).shape, [2, 3, 1, 1]);
    q.blurSigma[1] = 1;
    assert.throws(
      () => applyViews(images, q, tiny, { implementation: 'fused' }),
      /view 1 blurs with a 3-tap kernel, too wide for 1-pixel views/,
    );
  });
});

test('one-channel input ignores saturation and hue factors', () => {
  torch.scope(() => {
    const c = golden.cases.find((g) => g.name === 'gray-all')!;
    const p = paramsFor([c]);
    const base = applyViews(sourcesFor([c]), p, cfgFor(c.size, 1));
    p.saturation[0] = 1.7;
    p.hue[0] = 0.3;
    p.grayscale[0] = 1;
    assert.equal(maxAbsDiff(applyViews(sourcesFor([c]), p, cfgFor(c.size, 1)), base), 0);
  });
});

test('random views: shape, dtype, [0, 1] range, determinism, two distinct views', () => {
  torch.scope(() => {
    const gen = new torch.Generator().manualSeed(7);
    const images = torch.randint(0, 256, [6, 3, 24, 20], { dtype: 'uint8', generator: gen });
    const cfg: AugmentConfig = { ...defaultAugmentConfig(14, false), colorStrength: 2.5, blurP: 1, solarizeP: 0.5 };
    const at = { seed: 99, epoch: 2, indices: [10, 11, 12, 13, 14, 15] };
    const [v1, v2] = createTwoViews(images, cfg, at);
    for (const v of [v1, v2]) {
      assert.deepEqual(v.shape, [6, 3, 14, 14]);
      assert.equal(v.dtype, 'float32');
      assert.ok(v.min().item() >= 0 && v.max().item() <= 1);
    }
    assert.ok(maxAbsDiff(v1, v2) > 0.1);
    const [again] = createTwoViews(images, cfg, at);
    assert.equal(maxAbsDiff(again!, v1), 0);

    const gray = torch.randint(0, 256, [3, 1, 28, 28], { dtype: 'uint8', generator: gen });
    const [g1] = createTwoViews(gray, defaultAugmentConfig(20, true), { seed: 1, epoch: 0, indices: [0, 1, 2] });
    assert.deepEqual(g1!.shape, [3, 1, 20, 20]);
    assert.ok(g1!.min().item() >= 0 && g1!.max().item() <= 1);
  });
});

test('optional normalisation is (x - mean) / std per channel', () => {
  torch.scope(() => {
    const images = torch.randint(0, 256, [2, 3, 16, 16], {
      dtype: 'uint8',
      generator: new torch.Generator().manualSeed(3),
    });
    const cfg = defaultAugmentConfig(16, false);
    const at = { seed: 5, epoch: 0, indices: [0, 1] };
    const mean = [0.4, 0.5, 0.6],
      std = [0.2, 0.25, 0.3];
    const [plain] = createTwoViews(images, cfg, at);
    const [normed] = createTwoViews(images, cfg, at, { normalize: { mean, std } });
    const manual = plain!
      .sub(torch.tensor(mean, { shape: [1, 3, 1, 1] }))
      .div(torch.tensor(std, { shape: [1, 3, 1, 1] }));
    assert.ok(maxAbsDiff(normed!, manual) <= 1e-6);
    assert.throws(() => createTwoViews(images, cfg, at, { normalize: { mean: [0.5], std: [0.5] } }), RangeError);
  });
});

test('applyViews rejects inputs that do not fit', () => {
  torch.scope(() => {
    const rgb = torch.zeros([2, 3, 8, 8], { dtype: 'uint8' });
    const cfg = defaultAugmentConfig(8, false);
    assert.throws(() => applyViews(rgb.to('float32'), identityViewParams(2, 8, 8), cfg), TypeError);
    assert.throws(() => applyViews(rgb, identityViewParams(3, 8, 8), cfg), RangeError);
    assert.throws(() => applyViews(rgb, identityViewParams(2, 8, 8), defaultAugmentConfig(8, true)), RangeError);
    assert.throws(
      () => applyViews(torch.zeros([2, 2, 8, 8], { dtype: 'uint8' }), identityViewParams(2, 8, 8), cfg),
      RangeError,
    );
  });
});
