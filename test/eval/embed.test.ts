import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '../../src/torch/index.js';
import { Flatten } from '../../src/nn/index.js';
import { MemoryDataset } from '../../src/data/dataset.js';
import { writeEmbeddings } from '../../src/eval/embed.js';

const dir = mkdtempSync(join(tmpdir(), 'simclr-embed-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const pixels = Uint8Array.from({ length: 5 * 3 * 2 * 2 }, (_, i) => (i * 37) % 256);

test('embeddings file: features, int64 labels, class names and the source paths of the rows written', () => {
  const ds = new MemoryDataset(
    {
      name: 'pics/train',
      channels: 3,
      height: 2,
      width: 2,
      numClasses: 2,
      classNames: ['cat', 'dog'],
      labels: Int32Array.from([0, 1, 1, 0, 1]),
      paths: ['a.png', 'b.png', 'c.png', 'd.png', 'e.png'],
    },
    pixels,
  );
  const path = join(dir, 'emb.safetensors');
  const r = writeEmbeddings(new Flatten(), ds, path, { limit: 4, batchSize: 3, info: { run: 'runs/x' } });
  assert.deepEqual(r, { path, count: 4, dim: 12, labelled: true });

  const { tensors, metadata } = torch.safetensors.loadFile(path);
  const features = tensors.get('features')!;
  assert.equal(features.dtype, 'float32');
  assert.deepEqual(features.shape, [4, 12]);
  const expected = Float32Array.from(pixels.subarray(0, 48), (v) => v / 255);
  assert.deepEqual(features.toArray(), expected);
  const labels = tensors.get('labels')!;
  assert.equal(labels.dtype, 'int64');
  assert.deepEqual(labels.tolist(), [0, 1, 1, 0]);
  assert.deepEqual(JSON.parse(metadata.paths!), ['a.png', 'b.png', 'c.png', 'd.png']);
  assert.deepEqual(JSON.parse(metadata.class_names!), ['cat', 'dog']);
  assert.deepEqual(JSON.parse(metadata.simclr_embed!), { dataset: 'pics/train', count: 4, dim: 12, run: 'runs/x' });
});

test('unlabelled data gets no labels tensor and no paths', () => {
  const ds = new MemoryDataset(
    { name: 'raw', channels: 1, height: 2, width: 2, numClasses: 0, labels: null },
    pixels.subarray(0, 12),
  );
  const path = join(dir, 'raw.safetensors');
  assert.deepEqual(writeEmbeddings(new Flatten(), ds, path), { path, count: 3, dim: 4, labelled: false });
  const { tensors, metadata } = torch.safetensors.loadFile(path);
  assert.deepEqual([...tensors.keys()], ['features']);
  assert.equal(metadata.paths, undefined);
});
