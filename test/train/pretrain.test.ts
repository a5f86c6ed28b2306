// The pretraining loop end to end on real Fashion-MNIST with a tiny ResNet: learning, exact resume, divergence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as torch from '../../src/torch/index.js';
import { writeBandedIdx } from '../support/idx.js';
import { resolveConfig, type PretrainConfig } from '../../src/run/config.js';
import {
  bf16CpuWarning,
  pretrain,
  DivergenceError,
  type MetricsRow,
  type StartInfo,
} from '../../src/train/pretrain.js';
import { loadCheckpoint, runPaths } from '../../src/run/folder.js';
import { pretrainInBackground } from '../../src/train/background.js';

function tiny(out: string, extra: Record<string, unknown> = {}): PretrainConfig {
  return resolveConfig({
    data: 'fashion-mnist',
    out,
    arch: 'resnet18',
    width: 0.125,
    batchSize: 32,
    epochs: 0.04,
    logSteps: 1,
    threads: 2,
    ...extra,
  });
}

function metrics(dir: string): MetricsRow[] {
  return readFileSync(runPaths(dir).metrics, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as MetricsRow);
}

function checkpointTensors(
  dir: string,
): Map<string, Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array> {
  const ck = loadCheckpoint(runPaths(dir).checkpoint);
  const out = new Map<string, Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array>();
  for (const [k, t] of ck.model) out.set(`model.${k}`, t.toArray() as Float32Array);
  for (const [k, t] of Object.entries(ck.optimizer)) out.set(`optimizer.${k}`, t.toArray() as Float32Array);
  for (const t of [...ck.model.values(), ...Object.values(ck.optimizer)]) t.dispose();
  ck.rng?.dispose();
  return out;
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'simclr-train-'));

test('a short pretrain lowers the NT-Xent loss and writes config, metrics and a checkpoint', async () => {
  const dir = tmp();
  const result = await pretrain(tiny(dir, { epochs: 0.06 }));
  assert.equal(result.stopped, 'completed');
  const rows = metrics(dir);
  assert.equal(rows.length, result.steps);
  const mean = (rs: MetricsRow[]): number => rs.reduce((s, r) => s + r.loss, 0) / rs.length;
  const first = mean(rows.slice(0, 5));
  const last = mean(rows.slice(-5));
  assert.ok(last < first - 0.1, `loss should fall: first 5 steps ${first.toFixed(3)}, last 5 ${last.toFixed(3)}`);
  for (const r of rows) {
    assert.ok(
      Number.isFinite(r.loss) && r.images_per_s > 0 && r.lr >= 0 && r.contrastive_acc >= 0 && r.contrastive_acc <= 1,
    );
  }
  const ck = loadCheckpoint(runPaths(dir).checkpoint);
  assert.equal(ck.meta.step, result.steps);
  assert.ok(ck.model.has('encoder.conv1.weight') && ck.model.has('head.0.weight'));
  for (const t of [...ck.model.values(), ...Object.values(ck.optimizer)]) t.dispose();
  ck.rng?.dispose();
  const runFile = JSON.parse(readFileSync(runPaths(dir).config, 'utf8')) as {
    config: PretrainConfig;
    input: { channels: number };
  };
  assert.equal(runFile.config.batchSize, 32);
  assert.equal(runFile.input.channels, 1);
});

test('an interrupted and resumed run ends bit-identical to an uninterrupted one', async () => {
  const whole = tmp();
  await pretrain(tiny(whole, { maxSteps: 6 }));

  const parts = tmp();
  let steps = 0;
  const first = await pretrain(tiny(parts, { maxSteps: 6 }), { shouldStop: () => ++steps === 3 });
  assert.equal(first.stopped, 'interrupted');
  assert.equal(first.steps, 3);
  const resumed = await pretrain(tiny(parts, { maxSteps: 6 }), {}, true);
  assert.equal(resumed.steps, 6);

  const a = checkpointTensors(whole);
  const b = checkpointTensors(parts);
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [k, v] of a) assert.deepEqual(b.get(k), v, `${k} differs after resume`);
  const strip = (rs: MetricsRow[]): unknown[] => rs.map(({ images_per_s: _, ...rest }) => rest);
  assert.deepEqual(strip(metrics(parts)), strip(metrics(whole)));
});

test('a NaN loss stops the run with a clear error and keeps the last good checkpoint', async () => {
  const dir = tmp();
  await pretrain(tiny(dir, { maxSteps: 2 }));
  const before = readFileSync(runPaths(dir).checkpoint);
  const mtime = statSync(runPaths(dir).checkpoint).mtimeMs;
  await assert.rejects(
    pretrain(tiny(dir, { maxSteps: 4, temperature: 1e-45 }), {}, { resume: true, forceResume: true }),
    (e: unknown) => {
      assert.ok(e instanceof DivergenceError);
      assert.match(e.message, /loss is NaN at step 3/);
      assert.match(e.message, /last good checkpoint/);
      // NT-Xent reads the temperature, so the advice names it.
      assert.match(e.message, /Try a lower --lr, or a --temperature closer to 0\.5\.$/);
      return true;
    },
  );
  assert.deepEqual(readFileSync(runPaths(dir).checkpoint), before);
  assert.equal(statSync(runPaths(dir).checkpoint).mtimeMs, mtime);
});

test('training in a worker leaves the caller event loop responsive', async () => {
  const dir = tmp();
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  const started = Date.now();
  const run = pretrainInBackground(tiny(dir, { maxSteps: 8 }));
  const result = await run.result;
  const elapsed = Date.now() - started;
  clearInterval(timer);
  lag.disable();
  assert.equal(result.steps, 8);
  // While the worker computed, a 20 ms timer kept firing and no callback waited long.
  assert.ok(ticks > elapsed / 20 / 3, `timer fired ${ticks} times in ${elapsed} ms`);
  assert.ok(lag.percentile(99) / 1e6 < 200, `event-loop delay p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms`);
  void torch;
});

test('--knn-every logs kNN accuracy on epoch-end rows', async () => {
  const data = tmp();
  writeBandedIdx(data, 'train', 64);
  writeBandedIdx(data, 't10k', 32);
  const dir = tmp();
  await pretrain(
    resolveConfig({
      data: `mnist:${data}`,
      out: dir,
      width: 0.125,
      batchSize: 16,
      epochs: 2,
      knnEvery: 1,
      logSteps: 2,
      threads: 2,
    }),
  );
  const ends = metrics(dir).filter((r) => r.epoch_end);
  assert.equal(ends.length, 2);
  for (const r of ends) {
    assert.ok(r.knn_top1 !== undefined && r.knn_top1 >= 0 && r.knn_top1 <= 1, `knn_top1 ${r.knn_top1}`);
    assert.ok(r.knn_top5 !== undefined && r.knn_top5 >= r.knn_top1);
  }
  assert.ok(
    metrics(dir)
      .filter((r) => !r.epoch_end)
      .every((r) => r.knn_top1 === undefined),
  );
});

test('--precision bf16 warns on an x86 CPU without AVX512-BF16 or AMX, and only there', () => {
  assert.match(bf16CpuWarning(['avx', 'avx2', 'f16c', 'fma']) ?? '', /without AVX512-BF16 or AMX.*5-11% of fp32/);
  assert.equal(bf16CpuWarning(['avx2', 'avx512f', 'avx512_bf16']), null);
  assert.equal(bf16CpuWarning(['avx2', 'amx_bf16', 'amx_tile']), null);
  // Arm, or /proc/cpuinfo unreadable: nothing known, nothing said.
  assert.equal(bf16CpuWarning(['asimd']), null);
  assert.equal(bf16CpuWarning([]), null);
});

test('--epochs giving zero steps is a ConfigError before any training (issue 15, item 14)', async () => {
  const dir = tmp();
  await assert.rejects(pretrain(tiny(dir, { epochs: 1e-9 })), (e: unknown) => {
    assert.equal((e as Error).name, 'ConfigError');
    assert.match(
      (e as Error).message,
      new RegExp(
        String.raw`^--epochs 1e-9 gives 0 steps: fashion-mnist\/train has 1875 steps of 32 images per ` +
          String.raw`epoch; use --epochs >= 0\.00027$`,
      ),
    );
    return true;
  });
  assert.throws(() => statSync(runPaths(dir).checkpoint), /ENOENT/);
});

/** A tiny STL-10 folder: 96 px images, labels 1..10 as the files store them. */
function writeTinyStl(dir: string, train: number, test: number, unlabeled: number): void {
  const img = (n: number): Uint8Array =>
    Uint8Array.from({ length: n * 3 * 96 * 96 }, (_, i) => (i * 7 + (i >> 13)) % 251);
  const labels = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => 1 + (i % 10));
  writeFileSync(join(dir, 'train_X.bin'), img(train));
  writeFileSync(join(dir, 'train_y.bin'), labels(train));
  writeFileSync(join(dir, 'test_X.bin'), img(test));
  writeFileSync(join(dir, 'test_y.bin'), labels(test));
  writeFileSync(join(dir, 'unlabeled_X.bin'), img(unlabeled));
}

test(
  'the kNN monitor of stl10:DIR:train+unlabeled uses stl10/train as the bank and the held-out stl10/test as ' +
    'queries (item 16)',
  async () => {
    const data = tmp();
    writeTinyStl(data, 12, 10, 4);
    const dir = tmp();
    const starts: StartInfo[] = [];
    await pretrain(
      resolveConfig({
        data: `stl10:${data}:train+unlabeled`,
        out: dir,
        width: 0.0625,
        batchSize: 8,
        epochs: 1,
        knnEvery: 1,
        threads: 2,
        projDim: 8,
      }),
      {
        onStart: (i) => starts.push(i),
      },
    );
    assert.deepEqual(starts[0]!.knn, { every: 1, bank: 'stl10/train', queries: 'stl10/test' });
    const end = metrics(dir).find((r) => r.epoch_end)!;
    assert.deepEqual([end.knn_bank, end.knn_queries], ['stl10/train', 'stl10/test']);
  },
);

test('the kNN monitor refuses labelled data without a held-out split (item 16)', async () => {
  const data = tmp();
  writeTinyStl(data, 12, 10, 4);
  const { rmSync } = await import('node:fs');
  rmSync(join(data, 'test_X.bin'));
  rmSync(join(data, 'test_y.bin'));
  await assert.rejects(
    pretrain(
      resolveConfig({
        data: `stl10:${data}:train`,
        out: tmp(),
        width: 0.0625,
        batchSize: 8,
        epochs: 1,
        knnEvery: 1,
        threads: 2,
      }),
    ),
    (e: unknown) =>
      (e as Error).name === 'ConfigError' && /--knn-every needs a held-out labelled split/.test((e as Error).message),
  );
});
