// Which folders a rerun of `simclr demo` may replace: a run with the demo's settings, today's or an earlier
// version's (so an upgrade does not leave `npm run demo` refusing its own old run), and nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/run/config.js';
import { isDemoRun } from '../../src/cli/commands.js';

function storedRun(values: Record<string, unknown>): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'simclr-demo-')), 'run');
  mkdirSync(dir);
  const config = resolveConfig({
    ...{ data: 'fashion-mnist', out: dir, arch: 'resnet18', width: 0.25, epochs: 2, batchSize: 256, logSteps: 10 },
    ...values,
  });
  const file = { config, input: { channels: 1, height: 28, width: 28 }, created: '', device: 'cpu', worldSize: 1 };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(file));
  return dir;
}

test("the demo's run, today's or an earlier version's, may be replaced; another run may not", () => {
  assert.equal(resolveConfig({ data: 'fashion-mnist', out: '-', epochs: 2 }).projLayers, 1, "today's demo head");
  assert.equal(isDemoRun(storedRun({})), true);
  assert.equal(isDemoRun(storedRun({ temperature: 0.1, projLayers: 2 })), true, 'the MLP-head demo');
  assert.equal(isDemoRun(storedRun({ temperature: 0.2, projLayers: 2 })), true, 'the demo before presets');
  assert.equal(isDemoRun(storedRun({ temperature: 0.2, projLayers: 1 })), false, 'never a demo setting');
  assert.equal(isDemoRun(storedRun({ temperature: 0.3 })), false);
  assert.equal(isDemoRun(storedRun({ width: 0.5 })), false);
  assert.equal(isDemoRun(storedRun({ colorStrength: 1 })), false);
  assert.equal(isDemoRun(join(tmpdir(), 'simclr-no-such-run')), false);
});
