// The CUDA augmentation kernel (native/kernels/augment_cuda.cu, simclr_ops_cuda.so) against the CPU kernel on the
// same parameters, and its speed at the two training shapes (CIFAR 512 x 32 px, ImageNet 256 x 224 px). Needs a GPU
// and the CUDA library (node scripts/build-cuda-kernels.mjs); skipped where torch.cuda.isAvailable() is false.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { applyViews, createViewBatch, type ApplyOptions } from '../../src/augment/apply.js';
import { augmentFused, fusedKernelDevices, fusedKernelError } from '../../src/augment/fused.js';
import {
  defaultAugmentConfig,
  fromViewParams,
  pipelineFromConfig,
  sampleViewParams,
  type AugmentConfig,
  type ViewParams,
} from '../../src/augment/params.js';

const skip = torch.cuda.isAvailable() ? false : 'needs a CUDA GPU (torch.cuda.isAvailable() is false)';

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return torch.scope(() => a.to('cpu').sub(b.to('cpu')).abs().max().item());
}

/** Strong random views of n images: every op likely, orders random, flips, odd crop boxes. */
function strongParams(
  n: number,
  side: number,
  out: number,
  channels: number,
  seed: number,
): { cfg: AugmentConfig; p: ViewParams } {
  const cfg: AugmentConfig = {
    ...defaultAugmentConfig(out, channels === 1),
    colorStrength: 2.5,
    blurP: 0.7,
    solarizeP: 0.3,
  };
  return {
    cfg,
    p: sampleViewParams(
      cfg,
      side,
      side,
      seed,
      0,
      Array.from({ length: n }, (_, i) => i),
      0,
    ),
  };
}

test('the CUDA kernel loads', { skip }, () => {
  assert.ok(fusedKernelDevices().includes('cuda'), `CUDA kernel: ${fusedKernelError('cuda')}`);
});

test('CUDA kernel equals the CPU kernel within 1e-5 (/ std where normalised): 512 x 32 px, 64 x 224 px, one ' +
  'channel, both layouts, normalised', {
  skip,
}, () => {
  const cases = [
    [512, 32, 32, 3],
    [64, 224, 224, 3],
    [64, 256, 224, 3],
    [128, 28, 28, 1],
    [32, 40, 23, 3],
  ] as const;
  for (const [n, side, out, channels] of cases) {
    torch.scope(() => {
      const images = torch.randint(0, 256, [n, channels, side, side], {
        dtype: 'uint8',
        generator: new torch.Generator().manualSeed(n + side),
      });
      const gpuImages = images.to('cuda');
      const { cfg, p } = strongParams(n, side, out, channels, side + out);
      const norm =
        channels === 3 ? { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } : { mean: [0.5], std: [0.25] };
      const variants: ApplyOptions[] = [
        {},
        { memoryFormat: 'channelsLast' },
        { memoryFormat: 'channelsLast', normalize: norm },
      ];
      for (const opts of variants) {
        const what = `${n}x${channels}x${side}->${out} ${JSON.stringify(opts)}`;
        const cpu = applyViews(images, p, cfg, { ...opts, implementation: 'fused' });
        const gpu = applyViews(gpuImages, p, cfg, opts);
        assert.ok(gpu.device.startsWith('cuda'), what);
        assert.deepEqual(gpu.shape, cpu.shape, what);
        if (opts.memoryFormat === 'channelsLast' && channels === 3) assert.ok(gpu.isContiguous('channelsLast'), what);
        else assert.ok(gpu.isContiguous(), what);
        // 1e-5 in [0, 1] units, divided by std where normalised (as the difference is).
        const tol = 1e-5 / Math.min(...(opts.normalize?.std ?? [1]));
        const diff = maxAbsDiff(gpu, cpu);
        assert.ok(diff <= tol, `${what}: max |diff| ${diff} > ${tol}`);
      }
    });
  }
});

test('CUDA kernel names a bad view in its errors, as the CPU kernel does', { skip }, () => {
  torch.scope(() => {
    const images = torch.zeros([2, 3, 8, 8], { dtype: 'uint8', device: 'cuda' });
    const { cfg, p } = strongParams(2, 8, 8, 3, 1);
    p.crop.set([4, 0, 6, 8], 4);
    assert.throws(
      () => applyViews(images, p, cfg, { implementation: 'fused' }),
      /view 1 crop box is outside the 8x8 image/,
    );
  });
});

/** Mean milliseconds per call of fn over `iterations` after 3 warm-ups; one host sync at the end of each phase. */
function timeMs(fn: () => Tensor, iterations: number): number {
  const sync = (t: Tensor): number => torch.scope(() => t.narrow(0, 0, 1).sum().item());
  for (let i = 0; i < 3; i++) torch.scope(() => sync(fn()));
  let last: Tensor | null = null;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    last?.dispose();
    last = fn();
  }
  sync(last!);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / iterations;
  last!.dispose();
  return ms;
}

test('timing: two views per image, CUDA kernel vs tensor ops', { skip }, () => {
  for (const [n, side, out, name] of [
    [512, 32, 32, 'CIFAR 512 x 32 px'],
    [256, 256, 224, 'ImageNet 256 x 224 px (from 256 px)'],
  ] as const) {
    torch.scope(() => {
      const images = torch.randint(0, 256, [n, 3, side, side], { dtype: 'uint8', device: 'cuda' });
      // The paper's settings: CIFAR with colour strength 0.5 and no blur; ImageNet with strength 1 and blur 0.5.
      const cfg: AugmentConfig =
        out === 32
          ? { ...defaultAugmentConfig(out, false), colorStrength: 0.5, blurP: 0 }
          : defaultAugmentConfig(out, false);
      const at = { seed: 1, epoch: 0, indices: Array.from({ length: n }, (_, i) => i) };
      const opts: ApplyOptions = { memoryFormat: 'channelsLast' };
      const views = [0, 1].map((v) => sampleViewParams(cfg, side, side, 1, 0, at.indices, v));
      const kernel = timeMs(
        () => augmentFused(images, pipelineFromConfig(cfg), views.map(fromViewParams), { channelsLast: true }),
        50,
      );
      const pipeline = timeMs(() => createViewBatch(images, cfg, at, opts), 20);
      const tensor = timeMs(() => createViewBatch(images, cfg, at, { ...opts, implementation: 'tensor' }), 5);
      console.log(
        `[augment timing] ${name}, 2 views: CUDA kernel ${kernel.toFixed(3)} ms/batch; with parameter sampling ` +
          `${pipeline.toFixed(3)} ms/batch; tensor ops ${tensor.toFixed(2)} ms/batch`,
      );
      assert.ok(kernel > 0 && pipeline > 0);
    });
  }
});
