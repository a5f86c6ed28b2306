// The refactored training loop must reproduce, bit for bit, the per-step losses the loop gave before it was split
// into a step function, a loop and callbacks (issue 12). test/golden/pretrain_losses.json was recorded by the old
// loop; regenerate it only for a change meant to alter training (SIMCLR_RECORD_GOLDEN=1). The run was the default one
// then: the settings the `auto` preset now chooses are pinned at their old defaults, so the recording still applies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveConfig } from '../../src/run/config.js';
import { pretrain } from '../../src/train/pretrain.js';

// The source tree's copy (tests run from dist/test/train/).
const GOLDEN = fileURLToPath(new URL('../../../test/golden/pretrain_losses.json', import.meta.url));

interface Golden {
  config: Record<string, unknown>;
  losses: number[];
  acc: number[];
}

test('a fixed-seed run (the defaults before presets) gives the recorded per-step losses, bit for bit', async () => {
  const config = {
    ...{ data: 'fashion-mnist', width: 0.125, batchSize: 32, maxSteps: 4, seed: 7, threads: 1, logSteps: 1 },
    ...{ temperature: 0.5, lrScaling: 'linear', colorStrength: 1, cropMinScale: 0.08, blur: true },
  };
  const out = mkdtempSync(join(tmpdir(), 'simclr-golden-'));
  const losses: number[] = [];
  const acc: number[] = [];
  const r = await pretrain(resolveConfig({ ...config, out }), {
    onProgress: (p) => {
      losses.push(p.loss);
      acc.push(p.contrastiveAcc);
    },
  });
  assert.equal(r.steps, 4);
  if (process.env.SIMCLR_RECORD_GOLDEN === '1') {
    writeFileSync(GOLDEN, `${JSON.stringify({ config, losses, acc } satisfies Golden, null, 1)}\n`);
    return;
  }
  const golden = JSON.parse(readFileSync(GOLDEN, 'utf8')) as Golden;
  assert.deepEqual(config, golden.config, 'the recorded run was made with other settings');
  assert.deepEqual(losses, golden.losses);
  assert.deepEqual(acc, golden.acc);
});
