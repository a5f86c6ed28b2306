// Operators from outside ATen, as torch.ops: a shared library registers them with the dispatcher (TORCH_LIBRARY)
// when loaded, and they are then called through the same boxed path as the generated ATen layer.
import { native } from './native.js';
export { builtNativeFile as builtLibraryPath } from './native.js';
import { wrap } from './dispatch.js';
import { Tensor } from './tensor.js';

const loaded = new Set<string>();

/** Loads a library of custom operators (torch.ops.load_library); loading the same path again does nothing. */
export function loadLibrary(path: string): void {
  if (loaded.has(path)) return;
  native.loadLibrary(path);
  loaded.add(path);
}

function toNative(arg: unknown): unknown {
  if (arg instanceof Tensor) return arg._h;
  if (Array.isArray(arg)) return arg.map(toNative);
  return arg;
}

function fromNative(value: unknown): unknown {
  if (value instanceof native.NativeTensor) return wrap(value);
  if (Array.isArray(value)) return value.map(fromNative);
  return value;
}

/**
 * The operator `namespace::name` (with an overload name if it has one) as a function of its schema's arguments in
 * order, or null when no loaded library registers it. Tensors and tensor lists go in and come out as Tensors;
 * other arguments are converted by the schema, and a wrong one fails with the operator and argument named.
 */
export function customOp(qualifiedName: string, overload = ''): ((...args: unknown[]) => unknown) | null {
  if (!qualifiedName.includes('::'))
    throw new RangeError(`customOp: expected 'namespace::name', got '${qualifiedName}'`);
  const id = native.resolveOp(qualifiedName, overload);
  if (id < 0) return null;
  return (...args: unknown[]): unknown => fromNative(native.call(id, args.map(toNative)));
}
