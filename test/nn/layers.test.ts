import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { Conv2d, Linear, BatchNorm1d, BatchNorm2d, ReLU, Identity, Flatten, Sequential } from '../../src/nn/index.js';
import { formula, readGolden, assertClose } from './formula.js';

interface LayersGolden {
  layers: {
    conv2d: { shape: number[]; y: number[] };
    linear: { y: number[] };
    batchNorm2d: {
      yTrain: number[];
      yEval: number[];
      runningMean: number[];
      runningVar: number[];
      numBatchesTracked: number;
    };
    batchNorm1dCumulative: { yEval: number[]; runningMean: number[]; runningVar: number[] };
  };
}
const golden = readGolden<LayersGolden>('nn.json').layers;

test('Conv2d with stride, padding, dilation and groups matches PyTorch', () =>
  torch.scope(() => {
    const conv = new Conv2d(4, 6, 3, { stride: 2, padding: 1, dilation: 2, groups: 2 });
    assert.deepEqual(conv.weight.shape, [6, 2, 3, 3]);
    conv.loadStateDict(
      new Map([
        ['weight', formula([6, 2, 3, 3], 221, 0.5)],
        ['bias', formula([6], 222, 0.2)],
      ]),
    );
    const y = conv.call(formula([2, 4, 7, 7], 223, 2));
    assert.deepEqual(y.shape, golden.conv2d.shape);
    assertClose(y, golden.conv2d.y, 'conv2d');
  }));

test('Conv2d options: no bias, rectangular kernels, validation', () =>
  torch.scope(() => {
    const conv = new Conv2d(3, 8, [3, 1], { bias: false, padding: [1, 0] });
    assert.equal(conv.bias, null);
    assert.deepEqual(
      conv.namedParameters().map(([n]) => n),
      ['weight'],
    );
    assert.deepEqual(conv.call(torch.zeros([1, 3, 5, 5])).shape, [1, 8, 5, 5]);
    assert.deepEqual(new Conv2d(3, 8, 3, { padding: 'same' }).call(torch.zeros([1, 3, 6, 6])).shape, [1, 8, 6, 6]);
    assert.throws(() => new Conv2d(3, 8, 3, { groups: 2 }), /inChannels \(3\) must be divisible by groups \(2\)/);
    assert.throws(() => new Conv2d(4, 6, 3, { groups: 4 }), /outChannels \(6\) must be divisible by groups \(4\)/);
    assert.throws(() => new Conv2d(0, 6, 3), /inChannels must be a positive integer/);
    assert.throws(() => new Conv2d(3, 6, 0), /kernelSize must be positive/);
    assert.throws(() => new Conv2d(3, 6, 3, { stride: 0 }), /stride must be positive/);
  }));

test('Linear matches PyTorch; bias optional', () =>
  torch.scope(() => {
    const lin = new Linear(5, 3);
    lin.loadStateDict(
      new Map([
        ['weight', formula([3, 5], 231, 0.5)],
        ['bias', formula([3], 232, 0.2)],
      ]),
    );
    assertClose(lin.call(formula([4, 5], 233, 2)), golden.linear.y, 'linear');
    const noBias = new Linear(5, 3, { bias: false });
    assert.equal(noBias.bias, null);
    assert.deepEqual([...noBias.stateDict().keys()], ['weight']);
    assert.throws(() => new Linear(5, 0), /outFeatures must be a positive integer/);
  }));

test('BatchNorm2d: batch statistics and running updates in training, running statistics in eval', () =>
  torch.scope(() => {
    const bn = new BatchNorm2d(3);
    bn.loadStateDict(
      new Map([
        ['weight', formula([3], 201, 0.5, 1)],
        ['bias', formula([3], 202, 0.2)],
      ]),
      { strict: false },
    );
    const yTrain = bn.call(formula([4, 3, 5, 5], 203, 2, 0.3));
    assert.equal(bn.numBatchesTracked!.item(), 1);
    bn.call(formula([4, 3, 5, 5], 204, 3, -0.2));
    bn.eval();
    const yEval = bn.call(formula([2, 3, 5, 5], 205, 2));
    assertClose(yTrain, golden.batchNorm2d.yTrain, 'train output');
    assertClose(yEval, golden.batchNorm2d.yEval, 'eval output');
    assertClose(bn.runningMean!, golden.batchNorm2d.runningMean, 'running_mean');
    assertClose(bn.runningVar!, golden.batchNorm2d.runningVar, 'running_var');
    assert.equal(bn.numBatchesTracked!.item(), golden.batchNorm2d.numBatchesTracked);
    const mean = bn.runningMean!.clone();
    bn.call(formula([2, 3, 5, 5], 206));
    assert.ok(bn.runningMean!.equal(mean), 'eval must not update running statistics');
    assert.equal(bn.numBatchesTracked!.item(), 2);
  }));

test('BatchNorm1d with momentum null keeps a cumulative average, for 2-d and 3-d input', () =>
  torch.scope(() => {
    const bn = new BatchNorm1d(3, { momentum: null, affine: false });
    assert.deepEqual(bn.namedParameters(), []);
    assert.equal(bn.weight, null);
    bn.call(formula([4, 3, 5], 211, 2, 0.5));
    bn.call(formula([6, 3], 212, 1, -0.5));
    bn.eval();
    assertClose(bn.call(formula([2, 3], 213, 2)), golden.batchNorm1dCumulative.yEval, 'eval output');
    assertClose(bn.runningMean!, golden.batchNorm1dCumulative.runningMean, 'running_mean');
    assertClose(bn.runningVar!, golden.batchNorm1dCumulative.runningVar, 'running_var');
  }));

test('BatchNorm without running statistics normalises with batch statistics in eval too', () =>
  torch.scope(() => {
    const bn = new BatchNorm2d(3, { trackRunningStats: false });
    assert.deepEqual(bn.namedBuffers(), []);
    assert.deepEqual([...bn.stateDict().keys()], ['weight', 'bias']);
    const x = formula([2, 3, 4, 4], 300, 4, 1);
    const yTrain = bn.call(x);
    const yEval = bn.eval().call(x);
    assert.ok(yEval.allclose(yTrain));
    assert.ok(yEval.mean([0, 2, 3]).abs().max().item() < 1e-5, 'per-channel mean is removed');
  }));

test('BatchNorm rejects inputs of the wrong rank or channel count, and bad options', () =>
  torch.scope(() => {
    assert.throws(() => new BatchNorm2d(3).call(torch.zeros([2, 3])), /expected 4D input, got 2D input/);
    assert.throws(() => new BatchNorm1d(3).call(torch.zeros([2, 3, 4, 4])), /expected 2D or 3D input, got 4D input/);
    assert.throws(() => new BatchNorm2d(3).call(torch.zeros([2, 4, 2, 2])), /expected 3 channels, got 4/);
    assert.throws(() => new BatchNorm2d(3, { momentum: 2 }), /momentum must be in \[0, 1\]/);
    assert.throws(() => new BatchNorm2d(3, { eps: 0 }), /eps must be positive/);
  }));

test('Sequential chains its children, named 0, 1, ..., and leaves the input alive', () =>
  torch.scope(() => {
    const lin = new Linear(4, 3);
    const seq = new Sequential(lin, new ReLU(), new Identity());
    assert.equal(seq.length, 3);
    assert.equal(seq.at(0), lin);
    assert.ok(seq.at(-1) instanceof Identity);
    assert.throws(() => seq.at(3), /there are 3 layers/);
    assert.deepEqual([...seq.stateDict().keys()], ['0.weight', '0.bias']);
    const x = torch.randn([2, 4]);
    const y = seq.call(x);
    assert.ok(!x.isDisposed);
    assert.ok(y.equal(torch.nn.functional.linear(x, lin.weight, lin.bias).relu()));
    const passthrough = new Sequential().call(x);
    passthrough.dispose();
    assert.ok(!x.isDisposed && x.shape.length === 2, 'an empty Sequential returns a fresh handle');
  }));

test('Identity, Flatten and ReLU', () =>
  torch.scope(() => {
    const x = torch
      .tensor([
        [-1, 2],
        [3, -4],
      ])
      .reshape([1, 2, 2]);
    const same = new Identity().call(x);
    assert.ok(same.equal(x));
    same.dispose();
    assert.ok(!x.isDisposed, 'disposing the Identity result leaves the input alive');
    assert.deepEqual(new Flatten().call(x).shape, [1, 4]);
    assert.deepEqual(new Flatten(0, 1).call(x).shape, [2, 2]);
    assert.deepEqual(new ReLU().call(x).tolist(), [
      [
        [0, 2],
        [3, 0],
      ],
    ]);
    assert.deepEqual(
      x.tolist(),
      [
        [
          [-1, 2],
          [3, -4],
        ],
      ],
      'ReLU is out of place',
    );
  }));
