// A colour dataset that can be generated anywhere (tests, the colour studies' docs): ten shape and texture classes,
// each image drawn in two random colours (shape and background), a little off centre and at a random size, written
// in the CIFAR-10 binary layout so `cifar10:DIR` reads it. The colours say nothing about the class but nearly
// identify the image, so two crops of one image share their colour histogram: the shortcut the SimCLR paper's colour
// distortion takes away (section 3, Figure 6). Grayscale data (Fashion-MNIST) cannot show that finding.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CounterRng } from '../augment/rng.js';

export const COLOUR_SHAPES_CLASSES = [
  'disc',
  'square',
  'triangle',
  'cross',
  'ring',
  'hstripes',
  'vstripes',
  'diagonal',
  'checker',
  'dots',
] as const;

const SIDE = 32;
const PIXELS = SIDE * SIDE;

/** Whether (u, v), in the shape's own frame (centre 0, half-size 1), is inside class k's shape. */
function inside(k: number, u: number, v: number, phase: number): boolean {
  const dot = (x: number, y: number): boolean => Math.hypot(u - x, v - y) <= 0.3;
  const r = Math.hypot(u, v);
  switch (COLOUR_SHAPES_CLASSES[k]) {
    case 'disc':
      return r <= 1;
    case 'square':
      return Math.abs(u) <= 0.85 && Math.abs(v) <= 0.85;
    case 'triangle':
      return v <= 0.9 && v >= -0.9 && Math.abs(u) <= (v + 0.9) * 0.6;
    case 'cross':
      return (Math.abs(u) <= 0.3 && Math.abs(v) <= 1) || (Math.abs(v) <= 0.3 && Math.abs(u) <= 1);
    case 'ring':
      return r <= 1 && r >= 0.55;
    case 'hstripes':
      return Math.abs(u) <= 1 && Math.abs(v) <= 1 && Math.floor((v + 1) * 2.5 + phase) % 2 === 0;
    case 'vstripes':
      return Math.abs(u) <= 1 && Math.abs(v) <= 1 && Math.floor((u + 1) * 2.5 + phase) % 2 === 0;
    case 'diagonal':
      return Math.abs(u) <= 1 && Math.abs(v) <= 1 && Math.floor((u + v + 2) * 1.8 + phase) % 2 === 0;
    case 'checker':
      return Math.abs(u) <= 1 && Math.abs(v) <= 1 && (Math.floor((u + 1) * 2) + Math.floor((v + 1) * 2)) % 2 === 0;
    default:
      // dots: five discs as on a die.
      return dot(0, 0) || dot(0.6, 0.6) || dot(-0.6, 0.6) || dot(0.6, -0.6) || dot(-0.6, -0.6);
  }
}

/** A random saturated colour (HSV with s, v in [0.5, 1]) as RGB bytes. */
function colour(rng: CounterRng): [number, number, number] {
  const h = rng.uniform() * 6;
  const s = rng.uniformRange(0.5, 1);
  const v = rng.uniformRange(0.5, 1);
  const c = v * s;
  const x = c * (1 - Math.abs((h % 2) - 1));
  const [r, g, b] =
    h < 1 ? [c, x, 0] : h < 2 ? [x, c, 0] : h < 3 ? [0, c, x] : h < 4 ? [0, x, c] : h < 5 ? [x, 0, c] : [c, 0, x];
  return [r, g, b].map((t) => Math.round((t + v - c) * 255)) as [number, number, number];
}

/**
 * One CIFAR record (label byte, then 3 x 32 x 32 planes) of image `index` of split `split` (0 train, 1 test): class
 * index % 10, shape and background colours, size (10 to 13 px half-side), centre (within 3 px of the middle), stripe
 * phase and pixel noise drawn from its own stream. Shapes this large and steady are learnt within a few hundred
 * steps; smaller, rotated ones anywhere in the image were not, at the studies' budgets.
 */
export function colourShapesRecord(seed: number, split: 0 | 1, index: number): Uint8Array {
  const rng = new CounterRng(seed, split, index, 0);
  const k = index % COLOUR_SHAPES_CLASSES.length;
  const fg = colour(rng);
  let bg = colour(rng);
  // Keep the shape visible: a background too close in colour is darkened.
  if (Math.abs(fg[0] - bg[0]) + Math.abs(fg[1] - bg[1]) + Math.abs(fg[2] - bg[2]) < 150)
    bg = bg.map((t) => Math.round(t * 0.3)) as [number, number, number];
  const size = rng.uniformRange(10, 13);
  const cx = SIDE / 2 + rng.uniformRange(-3, 3);
  const cy = SIDE / 2 + rng.uniformRange(-3, 3);
  const phase = rng.below(2);
  const out = new Uint8Array(1 + 3 * PIXELS);
  out[0] = k;
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const on = inside(k, (x + 0.5 - cx) / size, (y + 0.5 - cy) / size, phase);
      const noise = rng.uniformRange(-4, 4);
      for (let c = 0; c < 3; c++) {
        const v = (on ? fg[c]! : bg[c]!) + noise;
        out[1 + c * PIXELS + y * SIDE + x] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return out;
}

/**
 * Writes `train` training and `test` test images into DIR in the CIFAR-10 binary layout (data_batch_1..5.bin,
 * test_batch.bin, batches.meta.txt), balanced over the ten classes. Open it as `cifar10:DIR`.
 */
export function writeColourShapes(dir: string, opts: { train: number; test: number; seed?: number }): void {
  const { train, test, seed = 0 } = opts;
  if (!Number.isInteger(train) || train < 5 || !Number.isInteger(test) || test < 1)
    throw new RangeError(`colour shapes: need at least 5 training and 1 test image, got ${train} and ${test}`);
  mkdirSync(dir, { recursive: true });
  const records = (split: 0 | 1, from: number, to: number): Buffer =>
    Buffer.concat(Array.from({ length: to - from }, (_, i) => colourShapesRecord(seed, split, from + i)));
  for (let f = 0; f < 5; f++)
    writeFileSync(
      join(dir, `data_batch_${f + 1}.bin`),
      records(0, Math.floor((f * train) / 5), Math.floor(((f + 1) * train) / 5)),
    );
  writeFileSync(join(dir, 'test_batch.bin'), records(1, 0, test));
  writeFileSync(join(dir, 'batches.meta.txt'), `${COLOUR_SHAPES_CLASSES.join('\n')}\n`);
}
