// Deterministic release of native memory: tensors created inside scope(fn) die when fn returns, unless
// returned or kept. Garbage collection remains the backstop for tensors made outside any scope.

/** What scope() needs from a tensor; kept minimal so this module does not import the Tensor class. */
export interface Scoped {
  dispose(): void;
  readonly isDisposed: boolean;
}

interface ScopeFrame {
  tensors: Scoped[];
}

const stack: ScopeFrame[] = [];
const keptForever = new WeakSet<Scoped>();
let isScopedValue: (v: unknown) => v is Scoped = (_v: unknown): _v is Scoped => false;

/** tensor.ts registers how to recognise a tensor inside a returned value. */
export function setScopedPredicate(p: (v: unknown) => v is Scoped): void {
  isScopedValue = p;
}

export function trackTensor(t: Scoped): void {
  const top = stack[stack.length - 1];
  if (top !== undefined) top.tensors.push(t);
}

/** Exempts a tensor from every enclosing and later scope; the caller disposes it (or GC does). */
export function keep<T extends Scoped>(t: T): T {
  keptForever.add(t);
  return t;
}

// Finds the tensors in fn's result: a tensor, or arrays, Maps, Sets and plain objects holding tensors.
function collect(v: unknown, out: Set<Scoped>, seen: Set<unknown>): void {
  if (v === null || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if (isScopedValue(v)) {
    out.add(v);
    return;
  }
  if (Array.isArray(v)) for (const e of v) collect(e, out, seen);
  else if (v instanceof Map) for (const e of v.values()) collect(e, out, seen);
  else if (v instanceof Set) for (const e of v) collect(e, out, seen);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const e of Object.values(v)) collect(e, out, seen);
}

/**
 * Runs fn and disposes every tensor created during it, except those in its return value (which move to the
 * enclosing scope) and those passed to keep(). If fn throws, everything it created is disposed.
 */
export function scope<T>(fn: () => T): T {
  const frame: ScopeFrame = { tensors: [] };
  stack.push(frame);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of frame.tensors) if (!keptForever.has(t)) t.dispose();
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) {
    for (const t of frame.tensors) if (!keptForever.has(t)) t.dispose();
    throw new TypeError(
      'torch.scope(fn): fn must be synchronous; await outside the scope and scope each synchronous step',
    );
  }
  const survivors = new Set<Scoped>();
  collect(result, survivors, new Set());
  const parent = stack[stack.length - 1];
  for (const t of frame.tensors) {
    if (keptForever.has(t)) continue;
    if (survivors.has(t)) parent?.tensors.push(t);
    else t.dispose();
  }
  return result;
}

/** Number of open scopes (for diagnostics and tests). */
export function scopeDepth(): number {
  return stack.length;
}
