// The paper's extra augmentations (cutout, Sobel, Gaussian noise, rotation): application against PyTorch/torchvision
// for fixed parameters (test/golden/gen_augment_extra.py), their sampling ranges and rates, and pipelines that use
// them (tensor path, with the reason the fused kernel does not run them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { AUGMENTATIONS } from '../../src/augment/registry.js';
import { resolveOptions } from '../../src/augment/op.js';
import {
  parseAugmentSteps,
  resolvePipeline,
  samplePipeline,
  type AugmentStepConfig,
} from '../../src/augment/pipeline.js';
import { configSteps, defaultAugmentConfig, sampleViewParams, toViewParams } from '../../src/augment/params.js';
import { applyViews, createViewBatch } from '../../src/augment/apply.js';
import { fusedCoverage } from '../../src/augment/fused.js';

interface Golden {
  images: Record<string, { shape: [number, number, number, number]; data: number[] }>;
  cases: { name: string; op: string; image: string; sample: number; params: number[]; expected: number[] }[];
}

function loadGolden(): Golden {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    const p = join(dir, 'test', 'golden', 'augment_extra.json');
    if (existsSync(p)) return JSON.parse(readFileSync(p, 'utf8')) as Golden;
  }
  throw new Error('test/golden/augment_extra.json not found; run /usr/bin/python3 test/golden/gen_augment_extra.py');
}
const golden = loadGolden();
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return torch.scope(() => a.sub(b).abs().max().item());
}

test('each extra op matches PyTorch/torchvision for fixed parameters', () => {
  for (const c of golden.cases) {
    torch.scope(() => {
      const img = golden.images[c.image]!;
      const [, channels, h, w] = img.shape;
      const x = torch
        .tensor(Uint8Array.from(img.data), { shape: img.shape })
        .narrow(0, c.sample, 1)
        .to('float32')
        .div(255);
      const op = AUGMENTATIONS[c.op]!;
      const out = op.apply(
        x,
        { count: 1, width: c.params.length, values: Float32Array.from(c.params) },
        resolveOptions(op, {}),
        { outputSize: h, channels: channels as 1 | 3 },
      );
      const expected = torch.tensor(Float32Array.from(c.expected), { shape: [1, channels, h, w] });
      assert.deepEqual(out.shape, [1, channels, h, w], c.name);
      // Float32 on both sides; the luma-based Sobel sums in another order (largest seen about 1e-7).
      const diff = maxAbsDiff(out, expected);
      assert.ok(diff <= 2e-6, `${c.name}: max |diff| ${diff}`);
    });
  }
});

test('extra ops leave rows without the op unchanged, within one batch', () => {
  torch.scope(() => {
    const x = torch.rand([4, 3, 10, 10], { generator: new torch.Generator().manualSeed(1) });
    const before = x.clone();
    const cases: [string, number[]][] = [
      ['cutout', [2, 2, 6, 6, 0, 0, 0, 0]],
      ['sobel', [1, 0]],
      ['gaussianNoise', [0.2, 7, 0, 0]],
      ['rotation', [2, 0]],
    ];
    for (const [name, values] of cases) {
      const op = AUGMENTATIONS[name]!;
      const width = op.columns.length;
      const two = x.narrow(0, 0, 2).clone();
      const out = op.apply(two, { count: 2, width, values: Float32Array.from(values) }, resolveOptions(op, {}), {
        outputSize: 10,
        channels: 3,
      });
      assert.ok(maxAbsDiff(out.narrow(0, 0, 1), before.narrow(0, 0, 1)) > 0.01, `${name} changes row 0`);
      assert.equal(maxAbsDiff(out.narrow(0, 1, 1), before.narrow(0, 1, 1)), 0, `${name} keeps row 1`);
      assert.ok(out.min().item() >= 0 && out.max().item() <= 1, name);
    }
  });
});

/** |observed - p| within 6 binomial standard errors. */
function assertRate(name: string, hits: number, n: number, p: number): void {
  const se = Math.sqrt((p * (1 - p)) / n);
  assert.ok(Math.abs(hits / n - p) <= 6 * se + 1e-12, `${name}: rate ${hits / n}, expected ${p} +- ${6 * se}`);
}

const N = 20000;

function sampleOne(step: AugmentStepConfig, size = 32, channels: 1 | 3 = 3): Float32Array[] {
  const p = resolvePipeline([{ op: 'randomResizedCrop' }, step], size, channels);
  const params = samplePipeline(p, 48, 40, 5, 1, range(N), 0).steps[1]!;
  return range(N).map((b) => params.values.subarray(b * params.width, (b + 1) * params.width));
}

test('cutout: rate p, a square of the configured side centred uniformly, clipped to the image', () => {
  const rows = sampleOne({ op: 'cutout', p: 0.3, size: 0.25 });
  let hits = 0,
    full = 0,
    cx = 0;
  for (const [x0, y0, x1, y1] of rows as unknown as [number, number, number, number][]) {
    if (x1 === 0 && y1 === 0) continue;
    hits++;
    assert.ok(x0 >= 0 && y0 >= 0 && x1 <= 32 && y1 <= 32 && x1 > x0 && y1 > y0 && x1 - x0 <= 8 && y1 - y0 <= 8);
    if (x1 - x0 === 8 && y1 - y0 === 8) full++;
    cx += x0 + 4;
  }
  assertRate('cutout', hits, N, 0.3);
  // The square is [c - 4, c + 4): centres 4..28 leave it whole, 25 of 32 per axis.
  assertRate('unclipped', full, hits, (25 / 32) ** 2);
  // Centres uniform on 0..31; x0 + 4 is max(4, centre) since only the left edge clips x0.
  const expected = range(32).reduce((s, c) => s + Math.max(4, c), 0) / 32;
  assert.ok(
    Math.abs(cx / hits - expected) < (6 * 9.3) / Math.sqrt(hits),
    `mean centre ${cx / hits}, expected ${expected}`,
  );
});

test('sobel, noise and rotation: rates, ranges and values', () => {
  assertRate('sobel', sampleOne({ op: 'sobel', p: 0.4 }).filter((r) => r[0] === 1).length, N, 0.4);
  const noise = sampleOne({ op: 'gaussianNoise', p: 0.6, sigma: [0.05, 0.15] });
  const noisy = noise.filter((r) => r[0]! > 0);
  assertRate('noise', noisy.length, N, 0.6);
  for (const [sigma, seed] of noisy as unknown as [number, number][]) {
    assert.ok(sigma >= 0.05 - 1e-7 && sigma <= 0.15 + 1e-7, `sigma ${sigma}`);
    assert.ok(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 24, `seed ${seed}`);
  }
  assert.ok(new Set(noisy.map((r) => r[1])).size > noisy.length * 0.99, 'seeds differ between views');
  const turns = sampleOne({ op: 'rotation' }).map((r) => r[0]!);
  for (const k of [0, 1, 2, 3]) assertRate(`rotation ${k}`, turns.filter((t) => t === k).length, N, 0.25);
  assert.ok(sampleOne({ op: 'rotation', p: 0 }).every((r) => r[0] === 0));
});

test('ops appended to the default pipeline leave its parameters as they were', () => {
  const cfg = defaultAugmentConfig(32, false);
  const steps = [...configSteps(cfg), { op: 'cutout' }, { op: 'gaussianNoise' }, { op: 'rotation' }, { op: 'sobel' }];
  const extended = samplePipeline(resolvePipeline(steps, 32, 3), 40, 40, 9, 2, range(300), 1);
  const plain = sampleViewParams(cfg, 40, 40, 9, 2, range(300), 1);
  assert.deepEqual(toViewParams({ count: 300, steps: extended.steps.slice(0, 6) }), plain);
});

test('a pipeline with extra ops runs on the tensor ops, deterministically; the fused kernel says why not', () => {
  torch.scope(() => {
    const steps = [
      ...configSteps(defaultAugmentConfig(16, false)),
      { op: 'cutout', p: 1 },
      { op: 'rotation' },
      { op: 'gaussianNoise', p: 1 },
      { op: 'sobel', p: 0.5 },
    ];
    const p = resolvePipeline(steps, 16, 3);
    assert.match(fusedCoverage(p) ?? '', /no 'cutout' \(step 6\)/);
    assert.equal(fusedCoverage(resolvePipeline(configSteps(defaultAugmentConfig(16, false)), 16, 3)), null);
    // A subsequence of the kernel's ops is covered; another order is not.
    assert.equal(fusedCoverage(resolvePipeline([{ op: 'randomResizedCrop' }, { op: 'solarize' }], 16, 3)), null);
    assert.match(
      fusedCoverage(resolvePipeline([{ op: 'horizontalFlip' }, { op: 'randomResizedCrop' }], 16, 3)) ?? '',
      /out of that order/,
    );
    const images = torch.randint(0, 256, [6, 3, 20, 24], {
      dtype: 'uint8',
      generator: new torch.Generator().manualSeed(2),
    });
    const at = { seed: 4, epoch: 0, indices: range(6) };
    const a = createViewBatch(images, p, at);
    assert.deepEqual(a.shape, [12, 3, 16, 16]);
    assert.ok(a.min().item() >= 0 && a.max().item() <= 1);
    assert.equal(maxAbsDiff(a, createViewBatch(images, p, at)), 0);
    assert.throws(() => createViewBatch(images, p, at, { implementation: 'fused' }), /no 'cutout'/);
    // Without a resized crop the images are resized whole first.
    const bare = resolvePipeline([{ op: 'rotation' }], 16, 3);
    const params = samplePipeline(bare, 20, 24, 1, 0, range(6), 0);
    assert.throws(
      () =>
        samplePipeline(resolvePipeline([{ op: 'rotation' }, { op: 'randomResizedCrop' }], 16, 3), 20, 24, 1, 0, [0], 0),
      /square/,
    );
    assert.deepEqual(applyViews(images, params, bare).shape, [6, 3, 16, 16]);
  });
});

test('augment lists are checked: op names, option names and values, naming the entry', () => {
  assert.deepEqual(parseAugmentSteps([{ op: 'cutout', size: 0.3 }]), [{ op: 'cutout', p: 0.5, size: 0.3 }]);
  assert.throws(() => parseAugmentSteps({ op: 'cutout' }), /augment must be a list/);
  assert.throws(() => parseAugmentSteps([{ op: 'cutuot' }]), /augment\[0\]\.op must be one of .*cutout/);
  assert.throws(
    () => parseAugmentSteps([{ op: 'sobel' }, { op: 'cutout', sise: 1 }]),
    /augment\[1\]: cutout: unknown option sise/,
  );
  assert.throws(
    () => parseAugmentSteps([{ op: 'gaussianNoise', sigma: [0.2, 0.1] }]),
    /augment\[0\]: gaussianNoise\.sigma must be \[lo, hi\]/,
  );
  assert.throws(() => parseAugmentSteps([{ op: 'rotation', p: 2 }]), RangeError);
  assert.throws(() => parseAugmentSteps(['sobel']), /augment\[0\] must be an object/);
});
