// Benchmark data: Fashion-MNIST as installed by Debian, and generated colour images written in the CIFAR-10 and
// STL-10 binary formats, so both simclr (through its data specs) and the Python reference read the same files.
// Generated images are smooth colour fields with a few shapes: augmentation and model cost do not depend on
// content, and real structure keeps crops, jitter and blur doing real work.
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_FASHION_MNIST_DIR } from '../src/data/spec.js';

/** How the Python reference finds the same pixels. */
export interface PythonData {
  kind: 'cifar10' | 'idx' | 'stl10';
  paths: string[];
}

export interface BenchData {
  /** simclr data spec. */
  spec: string;
  python: PythonData;
}

/** mulberry32: a small seeded generator, so the files are the same on every machine. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One CHW uint8 image: a two-colour gradient, a disc and a bar in other colours, a little noise. */
function drawImage(side: number, random: () => number, out: Uint8Array, offset: number): void {
  const colour = (): number[] => [random() * 255, random() * 255, random() * 255];
  const [a, b, disc, bar] = [colour(), colour(), colour(), colour()];
  const angle = random() * Math.PI * 2;
  const [dx, dy] = [Math.cos(angle), Math.sin(angle)];
  const [cx, cy, r] = [random() * side, random() * side, side * (0.15 + 0.25 * random())];
  const [b0, b1] = [random() * side, random() * side * 0.3];
  const plane = side * side;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const t = Math.min(1, Math.max(0, 0.5 + ((x - side / 2) * dx + (y - side / 2) * dy) / side));
      const inDisc = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
      const inBar = Math.abs(x + y * 0.5 - b0) < b1;
      for (let c = 0; c < 3; c++) {
        const base = inDisc ? disc[c]! : inBar ? bar[c]! : a[c]! * (1 - t) + b[c]! * t;
        out[offset + c * plane + y * side + x] = Math.max(0, Math.min(255, Math.round(base + (random() - 0.5) * 24)));
      }
    }
  }
}

function upToDate(path: string, bytes: number): boolean {
  return existsSync(path) && statSync(path).size === bytes;
}

/** CIFAR-10 binary batches (label byte + 3x32x32 CHW): five files of `perFile` images. */
function cifarLike(dir: string, perFile: number): BenchData {
  mkdirSync(dir, { recursive: true });
  const record = 1 + 3 * 32 * 32;
  const paths: string[] = [];
  for (let f = 0; f < 5; f++) {
    const path = join(dir, `data_batch_${f + 1}.bin`);
    paths.push(path);
    if (upToDate(path, perFile * record)) continue;
    const random = rng(1000 + f);
    const buf = new Uint8Array(perFile * record);
    const img = new Uint8Array(3 * 32 * 32);
    for (let i = 0; i < perFile; i++) {
      buf[i * record] = i % 10;
      drawImage(32, random, img, 0);
      buf.set(img, i * record + 1);
    }
    writeFileSync(path, buf);
  }
  return { spec: `cifar10:${dir}`, python: { kind: 'cifar10', paths } };
}

/** STL-10's unlabeled_X.bin: 3x96x96 images, each channel stored column by column. */
function stlLike(dir: string, count: number): BenchData {
  mkdirSync(dir, { recursive: true });
  const side = 96;
  const bytes = 3 * side * side;
  const path = join(dir, 'unlabeled_X.bin');
  if (!upToDate(path, count * bytes)) {
    const random = rng(2000);
    const buf = new Uint8Array(count * bytes);
    const img = new Uint8Array(bytes);
    for (let i = 0; i < count; i++) {
      drawImage(side, random, img, 0);
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < side; y++) {
          for (let x = 0; x < side; x++)
            buf[i * bytes + c * side * side + x * side + y] = img[c * side * side + y * side + x]!;
        }
      }
    }
    writeFileSync(path, buf);
  }
  return { spec: `stl10:${dir}:unlabeled`, python: { kind: 'stl10', paths: [path] } };
}

export type DataName = 'cifar-like' | 'fashion-mnist' | 'stl-like';

/** Makes (once; cached under `cacheDir`) and describes the data of one benchmark case. */
export function benchData(name: DataName, cacheDir: string): BenchData {
  switch (name) {
    case 'cifar-like':
      return cifarLike(join(cacheDir, 'cifar-like'), 512);
    case 'stl-like':
      return stlLike(join(cacheDir, 'stl-like'), 1024);
    case 'fashion-mnist': {
      const path = join(DEFAULT_FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz');
      if (!existsSync(path))
        throw new Error(`${path} is missing: install Debian's dataset-fashion-mnist (npm run provision does)`);
      return { spec: 'fashion-mnist', python: { kind: 'idx', paths: [path] } };
    }
  }
}
