// Errors: libtorch failures surface as JS Errors carrying libtorch's own message (checked against PyTorch's text
// in test/golden/ops_errors.json) and the operator name; wrong argument types are TypeErrors; a disposed tensor
// throws on every use instead of crashing the process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { loadGolden } from './golden.js';

const F = torch.nn.functional;

interface ErrorCase {
  name: string;
  op: string;
  aten: string;
  message: string;
}

// The same failing calls gen_ops.py made in PyTorch.
const FAILING: Record<string, () => unknown> = {
  mm: () => torch.ones([2, 3]).mm(torch.ones([4, 5])),
  add: () => torch.ones([2, 3]).add(torch.ones([4])),
  view: () => torch.ones([3, 4]).t().view(12),
  cat: () => torch.cat([torch.ones([2, 3]), torch.ones([2, 4])]),
  conv2d: () => F.conv2d(torch.ones([1, 3, 5, 5]), torch.ones([4, 2, 3, 3])),
  reshape: () => torch.ones([2, 3]).reshape(4, 2),
  crossEntropy: () => F.crossEntropy(torch.zeros([2, 3]), torch.tensor(BigInt64Array.of(0n, 5n))),
  mean: () => torch.tensor(BigInt64Array.of(1n, 2n)).mean(),
  halfExp: () => torch.ones([2], { dtype: 'float16' }).exp(),
  leafInPlace: () => torch.ones([2], { requiresGrad: true }).add_(1),
};

// Calls that libtorch 2.x no longer rejects, with what they compute there instead. The goldens come from PyTorch
// 1.13; 2.x added a CPU exp kernel for float16, so exp(1) in half precision is e rounded to float16's 11-bit
// mantissa (2.71875: the nearest float16 to e = 2.71828..., spacing 2^-9 near 2).
const COMPUTED_IN_2X: Record<string, () => void> = {
  halfExp: () =>
    torch.scope(() =>
      assert.deepEqual(torch.ones([2], { dtype: 'float16' }).exp().float().tolist(), [2.71875, 2.71875]),
    ),
};
const major = Number(torch.version().split('.')[0]);

for (const c of loadGolden<ErrorCase>('errors')) {
  const computed = COMPUTED_IN_2X[c.op];
  if (major >= 2 && computed) {
    test(`${c.name}: libtorch ${torch.version()} computes what 1.13 rejected`, computed);
    continue;
  }
  test(`${c.name}: a JS Error with the op name and libtorch's message`, () => {
    const run = FAILING[c.op];
    assert.ok(run, `no failing call for '${c.op}'`);
    torch.scope(() => {
      assert.throws(run, (e: unknown) => {
        assert.ok(e instanceof Error && !(e instanceof TypeError), `expected a plain Error, got ${String(e)}`);
        assert.ok(e.message.startsWith(`${c.aten}: `), `'${e.message}' names ${c.aten}`);
        assert.ok(e.message.includes(c.message), `'${e.message}' contains PyTorch's '${c.message}'`);
        return true;
      });
    });
  });
}

test('every failing call has a golden message', () => {
  const ops = new Set(loadGolden<ErrorCase>('errors').map((c) => c.op));
  assert.deepEqual(
    Object.keys(FAILING).filter((op) => !ops.has(op)),
    [],
  );
});

test('wrong argument types are TypeErrors that name the argument', () => {
  torch.scope(() => {
    const x = torch.ones([2, 3]);
    const bad = <T>(v: unknown): T => v as T;
    // null: any TypeError (the generated layer dereferences a missing tensor before the binding can name it).
    const cases: [() => unknown, RegExp | null][] = [
      [() => x.add(bad('1')), /aten::add\.Scalar argument 'other': expected a number/],
      [() => x.reshape(bad<number>('a')), /aten::reshape argument 'shape'/],
      [() => x.reshape(2.5, 2), /aten::reshape argument 'shape': expected an integer/],
      [() => x.sum(bad('0')), /argument 'dim'/],
      [() => x.mm(bad(null)), null],
      [() => x.mm(bad({ _h: 1 })), /aten::mm argument 'mat2': expected a Tensor/],
      [() => F.conv2d(x, bad([1, 2])), /argument 'weight'/],
      [() => torch.cat([x, bad(5)]), /aten::cat argument 'tensors'\[1\]: expected a Tensor/],
      [() => F.softmax(x, bad(undefined)), /argument 'dim' is required/],
      [() => torch.zeros(bad('3')), /zeros: shape must be an array of non-negative integers/],
      [() => torch.zeros([2, -1]), /non-negative integers/],
      [() => torch.tensor(bad('abc')), /tensor: elements must be numbers, booleans or bigints, got string/],
      [
        () =>
          torch.tensor(
            bad([
              [1, 2],
              [3, null],
            ]),
          ),
        /got null/,
      ],
      [() => x.index(bad({})), /index: expected an integer, slice\(\), null, '...' or a Tensor/],
      [() => x.index(bad('0')), /index: expected/],
      [() => x.to(bad('float128')), /invalid device 'float128'/],
      [() => F.mseLoss(x, x, { reduction: bad('avg') }), /reduction must be/],
      [() => torch.ones([2], { dtype: bad('complex32') }), /unknown dtype 'complex32'/],
    ];
    cases.forEach(([call, pattern], i) => {
      assert.throws(call, (e: unknown) => {
        assert.ok(e instanceof TypeError, `case ${i}: expected a TypeError, got ${String(e)}`);
        if (pattern) assert.match(e.message, pattern, `case ${i}`);
        return true;
      });
    });
  });
});

test('a disposed tensor throws on every use, as receiver or argument, and never crashes', () => {
  const t = torch.ones([2, 2]);
  const other = torch.ones([2, 2]);
  t.dispose();
  t.dispose();
  assert.equal(t.isDisposed, true);
  assert.equal(t.toString(), 'Tensor(disposed)');
  const uses: (() => unknown)[] = [
    () => t.shape,
    () => t.dtype,
    () => t.numel(),
    () => t.toArray(),
    () => t.item(),
    () => t.tolist(),
    () => t.add(1),
    () => t.index(0),
    () => t.requiresGrad,
    () => {
      t.requiresGrad = true;
    },
    () => t.grad,
    () => {
      t.grad = null;
    },
    () => t.backward(),
    () => t.clone(),
    () => t.detach(),
    () => t.to('float64'),
    () => other.add(t),
    () => torch.cat([other, t]),
    () => torch.where(t.bool(), other, other),
    () => F.conv2d(other.reshape(1, 1, 2, 2), t.reshape(1, 1, 2, 2)),
    () => torch.autograd.grad(t, other),
    () => new torch.Generator().setState(t),
    () => other.copy_(t),
    () => t.fill_(0),
    () => torch.zerosLike(t),
  ];
  uses.forEach((use, i) => {
    assert.throws(use, /disposed/, `use ${i}`);
  });
  assert.equal(other.add(1).sum().item(), 8, 'the process and other tensors are unaffected');
});

test('views outlive the tensor they came from; scope() disposes what it made and nothing it returns', () => {
  const base = torch.arange(6, undefined, 1, { dtype: 'float32' });
  const view = base.reshape(2, 3);
  base.dispose();
  assert.deepEqual(view.index(1).tolist(), [3, 4, 5]);
  let inner: Tensor | null = null;
  let pinned: Tensor | null = null;
  const kept = torch.scope(() => {
    inner = view.mul(2);
    pinned = view.mul(4).keep();
    return view.add(1);
  });
  assert.throws(() => inner!.sum(), /disposed/);
  assert.equal(pinned!.isDisposed, false, 'keep() exempts a tensor from its scope');
  pinned!.dispose();
  assert.deepEqual(kept.tolist(), [
    [1, 2, 3],
    [4, 5, 6],
  ]);
  assert.throws(
    () =>
      torch.scope(() => {
        view.mul(3);
        throw new RangeError('inside');
      }),
    RangeError,
  );
  kept.dispose();
  view.dispose();
});

test('null or a non-tensor where a tensor is required names the operator and argument', () => {
  const a = torch.ones([2]);
  assert.throws(() => torch.nn.functional.conv2d(a, null as unknown as torch.Tensor), {
    name: 'TypeError',
    message: /aten::conv2d argument 'weight': expected a Tensor, got null/,
  });
  assert.throws(() => torch.cat([a, 3 as unknown as torch.Tensor]), {
    name: 'TypeError',
    message: /aten::cat argument 'tensors'\[1\]: expected a Tensor, got a number/,
  });
  a.dispose();
});
