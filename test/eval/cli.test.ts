// The evaluation commands end to end on a tiny run and a few hundred real Fashion-MNIST samples.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as torch from '../../src/torch/index.js';
import { resolveConfig } from '../../src/run/config.js';
import { appendEvalResult, readEvalResults } from '../../src/eval/report.js';
import { compareEvalRows, compareWithRandomInit } from '../../src/eval/compare.js';
import {
  buildModel,
  prepareRunDir,
  saveCheckpoint,
  writeFileAtomic,
  type RunConfigFile,
} from '../../src/run/folder.js';

const dir = mkdtempSync(join(tmpdir(), 'simclr-evalcli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A run folder as pretraining leaves it, with the initial weights of a tiny ResNet-18 as the checkpoint.
function makeRun(run: string, extra: Record<string, unknown> = {}): void {
  const config = resolveConfig({ data: 'fashion-mnist', out: run, width: 0.0625, projDim: 16, seed: 3, ...extra });
  const input = { channels: 1, height: 28, width: 28 };
  const paths = prepareRunDir(run);
  const runFile: RunConfigFile = { config, input, created: new Date().toISOString(), libtorch: torch.version() };
  writeFileAtomic(paths.config, JSON.stringify(runFile));
  torch.manualSeed(config.seed);
  const model = buildModel(config, input);
  saveCheckpoint(
    paths.checkpoint,
    model,
    { tensors: {}, meta: { optimizer: 'LARS', paramGroups: [], scalars: {} } },
    { step: 7, epoch: 0, stepInEpoch: 7 },
  );
  model.dispose();
}
const run = join(dir, 'run');
makeRun(run);
// One epoch: the auto preset's linear head.
const shortRun = join(dir, 'short-run');
makeRun(shortRun, { epochs: 1 });

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
// The child runs the CLI as this process runs (compiled, or TypeScript through tsx's loader in execArgv).
const NODE_ARGS = process.execArgv.filter((a) => !a.startsWith('--test'));

/** Runs `simclr ARGS` in a child process. */
function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...NODE_ARGS, MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    );
  });
}

const small = ['--data', 'fashion-mnist', '--limit', '512', '--test-limit', '256', '--threads', '2'];

function oneJsonObject(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line on stdout, got: ${stdout}`);
  const v = JSON.parse(lines[0]!) as unknown;
  assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v));
  return v as Record<string, unknown>;
}

function isRate(v: unknown): boolean {
  return typeof v === 'number' && v >= 0 && v <= 1;
}

test('eval knn --json prints one object with top-1, top-5 and the settings', async () => {
  const r = await cli('eval', 'knn', '--run', run, ...small, '--k', '20', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = oneJsonObject(r.stdout);
  assert.deepEqual(Object.keys(j).sort(), [
    'k',
    'metric',
    'step',
    'temperature',
    'test_count',
    'top1',
    'top5',
    'train_count',
  ]);
  assert.equal(j.metric, 'knn');
  assert.equal(j.k, 20);
  assert.equal(j.temperature, 0.1);
  assert.equal(j.train_count, 512);
  assert.equal(j.test_count, 256);
  assert.equal(j.step, 7);
  assert.ok(isRate(j.top1) && isRate(j.top5) && (j.top5 as number) >= (j.top1 as number));
  // Even a random tiny encoder's features beat chance (10%) on Fashion-MNIST.
  assert.ok((j.top1 as number) > 0.3, `top1 ${j.top1}`);
});

test('eval knn --config: the file sets options, flags override it, and it is recorded like any other run', async () => {
  const cfg = join(dir, 'knn.yaml');
  writeFileSync(
    cfg,
    [`run: ${run}`, 'data: fashion-mnist', 'limit: 128', 'testLimit: 64', 'k: 5', 'threads: 2'].join('\n'),
  );
  const r = await cli('eval', 'knn', '--config', cfg, '--k', '3', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = oneJsonObject(r.stdout);
  assert.deepEqual([j.k, j.train_count, j.test_count, j.temperature], [3, 128, 64, 0.1]);
});

test('eval linear --json reports the chosen l2 and its validation table', async () => {
  const r = await cli('eval', 'linear', '--run', run, ...small, '--l2', '0.01,0.001', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = oneJsonObject(r.stdout);
  assert.equal(j.metric, 'linear');
  assert.ok(isRate(j.top1) && isRate(j.top5));
  assert.ok(j.l2 === 0.01 || j.l2 === 0.001);
  assert.deepEqual(
    (j.validation as { l2: number }[]).map((v) => v.l2),
    [0.01, 0.001],
  );
  assert.equal(r.stderr, '', '--json keeps stderr quiet too');
});

test('finetune --json trains on the label fraction and saves into RUN/finetune-<fraction>', async () => {
  const r = await cli(
    'finetune',
    '--run',
    run,
    ...small,
    '--label-fraction',
    '0.1',
    '--epochs',
    '1',
    '--batch-size',
    '16',
    '--json',
  );
  assert.equal(r.code, 0, r.stderr);
  const j = oneJsonObject(r.stdout);
  assert.equal(j.metric, 'finetune');
  assert.equal(j.label_fraction, 0.1);
  assert.ok(isRate(j.top1));
  assert.equal(j.weights, join(run, 'finetune-0.1', 'model.safetensors'));
  assert.ok(existsSync(j.weights as string));
  const labels = JSON.parse(readFileSync(join(run, 'finetune-0.1', 'labels.json'), 'utf8')) as {
    indices: number[];
    drawn_from: number;
  };
  assert.equal(labels.drawn_from, 512);
  assert.equal(labels.indices.length, j.labelled);
});

test('each evaluation is recorded in RUN/eval.json for simclr report', () => {
  const rows = readEvalResults(run);
  assert.deepEqual(
    rows.map((r) => r.metric),
    ['knn', 'knn', 'linear', 'finetune'],
  );
  assert.ok(rows.every((r) => r.data === 'fashion-mnist' && r.step === 7 && isRate(r.top1)));
  assert.equal(rows[2]!.validation, undefined, 'the validation table stays out of eval.json');
});

test('embed writes the features file and --json describes it', async () => {
  const file = join(dir, 'emb.safetensors');
  const r = await cli(
    'embed',
    '--run',
    run,
    '--data',
    'fashion-mnist',
    '--split',
    'test',
    '--limit',
    '32',
    '--out',
    file,
    '--json',
  );
  assert.equal(r.code, 0, r.stderr);
  const j = oneJsonObject(r.stdout);
  assert.deepEqual(j, { out: file, count: 32, dim: 32, labelled: true, dataset: 'fashion-mnist/test', step: 7 });
  const { tensors } = torch.safetensors.loadFile(file);
  assert.deepEqual(tensors.get('features')!.shape, [32, 32]);
  assert.deepEqual(tensors.get('labels')!.shape, [32]);
});

test(
  'compareWithRandomInit: a run still at its initial ' + 'weights scores exactly as the fresh same-seed encoder',
  async () => {
    const r = await compareWithRandomInit(run, 'fashion-mnist', { trainLimit: 256, testLimit: 128, l2Grid: [0.01] });
    assert.equal(r.trainCount, 256);
    assert.equal(r.testCount, 128);
    assert.ok(isRate(r.pretrained.knnTop1) && isRate(r.pretrained.linearTop1));
    assert.deepEqual(r.random, r.pretrained);
    // The demo records the comparison in the run, where `simclr report` lists it.
    const rows = compareEvalRows(r, 'fashion-mnist', 'demo');
    assert.deepEqual(
      rows.map((x) => [x.metric, x.encoder, x.step, x.source]),
      [
        ['knn', 'pretrained', r.step, 'demo'],
        ['linear', 'pretrained', r.step, 'demo'],
        ['knn', 'random init', r.step, 'demo'],
        ['linear', 'random init', r.step, 'demo'],
      ],
    );
    assert.equal(rows[0]!.top1, r.pretrained.knnTop1);
    assert.equal(rows[3]!.top1, r.random.linearTop1);
    assert.deepEqual([rows[0]!.k, rows[0]!.temperature], [200, 0.1]);
    for (const row of rows) appendEvalResult(run, row);
    const recorded = readEvalResults(run).filter((x) => x.source === 'demo');
    assert.deepEqual(
      recorded.map((x) => x.top1),
      rows.map((x) => x.top1),
    );
  },
);

test('usage errors exit 2 with one line on stderr', async () => {
  const cases: [string[], RegExp][] = [
    [['eval', 'knn', '--data', 'fashion-mnist'], /--run is required/],
    [['eval', 'linear', '--run', run, '--data', 'nope:x'], /unknown dataset kind 'nope'/],
    [['eval', 'knn', '--run', run, '--data', `cifar10:${join(dir, 'missing')}`], /cifar10/],
    [['eval', 'knn', '--run', join(dir, 'norun'), '--data', 'fashion-mnist'], /not a simclr run folder/],
    [
      ['finetune', '--run', run, '--data', 'fashion-mnist', '--label-fraction', '2'],
      /--label-fraction <f>' argument '2' is invalid. expected a number in \(0, 1\]/,
    ],
    [
      ['eval', 'knn', '--run', run, '--data', 'fashion-mnist', '--k', '0'],
      /--k <n>' argument '0' is invalid. expected an integer in \[1, 1000000\]/,
    ],
    [
      ['finetune', '--run', shortRun, '--data', 'fashion-mnist', '--label-fraction', '0.1', '--from-head-layer'],
      /--from-head-layer needs a projection head of at least 2 layers; .*short-run has a linear one \(the auto preset/,
    ],
  ];
  const results = await Promise.all(cases.map(([args]) => cli(...args, '--json')));
  for (const [i, [args, message]] of cases.entries()) {
    const r = results[i]!;
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.equal(existsSync(join(shortRun, 'finetune-0.1')), false, 'refused before writing anything');
});
