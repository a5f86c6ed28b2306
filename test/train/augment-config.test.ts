// The pretrain config's `augment` list: checked and filled in by resolveConfig, a 'refuse' setting on resume
// (compared by value), and what pretrain() trains with (the default pipeline written out trains bit for bit as the
// flags; a list with the paper's extra ops runs on the tensor path and says why).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, resolveConfig } from '../../src/run/config.js';
import { checkResume, RESUME_RULES } from '../../src/run/resume.js';
import { pretrain, augmentPipelineFor, type MetricsRow } from '../../src/train/pretrain.js';
import { runPaths } from '../../src/run/folder.js';
import { configSteps, defaultAugmentConfig } from '../../src/augment/params.js';
import { pipelineSteps } from '../../src/augment/pipeline.js';

const base = { data: 'fashion-mnist', out: '/nonexistent' };

test('resolveConfig checks the augment list, fills in its options and refuses the flags it replaces', () => {
  assert.equal(resolveConfig(base).augment, null);
  const cfg = resolveConfig({ ...base, augment: [{ op: 'randomResizedCrop', scale: [0.2, 1] }, { op: 'rotation' }] });
  assert.deepEqual(cfg.augment, [
    { op: 'randomResizedCrop', scale: [0.2, 1], ratio: [3 / 4, 4 / 3] },
    { op: 'rotation', p: 1 },
  ]);
  assert.throws(
    () => resolveConfig({ ...base, augment: [{ op: 'twirl' }] }),
    (e: unknown) => e instanceof ConfigError && /augment\[0\]\.op must be one of/.test(e.message),
  );
  assert.throws(
    () => resolveConfig({ ...base, augment: [{ op: 'cutout', p: 'often' }] }),
    (e: unknown) => e instanceof ConfigError && /augment\[0\]: cutout\.p must be in \[0, 1\]/.test(e.message),
  );
  assert.throws(
    () => resolveConfig({ ...base, augment: [], colorStrength: 0.8, blur: true }),
    /--color-strength, --blur cannot be combined with an augment list/,
  );
  // The preset's own values (a run's stored config holds them beside its list) and null are not a conflict.
  for (const preset of ['auto', 'paper'] as const) {
    const stored = resolveConfig({ ...base, preset, augment: [] });
    assert.deepEqual(resolveConfig({ ...stored, augment: [] }), stored);
    assert.equal(resolveConfig({ ...base, preset, augment: [], colorStrength: null }).augment?.length, 0);
  }
});

test('augment is a refuse setting on resume, compared by value', () => {
  assert.equal(RESUME_RULES.augment, 'refuse');
  const list = [{ op: 'cutout' }];
  const a = resolveConfig({ ...base, augment: list });
  const same = resolveConfig({ ...base, augment: structuredClone(list) });
  const facts = { before: {}, now: { worldSize: 1, device: 'cpu' } };
  assert.deepEqual(checkResume('/run', a, same, facts, false).changes, {});
  assert.throws(
    () => checkResume('/run', a, resolveConfig({ ...base, augment: [{ op: 'sobel' }] }), facts, false),
    /--resume would change augment/,
  );
  assert.throws(
    () => checkResume('/run', resolveConfig(base), a, facts, false),
    /--resume would change augment default ->/,
  );
});

test('the flags map onto the default pipeline', () => {
  const cfg = resolveConfig({ ...base, colorStrength: 0.5, cropMinScale: 0.2, blur: false });
  const expected = configSteps({
    ...defaultAugmentConfig(28, true),
    colorStrength: 0.5,
    cropScale: [0.2, 1],
    blurP: 0,
  });
  assert.deepEqual(
    pipelineSteps(augmentPipelineFor(cfg, { channels: 1, height: 28 })),
    pipelineSteps(augmentPipelineFor(resolveConfig({ ...base, augment: expected }), { channels: 1, height: 28 })),
  );
});

function losses(dir: string): number[] {
  return readFileSync(runPaths(dir).metrics, 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as MetricsRow).loss);
}

test(
  'pretrain: the default pipeline written as a list trains bit for bit as the flags; extra ops run on tensor ops ' +
    'with the reason',
  async () => {
    const tiny = {
      data: 'fashion-mnist',
      arch: 'resnet18',
      width: 0.125,
      batchSize: 16,
      epochs: 0.04,
      maxSteps: 2,
      logSteps: 1,
      threads: 2,
      // The paper preset's crops (from 8%) and blur are defaultAugmentConfig's.
      preset: 'paper',
      colorStrength: 0.5,
    };
    const [flags, listed, extra] = [0, 1, 2].map(() => mkdtempSync(join(tmpdir(), 'simclr-augcfg-'))) as [
      string,
      string,
      string,
    ];
    await pretrain(resolveConfig({ ...tiny, out: flags }));
    const steps = configSteps({ ...defaultAugmentConfig(28, true), colorStrength: 0.5 });
    const warnings: string[] = [];
    await pretrain(resolveConfig({ ...tiny, colorStrength: null, out: listed, augment: steps }), {
      onWarning: (m) => warnings.push(m),
    });
    assert.deepEqual(losses(listed), losses(flags));
    assert.equal(warnings.length, 0, warnings.join('\n'));
    const extraSteps = [
      ...steps,
      { op: 'cutout' },
      { op: 'rotation' },
      { op: 'gaussianNoise' },
      { op: 'sobel', p: 0.2 },
    ];
    const result = await pretrain(resolveConfig({ ...tiny, colorStrength: null, out: extra, augment: extraSteps }), {
      onWarning: (m) => warnings.push(m),
    });
    assert.equal(result.steps, 2);
    assert.ok(losses(extra).every(Number.isFinite));
    assert.ok(
      warnings.some((w) => /augmentation runs on tensor ops.*no 'cutout' \(step 6\)/.test(w)),
      warnings.join('\n'),
    );
  },
);
