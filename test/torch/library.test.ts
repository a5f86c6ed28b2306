// Custom operator libraries (torch.ops.load_library): loading, lookup through the dispatcher, argument errors.
// The library under test is the one this package builds (native/build/Release/simclr_ops.node).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';


test('loadLibrary names a library it cannot load', () => {
  assert.throws(() => torch.loadLibrary('/nonexistent/libnothing.so'), /loadLibrary: cannot load \/nonexistent\/libnothing\.so/);
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
    const params = torch.tensor(Float32Array.of(0, 0, 0, 4, 4, 0, 0, 1, 1, 1, 0, 0, 1, 2, 3, 0, 0, 0), { shape: [1, 18] });
    const out = op!(images, params, 2, 1, null, null, false) as torch.Tensor;
    assert.ok(out instanceof torch.Tensor);
    assert.deepEqual(out.shape, [1, 1, 2, 2]);
    assert.deepEqual(Array.from(out.toArray() as Float32Array), [1, 1, 1, 1]);
    // Errors from the operator and from argument conversion reach JavaScript with the operator's message.
    assert.throws(() => op!(images.float(), params, 2, 1, null, null, false), /images must be uint8/);
    assert.throws(() => op!(images, params, 'two', 1, null, null, false), /augment_views|size/);
  });
});
