// Option bounds (issue 15, item 14): every out-of-range or mistyped value is one ConfigError naming the option, from
// resolveConfig (config files, library callers) and from the command line alike, before any work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig, ConfigError } from '../../src/run/config.js';
import { withinBound, type NumberBound } from '../../src/run/bounds.js';
import { PRETRAIN_BOUNDS } from '../../src/run/options/pretrain.js';
import { boundsOf } from '../../src/run/options/fields.js';
import { COMMAND_SCHEMAS } from '../../src/run/options/index.js';
import { LAUNCH } from '../../src/run/options/launch.js';
import { EVAL_LINEAR } from '../../src/run/options/eval.js';
import { bounded } from '../../src/cli/options.js';

const base = { data: 'fashion-mnist', out: '/tmp/x' };

function refused(values: Record<string, unknown>, pattern: RegExp): void {
  assert.throws(
    () => resolveConfig({ ...base, ...values }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, `not a ConfigError: ${String(e)}`);
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    },
  );
}

test("the issue's values are refused with a message naming the option and its range", () => {
  refused({ threads: 100000 }, /^--threads must be an integer in \[1, 1024\].*got 100000$/);
  refused({ batchSize: 1 }, /^--batch-size must be an integer in \[2, .*NT-Xent.*got 1$/);
  refused({ width: 1e-6 }, /^--width must be a number in \[1\/16, 8\].*got 0.000001$/);
  refused({ lr: 1e308 }, /^--lr must be a number in \(0, 100\], got 1e\+308$/);
  refused({ seed: 1e300 }, /^--seed must be an integer in \[0, 2\^53-1\].*got 1e\+300$/);
  refused({ projDim: 1e9 }, /^--proj-dim must be an integer in \[1, 16384\], got 1000000000$/);
  refused({ imageSize: 100000 }, /^--image-size must be an integer in \[8, 1024\], got 100000$/);
  refused({ epochs: 0 }, /^--epochs must be a number in \(0, 1000000\], got 0$/);
});

test('config-file types are checked exactly: strings are neither booleans nor numbers', () => {
  refused({ strict: 'yes' }, /^--strict must be true or false, got the string "yes"$/);
  refused({ blur: 'false' }, /^--blur must be true or false, got the string "false"$/);
  refused({ batchSize: '32' }, /^--batch-size must be an integer .*got the string "32"$/);
  refused({ temperature: '0.1' }, /^--temperature must be .*got the string "0.1"$/);
  refused({ epochs: null }, /^--epochs must be .*got null$/);
  refused({ arch: 18 }, /^--arch must be one of .*got 18$/);
  refused({ fooBar: 1, bazQux: 2 }, /^unknown options 'foo-bar', 'baz-qux'$/);
  refused({ seed: 1.5 }, /^--seed must be an integer/);
  refused({ lr: Number.NaN }, /^--lr must be .*got NaN$/);
});

test('values inside the bounds pass, at both ends', () => {
  const c = resolveConfig({
    ...base,
    threads: 1,
    batchSize: 2,
    width: 1 / 16,
    lr: 100,
    seed: Number.MAX_SAFE_INTEGER,
    projDim: 16384,
    imageSize: 8,
    strict: true,
  });
  assert.deepEqual(
    [c.threads, c.batchSize, c.width, c.lr, c.seed, c.projDim, c.imageSize, c.strict],
    [1, 2, 1 / 16, 100, Number.MAX_SAFE_INTEGER, 16384, 8, true],
  );
});

test('the command-line parsers use the same table: one bound, one message', () => {
  assert.throws(() => bounded(PRETRAIN_BOUNDS.threads)('100000'), /expected an integer in \[1, \d+\].*got '100000'/);
  assert.throws(() => bounded(PRETRAIN_BOUNDS.seed)(''), /got ''/);
  assert.throws(() => bounded(PRETRAIN_BOUNDS.batchSize)('1'), /NT-Xent/);
  assert.equal(bounded(PRETRAIN_BOUNDS.epochs)('0.5'), 0.5);
  assert.throws(() => bounded(LAUNCH.fields.masterPort.bound)('70000'), /TCP port/);
  assert.throws(() => bounded(EVAL_LINEAR.fields.valFraction.bound)('1'), /\(0, 1\)/);
  // Every bound of every command's schema is a sane range.
  for (const table of COMMAND_SCHEMAS.map((s) => boundsOf(s.fields))) {
    for (const [k, b] of Object.entries(table) as [string, NumberBound][]) {
      assert.ok(Number.isFinite(b.max) && b.max <= Number.MAX_SAFE_INTEGER && b.min <= b.max, k);
      assert.ok(!withinBound(Infinity, b) && !withinBound(Number.NaN, b) && !withinBound(String(b.max), b), k);
    }
  }
});

test('the loss is chosen by name from LOSSES, with its margin bounded; older configs get NT-Xent', () => {
  const c = resolveConfig({ ...base });
  assert.deepEqual([c.loss, c.temperature, c.margin], ['ntxent', 0.1, 0.5]);
  const t = resolveConfig({ ...base, loss: 'margintriplet', margin: 0 });
  assert.deepEqual([t.loss, t.margin], ['margintriplet', 0]);
  refused({ loss: 'infonce' }, /^--loss must be one of ntxent\|ntlogistic\|margintriplet, got the string "infonce"$/);
  refused(
    { margin: 2.5 },
    /^--margin must be a number in \[0, 2\] \(cosine similarities differ by at most 2\), got 2.5$/,
  );
  refused({ margin: -0.1 }, /^--margin must be/);
  refused({ optimizer: 'adam' }, /^--optimizer must be one of lars\|sgd\|adamw/);
  refused({ arch: 'vgg16' }, /^--arch must be one of resnet18\|resnet34\|resnet50/);
  // A stored config from before the option existed.
  const stored = resolveConfig({ ...base, arch: 'resnet18', temperature: 0.2 }, { stored: true });
  assert.deepEqual([stored.loss, stored.margin], ['ntxent', 0.5]);
});
