import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { DataError } from '../../src/data/dataset.js';
import { defaultCacheDir, openImageFolder } from '../../src/data/folder.js';
import { openDataset } from '../../src/data/spec.js';
import { scratchDir } from './tmp.js';

const SIZE = 8;
const PLANE = SIZE * SIZE;

async function solid(path: string, w: number, h: number, rgb: [number, number, number]): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).toFile(
    path,
  );
}

/** 30x10 PNG: red, green, blue vertical thirds; a centre crop after the shorter-side resize is pure green. */
async function stripes(path: string): Promise<void> {
  const raw = Buffer.alloc(30 * 10 * 3);
  for (let y = 0; y < 10; y++) for (let x = 0; x < 30; x++) raw[(y * 30 + x) * 3 + Math.floor(x / 10)] = 255;
  await sharp(raw, { raw: { width: 30, height: 10, channels: 3 } })
    .png()
    .toFile(path);
}

async function grayPng(path: string, value: number): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await sharp(Buffer.alloc(144, value), { raw: { width: 12, height: 12, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toFile(path);
}

/** cats/{red.png, solid.jpg, stripes.png}, dogs/{broken.png (corrupt), gray.png, nested/deep.webp}, loose.png. */
async function makeLabelledFolder(root: string): Promise<void> {
  await solid(join(root, 'cats', 'red.png'), 40, 20, [255, 0, 0]);
  await solid(join(root, 'cats', 'solid.jpg'), 16, 16, [0, 0, 255]);
  await stripes(join(root, 'cats', 'stripes.png'));
  await grayPng(join(root, 'dogs', 'gray.png'), 128);
  await solid(join(root, 'dogs', 'nested', 'deep.webp'), 10, 10, [255, 255, 255]);
  writeFileSync(join(root, 'dogs', 'broken.png'), 'this is not an image');
  await solid(join(root, 'loose.png'), 4, 4, [0, 0, 0]);
}

const near = (a: number, b: number, tol = 3): boolean => Math.abs(a - b) <= tol;

test('labelled image folder: decode, resize/crop, skip corrupt, then reuse the cache', async () => {
  const tmp = scratchDir('folder');
  const root = join(tmp, 'pets');
  const cacheDir = join(tmp, 'cache');
  await makeLabelledFolder(root);
  const warnings: string[] = [];
  const ds = await openImageFolder(root, { imageSize: SIZE, cacheDir, onWarning: (m) => warnings.push(m) });
  assert.equal(ds.fromCache, false);
  assert.deepEqual([ds.length, ds.channels, ds.height, ds.width, ds.numClasses], [5, 3, SIZE, SIZE, 2]);
  assert.deepEqual(ds.classNames, ['cats', 'dogs']);
  assert.deepEqual([...ds.labels!], [0, 0, 0, 1, 1]);
  assert.deepEqual(
    ds.paths,
    ['cats/red.png', 'cats/solid.jpg', 'cats/stripes.png', 'dogs/gray.png', 'dogs/nested/deep.webp'].map((p) =>
      join(root, p),
    ),
  );
  assert.equal(ds.skipped.length, 1);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /^ignored 1 image directly in .*pets/);
  assert.equal(
    warnings[1]!,
    `skipped 1 entry: 1 not an image (first: ${join(root, 'dogs', 'broken.png')}: Input buffer contains unsupported ` +
      `image format)`,
  );

  const out = new Uint8Array(5 * 3 * PLANE);
  ds.readBatch([0, 1, 2, 3, 4], out);
  const px = (n: number, c: number, y: number, x: number): number => out[n * 3 * PLANE + c * PLANE + y * SIZE + x]!;
  assert.deepEqual([px(0, 0, 3, 3), px(0, 1, 3, 3), px(0, 2, 3, 3)], [255, 0, 0]);
  assert.ok(near(px(1, 0, 0, 7), 0, 8) && near(px(1, 2, 0, 7), 255, 8), 'JPEG stays blue');
  assert.deepEqual([px(2, 0, 4, 4), px(2, 1, 4, 4), px(2, 2, 4, 4)], [0, 255, 0]);
  assert.ok(
    [0, 1, 2].every((c) => near(px(3, c, 5, 5), 128, 1)),
    'grey PNG becomes 3 equal channels',
  );
  assert.ok([0, 1, 2].every((c) => px(4, c, 0, 0) === 255));
  ds.close();

  // Same files: nothing decoded. Overwrite the cache bytes to prove samples come from it.
  const cacheFile = ds.cachePath;
  writeFileSync(cacheFile, new Uint8Array(statSync(cacheFile).size).fill(77));
  const again = await openImageFolder(root, { imageSize: SIZE, cacheDir, onWarning: () => {} });
  assert.equal(again.fromCache, true);
  assert.deepEqual([...again.labels!], [0, 0, 0, 1, 1]);
  assert.equal(again.skipped.length, 1);
  const cached = new Uint8Array(3 * PLANE);
  again.readBatch([3], cached);
  assert.ok(cached.every((v) => v === 77));
  again.close();
  // Strict also fails on a reused cache that recorded a skipped file.
  await assert.rejects(
    openImageFolder(root, { imageSize: SIZE, cacheDir, strict: true, onWarning: () => {} }),
    (e: unknown) => e instanceof DataError && e.message.includes(join(root, 'dogs', 'broken.png')),
  );

  // A touched file invalidates the cache.
  utimesSync(join(root, 'cats', 'red.png'), new Date(), new Date(Date.now() + 5000));
  const rebuilt = await openImageFolder(root, { imageSize: SIZE, cacheDir, onWarning: () => {} });
  assert.equal(rebuilt.fromCache, false);
  rebuilt.readBatch([3], cached);
  assert.ok(near(cached[0]!, 128, 1));
  rebuilt.close();
  assert.deepEqual(
    readdirSync(cacheDir).filter((f) => f.endsWith('.tmp')),
    [],
  );

  // A different size or channel count is a different cache.
  const gray = await openImageFolder(root, { imageSize: 4, grayscale: true, cacheDir, onWarning: () => {} });
  assert.deepEqual([gray.fromCache, gray.channels, gray.height, gray.length], [false, 1, 4, 5]);
  const g = new Uint8Array(16);
  gray.readBatch([3], g);
  assert.ok(g.every((v) => near(v, 128, 1)));
  gray.close();
});

test('strict mode throws a DataError naming the unreadable file', async () => {
  const tmp = scratchDir('strict');
  const root = join(tmp, 'imgs');
  await makeLabelledFolder(root);
  await assert.rejects(
    openImageFolder(root, { imageSize: SIZE, cacheDir: join(tmp, 'c'), strict: true, onWarning: () => {} }),
    (e: unknown) =>
      e instanceof DataError && e.message.startsWith(`unreadable image ${join(root, 'dogs', 'broken.png')}: `),
  );
  assert.deepEqual(readdirSync(join(tmp, 'c')), [], 'no partial cache left behind');
});

test('flat folder is unlabelled; empty folder is a DataError', async () => {
  const tmp = scratchDir('flat');
  await solid(join(tmp, 'flat', 'a.png'), 9, 9, [10, 20, 30]);
  await solid(join(tmp, 'flat', 'b.JPG'), 9, 9, [200, 200, 200]);
  writeFileSync(join(tmp, 'flat', 'notes.txt'), 'ignored');
  const ds = await openImageFolder(join(tmp, 'flat'), { imageSize: SIZE, cacheDir: join(tmp, 'c') });
  assert.deepEqual([ds.length, ds.numClasses, ds.labels, ds.classNames], [2, 0, null, undefined]);
  const out = new Uint8Array(3 * PLANE);
  ds.readBatch([0], out);
  assert.deepEqual([out[0], out[PLANE], out[2 * PLANE]], [10, 20, 30]);
  ds.close();
  mkdirSync(join(tmp, 'empty'));
  await assert.rejects(
    openImageFolder(join(tmp, 'empty'), { imageSize: SIZE, cacheDir: join(tmp, 'c') }),
    (e: unknown) => e instanceof DataError && /no images .* found in .*empty/.test(e.message),
  );
});

test('folder specs: train/ and val/ sub-folders, test split inside the train root, default cache dir', async () => {
  const tmp = scratchDir('spec');
  const a = join(tmp, 'a');
  for (const split of ['train', 'val']) {
    await solid(join(a, split, 'x', '1.png'), 8, 8, [1, 1, 1]);
    await solid(join(a, split, 'y', '2.png'), 8, 8, [2, 2, 2]);
    await solid(join(a, split, 'y', '3.png'), 8, 8, [3, 3, 3]);
  }
  // A class only the training split has must not shift the test labels.
  await solid(join(a, 'train', 'w', '0.png'), 8, 8, [0, 0, 0]);
  const tr = await openDataset(`folder:${a}`, { split: 'train', imageSize: SIZE });
  const te = await openDataset(`folder:${a}`, { split: 'test', imageSize: SIZE });
  assert.deepEqual([tr.name, tr.length, te.name, te.length], ['a/train', 4, 'a/test', 3]);
  assert.deepEqual(te.classNames, ['w', 'x', 'y']);
  assert.deepEqual([...te.labels!], [1, 2, 2]);
  assert.deepEqual(te.paths![0], join(a, 'val', 'x', '1.png'));
  assert.ok(existsSync(join(a, '.simclr-cache')), 'cache defaults to DIR/.simclr-cache');
  tr.close();
  te.close();
  await solid(join(a, 'val', 'v', '1.png'), 8, 8, [0, 0, 0]);
  await assert.rejects(
    openDataset(`folder:${a}`, { split: 'test', imageSize: SIZE }),
    /class folder .*val\/v is not one of the training classes \(w, x, y\)/,
  );

  // No train/: DIR itself is the train root, minus its test/ folder.
  const b = join(tmp, 'b');
  await solid(join(b, 'p', '1.png'), 8, 8, [5, 5, 5]);
  await solid(join(b, 'q', '1.png'), 8, 8, [6, 6, 6]);
  await solid(join(b, 'test', 'p', '1.png'), 8, 8, [7, 7, 7]);
  const btr = await openDataset(`folder:${b}`, { split: 'train+unlabeled', imageSize: SIZE, cacheDir: join(tmp, 'c') });
  assert.deepEqual(btr.classNames, ['p', 'q']);
  btr.close();
  await assert.rejects(
    openDataset(`folder:${b}`, { split: 'unlabeled' }),
    /data spec 'folder:.*': folder has no unlabeled split/,
  );
  await assert.rejects(
    openDataset(`folder:${join(b, 'p')}`, { split: 'test' }),
    (e: unknown) => e instanceof DataError && e.message.includes(`neither ${join(b, 'p', 'test')} nor`),
  );
});

// ---- Issue 15, items 10 and 11: walking folders that hold links, odd names and unreadable entries; the cache's trust.

const IS_ROOT = process.getuid?.() === 0;
/** Who the child runs as in the permission tests: root reads everything, so a root test runs its child as nobody. */
const OTHER = { uid: 65534, gid: 65534 };
const FOLDER_JS = new URL('../../src/data/folder.js', import.meta.url).href;

interface ChildOpen {
  error?: string;
  length?: number;
  classNames?: string[] | undefined;
  labels?: number[] | null;
  paths?: string[];
  skipped?: { path: string; kind: string; reason: string }[];
  cachePath?: string;
  warnings: string[];
}

/**
 * openImageFolder in a child process (as nobody when `asOther` and this is root), so a walk that never ends fails
 * the test at the timeout instead of hanging it, and permissions apply to the reader.
 */
function openInChild(
  root: string,
  opts: Record<string, unknown>,
  run: { asOther?: boolean; env?: Record<string, string> } = {},
): ChildOpen {
  const script =
    `
    const { openImageFolder } = await import(${JSON.stringify(FOLDER_JS)});
    const warnings = [];
    try {
      const ds = await openImageFolder(process.argv[1], { ...JSON.parse(process.argv[2]), onWarning: (m) => ` +
    `warnings.push(m) });
      console.log(JSON.stringify({ length: ds.length, classNames: ds.classNames, labels: ds.labels && ` +
    `[...ds.labels], paths: ds.paths,
        skipped: ds.skipped, cachePath: ds.cachePath, warnings }));
      ds.close();
    } catch (e) {
      console.log(JSON.stringify({ error: String(e.message), warnings }));
    }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, root, JSON.stringify(opts)], {
    encoding: 'utf8',
    timeout: 60_000,
    killSignal: 'SIGKILL',
    cwd: '/',
    env: { ...process.env, ...run.env },
    ...(run.asOther && IS_ROOT ? OTHER : {}),
  });
  assert.equal(r.signal, null, `the child was killed (${r.signal}): the walk did not finish within 60 s`);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as ChildOpen;
}

/** A scratch folder everyone may enter (mkdtemp makes it private), for children running as another user. */
function openScratch(prefix: string): string {
  const dir = scratchDir(prefix);
  chmodSync(dir, 0o755);
  return dir;
}

const kinds = (skipped: readonly { kind: string }[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const s of skipped) out[s.kind] = (out[s.kind] ?? 0) + 1;
  return out;
};

test('links to folders and files: each folder and file is listed once, no link loops, no fake classes', async () => {
  const tmp = scratchDir('links');
  const root = join(tmp, 'set');
  await solid(join(root, 'a', '1.png'), 8, 8, [10, 0, 0]);
  await solid(join(root, 'a', '2.png'), 8, 8, [20, 0, 0]);
  await solid(join(root, 'b', '3.png'), 8, 8, [30, 0, 0]);
  symlinkSync('.', join(root, 'a', 'self')); // seen: 40x the dataset in a fake class
  symlinkSync('..', join(root, 'a', 'up')); // two links up: seen hanging the scan for good
  symlinkSync('..', join(root, 'b', 'up'));
  symlinkSync('a', join(root, 'c')); // a second name for class a: not a class of its own
  symlinkSync('../a', join(root, 'b', 'alias'));
  symlinkSync('../b/3.png', join(root, 'a', '0-link.png')); // walked first, but b/3.png is where the file lives
  symlinkSync('missing.png', join(root, 'a', 'gone.png'));
  execFileSync('mkfifo', [join(root, 'a', 'pipe.png')]);

  const r = openInChild(root, { imageSize: SIZE, cacheDir: join(tmp, 'cache') });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.classNames, ['a', 'b']);
  assert.deepEqual(
    r.paths,
    ['a/1.png', 'a/2.png', 'b/3.png'].map((p) => join(root, p)),
  );
  assert.deepEqual(r.labels, [0, 0, 1]);
  assert.deepEqual(kinds(r.skipped!), { duplicate: 6, 'broken link': 1, 'not a regular file': 1 });
  const dup = r
    .skipped!.filter((s) => s.kind === 'duplicate')
    .map((s) => s.path)
    .sort();
  assert.deepEqual(
    dup,
    ['a/0-link.png', 'a/self', 'a/up', 'b/alias', 'b/up', 'c'].map((p) => join(root, p)),
  );
  assert.equal(r.warnings.length, 1);
  assert.match(
    r.warnings[0]!,
    new RegExp(
      String.raw`^skipped 8 entries: 6 duplicate \(first: .*\), 1 broken link \(first: .*gone\.png: a ` +
        String.raw`link to nothing\), 1 not a regular file \(first: .*pipe\.png\)$`,
    ),
  );

  // A flat folder with a link to itself stays flat.
  const flat = join(tmp, 'flat');
  await solid(join(flat, 'x.png'), 8, 8, [1, 2, 3]);
  symlinkSync('.', join(flat, 'again'));
  const f = openInChild(flat, { imageSize: SIZE, cacheDir: join(tmp, 'cache') });
  assert.deepEqual([f.length, f.classNames, f.labels], [1, undefined, null]);
  assert.deepEqual(kinds(f.skipped!), { duplicate: 1 });
});

test('names that are not UTF-8 open, and the cache keeps them', async () => {
  const tmp = scratchDir('names');
  const root = join(tmp, 'set');
  const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1'); // é as the single byte 0xe9
  mkdirSync(join(root, 'ok'), { recursive: true });
  const odd = Buffer.concat([Buffer.from(`${join(root, 'ok')}/`), latin1('caf\u00e9.png')]);
  writeFileSync(
    odd,
    await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 1, g: 2, b: 3 } } })
      .png()
      .toBuffer(),
  );
  const oddDir = Buffer.concat([Buffer.from(`${root}/`), latin1('\u00e9t\u00e9')]);
  mkdirSync(oddDir);
  writeFileSync(
    Buffer.concat([oddDir, Buffer.from('/x.png')]),
    await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 4, g: 5, b: 6 } } })
      .png()
      .toBuffer(),
  );
  await solid(join(root, 'ok', 'plain.png'), 8, 8, [7, 8, 9]);

  const cacheDir = join(tmp, 'cache');
  const ds = await openImageFolder(root, { imageSize: SIZE, cacheDir, onWarning: () => {} });
  assert.equal(ds.length, 3);
  assert.deepEqual(ds.classNames, ['ok', '\ufffdt\ufffd']);
  assert.deepEqual(ds.paths, [
    join(root, 'ok', 'caf\ufffd.png'),
    join(root, 'ok', 'plain.png'),
    join(root, '\ufffdt\ufffd', 'x.png'),
  ]);
  const out = new Uint8Array(3 * 3 * PLANE);
  ds.readBatch([0, 1, 2], out);
  assert.deepEqual(
    [0, 1, 2].map((n) => out[n * 3 * PLANE]),
    [1, 7, 4],
  );
  ds.close();
  const again = await openImageFolder(root, { imageSize: SIZE, cacheDir, onWarning: () => {} });
  assert.deepEqual([again.fromCache, again.length], [true, 3]);
  again.close();
});

test('unreadable files and folders are skipped as "permission denied", not as an unsupported format', async () => {
  const tmp = openScratch('perm');
  const root = join(tmp, 'set');
  await solid(join(root, 'a', 'ok.png'), 8, 8, [1, 1, 1]);
  await solid(join(root, 'a', 'secret.png'), 8, 8, [2, 2, 2]);
  await solid(join(root, 'b', 'ok.png'), 8, 8, [3, 3, 3]);
  await solid(join(root, 'locked', 'hidden.png'), 8, 8, [4, 4, 4]);
  writeFileSync(join(root, 'b', 'junk.png'), 'not an image');
  chmodSync(join(root, 'a', 'secret.png'), 0o000);
  chmodSync(join(root, 'locked'), 0o000);
  const cacheDir = join(tmp, 'cache');
  mkdirSync(cacheDir);
  if (IS_ROOT) chownSync(cacheDir, OTHER.uid, OTHER.gid);

  const r = openInChild(root, { imageSize: SIZE, cacheDir }, { asOther: true });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.paths, [join(root, 'a', 'ok.png'), join(root, 'b', 'ok.png')]);
  assert.deepEqual(
    r.skipped!.map((s) => [s.path, s.kind, s.reason]),
    [
      [join(root, 'locked'), 'permission denied', 'cannot list the folder: permission denied'],
      [join(root, 'a', 'secret.png'), 'permission denied', 'permission denied'],
      [join(root, 'b', 'junk.png'), 'not an image', 'Input buffer contains unsupported image format'],
    ],
  );
  assert.match(
    r.warnings.at(-1)!,
    new RegExp(
      String.raw`^skipped 3 entries: 2 permission denied \(first: .*locked: cannot list the folder: permission ` +
        String.raw`denied\), 1 not an image \(first: .*junk\.png: Input buffer contains unsupported image ` +
        String.raw`format\)$`,
    ),
  );
  const strict = openInChild(root, { imageSize: SIZE, cacheDir, strict: true }, { asOther: true });
  assert.equal(strict.error, `unreadable image ${join(root, 'locked')}: cannot list the folder: permission denied`);
});

test(
  'a folder the user cannot write caches in the per-user cache folder ($XDG_CACHE_HOME/simclr, else ' +
    '~/.cache/simclr), private to the user',
  async () => {
    const tmp = openScratch('usercache');
    const root = join(tmp, 'set');
    await solid(join(root, 'x', '1.png'), 8, 8, [1, 1, 1]);
    // Not writable by the reader: root's folder for nobody, a read-only one for anyone else.
    if (!IS_ROOT) chmodSync(root, 0o555);
    const home = join(tmp, 'home');
    mkdirSync(home);
    if (IS_ROOT) chownSync(home, OTHER.uid, OTHER.gid);

    const xdg = openInChild(
      root,
      { imageSize: SIZE },
      { asOther: true, env: { XDG_CACHE_HOME: join(home, 'xdg'), HOME: home } },
    );
    assert.equal(xdg.error, undefined);
    assert.equal(dirname(xdg.cachePath!), join(home, 'xdg', 'simclr'));
    const plain = openInChild(root, { imageSize: SIZE }, { asOther: true, env: { XDG_CACHE_HOME: '', HOME: home } });
    assert.equal(dirname(plain.cachePath!), join(home, '.cache', 'simclr'));
    const uid = IS_ROOT ? OTHER.uid : process.getuid!();
    for (const dir of [join(home, 'xdg', 'simclr'), join(home, '.cache', 'simclr')]) {
      const st = statSync(dir);
      assert.deepEqual([st.uid, st.mode & 0o777], [uid, 0o700], dir);
      for (const f of readdirSync(dir)) assert.equal(statSync(join(dir, f)).mode & 0o077, 0, `${f} is private`);
    }
    assert.equal(existsSync(join(root, '.simclr-cache')), false);
    if (!IS_ROOT) chmodSync(root, 0o755);
  },
);

test('a .simclr-cache folder or cache files owned by another user are not used; links there are not followed', {
  skip: IS_ROOT ? false : 'needs root to make files owned by another user',
}, async () => {
  const tmp = scratchDir('trust');
  const root = join(tmp, 'set');
  await solid(join(root, 'x', '1.png'), 8, 8, [40, 50, 60]);
  await solid(join(root, 'x', '2.png'), 8, 8, [70, 80, 90]);

  // Another user's .simclr-cache in the folder: the per-user folder instead.
  mkdirSync(join(root, '.simclr-cache'));
  chownSync(join(root, '.simclr-cache'), OTHER.uid, OTHER.gid);
  const saved = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = join(tmp, 'xdg');
  try {
    assert.equal(defaultCacheDir(root), join(tmp, 'xdg', 'simclr'));
  } finally {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
  }

  // Cache files another user owns (seen: a second account training on all-white pixels the first one wrote).
  const cacheDir = join(tmp, 'cache');
  const first = await openImageFolder(root, { imageSize: SIZE, cacheDir, onWarning: () => {} });
  const dataPath = first.cachePath;
  const sidecarPath = dataPath.replace(/\.u8$/, '.json');
  first.close();
  writeFileSync(dataPath, new Uint8Array(statSync(dataPath).size).fill(255));
  chownSync(dataPath, OTHER.uid, OTHER.gid);
  chownSync(sidecarPath, OTHER.uid, OTHER.gid);
  const warnings: string[] = [];
  const ds = await openImageFolder(root, { imageSize: SIZE, cacheDir, onWarning: (m) => warnings.push(m) });
  assert.equal(ds.fromCache, false);
  assert.deepEqual(warnings, [
    `not using the cache file ${sidecarPath}: owned by uid ${OTHER.uid}, not by this user (uid 0); rebuilding the ` +
      `cache`,
  ]);
  const out = new Uint8Array(3 * PLANE);
  ds.readBatch([0], out);
  assert.deepEqual([out[0], out[PLANE], out[2 * PLANE]], [40, 50, 60]);
  ds.close();
  assert.equal(statSync(dataPath).uid, 0);

  // Only the data file is someone else's, or writable by others, or a link: rebuilt as well.
  for (const plant of [
    (): void => chownSync(dataPath, OTHER.uid, OTHER.gid),
    (): void => chmodSync(dataPath, 0o666),
    (): void => {
      renameSync(dataPath, `${dataPath}.real`);
      symlinkSync(`${dataPath}.real`, dataPath);
    },
  ]) {
    plant();
    const w: string[] = [];
    const again = await openImageFolder(root, { imageSize: SIZE, cacheDir, onWarning: (m) => w.push(m) });
    assert.equal(again.fromCache, false);
    assert.equal(w.length, 1);
    assert.match(
      w[0]!,
      new RegExp(
        `^not using the cache file ${dataPath}: (owned by uid ${OTHER.uid}, not by this user \\(uid 0\\)|writable ` +
          `by other users \\(mode 666\\)|a symbolic link); rebuilding the cache$`,
      ),
    );
    again.close();
    assert.ok(lstatSync(dataPath).isFile());
  }
});

test('cache files are written under fresh names, never through a link planted at the temporary name', async () => {
  const tmp = scratchDir('tmplink');
  const root = join(tmp, 'set');
  await solid(join(root, 'x', '1.png'), 8, 8, [1, 2, 3]);
  const cacheDir = join(tmp, 'cache');
  const first = await openImageFolder(root, { imageSize: SIZE, cacheDir, onWarning: () => {} });
  const dataPath = first.cachePath;
  const sidecarPath = dataPath.replace(/\.u8$/, '.json');
  first.close();
  rmSync(dataPath);
  rmSync(sidecarPath);
  // The names this process would have used before: another user plants links there to files of this user.
  const victim = join(tmp, 'victim.txt');
  writeFileSync(victim, 'precious');
  for (const p of [dataPath, sidecarPath]) symlinkSync(victim, `${p}.${process.pid}.tmp`);
  const ds = await openImageFolder(root, { imageSize: SIZE, cacheDir, onWarning: () => {} });
  assert.equal(ds.length, 1);
  ds.close();
  assert.equal(readFileSync(victim, 'utf8'), 'precious');
  assert.ok(lstatSync(dataPath).isFile() && lstatSync(sidecarPath).isFile());
  assert.deepEqual(
    readdirSync(cacheDir).filter((f) => f.endsWith('.tmp') && !lstatSync(join(cacheDir, f)).isSymbolicLink()),
    [],
  );
});
