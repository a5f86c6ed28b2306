// Reductions with dim/keepdim, value+index reductions, topk, sort and cumulative ops against PyTorch
// (test/golden/ops_reduction.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import type { DType } from '../../src/torch/index.js';
import { bool, dims, goldenSuite, int, num, optDims, optDtype, str } from './golden.js';

goldenSuite('reduction', {
  sum: (x, a) => x[0]!.sum(optDims(a.dim), bool(a.keepdim)),
  sum_dtype: (x, a) => x[0]!.sum(dims(a.dim), false, str<DType>(a.dtype)),
  mean: (x, a) => x[0]!.mean(optDims(a.dim), bool(a.keepdim)),
  prod: (x, a) => (a.dim === null ? x[0]!.prod() : x[0]!.prod(int(a.dim), bool(a.keepdim))),
  var: (x, a) => x[0]!.var(optDims(a.dim), bool(a.unbiased), bool(a.keepdim)),
  std: (x, a) => x[0]!.std(optDims(a.dim), bool(a.unbiased), bool(a.keepdim)),
  max_all: (x) => x[0]!.max(),
  min_all: (x) => x[0]!.min(),
  max_dim: (x, a) => x[0]!.max(int(a.dim), bool(a.keepdim)),
  min_dim: (x, a) => x[0]!.min(int(a.dim), bool(a.keepdim)),
  amax: (x, a) => x[0]!.amax(dims(a.dim), bool(a.keepdim)),
  amin: (x, a) => x[0]!.amin(dims(a.dim), bool(a.keepdim)),
  argmax: (x, a) => x[0]!.argmax(a.dim === null ? undefined : int(a.dim), bool(a.keepdim)),
  argmin: (x, a) => x[0]!.argmin(a.dim === null ? undefined : int(a.dim), bool(a.keepdim)),
  logsumexp: (x, a) => x[0]!.logsumexp(dims(a.dim), bool(a.keepdim)),
  norm: (x, a) => x[0]!.norm(num(a.p), optDims(a.dim), bool(a.keepdim)),
  all: (x, a) => (a.dim === null ? x[0]!.all() : x[0]!.all(int(a.dim), bool(a.keepdim))),
  any: (x, a) => (a.dim === null ? x[0]!.any() : x[0]!.any(int(a.dim), bool(a.keepdim))),
  topk: (x, a) => x[0]!.topk(int(a.k), int(a.dim), bool(a.largest)),
  sort: (x, a) => x[0]!.sort(int(a.dim), bool(a.descending)),
  argsort: (x, a) => x[0]!.argsort(int(a.dim), bool(a.descending)),
  cumsum: (x, a) => x[0]!.cumsum(int(a.dim)),
  cumsum_dtype: (x, a) => x[0]!.cumsum(int(a.dim), optDtype(a.dtype)),
  cumprod: (x, a) => x[0]!.cumprod(int(a.dim)),
});

test('reductions over an empty dim give the identity element, as PyTorch', () => {
  torch.scope(() => {
    const e = torch.zeros([3, 0]);
    assert.deepEqual(e.sum(1).tolist(), [0, 0, 0]);
    assert.deepEqual(e.prod(1).tolist(), [1, 1, 1]);
    assert.deepEqual(e.all(1).tolist(), [1, 1, 1]);
    assert.deepEqual(e.any(1).tolist(), [0, 0, 0]);
    assert.throws(() => e.max(1), /max\(\): Expected reduction dim 1 to have non-zero size|cannot perform reduction/);
  });
});

test('topk with sorted=false returns the same set as sorted=true', () => {
  torch.scope(() => {
    const x = torch.randn([50], { dtype: 'float64' });
    const [sortedVals] = x.topk(7);
    const [anyVals] = x.topk(7, -1, true, false);
    assert.deepEqual(anyVals.sort(-1, true)[0].tolist(), sortedVals.tolist());
  });
});
