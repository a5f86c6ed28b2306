// Golden-file runner for the tensor API tests: rebuilds the inputs stored by test/golden/gen_ops.py, runs our op
// and compares outputs and input gradients with PyTorch's. Needs no Python at test time.
//
// Tolerances (|actual - expected| <= atol + rtol * |expected|, NaN must match NaN, infinities exactly):
//   float64 rtol 1e-10 atol 1e-12 · float32 rtol 1e-5 atol 1e-6 · float16 rtol 1e-3 atol 1e-4 ·
//   bfloat16 rtol 8e-3 atol 1e-3 · integer and bool dtypes exact. A case may widen them (its `tol` field).
// Both sides run the same libtorch build, so most results agree bit for bit; the slack absorbs reduction order
// (PyTorch generated the files with one thread, the tests use every core).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as torch from '../../src/torch/index.js';
import type { Tensor, DType } from '../../src/torch/index.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Args = Readonly<Record<string, Json>>;
/** One op under test: positional inputs rebuilt from the file, keyword arguments as stored. */
export type OpImpl = (x: Tensor[], a: Args) => Tensor | readonly Tensor[];

type Value = number | string;
export interface TensorSpec {
  shape: number[];
  dtype: DType;
  data: Value[];
  grad?: boolean;
}
export interface Tolerance {
  rtol: number;
  atol: number;
}
export interface GoldenCase {
  name: string;
  op: string;
  args: Args;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  upstream: (Value[] | null)[];
  grads: (Value[] | null)[];
  tol?: Tolerance;
}

export const TOLERANCE: Readonly<Record<DType, Tolerance>> = {
  float64: { rtol: 1e-10, atol: 1e-12 },
  float32: { rtol: 1e-5, atol: 1e-6 },
  float16: { rtol: 1e-3, atol: 1e-4 },
  bfloat16: { rtol: 8e-3, atol: 1e-3 },
  int64: { rtol: 0, atol: 0 },
  int32: { rtol: 0, atol: 0 },
  int16: { rtol: 0, atol: 0 },
  int8: { rtol: 0, atol: 0 },
  uint8: { rtol: 0, atol: 0 },
  bool: { rtol: 0, atol: 0 },
};

const GOLDEN_DIR = new URL('../golden/', import.meta.url);

export function loadGolden<T = GoldenCase>(family: string): T[] {
  const file = JSON.parse(readFileSync(new URL(`ops_${family}.json`, GOLDEN_DIR), 'utf8')) as { cases: T[] };
  return file.cases;
}

/** JSON has no NaN or infinities; the generator writes them as strings. */
export function decode(v: Json | undefined): number {
  if (typeof v === 'number') return v;
  if (v === 'nan') return NaN;
  if (v === 'inf') return Infinity;
  if (v === '-inf') return -Infinity;
  throw new TypeError(`expected a number, got ${JSON.stringify(v)}`);
}

// ------------------------------------------------------------------------------------------------ argument readers
export function num(v: Json | undefined): number {
  return decode(v);
}
export function optNum(v: Json | undefined): number | undefined {
  return v === null || v === undefined ? undefined : decode(v);
}
export function int(v: Json | undefined): number {
  const n = decode(v);
  if (!Number.isInteger(n)) throw new TypeError(`expected an integer, got ${JSON.stringify(v)}`);
  return n;
}
export function ints(v: Json | undefined): number[] {
  if (!Array.isArray(v)) throw new TypeError(`expected an integer list, got ${JSON.stringify(v)}`);
  return v.map(int);
}
/** A dim argument: one integer or a list. */
export function dims(v: Json | undefined): number | number[] {
  return Array.isArray(v) ? ints(v) : int(v);
}
export function optDims(v: Json | undefined): number | number[] | undefined {
  return v === null || v === undefined ? undefined : dims(v);
}
export function pair(v: Json | undefined): number | [number, number] {
  if (Array.isArray(v)) {
    const [a, b] = ints(v);
    return [a!, b!];
  }
  return int(v);
}
export function bool(v: Json | undefined): boolean {
  if (typeof v !== 'boolean') throw new TypeError(`expected a boolean, got ${JSON.stringify(v)}`);
  return v;
}
export function str<S extends string = string>(v: Json | undefined): S {
  if (typeof v !== 'string') throw new TypeError(`expected a string, got ${JSON.stringify(v)}`);
  return v as S;
}
export function optDtype(v: Json | undefined): DType | undefined {
  return v === null || v === undefined ? undefined : str<DType>(v);
}
export function obj(v: Json | undefined): Args {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new TypeError(`expected an object, got ${JSON.stringify(v)}`);
  return v;
}

// ------------------------------------------------------------------------------------------------ tensors
function typedArray(dtype: DType, data: readonly Value[]): ArrayBufferView {
  const values = data.map(decode);
  switch (dtype) {
    case 'float64':
      return Float64Array.from(values);
    case 'int64':
      return BigInt64Array.from(values, (v) => BigInt(v));
    case 'int32':
      return Int32Array.from(values);
    case 'int16':
      return Int16Array.from(values);
    case 'int8':
      return Int8Array.from(values);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(values);
    // float16 and bfloat16 values in the files are exact in float32, so converting from it is exact.
    case 'float32':
    case 'float16':
    case 'bfloat16':
      return Float32Array.from(values);
  }
}

/** A tensor with the stored dtype, shape and values. */
export function fromSpec(spec: Pick<TensorSpec, 'shape' | 'dtype' | 'data'>, requiresGrad = false): Tensor {
  return torch.tensor(typedArray(spec.dtype, spec.data), { shape: spec.shape, dtype: spec.dtype, requiresGrad });
}

function valuesOf(t: Tensor): number[] {
  return Array.from(t.toArray() as ArrayLike<number | bigint>, (v) => Number(v));
}

/** Asserts dtype, shape and values (within tol) of `actual` against a stored tensor. */
export function assertMatches(
  actual: Tensor,
  expected: Pick<TensorSpec, 'shape' | 'dtype' | 'data'>,
  tol: Tolerance,
  label: string,
): void {
  assert.equal(actual.dtype, expected.dtype, `${label}: dtype`);
  assert.deepEqual(actual.shape, expected.shape, `${label}: shape`);
  assertValues(valuesOf(actual), expected.data.map(decode), tol, label);
}

export function assertValues(
  actual: readonly number[],
  expected: readonly number[],
  tol: Tolerance,
  label: string,
): void {
  assert.equal(actual.length, expected.length, `${label}: element count`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    let excess: number;
    if (Number.isNaN(e) || !Number.isFinite(e))
      excess = Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)) ? 0 : Infinity;
    else excess = Math.abs(a - e) - (tol.atol + tol.rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    assert.fail(
      `${label}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (rtol ${tol.rtol}, atol ` +
        `${tol.atol})`,
    );
  }
}

function toleranceFor(c: GoldenCase, dtype: DType): Tolerance {
  return c.tol ?? TOLERANCE[dtype];
}

/**
 * Runs one case: builds the inputs (those marked grad require it), applies the op, checks every output, then
 * back-propagates sum(out_i * upstream_i) over the outputs PyTorch found differentiable and checks input grads.
 */
export function runCase(c: GoldenCase, impl: OpImpl): void {
  torch.scope(() => {
    const xs = c.inputs.map((s) => fromSpec(s, s.grad === true));
    const result = impl(xs, c.args);
    const outs: readonly Tensor[] = result instanceof torch.Tensor ? [result] : result;
    assert.equal(outs.length, c.outputs.length, `${c.name}: number of outputs`);
    outs.forEach((o, i) => {
      assertMatches(o, c.outputs[i]!, toleranceFor(c, c.outputs[i]!.dtype), `${c.name} output ${i}`);
    });

    let loss: Tensor | null = null;
    for (let i = 0; i < outs.length; i++) {
      const o = outs[i]!;
      const up = c.upstream[i] ?? null;
      assert.equal(
        o.requiresGrad,
        up !== null,
        `${c.name} output ${i}: requiresGrad should be ${up !== null}, as in PyTorch`,
      );
      if (up === null) continue;
      const term = o.mul(fromSpec({ shape: o.shape, dtype: o.dtype, data: up })).sum();
      loss = loss === null ? term : loss.add(term);
    }
    if (loss !== null && xs.some((x) => x.requiresGrad)) loss.backward();
    xs.forEach((x, i) => {
      if (!x.requiresGrad) return;
      const expected = c.grads[i];
      const g = x.grad;
      if (expected === null || expected === undefined) {
        assert.equal(g, null, `${c.name} input ${i}: PyTorch gives no gradient`);
        return;
      }
      assert.ok(g !== null, `${c.name} input ${i}: missing gradient`);
      const spec = c.inputs[i]!;
      assertMatches(
        g,
        { shape: spec.shape, dtype: spec.dtype, data: expected },
        toleranceFor(c, spec.dtype),
        `${c.name} grad ${i}`,
      );
    });
  });
}

/**
 * Registers one test per case of ops_<family>.json, plus a check that the file and the implementation table
 * name the same ops (so a case can neither be skipped silently nor an implementation go unexercised).
 */
export function goldenSuite(family: string, ops: Readonly<Record<string, OpImpl>>): void {
  const cases = loadGolden(family);
  test(`${family}: golden file and op table cover each other`, () => {
    const inFile = new Set(cases.map((c) => c.op));
    assert.deepEqual(
      [...inFile].filter((op) => !(op in ops)).sort(),
      [],
      'ops in the golden file without an implementation',
    );
    assert.deepEqual(
      Object.keys(ops)
        .filter((op) => !inFile.has(op))
        .sort(),
      [],
      'implemented ops without golden cases',
    );
  });
  for (const c of cases) {
    test(c.name, () => {
      const impl = ops[c.op];
      assert.ok(impl, `no implementation for op '${c.op}'`);
      runCase(c, impl);
    });
  }
}

/** Index arguments as stored: {int}, {slice: [start, stop, step]}, null, '...', {tensor: inputPosition}. */
export function indexSpec(spec: Json | undefined, x: readonly Tensor[]): torch.Index[] {
  if (!Array.isArray(spec)) throw new TypeError('index spec must be a list');
  return spec.map((s): torch.Index => {
    if (s === null) return null;
    if (s === '...') return '...';
    const o = obj(s);
    if ('int' in o) return int(o.int);
    if ('slice' in o) {
      const [start, stop, step] = o.slice as Json[];
      return torch.slice(optNum(start) ?? null, optNum(stop) ?? null, optNum(step) ?? 1);
    }
    return x[int(o.tensor)]!;
  });
}
