// The bridge between the generated operator layer and the native binding: operator ids and handle wrapping.
import { native, type NativeTensor } from './native.js';
import type { Tensor } from './tensor.js';

const names: string[] = [];
const ids: number[] = [];
let makeTensor: ((h: NativeTensor) => Tensor) | null = null;

/** Called once by tensor.ts, so this module need not import the Tensor class (which imports the ops). */
export function setTensorFactory(f: (h: NativeTensor) => Tensor): void {
  makeTensor = f;
}

/** Resolves the generated table of [qualified name, overload] pairs; ids follow table order. */
export function resolveOperators(table: readonly (readonly [string, string])[]): void {
  for (const [name, overload] of table) {
    names.push(overload ? `${name}.${overload}` : name);
    ids.push(native.resolveOp(name, overload));
  }
}

export function invoke(index: number, args: unknown[], discardResult = false): unknown {
  const id = ids[index]!;
  if (id < 0) throw new Error(`${names[index]} is not available in this libtorch (${native.buildInfo().version})`);
  return native.call(id, args, discardResult);
}

export function wrap(h: unknown): Tensor | null {
  if (h === null || h === undefined) return null;
  return makeTensor!(h as NativeTensor);
}

export function wrapList(hs: unknown): Tensor[] {
  return (hs as NativeTensor[]).map((h) => makeTensor!(h));
}
