// Presets (src/run/presets.ts): what `auto` and `paper` resolve to, that given values win, that stored runs keep
// their settings, that a resume with another preset re-resolves only what the preset set, and the line a run prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { resolveConfig, presetContext, ConfigError, type PretrainConfig } from '../../src/run/config.js';
import { checkTrainingBounds } from '../../src/train/setup.js';
import { describeSettings, PRESET_KEYS, SHORT_RUN_MAX_EPOCHS, SQRT_SCALING_MAX_BATCH } from '../../src/run/presets.js';
import { specImageSize } from '../../src/data/spec.js';
import { addPretrainOptions, configFromCommand, settingsLine } from '../../src/cli/pretrain.js';
import { checkResume } from '../../src/run/resume.js';

const pick = (c: object): Record<string, unknown> =>
  Object.fromEntries(PRESET_KEYS.map((k) => [k, (c as Record<string, unknown>)[k]]));

test('the image size of a data spec, known without opening it', () => {
  assert.equal(specImageSize('fashion-mnist'), 28);
  assert.equal(specImageSize('mnist:/x'), 28);
  assert.equal(specImageSize('cifar10:/x'), 32);
  assert.equal(specImageSize('cifar100:/x'), 32);
  assert.equal(specImageSize('stl10:/x:unlabeled'), 96);
  assert.equal(specImageSize('folder:/x'), 64);
  assert.equal(specImageSize('folder:/x', 24), 24);
  assert.equal(specImageSize('-'), null);
});

test('auto: small images get CIFAR-style augmentation, larger ones the paper ImageNet one; sqrt lr up to 4096', () => {
  const small = resolveConfig({ data: 'fashion-mnist', out: '-' });
  assert.equal(small.preset, 'auto');
  assert.deepEqual(pick(small), {
    temperature: 0.1,
    lrScaling: 'sqrt',
    colorStrength: 0.5,
    cropMinScale: 0.25,
    blur: false,
    projLayers: 2,
  });
  assert.deepEqual(pick(resolveConfig({ data: 'folder:/x', imageSize: 32, out: '-' })), pick(small));
  const large = {
    temperature: 0.1,
    lrScaling: 'sqrt',
    colorStrength: 1,
    cropMinScale: 0.08,
    blur: true,
    projLayers: 2,
  };
  assert.deepEqual(pick(resolveConfig({ data: 'stl10:/x', out: '-' })), large);
  assert.deepEqual(pick(resolveConfig({ data: 'folder:/x', out: '-' })), large);
  assert.equal(resolveConfig({ data: 'cifar10:/x', out: '-', batchSize: SQRT_SCALING_MAX_BATCH }).lrScaling, 'sqrt');
  assert.equal(resolveConfig({ data: 'cifar10:/x', out: '-', batchSize: 8192 }).lrScaling, 'linear');
  // Short runs on small images get a linear head; longer ones, and larger images, the paper's MLP.
  const head = (data: string, epochs: number): number => resolveConfig({ data, out: '-', epochs }).projLayers;
  assert.equal(head('fashion-mnist', 1), 1);
  assert.equal(head('cifar10:/x', SHORT_RUN_MAX_EPOCHS), 1);
  assert.equal(head('cifar10:/x', SHORT_RUN_MAX_EPOCHS + 0.5), 2);
  assert.equal(head('stl10:/x', 1), 2);
  assert.equal(resolveConfig({ data: 'fashion-mnist', out: '-', epochs: 1, projLayers: 2 }).projLayers, 2);
  assert.equal(resolveConfig({ data: 'fashion-mnist', out: '-', epochs: 1, projLayers: 0 }).projLayers, 0);
});

test('paper: the ImageNet recipe whatever the data; given values win over either preset', () => {
  const paper = {
    temperature: 0.1,
    lrScaling: 'linear',
    colorStrength: 1,
    cropMinScale: 0.08,
    blur: true,
    projLayers: 2,
  };
  assert.deepEqual(pick(resolveConfig({ data: 'fashion-mnist', out: '-', preset: 'paper', epochs: 1 })), paper);
  assert.deepEqual(pick(resolveConfig({ data: 'stl10:/x', out: '-', preset: 'paper', batchSize: 64 })), paper);
  const c = resolveConfig({ data: 'fashion-mnist', out: '-', temperature: 0.5, blur: true, lrScaling: undefined });
  assert.deepEqual(pick(c), {
    temperature: 0.5,
    lrScaling: 'sqrt',
    colorStrength: 0.5,
    cropMinScale: 0.25,
    blur: true,
    projLayers: 2,
  });
  assert.throws(
    () => resolveConfig({ data: 'fashion-mnist', out: '-', preset: 'imagenet' }),
    (e: unknown) =>
      e instanceof ConfigError && /--preset must be one of auto\|paper, got the string "imagenet"/.test(e.message),
  );
  assert.throws(() => resolveConfig({ data: 'fashion-mnist', out: '-', blur: 'no' }), /--blur must be true or false/);
});

test(
  'a stored config keeps its values: resolved again it is unchanged, and one from before presets keeps the old ' +
    'defaults for what it lacks',
  () => {
    const auto = resolveConfig({ data: 'fashion-mnist', out: '-' });
    assert.deepEqual(resolveConfig({ ...auto }, { stored: true }), auto);
    const old: Record<string, unknown> = { ...auto };
    delete old.preset;
    delete old.cropMinScale;
    delete old.temperature;
    const read = resolveConfig(old, { stored: true });
    assert.equal(read.cropMinScale, 0.08);
    assert.equal(read.temperature, 0.5);
    assert.equal(read.colorStrength, 0.5, 'recorded values stay');
  },
);

test('the settings line: preset, why, each resolved setting, those given marked', () => {
  const c = resolveConfig({ data: 'fashion-mnist', out: '-', batchSize: 256 });
  assert.equal(
    describeSettings(c, presetContext(c)),
    'preset auto (28 px images, batch 256, 100 epochs: small-image augmentation): temperature 0.1, lr 0.075 x ' +
      'sqrt(256) = 1.2, colour strength 0.5, crops >= 25%, no blur, MLP head',
  );
  const short = resolveConfig({ data: 'fashion-mnist', out: '-', epochs: 1 });
  assert.equal(
    describeSettings(short, presetContext(short)),
    'preset auto (28 px images, batch 256, 1 epoch: small-image augmentation, short run): temperature 0.1, lr 0.075 ' +
      'x sqrt(256) = 1.2, colour strength 0.5, crops >= 25%, no blur, linear head',
  );
  assert.match(settingsLine({ ...short, projLayers: 0 }, ['projLayers']), /, no blur, no head \(set\)$/);
  const p = resolveConfig({ data: 'stl10:/x', out: '-', preset: 'paper', batchSize: 512, lr: 0.5, temperature: 0.3 });
  assert.equal(
    settingsLine(p, ['lr', 'temperature', 'batchSize']),
    "preset paper (the paper's ImageNet recipe): temperature 0.3 (set), lr 0.5 x 512/256 = 1 (set), colour strength " +
      '1, crops >= 8%, blur, MLP head',
  );
});

/** A run folder holding only config.json, as `simclr pretrain` writes it. */
function storedRun(config: Record<string, unknown>): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'simclr-preset-')), 'run');
  mkdirSync(dir);
  const file = { config, input: { channels: 1, height: 28, width: 28 }, created: '', device: 'cpu', worldSize: 1 };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(file));
  return dir;
}

function fromFlags(...args: string[]): ReturnType<typeof configFromCommand> {
  const cmd = addPretrainOptions(new Command('pretrain').exitOverride());
  cmd.parse(args, { from: 'user' });
  return configFromCommand(cmd);
}

test('resume: the run keeps its settings; another --preset re-resolves what the preset set, a refused change', () => {
  const recorded = resolveConfig({ data: 'fashion-mnist', out: 'x', temperature: 0.3 });
  const dir = storedRun({ ...recorded, out: 'x' });
  const same = fromFlags('--out', dir, '--resume');
  assert.deepEqual(pick(same.config), pick(recorded));
  assert.deepEqual(same.given, ['out']);
  const changed = fromFlags('--out', dir, '--resume', '--preset', 'paper', '--temperature', '0.3');
  assert.deepEqual(pick(changed.config), {
    temperature: 0.3,
    lrScaling: 'linear',
    colorStrength: 1,
    cropMinScale: 0.08,
    blur: true,
    projLayers: 2,
  });
  const facts = { before: {}, now: { worldSize: 1, device: 'cpu' } };
  assert.throws(
    () => checkResume(dir, recorded, changed.config, facts, false),
    /--resume would change .*lr-scaling sqrt -> linear.*color-strength 0\.5 -> 1/,
  );
  const { changes } = checkResume(dir, recorded, changed.config, facts, true);
  assert.deepEqual(
    Object.keys(changes).filter((k) => (PRESET_KEYS as readonly string[]).includes(k)),
    ['lrScaling', 'colorStrength', 'cropMinScale', 'blur'],
  );
  // The head is the checkpoint's shape: another preset on resume keeps the run's (its own line marks it), where a
  // --proj-layers given now is refused even when forced.
  const short = resolveConfig({ data: 'fashion-mnist', out: 'x', epochs: 2 });
  assert.equal(short.projLayers, 1);
  const shortDir = storedRun({ ...short, out: 'x' });
  const longer = fromFlags('--out', shortDir, '--resume', '--preset', 'paper', '--epochs', '20', '--force-resume');
  assert.equal(longer.config.projLayers, 1);
  assert.match(settingsLine(longer.config, longer.given), /, blur, linear head \(set\)$/);
  const reshaped = fromFlags('--out', shortDir, '--resume', '--proj-layers', '2');
  assert.throws(() => checkResume(shortDir, short, reshaped.config, facts, true), /proj-layers 1 -> 2/);
});

test(
  'a run with augment lists: stored from before presets it still opens; its pipeline settings are free on resume, ' +
    'and given again they are refused',
  () => {
    const list = [{ op: 'randomResizedCrop' }, { op: 'cutout' }];
    const old: Record<string, unknown> = {
      ...resolveConfig({ data: 'fashion-mnist', out: 'x', augment: list, preset: 'paper' }),
    };
    delete old.preset;
    const read = resolveConfig(old, { stored: true });
    assert.deepEqual([read.colorStrength, read.cropMinScale, read.blur], [1, 0.08, true]);
    const dir = storedRun(old);
    const resumed = fromFlags('--out', dir, '--resume', '--preset', 'auto');
    const facts = { before: {}, now: { worldSize: 1, device: 'cpu' } };
    // Refused only for what the run's lists do not replace: the lr scaling (the temperature is 0.1 in both presets).
    assert.throws(
      () => checkResume(dir, read, resumed.config, facts, false),
      /--resume would change lr-scaling linear -> sqrt of/,
    );
    const { changes } = checkResume(dir, read, resumed.config, facts, true);
    assert.deepEqual((changes as Record<string, unknown>).colorStrength, { from: 1, to: 0.5 }, 'recorded, as free');
    assert.throws(
      () => fromFlags('--out', dir, '--resume', '--color-strength', '0.3'),
      (e: unknown) =>
        e instanceof ConfigError && /--color-strength cannot be combined with the run's augment list/.test(e.message),
    );
  },
);

test("the settings line marks a run's own values; pretrain refuses a config whose preset was not resolved", () => {
  const old = resolveConfig({ data: 'fashion-mnist', out: '-', ...{ temperature: 0.5, lrScaling: 'linear' } });
  assert.match(
    settingsLine(old),
    /: temperature 0\.5 \(set\), lr 0\.3 x 256\/256 = 0\.3 \(set\), colour strength 0\.5, /,
  );
  const raw = { ...resolveConfig({ data: 'fashion-mnist', out: '-' }), temperature: null } as unknown as PretrainConfig;
  assert.throws(
    () => checkTrainingBounds(raw, null, '/run'),
    (e: unknown) =>
      e instanceof ConfigError && /^--temperature not set: pass the config through resolveConfig/.test(e.message),
  );
});
