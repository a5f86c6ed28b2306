// The CUDA kernel's per-view code (native/kernels/augment_view.h), compiled for the CPU as
// simclr::augment_views_blockwise, against the CPU kernel and the tensor ops: how the GPU kernel's logic is
// checked on machines without a GPU (test/cuda checks the GPU build against the CPU kernel).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { applyViews, identityViewParams, type ApplyOptions } from '../../src/augment/apply.js';
import { fusedKernelDevices, fusedKernelError, paramLayoutMismatch } from '../../src/augment/fused.js';
import { LUMA_WEIGHTS } from '../../src/data/colour.js';
import {
  defaultAugmentConfig,
  sampleViewParams,
  type AugmentConfig,
  type ViewParams,
} from '../../src/augment/params.js';

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return torch.scope(() => a.sub(b).abs().max().item());
}

/** Every jitter order (all 24 permutations of the 4 ops), cycled over the views. */
function permutations(items: readonly number[]): number[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((x, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest]),
  );
}
const ORDERS = permutations([0, 1, 2, 3]);

/**
 * Random views of n images where every op runs in every order: jitter on all but every 7th view (with strong
 * factors), orders cycling through all 24, grayscale, blur and solarize on fixed fractions, flips alternating; the
 * crop boxes are sampleViewParams' random ones (odd sizes and offsets included) plus the whole image and a 1-pixel
 * wide strip at the right edge.
 */
function everyOpParams(cfg: AugmentConfig, n: number, h: number, w: number, seed: number): ViewParams {
  const p = sampleViewParams(
    cfg,
    h,
    w,
    seed,
    0,
    Array.from({ length: n }, (_, i) => i),
    0,
  );
  for (let b = 0; b < n; b++) {
    p.jitter[b] = b % 7 === 6 ? 0 : 1;
    p.jitterOrder.set(ORDERS[b % ORDERS.length]!, b * 4);
    p.grayscale[b] = b % 5 === 2 ? 1 : 0;
    p.blurSigma[b] = b % 3 === 0 ? 0 : 0.1 + (b % 11) * 0.19;
    p.solarize[b] = b % 4 === 1 ? 1 : 0;
    p.flip[b] = b % 2;
  }
  p.crop.set([0, 0, w, h], 0);
  if (n > 1) p.crop.set([w - 1, 0, 1, h], 4);
  return p;
}

const CASES = [
  // n, source side, output side, channels
  [48, 28, 28, 1],
  [48, 32, 32, 3],
  [24, 96, 96, 3],
  [16, 40, 23, 3],
  [12, 17, 33, 1],
] as const;

test('the CPU kernel library loads and reports the params layout fused.ts packs', () => {
  assert.ok(fusedKernelDevices().includes('cpu'), `CPU kernel: ${fusedKernelError('cpu')}`);
  const layout = torch.customOp('simclr::param_layout');
  assert.ok(layout !== null);
  assert.equal(paramLayoutMismatch(String(layout()), 'simclr_ops.node'), null);
});

test('the params layout check names the first column that differs', () => {
  const [columns, luma] = String(torch.customOp('simclr::param_layout')!()).split(';') as [string, string];
  const ours = columns.split(',');
  const report = (cols: readonly string[]): string => `${cols.join(',')};${luma}`;
  const swapped = [...ours];
  [swapped[7], swapped[8]] = [swapped[8]!, swapped[7]!];
  assert.match(
    paramLayoutMismatch(report(swapped), 'lib.so') ?? '',
    /lib\.so was built with another params layout \(column 7 is 'contrast' there, 'brightness' in fused\.ts\)/,
  );
  assert.match(paramLayoutMismatch(report([...ours, 'extra']), 'lib.so') ?? '', /it has 19 columns, fused\.ts 18/);
  assert.match(
    paramLayoutMismatch(report(ours.slice(0, -1)), 'lib.so') ?? '',
    /column 17 is '\(none\)' there, 'solarize'/,
  );
});

test('the kernels use the luma weights of data/colour.ts, and a library with others does not load', () => {
  const reported = String(torch.customOp('simclr::param_layout')!());
  assert.ok(reported.endsWith(`;luma=${LUMA_WEIGHTS.join(',')}`), reported);
  const columns = reported.split(';')[0]!;
  // torchvision's tensor weights, and a library from before the weights were reported.
  assert.match(
    paramLayoutMismatch(`${columns};luma=0.2989,0.587,0.114`, 'lib.so') ?? '',
    /lib\.so was built with other luma weights \(0\.2989,0\.587,0\.114; data\/colour\.ts has 0\.299,0\.587,0\.114\)/,
  );
  assert.match(paramLayoutMismatch(columns, 'lib.so') ?? '', /other luma weights \(none reported;/);
});

test('blockwise equals the fused CPU kernel within 1e-5 on every op and order, both layouts, normalised or not', () => {
  for (const [n, src, out, channels] of CASES) {
    torch.scope(() => {
      const gen = new torch.Generator().manualSeed(n * 1000 + src * 10 + out);
      const images = torch.randint(0, 256, [n, channels, src, src], { dtype: 'uint8', generator: gen });
      const cfg: AugmentConfig = { ...defaultAugmentConfig(out, channels === 1), colorStrength: 2.5 };
      const p = everyOpParams(cfg, n, src, src, n + src);
      const norm = channels === 3 ? { mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3] } : { mean: [0.45], std: [0.22] };
      const variants: ApplyOptions[] = [
        {},
        { memoryFormat: 'channelsLast' },
        { normalize: norm, memoryFormat: 'channelsLast' },
        { normalize: norm },
      ];
      for (const opts of variants) {
        const fused = applyViews(images, p, cfg, { ...opts, implementation: 'fused' });
        const blockwise = applyViews(images, p, cfg, { ...opts, implementation: 'blockwise' });
        const what = `${n}x${channels}x${src}->${out} ${JSON.stringify(opts)}`;
        assert.deepEqual(blockwise.shape, fused.shape, what);
        assert.deepEqual(blockwise.stride(), fused.stride(), what);
        // 1e-5 in [0, 1] units; normalising divides the difference by std too. The fused kernel's vectorised
        // clones round differently by instruction set (bit-equal here, up to 7e-6 apart on an AVX-512 machine).
        const tol = 1e-5 / Math.min(...(opts.normalize?.std ?? [1]));
        const diff = maxAbsDiff(blockwise, fused);
        assert.ok(diff <= tol, `${what}: max |diff| ${diff} > ${tol}`);
      }
    });
  }
});

test('blockwise agrees with the tensor ops (the reference) as closely as the fused CPU kernel does', () => {
  for (const [n, src, out, channels] of CASES) {
    torch.scope(() => {
      const gen = new torch.Generator().manualSeed(n + src + out);
      const images = torch.randint(0, 256, [n, channels, src, src], { dtype: 'uint8', generator: gen });
      const cfg: AugmentConfig = { ...defaultAugmentConfig(out, channels === 1), colorStrength: 2.5 };
      const p = everyOpParams(cfg, n, src, src, 3 * n);
      const blockwise = applyViews(images, p, cfg, { implementation: 'blockwise' });
      const tensor = applyViews(images, p, cfg, { implementation: 'tensor' });
      // The fused kernel's own tolerance against the tensor ops (apply.test.ts: largest seen 4e-5, at 96 px).
      const diff = maxAbsDiff(blockwise, tensor);
      assert.ok(diff <= 1e-4, `${n}x${channels}x${src}->${out}: max |diff| ${diff}`);
      assert.ok(blockwise.min().item() >= 0 && blockwise.max().item() <= 1);
    });
  }
});

test('blockwise: each view is its own; non-square images and one-pixel crops at every edge', () => {
  torch.scope(() => {
    const [h, w] = [13, 21];
    const images = torch.randint(0, 256, [8, 3, h, w], {
      dtype: 'uint8',
      generator: new torch.Generator().manualSeed(8),
    });
    const cfg: AugmentConfig = { ...defaultAugmentConfig(9, false), blurP: 1, colorStrength: 2 };
    const p = sampleViewParams(cfg, h, w, 2, 0, [0, 1, 2, 3, 4, 5, 6, 7], 0);
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
    const blockwise = applyViews(images, p, cfg, { implementation: 'blockwise' });
    assert.ok(maxAbsDiff(blockwise, applyViews(images, p, cfg, { implementation: 'fused' })) <= 1e-5);
    // Views made alone equal the same views made in a batch.
    const one = identityViewParams(1, h, w);
    for (const key of [
      'crop',
      'flip',
      'jitter',
      'brightness',
      'contrast',
      'saturation',
      'hue',
      'jitterOrder',
      'grayscale',
      'blurSigma',
      'solarize',
    ] as const) {
      const width = key === 'crop' || key === 'jitterOrder' ? 4 : 1;
      (one[key] as Float32Array | Uint8Array).set((p[key] as Float32Array | Uint8Array).subarray(3 * width, 4 * width));
    }
    const alone = applyViews(images.narrow(0, 3, 1), one, cfg, { implementation: 'blockwise' });
    assert.equal(maxAbsDiff(alone, blockwise.narrow(0, 3, 1)), 0);
  });
});

test('blockwise names the operator and the view in its argument errors', () => {
  torch.scope(() => {
    const images = torch.zeros([2, 3, 8, 8], { dtype: 'uint8' });
    const cfg = defaultAugmentConfig(8, false);
    const p = identityViewParams(2, 8, 8);
    p.crop.set([4, 0, 6, 8], 4);
    assert.throws(
      () => applyViews(images, p, cfg, { implementation: 'blockwise' }),
      /augment_views_blockwise: view 1 crop box is outside the 8x8 image/,
    );
    p.crop.set([0.5, 0, 6, 8], 4);
    assert.throws(
      () => applyViews(images, p, cfg, { implementation: 'blockwise' }),
      /augment_views_blockwise: view 1 crop box is not in whole pixels/,
    );
    const q = identityViewParams(2, 8, 8);
    q.blurSigma[1] = 1;
    assert.throws(
      () => applyViews(images, q, defaultAugmentConfig(1, false), { implementation: 'blockwise' }),
      /view 1 blurs with a 3-tap kernel, too wide for 1-pixel views/,
    );
  });
});
