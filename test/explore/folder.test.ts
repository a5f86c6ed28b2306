// The explore server over a folder: dataset: its files are served exactly and only when they are the dataset's and
// live inside the folder (no `..`, encoded slashes or links out), thumbnails come from the files, duplicates and the
// odd image are found.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { prepareExplore, type ExploreSession } from '../../src/explore/session.js';
import { startExploreServer } from '../../src/explore/server.js';
import { trainTinyRun, writeExploreFolder, writeExploreIdx } from './fixture.js';
import { request } from './http.js';

const dir = mkdtempSync(join(tmpdir(), 'simclr-explore-folder-'));
const pics = join(dir, 'data', 'pics');
let secret: string;
let session: ExploreSession;
let app: FastifyInstance;
let url: string;
let paths: string[];

before(async () => {
  mkdirSync(pics, { recursive: true });
  secret = await writeExploreFolder(pics);
  // A link to a folder outside: its images become samples, but none of its files may be served.
  mkdirSync(join(dir, 'elsewhere'));
  writeFileSync(join(dir, 'elsewhere', 'private.png'), readFileSync(secret));
  symlinkSync(join(dir, 'elsewhere'), join(pics, 'b', 'linked'));
  const idx = join(dir, 'idx');
  mkdirSync(idx);
  writeExploreIdx(idx);
  await trainTinyRun(join(dir, 'run'), `mnist:${idx}`);
  session = await prepareExplore({ run: join(dir, 'run'), data: `folder:${pics}`, onWarning: () => {} });
  ({ app, url } = await startExploreServer(session, { host: '127.0.0.1', port: 0 }));
  paths = (await request(url, '/api/map')).json<{ paths: string[] }>().paths;
});

after(async () => {
  await app?.close();
  session?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the map lists every image relative to the folder; info says files are served', async () => {
  const info = (await request(url, '/api/info')).json<{ folder: boolean; count: number; classNames: string[] }>();
  assert.equal(info.folder, true);
  assert.deepEqual(info.classNames, ['a', 'b']);
  assert.equal(paths.length, info.count);
  for (const p of ['a/img0.png', 'a/zlink.png', 'b/dup.png', 'b/odd.png', 'b/linked/private.png'])
    assert.ok(paths.includes(p), `${p} in ${paths.join(' ')}`);
});

test("/files/ serves a dataset file's bytes, and nothing else", async () => {
  const ok = await request(url, '/files/a/img0.png');
  assert.equal(ok.status, 200);
  assert.equal(ok.type, 'image/png');
  assert.deepEqual(ok.body, readFileSync(join(pics, 'a', 'img0.png')));
  assert.equal((await request(url, '/files/b/img%31.png')).status, 200, 'percent-encoded letters are fine');

  const refused: [string, number][] = [
    ['/files/a/../b/dup.png', 400],
    ['/files/a/%2e%2e/b/dup.png', 400],
    ['/files/%2e%2e/outside/secret.png', 400],
    ['/files/../outside/secret.png', 400],
    ['/files/a%2fimg0.png', 400],
    ['/files/a%2Fimg0.png', 400],
    ['/files/a%5cimg0.png', 400],
    ['/files/a/./img0.png', 400],
    ['/files/a//img0.png', 400],
    ['/files/a/img0.png%00', 400],
    ['/files/%E0%A4%A', 400],
    ['/files/', 400],
    ['/files/a/zlink.png', 403],
    ['/files/b/linked/private.png', 403],
    ['/files/a/missing.png', 404],
    ['/files/a', 404],
    ['/files/.simclr-cache', 404],
    [`/files/${encodeURIComponent(secret)}`, 400],
  ];
  for (const [path, status] of refused) {
    const r = await request(url, path);
    assert.equal(r.status, status, `${path}: ${r.status} ${r.body.toString().slice(0, 100)}`);
    assert.match(r.json<{ error: string }>().error, /./);
    assert.ok(!r.body.includes(readFileSync(secret)), `${path} leaked the outside file`);
  }
  assert.equal((await request(url, '/api/info')).status, 200);
});

test('thumbnails: from the file inside the folder, from the decoded pixels for a link out of it', async () => {
  const inside = await request(url, `/thumb/${paths.indexOf('a/img0.png')}.png`);
  assert.equal(inside.status, 200);
  const meta = await sharp(inside.body).metadata();
  assert.deepEqual([meta.width, meta.height], [32, 32], "the file's own size (within 128 px)");
  const outside = await request(url, `/thumb/${paths.indexOf('a/zlink.png')}.png`);
  assert.equal(outside.status, 200);
  const m2 = await sharp(outside.body).metadata();
  assert.deepEqual([m2.width, m2.height, m2.channels], [28, 28, 1], "the run's decoded 28 px gray sample");
});

test('the copied image is a duplicate of its original; the checkerboard is the first outlier', async () => {
  const d = (await request(url, '/api/duplicates?threshold=0.99999')).json<{ pairs: { a: number; b: number }[] }>();
  const named = d.pairs.map((p) => [paths[p.a], paths[p.b]].sort().join(' '));
  assert.ok(named.includes('a/img3.png b/dup.png'), named.join(', '));
  const o = (await request(url, '/api/outliers?limit=1')).json<{ items: { index: number }[] }>();
  assert.equal(paths[o.items[0]!.index], 'b/odd.png');
});
