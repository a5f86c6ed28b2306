// The ONNX export against our engine: onnxruntime-node must produce the same features h as ResNet.forward in
// eval mode, for both stems, one and three input channels, basic and bottleneck blocks, at any batch size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import * as torch from '../../src/torch/index.js';
import { BatchNorm2d } from '../../src/nn/index.js';
import { ResNet, type ResNetDepth, type Stem } from '../../src/models/index.js';
import { encoderToOnnx, ONNX_INPUT_NAME, ONNX_OUTPUT_NAME } from '../../src/eval/onnx.js';

interface Case {
  depth: ResNetDepth;
  stem: Stem;
  inChannels: number;
  size: number;
  width: number;
}
const CASES: Case[] = [
  { depth: 18, stem: 'cifar', inChannels: 3, size: 32, width: 0.25 },
  { depth: 18, stem: 'cifar', inChannels: 1, size: 28, width: 0.25 },
  { depth: 18, stem: 'imagenet', inChannels: 3, size: 64, width: 0.25 },
  { depth: 34, stem: 'imagenet', inChannels: 1, size: 40, width: 0.125 },
  { depth: 50, stem: 'imagenet', inChannels: 3, size: 64, width: 0.125 },
  { depth: 50, stem: 'cifar', inChannels: 1, size: 16, width: 0.125 },
];
const TOLERANCE = 1e-4;

// Running statistics and affine parameters away from their initial 0/1, so folding BN into the convolutions is
// exercised; the running statistics come from real batches, as after training, so activations stay O(1).
function trainLikeBn(model: ResNet, c: Case, gen: torch.Generator): void {
  torch.scope(() =>
    torch.noGrad(() => {
      for (const m of model.modules()) {
        if (!(m instanceof BatchNorm2d)) continue;
        m.weight!.copy_(torch.rand([m.numFeatures], { generator: gen }).mul(1.5).add(0.25));
        m.bias!.copy_(torch.randn([m.numFeatures], { generator: gen }).mul(0.2));
      }
      model.train();
      for (let i = 0; i < 12; i++) model.call(torch.rand([8, c.inChannels, c.size, c.size], { generator: gen }));
      model.eval();
    }),
  );
}

for (const c of CASES) {
  test(
    `ONNX resnet${c.depth} width ${c.width}, ${c.stem} stem, ${c.inChannels} channel(s): onnxruntime h equals ` +
      `ours within ${TOLERANCE}`,
    async () => {
      const gen = new torch.Generator().manualSeed(c.depth * 100 + c.inChannels + c.size);
      const model = new ResNet(c.depth, { stem: c.stem, inChannels: c.inChannels, width: c.width, generator: gen });
      try {
        trainLikeBn(model, c, gen);
        const bytes = encoderToOnnx(model, { inputSize: { height: c.size, width: c.size } });
        const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
        for (const batch of [1, 3]) {
          const x = torch.rand([batch, c.inChannels, c.size, c.size], { generator: gen });
          const ours = torch.noGrad(() => model.call(x));
          const xs = x.toArray() as Float32Array;
          const out = await session.run({ [ONNX_INPUT_NAME]: new ort.Tensor('float32', xs, x.shape) });
          const h = out[ONNX_OUTPUT_NAME]!;
          assert.deepEqual(h.dims, [batch, model.featureDim]);
          const theirs = h.data as Float32Array;
          const expected = ours.toArray() as Float32Array;
          let maxDiff = 0;
          let maxAbs = 0;
          for (let i = 0; i < expected.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(theirs[i]! - expected[i]!));
            maxAbs = Math.max(maxAbs, Math.abs(expected[i]!));
          }
          const what = `resnet${c.depth} ${c.stem} C=${c.inChannels} batch ${batch}`;
          console.log(`${what}: max |diff| ${maxDiff.toExponential(2)}, max |h| ${maxAbs.toFixed(3)}`);
          assert.ok(maxAbs > 0.05, `features are not trivially small (max |h| ${maxAbs})`);
          assert.ok(maxDiff <= TOLERANCE, `max abs diff ${maxDiff} > ${TOLERANCE}`);
          x.dispose();
          ours.dispose();
        }
        await session.release();
      } finally {
        model.dispose();
      }
    },
  );
}

test('ONNX without a fixed input size accepts any height and width', async () => {
  const gen = new torch.Generator().manualSeed(7);
  const model = new ResNet(18, { stem: 'imagenet', inChannels: 3, width: 0.125, generator: gen }).eval();
  try {
    const session = await ort.InferenceSession.create(encoderToOnnx(model), { intraOpNumThreads: 1 });
    for (const [h, w] of [
      [32, 32],
      [48, 40],
    ] as const) {
      const x = torch.rand([2, 3, h, w], { generator: gen });
      const out = await session.run({
        [ONNX_INPUT_NAME]: new ort.Tensor('float32', x.toArray() as Float32Array, x.shape),
      });
      const ours = torch.noGrad(() => model.call(x));
      const expected = ours.toArray() as Float32Array;
      const theirs = out[ONNX_OUTPUT_NAME]!.data as Float32Array;
      assert.ok(
        expected.every((v, i) => Math.abs(v - theirs[i]!) <= TOLERANCE),
        `${h}x${w}`,
      );
      x.dispose();
      ours.dispose();
    }
    await session.release();
  } finally {
    model.dispose();
  }
});
