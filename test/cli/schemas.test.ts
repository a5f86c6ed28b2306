// The commands other than pretrain read their options through their schemas (src/run/options/): defaults < --config
// FILE < flags, each value checked as pretrain's are, and every problem one line with exit code 2 before any work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { addSchemaOptions, commandOptions } from '../../src/cli/options.js';
import { EVAL_KNN, EVAL_LINEAR, DEFAULT_L2_GRID } from '../../src/run/options/eval.js';
import { FINETUNE } from '../../src/run/options/finetune.js';
import { commandSchema, type CommandSchema, type ConfigOf, type Fields } from '../../src/run/options/fields.js';
import { PRETRAIN } from '../../src/run/options/pretrain.js';
import { ConfigError } from '../../src/errors.js';
import { cli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'simclr-schemas-'));
let files = 0;
function file(name: string, text: string): string {
  const path = join(dir, `${files++}-${name}`);
  writeFileSync(path, text);
  return path;
}

/** What the command's action would get for these arguments. */
function resolved<F extends Fields>(schema: CommandSchema<F>, ...args: string[]): ConfigOf<F> {
  const cmd = addSchemaOptions(new Command(schema.command).exitOverride(), schema);
  cmd.parse(args, { from: 'user' });
  return commandOptions(cmd, schema);
}

test('defaults < --config < flags, with kebab-case or camelCase keys in the file', () => {
  const yaml = file('knn.yaml', ['run: runs/a', 'data: fashion-mnist', 'k: 20', 'test-limit: 100'].join('\n'));
  const o = resolved(EVAL_KNN, '--config', yaml, '--k', '7', '--json');
  assert.deepEqual(
    { ...o },
    {
      run: 'runs/a',
      data: 'fashion-mnist',
      checkpoint: null,
      limit: null,
      testLimit: 100,
      batchSize: 256,
      device: 'auto',
      threads: null,
      json: true,
      k: 7,
      temperature: 0.1,
      chunkSize: null,
    },
  );
  const json = file('linear.json', JSON.stringify({ run: 'r', data: 'd', valFraction: 0.5, l2: [1, 0.5] }));
  const l = resolved(EVAL_LINEAR, '--config', json, '--no-standardize');
  assert.deepEqual([l.valFraction, l.l2, l.standardize, l.maxIter], [0.5, [1, 0.5], false, 1000]);
  assert.deepEqual(resolved(EVAL_LINEAR, '--run', 'r', '--data', 'd', '--l2', '3,0').l2, [3, 0]);
  assert.deepEqual(resolved(EVAL_LINEAR, '--run', 'r', '--data', 'd').l2, DEFAULT_L2_GRID);
});

test('a required option may come from the file or a flag; missing from both, it is named', () => {
  const yaml = file('ft.yaml', 'label-fraction: 0.1\n');
  const o = resolved(FINETUNE, '--config', yaml, '--run', 'r', '--data', 'd');
  assert.deepEqual([o.labelFraction, o.epochs, o.lr, o.out], [0.1, null, 0.05, null]);
  assert.throws(
    () => resolved(FINETUNE, '--run', 'r', '--data', 'd'),
    (e: unknown) =>
      e instanceof ConfigError && e.message === '--label-fraction is required (e.g. --label-fraction 0.1)',
  );
});

test('flags that are not config keys are left to the action, and only configFlag() reads a file', () => {
  const o = resolved(PRETRAIN, '--data', 'fashion-mnist', '--out', 'runs/x', '--resume', '--batch-size', '64');
  assert.equal(o.batchSize, 64);
  assert.ok(!('resume' in o));
  const other = commandSchema('other', { k: EVAL_KNN.fields.k }, [
    { key: 'config', cli: { arg: '<file>', help: 'settings of something else' } },
  ]);
  assert.deepEqual(resolved(other, '--config', file('other.yaml', 'anything: 1\n')), { k: 200 });
});

test('config-file problems: one line naming the file and the option, exit 2, nothing run', async () => {
  const cases: [string, string, string, (f: string) => string][] = [
    ['knn.yaml', 'kk: 1\nfoo-bar: 2\n', 'eval knn', (f) => `--config ${f}: unknown options 'kk', 'foo-bar'`],
    [
      'ft.yaml',
      'label-fraction: "0.1"\n',
      'finetune',
      (f) => `--config ${f}: --label-fraction must be a number in (0, 1], got the string "0.1"`,
    ],
    [
      'embed.yaml',
      'split: val\n',
      'embed',
      (f) => `--config ${f}: --split must be one of train|test, got the string "val"`,
    ],
    [
      'linear.yaml',
      'l2: [0.1, -1]\n',
      'eval linear',
      (f) => `--config ${f}: --l2 must be a non-empty list of numbers, each a number in [0, 1000000], got a list`,
    ],
    [
      'knn.json',
      '{"json": "yes"}',
      'eval knn',
      (f) => `--config ${f}: --json must be true or false, got the string "yes"`,
    ],
    ['list.yaml', '- 1\n', 'embed', (f) => `--config ${f}: expected a mapping of option names to values`],
  ];
  for (const [name, text, command, message] of cases) {
    const path = file(name, text);
    const r = await cli(...command.split(' '), '--config', path);
    assert.equal(r.code, 2, `${command}: ${r.stderr}`);
    assert.equal(r.stderr, `simclr: ${message(path)}\n`);
    assert.equal(r.stdout, '');
  }
});

test('flag problems of the other commands: one line, exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [['eval', 'knn', '--data', 'fashion-mnist'], /^simclr: --run is required \(the pretraining run folder\)$/],
    [
      ['eval', 'linear', '--run', 'r', '--data', 'd', '--l2', '0.1,,1'],
      /--l2 <list>.*comma-separated numbers.*'0.1,,1'/,
    ],
    [['eval', 'knn', '--run', 'r', '--data', 'd', '--device', 'gpu'], /--device must be cpu, cuda, cuda:N or auto/],
    [['embed', '--run', 'r', '--data', 'd', '--out', 'o', '--split', 'val'], /--split <name>.*Allowed choices/],
    [['export', '--run', 'r', '--out', 'o'], /^simclr: --format is required \(safetensors or onnx\)$/],
    [['augment', '--data', 'fashion-mnist', '--out', 'g.png', '--count', '0'], /--count <n>.*\[1, 1024\]/],
    [['augment', '--data', 'fashion-mnist', '--out', 'g.png', '--color-strength', '3'], /\[0, 2\.5\]/],
    [['demo', '--max-steps', '0'], /--max-steps <n>.*expected an integer/],
    [['launch', '--nproc', '0', '--', 'pretrain'], /--nproc <n>.*\[1, 1024\]/],
    [['report', 'r', '--out', ''], /^simclr: --out must be a non-empty string, got the string ""$/],
    [['doctor', '--config', 'x.yaml'], /unknown option '--config'/],
  ];
  for (const [args, pattern] of cases) {
    const r = await cli(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr.trim(), pattern);
  }
});
