#!/usr/bin/env node
// Writes the synthetic colour dataset (src/data/synthetic.ts) for the colour studies:
// node scripts/make-colour-shapes.mjs DIR [TRAIN] [TEST] (default 10000 and 2000 images), then
// `simclr study color-strength --data cifar10:DIR ...`.
// Run after `npm run build`.
import { writeColourShapes } from '../dist/src/data/synthetic.js';

const [dir, train = '10000', test = '2000'] = process.argv.slice(2);
if (dir === undefined) {
  console.error('usage: node scripts/make-colour-shapes.mjs DIR [TRAIN] [TEST]');
  process.exit(2);
}
writeColourShapes(dir, { train: Number(train), test: Number(test) });
console.log(`wrote ${train} training and ${test} test images to ${dir} (open it as cifar10:${dir})`);
