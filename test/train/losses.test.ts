// Pretraining with the losses of LOSSES (issue 12, item 7): each trains end to end, is recorded in the run, and a
// resume that changes it is refused unless forced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig, ConfigError, type PretrainConfig } from '../../src/run/config.js';
import { pretrain, type MetricsRow } from '../../src/train/pretrain.js';
import { describeLoss, divergenceAdvice } from '../../src/loss/index.js';
import { runPaths } from '../../src/run/folder.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'simclr-loss-'));

function tiny(out: string, extra: Record<string, unknown>): PretrainConfig {
  return resolveConfig({
    data: 'fashion-mnist',
    out,
    width: 0.0625,
    batchSize: 16,
    epochs: 1,
    maxSteps: 2,
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

test('ntlogistic and margintriplet pretrain through the registry, and the run records its loss', async () => {
  const losses: Record<string, number[]> = {};
  for (const extra of [{ loss: 'ntlogistic', temperature: 0.2 }, { loss: 'margintriplet', margin: 0.3 }, {}]) {
    const dir = tmp();
    const result = await pretrain(tiny(dir, extra));
    assert.equal(result.steps, 2);
    const rows = metrics(dir);
    for (const r of rows)
      assert.ok(Number.isFinite(r.loss) && r.loss >= 0 && r.contrastive_acc >= 0 && r.contrastive_acc <= 1);
    const recorded = (JSON.parse(readFileSync(runPaths(dir).config, 'utf8')) as { config: PretrainConfig }).config;
    losses[recorded.loss] = rows.map((r) => r.loss);
  }
  assert.deepEqual(Object.keys(losses).sort(), ['margintriplet', 'ntlogistic', 'ntxent']);
  // Same seed, data and model: only the objective differs, so do the values.
  assert.notDeepEqual(losses.ntlogistic, losses.ntxent);
  assert.notDeepEqual(losses.margintriplet, losses.ntxent);
});

test('a resume that changes the loss, or a setting it reads, is refused unless forced', async () => {
  const dir = tmp();
  await pretrain(tiny(dir, { loss: 'margintriplet', maxSteps: 1 }));
  await assert.rejects(pretrain(tiny(dir, { loss: 'ntxent', maxSteps: 2 }), {}, true), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /--resume would change loss margintriplet -> ntxent/);
    return true;
  });
  await assert.rejects(
    pretrain(tiny(dir, { loss: 'margintriplet', margin: 0.2, maxSteps: 2 }), {}, true),
    /margin 0.5 -> 0.2/,
  );
  const forced = await pretrain(
    tiny(dir, { loss: 'ntlogistic', maxSteps: 2 }),
    { onWarning: () => {} },
    { resume: true, forceResume: true },
  );
  assert.equal(forced.steps, 2);
});

test('a resume that changes a loss setting the loss does not read goes through without a warning', async () => {
  const dir = tmp();
  await pretrain(tiny(dir, { maxSteps: 1 }));
  const warnings: string[] = [];
  // NT-Xent reads the temperature, not the margin: --margin changes nothing it computes.
  const resumed = await pretrain(tiny(dir, { margin: 0.9, maxSteps: 2 }), { onWarning: (m) => warnings.push(m) }, true);
  assert.equal(resumed.steps, 2);
  assert.deepEqual(warnings, []);
  // The temperature it does read is still refused.
  await assert.rejects(pretrain(tiny(dir, { temperature: 0.7, maxSteps: 3 }), {}, true), /temperature 0.1 -> 0.7/);
});

test('a loss is described, and advised on after a divergence, by the settings it reads', () => {
  const settings = { temperature: 0.2, margin: 0.4, l2Normalize: true };
  assert.equal(describeLoss('ntxent', settings), 'ntxent (temperature 0.2)');
  assert.equal(
    describeLoss('ntxent', { ...settings, l2Normalize: false }),
    'ntxent (temperature 0.2, no l2 normalisation)',
  );
  assert.equal(describeLoss('margintriplet', settings), 'margintriplet (margin 0.4)');
  assert.match(divergenceAdvice('ntlogistic'), /--temperature/);
  assert.equal(divergenceAdvice('margintriplet'), 'Try a lower --lr.');
});
