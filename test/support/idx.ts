// A small labelled dataset in the mnist:DIR layout (IDX files, 28x28 grey, 4 classes) for tests that need labels or
// a GPU machine without Fashion-MNIST: class c is bright in horizontal band c, with per-image texture.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function writeBandedIdx(dir: string, split: 'train' | 't10k', n: number): void {
  const images = Buffer.alloc(16 + n * 784);
  images.writeUInt32BE(0x803, 0);
  images.writeUInt32BE(n, 4);
  images.writeUInt32BE(28, 8);
  images.writeUInt32BE(28, 12);
  const labels = Buffer.alloc(8 + n);
  labels.writeUInt32BE(0x801, 0);
  labels.writeUInt32BE(n, 4);
  for (let i = 0; i < n; i++) {
    const c = i % 4;
    labels[8 + i] = c;
    for (let y = 0; y < 28; y++)
      for (let x = 0; x < 28; x++)
        images[16 + i * 784 + y * 28 + x] =
          Math.floor(y / 7) === c ? 200 + ((x * 7 + i) % 50) : (x * 13 + y * 5 + i) % 40;
  }
  writeFileSync(join(dir, `${split}-images-idx3-ubyte`), images);
  writeFileSync(join(dir, `${split}-labels-idx1-ubyte`), labels);
}
