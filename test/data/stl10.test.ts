import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DataError } from '../../src/data/dataset.js';
import { openDataset } from '../../src/data/spec.js';
import { openStl10 } from '../../src/data/stl10.js';
import { scratchDir } from './tmp.js';

const S = 96,
  PLANE = S * S,
  IMG = 3 * PLANE;
const value = (n: number, c: number, y: number, x: number): number => (n * 31 + c * 50 + y * 3 + x * 7) % 256;

/** Images stored as STL-10 does: each channel column-major, i.e. byte x*96+y holds pixel (row y, column x). */
function stlImages(count: number, first: number): Uint8Array {
  const buf = new Uint8Array(count * IMG);
  for (let n = 0; n < count; n++) {
    for (let c = 0; c < 3; c++) {
      for (let x = 0; x < S; x++)
        for (let y = 0; y < S; y++) buf[n * IMG + c * PLANE + x * S + y] = value(first + n, c, y, x);
    }
  }
  return buf;
}

function assertRowMajor(out: Uint8Array, n: number): void {
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        if (out[c * PLANE + y * S + x] !== value(n, c, y, x)) assert.fail(`image ${n} pixel c=${c} y=${y} x=${x}`);
      }
    }
  }
}

function writeStl(dir: string): void {
  writeFileSync(join(dir, 'train_X.bin'), stlImages(2, 0));
  writeFileSync(join(dir, 'train_y.bin'), new Uint8Array([1, 10]));
  writeFileSync(join(dir, 'test_X.bin'), stlImages(1, 10));
  writeFileSync(join(dir, 'test_y.bin'), new Uint8Array([4]));
  writeFileSync(join(dir, 'unlabeled_X.bin'), stlImages(3, 20));
}

test('STL-10 splits, label shift and column-major transpose', async () => {
  const dir = scratchDir('stl');
  writeStl(dir);
  const train = await openStl10(dir, 'train');
  assert.deepEqual(
    [train.name, train.length, train.channels, train.height, train.width, train.numClasses],
    ['stl10/train', 2, 3, 96, 96, 10],
  );
  assert.deepEqual([...train.labels!], [0, 9]);
  const out = new Uint8Array(2 * IMG);
  train.readBatch([1, 0], out);
  assertRowMajor(out.subarray(0, IMG), 1);
  assertRowMajor(out.subarray(IMG), 0);
  train.close();
  assert.throws(() => train.readBatch([0], new Uint8Array(IMG)), /closed/);

  const unl = await openStl10(dir, 'unlabeled');
  assert.deepEqual([unl.length, unl.labels, unl.numClasses], [3, null, 0]);
  unl.close();

  const both = await openStl10(dir, 'train+unlabeled');
  assert.deepEqual([both.name, both.length, both.numClasses], ['stl10/train+unlabeled', 5, 10]);
  assert.deepEqual([...both.labels!], [0, 9, -1, -1, -1]);
  const mixed = new Uint8Array(3 * IMG);
  both.readBatch([4, 0, 2], mixed);
  assertRowMajor(mixed.subarray(0, IMG), 22);
  assertRowMajor(mixed.subarray(IMG, 2 * IMG), 0);
  assertRowMajor(mixed.subarray(2 * IMG), 20);
  both.close();

  // The split in the spec wins over the one asked for.
  const testSet = await openDataset(`stl10:${dir}:test`, { split: 'train' });
  assert.deepEqual([testSet.name, testSet.length, testSet.labels![0]], ['stl10/test', 1, 3]);
  testSet.close();
});

test('STL-10 bad labels and sizes are DataErrors', async () => {
  const dir = scratchDir('stlbad');
  writeStl(dir);
  writeFileSync(join(dir, 'train_y.bin'), new Uint8Array([0, 3]));
  await assert.rejects(
    openStl10(dir, 'train'),
    (e: unknown) => e instanceof DataError && /label 0 at index 0 is outside 1\.\.10/.test(e.message),
  );
  writeFileSync(join(dir, 'train_y.bin'), new Uint8Array([1, 2, 3]));
  await assert.rejects(openStl10(dir, 'train'), /3 labels but .*train_X\.bin has 2 images/);
  writeFileSync(join(dir, 'test_X.bin'), new Uint8Array(IMG - 1));
  await assert.rejects(openStl10(dir, 'test'), /not a whole number of 27648-byte/);
});

test('STL-10 unlabeled file beyond 2 GiB is read lazily', async () => {
  const dir = scratchDir('stlbig');
  writeStl(dir);
  // The real size (100k images, 2.76 GB) as a sparse file, with one known image at the end.
  const count = 100_000;
  const path = join(dir, 'unlabeled_X.bin');
  const fd = openSync(path, 'w');
  ftruncateSync(fd, count * IMG);
  writeSync(fd, stlImages(1, 5), 0, IMG, (count - 1) * IMG);
  closeSync(fd);
  const ds = await openStl10(dir, 'train+unlabeled');
  assert.equal(ds.length, count + 2);
  const out = new Uint8Array(2 * IMG);
  ds.readBatch([count + 1, count], out);
  assertRowMajor(out.subarray(0, IMG), 5);
  assert.ok(out.subarray(IMG).every((v) => v === 0));
  ds.close();
});
