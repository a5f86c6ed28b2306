import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { DataError } from '../../src/data/dataset.js';
import { openImageFolder } from '../../src/data/folder.js';
import { openDataset } from '../../src/data/spec.js';
import { scratchDir } from './tmp.js';

const SIZE = 8;
const PLANE = SIZE * SIZE;

async function solid(path: string, w: number, h: number, rgb: [number, number, number]): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).toFile(path);
}

/** 30x10 PNG: red, green, blue vertical thirds; a centre crop after the shorter-side resize is pure green. */
async function stripes(path: string): Promise<void> {
  const raw = Buffer.alloc(30 * 10 * 3);
  for (let y = 0; y < 10; y++) for (let x = 0; x < 30; x++) raw[(y * 30 + x) * 3 + Math.floor(x / 10)] = 255;
  await sharp(raw, { raw: { width: 30, height: 10, channels: 3 } }).png().toFile(path);
}

async function grayPng(path: string, value: number): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await sharp(Buffer.alloc(144, value), { raw: { width: 12, height: 12, channels: 1 } }).toColourspace('b-w').png().toFile(path);
}

/** cats/{red.png, solid.jpg, stripes.png}, dogs/{broken.png (corrupt), gray.png, nested/deep.webp}, loose.png. */
async function makeLabelledFolder(root: string): Promise<void> {
  await solid(join(root, 'cats', 'red.png'), 40, 20, [255, 0, 0]);
  await solid(join(root, 'cats', 'solid.jpg'), 16, 16, [0, 0, 255]);
  await stripes(join(root, 'cats', 'stripes.png'));
  await grayPng(join(root, 'dogs', 'gray.png'), 128);
  await solid(join(root, 'dogs', 'nested', 'deep.webp'), 10, 10, [255, 255, 255]);
  writeFileSync(join(root, 'dogs', 'broken.png'), 'this is not an image');
  await solid(join(root, 'loose.png'), 4, 4, [0, 0, 0]);
}

const near = (a: number, b: number, tol = 3): boolean => Math.abs(a - b) <= tol;

test('labelled image folder: decode, resize/crop, skip corrupt, then reuse the cache', async () => {
  const tmp = scratchDir('folder');
  const root = join(tmp, 'pets');
  const cacheDir = join(tmp, 'cache');
  await makeLabelledFolder(root);
  const warnings: string[] = [];
  const ds = await openImageFolder(root, { imageSize: SIZE, cacheDir, onWarning: (m) => warnings.push(m) });
  assert.equal(ds.fromCache, false);
  assert.deepEqual([ds.length, ds.channels, ds.height, ds.width, ds.numClasses], [5, 3, SIZE, SIZE, 2]);
  assert.deepEqual(ds.classNames, ['cats', 'dogs']);
  assert.deepEqual([...ds.labels!], [0, 0, 0, 1, 1]);
  assert.deepEqual(ds.paths, ['cats/red.png', 'cats/solid.jpg', 'cats/stripes.png', 'dogs/gray.png', 'dogs/nested/deep.webp'].map((p) => join(root, p)));
  assert.equal(ds.skipped.length, 1);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /^ignored 1 image directly in .*pets/);
  assert.match(warnings[1]!, new RegExp(`^skipped 1 unreadable image \\(first: ${join(root, 'dogs', 'broken.png')}: .+\\)$`));

  const out = new Uint8Array(5 * 3 * PLANE);
  ds.readBatch([0, 1, 2, 3, 4], out);
  const px = (n: number, c: number, y: number, x: number): number => out[n * 3 * PLANE + c * PLANE + y * SIZE + x]!;
  assert.deepEqual([px(0, 0, 3, 3), px(0, 1, 3, 3), px(0, 2, 3, 3)], [255, 0, 0]);
  assert.ok(near(px(1, 0, 0, 7), 0, 8) && near(px(1, 2, 0, 7), 255, 8), 'JPEG stays blue');
  assert.deepEqual([px(2, 0, 4, 4), px(2, 1, 4, 4), px(2, 2, 4, 4)], [0, 255, 0]);
  assert.ok([0, 1, 2].every((c) => near(px(3, c, 5, 5), 128, 1)), 'grey PNG becomes 3 equal channels');
  assert.ok([0, 1, 2].every((c) => px(4, c, 0, 0) === 255));
  ds.close();

  // Same files: nothing decoded. Overwrite the cache bytes to prove samples come from it.
  const cacheFile = ds.cachePath;
  writeFileSync(cacheFile, new Uint8Array(statSync(cacheFile).size).fill(77));
  const again = await openImageFolder(root, { imageSize: SIZE, cacheDir, onWarning: () => {} });
  assert.equal(again.fromCache, true);
  assert.deepEqual([...again.labels!], [0, 0, 0, 1, 1]);
  assert.equal(again.skipped.length, 1);
  const cached = new Uint8Array(3 * PLANE);
  again.readBatch([3], cached);
  assert.ok(cached.every((v) => v === 77));
  again.close();
  // Strict also fails on a reused cache that recorded a skipped file.
  await assert.rejects(openImageFolder(root, { imageSize: SIZE, cacheDir, strict: true, onWarning: () => {} }), (e: unknown) =>
    e instanceof DataError && e.message.includes(join(root, 'dogs', 'broken.png')));

  // A touched file invalidates the cache.
  utimesSync(join(root, 'cats', 'red.png'), new Date(), new Date(Date.now() + 5000));
  const rebuilt = await openImageFolder(root, { imageSize: SIZE, cacheDir, onWarning: () => {} });
  assert.equal(rebuilt.fromCache, false);
  rebuilt.readBatch([3], cached);
  assert.ok(near(cached[0]!, 128, 1));
  rebuilt.close();
  assert.deepEqual(readdirSync(cacheDir).filter((f) => f.endsWith('.tmp')), []);

  // A different size or channel count is a different cache.
  const gray = await openImageFolder(root, { imageSize: 4, grayscale: true, cacheDir, onWarning: () => {} });
  assert.deepEqual([gray.fromCache, gray.channels, gray.height, gray.length], [false, 1, 4, 5]);
  const g = new Uint8Array(16);
  gray.readBatch([3], g);
  assert.ok(g.every((v) => near(v, 128, 1)));
  gray.close();
});

test('strict mode throws a DataError naming the unreadable file', async () => {
  const tmp = scratchDir('strict');
  const root = join(tmp, 'imgs');
  await makeLabelledFolder(root);
  await assert.rejects(openImageFolder(root, { imageSize: SIZE, cacheDir: join(tmp, 'c'), strict: true, onWarning: () => {} }), (e: unknown) =>
    e instanceof DataError && e.message.startsWith(`unreadable image ${join(root, 'dogs', 'broken.png')}: `));
  assert.deepEqual(readdirSync(join(tmp, 'c')), [], 'no partial cache left behind');
});

test('flat folder is unlabelled; empty folder is a DataError', async () => {
  const tmp = scratchDir('flat');
  await solid(join(tmp, 'flat', 'a.png'), 9, 9, [10, 20, 30]);
  await solid(join(tmp, 'flat', 'b.JPG'), 9, 9, [200, 200, 200]);
  writeFileSync(join(tmp, 'flat', 'notes.txt'), 'ignored');
  const ds = await openImageFolder(join(tmp, 'flat'), { imageSize: SIZE, cacheDir: join(tmp, 'c') });
  assert.deepEqual([ds.length, ds.numClasses, ds.labels, ds.classNames], [2, 0, null, undefined]);
  const out = new Uint8Array(3 * PLANE);
  ds.readBatch([0], out);
  assert.deepEqual([out[0], out[PLANE], out[2 * PLANE]], [10, 20, 30]);
  ds.close();
  mkdirSync(join(tmp, 'empty'));
  await assert.rejects(openImageFolder(join(tmp, 'empty'), { imageSize: SIZE, cacheDir: join(tmp, 'c') }), (e: unknown) =>
    e instanceof DataError && /no images .* found in .*empty/.test(e.message));
});

test('folder specs: train/ and val/ sub-folders, test split inside the train root, default cache dir', async () => {
  const tmp = scratchDir('spec');
  const a = join(tmp, 'a');
  for (const split of ['train', 'val']) {
    await solid(join(a, split, 'x', '1.png'), 8, 8, [1, 1, 1]);
    await solid(join(a, split, 'y', '2.png'), 8, 8, [2, 2, 2]);
    await solid(join(a, split, 'y', '3.png'), 8, 8, [3, 3, 3]);
  }
  // A class only the training split has must not shift the test labels.
  await solid(join(a, 'train', 'w', '0.png'), 8, 8, [0, 0, 0]);
  const tr = await openDataset(`folder:${a}`, { split: 'train', imageSize: SIZE });
  const te = await openDataset(`folder:${a}`, { split: 'test', imageSize: SIZE });
  assert.deepEqual([tr.name, tr.length, te.name, te.length], ['a/train', 4, 'a/test', 3]);
  assert.deepEqual(te.classNames, ['w', 'x', 'y']);
  assert.deepEqual([...te.labels!], [1, 2, 2]);
  assert.deepEqual(te.paths![0], join(a, 'val', 'x', '1.png'));
  assert.ok(existsSync(join(a, '.simclr-cache')), 'cache defaults to DIR/.simclr-cache');
  tr.close();
  te.close();
  await solid(join(a, 'val', 'v', '1.png'), 8, 8, [0, 0, 0]);
  await assert.rejects(openDataset(`folder:${a}`, { split: 'test', imageSize: SIZE }), /class folder .*val\/v is not one of the training classes \(w, x, y\)/);

  // No train/: DIR itself is the train root, minus its test/ folder.
  const b = join(tmp, 'b');
  await solid(join(b, 'p', '1.png'), 8, 8, [5, 5, 5]);
  await solid(join(b, 'q', '1.png'), 8, 8, [6, 6, 6]);
  await solid(join(b, 'test', 'p', '1.png'), 8, 8, [7, 7, 7]);
  const btr = await openDataset(`folder:${b}`, { split: 'train+unlabeled', imageSize: SIZE, cacheDir: join(tmp, 'c') });
  assert.deepEqual(btr.classNames, ['p', 'q']);
  btr.close();
  await assert.rejects(openDataset(`folder:${b}`, { split: 'unlabeled' }), /data spec 'folder:.*': folder has no unlabeled split/);
  await assert.rejects(openDataset(`folder:${join(b, 'p')}`, { split: 'test' }), (e: unknown) =>
    e instanceof DataError && e.message.includes(`neither ${join(b, 'p', 'test')} nor`));
});
