import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as torch from '../../src/torch/index.js';
import { Flatten } from '../../src/nn/index.js';
import { MemoryDataset } from '../../src/data/dataset.js';
import { knnScores, knnEvaluate, knnMonitor } from '../../src/features/knn.js';
import { extractFeatures, topkAccuracy } from '../../src/features/extract.js';

interface KnnCase {
  k: number;
  temperature: number;
  numClasses: number;
  dim: number;
  trainX: number[];
  trainY: number[];
  testX: number[];
  testY: number[];
  scores: number[];
  top1: number;
  top5: number;
}

const golden = JSON.parse(readFileSync(new URL('../golden/eval_knn.json', import.meta.url), 'utf8')) as {
  cases: KnnCase[];
};

function features(x: number[], y: number[], dim: number): { features: torch.Tensor; labels: Int32Array } {
  return { features: torch.tensor(Float32Array.from(x), { shape: [y.length, dim] }), labels: Int32Array.from(y) };
}

test('kNN class scores, top-1 and top-5 match the float64 reference (checked against scikit-learn)', () => {
  for (const c of golden.cases) {
    torch.scope(() => {
      const train = features(c.trainX, c.trainY, c.dim);
      const test = features(c.testX, c.testY, c.dim);
      const opts = { k: c.k, temperature: c.temperature, numClasses: c.numClasses };
      const scores = knnScores(train.features, train.labels, test.features, opts);
      assert.deepEqual(scores.shape, [c.testY.length, c.numClasses]);
      const got = scores.toArray() as Float32Array;
      for (let i = 0; i < c.scores.length; i++) {
        const e = c.scores[i]!;
        assert.ok(Math.abs(got[i]! - e) <= 1e-4 * Math.max(1, Math.abs(e)), `k=${c.k} score[${i}]: ${got[i]} vs ${e}`);
      }
      const r = knnEvaluate(train, test, opts);
      assert.equal(r.top1, c.top1, `k=${c.k} top1`);
      assert.equal(r.top5, c.top5, `k=${c.k} top5`);
      assert.equal(r.k, c.k);
      assert.equal(r.trainCount, c.trainY.length);
    });
  }
});

test('chunk sizes 1, 7 and all rows give the same scores and accuracy', () => {
  const c = golden.cases[1]!;
  torch.scope(() => {
    const train = features(c.trainX, c.trainY, c.dim);
    const test = features(c.testX, c.testY, c.dim);
    const runs = [1, 7, c.testY.length].map((chunkSize) => {
      const s = knnScores(train.features, train.labels, test.features, {
        k: c.k,
        temperature: c.temperature,
        chunkSize,
      });
      return { scores: s, acc: topkAccuracy(s, test.labels, [1, 5]) };
    });
    for (const r of runs.slice(1)) {
      assert.ok(
        r.scores.allclose(runs[0]!.scores, 1e-5, 0),
        `scores differ between chunk sizes: max relative ` +
          `${r.scores.sub(runs[0]!.scores).abs().div(runs[0]!.scores.clampMin(1e-30)).max().item()}`,
      );
      assert.deepEqual(r.acc, runs[0]!.acc);
    }
  });
});

test('topkAccuracy ranks tied classes by index, so zero-score classes count deterministically', () => {
  torch.scope(() => {
    // Row 0: only class 3 has votes; classes 0..2 tie at 0 ahead of class 4, 5.
    const scores = torch.tensor([
      [0, 0, 0, 2, 0, 0, 0],
      [1, 1, 0, 0, 0, 0, 0],
    ]);
    assert.deepEqual(topkAccuracy(scores, Int32Array.from([4, 1]), [1, 2, 5]), [0, 0.5, 1]);
    assert.deepEqual(topkAccuracy(scores, Int32Array.from([5, 0]), [1, 5]), [0.5, 0.5]);
    assert.throws(() => topkAccuracy(scores, Int32Array.from([7, 0]), [1]), /label 7 of row 0 is outside \[0, 7\)/);
  });
});

test('k larger than the training set is capped; unlabelled rows are left out', () => {
  torch.scope(() => {
    const train = features([1, 0, 0, 1, 1, 0.1, -1, -1], [0, 1, 0, -1], 2);
    const test = features([0.9, 0.2, 0.1, 0.8], [0, 1], 2);
    const r = knnEvaluate(train, test, { k: 50 });
    assert.equal(r.k, 3);
    assert.equal(r.trainCount, 3);
    assert.equal(r.top1, 1);
    assert.throws(() => knnScores(train.features, train.labels, test.features), /training labels must be >= 0/);
  });
});

// Images whose class sets one bright row: the pixels themselves (Flatten as the encoder) separate the classes.
function stripes(n: number, classes: number, seed: number): MemoryDataset {
  const g = torch.Generator ? new torch.Generator().manualSeed(seed) : undefined;
  const noise = torch.randint(0, 60, [n, 1, 8, 8], { dtype: 'uint8', generator: g! });
  const pixels = noise.toArray() as Uint8Array;
  noise.dispose();
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  labels.forEach((y, i) => {
    pixels.fill(250, i * 64 + y * 8, i * 64 + y * 8 + 8);
  });
  return new MemoryDataset(
    { name: `stripes-${seed}`, channels: 1, height: 8, width: 8, numClasses: classes, labels },
    pixels,
  );
}

test('knnMonitor subsamples labelled train and test sets and restores the encoder mode', () => {
  const encoder = new Flatten();
  encoder.train();
  const r = knnMonitor(encoder, stripes(300, 5, 1), stripes(100, 5, 2), {
    trainSamples: 120,
    testSamples: 40,
    k: 20,
    batchSize: 32,
  });
  assert.equal(r.trainCount, 120);
  assert.equal(r.testCount, 40);
  assert.equal(r.top1, 1);
  assert.equal(encoder.training, true);
  // A fixed seed picks the same subsets, hence the same result; an upsized input still works (resized whole).
  assert.deepEqual(
    knnMonitor(encoder, stripes(300, 5, 1), stripes(100, 5, 2), { trainSamples: 120, testSamples: 40, k: 20 }),
    r,
  );
  const big = extractFeatures(encoder, stripes(10, 5, 3), { inputSize: 16 });
  assert.deepEqual(big.features.shape, [10, 256]);
  big.features.dispose();
});

test('top-5 counts only classes that got votes: with k = 1 it equals top-1 (issue 15, item 15)', () => {
  const c = golden.cases[2]!; // 10 classes
  torch.scope(() => {
    const train = features(c.trainX, c.trainY, c.dim);
    const test = features(c.testX, c.testY, c.dim);
    for (const k of [1, 2]) {
      const r = knnEvaluate(train, test, { k, temperature: c.temperature, numClasses: c.numClasses });
      if (k === 1) assert.equal(r.top5, r.top1, 'k=1: one voted class per query');
    }
    // A query whose true class got no vote is a miss even where unvoted classes of lower index tie ahead of it.
    const scores = torch.tensor([
      [0, 0, 3, 0, 0, 0],
      [0, 2, 0, 1, 0, 0],
    ]);
    assert.deepEqual(topkAccuracy(scores, Int32Array.from([0, 3]), [1, 5], { votes: true }), [0, 0.5]);
    assert.deepEqual(topkAccuracy(scores, Int32Array.from([0, 3]), [1, 5]), [0, 1]);
  });
});

test('NaN scores or features are refused, never counted as hits', () => {
  torch.scope(() => {
    const scores = torch.tensor([
      [Number.NaN, 0, 0],
      [1, 0, 0],
    ]);
    assert.throws(() => topkAccuracy(scores, Int32Array.from([0, 0]), [1]), /1 of 2 rows have NaN scores/);
    const train = features([1, 0, 0, 1], [0, 1], 2);
    const test = features([Number.NaN, 1], [0], 2);
    assert.throws(() => knnEvaluate(train, test, { k: 1 }), /NaN/);
  });
});
