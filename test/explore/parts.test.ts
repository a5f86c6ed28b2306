// The pieces of `simclr explore` on their own, each against a plain reference: preprocess against the evaluation
// pipeline's own image path, the tent resize, the neighbour graph and indexes against brute force, the 2-D
// neighbours, duplicate pairs, label votes, the map's scaling and PCA, and the /files/ URL parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as torch from '../../src/torch/index.js';
import { MemoryDataset } from '../../src/data/dataset.js';
import { lumaByte } from '../../src/data/colour.js';
import { loadImages } from '../../src/features/extract.js';
import { preprocess, resizeCover, type EncoderInput } from '../../src/explore/preprocess.js';
import { ExactIndex, HnswIndex, knnGraph, normalizeRows } from '../../src/explore/search.js';
import {
  DuplicatePairs,
  knnVoteAccuracy,
  lowestScores,
  mapNeighbours,
  outlierScores,
} from '../../src/explore/analysis.js';
import { mapScale, pca2, seededRandom, umap2 } from '../../src/explore/map.js';
import { parseFilesUrl } from '../../src/explore/files.js';
import { pixelsToPng, Thumbnails } from '../../src/explore/thumbs.js';
import { sourceDifference } from '../../src/explore/embeddings.js';
import { writeNoted } from '../../src/explore/session.js';
import type { EmbeddingSource } from '../../src/eval/embed.js';
import { EXPLORE_FILES, RUN_OUTPUTS, removeRunOutputs } from '../../src/run/folder.js';

const gray: EncoderInput = { channels: 1, height: 4, width: 4, mean: [0], std: [1] };
const rgb: EncoderInput = { channels: 3, height: 4, width: 4, mean: [0, 0, 0], std: [1, 1, 1] };

/** RGBA bytes of a w x h image whose pixel p has RGB (f(p, 0), f(p, 1), f(p, 2)) and alpha 255 - p. */
function rgbaOf(w: number, h: number, f: (p: number, c: number) => number): Uint8Array {
  const out = new Uint8Array(w * h * 4);
  for (let p = 0; p < w * h; p++) {
    for (let c = 0; c < 3; c++) out[p * 4 + c] = f(p, c);
    out[p * 4 + 3] = 255 - (p % 256);
  }
  return out;
}

test('preprocess at the input size equals what the evaluation pipeline feeds the encoder, bit for bit', () => {
  // Every byte value through both paths: gray (4 x 4 x 16 images cover 0..255) and RGB.
  for (const input of [gray, rgb]) {
    const c = input.channels;
    const pixelsPer = 16;
    const images = 256 / pixelsPer;
    const chw = new Uint8Array(images * c * pixelsPer);
    const rgbas: Uint8Array[] = [];
    for (let n = 0; n < images; n++) {
      const rgba = rgbaOf(4, 4, (p, k) => (n * pixelsPer + p + 85 * k) % 256);
      rgbas.push(rgba);
      for (let p = 0; p < pixelsPer; p++)
        for (let k = 0; k < c; k++)
          chw[n * c * pixelsPer + k * pixelsPer + p] =
            c === 1 ? lumaByte(rgba[p * 4]!, rgba[p * 4 + 1]!, rgba[p * 4 + 2]!) : rgba[p * 4 + k]!;
    }
    const ds = new MemoryDataset({ name: 't', channels: c, height: 4, width: 4, numClasses: 0, labels: null }, chw);
    const want = torch.scope(
      () =>
        loadImages(
          ds,
          Uint32Array.from({ length: images }, (_, i) => i),
          4,
          'cpu',
        ).toArray() as Float32Array,
    );
    rgbas.forEach((rgba, n) => {
      const got = preprocess(rgba, 4, 4, input);
      assert.deepEqual(got, want.subarray(n * c * pixelsPer, (n + 1) * c * pixelsPer), `image ${n}, ${c} channel(s)`);
    });
  }
});

test('preprocess applies mean and std per channel and ignores alpha', () => {
  const rgba = rgbaOf(4, 4, (p, c) => (p * 10 + c * 50) % 256);
  const plain = preprocess(rgba, 4, 4, rgb);
  const norm = preprocess(rgba, 4, 4, { ...rgb, mean: [0.5, 0.25, 0], std: [0.5, 2, 4] });
  const noAlpha = rgba.slice();
  for (let p = 0; p < 16; p++) noAlpha[p * 4 + 3] = 0;
  assert.deepEqual(preprocess(noAlpha, 4, 4, rgb), plain);
  for (let i = 0; i < 48; i++) {
    const [c, p] = [Math.floor(i / 16), i % 16];
    assert.equal(plain[i], Math.fround(rgba[p * 4 + c]! / 255));
    assert.equal(norm[i], Math.fround((rgba[p * 4 + c]! / 255 - [0.5, 0.25, 0][c]!) / [0.5, 2, 4][c]!));
  }
});

test('preprocess refuses what it cannot use, naming it', () => {
  assert.throws(() => preprocess(new Uint8Array(10), 4, 4, gray), /10 bytes for a 4x4 RGBA image/);
  assert.throws(() => preprocess(new Uint8Array(64), 4, 4, { ...gray, channels: 2 }), /channels must be 1 or 3/);
  assert.throws(() => preprocess(new Uint8Array(64), 4, 4, { ...gray, std: [0] }), /std must hold finite/);
  assert.throws(() => preprocess(new Uint8Array(64), 4, 4, { ...gray, mean: [0, 0] }), /2 values for 1 channels/);
  assert.throws(() => preprocess(new Uint8Array(0), 0, 4, gray), /width must be a positive integer/);
});

test('resizeCover: constant stays constant, 2x down averages, the crop is centred, the result repeats', () => {
  const flat = rgbaOf(13, 7, () => 77);
  assert.ok(resizeCover(flat, 13, 7, 5, 5).every((v) => v === 77));
  assert.ok(resizeCover(flat, 13, 7, 40, 40).every((v) => v === 77));
  // A 2x2 pattern of (0, 100, 200, 40) downscaled by 2: the tent (4 taps a side, weights 1:3:3:1) gives every
  // interior output the pattern's mean, 85; at the border the taps outside are dropped and the rest renormalised.
  const blocks = rgbaOf(8, 8, (p) => [0, 100, 200, 40][((p >> 3) % 2) * 2 + (p % 2)]!);
  const down = resizeCover(blocks, 8, 8, 4, 4);
  for (const [x, y] of [
    [1, 1],
    [1, 2],
    [2, 1],
    [2, 2],
  ])
    assert.deepEqual([...down.subarray((y! * 4 + x!) * 3, (y! * 4 + x!) * 3 + 3)], [85, 85, 85], `(${x}, ${y})`);
  // A wide image: left quarter red, right quarter blue, the middle green; the square crop sees only green.
  const wide = rgbaOf(40, 10, (p, c) => {
    const x = p % 40;
    const part = x < 10 ? 0 : x >= 30 ? 2 : 1;
    return part === c ? 255 : 0;
  });
  const out = resizeCover(wide, 40, 10, 6, 6);
  for (let p = 0; p < 36; p++) assert.deepEqual([...out.subarray(p * 3, p * 3 + 3)], [0, 255, 0]);
  const photo = rgbaOf(37, 23, (p, c) => (p * 7 + c * 31) % 256);
  assert.deepEqual(resizeCover(photo, 37, 23, 9, 9), resizeCover(photo, 37, 23, 9, 9));
  // The same image through preprocess: resized to the input, then as at the input size.
  const viaResize = preprocess(photo, 37, 23, rgb);
  const small = resizeCover(photo, 37, 23, 4, 4);
  const rgba = new Uint8Array(64);
  for (let p = 0; p < 16; p++) rgba.set(small.subarray(p * 3, p * 3 + 3), p * 4);
  assert.deepEqual(viaResize, preprocess(rgba, 4, 4, rgb));
});

/** Random rows with planted exact copies: rows 3 and 17 equal row 0. */
function randomRows(n: number, d: number, seed: number): torch.Tensor {
  torch.manualSeed(seed);
  return torch.scope(() => {
    const x = torch.randn([n, d]);
    const copy = x.narrow(0, 0, 1);
    x.narrow(0, 3, 1).copy_(copy);
    x.narrow(0, 17, 1).copy_(copy);
    return x;
  });
}

/** Brute force: each row's k most similar other rows by float64 cosine (ties by index). */
function bruteGraph(rows: Float32Array, n: number, d: number, k: number): { index: number; similarity: number }[][] {
  const norm = (i: number): number => Math.sqrt(rows.subarray(i * d, (i + 1) * d).reduce((s, v) => s + v * v, 0));
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => {
      let dot = 0;
      for (let t = 0; t < d; t++) dot += rows[i * d + t]! * rows[j * d + t]!;
      return { index: j, similarity: dot / (norm(i) * norm(j)) };
    })
      .filter((x) => x.index !== i)
      .sort((a, b) => b.similarity - a.similarity || a.index - b.index)
      .slice(0, k),
  );
}

test('the exact graph and both indexes (HNSW saved, read back) equal brute force; copies never list themselves', () => {
  const [n, d, k] = [300, 16, 12];
  const x = randomRows(n, d, 3);
  const rows = x.toArray() as Float32Array;
  const want = bruteGraph(rows, n, d, k);
  const unit = normalizeRows(x);
  const graph = knnGraph(unit, k);
  assert.equal(graph.k, k);
  const exact = new ExactIndex(unit);
  const built = HnswIndex.build(x);
  const file = join(mkdtempSync(join(tmpdir(), 'simclr-hnsw-')), 'index.hnsw');
  built.save(file);
  assert.equal(HnswIndex.load(file, n + 1, d), null, 'another count is not this index');
  const hnsw = HnswIndex.load(file, n, d)!;
  rmSync(dirname(file), { recursive: true });
  for (let i = 0; i < n; i++) {
    const row = rows.subarray(i * d, (i + 1) * d);
    const lists = {
      graph: Array.from({ length: k }, (_, t) => ({
        index: graph.indices[i * k + t]!,
        similarity: graph.similarities[i * k + t]!,
      })),
      exact: exact.search(row, k, i),
      hnsw: hnsw.search(row, k, i),
    };
    for (const [name, got] of Object.entries(lists)) {
      assert.ok(!got.some((nb) => nb.index === i), `${name} row ${i} lists itself`);
      got.forEach((nb, r) => {
        assert.ok(Math.abs(nb.similarity - Math.min(1, want[i]![r]!.similarity)) < 1e-5, `${name} row ${i} rank ${r}`);
      });
    }
  }
  for (const i of [0, 3, 17]) {
    const copies = [0, 3, 17].filter((j) => j !== i);
    assert.deepEqual(
      new Set(exact.search(rows.subarray(i * d, (i + 1) * d), 2, i).map((nb) => nb.index)),
      new Set(copies),
    );
  }
  assert.equal(exact.search(rows.subarray(0, d), n + 5).length, n, 'at most the whole set');
  assert.equal(hnsw.search(rows.subarray(0, d), n + 5).length, n);
  exact.dispose();
  hnsw.dispose();
});

test('duplicate pairs, outlier scores and label votes read off a hand-made graph', () => {
  // 4 samples, k = 2: 0 <-> 1 (0.99), 2 -> 0 (0.5), 3 far from all.
  const graph = {
    k: 2,
    indices: Int32Array.from([1, 2, 0, 2, 0, 1, 0, 1]),
    similarities: Float32Array.from([0.99, 0.5, 0.99, 0.4, 0.5, 0.4, 0.1, 0.05]),
  };
  const pairs = new DuplicatePairs(graph);
  assert.deepEqual(
    pairs.above(-1, 100).map((p) => [p.a, p.b, Number(p.similarity.toFixed(2))]),
    [
      [0, 1, 0.99],
      [0, 2, 0.5],
      [1, 2, 0.4],
      [0, 3, 0.1],
      [1, 3, 0.05],
    ],
  );
  assert.equal(pairs.above(0.9, 100).length, 1);
  assert.equal(pairs.above(0.3, 2).length, 2);
  assert.equal(pairs.above(0.999, 100).length, 0);
  const scores = outlierScores(graph, 2);
  assert.deepEqual(
    lowestScores(scores, 2).map((s) => s.index),
    [3, 2],
  );
  assert.ok(Math.abs(scores[0]! - 0.745) < 1e-6);
  // Votes: labels 0,0,1,-1; sample 2's neighbours 0 and 1 say 0: a miss; 0 and 1 hit; 3 is unlabelled.
  assert.equal(knnVoteAccuracy(graph.indices, 2, Int32Array.from([0, 0, 1, -1]), 2), 2 / 3);
  // A tie goes to the nearer voter: 0's neighbours 1 (label 2) then 2 (label 0).
  assert.equal(knnVoteAccuracy(graph.indices, 2, Int32Array.from([2, 2, 0, -1]), 2), 2 / 3);
  assert.equal(knnVoteAccuracy(graph.indices, 2, Int32Array.from([-1, -1, -1, -1]), 2), null);
});

test('mapNeighbours equals brute force, ties by index, on scattered and on grid points', () => {
  const random = seededRandom(9);
  for (const [name, n, point] of [
    ['scattered', 700, () => [random(), random()]],
    ['grid', 400, (i: number) => [(i % 20) / 19, Math.floor(i / 20) / 19]],
    ['clumped', 300, (i: number) => (i < 290 ? [0.5 + random() * 1e-3, 0.5] : [random(), random()])],
  ] as [string, number, (i: number) => number[]][]) {
    const pts = Array.from({ length: n }, (_, i) => point(i));
    const x = Float32Array.from(pts, (p) => p[0]!);
    const y = Float32Array.from(pts, (p) => p[1]!);
    const k = 7;
    const { width, indices } = mapNeighbours(x, y, k);
    assert.equal(width, k);
    for (let i = 0; i < n; i++) {
      const want = Array.from({ length: n }, (_, j) => ({ j, d: (x[j]! - x[i]!) ** 2 + (y[j]! - y[i]!) ** 2 }))
        .filter((e) => e.j !== i)
        .sort((a, b) => a.d - b.d || a.j - b.j)
        .slice(0, k)
        .map((e) => e.j);
      assert.deepEqual(Array.from(indices.subarray(i * k, (i + 1) * k)), want, `${name} point ${i}`);
    }
  }
});

test('the map: scaled into [0, 1] keeping its shape, PCA finds the spread, UMAP repeats itself', () => {
  const s = mapScale([0, 10, 5], [2, 2, 4]);
  assert.deepEqual(Array.from(s.x), [0, 1, 0.5]);
  assert.deepEqual(
    Array.from(s.y, (v) => Number(v.toFixed(6))),
    [0.4, 0.4, 0.6],
  );
  assert.deepEqual(Array.from(mapScale([3], [3]).x), [0.5]);
  assert.throws(() => mapScale([0, Number.NaN], [0, 0]), /not finite/);
  // Points along (1, 2, 0) with a little spread along (0, 0, 1): PC1 is the line, PC2 the spread.
  const rows = torch.tensor(
    Float32Array.from({ length: 60 }, (_, i) => {
      const p = Math.floor(i / 3);
      return [p, 2 * p, (p % 2) * 0.5][i % 3]!;
    }),
    { shape: [20, 3] },
  );
  const p = pca2(rows);
  const xs = Array.from(p.x);
  assert.ok(Math.max(...xs) - Math.min(...xs) > 40, 'PC1 spans the line');
  assert.ok(
    Array.from(p.y).every((v) => Math.abs(Math.abs(v) - 0.25) < 0.05),
    'PC2 is the +-0.25 spread',
  );
  assert.ok(xs[19]! > xs[0]!, 'signed so the largest loading is positive');
  const x = randomRows(80, 8, 4);
  const graph = knnGraph(normalizeRows(x), 15);
  const a = umap2(graph, 7);
  const b = umap2(graph, 7);
  assert.deepEqual(Array.from(a.x), Array.from(b.x));
  assert.ok(Array.from(a.x).every((v) => v >= 0 && v <= 1));
  assert.notDeepEqual(Array.from(umap2(graph, 8).x), Array.from(a.x), 'another seed, another layout');
});

test('parseFilesUrl: segments decoded one by one; dot segments, empty ones and encoded slashes refused', () => {
  assert.deepEqual(parseFilesUrl('a/b%20c.png'), { rel: 'a/b c.png' });
  assert.deepEqual(parseFilesUrl('%C3%A9t%C3%A9/x.png'), { rel: 'été/x.png' });
  for (const bad of [
    '',
    '../x',
    'a/../x',
    'a/%2e%2e/x',
    'a/%2E/x',
    'a%2fb',
    'a%2Fb',
    'a%5cb',
    'a//b',
    'a/',
    '%ZZ',
    'a%00b',
  ])
    assert.equal((parseFilesUrl(bad) as { status?: number }).status, 400, bad);
});

test('sourceDifference names the first field an embeddings file was made differently in', () => {
  const want: EmbeddingSource = {
    run: '/r',
    checkpoint: { path: '/r/c', step: 5, bytes: 10, mtimeMs: 1 },
    data: 'mnist:/d',
    split: 'train',
    dataset: 'mnist/train',
    input: { channels: 1, height: 28, width: 28 },
    count: 100,
    fingerprint: 'abc',
  };
  assert.equal(sourceDifference(want, { ...want }), null);
  assert.match(sourceDifference(null, want)!, /records no source/);
  assert.match(sourceDifference({ ...want, checkpoint: { ...want.checkpoint, step: 4 } }, want)!, /another checkpoint/);
  assert.match(sourceDifference({ ...want, fingerprint: 'abd' }, want)!, /data that changed since/);
  assert.match(sourceDifference({ ...want, count: 50, fingerprint: 'x' }, want)!, /count 50, now 100/);
});

test("--overwrite's removal takes explore's caches (and their folder once empty), never other files there", () => {
  const dir = mkdtempSync(join(tmpdir(), 'simclr-explore-rm-'));
  try {
    mkdirSync(join(dir, 'explore'));
    for (const f of Object.values(EXPLORE_FILES)) {
      assert.ok((RUN_OUTPUTS as readonly string[]).includes(f), `${f} is in RUN_OUTPUTS`);
      writeFileSync(join(dir, f), 'x');
    }
    assert.deepEqual(removeRunOutputs(dir).sort(), Object.values(EXPLORE_FILES).sort());
    assert.equal(existsSync(join(dir, 'explore')), false);
    mkdirSync(join(dir, 'explore'));
    writeFileSync(join(dir, EXPLORE_FILES.map), 'x');
    writeFileSync(join(dir, 'explore', 'notes.txt'), 'mine');
    removeRunOutputs(dir);
    assert.deepEqual(readdirSync(join(dir, 'explore')), ['notes.txt']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('thumbnails: two requests racing for one sample count its bytes once, so the budget still holds two', async () => {
  const pixels = new Uint8Array(2 * 8 * 8).fill(90);
  let reads = 0;
  class Counting extends MemoryDataset {
    override readBatch(indices: ArrayLike<number>, out: Uint8Array): void {
      reads++;
      super.readBatch(indices, out);
    }
  }
  const ds = new Counting({ name: 't', channels: 1, height: 8, width: 8, numClasses: 0, labels: null }, pixels);
  const size = (await pixelsToPng(pixels.subarray(0, 64), 1, 8, 8)).length;
  const thumbs = new Thumbnails(ds, null, 2 * size);
  await Promise.all([thumbs.png(0), thumbs.png(0)]);
  await thumbs.png(1);
  const before = reads;
  await thumbs.png(0);
  await thumbs.png(1);
  assert.equal(reads, before, 'both thumbnails fit the budget and are served from memory');
});

test('writeNoted: a cache write cut short leaves no note vouching for the file; a finished one leaves it', () => {
  const d = mkdtempSync(join(tmpdir(), 'simclr-explore-noted-'));
  try {
    const file = join(d, 'index.hnsw');
    const note = join(d, 'index.json');
    writeFileSync(file, 'made from A');
    writeFileSync(note, 'A');
    // A kill after the new file is in place but before its note: the note must not still say A.
    assert.throws(
      () =>
        writeNoted(file, note, 'B', (p) => {
          writeFileSync(p, 'made from B');
          throw new Error('killed');
        }),
      /killed/,
    );
    assert.equal(existsSync(note), false);
    writeNoted(file, note, 'B', (p) => writeFileSync(p, 'made from B'));
    assert.equal(readFileSync(note, 'utf8'), 'B');
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
