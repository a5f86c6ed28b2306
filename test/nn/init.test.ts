import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { Conv2d, Linear, BatchNorm2d, init } from '../../src/nn/index.js';
import { readGolden, assertClose } from './formula.js';

interface Seeded {
  seed: number;
  weight: number[];
  bias: number[];
}
interface InitGolden {
  init: {
    conv2d: Seeded;
    conv2dGrouped: Seeded;
    linear: Seeded;
    kaimingNormalFanOut: { seed: number; shape: number[]; values: number[] };
  };
}
const golden = readGolden<InitGolden>('nn.json').init;
const gen = (seed: number): torch.Generator => new torch.Generator().manualSeed(seed);

/** Mean, standard deviation, min and max of a tensor's elements. */
function stats(t: torch.Tensor): { mean: number; std: number; min: number; max: number } {
  return torch.scope(() => ({ mean: t.mean().item(), std: t.std().item(), min: t.min().item(), max: t.max().item() }));
}

test('default Conv2d and Linear initialisation equals PyTorch given the same seed', () => {
  const conv = new Conv2d(3, 4, 3, { generator: gen(golden.conv2d.seed) });
  assertClose(conv.weight, golden.conv2d.weight, 'conv weight', 1e-6, 0);
  assertClose(conv.bias!, golden.conv2d.bias, 'conv bias', 1e-6, 0);
  const grouped = new Conv2d(4, 6, [3, 2], { groups: 2, generator: gen(golden.conv2dGrouped.seed) });
  assertClose(grouped.weight, golden.conv2dGrouped.weight, 'grouped conv weight', 1e-6, 0);
  assertClose(grouped.bias!, golden.conv2dGrouped.bias, 'grouped conv bias', 1e-6, 0);
  const lin = new Linear(5, 3, { generator: gen(golden.linear.seed) });
  assertClose(lin.weight, golden.linear.weight, 'linear weight', 1e-6, 0);
  assertClose(lin.bias!, golden.linear.bias, 'linear bias', 1e-6, 0);
});

test('without a generator, layers draw from the default generator', () => {
  torch.manualSeed(golden.conv2d.seed);
  const conv = new Conv2d(3, 4, 3);
  assertClose(conv.weight, golden.conv2d.weight, 'conv weight', 1e-6, 0);
});

test('kaimingNormal_ (fanOut, relu) equals PyTorch given the same seed', () =>
  torch.scope(() => {
    const { seed, shape, values } = golden.kaimingNormalFanOut;
    const w = init.kaimingNormal_(torch.empty(shape), { mode: 'fanOut', nonlinearity: 'relu', generator: gen(seed) });
    assertClose(w, values, 'kaiming normal', 1e-5, 1e-6);
  }));

test('default layer init: U(-1/sqrt(fanIn), 1/sqrt(fanIn)) for weights and biases', () => {
  const conv = new Conv2d(64, 128, 3, { generator: gen(1) });
  const bound = 1 / Math.sqrt(64 * 9);
  const w = stats(conv.weight);
  assert.ok(w.min >= -bound && w.max <= bound, `weights within +-${bound}: ${w.min}..${w.max}`);
  assert.ok(w.min < -0.99 * bound && w.max > 0.99 * bound, 'weights fill the interval');
  assert.ok(Math.abs(w.mean) < 0.01 * bound);
  assert.ok(Math.abs(w.std - bound / Math.sqrt(3)) < 0.01 * bound, `std ${w.std} vs ${bound / Math.sqrt(3)}`);
  const b = stats(conv.bias!);
  assert.ok(b.min >= -bound && b.max <= bound);
  const lin = new Linear(256, 512, { generator: gen(2) });
  const lb = 1 / 16;
  const l = stats(lin.weight);
  assert.ok(l.min >= -lb && l.max <= lb && l.min < -0.99 * lb && l.max > 0.99 * lb);
  const lbias = stats(lin.bias!);
  assert.ok(lbias.min >= -lb && lbias.max <= lb && lbias.max - lbias.min > lb);
});

test('BatchNorm starts at weight 1, bias 0, mean 0, variance 1, no batches', () => {
  const bn = new BatchNorm2d(4);
  assert.deepEqual(bn.weight!.tolist(), [1, 1, 1, 1]);
  assert.deepEqual(bn.bias!.tolist(), [0, 0, 0, 0]);
  assert.deepEqual(bn.runningMean!.tolist(), [0, 0, 0, 0]);
  assert.deepEqual(bn.runningVar!.tolist(), [1, 1, 1, 1]);
  assert.equal(bn.numBatchesTracked!.item(), 0);
});

test('kaiming initialisers: std gain / sqrt(fan), bound sqrt(3) std', () =>
  torch.scope(() => {
    const w = init.kaimingNormal_(torch.empty([128, 64, 3, 3]), {
      mode: 'fanOut',
      nonlinearity: 'relu',
      generator: gen(3),
    });
    const expected = Math.sqrt(2 / (128 * 9));
    const s = stats(w);
    assert.ok(Math.abs(s.std / expected - 1) < 0.02, `std ${s.std} vs ${expected}`);
    assert.ok(Math.abs(s.mean) < 0.02 * expected);
    const u = init.kaimingUniform_(torch.empty([64, 32, 3, 3]), {
      mode: 'fanIn',
      nonlinearity: 'relu',
      generator: gen(4),
    });
    const bound = (Math.sqrt(3) * Math.sqrt(2)) / Math.sqrt(32 * 9);
    const su = stats(u);
    assert.ok(su.min >= -bound && su.max <= bound && su.max > 0.99 * bound);
  }));

test('the same generator seed gives the same weights, another seed others', () => {
  const a = new Conv2d(8, 8, 3, { generator: gen(5) });
  const b = new Conv2d(8, 8, 3, { generator: gen(5) });
  const c = new Conv2d(8, 8, 3, { generator: gen(6) });
  assert.ok(a.weight.equal(b.weight) && a.bias!.equal(b.bias!));
  assert.ok(!a.weight.equal(c.weight));
});

test('calculateGain and fans follow PyTorch', () =>
  torch.scope(() => {
    assert.equal(init.calculateGain('linear'), 1);
    assert.equal(init.calculateGain('conv2d'), 1);
    assert.equal(init.calculateGain('sigmoid'), 1);
    assert.equal(init.calculateGain('tanh'), 5 / 3);
    assert.equal(init.calculateGain('relu'), Math.sqrt(2));
    assert.equal(init.calculateGain('leakyRelu'), Math.sqrt(2 / (1 + 0.01 * 0.01)));
    assert.equal(init.calculateGain('leakyRelu', Math.sqrt(5)), Math.sqrt(1 / 3));
    assert.equal(init.calculateGain('selu'), 0.75);
    assert.throws(() => init.calculateGain('softplus' as init.Nonlinearity), /unsupported nonlinearity/);
    assert.deepEqual(init.calculateFanInAndFanOut(torch.empty([16, 4, 3, 5])), [60, 240]);
    assert.deepEqual(init.calculateFanInAndFanOut(torch.empty([7, 9])), [9, 7]);
    assert.throws(() => init.calculateFanInAndFanOut(torch.empty([7])), /fewer than 2 dimensions/);
    assert.throws(
      () => init.kaimingNormal_(torch.empty([4, 4]), { mode: 'fan_in' as init.FanMode }),
      /mode must be 'fanIn' or 'fanOut'/,
    );
  }));

test('initialisers write in place into parameters that require grad', () => {
  const lin = new Linear(3, 2);
  init.constant_(lin.weight, 0.5);
  init.zeros_(lin.bias!);
  assert.ok(lin.weight.toArray().every((v) => v === 0.5));
  assert.ok(lin.bias!.toArray().every((v) => v === 0));
  init.ones_(lin.bias!);
  assert.ok(lin.bias!.toArray().every((v) => v === 1));
  init.normal_(lin.weight, 3, 0, gen(1));
  assert.ok(lin.weight.toArray().every((v) => v === 3));
  assert.ok(lin.weight.requiresGrad && lin.weight.isLeaf);
});
