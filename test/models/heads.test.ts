import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { BatchNorm1d, Linear, ReLU, Sequential } from '../../src/nn/index.js';
import { ProjectionHead, SimCLRModel, resnet18, type ProjectionHeadKind } from '../../src/models/index.js';

const gen = (seed: number): torch.Generator => new torch.Generator().manualSeed(seed);

/** Each child's class name and, for Linear layers, [in, out, hasBias]. */
function describe(head: ProjectionHead): unknown[] {
  return head
    .children()
    .map((m) => (m instanceof Linear ? ['Linear', m.inFeatures, m.outFeatures, m.bias !== null] : m.constructor.name));
}

test("mlp head: the paper's Linear-ReLU-Linear, hidden = input size, 128 out", () =>
  torch.scope(() => {
    const head = new ProjectionHead(512);
    assert.equal(head.kind, 'mlp');
    assert.deepEqual([head.numLayers, head.hiddenDim, head.outDim], [2, 512, 128]);
    assert.deepEqual(describe(head), [['Linear', 512, 512, true], 'ReLU', ['Linear', 512, 128, true]]);
    assert.deepEqual([...head.stateDict().keys()], ['0.weight', '0.bias', '2.weight', '2.bias']);
    const h = torch.randn([4, 512]);
    const z = head.call(h);
    assert.deepEqual(z.shape, [4, 128]);
    const l0 = head.at(0) as Linear;
    const l2 = head.at(2) as Linear;
    assert.ok(
      z.allclose(
        torch.nn.functional.linear(torch.nn.functional.linear(h, l0.weight, l0.bias).relu(), l2.weight, l2.bias),
        1e-5,
        1e-6,
      ),
    );
  }));

test('mlp head: custom depth and sizes', () =>
  torch.scope(() => {
    const head = new ProjectionHead(64, { layers: 3, hiddenDim: 32, outDim: 16 });
    assert.deepEqual(describe(head), [
      ['Linear', 64, 32, true],
      'ReLU',
      ['Linear', 32, 32, true],
      'ReLU',
      ['Linear', 32, 16, true],
    ]);
    assert.deepEqual(head.call(torch.randn([2, 64])).shape, [2, 16]);
    assert.deepEqual(describe(new ProjectionHead(64, { layers: 1 })), [['Linear', 64, 128, true]]);
  }));

test("mlpBn head: SimCLRv2's Linear(no bias)-BN-ReLU blocks, the last without ReLU", () =>
  torch.scope(() => {
    const head = new ProjectionHead(256, { kind: 'mlpBn', outDim: 64 });
    assert.equal(head.numLayers, 3);
    assert.deepEqual(describe(head), [
      ['Linear', 256, 256, false],
      'BatchNorm1d',
      'ReLU',
      ['Linear', 256, 256, false],
      'BatchNorm1d',
      'ReLU',
      ['Linear', 256, 64, false],
      'BatchNorm1d',
    ]);
    assert.deepEqual(
      [...head.stateDict().keys()].filter((k) => k.startsWith('7.')),
      ['7.weight', '7.bias', '7.running_mean', '7.running_var', '7.num_batches_tracked'],
    );
    const z = head.call(torch.randn([8, 256], { generator: gen(1) }));
    assert.deepEqual(z.shape, [8, 64]);
    // The final BN (no ReLU after it) centres every feature over the batch in training mode.
    assert.ok(z.mean(0).abs().max().item() < 1e-5);
    assert.ok(z.min().item() < 0);
    assert.deepEqual(describe(new ProjectionHead(16, { kind: 'mlpBn', layers: 2, hiddenDim: 8 })), [
      ['Linear', 16, 8, false],
      'BatchNorm1d',
      'ReLU',
      ['Linear', 8, 128, false],
      'BatchNorm1d',
    ]);
  }));

test('projection head options are validated', () => {
  assert.throws(() => new ProjectionHead(8, { layers: 0 }), /layers must be a positive integer/);
  assert.throws(() => new ProjectionHead(8, { layers: 1.5 }), /layers must be a positive integer/);
  assert.throws(() => new ProjectionHead(8, { kind: 'mlp-bn' as ProjectionHeadKind }), /kind must be 'mlp' or 'mlpBn'/);
});

test('the head generator makes initialisation reproducible', () =>
  torch.scope(() => {
    const a = new ProjectionHead(32, { generator: gen(5) });
    const b = new ProjectionHead(32, { generator: gen(5) });
    const sb = b.stateDict();
    for (const [name, t] of a.stateDict()) assert.ok(t.equal(sb.get(name)!), name);
  }));

test('SimCLRModel: forward gives h from the encoder and z = head(h); names are prefixed', () =>
  torch.scope(() => {
    const encoder = resnet18({ width: 0.125, imageSize: 32, generator: gen(2) });
    const model = new SimCLRModel(encoder, { kind: 'mlpBn', outDim: 32 });
    assert.equal(model.encoder, encoder);
    assert.ok(model.head instanceof ProjectionHead && (model.head as ProjectionHead).inDim === 64);
    const x = torch.randn([4, 3, 16, 16], { generator: gen(3) });
    model.eval();
    const { h, z } = model.call(x);
    assert.deepEqual(h.shape, [4, 64]);
    assert.deepEqual(z.shape, [4, 32]);
    assert.ok(h.equal(encoder.call(x)));
    assert.ok(z.equal(model.head.call(h)));
    const names = [...model.stateDict().keys()];
    assert.equal(names[0], 'encoder.conv1.weight');
    assert.ok(names.includes('encoder.layer4.1.bn2.running_var'));
    assert.ok(names.includes('head.7.num_batches_tracked'));
    assert.ok(names.every((n) => n.startsWith('encoder.') || n.startsWith('head.')));
    model.train();
    assert.ok(encoder.training && model.head.training && model.head.children().every((m) => m.training));
  }));

test('SimCLRModel: default head, custom head module, and gradients reach both parts', () =>
  torch.scope(() => {
    const encoder = resnet18({ width: 0.125, stem: 'cifar' });
    const model = new SimCLRModel(encoder);
    assert.deepEqual(describe(model.head as ProjectionHead), [
      ['Linear', 64, 64, true],
      'ReLU',
      ['Linear', 64, 128, true],
    ]);
    const { z } = model.call(torch.randn([2, 3, 8, 8]));
    z.square().sum().backward();
    for (const [name, p] of model.namedParameters()) assert.ok(p.grad !== null, `${name} has a gradient`);

    const custom = new Sequential(new Linear(64, 10), new ReLU(), new BatchNorm1d(10));
    const withCustom = new SimCLRModel(resnet18({ width: 0.125, stem: 'cifar' }), custom);
    assert.equal(withCustom.head, custom);
    assert.deepEqual(withCustom.call(torch.randn([2, 3, 8, 8])).z.shape, [2, 10]);
  }));
