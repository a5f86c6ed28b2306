import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openCifar10, openCifar100 } from '../../src/data/cifar.js';
import { DataError } from '../../src/data/dataset.js';
import { scratchDir } from './tmp.js';

const PIX = 3072;

/** A record whose pixels are all `fill` except the first byte of each channel plane, which is the channel index. */
function record(labelBytes: number[], fill: number): Uint8Array {
  const r = new Uint8Array(labelBytes.length + PIX).fill(fill);
  r.set(labelBytes, 0);
  for (let c = 0; c < 3; c++) r[labelBytes.length + c * 1024] = c;
  return r;
}

test('CIFAR-10 binary batches in cifar-10-batches-bin/', async () => {
  const root = scratchDir('cifar10');
  const dir = join(root, 'cifar-10-batches-bin');
  mkdirSync(dir);
  // Two records per training batch; labels and fill encode batch and position.
  for (let b = 1; b <= 5; b++) {
    writeFileSync(join(dir, `data_batch_${b}.bin`), Buffer.concat([record([b], 10 * b), record([b + 4], 10 * b + 1)]));
  }
  writeFileSync(join(dir, 'test_batch.bin'), record([3], 200));
  writeFileSync(
    join(dir, 'batches.meta.txt'),
    'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n',
  );

  const train = await openCifar10(root, 'train');
  assert.equal(train.name, 'cifar10/train');
  assert.deepEqual([train.length, train.channels, train.height, train.width, train.numClasses], [10, 3, 32, 32, 10]);
  assert.deepEqual([...train.labels!], [1, 5, 2, 6, 3, 7, 4, 8, 5, 9]);
  assert.equal(train.classNames![9], 'truck');
  const out = new Uint8Array(2 * PIX);
  train.readBatch([9, 2], out);
  assert.deepEqual([out[0], out[1], out[1024], out[2048], out[PIX + 5]], [0, 51, 1, 2, 20]);

  const testSet = await openCifar10(dir, 'test'); // the batches folder itself also works
  assert.deepEqual([testSet.length, testSet.labels![0]], [1, 3]);

  writeFileSync(join(dir, 'test_batch.bin'), record([3], 0).subarray(1));
  await assert.rejects(
    openCifar10(root, 'test'),
    (e: unknown) => e instanceof DataError && /test_batch\.bin: 3072 bytes/.test(e.message),
  );
  rmSync(join(dir, 'data_batch_4.bin'));
  await assert.rejects(
    openCifar10(root, 'train'),
    (e: unknown) => e instanceof DataError && e.message === `missing file: ${join(dir, 'data_batch_4.bin')}`,
  );
});

test('CIFAR-100 uses the fine label (second byte)', async () => {
  const dir = scratchDir('cifar100');
  writeFileSync(join(dir, 'train.bin'), Buffer.concat([record([19, 99], 1), record([0, 42], 2), record([5, 7], 3)]));
  writeFileSync(join(dir, 'test.bin'), record([1, 250], 0));
  const train = await openCifar100(dir, 'train');
  assert.deepEqual([train.length, train.numClasses, train.classNames], [3, 100, undefined]);
  assert.deepEqual([...train.labels!], [99, 42, 7]);
  const out = new Uint8Array(PIX);
  train.readBatch([2], out);
  assert.deepEqual([out[0], out[1], out[2048], out[3071]], [0, 3, 2, 3]);
  await assert.rejects(openCifar100(dir, 'test'), /label 250 in record 0 is not below 100/);
});
