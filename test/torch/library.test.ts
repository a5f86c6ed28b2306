// Custom operator libraries (torch.ops.load_library): loading, lookup through the dispatcher, argument errors.
// The library under test is the one this package builds (native/build/Release/simclr_ops.node).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import * as torch from '../../src/torch/index.js';

/** The system's GObject library, as Debian's libtorch links it; absent on some systems. */
const SYSTEM_GOBJECT = [
  '/lib/x86_64-linux-gnu/libgobject-2.0.so.0',
  '/lib/aarch64-linux-gnu/libgobject-2.0.so.0',
  '/usr/lib64/libgobject-2.0.so.0',
].find(existsSync);

test('loadLibrary names a library it cannot load', () => {
  assert.throws(
    () => torch.loadLibrary('/nonexistent/libnothing.so'),
    /loadLibrary: cannot load \/nonexistent\/libnothing\.so/,
  );
});

test('a loaded library registers its operators with the dispatcher; unknown ones resolve to null', () => {
  const path = torch.builtLibraryPath('simclr_ops.node');
  assert.ok(path !== null, 'native/build/Release/simclr_ops.node is not built; run npm run build');
  assert.equal(torch.builtLibraryPath('no-such-library.so'), null);
  torch.loadLibrary(path);
  torch.loadLibrary(path); // idempotent
  assert.equal(torch.customOp('simclr::no_such_operator'), null);
  assert.throws(() => torch.customOp('augment_views'), /namespace::name/);
  const op = torch.customOp('simclr::augment_views');
  assert.notEqual(op, null);
  torch.scope(() => {
    const images = torch.full([1, 1, 4, 4], 255, { dtype: 'uint8' });
    // Identity view of image 0: full crop, no flip, no jitter, grayscale, blur or solarize.
    const params = torch.tensor(Float32Array.of(0, 0, 0, 4, 4, 0, 0, 1, 1, 1, 0, 0, 1, 2, 3, 0, 0, 0), {
      shape: [1, 18],
    });
    const out = op!(images, params, 2, 1, null, null, false) as torch.Tensor;
    assert.ok(out instanceof torch.Tensor);
    assert.deepEqual(out.shape, [1, 1, 2, 2]);
    assert.deepEqual(Array.from(out.toArray() as Float32Array), [1, 1, 1, 1]);
    // Errors from the operator and from argument conversion reach JavaScript with the operator's message.
    assert.throws(() => op!(images.float(), params, 2, 1, null, null, false), /images must be uint8/);
    assert.throws(() => op!(images, params, 'two', 1, null, null, false), /augment_views|size/);
  });
});

// Issue 15, item 13: with Debian's libtorch, which links the system's GLib, loading simclr_ops.node globally put that
// GLib in front of the copy bundled in sharp's libvips, and every process that then used sharp (simclr augment)
// printed 32 GLib-GObject-CRITICAL lines. Loading the system GObject library the same way reproduces it with any
// libtorch; in a child process, so its stderr can be read and a global load cannot leak into this one.
test('a library loaded with loadLibrary keeps its symbols to itself: sharp still uses its own GLib', {
  skip: SYSTEM_GOBJECT === undefined ? 'no system libgobject-2.0 here' : false,
}, () => {
  const script =
    `
    const torch = await import(${JSON.stringify(new URL('../../src/torch/index.js', import.meta.url).href)});
    torch.loadLibrary(${JSON.stringify(SYSTEM_GOBJECT)});
    const sharp = (await ` +
    `import(${JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve('sharp')).href)})).default;
    const png = await sharp(Buffer.alloc(12, 9), { raw: { width: 2, height: 2, channels: 3 } }).png().toBuffer();
    const { data } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    console.log(data.join(','));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), new Array(12).fill(9).join(','));
  assert.doesNotMatch(r.stderr, /CRITICAL/, r.stderr.split('\n').slice(0, 3).join('\n'));
});
