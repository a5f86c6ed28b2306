// CIFAR-10 and CIFAR-100 "binary version" files. A record is the label
// byte(s) followed by 3072 pixel bytes already in CHW order (1024 red, 1024
// green, 1024 blue, each row-major 32x32), so pixels copy straight to NCHW.
// The whole training set is 150 MB, small enough to hold in memory.

import { join } from 'node:path';
import { DataError, MemoryDataset } from './dataset.js';
import { dataRoot, readNameList, readWholeFile } from './files.js';

const PIXELS = 3 * 32 * 32;

interface CifarLayout {
  family: 'cifar10' | 'cifar100';
  archiveFolder: string;
  files: Record<'train' | 'test', readonly string[]>;
  /** Bytes before the pixels; the used label is the last of them (CIFAR-100: coarse, then fine). */
  labelBytes: number;
  numClasses: number;
  namesFile: string;
}

const CIFAR10: CifarLayout = {
  family: 'cifar10',
  archiveFolder: 'cifar-10-batches-bin',
  files: {
    train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
    test: ['test_batch.bin'],
  },
  labelBytes: 1,
  numClasses: 10,
  namesFile: 'batches.meta.txt',
};

const CIFAR100: CifarLayout = {
  family: 'cifar100',
  archiveFolder: 'cifar-100-binary',
  files: { train: ['train.bin'], test: ['test.bin'] },
  labelBytes: 2,
  numClasses: 100,
  namesFile: 'fine_label_names.txt',
};

async function openCifar(layout: CifarLayout, dir: string, split: 'train' | 'test'): Promise<MemoryDataset> {
  const root = dataRoot(dir, layout.archiveFolder);
  const paths = layout.files[split].map((f) => join(root, f));
  const record = layout.labelBytes + PIXELS;
  // Checked before reading: no more than the 60,000 images of the whole dataset.
  const buffers = await Promise.all(
    paths.map((p) => readWholeFile(p, { what: 'a CIFAR batch', maxBytes: 60_000 * record })),
  );
  let total = 0;
  buffers.forEach((b, k) => {
    if (b.length === 0 || b.length % record !== 0) {
      throw new DataError(`${paths[k]}: ${b.length} bytes is not a whole number of ${record}-byte CIFAR records`);
    }
    total += b.length / record;
  });
  const pixels = new Uint8Array(total * PIXELS);
  const labels = new Int32Array(total);
  let n = 0;
  buffers.forEach((b, k) => {
    for (let off = 0; off < b.length; off += record, n++) {
      const label = b[off + layout.labelBytes - 1]!;
      if (label >= layout.numClasses) {
        throw new DataError(`${paths[k]}: label ${label} in record ${off / record} is not below ${layout.numClasses}`);
      }
      labels[n] = label;
      pixels.set(b.subarray(off + layout.labelBytes, off + record), n * PIXELS);
    }
  });
  const names = await readNameList(join(root, layout.namesFile));
  if (names && names.length !== layout.numClasses) {
    throw new DataError(`${join(root, layout.namesFile)}: ${names.length} class names, expected ${layout.numClasses}`);
  }
  return new MemoryDataset(
    {
      name: `${layout.family}/${split}`,
      channels: 3,
      height: 32,
      width: 32,
      numClasses: layout.numClasses,
      ...(names ? { classNames: names } : {}),
      labels,
    },
    pixels,
  );
}

/** CIFAR-10 binary batches in `dir/cifar-10-batches-bin/` or `dir` itself. */
export function openCifar10(dir: string, split: 'train' | 'test'): Promise<MemoryDataset> {
  return openCifar(CIFAR10, dir, split);
}

/** CIFAR-100 binary files in `dir/cifar-100-binary/` or `dir` itself; uses the fine (100-class) labels. */
export function openCifar100(dir: string, split: 'train' | 'test'): Promise<MemoryDataset> {
  return openCifar(CIFAR100, dir, split);
}
