// Typed errors: each carries its kind and exit code, across the training worker too, and the CLI never decides by
// reading an error's name or message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  DataError,
  DivergenceError,
  EXIT_FAILURE,
  EXIT_USAGE,
  SafetensorsError,
  SimclrError,
  UsageError,
  exitCodeOf,
  fromWire,
  toWire,
} from '../../src/errors.js';
import { describeError } from '../../src/cli/errors.js';
import { RunInUseError } from '../../src/run/lock.js';
import { pretrainInBackground } from '../../src/train/background.js';
import { pretrain } from '../../src/train/pretrain.js';
import { resolveConfig } from '../../src/run/config.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'simclr-errors-'));

test('each error class has its kind and exit code; anything else is internal and exits 1', () => {
  const cases: [unknown, string, number][] = [
    [new UsageError('u'), 'usage', EXIT_USAGE],
    [new ConfigError('c'), 'usage', EXIT_USAGE],
    [new DataError('d'), 'data', EXIT_USAGE],
    [new SafetensorsError('s', 'ENOENT'), 'io', EXIT_USAGE],
    [new RunInUseError('runs/x', null), 'usage', EXIT_USAGE],
    [new DivergenceError('n'), 'divergence', EXIT_FAILURE],
  ];
  for (const [e, kind, code] of cases) {
    assert.ok(e instanceof SimclrError);
    assert.equal(e.kind, kind, e.name);
    assert.equal(exitCodeOf(e), code, e.name);
    assert.deepEqual(describeError(e), { message: `simclr: ${e.message}`, code });
  }
  assert.equal(exitCodeOf(new RangeError('x')), EXIT_FAILURE);
  assert.equal(exitCodeOf('a string'), EXIT_FAILURE);
  // A plain Error named like a usage error is still not one: names decide nothing.
  const impostor = new Error('--resume needs --out');
  impostor.name = 'ConfigError';
  assert.equal(describeError(impostor).code, EXIT_FAILURE);
});

test('an error crosses the wire as plain fields and comes back as its class, or one of its kind', () => {
  const wire = toWire(new DivergenceError('the model diverged'));
  assert.deepEqual(
    { ...wire, stack: undefined },
    {
      kind: 'divergence',
      name: 'DivergenceError',
      message: 'the model diverged',
      exitCode: EXIT_FAILURE,
      stack: undefined,
    },
  );
  assert.deepEqual(structuredClone(wire), wire);
  const back = fromWire(wire);
  assert.ok(back instanceof DivergenceError);
  assert.equal(back.stack, wire.stack);

  const inUse = fromWire(toWire(new RunInUseError('runs/x', null)));
  assert.ok(inUse instanceof SimclrError);
  assert.equal(inUse.name, 'RunInUseError');
  assert.equal(inUse.kind, 'usage');
  assert.equal(inUse.exitCode, EXIT_USAGE);

  const other = fromWire(toWire(new TypeError('x is undefined')));
  assert.equal(other.kind, 'internal');
  assert.equal(other.name, 'TypeError');
  assert.equal(other.exitCode, EXIT_FAILURE);
});

test('an error thrown in the training worker reaches the caller with its class, kind and exit code', async () => {
  const missing = join(tmp(), 'missing');
  await assert.rejects(
    pretrainInBackground(resolveConfig({ data: `cifar10:${missing}`, out: tmp() })).result,
    (e: unknown) => {
      assert.ok(e instanceof DataError, String(e));
      assert.equal(e.kind, 'data');
      assert.equal(e.exitCode, EXIT_USAGE);
      assert.match(e.message, /missing/);
      return true;
    },
  );

  const dir = tmp();
  const tiny = (extra: Record<string, unknown>): ReturnType<typeof resolveConfig> =>
    resolveConfig({
      data: 'fashion-mnist',
      out: dir,
      arch: 'resnet18',
      width: 0.125,
      batchSize: 32,
      epochs: 0.04,
      logSteps: 1,
      threads: 2,
      ...extra,
    });
  await pretrain(tiny({ maxSteps: 1 }));
  const run = pretrainInBackground(tiny({ maxSteps: 2, temperature: 1e-45 }), {}, { resume: true, forceResume: true });
  await assert.rejects(run.result, (e: unknown) => {
    assert.ok(e instanceof DivergenceError, String(e));
    assert.equal(e.kind, 'divergence');
    assert.equal(e.exitCode, EXIT_FAILURE);
    assert.match(e.message, /at step 2 /);
    return true;
  });
});

test("the CLI exits with the code the worker's error carries: 1 for a divergence, 2 for bad data", () => {
  const main = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');
  const simclr = (...args: string[]): { code: number | null; stderr: string } => {
    const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 300_000 });
    return { code: r.status, stderr: r.stderr };
  };
  const dir = tmp();
  const common = [
    '--out',
    dir,
    '--arch',
    'resnet18',
    '--width',
    '0.125',
    '--batch-size',
    '32',
    '--epochs',
    '0.04',
    '--threads',
    '2',
  ];
  assert.equal(simclr('pretrain', '--data', 'fashion-mnist', ...common, '--max-steps', '1').code, 0);
  const diverged = simclr(
    'pretrain',
    '--data',
    'fashion-mnist',
    ...common,
    '--max-steps',
    '2',
    '--temperature',
    '1e-45',
    '--force-resume',
  );
  assert.equal(diverged.code, EXIT_FAILURE, diverged.stderr);
  assert.match(diverged.stderr, /^simclr: loss is NaN at step 2 /m);
  const bad = simclr('pretrain', '--data', `cifar10:${join(tmp(), 'missing')}`, '--out', tmp());
  assert.equal(bad.code, EXIT_USAGE, bad.stderr);
  assert.match(bad.stderr, /^simclr: .*missing/m);
});

function repoRoot(): string {
  let root = dirname(fileURLToPath(import.meta.url));
  while (!statSync(join(root, 'package.json'), { throwIfNoEntry: false })) root = dirname(root);
  return root;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('src/cli chooses nothing by matching error messages', () => {
  const root = repoRoot();
  // .message.startsWith/.includes/.match/.endsWith/=== and regex.test(...message...): all forms of reading a message to
  // decide.
  const forbidden = [
    /\.message\s*\.\s*(startsWith|endsWith|includes|match|search|indexOf)\s*\(/,
    /\.message\s*[!=]==?/,
    /\.test\([^)]*message/,
  ];
  const hits: string[] = [];
  for (const file of sourceFiles(join(root, 'src', 'cli'))) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (forbidden.some((re) => re.test(line))) hits.push(`${file}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(hits, []);
});
