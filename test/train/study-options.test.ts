// The pretrain options the studies need: --subset, augment2, --proj-layers 0 and --no-l2-normalize train, are
// 'refuse' settings on resume, and a run with one pipeline per view resumes exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, resolveConfig } from '../../src/run/config.js';
import { RESUME_RULES } from '../../src/run/resume.js';
import { disposeCheckpoint, loadCheckpoint, runPaths } from '../../src/run/folder.js';
import { pretrain, openTrainingData, type MetricsRow } from '../../src/train/pretrain.js';
import { subsetIndices, SubsetDataset } from '../../src/data/subset.js';
import { MemoryDataset } from '../../src/data/dataset.js';
import { scratchDir } from '../data/tmp.js';

const root = scratchDir('study-options');
const tiny = {
  data: 'fashion-mnist',
  width: 0.0625,
  stem: 'imagenet',
  batchSize: 16,
  subset: 64,
  epochs: 1,
  logSteps: 1,
  threads: 1,
};
const crop = { op: 'randomResizedCrop', shared: true, scale: [0.25, 1] };

function losses(dir: string): number[] {
  return readFileSync(runPaths(dir).metrics, 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as MetricsRow).loss);
}

test('the new options are refuse settings on resume', () => {
  for (const key of ['subset', 'augment2', 'l2Normalize'] as const) assert.equal(RESUME_RULES[key], 'refuse');
  assert.equal(RESUME_RULES.projLayers, 'fixed');
});

test('subsetIndices: n sorted indices of one fixed shuffle, nested as n grows; SubsetDataset reads them', () => {
  const a = subsetIndices(1000, 50);
  assert.equal(a.length, 50);
  assert.deepEqual(
    [...a],
    [...a].sort((x, y) => x - y),
  );
  assert.deepEqual(subsetIndices(1000, 50), a);
  const b = new Set(subsetIndices(1000, 200));
  assert.ok([...a].every((i) => b.has(i)));
  assert.notDeepEqual([...a], [...Array(50).keys()]);
  assert.throws(() => subsetIndices(10, 11), /subset size must be an integer in \[1, 10\]/);
  const pixels = Uint8Array.from({ length: 10 * 4 }, (_, i) => i);
  const base = new MemoryDataset(
    { name: 'm', channels: 1, height: 2, width: 2, numClasses: 10, labels: Int32Array.from(Array(10).keys()) },
    pixels,
  );
  const sub = new SubsetDataset(base, Uint32Array.of(2, 7));
  assert.deepEqual([...sub.labels!], [2, 7]);
  const out = new Uint8Array(8);
  sub.readBatch([1, 0], out);
  assert.deepEqual([...out], [28, 29, 30, 31, 8, 9, 10, 11]);
  assert.throws(() => sub.readBatch([2], new Uint8Array(4)), /out of range/);
});

test('--subset: pretraining sees n images (epochs count them); more than the data has is refused', async () => {
  const ds = await openTrainingData(resolveConfig({ ...tiny, out: root }));
  assert.equal(ds.length, 64);
  assert.match(ds.name, /subset of 64/);
  ds.close();
  await assert.rejects(
    openTrainingData(resolveConfig({ ...tiny, out: root, subset: 70000 })),
    (e: unknown) => e instanceof ConfigError && /--subset 70000 exceeds the 60000 training images/.test(e.message),
  );
});

test('a run with augment2, no head and raw dot products trains and resumes bit for bit', async () => {
  const settings = {
    ...tiny,
    augment: [crop],
    augment2: [crop, { op: 'sobel', p: 1 }, { op: 'rotation' }],
    projLayers: 0,
    l2Normalize: false,
    temperature: 10,
  };
  const whole = join(root, 'whole');
  const parts = join(root, 'parts');
  const warnings: string[] = [];
  const r = await pretrain(resolveConfig({ ...settings, out: whole }), { onWarning: (m) => warnings.push(m) });
  assert.equal(r.steps, 4);
  assert.ok(
    warnings.some((w) => /augmentation of view 2 runs on tensor ops/.test(w)),
    warnings.join('\n'),
  );
  await pretrain(resolveConfig({ ...settings, out: parts, maxSteps: 2 }), { onWarning: () => {} });
  await pretrain(resolveConfig({ ...settings, out: parts }), { onWarning: () => {} }, { resume: true });
  assert.deepEqual(losses(parts), losses(whole));
  const [a, b] = [whole, parts].map((d) => loadCheckpoint(runPaths(d).checkpoint));
  for (const [k, t] of a!.model) assert.ok(t.equal(b!.model.get(k)!), k);
  assert.equal([...a!.model.keys()].filter((k) => k.startsWith('head.')).length, 0);
  disposeCheckpoint(a!);
  disposeCheckpoint(b!);
});
