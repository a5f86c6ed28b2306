import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import * as torch from '../../src/torch/index.js';
import { MemoryDataset } from '../../src/data/dataset.js';
import { resolveConfig } from '../../src/run/config.js';
import { buildModel } from '../../src/run/folder.js';
import { finetune, firstHeadLayer, labelSubset, FinetuneNet, type LabelSubset } from '../../src/eval/finetune.js';
import { extractFeatures, topkAccuracy } from '../../src/features/extract.js';

const dir = mkdtempSync(join(tmpdir(), 'simclr-finetune-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// 8x8 one-channel images whose class lights one row; class sizes differ so balance is visible.
function stripes(n: number, seed: number): MemoryDataset {
  const noise = torch.randint(0, 60, [n, 1, 8, 8], {
    dtype: 'uint8',
    generator: new torch.Generator().manualSeed(seed),
  });
  const pixels = noise.toArray() as Uint8Array;
  noise.dispose();
  const labels = Int32Array.from({ length: n }, (_, i) => (i % 7 < 4 ? i % 4 : 0));
  labels.forEach((y, i) => {
    pixels.fill(250, i * 64 + y * 8, i * 64 + y * 8 + 8);
  });
  return new MemoryDataset(
    { name: `stripes-${seed}`, channels: 1, height: 8, width: 8, numClasses: 4, labels },
    pixels,
  );
}

function tinyModel(projLayers: number): ReturnType<typeof buildModel> {
  torch.manualSeed(0);
  const cfg = resolveConfig({ data: 'fashion-mnist', out: dir, width: 0.0625, projLayers, projDim: 8 });
  return buildModel(cfg, { channels: 1, height: 8 });
}

test('the label subset is class-balanced, reproducible per seed and limited to the first samples', () => {
  const ds = stripes(700, 1);
  const counts = [0, 1, 2, 3].map((c) => ds.labels!.filter((y) => y === c).length);
  const a = labelSubset(ds, 0.1, 5);
  assert.deepEqual(
    a.per_class,
    counts.map((n) => Math.round(0.1 * n)),
  );
  assert.equal(
    a.indices.length,
    a.per_class.reduce((x, y) => x + y, 0),
  );
  assert.deepEqual(
    a.per_class,
    [0, 1, 2, 3].map((c) => a.indices.filter((i) => ds.labels![i] === c).length),
  );
  assert.deepEqual(labelSubset(ds, 0.1, 5), a);
  assert.notDeepEqual(labelSubset(ds, 0.1, 6).indices, a.indices);
  const limited = labelSubset(ds, 0.5, 5, 70);
  assert.equal(limited.drawn_from, 70);
  assert.ok(limited.indices.every((i) => i < 70));
});

test('fine-tuning saves its label subset and weights that reproduce the reported accuracy', () => {
  const model = tinyModel(2);
  const before = model.encoder.getParameter('conv1.weight').clone();
  const out = join(dir, 'ft');
  const train = stripes(120, 2);
  const test = stripes(40, 3);
  const r = finetune(model, train, test, {
    labelFraction: 0.25,
    outDir: out,
    epochs: 2,
    batchSize: 8,
    lr: 0.5,
    seed: 1,
  });
  const saved = JSON.parse(readFileSync(r.labelsFile, 'utf8')) as LabelSubset;
  assert.deepEqual(saved, labelSubset(train, 0.25, 1));
  assert.equal(r.labelled, saved.indices.length);
  assert.equal(r.steps, 2 * Math.floor(r.labelled / 8));
  assert.equal(r.testCount, 40);
  assert.ok(!model.encoder.getParameter('conv1.weight').equal(before), 'the encoder was trained in place');

  const { tensors, metadata } = torch.safetensors.loadFile(r.weightsFile);
  assert.ok(tensors.has('encoder.conv1.weight') && tensors.has('classifier.weight') && !tensors.has('head.0.weight'));
  assert.equal(JSON.parse(metadata.simclr_finetune!).label_fraction, 0.25);
  // A fresh network with the saved weights classifies the test set exactly as reported.
  const fresh = new FinetuneNet(tinyModel(2).encoder, null, 4);
  fresh.loadStateDict(tensors);
  const logits = extractFeatures(fresh, test);
  assert.deepEqual(topkAccuracy(logits.features, logits.labels, [1, 5]), [r.top1, r.top5]);
  const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as { top1: number; labelled: number };
  assert.equal(result.top1, r.top1);
  assert.equal(result.labelled, r.labelled);
});

test("--from-head-layer keeps the projection head's first layer under the classifier", () => {
  const model = tinyModel(3);
  // SimCLRv2's head (3 layers, with BN): Linear, BatchNorm1d, ReLU; the paper's 2-layer MLP: Linear, ReLU.
  assert.equal(firstHeadLayer(model).length, 3);
  assert.equal(firstHeadLayer(tinyModel(2)).length, 2);
  const r = finetune(model, stripes(60, 4), stripes(20, 5), {
    labelFraction: 0.5,
    outDir: join(dir, 'ft-head'),
    epochs: 1,
    batchSize: 10,
    fromHeadLayer: true,
  });
  const { tensors } = torch.safetensors.loadFile(r.weightsFile);
  assert.deepEqual(tensors.get('head.0.weight')!.shape, [model.encoder.featureDim, model.encoder.featureDim]);
  assert.deepEqual(tensors.get('classifier.weight')!.shape, [4, model.encoder.featureDim]);
  assert.throws(() => firstHeadLayer(tinyModel(1)), /--from-head-layer needs a projection head of at least 2 layers/);
});
