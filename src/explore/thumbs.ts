// PNG thumbnails for `simclr explore`: from the dataset's own pixels (IDX, CIFAR, STL-10: they are small already)
// or, for folder: data, from the original file, fit within THUMB_SIZE. Kept in memory up to a byte budget, least
// recently used first out.
import { closeSync, readFileSync } from 'node:fs';
import sharp from 'sharp';
import type { ImageDataset } from '../data/dataset.js';
import type { DatasetFiles } from './files.js';

/** Side of the box a folder image's thumbnail fits in, in pixels. */
export const THUMB_SIZE = 128;
/** Memory the thumbnail cache may hold by default. */
export const THUMB_CACHE_BYTES = 64 << 20;
/** Largest original read to make a thumbnail; a larger file gets one from the dataset's decoded pixels. */
const MAX_SOURCE_BYTES = 64 << 20;

/** A PNG of one sample's dataset pixels (uint8 CHW, 1 or 3 channels) at their own size. */
export async function pixelsToPng(chw: Uint8Array, channels: number, height: number, width: number): Promise<Buffer> {
  const plane = height * width;
  const hwc = new Uint8Array(chw.length);
  for (let p = 0; p < plane; p++) for (let c = 0; c < channels; c++) hwc[p * channels + c] = chw[c * plane + p]!;
  const image = sharp(hwc, { raw: { width, height, channels: channels as 1 | 3 } });
  // One channel stays one: a gray PNG, not the RGB one sharp writes by default.
  return (channels === 1 ? image.toColourspace('b-w') : image).png().toBuffer();
}

export class Thumbnails {
  private readonly cache = new Map<number, Buffer>();
  private bytes = 0;

  constructor(
    private readonly ds: ImageDataset,
    private readonly files: DatasetFiles | null = null,
    private readonly maxBytes = THUMB_CACHE_BYTES,
  ) {}

  /** The PNG of sample i (0 <= i < the dataset's length; checked by the caller). */
  async png(i: number): Promise<Buffer> {
    const hit = this.cache.get(i);
    if (hit) {
      // Most recently used goes last.
      this.cache.delete(i);
      this.cache.set(i, hit);
      return hit;
    }
    const png = (await this.fromFile(i)) ?? (await this.fromPixels(i));
    // Another request for i may have filled the entry while this one was encoding: its bytes are counted once.
    const raced = this.cache.get(i);
    if (raced) {
      this.cache.delete(i);
      this.bytes -= raced.length;
    }
    this.cache.set(i, png);
    this.bytes += png.length;
    for (const [key, old] of this.cache) {
      if (this.bytes <= this.maxBytes || key === i) break;
      this.cache.delete(key);
      this.bytes -= old.length;
    }
    return png;
  }

  private async fromPixels(i: number): Promise<Buffer> {
    const { channels, height, width } = this.ds;
    const chw = new Uint8Array(channels * height * width);
    this.ds.readBatch([i], chw);
    return pixelsToPng(chw, channels, height, width);
  }

  /** The original file fit within THUMB_SIZE, or null when it is not servable (see DatasetFiles.open) or decodable. */
  private async fromFile(i: number): Promise<Buffer | null> {
    if (!this.files) return null;
    const opened = this.files.open(i);
    if ('status' in opened) return null;
    let bytes: Buffer;
    try {
      if (opened.size > MAX_SOURCE_BYTES) return null;
      bytes = readFileSync(opened.fd);
    } finally {
      closeSync(opened.fd);
    }
    try {
      return await sharp(bytes, { failOn: 'error' })
        .rotate()
        .resize(THUMB_SIZE, THUMB_SIZE, { fit: 'inside', withoutEnlargement: true })
        .png()
        .toBuffer();
    } catch {
      return null;
    }
  }
}
