// STL-10 binary files. unlabeled_X.bin alone is 2.7 GB, more than a Node
// Buffer holds, so image files are read lazily with positional reads; only
// the label files are loaded.

import { join } from 'node:path';
import { closeSync } from 'node:fs';
import { ConcatDataset, DataError, FileDataset, type ImageDataset } from './dataset.js';
import { dataRoot, openForReading, readNameList, readWholeFile } from './files.js';

const SIDE = 96;
const PLANE = SIDE * SIDE;
const IMAGE_BYTES = 3 * PLANE;
const NUM_CLASSES = 10;

export type Stl10Split = 'train' | 'test' | 'unlabeled' | 'train+unlabeled';
export const STL10_SPLITS: readonly Stl10Split[] = ['train', 'test', 'unlabeled', 'train+unlabeled'];

const littleEndian = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * STL-10 stores each channel column-major (MATLAB order); samples are served row-major. The transpose runs on 4x4
 * pixel blocks held in 32-bit words (two rounds of mask-and-shift swaps): a quarter of the memory accesses of a
 * byte loop, which made it the largest cost of reading a batch.
 */
export function transposeStlImage(record: Uint8Array, out: Uint8Array): void {
  if (!littleEndian || record.byteOffset % 4 !== 0 || out.byteOffset % 4 !== 0) {
    transposeBytes(record, out);
    return;
  }
  const src = new Uint32Array(record.buffer, record.byteOffset, IMAGE_BYTES / 4);
  const dst = new Uint32Array(out.buffer, out.byteOffset, IMAGE_BYTES / 4);
  const rowWords = SIDE / 4;
  for (let c = 0; c < 3; c++) {
    const base = (c * PLANE) / 4;
    for (let x = 0; x < SIDE; x += 4) {
      for (let y = 0; y < SIDE; y += 4) {
        // Word k holds rows y..y+3 of column x+k (byte j = row y+j).
        const at = base + (x * SIDE + y) / 4;
        const w0 = src[at]!,
          w1 = src[at + rowWords]!,
          w2 = src[at + 2 * rowWords]!,
          w3 = src[at + 3 * rowWords]!;
        const t0 = (w0 & 0x00ff00ff) | ((w1 & 0x00ff00ff) << 8);
        const t1 = ((w0 >>> 8) & 0x00ff00ff) | (w1 & 0xff00ff00);
        const t2 = (w2 & 0x00ff00ff) | ((w3 & 0x00ff00ff) << 8);
        const t3 = ((w2 >>> 8) & 0x00ff00ff) | (w3 & 0xff00ff00);
        // Word j of the output holds columns x..x+3 of row y+j.
        const to = base + (y * SIDE + x) / 4;
        dst[to] = (t0 & 0xffff) | (t2 << 16);
        dst[to + rowWords] = (t1 & 0xffff) | (t3 << 16);
        dst[to + 2 * rowWords] = (t0 >>> 16) | (t2 & 0xffff0000);
        dst[to + 3 * rowWords] = (t1 >>> 16) | (t3 & 0xffff0000);
      }
    }
  }
}

function transposeBytes(record: Uint8Array, out: Uint8Array): void {
  for (let c = 0; c < 3; c++) {
    const base = c * PLANE;
    for (let x = 0; x < SIDE; x++) {
      const col = base + x * SIDE;
      for (let y = 0; y < SIDE; y++) out[base + y * SIDE + x] = record[col + y]!;
    }
  }
}

async function openPart(
  root: string,
  part: 'train' | 'test' | 'unlabeled',
  classNames: readonly string[] | undefined,
): Promise<FileDataset> {
  const imagesPath = join(root, `${part}_X.bin`);
  let labels: Int32Array | null = null;
  if (part !== 'unlabeled') {
    const labelsPath = join(root, `${part}_y.bin`);
    // One byte per image; STL-10's largest labelled part has 8,000.
    const raw = await readWholeFile(labelsPath, { what: 'an STL-10 label file', minBytes: 1, maxBytes: 1 << 24 });
    labels = new Int32Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const v = raw[i]!;
      if (v < 1 || v > NUM_CLASSES)
        throw new DataError(`${labelsPath}: label ${v} at index ${i} is outside 1..${NUM_CLASSES}`);
      labels[i] = v - 1;
    }
  }
  const { fd, size } = openForReading(imagesPath, { what: 'an STL-10 image file' });
  try {
    if (size % IMAGE_BYTES !== 0) {
      throw new DataError(`${imagesPath}: ${size} bytes is not a whole number of ${IMAGE_BYTES}-byte 96x96x3 images`);
    }
    const length = size / IMAGE_BYTES;
    if (labels && labels.length !== length) {
      throw new DataError(
        `${join(root, `${part}_y.bin`)}: ${labels.length} labels but ${imagesPath} has ${length} images`,
      );
    }
    return new FileDataset(
      {
        name: `stl10/${part}`,
        channels: 3,
        height: SIDE,
        width: SIDE,
        numClasses: labels ? NUM_CLASSES : 0,
        ...(labels && classNames ? { classNames } : {}),
        labels,
      },
      { fd, path: imagesPath, offset: 0, length },
      transposeStlImage,
    );
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/**
 * Opens STL-10 from `dir/stl10_binary/` or `dir`. 'train+unlabeled' appends
 * the 100k unlabelled images (label -1) to the 5k labelled training images.
 */
export async function openStl10(dir: string, split: Stl10Split): Promise<ImageDataset> {
  const root = dataRoot(dir, 'stl10_binary');
  const names = await readNameList(join(root, 'class_names.txt'));
  if (names && names.length !== NUM_CLASSES) {
    throw new DataError(`${join(root, 'class_names.txt')}: ${names.length} class names, expected ${NUM_CLASSES}`);
  }
  if (split !== 'train+unlabeled') return openPart(root, split, names);
  const train = await openPart(root, 'train', names);
  try {
    return new ConcatDataset('stl10/train+unlabeled', [train, await openPart(root, 'unlabeled', names)]);
  } catch (e) {
    train.close();
    throw e;
  }
}
