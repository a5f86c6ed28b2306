// Tensor factories: torch.tensor, zeros, ones, full, empty, arange, linspace, eye, rand*, randperm and *Like forms.
import { native } from './native.js';
import * as ops from './generated/ops.js';
import { Tensor } from './tensor.js';
import { generatorArg } from './dispatch.js';
import type { Generator } from './random.js';
import { type DType, dtypeCode, dtypeOfTypedArray } from './dtype.js';

export interface TensorOptions {
  dtype?: DType;
  device?: string;
  requiresGrad?: boolean;
  /**
   * Allocate in pinned (page-locked) host memory, for non-blocking copies to a CUDA device. Honoured by empty, zeros,
   * ones and full on the CPU; needs a CUDA libtorch with a visible device.
   */
  pinMemory?: boolean;
}
export interface RandomOptions extends TensorOptions {
  generator?: Generator;
}
export type NestedArray = number | boolean | bigint | readonly NestedArray[];
type Shape = readonly number[];

function finish(t: Tensor, opts: TensorOptions): Tensor {
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}

function dt(opts: TensorOptions, fallback: DType = 'float32'): number {
  return dtypeCode(opts.dtype ?? fallback);
}

function checkShape(shape: Shape, where: string): Shape {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new TypeError(`${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  return shape;
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0] as NestedArray;
  }
  return shape;
}

function flatten(data: NestedArray, shape: readonly number[], depth: number, out: (number | boolean | bigint)[]): void {
  if (depth === shape.length) {
    if (Array.isArray(data)) throw new TypeError('tensor: ragged nested array (sub-arrays differ in length)');
    if (typeof data !== 'number' && typeof data !== 'boolean' && typeof data !== 'bigint') {
      throw new TypeError(
        `tensor: elements must be numbers, booleans or bigints, got ${data === null ? 'null' : typeof data}`,
      );
    }
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth])
    throw new TypeError('tensor: ragged nested array (sub-arrays differ in length)');
  for (const e of data) flatten(e, shape, depth + 1, out);
}

function packed(values: (number | boolean | bigint)[], dtype: DType): ArrayBufferView {
  switch (dtype) {
    case 'float64':
      return Float64Array.from(values, Number);
    case 'int64':
      return BigInt64Array.from(values, (v) => (typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v)))));
    case 'int32':
      return Int32Array.from(values, Number);
    case 'int16':
      return Int16Array.from(values, Number);
    case 'int8':
      return Int8Array.from(values, Number);
    case 'uint8':
      return Uint8Array.from(values, Number);
    // Any nonzero value is true, as in PyTorch; storing the raw number would corrupt the bool storage.
    case 'bool':
      return Uint8Array.from(values, (v) => (Number(v) !== 0 ? 1 : 0));
    default:
      return Float32Array.from(values, Number);
  }
}

// PyTorch's promotion bool < int < float over every element; JS numbers count as float, bigints as int.
function naturalDtype(values: readonly (number | boolean | bigint)[]): DType {
  if (values.length > 0 && values.every((v) => typeof v === 'boolean')) return 'bool';
  if (values.length > 0 && values.every((v) => typeof v !== 'number')) return 'int64';
  return 'float32';
}

/**
 * torch.tensor: from a typed array (its own dtype unless opts.dtype, shape [length] unless opts.shape), nested
 * arrays (bool when all booleans, int64 when all bigints or booleans, else float32) or a scalar. Always copies.
 */
export function tensor(data: ArrayBufferView | NestedArray, opts: TensorOptions & { shape?: Shape } = {}): Tensor {
  let t: Tensor;
  if (ArrayBuffer.isView(data)) {
    const natural = dtypeOfTypedArray(data);
    const length = data.byteLength / (data as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
    const shape = opts.shape === undefined ? [length] : checkShape(opts.shape, 'tensor');
    t = new Tensor(native.fromBuffer(data, shape, dtypeCode(natural)));
    if (opts.dtype !== undefined && opts.dtype !== natural) t = convert(t, opts.dtype);
  } else {
    const shape = inferShape(data);
    const values: (number | boolean | bigint)[] = [];
    flatten(data, shape, 0, values);
    const natural = naturalDtype(values);
    const dtype = opts.dtype ?? natural;
    const storeAs: DType = dtype === 'float16' || dtype === 'bfloat16' ? 'float32' : dtype;
    t = new Tensor(native.fromBuffer(packed(values, storeAs), opts.shape ?? shape, dtypeCode(storeAs)));
    if (storeAs !== dtype) t = convert(t, dtype);
  }
  if (opts.device !== undefined && opts.device !== 'cpu') t = convert(t, undefined, opts.device);
  return finish(t, opts);
}

function convert(t: Tensor, dtype?: DType, device?: string): Tensor {
  const r = t.to({ ...(dtype ? { dtype } : {}), ...(device ? { device } : {}) });
  t.dispose();
  return r;
}

export function scalarTensor(value: number | boolean, opts: TensorOptions = {}): Tensor {
  return finish(
    ops.scalar_tensor(value, dt(opts, typeof value === 'boolean' ? 'bool' : 'float32'), null, opts.device ?? null),
    opts,
  );
}
export function zeros(shape: Shape, opts: TensorOptions = {}): Tensor {
  return finish(
    ops.zeros(checkShape(shape, 'zeros'), dt(opts), null, opts.device ?? null, opts.pinMemory ?? null),
    opts,
  );
}
export function ones(shape: Shape, opts: TensorOptions = {}): Tensor {
  return finish(ops.ones(checkShape(shape, 'ones'), dt(opts), null, opts.device ?? null, opts.pinMemory ?? null), opts);
}
export function full(shape: Shape, value: number | boolean, opts: TensorOptions = {}): Tensor {
  return finish(
    ops.full(
      checkShape(shape, 'full'),
      value,
      dt(opts, typeof value === 'boolean' ? 'bool' : 'float32'),
      null,
      opts.device ?? null,
      opts.pinMemory ?? null,
    ),
    opts,
  );
}
export function empty(shape: Shape, opts: TensorOptions = {}): Tensor {
  return finish(
    ops.empty$memory_format(checkShape(shape, 'empty'), dt(opts), null, opts.device ?? null, opts.pinMemory ?? null),
    opts,
  );
}
/** arange(end) or arange(start, end, step); int64 when every argument is an integer, as PyTorch with Python ints. */
export function arange(start: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  const [s, e] = end === undefined ? [0, start] : [start, end];
  const integral = Number.isInteger(s) && Number.isInteger(e) && Number.isInteger(step);
  return finish(
    ops.arange$start_step(s, e, step, dt(opts, integral ? 'int64' : 'float32'), null, opts.device ?? null),
    opts,
  );
}
export function linspace(start: number, end: number, steps: number, opts: TensorOptions = {}): Tensor {
  return finish(ops.linspace(start, end, steps, dt(opts), null, opts.device ?? null), opts);
}
export function eye(n: number, m?: number, opts: TensorOptions = {}): Tensor {
  return finish(ops.eye$m(n, m ?? n, dt(opts), null, opts.device ?? null), opts);
}
export function rand(shape: Shape, opts: RandomOptions = {}): Tensor {
  return finish(
    ops.rand$generator(
      checkShape(shape, 'rand'),
      generatorArg(opts.generator, 'rand'),
      dt(opts),
      null,
      opts.device ?? null,
    ),
    opts,
  );
}
export function randn(shape: Shape, opts: RandomOptions = {}): Tensor {
  return finish(
    ops.randn$generator(
      checkShape(shape, 'randn'),
      generatorArg(opts.generator, 'randn'),
      dt(opts),
      null,
      opts.device ?? null,
    ),
    opts,
  );
}
/** Integers uniform in [low, high); int64 by default. */
export function randint(low: number, high: number, shape: Shape, opts: RandomOptions = {}): Tensor {
  return finish(
    ops.randint$low_generator(
      low,
      high,
      checkShape(shape, 'randint'),
      generatorArg(opts.generator, 'randint'),
      dt(opts, 'int64'),
      null,
      opts.device ?? null,
    ),
    opts,
  );
}
export function randperm(n: number, opts: RandomOptions = {}): Tensor {
  return finish(
    ops.randperm$generator(n, generatorArg(opts.generator, 'randperm'), dt(opts, 'int64'), null, opts.device ?? null),
    opts,
  );
}

function likeDtype(opts: TensorOptions): number | null {
  return opts.dtype === undefined ? null : dtypeCode(opts.dtype);
}
export function zerosLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return finish(ops.zeros_like(t, likeDtype(opts), null, opts.device ?? null), opts);
}
export function onesLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return finish(ops.ones_like(t, likeDtype(opts), null, opts.device ?? null), opts);
}
export function fullLike(t: Tensor, value: number | boolean, opts: TensorOptions = {}): Tensor {
  return finish(ops.full_like(t, value, likeDtype(opts), null, opts.device ?? null), opts);
}
export function emptyLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return finish(ops.empty_like(t, likeDtype(opts), null, opts.device ?? null), opts);
}
export function randLike(t: Tensor, opts: RandomOptions = {}): Tensor {
  if (opts.generator) return rand(t.shape, { dtype: t.dtype, device: t.device, ...opts });
  return finish(ops.rand_like(t, likeDtype(opts), null, opts.device ?? null), opts);
}
export function randnLike(t: Tensor, opts: RandomOptions = {}): Tensor {
  if (opts.generator) return randn(t.shape, { dtype: t.dtype, device: t.device, ...opts });
  return finish(ops.randn_like(t, likeDtype(opts), null, opts.device ?? null), opts);
}
export function randintLike(t: Tensor, low: number, high: number, opts: RandomOptions = {}): Tensor {
  return randint(low, high, t.shape, { dtype: t.dtype, device: t.device, ...opts });
}
