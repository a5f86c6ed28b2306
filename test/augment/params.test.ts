import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  blurKernelSize,
  defaultAugmentConfig,
  sampleViewParams,
  type AugmentConfig,
  type ViewParams,
} from '../../src/augment/params.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** All parameters of one view, as plain numbers, for equality checks. */
function pick(p: ViewParams, b: number): number[] {
  return [
    ...p.crop.subarray(b * 4, b * 4 + 4),
    p.flip[b]!,
    p.jitter[b]!,
    p.brightness[b]!,
    p.contrast[b]!,
    p.saturation[b]!,
    p.hue[b]!,
    ...p.jitterOrder.subarray(b * 4, b * 4 + 4),
    p.grayscale[b]!,
    p.blurSigma[b]!,
    p.solarize[b]!,
  ];
}

/** Fraction of non-zero entries. */
function rate(a: ArrayLike<number>): number {
  let hits = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) hits++;
  return hits / a.length;
}

/** |observed - p| within 6 binomial standard errors. */
function assertRate(name: string, observed: number, p: number, n: number): void {
  const se = Math.sqrt((p * (1 - p)) / n);
  assert.ok(Math.abs(observed - p) <= 6 * se, `${name}: rate ${observed}, expected ${p} +- ${6 * se}`);
}

test('defaultAugmentConfig holds the paper settings', () => {
  const cfg = defaultAugmentConfig(224, false);
  assert.deepEqual(cfg, {
    outputSize: 224,
    cropScale: [0.08, 1],
    cropRatio: [3 / 4, 4 / 3],
    flipP: 0.5,
    colorJitterP: 0.8,
    colorStrength: 1,
    grayscaleP: 0.2,
    blurP: 0.5,
    blurSigma: [0.1, 2],
    solarizeP: 0,
    grayscaleInput: false,
  });
  const gray = defaultAugmentConfig(28, true);
  assert.equal(gray.grayscaleInput, true);
  assert.equal(gray.grayscaleP, 0);
});

test('blurKernelSize is the odd size closest to 10% of the side, at least 3', () => {
  assert.equal(blurKernelSize(224), 23);
  assert.equal(blurKernelSize(96), 9);
  assert.equal(blurKernelSize(64), 7);
  assert.equal(blurKernelSize(200), 21);
  assert.equal(blurKernelSize(32), 3);
  assert.equal(blurKernelSize(1), 3);
  assert.throws(() => blurKernelSize(0), RangeError);
  assert.throws(() => blurKernelSize(12.5), RangeError);
});

test("a view's parameters do not depend on the rest of the batch", () => {
  const cfg = defaultAugmentConfig(32, false);
  const alone = sampleViewParams(cfg, 64, 48, 1234, 3, [7], 0);
  const batch = sampleViewParams(cfg, 64, 48, 1234, 3, [3, 7, 9], 0);
  const reordered = sampleViewParams(cfg, 64, 48, 1234, 3, Uint32Array.of(9, 7, 3), 0);
  assert.equal(batch.count, 3);
  assert.deepEqual(pick(batch, 1), pick(alone, 0));
  assert.deepEqual(pick(reordered, 1), pick(alone, 0));
  assert.deepEqual(pick(reordered, 0), pick(batch, 2));
  assert.deepEqual(pick(sampleViewParams(cfg, 64, 48, 1234, 3, [7], 0), 0), pick(alone, 0));
});

test('views, epochs, seeds and samples get different parameters', () => {
  const cfg = defaultAugmentConfig(32, false);
  const base = pick(sampleViewParams(cfg, 64, 64, 1, 0, [7], 0), 0);
  assert.notDeepEqual(pick(sampleViewParams(cfg, 64, 64, 1, 0, [7], 1), 0), base);
  assert.notDeepEqual(pick(sampleViewParams(cfg, 64, 64, 1, 1, [7], 0), 0), base);
  assert.notDeepEqual(pick(sampleViewParams(cfg, 64, 64, 2, 0, [7], 0), 0), base);
  assert.notDeepEqual(pick(sampleViewParams(cfg, 64, 64, 1, 0, [8], 0), 0), base);
  // Across many samples, the two views' crops almost never coincide.
  const v0 = sampleViewParams(cfg, 64, 64, 1, 0, range(1000), 0);
  const v1 = sampleViewParams(cfg, 64, 64, 1, 0, range(1000), 1);
  const same = range(1000).filter((b) => pick(v0, b).slice(0, 4).join() === pick(v1, b).slice(0, 4).join()).length;
  assert.ok(same < 20, `${same} identical crops`);
});

const N = 20_000;

test('crop statistics follow RandomResizedCrop', () => {
  const H = 256,
    W = 256;
  const p = sampleViewParams(defaultAugmentConfig(224, false), H, W, 99, 0, range(N), 0);
  let areaSum = 0,
    offsetX = 0,
    offsetY = 0;
  for (let b = 0; b < N; b++) {
    const [x0 = -1, y0 = -1, w = 0, h = 0] = pick(p, b);
    for (const v of [x0, y0, w, h]) assert.ok(Number.isInteger(v));
    assert.ok(x0 >= 0 && y0 >= 0 && w >= 1 && h >= 1 && x0 + w <= W && y0 + h <= H, `crop ${[x0, y0, w, h]}`);
    // w and h are rounded from the continuous size, so allow half a pixel on each side.
    assert.ok((w + 0.5) * (h + 0.5) >= 0.08 * H * W && (w - 0.5) * (h - 0.5) <= H * W, `area of ${[w, h]}`);
    assert.ok((w + 0.5) / (h - 0.5) >= 3 / 4 && (w - 0.5) / (h + 0.5) <= 4 / 3, `aspect of ${[w, h]}`);
    areaSum += (w * h) / (H * W);
    offsetX += x0 - (W - w) / 2;
    offsetY += y0 - (H - h) / 2;
  }
  // Square source: a try with scale s and |log r| = t fits iff s <= exp(-t); accepted crops are s | fit.
  const [a, L] = [0.08, Math.log(4 / 3)];
  const pFit = ((1 - Math.exp(-L)) / L - a) / (1 - a);
  const sFit = ((1 - Math.exp(-2 * L)) / (2 * L) - a * a) / (2 * (1 - a));
  const miss = (1 - pFit) ** 10; // then the fallback is the whole image
  const expected = (sFit / pFit) * (1 - miss) + miss;
  // sd of the area fraction < 0.27 (that of U[0.08, 1]), so 6 standard errors < 0.012.
  assert.ok(Math.abs(areaSum / N - expected) < 0.012, `mean area ${areaSum / N}, expected ${expected}`);
  // Offsets are uniform on 0..W-w, so they centre on (W-w)/2; sd < 256/sqrt(12) per draw.
  assert.ok(
    Math.abs(offsetX / N) < (6 * 74) / Math.sqrt(N) && Math.abs(offsetY / N) < (6 * 74) / Math.sqrt(N),
    `offsets ${offsetX / N}, ${offsetY / N}`,
  );
});

test('crops fit rectangular sources and fall back to a ratio-clamped centre crop', () => {
  const cfg = defaultAugmentConfig(32, false);
  const rect = sampleViewParams(cfg, 120, 300, 5, 0, range(2000), 0);
  for (let b = 0; b < 2000; b++) {
    const [x0 = -1, y0 = -1, w = 0, h = 0] = pick(rect, b);
    assert.ok(x0 >= 0 && y0 >= 0 && w >= 1 && h >= 1 && x0 + w <= 300 && y0 + h <= 120);
  }
  // No try can fit a 4-pixel-high strip, so every crop is the clamped centre crop: h = 4, w = round(4 * 4/3).
  const wide = sampleViewParams(cfg, 4, 400, 5, 0, range(50), 0);
  for (let b = 0; b < 50; b++) assert.deepEqual(pick(wide, b).slice(0, 4), [197, 0, 5, 4]);
  const tall = sampleViewParams(cfg, 400, 4, 5, 0, range(50), 0);
  for (let b = 0; b < 50; b++) assert.deepEqual(pick(tall, b).slice(0, 4), [0, 197, 4, 5]);
});

test('apply rates match the configured probabilities', () => {
  const cfg: AugmentConfig = { ...defaultAugmentConfig(224, false), solarizeP: 0.1 };
  const p = sampleViewParams(cfg, 256, 256, 7, 2, range(N), 1);
  assertRate('flip', rate(p.flip), 0.5, N);
  assertRate('jitter', rate(p.jitter), 0.8, N);
  assertRate('grayscale', rate(p.grayscale), 0.2, N);
  assertRate('blur', rate(p.blurSigma), 0.5, N);
  assertRate('solarize', rate(p.solarize), 0.1, N);
  const off = sampleViewParams(defaultAugmentConfig(32, false), 32, 32, 7, 2, range(2000), 0);
  assert.equal(rate(off.solarize), 0);
  const noBlur = sampleViewParams({ ...defaultAugmentConfig(32, false), blurP: 0 }, 32, 32, 7, 2, range(2000), 0);
  assert.ok(noBlur.blurSigma.every((s) => s === 0));
});

test('jitter factors, hue, order and blur sigma lie in their ranges', () => {
  for (const s of [1, 0.5, 1.5]) {
    const p = sampleViewParams({ ...defaultAugmentConfig(224, false), colorStrength: s }, 256, 256, 11, 0, range(N), 0);
    const lo = Math.max(0, 1 - 0.8 * s),
      hi = 1 + 0.8 * s,
      hueMax = 0.2 * s;
    const eps = 1e-6; // the factors are stored as float32
    let applied = 0,
      bSum = 0,
      hueSum = 0;
    const first = [0, 0, 0, 0];
    for (let b = 0; b < N; b++) {
      const order = Array.from(p.jitterOrder.subarray(b * 4, b * 4 + 4));
      assert.deepEqual([...order].sort(), [0, 1, 2, 3]);
      first[order[0]!]! += 1;
      if (p.jitter[b]) {
        applied++;
        for (const f of [p.brightness[b]!, p.contrast[b]!, p.saturation[b]!])
          assert.ok(f >= lo - eps && f <= hi + eps, `factor ${f} for s=${s}`);
        assert.ok(Math.abs(p.hue[b]!) <= hueMax + eps, `hue ${p.hue[b]}`);
        bSum += p.brightness[b]!;
        hueSum += p.hue[b]!;
      } else {
        assert.deepEqual([p.brightness[b], p.contrast[b], p.saturation[b], p.hue[b]], [1, 1, 1, 0]);
      }
      const sigma = p.blurSigma[b]!;
      assert.ok(sigma === 0 || (sigma >= 0.1 - eps && sigma <= 2 + eps), `sigma ${sigma}`);
    }
    // Factor means: midpoint of [lo, hi] with sd (hi - lo)/sqrt(12); hue centred on 0.
    const bMid = (lo + hi) / 2,
      bSe = (hi - lo) / Math.sqrt(12 * applied),
      hSe = (2 * hueMax) / Math.sqrt(12 * applied);
    assert.ok(Math.abs(bSum / applied - bMid) < 6 * bSe, `brightness mean ${bSum / applied} for s=${s}`);
    assert.ok(Math.abs(hueSum / applied) < 6 * hSe, `hue mean ${hueSum / applied} for s=${s}`);
    for (const c of first) assertRate('first jitter op', c / N, 0.25, N);
  }
});

test('grayscale input samples only brightness and contrast', () => {
  const colour: AugmentConfig = { ...defaultAugmentConfig(28, false), grayscaleP: 1 };
  const gray: AugmentConfig = { ...colour, grayscaleInput: true };
  const g = sampleViewParams(gray, 28, 28, 3, 0, range(5000), 0);
  assert.ok(g.saturation.every((v) => v === 1));
  assert.ok(g.hue.every((v) => v === 0));
  assert.ok(g.grayscale.every((v) => v === 0));
  assertRate('jitter', rate(g.jitter), 0.8, 5000);
  const jittered = range(5000).filter((b) => g.jitter[b] === 1);
  assert.ok(new Set(jittered.map((b) => g.brightness[b])).size > 1000);
  assert.ok(new Set(jittered.map((b) => g.contrast[b])).size > 1000);
  // Draws up to contrast are shared with the colour pipeline, so crop, flip and those factors agree.
  const c = sampleViewParams(colour, 28, 28, 3, 0, range(5000), 0);
  for (let b = 0; b < 5000; b++) assert.deepEqual(pick(g, b).slice(0, 8), pick(c, b).slice(0, 8));
});

test('invalid configurations and sizes are rejected', () => {
  const cfg = defaultAugmentConfig(32, false);
  assert.throws(() => sampleViewParams({ ...cfg, colorStrength: 3 }, 32, 32, 0, 0, [0], 0), RangeError);
  assert.throws(() => sampleViewParams({ ...cfg, flipP: 1.5 }, 32, 32, 0, 0, [0], 0), RangeError);
  assert.throws(() => sampleViewParams({ ...cfg, cropScale: [0.5, 0.1] }, 32, 32, 0, 0, [0], 0), RangeError);
  assert.throws(() => sampleViewParams({ ...cfg, cropRatio: [0, 1] }, 32, 32, 0, 0, [0], 0), RangeError);
  assert.throws(() => sampleViewParams({ ...cfg, blurSigma: [0, 2] }, 32, 32, 0, 0, [0], 0), RangeError);
  assert.throws(() => sampleViewParams(cfg, 0, 32, 0, 0, [0], 0), RangeError);
  assert.throws(() => sampleViewParams(cfg, 32, 32, 0, 0, [-1], 0), RangeError);
  assert.equal(sampleViewParams(cfg, 32, 32, 0, 0, [], 0).count, 0);
});
