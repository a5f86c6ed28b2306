// Pretraining on a GPU end to end (skipped without one): the CLI path's pretrain() on cuda:0, its agreement with
// the same run on the CPU, an exact-enough resume on the same device, and eval on the GPU. The data is a small
// generated IDX set, since a GPU machine need not have Fashion-MNIST.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '../../src/torch/index.js';
import { writeBandedIdx } from '../support/idx.js';
import { resolveConfig, type PretrainConfig } from '../../src/run/config.js';
import { pretrain, type MetricsRow, type StartInfo } from '../../src/train/pretrain.js';
import {
  buildModel,
  disposeCheckpoint,
  loadCheckpoint,
  readRunConfig,
  runPaths,
  loadRunModel,
} from '../../src/run/folder.js';
import { extractFeatures } from '../../src/features/extract.js';
import { openDataset } from '../../src/data/spec.js';

const skip = torch.cuda.isAvailable() ? false : 'needs a CUDA GPU (torch.cuda.isAvailable() is false)';
const tmp = (): string => mkdtempSync(join(tmpdir(), 'simclr-cuda-pretrain-'));

let data = '';
function cfg(out: string, extra: Record<string, unknown> = {}): PretrainConfig {
  if (data === '') {
    data = tmp();
    writeBandedIdx(data, 'train', 512);
    writeBandedIdx(data, 't10k', 128);
  }
  return resolveConfig({
    data: `mnist:${data}`,
    out,
    width: 0.25,
    batchSize: 64,
    epochs: 1,
    logSteps: 2,
    device: 'cuda',
    ...extra,
  });
}

const rows = (dir: string): MetricsRow[] =>
  readFileSync(runPaths(dir).metrics, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as MetricsRow);

function weights(dir: string, onGpu = true): Map<string, Float32Array> {
  const ck = loadCheckpoint(runPaths(dir).checkpoint);
  const out = new Map<string, Float32Array>();
  for (const [k, t] of ck.model) if (t.dtype === 'float32') out.set(k, t.toArray() as Float32Array);
  assert.equal(ck.rngCuda !== null, onGpu, 'a GPU run saves its CUDA generator state, a CPU run none');
  disposeCheckpoint(ck);
  return out;
}

/**
 * ||a - b|| / ||a|| over every float tensor together. (Per tensor, a bias still near 0 makes any rounding look
 * large: the first GPU run measured 11% on one such tensor where the weights agreed.)
 */
function maxRelDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let num = 0;
  let den = 0;
  for (const [k, x] of a) {
    const y = b.get(k)!;
    for (let i = 0; i < x.length; i++) {
      num += (x[i]! - y[i]!) ** 2;
      den += x[i]! ** 2;
    }
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12);
}

/** The weights pretrain() starts from (the seeded CPU initialisation). */
function initialWeights(c: PretrainConfig): Map<string, Float32Array> {
  torch.manualSeed(c.seed);
  const model = buildModel(c, { channels: 1, height: 28 });
  const out = new Map<string, Float32Array>();
  for (const [k, t] of model.stateDict()) if (t.dtype === 'float32') out.set(k, t.toArray() as Float32Array);
  model.dispose();
  return out;
}

test('pretrain on cuda:0: learns, reports the GPU, records the device, and keeps weights and state on it', {
  skip,
}, async () => {
  const dir = tmp();
  let start: StartInfo | null = null;
  const r = await pretrain(cfg(dir), {
    onStart: (i) => {
      start = i;
    },
  });
  assert.equal(r.stopped, 'completed');
  assert.equal(r.steps, 8);
  assert.equal(start!.device, 'cuda:0');
  assert.equal(start!.deviceName, torch.cuda.getDeviceProperties(0).name);
  assert.equal(readRunConfig(dir).device, 'cuda:0');
  const rs = rows(dir);
  assert.equal(rs.length, 4);
  for (const row of rs) assert.ok(Number.isFinite(row.loss) && row.images_per_s > 0);
  // The optimizer moved the weights (8 steps on generated data are too few to ask for a falling loss).
  const moved = maxRelDiff(initialWeights(cfg(dir)), weights(dir));
  assert.ok(moved > 1e-4, `weights moved by ${moved} (relative) in 8 steps`);
});

test('the first steps on cuda:0 and on the CPU agree (same init, same views)', { skip }, async () => {
  const gpu = tmp();
  const cpu = tmp();
  // TF32 off, so that the GPU computes in float32 as the CPU does.
  const tf32 = [torch.backends.cudnn.allowTF32, torch.backends.cuda.matmul.allowTF32] as const;
  torch.backends.cudnn.allowTF32 = false;
  torch.backends.cuda.matmul.allowTF32 = false;
  try {
    await pretrain(cfg(gpu, { maxSteps: 2, logSteps: 1, optimizer: 'sgd' }));
    await pretrain(cfg(cpu, { maxSteps: 2, logSteps: 1, optimizer: 'sgd', device: 'cpu' }));
  } finally {
    torch.backends.cudnn.allowTF32 = tf32[0];
    torch.backends.cuda.matmul.allowTF32 = tf32[1];
  }
  const [g, c] = [rows(gpu), rows(cpu)];
  for (let i = 0; i < 2; i++)
    assert.ok(
      Math.abs(g[i]!.loss - c[i]!.loss) < 1e-3,
      `step ${i + 1}: loss ${g[i]!.loss} on the GPU, ${c[i]!.loss} on the CPU`,
    );
  const d = maxRelDiff(weights(gpu), weights(cpu, false));
  assert.ok(d < 1e-3, `weights after 2 steps differ by ${d} (relative)`);
});

test('a run interrupted and resumed on cuda:0 ends where an uninterrupted one does', { skip }, async () => {
  const whole = tmp();
  await pretrain(cfg(whole, { maxSteps: 6 }));
  const parts = tmp();
  let calls = 0;
  const first = await pretrain(cfg(parts, { maxSteps: 6 }), { shouldStop: () => ++calls === 3 });
  assert.equal(first.stopped, 'interrupted');
  await pretrain(cfg(parts, { maxSteps: 6 }), {}, true);
  // cuDNN may pick different algorithms run to run, so the two agree to rounding rather than bit for bit.
  const d = maxRelDiff(weights(whole), weights(parts));
  assert.ok(d < 1e-3, `resumed weights differ by ${d} (relative)`);
  const [a, b] = [rows(whole), rows(parts)];
  assert.equal(a.at(-1)!.step, b.at(-1)!.step);
  assert.ok(Math.abs(a.at(-1)!.loss - b.at(-1)!.loss) < 1e-3);
});

test('bf16 autocast on cuda:0 trains with fp32 master weights', { skip }, async () => {
  const dir = tmp();
  await pretrain(cfg(dir, { maxSteps: 4, precision: 'bf16' }));
  const ck = loadCheckpoint(runPaths(dir).checkpoint);
  for (const [k, t] of ck.model) if (k.endsWith('weight')) assert.equal(t.dtype, 'float32', k);
  disposeCheckpoint(ck);
  for (const row of rows(dir)) assert.ok(Number.isFinite(row.loss));
});

test('features of a GPU-trained run on cuda:0 equal those on the CPU', { skip }, async () => {
  const dir = tmp();
  await pretrain(cfg(dir, { maxSteps: 2 }));
  const ds = await openDataset(`mnist:${data}`, { split: 'test' });
  try {
    const cpuModel = loadRunModel(dir).model;
    const gpuModel = loadRunModel(dir).model;
    gpuModel.to('cuda:0');
    const a = extractFeatures(cpuModel.encoder, ds, { limit: 64 }).features;
    const b = extractFeatures(gpuModel.encoder, ds, { limit: 64, device: 'cuda:0' }).features;
    assert.equal(b.device, 'cuda:0');
    const diff = a.sub(b.cpu()).abs().max().item();
    assert.ok(diff < 1e-2 * Math.max(1, a.abs().max().item()), `max abs diff ${diff}`);
  } finally {
    ds.close();
  }
});
