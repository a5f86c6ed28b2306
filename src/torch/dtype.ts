// Data types: PyTorch's names, the c10::ScalarType codes the binding speaks, and the typed arrays they map to.

export type DType =
  | 'uint8'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'float16'
  | 'float32'
  | 'float64'
  | 'bool'
  | 'bfloat16';
/** A c10::ScalarType code; stable across libtorch versions. */
export type DTypeCode = number;

const CODES: Record<DType, DTypeCode> = {
  uint8: 0,
  int8: 1,
  int16: 2,
  int32: 3,
  int64: 4,
  float16: 5,
  float32: 6,
  float64: 7,
  bool: 11,
  bfloat16: 15,
};
const NAMES = new Map<DTypeCode, DType>(Object.entries(CODES).map(([k, v]) => [v, k as DType]));

export function dtypeCode(d: DType): DTypeCode {
  const c = CODES[d];
  if (c === undefined)
    throw new TypeError(`unknown dtype '${String(d)}'; expected one of ${Object.keys(CODES).join(', ')}`);
  return c;
}

export function dtypeName(code: DTypeCode): DType {
  const n = NAMES.get(code);
  if (n === undefined) throw new TypeError(`unsupported scalar type code ${code}`);
  return n;
}

export function isFloatingPoint(d: DType): boolean {
  return d === 'float16' || d === 'float32' || d === 'float64' || d === 'bfloat16';
}

export function elementSize(d: DType): number {
  switch (d) {
    case 'uint8':
    case 'int8':
    case 'bool':
      return 1;
    case 'int16':
    case 'float16':
    case 'bfloat16':
      return 2;
    case 'int32':
    case 'float32':
      return 4;
    case 'int64':
    case 'float64':
      return 8;
  }
}

/** The typed array `toArray()` returns for each dtype; float16/bfloat16 come back widened to Float32Array. */
export type TypedArrayFor<D extends DType> = D extends 'float32' | 'float16' | 'bfloat16'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int64'
      ? BigInt64Array
      : D extends 'int32'
        ? Int32Array
        : D extends 'int16'
          ? Int16Array
          : D extends 'int8'
            ? Int8Array
            : Uint8Array;

export type AnyTypedArray =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

export function typedArrayFromBuffer(d: DType, buf: ArrayBuffer): AnyTypedArray {
  switch (d) {
    case 'float32':
      return new Float32Array(buf);
    case 'float64':
      return new Float64Array(buf);
    case 'int64':
      return new BigInt64Array(buf);
    case 'int32':
      return new Int32Array(buf);
    case 'int16':
      return new Int16Array(buf);
    case 'int8':
      return new Int8Array(buf);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buf);
    case 'float16':
    case 'bfloat16':
      throw new TypeError(`${d} has no typed array; convert to float32 first`);
  }
}

/** The dtype a typed array naturally holds. */
export function dtypeOfTypedArray(a: ArrayBufferView): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Uint8Array || a instanceof Uint8ClampedArray) return 'uint8';
  throw new TypeError(`unsupported typed array ${a.constructor.name}`);
}

// c10 enums the raw layer takes as integers.
export const MemoryFormat = { contiguous: 0, preserve: 1, channelsLast: 2, channelsLast3d: 3 } as const;
export type MemoryFormatName = keyof typeof MemoryFormat;
