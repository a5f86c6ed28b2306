// The Tensor class: PyTorch's tensor API in camelCase over the generated operator layer.
import { inspect } from 'node:util';
import { native, type NativeTensor } from './native.js';
import * as ops from './generated/ops.js';
import { setTensorFactory, generatorArg } from './dispatch.js';
import type { Generator } from './random.js';
import { trackTensor, setScopedPredicate, keep as keepTensor } from './scope.js';
import {
  type DType,
  type AnyTypedArray,
  type MemoryFormatName,
  dtypeCode,
  dtypeName,
  isFloatingPoint,
  typedArrayFromBuffer,
  MemoryFormat,
} from './dtype.js';

export type Scalar = number | boolean;
export type TensorOrScalar = Tensor | Scalar;
export type Dims = number | readonly number[];

/** A Python-style slice for Tensor.index(): slice(start, stop, step), any part may be omitted (null/undefined). */
export class Slice {
  constructor(
    readonly start: number | null = null,
    readonly stop: number | null = null,
    readonly step = 1,
  ) {
    if (step <= 0) throw new RangeError('slice step must be positive');
  }
}
export function slice(start: number | null = null, stop: number | null = null, step = 1): Slice {
  return new Slice(start, stop, step);
}
/** One index per dimension: an integer selects, a Slice narrows, null inserts a dim, '...' fills, a Tensor gathers. */
export type Index = number | Slice | null | '...' | Tensor;

export interface ToOptions {
  dtype?: DType;
  device?: string;
  copy?: boolean;
  nonBlocking?: boolean;
  memoryFormat?: MemoryFormatName;
}

export interface BackwardOptions {
  retainGraph?: boolean;
  createGraph?: boolean;
}

const LEAF_ONLY = 'you can only change requires_grad flags of leaf variables.';
const DETACH_HINT =
  ' If you want to use a computed variable in a subgraph that does not require differentiation use detach().';

function scalarOrTensor(v: TensorOrScalar, like: Tensor): Tensor {
  return v instanceof Tensor
    ? v
    : ops.scalar_tensor(v, dtypeCode(typeof v === 'boolean' ? 'bool' : like.dtype), undefined, like.device);
}

function dimsArray(d: Dims): readonly number[] {
  return typeof d === 'number' ? [d] : d;
}

export class Tensor {
  /** The native handle; used by the generated operator layer. */
  _h: NativeTensor;

  constructor(handle: NativeTensor) {
    this._h = handle;
    trackTensor(this);
  }

  // ------------------------------------------------------------------------------------------------ metadata
  get shape(): number[] {
    return native.shape(this._h);
  }
  size(dim?: number): number | number[] {
    const s = this.shape;
    if (dim === undefined) return s;
    const d = dim < 0 ? dim + s.length : dim;
    if (d < 0 || d >= s.length) throw new RangeError(`size(${dim}): tensor has ${s.length} dimensions`);
    return s[d]!;
  }
  stride(): number[] {
    return native.strides(this._h);
  }
  get dtype(): DType {
    return dtypeName(native.dtype(this._h));
  }
  get device(): string {
    return native.device(this._h);
  }
  get ndim(): number {
    return this.shape.length;
  }
  dim(): number {
    return this.shape.length;
  }
  numel(): number {
    return native.numel(this._h);
  }
  isContiguous(memoryFormat: MemoryFormatName = 'contiguous'): boolean {
    return native.isContiguous(this._h, MemoryFormat[memoryFormat]);
  }
  isFloatingPoint(): boolean {
    return isFloatingPoint(this.dtype);
  }
  get isDisposed(): boolean {
    return native.isDisposed(this._h);
  }

  // ------------------------------------------------------------------------------------------------ memory
  /** Frees the native memory now (other tensors viewing the same storage keep it alive). Idempotent. */
  dispose(): void {
    native.dispose(this._h);
  }
  /** Exempts this tensor from torch.scope() disposal. */
  keep(): this {
    return keepTensor(this);
  }
  /**
   * A copy in page-locked (pinned) host memory, from which copies to a CUDA device can run without blocking
   * (`to({device, nonBlocking: true})`); this tensor itself when already pinned. CPU tensors only; throws when the
   * libtorch has no CUDA or no CUDA device is visible (pinning needs the CUDA driver).
   */
  pinMemory(): Tensor {
    return ops.pin_memory(this, null);
  }
  /** Whether this tensor lives in pinned host memory (false for device tensors and ordinary CPU memory). */
  isPinned(): boolean {
    return ops.is_pinned(this, null);
  }
  /**
   * Overwrites the elements of this contiguous CPU tensor (pinned or not) with the bytes of `data`, in place: the
   * way to refill a reusable staging buffer. Throws a RangeError unless data's byte length equals this tensor's.
   */
  copyFromBuffer_(data: ArrayBufferView): this {
    if (!ArrayBuffer.isView(data)) throw new TypeError('copyFromBuffer_: data must be a typed array or DataView');
    native.copyFromBuffer(this._h, data);
    return this;
  }

  // ------------------------------------------------------------------------------------------------ data out
  /** A copy of the elements as a typed array of the tensor's dtype (float16/bfloat16 widen to Float32Array, bool to
   * Uint8Array). */
  toArray(): AnyTypedArray {
    const d = this.dtype;
    if (d === 'float16' || d === 'bfloat16') {
      const f = ops.to$dtype(this, dtypeCode('float32'));
      try {
        return new Float32Array(native.toBuffer(f._h));
      } finally {
        f.dispose();
      }
    }
    return typedArrayFromBuffer(d, native.toBuffer(this._h));
  }
  /** The value of a one-element tensor as a JS number (int64 beyond 2^53 loses precision; bool gives 0/1). */
  item(): number {
    if (this.numel() !== 1) throw new RangeError(`item(): tensor has ${this.numel()} elements, expected 1`);
    return Number(this.toArray()[0]!);
  }
  /** Nested arrays of numbers, like PyTorch's tolist(). */
  tolist(): unknown {
    const flat = Array.from(this.toArray() as ArrayLike<number | bigint>, (v) => Number(v));
    const shape = this.shape;
    if (shape.length === 0) return flat[0];
    let pos = 0;
    const build = (d: number): unknown[] => {
      const out: unknown[] = [];
      for (let i = 0; i < shape[d]!; i++) out.push(d === shape.length - 1 ? flat[pos++] : build(d + 1));
      return out;
    };
    return build(0);
  }

  // ------------------------------------------------------------------------------------------------ conversion
  to(target: DType | string | ToOptions): Tensor {
    const o: ToOptions =
      typeof target === 'object' ? target : isDTypeName(target) ? { dtype: target } : { device: target };
    return ops.to$dtype_layout(
      this,
      o.dtype === undefined ? null : dtypeCode(o.dtype),
      null,
      o.device ?? null,
      null,
      o.nonBlocking ?? false,
      o.copy ?? false,
      o.memoryFormat === undefined ? null : MemoryFormat[o.memoryFormat],
    );
  }
  float(): Tensor {
    return this.to('float32');
  }
  double(): Tensor {
    return this.to('float64');
  }
  half(): Tensor {
    return this.to('float16');
  }
  bfloat16(): Tensor {
    return this.to('bfloat16');
  }
  long(): Tensor {
    return this.to('int64');
  }
  int(): Tensor {
    return this.to('int32');
  }
  bool(): Tensor {
    return this.to('bool');
  }
  byte(): Tensor {
    return this.to('uint8');
  }
  cpu(): Tensor {
    return this.to({ device: 'cpu' });
  }
  cuda(index = 0): Tensor {
    return this.to({ device: `cuda:${index}` });
  }
  contiguous(memoryFormat: MemoryFormatName = 'contiguous'): Tensor {
    return ops.contiguous(this, MemoryFormat[memoryFormat]);
  }
  clone(memoryFormat?: MemoryFormatName): Tensor {
    return ops.clone(this, memoryFormat === undefined ? null : MemoryFormat[memoryFormat]);
  }
  detach(): Tensor {
    return ops.detach(this);
  }
  detach_(): this {
    ops.detach_(this);
    return this;
  }

  // ------------------------------------------------------------------------------------------------ autograd
  get requiresGrad(): boolean {
    return native.requiresGrad(this._h);
  }
  /** As PyTorch's property setter: only leaves may change the flag (libtorch would ignore it silently). */
  set requiresGrad(on: boolean) {
    if (!this.isLeaf) throw new Error(`requiresGrad: ${LEAF_ONLY}${on ? '' : DETACH_HINT}`);
    native.setRequiresGrad(this._h, on);
  }
  /** As PyTorch's requires_grad_(): turning it off is refused for non-leaves, turning it on is a no-op there. */
  requiresGrad_(on = true): this {
    if (!on && !this.isLeaf) throw new Error(`requiresGrad_: ${LEAF_ONLY}${DETACH_HINT}`);
    native.setRequiresGrad(this._h, on);
    return this;
  }
  /** The accumulated gradient, a new handle each read (dispose it or read inside a scope). */
  get grad(): Tensor | null {
    const g = native.getGrad(this._h);
    return g === null ? null : new Tensor(g);
  }
  /** Replaces the gradient; like PyTorch it must match this tensor's dtype, device and shape. */
  set grad(g: Tensor | null) {
    if (g !== null) {
      if (!(g instanceof Tensor)) throw new TypeError('grad: expected a Tensor or null');
      if (g.dtype !== this.dtype)
        throw new Error(`grad: assigned grad has data of a different type (${g.dtype}, expected ${this.dtype})`);
      if (g.device !== this.device)
        throw new Error(`grad: assigned grad has data on a different device (${g.device}, expected ${this.device})`);
      const a = g.shape;
      const b = this.shape;
      if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
        throw new Error(
          `grad: assigned grad has data of a different size ([${a.join(', ')}], expected [${b.join(', ')}])`,
        );
      }
    }
    native.setGrad(this._h, g === null ? null : g._h);
  }
  get isLeaf(): boolean {
    return native.isLeaf(this._h);
  }
  /** The name of the autograd node that made this tensor, e.g. 'AddBackward0', or null for leaves. */
  get gradFn(): string | null {
    return native.gradFnName(this._h);
  }
  backward(gradient?: Tensor, opts: BackwardOptions = {}): void {
    native.backward([this._h], gradient ? [gradient._h] : null, opts.retainGraph, opts.createGraph ?? false);
  }
  retainGrad(): this {
    ops.retain_grad(this);
    return this;
  }

  // ------------------------------------------------------------------------------------------------ arithmetic
  add(other: TensorOrScalar, alpha?: number): Tensor {
    return other instanceof Tensor ? ops.add$Tensor(this, other, alpha) : ops.add$Scalar(this, other, alpha);
  }
  sub(other: TensorOrScalar, alpha?: number): Tensor {
    return other instanceof Tensor ? ops.sub$Tensor(this, other, alpha) : ops.sub$Scalar(this, other, alpha);
  }
  mul(other: TensorOrScalar): Tensor {
    return other instanceof Tensor ? ops.mul$Tensor(this, other) : ops.mul$Scalar(this, other);
  }
  /** True division; roundingMode 'trunc' or 'floor' as PyTorch's div. */
  div(other: TensorOrScalar, roundingMode?: 'trunc' | 'floor'): Tensor {
    if (roundingMode !== undefined) {
      return other instanceof Tensor
        ? ops.div$Tensor_mode(this, other, roundingMode)
        : ops.div$Scalar_mode(this, other, roundingMode);
    }
    return other instanceof Tensor ? ops.div$Tensor(this, other) : ops.div$Scalar(this, other);
  }
  rsub(other: TensorOrScalar): Tensor {
    return other instanceof Tensor ? ops.rsub$Tensor(this, other) : ops.rsub$Scalar(this, other);
  }
  remainder(other: TensorOrScalar): Tensor {
    return other instanceof Tensor ? ops.remainder$Tensor(this, other) : ops.remainder$Scalar(this, other);
  }
  fmod(other: TensorOrScalar): Tensor {
    return other instanceof Tensor ? ops.fmod$Tensor(this, other) : ops.fmod$Scalar(this, other);
  }
  pow(exponent: TensorOrScalar): Tensor {
    return exponent instanceof Tensor ? ops.pow$Tensor_Tensor(this, exponent) : ops.pow$Tensor_Scalar(this, exponent);
  }
  neg(): Tensor {
    return ops.neg(this);
  }
  abs(): Tensor {
    return ops.abs(this);
  }
  exp(): Tensor {
    return ops.exp(this);
  }
  expm1(): Tensor {
    return ops.expm1(this);
  }
  log(): Tensor {
    return ops.log(this);
  }
  log1p(): Tensor {
    return ops.log1p(this);
  }
  log2(): Tensor {
    return ops.log2(this);
  }
  sqrt(): Tensor {
    return ops.sqrt(this);
  }
  rsqrt(): Tensor {
    return ops.rsqrt(this);
  }
  square(): Tensor {
    return ops.square(this);
  }
  reciprocal(): Tensor {
    return ops.reciprocal(this);
  }
  sign(): Tensor {
    return ops.sign(this);
  }
  floor(): Tensor {
    return ops.floor(this);
  }
  ceil(): Tensor {
    return ops.ceil(this);
  }
  round(decimals?: number): Tensor {
    return decimals === undefined ? ops.round(this) : ops.round$decimals(this, decimals);
  }
  trunc(): Tensor {
    return ops.trunc(this);
  }
  frac(): Tensor {
    return ops.frac(this);
  }
  sin(): Tensor {
    return ops.sin(this);
  }
  cos(): Tensor {
    return ops.cos(this);
  }
  sigmoid(): Tensor {
    return ops.sigmoid(this);
  }
  tanh(): Tensor {
    return ops.tanh(this);
  }
  relu(): Tensor {
    return ops.relu(this);
  }
  clamp(min?: number | Tensor | null, max?: number | Tensor | null): Tensor {
    if (min instanceof Tensor || max instanceof Tensor) {
      // One tensor bound and one number: the number becomes a 0-d tensor, as torch.clamp(x, min=t, max=0.5).
      const lo = min === undefined || min === null ? null : scalarOrTensor(min, this);
      const hi = max === undefined || max === null ? null : scalarOrTensor(max, this);
      const out = ops.clamp$Tensor(this, lo, hi);
      if (lo !== null && lo !== min) lo.dispose();
      if (hi !== null && hi !== max) hi.dispose();
      return out;
    }
    return ops.clamp(this, min ?? null, max ?? null);
  }
  clampMin(min: number): Tensor {
    return ops.clamp_min(this, min);
  }
  clampMax(max: number): Tensor {
    return ops.clamp_max(this, max);
  }
  maximum(other: Tensor): Tensor {
    return ops.maximum(this, other);
  }
  minimum(other: Tensor): Tensor {
    return ops.minimum(this, other);
  }
  lerp(end: Tensor, weight: TensorOrScalar): Tensor {
    return weight instanceof Tensor ? ops.lerp$Tensor(this, end, weight) : ops.lerp$Scalar(this, end, weight);
  }
  /** torch.where(condition, this, other), PyTorch's Tensor.where. */
  where(condition: Tensor, other: TensorOrScalar): Tensor {
    const o = scalarOrTensor(other, this);
    const out = ops.where$self(condition, this, o);
    if (o !== other) o.dispose();
    return out;
  }
  nanToNum(nan = 0, posinf?: number, neginf?: number): Tensor {
    return ops.nan_to_num(this, nan, posinf ?? null, neginf ?? null);
  }

  // ------------------------------------------------------------------------------------------------ comparison
  eq(other: TensorOrScalar): Tensor {
    return other instanceof Tensor ? ops.eq$Tensor(this, other) : ops.eq$Scalar(this, other);
  }
  ne(other: TensorOrScalar): Tensor {
    return other instanceof Tensor ? ops.ne$Tensor(this, other) : ops.ne$Scalar(this, other);
  }
  lt(other: TensorOrScalar): Tensor {
    return other instanceof Tensor ? ops.lt$Tensor(this, other) : ops.lt$Scalar(this, other);
  }
  le(other: TensorOrScalar): Tensor {
    return other instanceof Tensor ? ops.le$Tensor(this, other) : ops.le$Scalar(this, other);
  }
  gt(other: TensorOrScalar): Tensor {
    return other instanceof Tensor ? ops.gt$Tensor(this, other) : ops.gt$Scalar(this, other);
  }
  ge(other: TensorOrScalar): Tensor {
    return other instanceof Tensor ? ops.ge$Tensor(this, other) : ops.ge$Scalar(this, other);
  }
  equal(other: Tensor): boolean {
    return ops.equal(this, other);
  }
  allclose(other: Tensor, rtol = 1e-5, atol = 1e-8, equalNan = false): boolean {
    return ops.allclose(this, other, rtol, atol, equalNan);
  }
  isclose(other: Tensor, rtol = 1e-5, atol = 1e-8, equalNan = false): Tensor {
    return ops.isclose(this, other, rtol, atol, equalNan);
  }
  logicalAnd(other: Tensor): Tensor {
    return ops.logical_and(this, other);
  }
  logicalOr(other: Tensor): Tensor {
    return ops.logical_or(this, other);
  }
  logicalXor(other: Tensor): Tensor {
    return ops.logical_xor(this, other);
  }
  logicalNot(): Tensor {
    return ops.logical_not(this);
  }
  isnan(): Tensor {
    return ops.isnan(this);
  }
  isinf(): Tensor {
    return ops.isinf(this);
  }
  isfinite(): Tensor {
    return ops.isfinite(this);
  }

  // ------------------------------------------------------------------------------------------------ reductions
  sum(dim?: Dims, keepdim = false, dtype?: DType): Tensor {
    const dt = dtype === undefined ? null : dtypeCode(dtype);
    return dim === undefined ? ops.sum(this, dt) : ops.sum$dim_IntList(this, dimsArray(dim), keepdim, dt);
  }
  mean(dim?: Dims, keepdim = false, dtype?: DType): Tensor {
    const dt = dtype === undefined ? null : dtypeCode(dtype);
    return dim === undefined ? ops.mean(this, dt) : ops.mean$dim(this, dimsArray(dim), keepdim, dt);
  }
  prod(dim?: number, keepdim = false): Tensor {
    return dim === undefined ? ops.prod(this) : ops.prod$dim_int(this, dim, keepdim);
  }
  /** Variance; unbiased (Bessel's correction) by default, as PyTorch. */
  var(dim?: Dims, unbiased = true, keepdim = false): Tensor {
    return dim === undefined ? ops.var_op(this, unbiased) : ops.var_op$dim(this, dimsArray(dim), unbiased, keepdim);
  }
  std(dim?: Dims, unbiased = true, keepdim = false): Tensor {
    return dim === undefined ? ops.std(this, unbiased) : ops.std$dim(this, dimsArray(dim), unbiased, keepdim);
  }
  /** max() of all elements, max(dim) as [values, indices], max(other) elementwise. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): [Tensor, Tensor];
  max(other: Tensor): Tensor;
  max(dimOrOther?: number | Tensor, keepdim = false): Tensor | [Tensor, Tensor] {
    if (dimOrOther === undefined) return ops.max(this);
    if (dimOrOther instanceof Tensor) return ops.maximum(this, dimOrOther);
    return ops.max$dim(this, dimOrOther, keepdim);
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): [Tensor, Tensor];
  min(other: Tensor): Tensor;
  min(dimOrOther?: number | Tensor, keepdim = false): Tensor | [Tensor, Tensor] {
    if (dimOrOther === undefined) return ops.min(this);
    if (dimOrOther instanceof Tensor) return ops.minimum(this, dimOrOther);
    return ops.min$dim(this, dimOrOther, keepdim);
  }
  amax(dim: Dims = [], keepdim = false): Tensor {
    return ops.amax(this, dimsArray(dim), keepdim);
  }
  amin(dim: Dims = [], keepdim = false): Tensor {
    return ops.amin(this, dimsArray(dim), keepdim);
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return ops.argmax(this, dim ?? null, keepdim);
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return ops.argmin(this, dim ?? null, keepdim);
  }
  logsumexp(dim: Dims, keepdim = false): Tensor {
    return ops.logsumexp(this, dimsArray(dim), keepdim);
  }
  /** p-norm over all elements or over dim. */
  norm(p: number = 2, dim?: Dims, keepdim = false): Tensor {
    return dim === undefined ? ops.norm$Scalar(this, p) : ops.norm$ScalarOpt_dim(this, p, dimsArray(dim), keepdim);
  }
  all(dim?: number, keepdim = false): Tensor {
    return dim === undefined ? ops.all(this) : ops.all$dim(this, dim, keepdim);
  }
  any(dim?: number, keepdim = false): Tensor {
    return dim === undefined ? ops.any(this) : ops.any$dim(this, dim, keepdim);
  }
  topk(k: number, dim = -1, largest = true, sorted = true): [Tensor, Tensor] {
    return ops.topk(this, k, dim, largest, sorted);
  }
  sort(dim = -1, descending = false): [Tensor, Tensor] {
    return ops.sort(this, dim, descending);
  }
  argsort(dim = -1, descending = false): Tensor {
    return ops.argsort(this, dim, descending);
  }
  cumsum(dim: number, dtype?: DType): Tensor {
    return ops.cumsum(this, dim, dtype === undefined ? null : dtypeCode(dtype));
  }
  cumprod(dim: number): Tensor {
    return ops.cumprod(this, dim);
  }

  // ------------------------------------------------------------------------------------------------ linear algebra
  matmul(other: Tensor): Tensor {
    return ops.matmul(this, other);
  }
  mm(other: Tensor): Tensor {
    return ops.mm(this, other);
  }
  bmm(other: Tensor): Tensor {
    return ops.bmm(this, other);
  }
  mv(vec: Tensor): Tensor {
    return ops.mv(this, vec);
  }
  dot(other: Tensor): Tensor {
    return ops.dot(this, other);
  }
  outer(other: Tensor): Tensor {
    return ops.outer(this, other);
  }
  /** beta * this + alpha * (mat1 @ mat2) */
  addmm(mat1: Tensor, mat2: Tensor, beta = 1, alpha = 1): Tensor {
    return ops.addmm(this, mat1, mat2, beta, alpha);
  }
  t(): Tensor {
    return ops.t(this);
  }

  // ------------------------------------------------------------------------------------------------ shape
  reshape(...shape: number[] | [readonly number[]]): Tensor {
    return ops.reshape(this, flatShape(shape));
  }
  view(...shape: number[] | [readonly number[]]): Tensor {
    return ops.view(this, flatShape(shape));
  }
  viewAs(other: Tensor): Tensor {
    return ops.view_as(this, other);
  }
  reshapeAs(other: Tensor): Tensor {
    return ops.reshape_as(this, other);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return ops.flatten$using_ints(this, startDim, endDim);
  }
  unflatten(dim: number, sizes: readonly number[]): Tensor {
    return ops.unflatten$int(this, dim, sizes);
  }
  squeeze(dim?: number): Tensor {
    return dim === undefined ? ops.squeeze(this) : ops.squeeze$dim(this, dim);
  }
  unsqueeze(dim: number): Tensor {
    return ops.unsqueeze(this, dim);
  }
  permute(...dims: number[] | [readonly number[]]): Tensor {
    return ops.permute(this, flatShape(dims));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return ops.transpose$int(this, dim0, dim1);
  }
  movedim(source: number, destination: number): Tensor {
    return ops.movedim$int(this, source, destination);
  }
  expand(...shape: number[] | [readonly number[]]): Tensor {
    return ops.expand(this, flatShape(shape));
  }
  expandAs(other: Tensor): Tensor {
    return ops.expand_as(this, other);
  }
  repeat(...repeats: number[] | [readonly number[]]): Tensor {
    return ops.repeat(this, flatShape(repeats));
  }
  repeatInterleave(repeats: number, dim?: number): Tensor {
    return ops.repeat_interleave$self_int(this, repeats, dim ?? null);
  }
  split(splitSize: number | readonly number[], dim = 0): Tensor[] {
    return typeof splitSize === 'number'
      ? ops.split$Tensor(this, splitSize, dim)
      : ops.split_with_sizes(this, splitSize, dim);
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return ops.chunk(this, chunks, dim);
  }
  unbind(dim = 0): Tensor[] {
    return ops.unbind$int(this, dim);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return ops.narrow(this, dim, start, length);
  }
  select(dim: number, index: number): Tensor {
    return ops.select$int(this, dim, index);
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return ops.index_select(this, dim, index);
  }
  gather(dim: number, index: Tensor): Tensor {
    return ops.gather(this, dim, index);
  }
  scatter(dim: number, index: Tensor, src: TensorOrScalar, reduce?: 'add' | 'multiply'): Tensor {
    if (src instanceof Tensor)
      return reduce ? ops.scatter$reduce(this, dim, index, src, reduce) : ops.scatter$src(this, dim, index, src);
    return reduce ? ops.scatter$value_reduce(this, dim, index, src, reduce) : ops.scatter$value(this, dim, index, src);
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return ops.scatter_add(this, dim, index, src);
  }
  maskedFill(mask: Tensor, value: TensorOrScalar): Tensor {
    return value instanceof Tensor
      ? ops.masked_fill$Tensor(this, mask, value)
      : ops.masked_fill$Scalar(this, mask, value);
  }
  maskedSelect(mask: Tensor): Tensor {
    return ops.masked_select(this, mask);
  }
  flip(...dims: number[] | [readonly number[]]): Tensor {
    return ops.flip(this, flatShape(dims));
  }
  roll(shifts: Dims, dims: Dims = []): Tensor {
    return ops.roll(this, dimsArray(shifts), dimsArray(dims));
  }
  nonzero(): Tensor {
    return ops.nonzero(this);
  }
  tril(diagonal = 0): Tensor {
    return ops.tril(this, diagonal);
  }
  triu(diagonal = 0): Tensor {
    return ops.triu(this, diagonal);
  }
  diag(diagonal = 0): Tensor {
    return ops.diag(this, diagonal);
  }

  /**
   * Indexing with PyTorch's rules: t.index(0, slice(1, 3), null, '...', idxTensor) is t[0, 1:3, None, ..., idx].
   * Integers and slices give views; tensors (integer or boolean) gather, as advanced indexing.
   */
  index(...indices: Index[]): Tensor {
    const ndim = this.ndim;
    const consumed = indices
      .filter((i) => i !== null && i !== '...')
      .reduce<number>((n, i) => n + (i instanceof Tensor && i.dtype === 'bool' ? i.ndim : 1), 0);
    if (consumed > ndim)
      throw new RangeError(`index: too many indices (${consumed}) for a tensor of ${ndim} dimensions`);
    let result: Tensor = this;
    let dim = 0;
    const advanced: (Tensor | null)[] = [];
    let sawEllipsis = false;
    const step = (next: Tensor): void => {
      if (result !== this) result.dispose();
      result = next;
    };
    // An invalid index part-way through must not leak the views made so far.
    try {
      for (const idx of indices) {
        if (idx === '...') {
          if (sawEllipsis) throw new TypeError('index: only one ellipsis allowed');
          sawEllipsis = true;
          const skip = ndim - consumed;
          for (let k = 0; k < skip; k++) advanced.push(null);
          dim += skip;
        } else if (idx === null) {
          step(result.unsqueeze(dim));
          advanced.push(null);
          dim++;
        } else if (typeof idx === 'number') {
          const size = result.shape[dim]!;
          if (idx < -size || idx >= size)
            throw new RangeError(`index ${idx} is out of bounds for dimension ${dim} with size ${size}`);
          step(result.select(dim, idx));
        } else if (idx instanceof Slice) {
          step(ops.slice$Tensor(result, dim, idx.start, idx.stop, idx.step));
          advanced.push(null);
          dim++;
        } else if (idx instanceof Tensor) {
          advanced.push(idx);
          dim += idx.dtype === 'bool' ? idx.ndim : 1;
        } else {
          throw new TypeError(
            `index: expected an integer, slice(), null, '...' or a Tensor, got ${JSON.stringify(idx) ?? typeof idx}`,
          );
        }
      }
      if (advanced.some((a) => a !== null)) {
        while (advanced.length > 0 && advanced[advanced.length - 1] === null) advanced.pop();
        step(ops.index$Tensor(result, advanced));
      }
    } catch (e) {
      if (result !== this) result.dispose();
      throw e;
    }
    return result === this ? ops.alias(this) : result;
  }
  /** In-place advanced assignment: this[indices] = values (accumulate adds instead). */
  indexPut_(indices: readonly (Tensor | null)[], values: TensorOrScalar, accumulate = false): this {
    const v = scalarOrTensor(values, this);
    ops.index_put_(this, indices, v, accumulate);
    if (v !== values) v.dispose();
    return this;
  }
  indexAdd_(dim: number, index: Tensor, source: Tensor, alpha = 1): this {
    ops.index_add_(this, dim, index, source, alpha);
    return this;
  }
  indexFill_(dim: number, index: Tensor, value: number): this {
    ops.index_fill_$int_Scalar(this, dim, index, value);
    return this;
  }

  // ------------------------------------------------------------------------------------------------ in place
  add_(other: TensorOrScalar, alpha?: number): this {
    if (other instanceof Tensor) ops.add_$Tensor(this, other, alpha);
    else ops.add_$Scalar(this, other, alpha);
    return this;
  }
  sub_(other: TensorOrScalar, alpha?: number): this {
    if (other instanceof Tensor) ops.sub_$Tensor(this, other, alpha);
    else ops.sub_$Scalar(this, other, alpha);
    return this;
  }
  mul_(other: TensorOrScalar): this {
    if (other instanceof Tensor) ops.mul_$Tensor(this, other);
    else ops.mul_$Scalar(this, other);
    return this;
  }
  div_(other: TensorOrScalar): this {
    if (other instanceof Tensor) ops.div_$Tensor(this, other);
    else ops.div_$Scalar(this, other);
    return this;
  }
  /** this += value * t1 * t2 */
  addcmul_(t1: Tensor, t2: Tensor, value = 1): this {
    ops.addcmul_(this, t1, t2, value);
    return this;
  }
  /** this += value * t1 / t2 */
  addcdiv_(t1: Tensor, t2: Tensor, value = 1): this {
    ops.addcdiv_(this, t1, t2, value);
    return this;
  }
  copy_(src: Tensor, nonBlocking = false): this {
    ops.copy_(this, src, nonBlocking);
    return this;
  }
  zero_(): this {
    ops.zero_(this);
    return this;
  }
  fill_(value: TensorOrScalar): this {
    if (value instanceof Tensor) ops.fill_$Tensor(this, value);
    else ops.fill_$Scalar(this, value);
    return this;
  }
  clamp_(min?: number | null, max?: number | null): this {
    ops.clamp_(this, min ?? null, max ?? null);
    return this;
  }
  lerp_(end: Tensor, weight: TensorOrScalar): this {
    if (weight instanceof Tensor) ops.lerp_$Tensor(this, end, weight);
    else ops.lerp_$Scalar(this, end, weight);
    return this;
  }
  sqrt_(): this {
    ops.sqrt_(this);
    return this;
  }
  neg_(): this {
    ops.neg_(this);
    return this;
  }
  exp_(): this {
    ops.exp_(this);
    return this;
  }
  relu_(): this {
    ops.relu_(this);
    return this;
  }
  pow_(exponent: number): this {
    ops.pow_$Scalar(this, exponent);
    return this;
  }
  maskedFill_(mask: Tensor, value: number): this {
    ops.masked_fill_$Scalar(this, mask, value);
    return this;
  }
  uniform_(from = 0, to = 1, generator?: Generator): this {
    ops.uniform_(this, from, to, generatorArg(generator, 'uniform_'));
    return this;
  }
  normal_(mean = 0, std = 1, generator?: Generator): this {
    ops.normal_(this, mean, std, generatorArg(generator, 'normal_'));
    return this;
  }
  bernoulli_(p: number, generator?: Generator): this {
    ops.bernoulli_$float(this, p, generatorArg(generator, 'bernoulli_'));
    return this;
  }

  // ------------------------------------------------------------------------------------------------ display
  toString(): string {
    if (this.isDisposed) return 'Tensor(disposed)';
    const n = this.numel();
    const body = n <= 64 ? ` ${JSON.stringify(this.tolist())}` : '';
    const grad = this.requiresGrad ? ', requiresGrad=true' : '';
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device}${grad})${body}`;
  }
  [inspect.custom](): string {
    return this.toString();
  }
}

function flatShape(args: number[] | [readonly number[]]): readonly number[] {
  return args.length === 1 && Array.isArray(args[0]) ? (args[0] as readonly number[]) : (args as number[]);
}

const DTYPE_NAMES = new Set<string>([
  'uint8',
  'int8',
  'int16',
  'int32',
  'int64',
  'float16',
  'float32',
  'float64',
  'bool',
  'bfloat16',
]);
function isDTypeName(s: string): s is DType {
  return DTYPE_NAMES.has(s);
}

setTensorFactory((h) => new Tensor(h));
setScopedPredicate((v): v is Tensor => v instanceof Tensor);
