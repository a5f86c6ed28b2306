// The bridge between the generated operator layer and the native binding: operator ids and handle wrapping.
import { native, type NativeTensor } from './native.js';
import type { Tensor } from './tensor.js';
import type { Generator } from './random.js';

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

/**
 * Checks an optional generator argument: the generated layer reads `generator?._h`, so any other object would
 * silently fall back to the default generator instead of failing.
 */
export function generatorArg(g: Generator | null | undefined, where: string): Generator | null {
  if (g === undefined || g === null) return null;
  if (typeof g !== 'object' || !(g._h instanceof native.NativeGenerator)) throw new TypeError(`${where}: generator must be a torch.Generator`);
  return g;
}
