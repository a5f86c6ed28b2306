// Shape ops, joining and splitting, basic and advanced indexing through t.index(...), gather/scatter and masks
// against PyTorch (test/golden/ops_shape.json); views are also checked to share storage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { bool, dims, goldenSuite, indexSpec, int, ints, num, optNum, str } from './golden.js';

goldenSuite('shape', {
  reshape: (x, a) => x[0]!.reshape(ints(a.shape)),
  reshape_t: (x, a) => x[0]!.t().reshape(ints(a.shape)),
  view: (x, a) => x[0]!.view(ints(a.shape)),
  viewAs: (x) => x[0]!.viewAs(x[1]!),
  reshapeAs: (x) => x[0]!.reshapeAs(x[1]!),
  flatten: (x, a) => x[0]!.flatten(int(a.start), int(a.end)),
  unflatten: (x, a) => x[0]!.unflatten(int(a.dim), ints(a.sizes)),
  squeeze: (x, a) => x[0]!.squeeze(optNum(a.dim)),
  unsqueeze: (x, a) => x[0]!.unsqueeze(int(a.dim)),
  permute: (x, a) => x[0]!.permute(ints(a.dims)),
  transpose: (x, a) => x[0]!.transpose(int(a.dim0), int(a.dim1)),
  movedim: (x, a) => x[0]!.movedim(int(a.source), int(a.destination)),
  expand: (x, a) => x[0]!.expand(ints(a.shape)),
  expandAs: (x) => x[0]!.expandAs(x[1]!),
  repeat: (x, a) => x[0]!.repeat(ints(a.repeats)),
  repeatInterleave: (x, a) => x[0]!.repeatInterleave(int(a.repeats), optNum(a.dim)),
  cat: (x, a) => torch.cat(x, int(a.dim)),
  stack: (x, a) => torch.stack(x, int(a.dim)),
  broadcastTensors: (x) => torch.broadcastTensors(x),
  split: (x, a) => x[0]!.split(dims(a.size), int(a.dim)),
  chunk: (x, a) => x[0]!.chunk(int(a.chunks), int(a.dim)),
  unbind: (x, a) => x[0]!.unbind(int(a.dim)),
  narrow: (x, a) => x[0]!.narrow(int(a.dim), int(a.start), int(a.length)),
  select: (x, a) => x[0]!.select(int(a.dim), int(a.index)),
  index: (x, a) => x[0]!.index(...indexSpec(a.spec, x)),
  indexSelect: (x, a) => x[0]!.indexSelect(int(a.dim), x[1]!),
  gather: (x, a) => x[0]!.gather(int(a.dim), x[1]!),
  scatter: (x, a) => x[0]!.scatter(int(a.dim), x[1]!, x[2]!),
  scatter_value: (x, a) => x[0]!.scatter(int(a.dim), x[1]!, num(a.value)),
  scatter_reduce: (x, a) => x[0]!.scatter(int(a.dim), x[1]!, x[2]!, str<'add' | 'multiply'>(a.reduce)),
  scatterAdd: (x, a) => x[0]!.scatterAdd(int(a.dim), x[1]!, x[2]!),
  maskedFill: (x, a) => x[0]!.maskedFill(x[1]!, num(a.value)),
  maskedFill_tensor: (x) => x[0]!.maskedFill(x[1]!, x[2]!),
  maskedSelect: (x) => x[0]!.maskedSelect(x[1]!),
  flip: (x, a) => x[0]!.flip(ints(a.dims)),
  roll: (x, a) => x[0]!.roll(dims(a.shifts), dims(a.dims)),
  tril: (x, a) => x[0]!.tril(int(a.diagonal)),
  triu: (x, a) => x[0]!.triu(int(a.diagonal)),
  diag: (x, a) => x[0]!.diag(int(a.diagonal)),
  nonzero: (x) => x[0]!.nonzero(),
  indexPut_: (x, a) => x[0]!.clone().indexPut_([x[1]!], x[2]!, bool(a.accumulate)),
  indexAdd_: (x, a) => x[0]!.clone().indexAdd_(int(a.dim), x[1]!, x[2]!, num(a.alpha)),
  indexFill_: (x, a) => x[0]!.clone().indexFill_(int(a.dim), x[1]!, num(a.value)),
});

test('views share storage with their base: index with ints and slices, view, transpose, narrow, select, expand', () => {
  torch.scope(() => {
    const base = torch.zeros([3, 4], { dtype: 'float64' });
    const views = [
      base.index(1),
      base.index(torch.slice(0, 2), 2),
      base.view(12),
      base.t(),
      base.narrow(1, 1, 2),
      base.select(0, 2),
      base.index(null, '...'),
      base.flatten(),
      base.unsqueeze(0),
      base.permute(1, 0),
    ];
    views.forEach((v, i) => {
      v.fill_(i + 1);
      assert.equal(
        base
          .eq(i + 1)
          .sum()
          .item(),
        v.numel(),
        `view ${i} writes through`,
      );
      base.zero_();
    });
    assert.deepEqual(base.index(0).expand(2, 4).stride(), [0, 1]);
  });
});

test('advanced indexing copies rather than views', () => {
  torch.scope(() => {
    const base = torch.zeros([3, 4]);
    const picked = base.index(torch.tensor(BigInt64Array.of(0n, 2n)));
    picked.fill_(1);
    assert.equal(base.sum().item(), 0);
    base.indexPut_([torch.tensor(BigInt64Array.of(1n))], 5);
    assert.deepEqual(base.index(1).tolist(), [5, 5, 5, 5]);
  });
});

test('index() rejects too many indices, a second ellipsis and out-of-range integers', () => {
  torch.scope(() => {
    const t = torch.zeros([2, 3]);
    assert.throws(() => t.index(0, 0, 0), RangeError);
    assert.throws(() => t.index('...', 0, '...'), TypeError);
    assert.throws(() => t.index(2), RangeError);
    assert.throws(() => t.index(0, -4), RangeError);
    assert.throws(() => torch.slice(0, 2, 0), RangeError);
    assert.throws(() => torch.slice(0, 2, -1), RangeError);
  });
});

test('index() without arguments is an alias of the whole tensor', () => {
  torch.scope(() => {
    const t = torch.arange(6).reshape(2, 3);
    const all = t.index();
    assert.notEqual(all, t);
    assert.equal(all.equal(t), true);
    all.index(0, 0).fill_(9);
    assert.equal(t.index(0, 0).item(), 9);
  });
});

test('metadata: size, stride, ndim, numel and dtype predicates', () => {
  torch.scope(() => {
    const t = torch.zeros([2, 3, 4], { dtype: 'float64' });
    assert.deepEqual(t.size(), [2, 3, 4]);
    assert.equal(t.size(-1), 4);
    assert.equal(t.size(0), 2);
    assert.throws(() => t.size(3), RangeError);
    assert.throws(() => t.size(-4), RangeError);
    assert.deepEqual(t.stride(), [12, 4, 1]);
    assert.equal(t.ndim, 3);
    assert.equal(t.dim(), 3);
    assert.equal(t.numel(), 24);
    assert.equal(t.isFloatingPoint(), true);
    assert.equal(t.long().isFloatingPoint(), false);
    assert.equal(t.device, 'cpu');
    assert.equal(torch.zeros([]).ndim, 0);
    assert.equal(torch.zeros([]).numel(), 1);
  });
});

test('channels-last memory format: NHWC strides for the same logical tensor', () => {
  torch.scope(() => {
    const t = torch.randn([2, 3, 4, 5]);
    const cl = t.contiguous('channelsLast');
    assert.deepEqual(cl.shape, t.shape);
    assert.deepEqual(cl.stride(), [60, 1, 15, 3]);
    assert.equal(cl.isContiguous('channelsLast'), true);
    assert.equal(cl.isContiguous(), false);
    assert.equal(cl.equal(t), true);
    assert.deepEqual(cl.clone('preserve').stride(), cl.stride());
    assert.deepEqual(t.to({ memoryFormat: 'channelsLast' }).stride(), [60, 1, 15, 3]);
  });
});
