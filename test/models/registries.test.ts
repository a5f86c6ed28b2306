// The registries (issue 12, item 2): backbones, heads and optimizers chosen by name, the default config's model and
// optimizer bit for bit what the hard-coded choices built, and exporters that refuse what they cannot write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { Module } from '../../src/nn/index.js';
import {
  BACKBONES,
  BACKBONE_NAMES,
  HEADS,
  ProjectionHead,
  ResNet,
  SimCLRModel,
  resnet18,
  type Encoder,
} from '../../src/models/index.js';
import { OPTIMIZERS, OPTIMIZER_NAMES, LARS, SGD, AdamW, larsParamGroups } from '../../src/optim/index.js';
import { buildModel } from '../../src/run/folder.js';
import { resolveConfig } from '../../src/run/config.js';
import { describeEncoder } from '../../src/eval/export.js';
import { encoderToOnnx } from '../../src/eval/onnx.js';

const gen = (seed: number): torch.Generator => new torch.Generator().manualSeed(seed);

test('the registries hold the names the config and the CLI offer, defaults first', () => {
  assert.deepEqual(BACKBONE_NAMES, ['resnet18', 'resnet34', 'resnet50']);
  assert.deepEqual(OPTIMIZER_NAMES, ['lars', 'sgd', 'adamw']);
  assert.deepEqual(Object.keys(HEADS), ['mlp', 'mlpBn', 'none']);
  const cfg = resolveConfig({ data: 'x', out: 'y' });
  assert.equal(cfg.arch, BACKBONE_NAMES[0]);
  assert.equal(cfg.optimizer, OPTIMIZER_NAMES[0]);
});

test('every backbone is an Encoder whose featureDim is the width of h', () =>
  torch.scope(() => {
    const dims: Record<string, number> = { resnet18: 64, resnet34: 64, resnet50: 256 };
    for (const name of BACKBONE_NAMES) {
      const enc = BACKBONES[name].create({ width: 0.125, stem: 'cifar', inChannels: 1, generator: gen(1) });
      assert.equal(enc.featureDim, dims[name], name);
      enc.eval();
      assert.deepEqual(torch.noGrad(() => enc.call(torch.rand([2, 1, 16, 16]))).shape, [2, enc.featureDim], name);
      enc.dispose();
    }
  }));

test('buildModel through the registries equals the model built by hand, weight for weight', () =>
  torch.scope(() => {
    for (const projLayers of [2, 3]) {
      const cfg = resolveConfig({ data: 'x', out: 'y', width: 0.125, projLayers, projDim: 32 });
      const viaRegistry = buildModel(cfg, { channels: 3, height: 32 }, gen(7));
      const g = gen(7);
      const byHand = new SimCLRModel(resnet18({ width: 0.125, stem: 'cifar', inChannels: 3, generator: g }), {
        kind: projLayers <= 2 ? 'mlp' : 'mlpBn',
        layers: projLayers,
        outDim: 32,
        generator: g,
      });
      const a = viaRegistry.stateDict();
      const b = byHand.stateDict();
      assert.deepEqual([...a.keys()], [...b.keys()]);
      for (const [k, t] of a) assert.ok(t.equal(b.get(k)!), `${k} differs (projLayers ${projLayers})`);
      assert.ok(viaRegistry.head instanceof ProjectionHead);
      viaRegistry.dispose();
      byHand.dispose();
    }
  }));

test('HEADS make ProjectionHeads of their kind', () =>
  torch.scope(() => {
    const head = HEADS.mlpBn.create(16, { layers: 2, outDim: 8 });
    assert.ok(head instanceof ProjectionHead && head.kind === 'mlpBn' && head.outDim === 8);
  }));

test('projLayers 0 builds no head (z = h, no head parameters) and 1 a linear head', () =>
  torch.scope(() => {
    const none = buildModel(resolveConfig({ data: 'x', out: 'y', width: 0.0625, projLayers: 0 }), {
      channels: 1,
      height: 28,
    });
    assert.equal([...none.stateDict().keys()].filter((k) => k.startsWith('head.')).length, 0);
    const { h, z } = none.eval().call(torch.rand([2, 1, 28, 28]));
    assert.ok(h.equal(z));
    const linear = buildModel(resolveConfig({ data: 'x', out: 'y', width: 0.0625, projLayers: 1, projDim: 5 }), {
      channels: 1,
      height: 28,
    });
    assert.deepEqual(
      [...linear.stateDict().keys()].filter((k) => k.startsWith('head.')),
      ['head.0.weight', 'head.0.bias'],
    );
    assert.deepEqual(linear.eval().call(torch.rand([2, 1, 28, 28])).z.shape, [2, 5]);
  }));

test("OPTIMIZERS make what pretraining made: LARS with SimCLR's groups, SGD with momentum 0.9, AdamW", () =>
  torch.scope(() => {
    const model = buildModel(
      resolveConfig({ data: 'x', out: 'y', width: 0.0625 }),
      { channels: 1, height: 28 },
      gen(3),
    );
    const named = model.namedParameters();
    const settings = { lr: 0.2, weightDecay: 1e-4 };
    const lars = OPTIMIZERS.lars.create(named, settings);
    assert.ok(lars instanceof LARS);
    const expected = larsParamGroups(named, { weightDecay: 1e-4 });
    assert.deepEqual(
      lars.paramGroups.map((g) => [g.params.length, g.weightDecay, g.lr]),
      expected.map((g) => [g.params.length, g.weightDecay, 0.2]),
    );
    const sgd = OPTIMIZERS.sgd.create(named, settings);
    assert.ok(sgd instanceof SGD);
    assert.equal((sgd as unknown as SGD).paramGroups[0]!.momentum, 0.9);
    assert.ok(OPTIMIZERS.adamw.create(named, settings) instanceof AdamW);
    model.dispose();
  }));

class FlatEncoder extends Module<torch.Tensor, torch.Tensor> implements Encoder {
  readonly featureDim = 12;
  forward(x: torch.Tensor): torch.Tensor {
    return x.flatten(1);
  }
}

test('exporters refuse an encoder they cannot write, saying which they can', () => {
  const enc = new FlatEncoder();
  assert.ok(!(enc instanceof ResNet));
  assert.throws(
    () => encoderToOnnx(enc),
    /ONNX exporter writes ResNet encoders only \(resnet18, resnet34, resnet50\), got FlatEncoder/,
  );
  assert.throws(() => describeEncoder(enc, { height: 2, width: 2 }, 0), /handle ResNet encoders only.*not FlatEncoder/);
});
