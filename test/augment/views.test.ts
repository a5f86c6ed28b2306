// One augmentation per view and shared steps: the paper's one-branch setting (Figure 5), where both views are the
// same random crop and only one of them gets the targeted ops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import {
  parseAugmentSteps,
  pipelineSteps,
  resolvePipeline,
  samplePipeline,
  sharedPrefix,
} from '../../src/augment/pipeline.js';
import { applyViews, createViewBatch, viewPipelines } from '../../src/augment/apply.js';
import { ConfigError, resolveConfig } from '../../src/run/config.js';
import { describeViews } from '../../src/run/augment.js';

const crop = { op: 'randomResizedCrop', shared: true, scale: [0.2, 1] };
const indices = [0, 3, 5, 9];

test('shared steps give every view the same parameters; the other steps stay per view', () => {
  const p = resolvePipeline([crop, { op: 'colorJitter', p: 1 }], 16, 3);
  const [v0, v1] = [0, 1].map((v) => samplePipeline(p, 24, 24, 7, 2, indices, v));
  assert.deepEqual(v0!.steps[0]!.values, v1!.steps[0]!.values);
  assert.notDeepEqual(v0!.steps[1]!.values, v1!.steps[1]!.values);
  // Unshared, the crops of the two views differ, and the later steps draw from the view's stream as before.
  const own = resolvePipeline(
    [
      { ...crop, shared: false },
      { op: 'colorJitter', p: 1 },
    ],
    16,
    3,
  );
  const [w0, w1] = [0, 1].map((v) => samplePipeline(own, 24, 24, 7, 2, indices, v));
  assert.notDeepEqual(w0!.steps[0]!.values, w1!.steps[0]!.values);
  const jitterOnly = resolvePipeline([{ op: 'colorJitter', p: 1 }], 16, 3);
  assert.deepEqual(samplePipeline(jitterOnly, 24, 24, 7, 2, indices, 1).steps[0]!.values, v1!.steps[1]!.values);
});

test('augment lists: shared is a boolean on leading steps, kept by pipelineSteps, compared by sharedPrefix', () => {
  const parsed = parseAugmentSteps([crop, { op: 'sobel' }]);
  assert.deepEqual(parsed[0], { op: 'randomResizedCrop', shared: true, scale: [0.2, 1], ratio: [3 / 4, 4 / 3] });
  assert.deepEqual(pipelineSteps(resolvePipeline(parsed, 16, 1)), parsed);
  assert.throws(() => parseAugmentSteps([{ op: 'sobel' }, crop]), /augment\[1\]: shared steps must come first/);
  assert.throws(() => parseAugmentSteps([{ ...crop, shared: 'yes' }]), /augment\[0\]\.shared must be true or false/);
  assert.equal(sharedPrefix(parsed), sharedPrefix(parseAugmentSteps([crop, { op: 'rotation' }])));
  assert.equal(sharedPrefix(parseAugmentSteps([{ op: 'sobel' }])), '[]');
});

test('createViewBatch with one pipeline per view: view v is made by pipeline v, every view 0 first', () => {
  torch.scope(() => {
    const images = torch.randint(0, 256, [4, 3, 20, 20], {
      dtype: 'uint8',
      generator: new torch.Generator().manualSeed(1),
    });
    const first = resolvePipeline([crop], 16, 3);
    const second = resolvePipeline([crop, { op: 'sobel', p: 1 }, { op: 'rotation' }], 16, 3);
    const at = { seed: 3, epoch: 1, indices };
    const batch = createViewBatch(images, [first, second], at, { memoryFormat: 'channelsLast' });
    assert.deepEqual(batch.shape, [8, 3, 16, 16]);
    const expect0 = applyViews(images, samplePipeline(first, 20, 20, 3, 1, indices, 0), first);
    const expect1 = applyViews(images, samplePipeline(second, 20, 20, 3, 1, indices, 1), second);
    assert.ok(batch.narrow(0, 0, 4).sub(expect0).abs().max().item() < 1e-5);
    assert.ok(batch.narrow(0, 4, 4).sub(expect1).abs().max().item() < 1e-5);
    // The same crop under both: Sobel's view is the first view's crop, filtered (its luma's gradient, then rotated).
    const plain = createViewBatch(images, [first, first], at);
    assert.ok(plain.narrow(0, 0, 4).sub(expect0).abs().max().item() < 1e-5);
    assert.throws(() => viewPipelines([first, resolvePipeline([crop], 12, 3)]), /differ in output/);
  });
});

test("augment2: must start with augment's shared steps; view 1 uses it", () => {
  const base = { data: 'fashion-mnist', out: '/nonexistent' };
  const cfg = resolveConfig({ ...base, augment: [crop], augment2: [crop, { op: 'cutout', p: 1 }] });
  assert.equal(cfg.augment2!.length, 2);
  assert.equal(resolveConfig(base).augment2, null);
  assert.equal(
    describeViews(cfg, { channels: 1, height: 28 }),
    'view 1: randomResizedCrop (shared); view 2: randomResizedCrop (shared) -> cutout',
  );
  assert.doesNotMatch(describeViews(resolveConfig(base), { channels: 1, height: 28 }), /view/);
  assert.throws(
    () => resolveConfig({ ...base, augment2: [crop, { op: 'cutout' }] }),
    (e: unknown) => e instanceof ConfigError && /augment2 must start with the same shared steps/.test(e.message),
  );
  assert.throws(
    () => resolveConfig({ ...base, augment: [crop], augment2: [{ ...crop, scale: [0.5, 1] }] }),
    /augment2 must start with the same shared steps/,
  );
});
