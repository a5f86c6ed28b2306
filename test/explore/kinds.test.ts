// `simclr explore` over the array datasets besides IDX: CIFAR-10 (32 px colour) and STL-10 train+unlabeled (96 px
// colour, resized to the run's 32 px; labelled and unlabelled samples mixed). Thumbnails are the arrays' own
// pixels; unlabelled samples carry label -1 and stay out of the label agreement.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { prepareExplore } from '../../src/explore/session.js';
import { trainTinyRun } from './fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'simclr-explore-kinds-'));
const cifar = join(dir, 'cifar');
const stl = join(dir, 'stl');
const run = join(dir, 'run');

/** Deterministic colour pixels: image n, channel c, row y, column x. */
const value = (n: number, c: number, y: number, x: number): number => (n * 37 + c * 80 + y * 5 + x * 3) % 256;

/** CIFAR records: label byte, then CHW 32 x 32 pixels. */
function cifarBatch(first: number, count: number): Buffer {
  const out = Buffer.alloc(count * 3073);
  for (let i = 0; i < count; i++) {
    const n = first + i;
    out[i * 3073] = n % 10;
    for (let c = 0; c < 3; c++)
      for (let p = 0; p < 1024; p++) out[i * 3073 + 1 + c * 1024 + p] = value(n, c, p >> 5, p & 31);
  }
  return out;
}

/** STL-10 images: CHW 96 x 96, each channel stored column-major. */
function stlImages(first: number, count: number): Buffer {
  const out = Buffer.alloc(count * 27648);
  for (let i = 0; i < count; i++)
    for (let c = 0; c < 3; c++)
      for (let x = 0; x < 96; x++)
        for (let y = 0; y < 96; y++) out[i * 27648 + c * 9216 + x * 96 + y] = value(first + i, c, y, x);
  return out;
}

before(async () => {
  mkdirSync(cifar);
  for (let b = 1; b <= 5; b++) writeFileSync(join(cifar, `data_batch_${b}.bin`), cifarBatch((b - 1) * 8, 8));
  writeFileSync(join(cifar, 'test_batch.bin'), cifarBatch(100, 8));
  mkdirSync(stl);
  writeFileSync(join(stl, 'train_X.bin'), stlImages(0, 12));
  writeFileSync(
    join(stl, 'train_y.bin'),
    Uint8Array.from({ length: 12 }, (_, i) => 1 + (i % 3)),
  );
  writeFileSync(join(stl, 'test_X.bin'), stlImages(50, 2));
  writeFileSync(join(stl, 'test_y.bin'), Uint8Array.of(1, 2));
  writeFileSync(join(stl, 'unlabeled_X.bin'), stlImages(20, 10));
  await trainTinyRun(run, `cifar10:${cifar}`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The RGB pixels of a PNG, row-major interleaved, with its size. */
async function pngPixels(png: Buffer): Promise<{ width: number; height: number; channels: number; data: Buffer }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, data };
}

test('CIFAR-10: 40 samples, colour thumbnails from the arrays, labels and their agreement', async () => {
  const s = await prepareExplore({ run, data: `cifar10:${cifar}`, cache: false, onWarning: () => {} });
  try {
    assert.equal(s.info.count, 40);
    assert.deepEqual(s.info.input, { channels: 3, height: 32, width: 32, mean: [0, 0, 0], std: [1, 1, 1] });
    assert.deepEqual(
      Array.from(s.labels!),
      Array.from({ length: 40 }, (_, n) => n % 10),
    );
    assert.ok(s.info.labelAgreement !== null);
    const t = await pngPixels(await s.thumbnails.png(13));
    assert.deepEqual([t.width, t.height, t.channels], [32, 32, 3]);
    for (let p = 0; p < 1024; p++)
      for (let c = 0; c < 3; c++) assert.equal(t.data[p * 3 + c], value(13, c, p >> 5, p & 31), `pixel ${p}`);
    assert.equal(s.neighboursOf(13, 5).length, 5);
  } finally {
    s.close();
  }
});

test('STL-10 train+unlabeled: 96 px thumbnails, unlabelled samples -1 and left out of the agreement', async () => {
  const s = await prepareExplore({ run, data: `stl10:${stl}:train+unlabeled`, cache: false, onWarning: () => {} });
  try {
    assert.equal(s.info.count, 22);
    assert.equal(s.info.labelled, true);
    assert.deepEqual(Array.from(s.labels!), [
      ...Array.from({ length: 12 }, (_, i) => i % 3),
      ...new Array<number>(10).fill(-1),
    ]);
    const t = await pngPixels(await s.thumbnails.png(15));
    assert.deepEqual([t.width, t.height, t.channels], [96, 96, 3]);
    for (const [y, x] of [
      [0, 0],
      [5, 90],
      [95, 17],
    ])
      for (let c = 0; c < 3; c++) assert.equal(t.data[(y! * 96 + x!) * 3 + c], value(20 + 3, c, y!, x!));
    const agreement = s.info.labelAgreement!;
    assert.ok(agreement.embeddingTop1 >= 0 && agreement.embeddingTop1 <= 1);
    // 12 labelled samples: every accuracy is a multiple of 1/12.
    assert.ok(Math.abs(agreement.embeddingTop1 * 12 - Math.round(agreement.embeddingTop1 * 12)) < 1e-9);
    assert.ok(s.neighboursOf(0, 21).some((n) => n.label === -1));
  } finally {
    s.close();
  }
});
