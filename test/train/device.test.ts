// The training loop's device plumbing, checked on the CPU: making the next step's views while the current step
// computes (as on CUDA) changes nothing, divergence is still caught before a checkpoint, the run records its device,
// and a device that does not exist is a usage error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '../../src/torch/index.js';
import { resolveConfig, ConfigError, type PretrainConfig } from '../../src/run/config.js';
import { pretrain, DivergenceError, type MetricsRow, type Progress } from '../../src/train/pretrain.js';
import { loadCheckpoint, disposeCheckpoint, runPaths, readRunConfig } from '../../src/run/folder.js';
import { BatchUploader } from '../../src/data/uploader.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'simclr-device-'));

function tiny(out: string, extra: Record<string, unknown> = {}): PretrainConfig {
  return resolveConfig({
    data: 'fashion-mnist',
    out,
    arch: 'resnet18',
    width: 0.125,
    batchSize: 32,
    epochs: 0.04,
    logSteps: 3,
    threads: 2,
    device: 'cpu',
    ...extra,
  });
}

const rows = (dir: string): unknown[] =>
  readFileSync(runPaths(dir).metrics, 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const { images_per_s: _, ...rest } = JSON.parse(l) as MetricsRow;
      return rest;
    });

function weights(dir: string): Map<string, unknown> {
  const ck = loadCheckpoint(runPaths(dir).checkpoint);
  const out = new Map<string, unknown>();
  for (const [k, t] of ck.model) out.set(k, t.toArray());
  for (const [k, t] of Object.entries(ck.optimizer)) out.set(`optimizer.${k}`, t.toArray());
  disposeCheckpoint(ck);
  return out;
}

test('preparing the next batch ahead (the CUDA schedule) gives the same metrics, progress and weights', async () => {
  const now = tmp();
  const late = tmp();
  const seen: Record<string, Progress[]> = { now: [], late: [] };
  await pretrain(tiny(now, { maxSteps: 7 }), { onProgress: (p) => seen.now!.push(p) }, false, { prefetch: false });
  await pretrain(tiny(late, { maxSteps: 7 }), { onProgress: (p) => seen.late!.push(p) }, false, { prefetch: true });
  assert.deepEqual(rows(late), rows(now));
  assert.deepEqual(weights(late), weights(now));
  const brief = (ps: Progress[]): unknown[] => ps.map((p) => [p.step, p.loss, p.lr, p.contrastiveAcc]);
  assert.equal(seen.late!.length, 7);
  assert.deepEqual(brief(seen.late!), brief(seen.now!));
  // Every step's time split is reported, with the host's wait for the device.
  for (const p of seen.late!) assert.ok(p.phases.wait !== undefined && p.phases.wait >= 0);
});

test('an interrupted run with batches prepared ahead resumes to the same weights', async () => {
  const whole = tmp();
  await pretrain(tiny(whole, { maxSteps: 6 }), {}, false, { prefetch: true });
  const parts = tmp();
  let calls = 0;
  const first = await pretrain(tiny(parts, { maxSteps: 6 }), { shouldStop: () => ++calls === 4 }, false, {
    prefetch: true,
  });
  assert.equal(first.stopped, 'interrupted');
  assert.equal(first.steps, 4);
  await pretrain(tiny(parts, { maxSteps: 6 }), {}, true, { prefetch: true });
  assert.deepEqual(weights(parts), weights(whole));
  // The row logged before the interruption is the same (the row after it averages fewer steps: the window from
  // step 4 was not logged when the run stopped there).
  assert.deepEqual(rows(parts)[0], rows(whole)[0]);
});

test(
  'with batches prepared ahead a NaN loss is still caught ' + 'before any checkpoint holds it, naming its step',
  async () => {
    const dir = tmp();
    await pretrain(tiny(dir, { maxSteps: 2 }), {}, false, { prefetch: true });
    const before = readFileSync(runPaths(dir).checkpoint);
    const mtime = statSync(runPaths(dir).checkpoint).mtimeMs;
    // Step 3 is no log or checkpoint point (logSteps 100); step 4's views are already made when its loss is read.
    await assert.rejects(
      pretrain(
        tiny(dir, { maxSteps: 4, temperature: 1e-45, logSteps: 100 }),
        {},
        { resume: true, forceResume: true },
        { prefetch: true },
      ),
      (e: unknown) => {
        assert.ok(e instanceof DivergenceError);
        assert.match(e.message, /loss is NaN at step 3 /);
        return true;
      },
    );
    assert.deepEqual(readFileSync(runPaths(dir).checkpoint), before);
    assert.equal(statSync(runPaths(dir).checkpoint).mtimeMs, mtime);
  },
);

test('the run folder records the device the run trained on; --device is validated with the config', async () => {
  const dir = tmp();
  await pretrain(tiny(dir, { maxSteps: 1, device: 'auto' }));
  const expected = torch.resolveDevice('auto');
  assert.equal(readRunConfig(dir).device, expected);
  assert.equal(readRunConfig(dir).config.device, 'auto');
  for (const bad of ['gpu', 'cuda:x', 7])
    assert.throws(
      () => tiny(dir, { device: bad }),
      (e: unknown) => e instanceof ConfigError && /--device must be cpu, cuda, cuda:N or auto/.test(e.message),
    );
});

test('BatchUploader on the CPU: the batch as uint8 [B,C,H,W], sizes checked', () => {
  const up = new BatchUploader([2, 1, 2, 2], 'cpu');
  const t = up.upload(Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7]));
  assert.deepEqual(t.shape, [2, 1, 2, 2]);
  assert.equal(t.dtype, 'uint8');
  assert.deepEqual(Array.from(t.toArray() as Uint8Array), [0, 1, 2, 3, 4, 5, 6, 7]);
  t.dispose();
  assert.throws(() => up.upload(new Uint8Array(7)), /7 bytes for a \[2, 1, 2, 2\] batch \(8\)/);
  up.dispose();
});

test('asking for a GPU that is not there: one line and exit code 2, for pretrain, eval and embed', {
  skip: torch.cuda.deviceCount() > 0 ? 'a GPU is visible here' : false,
}, () => {
  const cli = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
  const out = tmp();
  const cases = [
    ['pretrain', '--data', 'fashion-mnist', '--out', join(out, 'run'), '--device', 'cuda'],
    ['eval', 'knn', '--run', out, '--data', 'fashion-mnist', '--device', 'cuda:1'],
    ['embed', '--run', out, '--data', 'fashion-mnist', '--out', join(out, 'e.safetensors'), '--device', 'cuda'],
  ];
  for (const argv of cases) {
    const r = spawnSync(process.execPath, [cli, ...argv], {
      encoding: 'utf8',
      env: { ...process.env, SIMCLR_ALLOCATOR: 'system' },
    });
    assert.equal(r.status, 2, `${argv.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0]!,
      /^simclr: --device cuda(:1)?: (this libtorch .* was built without CUDA|no CUDA device is visible)/,
    );
  }
  // Nothing was started: no run folder contents.
  assert.ok(!existsSync(join(out, 'run', 'metrics.jsonl')));
});
