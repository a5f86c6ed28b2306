import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DataError } from '../../src/data/dataset.js';
import { DEFAULT_FASHION_MNIST_DIR, openDataset, parseDataSpec } from '../../src/data/spec.js';
import { scratchDir } from './tmp.js';

test('parseDataSpec accepts every kind', () => {
  assert.deepEqual(parseDataSpec('fashion-mnist'), { kind: 'fashion-mnist', dir: DEFAULT_FASHION_MNIST_DIR });
  assert.deepEqual(parseDataSpec('fashion-mnist:/d'), { kind: 'fashion-mnist', dir: '/d' });
  assert.deepEqual(parseDataSpec('mnist:/data/mnist'), { kind: 'mnist', dir: '/data/mnist' });
  assert.deepEqual(parseDataSpec('cifar10:rel/dir'), { kind: 'cifar10', dir: 'rel/dir' });
  assert.deepEqual(parseDataSpec('cifar100:/c'), { kind: 'cifar100', dir: '/c' });
  assert.deepEqual(parseDataSpec('stl10:/s'), { kind: 'stl10', dir: '/s' });
  assert.deepEqual(parseDataSpec('stl10:/s:train+unlabeled'), { kind: 'stl10', dir: '/s', split: 'train+unlabeled' });
  assert.deepEqual(parseDataSpec('stl10:/a:b'), { kind: 'stl10', dir: '/a:b' }, 'a non-split suffix stays in DIR');
  assert.deepEqual(parseDataSpec('folder:/x:y'), { kind: 'folder', dir: '/x:y' });
  assert.deepEqual(parseDataSpec('folder:~/imgs'), { kind: 'folder', dir: join(homedir(), 'imgs') });
});

test('parseDataSpec rejects bad specs with one-line DataErrors', () => {
  const bad: [string, RegExp][] = [
    [
      'imagenet:/x',
      new RegExp(
        String.raw`^data spec 'imagenet:\/x': unknown dataset kind 'imagenet' \(expected one of: fashion-mnist, ` +
          String.raw`mnist, cifar10, cifar100, stl10, folder\)$`,
      ),
    ],
    ['', /unknown dataset kind ''/],
    ['mnist', /^data spec 'mnist': missing directory, expected mnist:DIR$/],
    ['folder:', /missing directory, expected folder:DIR/],
    ['stl10::test', /missing directory, expected stl10:DIR/],
  ];
  for (const [spec, re] of bad) {
    assert.throws(
      () => parseDataSpec(spec),
      (e: unknown) => e instanceof DataError && re.test(e.message) && !e.message.includes('\n'),
      spec,
    );
  }
});

test('openDataset names the spec and the missing path', async () => {
  const tmp = scratchDir('specopen');
  const missing = join(tmp, 'nope');
  for (const kind of ['mnist', 'cifar10', 'cifar100', 'stl10', 'folder']) {
    await assert.rejects(
      openDataset(`${kind}:${missing}`, { split: 'train' }),
      (e: unknown) =>
        e instanceof DataError && e.message === `data spec '${kind}:${missing}': directory not found: ${missing}`,
    );
  }
  await assert.rejects(
    openDataset(`cifar10:${tmp}`, { split: 'test' }),
    (e: unknown) =>
      e instanceof DataError &&
      e.message === `data spec 'cifar10:${tmp}': missing file: ${join(tmp, 'test_batch.bin')}`,
  );
  await assert.rejects(
    openDataset(`mnist:${tmp}`, { split: 'train' }),
    /missing file: .*train-images-idx3-ubyte\[\.gz\]/,
  );
  await assert.rejects(openDataset('fashion-mnist', { split: 'unlabeled' }), /fashion-mnist has no unlabeled split/);
});

test('train+unlabeled on a fully labelled dataset is its training set', async () => {
  const ds = await openDataset('fashion-mnist', { split: 'train+unlabeled' });
  assert.deepEqual([ds.name, ds.length], ['fashion-mnist/train', 60000]);
  ds.close();
});
