// MNIST-family IDX files (MNIST, Fashion-MNIST), raw or gzipped. Both sets are
// small (about 55 MB decoded), so they are loaded whole.

import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { DataError, MemoryDataset } from './dataset.js';
import { isFile, readWholeFile, requireDirectory } from './files.js';

const gunzipAsync = promisify(gunzip);
const MAX_IDX_BYTES = 1 << 30;

/** Magic numbers: two zero bytes, type code 0x08 (unsigned byte), number of dimensions. */
const IMAGES_MAGIC = 0x00000803;
const LABELS_MAGIC = 0x00000801;

export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];
export const MNIST_CLASSES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

export interface IdxArray {
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

/** Parses an unsigned-byte IDX file, checking the magic number and that the payload size matches the header. */
export function parseIdx(buf: Uint8Array, expectedMagic: number, path: string): IdxArray {
  if (buf.length < 4) throw new DataError(`${path}: too short to be an IDX file (${buf.length} bytes)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== expectedMagic) {
    throw new DataError(
      `${path}: bad IDX magic number 0x${magic.toString(16).padStart(8, '0')}, expected ` +
        `0x${expectedMagic.toString(16).padStart(8, '0')}`,
    );
  }
  const ndims = magic & 0xff;
  const headerBytes = 4 + 4 * ndims;
  if (buf.length < headerBytes) throw new DataError(`${path}: IDX header truncated`);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  if (buf.length - headerBytes !== count) {
    throw new DataError(
      `${path}: IDX payload is ${buf.length - headerBytes} bytes, header [${dims.join(', ')}] says ${count}`,
    );
  }
  return { dims, data: buf.subarray(headerBytes) };
}

/** Finds `<stem>-idx3-ubyte` (or the `.idx3-ubyte` spelling some mirrors use), gzipped or not. */
function locate(dir: string, kind: 'images' | 'labels', prefix: 'train' | 't10k'): string {
  const suffix = kind === 'images' ? 'idx3-ubyte' : 'idx1-ubyte';
  const names = [`${prefix}-${kind}-${suffix}`, `${prefix}-${kind}.${suffix}`];
  for (const n of names) {
    for (const candidate of [join(dir, `${n}.gz`), join(dir, n)]) {
      if (isFile(candidate)) return candidate;
    }
  }
  throw new DataError(`missing file: ${join(dir, names[0]!)}[.gz]`);
}

async function load(path: string, magic: number): Promise<IdxArray> {
  // MNIST-family files decode to about 47 MB; 1 GiB bounds the read and the decompression alike.
  let buf: Uint8Array = await readWholeFile(path, { what: 'an IDX file', minBytes: 4, maxBytes: MAX_IDX_BYTES });
  // Detect gzip by content, not by name, so a renamed file still works.
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = await gunzipAsync(buf, { maxOutputLength: MAX_IDX_BYTES });
    } catch (e) {
      throw new DataError(`${path}: corrupt gzip data (${(e as Error).message})`);
    }
  }
  return parseIdx(buf, magic, path);
}

export interface IdxOptions {
  /** Dataset family name used in `name`, e.g. 'fashion-mnist'. */
  family: string;
  split: 'train' | 'test';
  classNames: readonly string[];
}

/** Opens `train-*` or `t10k-*` IDX image/label files in `dir`. */
export async function openIdx(dir: string, opts: IdxOptions): Promise<MemoryDataset> {
  requireDirectory(dir);
  const prefix = opts.split === 'train' ? 'train' : 't10k';
  const imagesPath = locate(dir, 'images', prefix);
  const labelsPath = locate(dir, 'labels', prefix);
  const [images, labels] = await Promise.all([load(imagesPath, IMAGES_MAGIC), load(labelsPath, LABELS_MAGIC)]);
  const [n, height, width] = images.dims as [number, number, number];
  if (labels.dims[0] !== n) {
    throw new DataError(`${labelsPath}: ${labels.dims[0]} labels but ${imagesPath} has ${n} images`);
  }
  const numClasses = opts.classNames.length;
  const lab = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = labels.data[i]!;
    if (v >= numClasses) throw new DataError(`${labelsPath}: label ${v} at index ${i} is not below ${numClasses}`);
    lab[i] = v;
  }
  return new MemoryDataset(
    {
      name: `${opts.family}/${opts.split}`,
      channels: 1,
      height,
      width,
      numClasses,
      classNames: opts.classNames,
      labels: lab,
    },
    images.data,
  );
}
