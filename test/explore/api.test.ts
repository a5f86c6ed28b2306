// The explore server's API on loopback with a tiny trained run over a small IDX set (test/explore/fixture.ts):
// answers against a brute-force reference, the planted duplicate and odd image, the cache, and every kind of bad
// request getting a 4xx while the server keeps serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { prepareExplore, type ExploreSession } from '../../src/explore/session.js';
import { startExploreServer } from '../../src/explore/server.js';
import { readEmbeddings } from '../../src/eval/embed.js';
import { EXPLORE_FILES } from '../../src/run/folder.js';
import { DUPLICATE, exploreIdxData, IDX_COUNT, ODD, ORIGINAL, trainTinyRun, writeExploreIdx } from './fixture.js';
import { postJson, request } from './http.js';

const dir = mkdtempSync(join(tmpdir(), 'simclr-explore-api-'));
const data = join(dir, 'data');
const run = join(dir, 'run');
const webRoot = join(dir, 'web');
let session: ExploreSession;
let app: FastifyInstance;
let url: string;
/** The cached embeddings, as a float64 reference: rows and their norms. */
let rows: Float32Array;
let dim: number;

before(async () => {
  mkdirSync(data);
  writeExploreIdx(data);
  mkdirSync(webRoot);
  writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>explore</title>');
  writeFileSync(join(webRoot, 'app.js'), 'export {};');
  writeFileSync(join(dir, 'secret.txt'), 'not to be served');
  await trainTinyRun(run, `mnist:${data}`);
  session = await prepareExplore({ run, data: `mnist:${data}`, onWarning: () => {} });
  ({ app, url } = await startExploreServer(session, { host: '127.0.0.1', port: 0, webRoot, maxUpload: 1 << 20 }));
  const file = readEmbeddings(join(run, EXPLORE_FILES.embeddings));
  [, dim] = file.features.shape as [number, number];
  rows = file.features.toArray() as Float32Array;
  file.features.dispose();
});

after(async () => {
  await app?.close();
  session?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Cosine similarity of rows i and j (or of row i and a vector), in float64. */
function cosine(i: number, v: ArrayLike<number>): number {
  let dot = 0;
  let a = 0;
  let b = 0;
  for (let t = 0; t < dim; t++) {
    const x = rows[i * dim + t]!;
    dot += x * v[t]!;
    a += x * x;
    b += v[t]! * v[t]!;
  }
  return dot / Math.sqrt(a * b);
}

const row = (j: number): Float32Array => rows.subarray(j * dim, (j + 1) * dim);

/** The brute-force top k: every sample's similarity to v, most similar first, `exclude` left out. */
function reference(v: ArrayLike<number>, k: number, exclude?: number): { index: number; similarity: number }[] {
  return Array.from({ length: IDX_COUNT }, (_, j) => ({ index: j, similarity: cosine(j, v) }))
    .filter((n) => n.index !== exclude)
    .sort((p, q) => q.similarity - p.similarity || p.index - q.index)
    .slice(0, k);
}

type Neighbours = { index: number; similarity: number; label: number | null }[];

/** A list equals the reference top k: the same similarities at every rank, each index truly that similar. */
function assertTopK(got: Neighbours, v: ArrayLike<number>, k: number, exclude?: number): void {
  const want = reference(v, k, exclude);
  assert.equal(got.length, want.length);
  const labels = exploreIdxData().labels;
  got.forEach((n, r) => {
    assert.ok(
      Math.abs(n.similarity - want[r]!.similarity) < 1e-5,
      `rank ${r}: ${n.similarity} vs ${want[r]!.similarity}`,
    );
    assert.ok(Math.abs(n.similarity - Math.min(1, cosine(n.index, v))) < 1e-5, `index ${n.index} is not that similar`);
    assert.notEqual(n.index, exclude);
    assert.equal(n.label, labels[n.index]);
  });
  assert.equal(new Set(got.map((n) => n.index)).size, got.length, 'no sample twice');
}

test('GET /api/info describes the run, the data, the encoder input and the index', async () => {
  const r = await request(url, '/api/info');
  assert.equal(r.status, 200);
  const info = r.json<Record<string, unknown> & { labelAgreement: Record<string, number> }>();
  assert.equal(info.count, IDX_COUNT);
  assert.equal(info.dim, dim);
  assert.equal(info.checkpointStep, 4);
  assert.equal(info.labelled, true);
  assert.equal(info.folder, false);
  assert.deepEqual(info.input, { channels: 1, height: 28, width: 28, mean: [0], std: [1] });
  assert.deepEqual(info.onnx, { url: '/model.onnx', inputName: 'input', outputName: 'h' });
  assert.equal((info.index as { kind: string }).kind, 'exact');
  assert.equal(info.labelAgreement.k, 10);
  for (const key of ['embeddingTop1', 'mapTop1'] as const)
    assert.ok(info.labelAgreement[key]! > 0.5 && info.labelAgreement[key]! <= 1, `${key} ${info.labelAgreement[key]}`);
});

test('GET /api/neighbors equals a brute-force reference for every sample, itself left out', async () => {
  for (let i = 0; i < IDX_COUNT; i++) {
    const k = 1 + (i % 20);
    const r = await request(url, `/api/neighbors?index=${i}&k=${k}`);
    assert.equal(r.status, 200);
    const body = r.json<{ query: number; neighbors: Neighbours }>();
    assert.equal(body.query, i);
    assertTopK(body.neighbors, row(i), k, i);
  }
  const d = await request(url, '/api/neighbors?index=0');
  assert.equal(d.json<{ neighbors: unknown[] }>().neighbors.length, 10, 'k defaults to 10');
});

test('POST /api/neighbors with an embedding (any scale) equals the reference, nothing left out', async () => {
  const v = Array.from(row(ORIGINAL), (x) => x * 3.5);
  const r = await postJson(url, '/api/neighbors', JSON.stringify({ embedding: v, k: 5 }));
  assert.equal(r.status, 200);
  const body = r.json<{ query: null; neighbors: Neighbours }>();
  assert.equal(body.query, null);
  assertTopK(body.neighbors, v, 5);
  assert.deepEqual(new Set(body.neighbors.slice(0, 2).map((n) => n.index)), new Set([ORIGINAL, DUPLICATE]));
});

test('POST /api/neighbors: an embedding whose float32 squares overflow or underflow keeps its direction', async () => {
  // 1e25 squared is beyond float32's range and 1e-34 squared below it: normalised in float32 these were all zeros.
  for (const scale of [1e25, 1e-34]) {
    const v = Array.from(row(ORIGINAL), (x) => x * scale);
    const r = await postJson(url, '/api/neighbors', JSON.stringify({ embedding: v, k: 5 }));
    assert.equal(r.status, 200, `scale ${scale}`);
    assertTopK(r.json<{ neighbors: Neighbours }>().neighbors, v, 5);
  }
});

test('GET /api/map: one point per sample in [0, 1], the labels, the same map on a second computation', async () => {
  const map = (await request(url, '/api/map')).json<{ method: string; x: number[]; y: number[]; labels: number[] }>();
  assert.equal(map.method, 'umap');
  assert.equal(map.x.length, IDX_COUNT);
  assert.equal(map.y.length, IDX_COUNT);
  for (const v of [...map.x, ...map.y]) assert.ok(v >= 0 && v <= 1, `${v}`);
  assert.ok(Math.min(...map.x) === 0 || Math.min(...map.y) === 0, 'the map spans [0, 1] on its longer axis');
  assert.deepEqual(map.labels, Array.from(exploreIdxData().labels));
  assert.equal((map as { paths?: unknown }).paths, null);
  const again = await prepareExplore({ run, data: `mnist:${data}`, cache: false, onWarning: () => {} });
  try {
    assert.deepEqual(Array.from(again.map.x), Array.from(session.map.x));
    assert.deepEqual(Array.from(again.map.y), Array.from(session.map.y));
  } finally {
    again.close();
  }
});

test('duplicates list the planted copy first, each pair once; outliers start with the odd image', async () => {
  const d = (await request(url, '/api/duplicates?threshold=0.9999&limit=50')).json<{
    threshold: number;
    pairs: { a: number; b: number; similarity: number }[];
  }>();
  assert.equal(d.threshold, 0.9999);
  assert.deepEqual(d.pairs[0], { a: ORIGINAL, b: DUPLICATE, similarity: 1 });
  const all = (await request(url, '/api/duplicates?threshold=-1&limit=10000')).json<{
    pairs: { a: number; b: number; similarity: number }[];
  }>().pairs;
  const keys = all.map((p) => `${p.a}-${p.b}`);
  assert.equal(new Set(keys).size, keys.length, 'each pair once');
  for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.similarity >= all[i]!.similarity);
  for (const p of all) {
    assert.ok(p.a < p.b);
    assert.ok(Math.abs(p.similarity - Math.min(1, cosine(p.a, row(p.b)))) < 1e-5);
  }
  // Every pair where one lists the other among its 15 nearest: no more, no fewer.
  const graphPairs = new Set<string>();
  for (let i = 0; i < IDX_COUNT; i++)
    for (const n of reference(row(i), 15, i)) graphPairs.add(`${Math.min(i, n.index)}-${Math.max(i, n.index)}`);
  assert.ok(Math.abs(graphPairs.size - keys.length) <= 2, `${graphPairs.size} graph pairs, ${keys.length} listed`);
  const below = (await request(url, '/api/duplicates?threshold=0.99995')).json<{ pairs: unknown[] }>();
  assert.equal(below.pairs.length, 1, 'only the exact copy is that similar');

  const o = (await request(url, '/api/outliers?limit=5')).json<{
    k: number;
    items: { index: number; score: number }[];
  }>();
  assert.equal(o.k, 10);
  assert.equal(o.items.length, 5);
  assert.equal(o.items[0]!.index, ODD);
  const mean = reference(row(ODD), 10, ODD).reduce((s, n) => s + n.similarity, 0) / 10;
  assert.ok(Math.abs(o.items[0]!.score - mean) < 1e-5);
  for (let i = 1; i < o.items.length; i++) assert.ok(o.items[i - 1]!.score <= o.items[i]!.score);
});

test('thumbnails are the dataset pixels; /model.onnx gives the same features as the server', async () => {
  const r = await request(url, '/thumb/3.png');
  assert.equal(r.status, 200);
  assert.equal(r.type, 'image/png');
  const meta = await sharp(r.body).metadata();
  assert.deepEqual([meta.width, meta.height, meta.channels], [28, 28, 1], 'a gray PNG at the dataset size');
  const { data: px } = await sharp(r.body).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual(new Uint8Array(px), exploreIdxData().pixels.subarray(3 * 784, 4 * 784));

  const m = await request(url, '/model.onnx');
  assert.equal(m.status, 200);
  assert.ok(existsSync(join(run, EXPLORE_FILES.onnx)), 'cached in the run folder');
  const onnx = await ort.InferenceSession.create(new Uint8Array(m.body), { intraOpNumThreads: 1 });
  const x = Float32Array.from(exploreIdxData().pixels.subarray(3 * 784, 4 * 784), (v) => v / 255);
  const out = await onnx.run({ input: new ort.Tensor('float32', x, [1, 1, 28, 28]) });
  const h = out.h!.data as Float32Array;
  for (let t = 0; t < dim; t++) assert.ok(Math.abs(h[t]! - row(3)[t]!) < 1e-4, `feature ${t}`);
});

test('POST /api/embed: an image at the input size gives its dataset features; a larger one is resized', async () => {
  const gray = exploreIdxData().pixels.subarray(5 * 784, 6 * 784);
  const png = await sharp(gray, { raw: { width: 28, height: 28, channels: 1 } })
    .png()
    .toBuffer();
  const r = await request(url, '/api/embed?k=4', {
    method: 'POST',
    headers: { 'content-type': 'image/png' },
    body: png,
  });
  assert.equal(r.status, 200, r.body.toString());
  const body = r.json<{ embedding: number[]; neighbors: Neighbours }>();
  assert.equal(body.embedding.length, dim);
  for (let t = 0; t < dim; t++) assert.ok(Math.abs(body.embedding[t]! - row(5)[t]!) < 1e-4, `feature ${t}`);
  assertTopK(body.neighbors, body.embedding, 4);
  assert.equal(body.neighbors[0]!.index, 5);

  const big = await sharp(gray, { raw: { width: 28, height: 28, channels: 1 } })
    .resize(70, 56, { kernel: 'nearest' })
    .jpeg()
    .toBuffer();
  const b = await request(url, '/api/embed', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: big });
  assert.equal(b.status, 200, b.body.toString());
  assert.equal(b.json<{ neighbors: unknown[] }>().neighbors.length, 10);
});

test('an upload over the limit gets 413 and leaves no file anywhere; the server keeps serving', async () => {
  const spool = mkdtempSync(join(tmpdir(), 'simclr-explore-spool-'));
  const before = [readdirSync(run, { recursive: true }), readdirSync(data, { recursive: true })];
  const oldTmp = process.env.TMPDIR;
  process.env.TMPDIR = spool;
  try {
    const big = Buffer.alloc((1 << 20) + 1, 7);
    const r = await request(url, '/api/embed', { method: 'POST', headers: { 'content-type': 'image/png' }, body: big });
    assert.equal(r.status, 413);
    assert.match(r.json<{ error: string }>().error, /too large|limit/i);
    assert.deepEqual(readdirSync(spool), []);
    assert.deepEqual([readdirSync(run, { recursive: true }), readdirSync(data, { recursive: true })], before);
  } finally {
    if (oldTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = oldTmp;
    rmSync(spool, { recursive: true, force: true });
  }
  assert.equal((await request(url, '/api/info')).status, 200);
});

test('bad requests get a 4xx with a JSON error naming the problem, and the server keeps serving', async () => {
  const cases: [string, () => Promise<{ status: number; json: () => { error?: string } }>, number, RegExp][] = [
    ['malformed JSON', () => postJson(url, '/api/neighbors', '{"embedding": [1, 2'), 400, /JSON/i],
    ['empty JSON body', () => postJson(url, '/api/neighbors', ''), 400, /empty|JSON/i],
    ['a JSON array', () => postJson(url, '/api/neighbors', '[1,2,3]'), 400, /object|embedding/i],
    ['no embedding', () => postJson(url, '/api/neighbors', '{"k": 3}'), 400, /embedding/],
    ['short embedding', () => postJson(url, '/api/neighbors', '{"embedding": [1, 2, 3]}'), 400, /3 values.*have/],
    [
      'NaN (null in JSON)',
      () => postJson(url, '/api/neighbors', JSON.stringify({ embedding: [Number.NaN, ...row(0).slice(1)] })),
      400,
      /embedding\.0/,
    ],
    [
      'an infinite value',
      () => postJson(url, '/api/neighbors', `{"embedding": [1e999${',0.5'.repeat(dim - 1)}]}`),
      400,
      /finite/,
    ],
    [
      'a zero embedding',
      () => postJson(url, '/api/neighbors', JSON.stringify({ embedding: new Array(dim).fill(0) })),
      400,
      /zero/,
    ],
    [
      'k out of range in the body',
      () => postJson(url, '/api/neighbors', JSON.stringify({ embedding: Array.from(row(0)), k: 101 })),
      400,
      /k must be at most 100/,
    ],
    [
      'an unknown field',
      () => postJson(url, '/api/neighbors', JSON.stringify({ embedding: Array.from(row(0)), extra: 1 })),
      400,
      /extra/,
    ],
    [
      'prototype poisoning',
      () => postJson(url, '/api/neighbors', `{"embedding": [1], "__proto__": {"x": 1}}`),
      400,
      /JSON|proto/i,
    ],
    [
      'JSON as text/plain',
      () => request(url, '/api/neighbors', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' }),
      415,
      /media type|content-type/i,
    ],
    ['k = 0', () => request(url, '/api/neighbors?index=1&k=0'), 400, /k must be at least 1/],
    ['k = 101', () => request(url, '/api/neighbors?index=1&k=101'), 400, /k must be at most 100/],
    ['k not a number', () => request(url, '/api/neighbors?index=1&k=ten'), 400, /k must be/],
    ['k twice', () => request(url, '/api/neighbors?index=1&k=2&k=3'), 400, /k must be given once/],
    ['a negative index', () => request(url, '/api/neighbors?index=-1'), 400, /index must be a non-negative integer/],
    ['a fractional index', () => request(url, '/api/neighbors?index=1.5'), 400, /index/],
    ['no index', () => request(url, '/api/neighbors'), 400, /index/],
    ['an index past the end', () => request(url, `/api/neighbors?index=${IDX_COUNT}`), 404, /no sample 120/],
    ['a huge index', () => request(url, '/api/neighbors?index=99999999999999999999'), 400, /index/],
    ['a threshold above 1', () => request(url, '/api/duplicates?threshold=1.5'), 400, /threshold must be at most 1/],
    ['a threshold of NaN', () => request(url, '/api/duplicates?threshold=NaN'), 400, /threshold/],
    ['limit 0', () => request(url, '/api/outliers?limit=0'), 400, /limit must be at least 1/],
    ['limit too large', () => request(url, '/api/duplicates?limit=10001'), 400, /limit must be at most 10000/],
    [
      'an image that does not decode',
      () =>
        request(url, '/api/embed', {
          method: 'POST',
          headers: { 'content-type': 'image/png' },
          body: Buffer.from('not a png at all'),
        }),
      400,
      /not an image/,
    ],
    [
      'an empty image',
      () => request(url, '/api/embed', { method: 'POST', headers: { 'content-type': 'image/png' }, body: '' }),
      400,
      /empty/,
    ],
    ['JSON to /api/embed', () => postJson(url, '/api/embed', '{"a": 1}'), 415, /image/],
    [
      'an image of 30 megapixels',
      async () =>
        request(url, '/api/embed', {
          method: 'POST',
          headers: { 'content-type': 'image/png' },
          body: await sharp({ create: { width: 6000, height: 5000, channels: 3, background: '#808080' } })
            .png({ compressionLevel: 1 })
            .toBuffer(),
        }),
      400,
      /exceeds pixel limit/,
    ],
    ['a thumbnail past the end', () => request(url, `/thumb/${IDX_COUNT}.png`), 404, /no sample/],
    ['a thumbnail by name', () => request(url, '/thumb/abc.png'), 400, /thumb/],
    ['a negative thumbnail', () => request(url, '/thumb/-1.png'), 400, /thumb/],
    ['a malformed percent-encoding', () => request(url, '/thumb/%zz.png'), 400, /not a valid url/],
    ['an over-long path parameter', () => request(url, `/thumb/${'1'.repeat(200)}.png`), 414, /max param length/],
    ['an unknown route', () => request(url, '/api/nothing'), 404, /no such route/],
    ['a wrong method', () => request(url, '/api/info', { method: 'DELETE' }), 404, /no such route/],
    ['/files/ on IDX data', () => request(url, '/files/train-images-idx3-ubyte'), 404, /not a folder/],
    ['a foreign Host header', () => request(url, '/api/info', { headers: { host: 'evil.example:80' } }), 403, /Host/],
  ];
  for (const [what, send, status, message] of cases) {
    const r = await send();
    assert.equal(r.status, status, `${what}: status ${r.status}`);
    const { error } = r.json();
    assert.match(error ?? '', message, `${what}: error ${error}`);
  }
  assert.equal((await request(url, '/api/info')).status, 200);
});

test('static files and vendor files: exactly what is served, no traversal', async () => {
  const page = await request(url, '/');
  assert.equal(page.status, 200);
  assert.match(page.body.toString(), /explore/);
  assert.equal((await request(url, '/static/app.js')).status, 200);
  const ort = await request(url, '/vendor/ort/ort.min.mjs');
  assert.equal(ort.status, 200);
  assert.match(ort.type, /javascript/);
  assert.equal((await request(url, '/vendor/ort/ort-wasm-simd-threaded.wasm')).type, 'application/wasm');
  for (const path of [
    '/static/../secret.txt',
    '/static/%2e%2e/secret.txt',
    '/static/..%2fsecret.txt',
    '/static/%2e%2e%2fsecret.txt',
    '/vendor/ort/../package.json',
    '/vendor/ort/%2e%2e%2fpackage.json',
    '/vendor/ort/ort.min.mjs.map',
    '/vendor/ort/..%2f..%2fpackage.json',
  ]) {
    const r = await request(url, path);
    assert.ok(r.status >= 400 && r.status < 500, `${path}: ${r.status}`);
    assert.doesNotMatch(r.body.toString(), /not to be served|"name"/, path);
  }
  assert.equal((await request(url, '/api/info')).status, 200);
});

test('a second start reads the caches instead of computing', async () => {
  // Everything but the HNSW index, which an exact-index run does not build.
  const files = Object.values(EXPLORE_FILES)
    .filter((f) => !f.includes('index.'))
    .map((f) => join(run, f));
  for (const f of files) assert.ok(existsSync(f), `${f} written`);
  const mtimes = files.map((f) => statSync(f).mtimeMs);
  const phases: string[] = [];
  const again = await prepareExplore({
    run,
    data: `mnist:${data}`,
    onPhase: (p, summary) => phases.push(`${p}: ${summary}`),
  });
  try {
    assert.match(phases.join('\n'), /embeddings: .*read from/);
    assert.match(phases.join('\n'), /graph: .*\(cached\)/);
    assert.match(phases.join('\n'), /map: umap \(cached\)/);
    assert.deepEqual(
      files.map((f) => statSync(f).mtimeMs),
      mtimes,
    );
  } finally {
    again.close();
  }
  // Another number of samples is another source: computed again, and the cache replaced.
  const fewer = await prepareExplore({
    run,
    data: `mnist:${data}`,
    limit: 60,
    onPhase: (p, s) => phases.push(`${p}: ${s}`),
  });
  fewer.close();
  assert.match(phases.at(-4) ?? '', /embeddings: 60 x \d+ computed/);
});

test('--index hnsw: the same neighbours, the index cached in the run folder and read back', async () => {
  const phases: string[] = [];
  const onPhase = (p: string, summary: string): void => {
    phases.push(`${p}: ${summary}`);
  };
  for (let start = 0; start < 2; start++) {
    const s = await prepareExplore({ run, data: `mnist:${data}`, index: 'hnsw', onPhase, onWarning: () => {} });
    try {
      assert.equal(s.info.index.kind, 'hnsw');
      for (let i = 0; i < IDX_COUNT; i += 7) assertTopK(s.neighboursOf(i, 10), row(i), 10, i);
    } finally {
      s.close();
    }
  }
  assert.ok(existsSync(join(run, EXPLORE_FILES.hnsw)));
  assert.deepEqual(
    phases.filter((p) => p.startsWith('index')),
    ['index: HNSW (hnswlib)', 'index: HNSW (hnswlib) (cached)'],
  );
});
