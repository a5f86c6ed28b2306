import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { BatchNorm2d, type Conv2d } from '../../src/nn/index.js';
import {
  ResNet,
  resnet18,
  resnet34,
  resnet50,
  defaultStem,
  stageChannels,
  type ResNetDepth,
  type Stem,
} from '../../src/models/index.js';
import { stateValue, formula, readGolden, assertClose } from '../nn/formula.js';

interface ResNetCase {
  depth: ResNetDepth;
  stem: Stem;
  inChannels: number;
  imageSize: number;
  batch: number;
  featureDim: number;
  hEval: number[];
  hTrain: number[];
  runningStats: Record<string, number[]>;
  grads: Record<string, { shape: number[]; head: number[]; absSum: number }>;
}
interface ResNetGolden {
  names: Record<string, [string, number[], string][]>;
  cases: ResNetCase[];
}
const golden = readGolden<ResNetGolden>('nn_resnet.json');
const gen = (seed: number): torch.Generator => new torch.Generator().manualSeed(seed);

test('state-dict names, shapes and dtypes equal torchvision resnet18/34/50 (without fc)', () => {
  for (const [name, build] of [
    ['resnet18', resnet18],
    ['resnet34', resnet34],
    ['resnet50', resnet50],
  ] as const) {
    const model = build();
    const ours = torch.scope(() => [...model.stateDict()].map(([k, t]) => [k, t.shape, t.dtype]));
    assert.deepEqual(ours, golden.names[name], name);
    model.dispose();
  }
});

for (const c of golden.cases) {
  test(
    `resnet${c.depth} (${c.stem} stem, ${c.inChannels} channel(s), ${c.imageSize} px) matches torchvision in ` +
      `eval and train mode`,
    () => {
      const model = new ResNet(c.depth, { stem: c.stem, inChannels: c.inChannels });
      assert.equal(model.featureDim, c.featureDim);
      torch.scope(() => {
        const entries = [...model.stateDict()];
        model.loadStateDict(
          new Map(entries.map(([k, t], i) => [k, t.isFloatingPoint() ? stateValue(k, t.shape, i) : t])),
        );
      });
      torch.scope(() => {
        const x = formula([c.batch, c.inChannels, c.imageSize, c.imageSize], 5000, 2);
        model.eval();
        const hEval = torch.noGrad(() => model.call(x));
        assert.deepEqual(hEval.shape, [c.batch, c.featureDim]);
        assertClose(hEval, c.hEval, 'h (eval)');
        assert.ok(
          model
            .buffers()
            .filter((b) => b.dtype === 'int64')
            .every((n) => n.item() === 0),
          'eval tracks no batches',
        );

        model.train();
        const hTrain = model.call(x);
        assertClose(hTrain, c.hTrain, 'h (train)');
        hTrain.mul(formula(hTrain.shape, 5001)).sum().backward();
        for (const [name, expected] of Object.entries(c.runningStats))
          assertClose(model.getBuffer(name), expected, name);
        const counts = model
          .modules()
          .filter((m) => m instanceof BatchNorm2d)
          .map((m) => (m as BatchNorm2d).numBatchesTracked!.item());
        assert.ok(counts.length > 0 && counts.every((n) => n === 1), 'every BN counted one batch');
        for (const [name, g] of Object.entries(c.grads)) {
          const grad = model.getParameter(name).grad!;
          assert.deepEqual(grad.shape, g.shape, name);
          assertClose(grad.flatten().narrow(0, 0, g.head.length), g.head, `grad ${name}`, 1e-3, 1e-4);
          const absSum = grad.abs().sum(undefined, false, 'float64').item();
          assert.ok(
            Math.abs(absSum - g.absSum) <= 1e-4 * g.absSum,
            `grad ${name}: |g| sum ${absSum}, expected ${g.absSum}`,
          );
        }
      });
      model.dispose();
    },
  );
}

test('stage channels: round(base * width), halves up, at least 1', () => {
  assert.deepEqual(stageChannels(1), [64, 128, 256, 512]);
  assert.deepEqual(stageChannels(0.25), [16, 32, 64, 128]);
  assert.deepEqual(stageChannels(0.3), [19, 38, 77, 154]);
  assert.deepEqual(stageChannels(2), [128, 256, 512, 1024]);
  assert.deepEqual(stageChannels(1 / 128), [1, 1, 2, 4]);
  assert.deepEqual(stageChannels(0.001), [1, 1, 1, 1]);
  for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
    assert.throws(() => stageChannels(bad), /positive number/);
});

test('width 0.25: channel counts of every stage and featureDim', () =>
  torch.scope(() => {
    const r18 = resnet18({ width: 0.25, stem: 'cifar' });
    assert.deepEqual(r18.stageChannels, [16, 32, 64, 128]);
    assert.equal(r18.featureDim, 128);
    assert.deepEqual(r18.getParameter('conv1.weight').shape, [16, 3, 3, 3]);
    assert.deepEqual(r18.getParameter('layer2.0.conv1.weight').shape, [32, 16, 3, 3]);
    assert.deepEqual(r18.getParameter('layer2.0.downsample.0.weight').shape, [32, 16, 1, 1]);
    assert.deepEqual(r18.getParameter('layer4.1.conv2.weight').shape, [128, 128, 3, 3]);
    assert.deepEqual(r18.call(torch.randn([3, 3, 8, 8])).shape, [3, 128]);

    const r50 = resnet50({ width: 0.25 });
    assert.equal(r50.featureDim, 512);
    assert.deepEqual(r50.getParameter('layer1.0.conv1.weight').shape, [16, 16, 1, 1]);
    assert.deepEqual(r50.getParameter('layer1.0.conv3.weight').shape, [64, 16, 1, 1]);
    assert.deepEqual(r50.getParameter('layer1.0.downsample.0.weight').shape, [64, 16, 1, 1]);
    assert.deepEqual(r50.getParameter('layer4.2.bn3.weight').shape, [512]);
    assert.deepEqual(r50.call(torch.randn([2, 3, 32, 32])).shape, [2, 512]);

    const odd = resnet34({ width: 0.3 });
    assert.equal(odd.featureDim, 154);
    assert.deepEqual(odd.getParameter('layer3.0.conv1.weight').shape, [77, 38, 3, 3]);
  }));

test('stem: cifar up to 32 px, imagenet above; explicit stem wins; torchvision default without a size', () =>
  torch.scope(() => {
    assert.equal(defaultStem(28), 'cifar');
    assert.equal(defaultStem(32), 'cifar');
    assert.equal(defaultStem(33), 'imagenet');
    assert.equal(defaultStem(96), 'imagenet');
    assert.throws(() => defaultStem(0), /positive/);
    const small = resnet18({ imageSize: 32, width: 0.125 });
    assert.equal(small.stem, 'cifar');
    assert.deepEqual(small.getParameter('conv1.weight').shape, [8, 3, 3, 3]);
    const conv1 = small.getSubmodule('conv1') as Conv2d;
    assert.deepEqual(
      [conv1.stride, conv1.padding],
      [
        [1, 1],
        [1, 1],
      ],
    );
    const large = resnet18({ imageSize: 96, width: 0.125 });
    assert.equal(large.stem, 'imagenet');
    assert.deepEqual(large.getParameter('conv1.weight').shape, [8, 3, 7, 7]);
    assert.equal(resnet18({ imageSize: 96, stem: 'cifar', width: 0.125 }).stem, 'cifar');
    assert.equal(resnet18({ width: 0.125 }).stem, 'imagenet');
    assert.throws(() => resnet18({ stem: 'tiny' as Stem }), /stem must be 'imagenet' or 'cifar'/);
    // Both stems give h of the same size; the CIFAR stem keeps 8 px through the stem where ImageNet's reduces it 4x.
    const x = torch.randn([2, 3, 8, 8]);
    assert.deepEqual(small.call(x).shape, [2, 64]);
    assert.deepEqual(large.call(x).shape, [2, 64]);
  }));

test('grayscale input and input validation', () =>
  torch.scope(() => {
    const gray = resnet18({ inChannels: 1, imageSize: 28, width: 0.125 });
    assert.deepEqual(gray.getParameter('conv1.weight').shape, [8, 1, 3, 3]);
    assert.deepEqual(gray.call(torch.randn([2, 1, 28, 28])).shape, [2, 64]);
    assert.throws(() => gray.call(torch.randn([2, 3, 28, 28])), /expected input \[N, 1, H, W\], got \[2, 3, 28, 28\]/);
    assert.throws(() => gray.call(torch.randn([1, 28, 28])), /expected input/);
    assert.throws(() => new ResNet(101 as ResNetDepth), /depth must be 18, 34 or 50/);
    assert.throws(() => resnet18({ inChannels: 0 }), /inChannels must be a positive integer/);
  }));

test("torchvision init: kaiming-normal (fanOut) convs, BN 1 and 0; optional zero-init of each block's last BN", () => {
  const model = resnet18({ generator: gen(11) });
  torch.scope(() => {
    const w = model.getParameter('layer4.1.conv2.weight');
    const expected = Math.sqrt(2 / (512 * 9));
    const std = w.std().item();
    assert.ok(Math.abs(std / expected - 1) < 0.01, `std ${std} vs ${expected}`);
    assert.ok(Math.abs(w.mean().item()) < 0.01 * expected);
    const w1 = model.getParameter('conv1.weight');
    assert.ok(Math.abs(w1.std().item() / Math.sqrt(2 / (64 * 49)) - 1) < 0.05);
    for (const [name, p] of model.namedParameters()) {
      if (/bn\d\.weight$|downsample\.1\.weight$/.test(name)) assert.ok(p.eq(1).all().item() === 1, name);
      if (/bn\d\.bias$|downsample\.1\.bias$/.test(name)) assert.ok(p.eq(0).all().item() === 1, name);
    }
  });
  model.dispose();

  const zero18 = resnet18({ width: 0.25, zeroInitResidual: true });
  const zero50 = resnet50({ width: 0.25, zeroInitResidual: true });
  torch.scope(() => {
    for (const [model, last] of [
      [zero18, 'bn2'],
      [zero50, 'bn3'],
    ] as const) {
      for (const [name, p] of model.namedParameters()) {
        if (!/bn\d\.weight$/.test(name) || !name.startsWith('layer')) continue;
        const isLast = name.endsWith(`${last}.weight`);
        assert.ok(
          p
            .eq(isLast ? 0 : 1)
            .all()
            .item() === 1,
          name,
        );
      }
    }
  });
});

test('the same generator seed builds the same model; modules built in a scope keep their weights', () => {
  const [a, b] = torch.scope(() => [
    resnet18({ width: 0.25, generator: gen(3) }),
    resnet18({ width: 0.25, generator: gen(3) }),
  ]);
  const c = resnet18({ width: 0.25, generator: gen(4) });
  torch.scope(() => {
    const sb = b.stateDict();
    for (const [name, t] of a.stateDict()) assert.ok(t.equal(sb.get(name)!), name);
    assert.ok(!a.getParameter('layer1.0.conv1.weight').equal(c.getParameter('layer1.0.conv1.weight')));
    assert.deepEqual(a.call(torch.randn([2, 3, 8, 8])).shape, [2, 128]);
  });
});
