import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learningRate, scaledLearningRate, stepPlan, DEFAULT_BASE_LR } from '../../src/optim/schedule.js';

const near = (a: number, b: number, what: string): void =>
  assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test('batch-size scaling follows the paper: 0.3*bs/256 or 0.075*sqrt(bs)', () => {
  assert.deepEqual(DEFAULT_BASE_LR, { linear: 0.3, sqrt: 0.075 });
  near(scaledLearningRate(4096), 4.8, 'linear 4096');
  near(scaledLearningRate(256, { scaling: 'linear' }), 0.3, 'linear 256');
  near(scaledLearningRate(512, { baseLr: 1.0 }), 2.0, 'linear, own base');
  near(scaledLearningRate(4096, { scaling: 'sqrt' }), 4.8, 'sqrt 4096');
  near(scaledLearningRate(256, { scaling: 'sqrt' }), 1.2, 'sqrt 256');
  near(scaledLearningRate(100, { scaling: 'sqrt', baseLr: 0.1 }), 1.0, 'sqrt, own base');
  assert.throws(() => scaledLearningRate(0), RangeError);
  assert.throws(() => scaledLearningRate(64, { scaling: 'cubic' as 'linear' }), TypeError);
});

test('linear warm-up from 0 to the peak, then cosine decay to exactly 0', () => {
  const opts = { baseLr: 2, warmupSteps: 10, totalSteps: 110 };
  assert.equal(learningRate(0, opts), 0);
  near(learningRate(1, opts), 0.2, 'first warm-up step');
  near(learningRate(5, opts), 1, 'mid warm-up');
  near(learningRate(9, opts), 1.8, 'last warm-up step');
  assert.equal(learningRate(10, opts), 2);
  near(learningRate(60, opts), 1, 'half-way through the decay');
  near(learningRate(35, opts), 1 + Math.SQRT1_2, 'a quarter through the decay');
  near(learningRate(109, opts), 1 - Math.cos(Math.PI / 100), 'last step');
  assert.equal(learningRate(110, opts), 0);
  assert.equal(learningRate(500, opts), 0);
  // Monotone: up during warm-up, down afterwards.
  const lrs = Array.from({ length: 111 }, (_, s) => learningRate(s, opts));
  for (let s = 1; s <= 10; s++) assert.ok(lrs[s]! > lrs[s - 1]!, `warm-up rises at ${s}`);
  for (let s = 11; s <= 110; s++) assert.ok(lrs[s]! < lrs[s - 1]!, `decay falls at ${s}`);
});

test('no warm-up starts at the peak; all-warm-up never decays', () => {
  assert.equal(learningRate(0, { baseLr: 1, warmupSteps: 0, totalSteps: 4 }), 1);
  near(learningRate(2, { baseLr: 1, warmupSteps: 0, totalSteps: 4 }), 0.5, 'no warm-up, half-way');
  near(learningRate(3, { baseLr: 1, warmupSteps: 4, totalSteps: 4 }), 0.75, 'all warm-up');
  assert.throws(() => learningRate(-1, { baseLr: 1, warmupSteps: 0, totalSteps: 4 }), RangeError);
  assert.throws(() => learningRate(1, { baseLr: 1, warmupSteps: 5, totalSteps: 4 }), RangeError);
});

test('warm-up defaults to min(10 epochs, 10% of the run); an explicit value is kept', () => {
  assert.deepEqual(stepPlan({ epochs: 100, stepsPerEpoch: 50 }), { warmupSteps: 500, totalSteps: 5000 });
  assert.deepEqual(stepPlan({ epochs: 800, stepsPerEpoch: 10 }), { warmupSteps: 100, totalSteps: 8000 });
  assert.deepEqual(stepPlan({ epochs: 20, stepsPerEpoch: 50 }), { warmupSteps: 100, totalSteps: 1000 });
  assert.deepEqual(stepPlan({ epochs: 3, stepsPerEpoch: 7 }), { warmupSteps: 2, totalSteps: 21 });
  assert.deepEqual(stepPlan({ epochs: 20, stepsPerEpoch: 50, warmupEpochs: 5 }), {
    warmupSteps: 250,
    totalSteps: 1000,
  });
  assert.deepEqual(stepPlan({ epochs: 2, stepsPerEpoch: 50, warmupEpochs: 10 }), { warmupSteps: 100, totalSteps: 100 });
  assert.deepEqual(stepPlan({ epochs: 20, stepsPerEpoch: 50, warmupEpochs: 0 }), { warmupSteps: 0, totalSteps: 1000 });
  assert.throws(() => stepPlan({ epochs: 0, stepsPerEpoch: 50 }), RangeError);
  assert.throws(() => stepPlan({ epochs: 10, stepsPerEpoch: 1.5 }), RangeError);
});
