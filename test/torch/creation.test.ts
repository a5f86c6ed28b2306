// Creation, dtypes and conversion against PyTorch (test/golden/ops_creation.json), plus the properties a golden
// value cannot show: typed-array kinds, storage sharing, uninitialised tensors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import type { DType, Tensor } from '../../src/torch/index.js';
import { goldenSuite, int, ints, num, optDtype, str, type Args, type Json } from './golden.js';

const TYPED: Record<string, (values: number[]) => ArrayBufferView> = {
  Float32Array: (v) => Float32Array.from(v),
  Float64Array: (v) => Float64Array.from(v),
  Int32Array: (v) => Int32Array.from(v),
  Int16Array: (v) => Int16Array.from(v),
  Int8Array: (v) => Int8Array.from(v),
  Uint8Array: (v) => Uint8Array.from(v),
  BigInt64Array: (v) => BigInt64Array.from(v, (x) => BigInt(x)),
};

// Nested JSON lists of numbers and booleans are exactly torch.tensor's nested-array input.
function nested(v: Json | undefined): torch.NestedArray {
  if (typeof v === 'number' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map(nested);
  throw new TypeError(`not nested numeric data: ${JSON.stringify(v)}`);
}

const dtypeOpt = (a: Args): { dtype?: DType } => {
  const dtype = optDtype(a.dtype);
  return dtype === undefined ? {} : { dtype };
};

goldenSuite('creation', {
  zeros: (_x, a) => torch.zeros(ints(a.shape), dtypeOpt(a)),
  ones: (_x, a) => torch.ones(ints(a.shape), dtypeOpt(a)),
  full: (_x, a) => torch.full(ints(a.shape), num(a.value), dtypeOpt(a)),
  full_bool: (_x, a) => torch.full(ints(a.shape), true),
  arange: (_x, a) => torch.arange(num(a.start), num(a.end), num(a.step), dtypeOpt(a)),
  arange_end: (_x, a) => torch.arange(int(a.end)),
  linspace: (_x, a) => torch.linspace(num(a.start), num(a.end), int(a.steps), dtypeOpt(a)),
  eye: (_x, a) => torch.eye(int(a.n), a.m === null ? undefined : int(a.m), dtypeOpt(a)),
  zerosLike: (x, a) => torch.zerosLike(x[0]!, dtypeOpt(a)),
  onesLike: (x, a) => torch.onesLike(x[0]!, dtypeOpt(a)),
  fullLike: (x, a) => torch.fullLike(x[0]!, num(a.value)),
  tensor_nested: (_x, a) => torch.tensor(nested(a.data), dtypeOpt(a)),
  tensor_typed: (_x, a) => {
    const make = TYPED[str(a.array)]!;
    return torch.tensor(make((a.data as Json[]).map(num)), { shape: ints(a.shape), ...dtypeOpt(a) });
  },
  to: (x, a) => x[0]!.to(str<DType>(a.dtype)),
  convert_method: (x, a) => {
    const t = x[0]!;
    const m = str(a.method);
    const methods: Record<string, () => Tensor> = {
      float: () => t.float(),
      double: () => t.double(),
      half: () => t.half(),
      long: () => t.long(),
      int: () => t.int(),
      bool: () => t.bool(),
      byte: () => t.byte(),
    };
    return methods[m]!();
  },
  contiguous: (x) => x[0]!.t().contiguous(),
  clone: (x) => x[0]!.clone(),
  detach: (x) => x[0]!.detach().mul(2),
  item: (x, a) => torch.scalarTensor(x[0]!.reshape(-1).index(int(a.i)).item(), { dtype: x[0]!.dtype }),
});

test(
  'toArray returns the typed array of each dtype; ' + 'float16/bfloat16 widen to Float32Array, bool to Uint8Array',
  () => {
    torch.scope(() => {
      const expect: [DType, new (n: number) => ArrayBufferView][] = [
        ['float32', Float32Array],
        ['float64', Float64Array],
        ['float16', Float32Array],
        ['bfloat16', Float32Array],
        ['int64', BigInt64Array],
        ['int32', Int32Array],
        ['int16', Int16Array],
        ['int8', Int8Array],
        ['uint8', Uint8Array],
        ['bool', Uint8Array],
      ];
      for (const [dtype, kind] of expect) {
        const t = torch.ones([2, 3], { dtype });
        const arr = t.toArray();
        assert.ok(arr instanceof kind, `${dtype} -> ${kind.name}`);
        assert.equal(arr.length, 6);
        assert.equal(Number(arr[0]), 1);
        assert.equal(t.dtype, dtype);
      }
    });
  },
);

test('item gives a JS number for float, int64 and bool, and refuses several elements', () => {
  torch.scope(() => {
    assert.equal(torch.tensor([2.5]).item(), 2.5);
    const big = torch.tensor(BigInt64Array.of(2n ** 40n + 1n));
    assert.equal(big.item(), 2 ** 40 + 1);
    assert.equal(typeof big.item(), 'number');
    assert.equal(torch.tensor([true]).item(), 1);
    assert.throws(() => torch.ones([2]).item(), RangeError);
  });
});

test('tolist mirrors the shape as nested arrays', () => {
  torch.scope(() => {
    const data = [
      [1, 2, 3],
      [4, 5, 6],
    ];
    assert.deepEqual(torch.tensor(data).tolist(), data);
    assert.deepEqual(torch.tensor(data).t().tolist(), [
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    assert.equal(torch.tensor(7).tolist(), 7);
  });
});

test('tensor() copies from a typed array view at its byte offset, and the copy is independent', () => {
  torch.scope(() => {
    const backing = Float64Array.from([10, 11, 12, 13, 14, 15]);
    const view = backing.subarray(2, 5);
    const t = torch.tensor(view);
    assert.deepEqual(Array.from(t.toArray() as Float64Array), Array.from(view));
    backing[3] = -1;
    assert.equal(t.index(1).item(), 13);
  });
});

test('tensor() rejects ragged arrays, a shape that does not fit and foreign views', () => {
  assert.throws(() => torch.tensor([[1, 2], [3]]), TypeError);
  assert.throws(() => torch.tensor(new Float32Array(6), { shape: [4, 2] }), RangeError);
  assert.throws(() => torch.tensor(new DataView(new ArrayBuffer(8))), TypeError);
});

test('empty and emptyLike have the requested shape and dtype', () => {
  torch.scope(() => {
    const e = torch.empty([3, 0, 2], { dtype: 'int32' });
    assert.deepEqual(e.shape, [3, 0, 2]);
    assert.equal(e.dtype, 'int32');
    assert.equal(e.numel(), 0);
    const like = torch.emptyLike(torch.ones([2, 5], { dtype: 'float64' }));
    assert.deepEqual(like.shape, [2, 5]);
    assert.equal(like.dtype, 'float64');
    assert.equal(torch.emptyLike(like, { dtype: 'bfloat16' }).dtype, 'bfloat16');
  });
});

test('factories honour requiresGrad and produce leaves', () => {
  torch.scope(() => {
    const made = [
      torch.zeros([2], { requiresGrad: true }),
      torch.ones([2], { requiresGrad: true }),
      torch.full([2], 3, { requiresGrad: true }),
      torch.randn([2], { requiresGrad: true }),
      torch.tensor([1, 2], { requiresGrad: true }),
      torch.linspace(0, 1, 3, { requiresGrad: true }),
      torch.zerosLike(torch.ones([2]), { requiresGrad: true }),
    ];
    for (const t of made) {
      assert.equal(t.requiresGrad, true);
      assert.equal(t.isLeaf, true);
    }
    assert.equal(torch.zeros([2]).requiresGrad, false);
  });
});

test('random factories: shapes, dtypes and ranges', () => {
  torch.scope(() => {
    const r = torch.rand([50], { dtype: 'float64' });
    assert.equal(r.dtype, 'float64');
    assert.ok(r.ge(0).all().item() === 1 && r.lt(1).all().item() === 1);
    const n = torch.randn([3, 4]);
    assert.deepEqual(n.shape, [3, 4]);
    const i = torch.randint(-3, 4, [100]);
    assert.equal(i.dtype, 'int64');
    assert.ok(i.min().item() >= -3 && i.max().item() < 4);
    const p = torch.randperm(20);
    assert.deepEqual(
      Array.from(p.sort()[0].toArray() as BigInt64Array, Number),
      Array.from({ length: 20 }, (_, k) => k),
    );
    const base = torch.zeros([2, 3], { dtype: 'float64' });
    for (const like of [torch.randLike(base), torch.randnLike(base), torch.randintLike(base, 0, 5)]) {
      assert.deepEqual(like.shape, [2, 3]);
      assert.equal(like.dtype, 'float64');
    }
  });
});

test('contiguous turns a strided view into packed storage; on a packed tensor it is a no-op', () => {
  torch.scope(() => {
    const t = torch.arange(12).reshape(3, 4).t();
    assert.equal(t.isContiguous(), false);
    const c = t.contiguous();
    assert.equal(c.isContiguous(), true);
    assert.deepEqual(c.stride(), [3, 1]);
    assert.equal(c.equal(t), true);
  });
});

test('clone copies storage; detach shares it and drops the graph', () => {
  torch.scope(() => {
    const x = torch.tensor([1, 2, 3], { requiresGrad: true });
    const y = x.mul(2);
    const c = y.clone();
    assert.equal(c.requiresGrad, true);
    const d = y.detach();
    assert.equal(d.requiresGrad, false);
    assert.equal(d.isLeaf, true);
    d.index(0).fill_(100);
    assert.equal(y.index(0).item(), 100, 'detach shares storage with its source');
    assert.equal(c.index(0).item(), 2, 'clone does not');
  });
});

test('to() with a device keeps the CPU tensor; to() with copy makes a new one', () => {
  torch.scope(() => {
    const x = torch.tensor([1, 2]);
    assert.equal(x.to('cpu').device, 'cpu');
    const copy = x.to({ dtype: 'float32', copy: true });
    copy.fill_(5);
    assert.equal(x.index(0).item(), 1);
    assert.equal(x.cpu().device, 'cpu');
  });
});
