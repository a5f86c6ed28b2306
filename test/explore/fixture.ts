// Test data for `simclr explore`: a tiny trained run, a small IDX set and a small image folder, each with a planted
// exact duplicate and a planted odd image, and (folder) a link that leads out of the folder.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { resolveConfig } from '../../src/run/config.js';
import { pretrain } from '../../src/train/pretrain.js';

/** Samples of the IDX set; DUPLICATE copies ORIGINAL's pixels; ODD is a checkerboard among banded images. */
export const IDX_COUNT = 120;
export const ORIGINAL = 7;
export const DUPLICATE = 93;
export const ODD = 50;

/** A seeded generator of uniform numbers in [0, 1) (mulberry32), so the fixtures are the same every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One 28x28 gray image: class c bright in horizontal band c with noise, or the odd checkerboard. */
function bandImage(c: number, random: () => number, odd = false): Uint8Array {
  const img = new Uint8Array(28 * 28);
  for (let y = 0; y < 28; y++)
    for (let x = 0; x < 28; x++) {
      const noise = Math.floor(random() * 60);
      img[y * 28 + x] = odd
        ? ((x >> 1) + (y >> 1)) % 2 === 0
          ? 255
          : 0
        : Math.floor(y / 7) === c
          ? 180 + noise
          : noise;
    }
  return img;
}

/** The IDX set's pixels (IDX_COUNT x 784) and labels (i % 4), as writeExploreIdx writes them. */
export function exploreIdxData(): { pixels: Uint8Array; labels: Uint8Array } {
  const random = rng(11);
  const pixels = new Uint8Array(IDX_COUNT * 784);
  const labels = new Uint8Array(IDX_COUNT);
  for (let i = 0; i < IDX_COUNT; i++) {
    labels[i] = i % 4;
    pixels.set(bandImage(i % 4, random, i === ODD), i * 784);
  }
  pixels.copyWithin(DUPLICATE * 784, ORIGINAL * 784, (ORIGINAL + 1) * 784);
  return { pixels, labels };
}

/** Writes the IDX set in the mnist:DIR layout (train split; t10k gets the same images). */
export function writeExploreIdx(dir: string): void {
  const { pixels, labels } = exploreIdxData();
  for (const split of ['train', 't10k']) {
    const images = Buffer.alloc(16 + pixels.length);
    images.writeUInt32BE(0x803, 0);
    images.writeUInt32BE(IDX_COUNT, 4);
    images.writeUInt32BE(28, 8);
    images.writeUInt32BE(28, 12);
    images.set(pixels, 16);
    const l = Buffer.alloc(8 + IDX_COUNT);
    l.writeUInt32BE(0x801, 0);
    l.writeUInt32BE(IDX_COUNT, 4);
    l.set(labels, 8);
    writeFileSync(join(dir, `${split}-images-idx3-ubyte`), images);
    writeFileSync(join(dir, `${split}-labels-idx1-ubyte`), l);
  }
}

/**
 * An image folder in `dir`: classes a/ and b/ of 12 RGB PNGs (32 x 32) each; b/dup.png is a byte copy of a/img3.png;
 * b/odd.png a checkerboard; a/zlink.png a link to ../../outside/secret.png, a PNG outside the folder (in a sibling
 * folder of `dir` named outside/). Returns the outside file's path.
 */
export async function writeExploreFolder(dir: string): Promise<string> {
  const random = rng(5);
  const png = (c: number, odd = false): Promise<Buffer> => {
    const gray = bandImage(c, random, odd);
    const rgb = new Uint8Array(28 * 28 * 3);
    for (let p = 0; p < 28 * 28; p++) rgb.fill(gray[p]!, p * 3, p * 3 + 3);
    return sharp(rgb, { raw: { width: 28, height: 28, channels: 3 } })
      .resize(32, 32)
      .png()
      .toBuffer();
  };
  for (const [cls, c] of [
    ['a', 0],
    ['b', 2],
  ] as const) {
    mkdirSync(join(dir, cls), { recursive: true });
    for (let i = 0; i < 12; i++) writeFileSync(join(dir, cls, `img${i}.png`), await png(c));
  }
  writeFileSync(join(dir, 'b', 'dup.png'), await sharp(join(dir, 'a', 'img3.png')).toBuffer());
  writeFileSync(join(dir, 'b', 'odd.png'), await png(1, true));
  const outside = join(dir, '..', 'outside');
  mkdirSync(outside, { recursive: true });
  const secret = join(outside, 'secret.png');
  writeFileSync(secret, await png(3));
  symlinkSync(join('..', '..', 'outside', 'secret.png'), join(dir, 'a', 'zlink.png'));
  return secret;
}

/** Pretrains a tiny ResNet-18 (width 1/16, 28 px gray) for 4 steps of 16 images on `data`, into `out`. */
export async function trainTinyRun(out: string, data: string): Promise<void> {
  await pretrain(
    resolveConfig({
      data,
      out,
      arch: 'resnet18',
      width: 0.0625,
      // The paper's MLP head, as when the expected duplicates and outliers were recorded (a 1-epoch run would get
      // the auto preset's linear head).
      projLayers: 2,
      projDim: 16,
      batchSize: 16,
      maxSteps: 4,
      epochs: 1,
      logSteps: 2,
      threads: 2,
      seed: 1,
    }),
    { onWarning: () => {} },
  );
}
