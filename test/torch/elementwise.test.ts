// Elementwise arithmetic with broadcasting and type promotion, comparisons, logical ops and in-place ops,
// against PyTorch (test/golden/ops_elementwise.json); in-place ops run on a clone so gradients reach the leaves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { goldenSuite, int, num, optNum, str, type OpImpl } from './golden.js';

type Unary =
  | 'neg'
  | 'abs'
  | 'exp'
  | 'expm1'
  | 'log'
  | 'log1p'
  | 'log2'
  | 'sqrt'
  | 'rsqrt'
  | 'square'
  | 'reciprocal'
  | 'sign'
  | 'floor'
  | 'ceil'
  | 'round'
  | 'trunc'
  | 'frac'
  | 'sin'
  | 'cos'
  | 'sigmoid'
  | 'tanh'
  | 'relu'
  | 'isnan'
  | 'isinf'
  | 'isfinite'
  | 'logicalNot';
const unary =
  (name: Unary): OpImpl =>
  (x) =>
    x[0]![name]();
type Cmp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';
const compare =
  (name: Cmp): OpImpl =>
  (x) =>
    x[0]![name](x[1]!);
const compareScalar =
  (name: Cmp): OpImpl =>
  (x, a) =>
    x[0]![name](num(a.other));

const UNARY: Unary[] = [
  'neg',
  'abs',
  'exp',
  'expm1',
  'log',
  'log1p',
  'log2',
  'sqrt',
  'rsqrt',
  'square',
  'reciprocal',
  'sign',
  'floor',
  'ceil',
  'round',
  'trunc',
  'frac',
  'sin',
  'cos',
  'sigmoid',
  'tanh',
  'relu',
  'isnan',
  'isinf',
  'isfinite',
];
const CMP: Cmp[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'];

goldenSuite('elementwise', {
  ...Object.fromEntries(UNARY.map((n) => [n, unary(n)])),
  ...Object.fromEntries(CMP.map((n) => [n, compare(n)])),
  ...Object.fromEntries(CMP.map((n) => [`${n}_scalar`, compareScalar(n)])),
  add: (x, a) => x[0]!.add(x[1]!, optNum(a.alpha)),
  add_scalar: (x, a) => x[0]!.add(num(a.other), optNum(a.alpha)),
  sub: (x, a) => x[0]!.sub(x[1]!, optNum(a.alpha)),
  sub_scalar: (x, a) => x[0]!.sub(num(a.other)),
  rsub: (x) => x[0]!.rsub(x[1]!),
  rsub_scalar: (x, a) => x[0]!.rsub(num(a.other)),
  mul: (x) => x[0]!.mul(x[1]!),
  mul_scalar: (x, a) => x[0]!.mul(num(a.other)),
  div: (x) => x[0]!.div(x[1]!),
  div_scalar: (x, a) => x[0]!.div(num(a.other)),
  div_mode: (x, a) => x[0]!.div(x[1]!, str<'trunc' | 'floor'>(a.mode)),
  div_scalar_mode: (x, a) => x[0]!.div(num(a.other), str<'trunc' | 'floor'>(a.mode)),
  remainder: (x) => x[0]!.remainder(x[1]!),
  remainder_scalar: (x, a) => x[0]!.remainder(num(a.other)),
  fmod: (x) => x[0]!.fmod(x[1]!),
  round_decimals: (x, a) => x[0]!.round(int(a.decimals)),
  pow_scalar: (x, a) => x[0]!.pow(num(a.exponent)),
  pow: (x) => x[0]!.pow(x[1]!),
  clamp: (x, a) => x[0]!.clamp(optNum(a.min), optNum(a.max)),
  clamp_tensor: (x) => x[0]!.clamp(x[1]!, x[2]!),
  clamp_mixed: (x, a) => x[0]!.clamp(x[1]!, num(a.max)),
  clampMin: (x, a) => x[0]!.clampMin(num(a.min)),
  clampMax: (x, a) => x[0]!.clampMax(num(a.max)),
  maximum: (x) => x[0]!.maximum(x[1]!),
  minimum: (x) => x[0]!.minimum(x[1]!),
  max_other: (x) => x[0]!.max(x[1]!),
  min_other: (x) => x[0]!.min(x[1]!),
  lerp_scalar: (x, a) => x[0]!.lerp(x[1]!, num(a.weight)),
  lerp: (x) => x[0]!.lerp(x[1]!, x[2]!),
  where: (x) => torch.where(x[0]!, x[1]!, x[2]!),
  where_scalar_other: (x, a) => torch.where(x[0]!, x[1]!, num(a.other)),
  where_scalar_input: (x, a) => torch.where(x[0]!, num(a.input), x[1]!),
  tensor_where: (x, a) => x[1]!.where(x[0]!, num(a.other)),
  nanToNum: (x, a) => x[0]!.nanToNum(num(a.nan), num(a.posinf), num(a.neginf)),
  equal: (x) => torch.tensor(x[0]!.equal(x[1]!)),
  allclose: (x) => torch.tensor(x[0]!.allclose(x[1]!)),
  isclose: (x, a) => x[0]!.isclose(x[1]!, num(a.rtol), num(a.atol)),
  logical_and: (x) => x[0]!.logicalAnd(x[1]!),
  logical_or: (x) => x[0]!.logicalOr(x[1]!),
  logical_xor: (x) => x[0]!.logicalXor(x[1]!),
  logical_not: (x) => x[0]!.logicalNot(),
  // In place on a clone; each returns the tensor it was called on.
  add_: (x, a) => x[0]!.clone().add_(x[1]!, num(a.alpha)),
  add_scalar_: (x, a) => x[0]!.clone().add_(num(a.other)),
  sub_: (x, a) => x[0]!.clone().sub_(x[1]!, num(a.alpha)),
  sub_scalar_: (x, a) => x[0]!.clone().sub_(num(a.other)),
  mul_: (x) => x[0]!.clone().mul_(x[1]!),
  mul_scalar_: (x, a) => x[0]!.clone().mul_(num(a.other)),
  div_: (x) => x[0]!.clone().div_(x[1]!),
  div_scalar_: (x, a) => x[0]!.clone().div_(num(a.other)),
  addcmul_: (x, a) => x[0]!.clone().addcmul_(x[1]!, x[2]!, num(a.value)),
  addcdiv_: (x, a) => x[0]!.clone().addcdiv_(x[1]!, x[2]!, num(a.value)),
  copy_: (x) => x[0]!.clone().copy_(x[1]!),
  zero_: (x) => x[0]!.clone().zero_(),
  fill_scalar_: (x, a) => x[0]!.clone().fill_(num(a.value)),
  fill_: (x) => x[0]!.clone().fill_(x[1]!),
  clamp_: (x, a) => x[0]!.clone().clamp_(num(a.min), num(a.max)),
  lerp_scalar_: (x, a) => x[0]!.clone().lerp_(x[1]!, num(a.weight)),
  lerp_: (x) => x[0]!.clone().lerp_(x[1]!, x[2]!),
  sqrt_: (x) => x[0]!.clone().sqrt_(),
  neg_: (x) => x[0]!.clone().neg_(),
  exp_: (x) => x[0]!.clone().exp_(),
  relu_: (x) => x[0]!.clone().relu_(),
  pow_: (x, a) => x[0]!.clone().pow_(num(a.exponent)),
  maskedFill_: (x, a) => x[0]!.clone().maskedFill_(x[1]!, num(a.value)),
});

test('in-place ops return the receiver and write through views into the base', () => {
  torch.scope(() => {
    const base = torch.zeros([2, 3], { dtype: 'float64' });
    const row = base.index(1);
    const ops: ((t: Tensor) => Tensor)[] = [
      (t) => t.add_(1),
      (t) => t.sub_(0.5),
      (t) => t.mul_(4),
      (t) => t.div_(2),
      (t) => t.addcmul_(t, t, 0.5),
      (t) => t.addcdiv_(t, t.add(1), 2),
      (t) => t.clamp_(-1, 3),
      (t) => t.lerp_(t.neg(), 0.25),
      (t) => t.fill_(2),
      (t) => t.copy_(t.mul(3)),
    ];
    for (const op of ops) assert.equal(op(row), row);
    assert.deepEqual(base.tolist(), [
      [0, 0, 0],
      [6, 6, 6],
    ]);
    assert.equal(row.zero_(), row);
    assert.equal(base.sum().item(), 0);
  });
});

test('in-place ops on a leaf that requires grad are refused, as in PyTorch', () => {
  torch.scope(() => {
    const w = torch.ones([2], { requiresGrad: true });
    assert.throws(() => w.mul_(2), /leaf Variable that requires grad/);
    torch.noGrad(() => w.mul_(2));
    assert.deepEqual(w.tolist(), [2, 2]);
  });
});

test('scalar operands keep the tensor dtype when integral and promote when fractional', () => {
  torch.scope(() => {
    const i = torch.tensor(Int32Array.of(1, 2));
    assert.equal(i.add(2).dtype, 'int32');
    assert.equal(i.mul(0.5).dtype, 'float32');
    assert.equal(i.div(2).dtype, 'float32');
    assert.equal(torch.tensor([true, false]).add(true).dtype, 'bool');
    assert.equal(torch.ones([1], { dtype: 'float16' }).add(1.5).dtype, 'float16');
  });
});
