import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DataError } from '../../src/data/dataset.js';
import { MNIST_CLASSES, openIdx, parseIdx } from '../../src/data/idx.js';
import { openDataset } from '../../src/data/spec.js';
import { scratchDir } from './tmp.js';

function idxBytes(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => {
    head.writeUInt32BE(d, 4 + 4 * i);
  });
  return Buffer.concat([head, data]);
}

// 3 images of 4 rows x 5 columns, pixel = 100*n + 10*row + col (non-square to catch H/W mix-ups).
const N = 3,
  H = 4,
  W = 5;
const pixels = new Uint8Array(N * H * W).map((_, i) => {
  const n = Math.floor(i / (H * W)),
    r = Math.floor((i % (H * W)) / W),
    c = i % W;
  return (100 * n + 10 * r + c) % 256;
});
const labels = new Uint8Array([7, 0, 9]);

function writeSet(dir: string, prefix: string, gz: boolean): void {
  mkdirSync(dir, { recursive: true });
  const enc = (b: Uint8Array): Uint8Array => (gz ? gzipSync(b) : b);
  const sfx = gz ? '.gz' : '';
  writeFileSync(join(dir, `${prefix}-images-idx3-ubyte${sfx}`), enc(idxBytes(0x803, [N, H, W], pixels)));
  writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte${sfx}`), enc(idxBytes(0x801, [N], labels)));
}

test('IDX raw and gzipped files round-trip pixels and labels', async () => {
  const root = scratchDir('idx');
  for (const gz of [false, true]) {
    const dir = join(root, gz ? 'gz' : 'raw');
    writeSet(dir, 't10k', gz);
    const ds = await openIdx(dir, { family: 'mnist', split: 'test', classNames: MNIST_CLASSES });
    assert.equal(ds.name, 'mnist/test');
    assert.deepEqual([ds.length, ds.channels, ds.height, ds.width, ds.numClasses], [N, 1, H, W, 10]);
    assert.deepEqual([...ds.labels!], [7, 0, 9]);
    const out = new Uint8Array(2 * H * W);
    ds.readBatch([2, 0], out);
    assert.deepEqual([...out.subarray(0, H * W)], [...pixels.subarray(2 * H * W)]);
    assert.deepEqual([...out.subarray(H * W)], [...pixels.subarray(0, H * W)]);
    assert.throws(() => ds.readBatch([3], new Uint8Array(H * W)), RangeError);
    assert.throws(() => ds.readBatch([0], new Uint8Array(H * W + 1)), RangeError);
    ds.close();
  }
});

test('IDX problems are DataErrors naming the file', async () => {
  const dir = scratchDir('idxbad');
  writeSet(dir, 'train', false);
  // Images and labels swapped: magic numbers no longer match.
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), idxBytes(0x801, [N], labels));
  await assert.rejects(
    openIdx(dir, { family: 'mnist', split: 'train', classNames: MNIST_CLASSES }),
    (e: unknown) =>
      e instanceof DataError &&
      /train-images-idx3-ubyte: bad IDX magic number 0x00000801, expected 0x00000803/.test(e.message),
  );
  assert.throws(() => parseIdx(idxBytes(0x803, [N, H, W], pixels.subarray(1)), 0x803, 'x'), /payload is 59 bytes/);
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), gzipSync(pixels).subarray(0, 20));
  await assert.rejects(
    openIdx(dir, { family: 'mnist', split: 'train', classNames: MNIST_CLASSES }),
    /corrupt gzip data/,
  );
  await assert.rejects(
    openIdx(dir, { family: 'mnist', split: 'test', classNames: MNIST_CLASSES }),
    (e: unknown) => e instanceof DataError && e.message.includes(join(dir, 't10k-images-idx3-ubyte')),
  );
  writeSet(dir, 'train', false);
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idxBytes(0x801, [N], new Uint8Array([1, 2, 10])));
  await assert.rejects(
    openIdx(dir, { family: 'mnist', split: 'train', classNames: MNIST_CLASSES }),
    /label 10 at index 2/,
  );
});

test('real Fashion-MNIST from the default directory', async () => {
  const train = await openDataset('fashion-mnist', { split: 'train' });
  const testSet = await openDataset('fashion-mnist:/usr/share/datasets/fashion-mnist', { split: 'test' });
  assert.equal(train.name, 'fashion-mnist/train');
  assert.deepEqual([train.length, train.channels, train.height, train.width, train.numClasses], [60000, 1, 28, 28, 10]);
  assert.deepEqual([testSet.length, testSet.height, testSet.width], [10000, 28, 28]);
  assert.equal(train.classNames![9], 'Ankle boot');
  for (const ds of [train, testSet]) {
    const counts = new Array<number>(10).fill(0);
    for (const l of ds.labels!) counts[l]!++;
    // Fashion-MNIST is exactly balanced.
    assert.deepEqual(counts, new Array<number>(10).fill(ds.length / 10));
  }
  const out = new Uint8Array(2 * 28 * 28);
  train.readBatch([0, 59999], out);
  assert.ok(out.some((v) => v > 0));
  train.close();
  testSet.close();
});
