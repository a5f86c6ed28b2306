// The Module base: parameters, buffers and submodules registered by name in insertion order, train/eval mode,
// PyTorch-compatible state dicts, device/dtype moves and deterministic release of the tensors a module owns.
import * as torch from '../torch/index.js';

type Tensor = torch.Tensor;

/** A module of any input and output type (methods are bivariant, so every Module<I, O> is one). */
export type AnyModule = Module<unknown, unknown>;

/** A trainable tensor: a leaf that requires grad, owned by a module. Represented by a plain Tensor. */
export type Parameter = Tensor;

/**
 * Marks a leaf floating-point tensor as a parameter: sets requiresGrad and exempts it from torch.scope()
 * disposal, so a module built inside a scope keeps its weights. Returns the same tensor.
 */
export function parameter(data: Tensor, requiresGrad = true): Parameter {
  if (!data.isFloatingPoint()) throw new TypeError(`parameter: expected a floating-point tensor, got ${data.dtype}`);
  if (!data.isLeaf) throw new TypeError('parameter: expected a leaf tensor (detach() it first)');
  return data.requiresGrad_(requiresGrad).keep();
}

export interface LoadStateDictOptions {
  /** Missing and unexpected keys are errors (default true); shape mismatches always are. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

const FLOAT_DTYPES: ReadonlySet<string> = new Set(['float16', 'float32', 'float64', 'bfloat16']);
const OTHER_DTYPES: ReadonlySet<string> = new Set(['uint8', 'int8', 'int16', 'int32', 'int64', 'bool']);

function join(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}.${name}`;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export abstract class Module<In = Tensor, Out = Tensor> {
  private readonly _parameters = new Map<string, Tensor>();
  private readonly _buffers = new Map<string, Tensor>();
  private readonly _nonPersistent = new Set<string>();
  private readonly _modules = new Map<string, AnyModule>();
  private _training = true;

  abstract forward(input: In): Out;

  /**
   * Runs forward. Modules never dispose their input, and return tensors the caller owns (fresh handles, so
   * disposing a result never frees the input).
   */
  call(input: In): Out {
    return this.forward(input);
  }

  /** True in training mode (the default); BatchNorm uses batch statistics and updates its running ones. */
  get training(): boolean {
    return this._training;
  }

  // ------------------------------------------------------------------------------------------------ registration
  private checkName(name: string): void {
    if (name === '' || name.includes('.'))
      throw new TypeError(`module member name must be non-empty and contain no '.', got '${name}'`);
    if (this._parameters.has(name) || this._buffers.has(name) || this._modules.has(name)) {
      throw new Error(`${this.constructor.name} already has a member named '${name}'`);
    }
  }

  /** Registers a parameter (see parameter()); the module owns it from now on. */
  registerParameter(name: string, param: Parameter): Parameter {
    this.checkName(name);
    if (!param.isLeaf) throw new TypeError(`registerParameter('${name}'): a parameter must be a leaf tensor`);
    this._parameters.set(name, param.keep());
    return param;
  }

  /** Registers a buffer: state that is not trained (running statistics); non-persistent ones stay out of stateDict. */
  registerBuffer(name: string, buffer: Tensor, persistent = true): Tensor {
    this.checkName(name);
    this._buffers.set(name, buffer.keep());
    if (!persistent) this._nonPersistent.add(name);
    return buffer;
  }

  registerModule<M extends AnyModule>(name: string, module: M): M {
    this.checkName(name);
    this._modules.set(name, module);
    return module;
  }

  // ------------------------------------------------------------------------------------------------ lookup
  /** The submodule at a dotted path ('' is this module), e.g. 'layer1.0.conv1'. */
  getSubmodule(target: string): AnyModule {
    let m: AnyModule = this;
    if (target === '') return m;
    for (const part of target.split('.')) {
      const next = m._modules.get(part);
      if (next === undefined)
        throw new Error(`${m.constructor.name} has no submodule '${part}' (looking up '${target}')`);
      m = next;
    }
    return m;
  }

  /** The parameter at a dotted path, e.g. 'layer1.0.bn1.weight'. */
  getParameter(target: string): Parameter {
    const [owner, name] = this.splitTarget(target);
    const p = owner._parameters.get(name);
    if (p === undefined)
      throw new Error(`${owner.constructor.name} has no parameter '${name}' (looking up '${target}')`);
    return p;
  }

  /** The buffer at a dotted path, e.g. 'bn1.running_mean'. */
  getBuffer(target: string): Tensor {
    const [owner, name] = this.splitTarget(target);
    const b = owner._buffers.get(name);
    if (b === undefined) throw new Error(`${owner.constructor.name} has no buffer '${name}' (looking up '${target}')`);
    return b;
  }

  private splitTarget(target: string): [AnyModule, string] {
    const dot = target.lastIndexOf('.');
    return dot < 0 ? [this, target] : [this.getSubmodule(target.slice(0, dot)), target.slice(dot + 1)];
  }

  // ------------------------------------------------------------------------------------------------ traversal
  /** [name, module] for this module ('' or prefix) and all descendants, depth first, each module once. */
  namedModules(prefix = ''): [string, AnyModule][] {
    const out: [string, AnyModule][] = [];
    const seen = new Set<AnyModule>();
    const visit = (m: AnyModule, p: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([p, m]);
      for (const [name, child] of m._modules) visit(child, join(p, name));
    };
    visit(this, prefix);
    return out;
  }

  modules(): AnyModule[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Direct submodules in registration order. */
  namedChildren(): [string, AnyModule][] {
    return [...this._modules];
  }

  children(): AnyModule[] {
    return [...this._modules.values()];
  }

  private namedMembers(kind: '_parameters' | '_buffers', prefix: string, recurse: boolean): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    const owners: [string, AnyModule][] = recurse ? this.namedModules(prefix) : [[prefix, this]];
    for (const [p, m] of owners) {
      for (const [name, t] of m[kind]) {
        if (seen.has(t)) continue;
        seen.add(t);
        out.push([join(p, name), t]);
      }
    }
    return out;
  }

  /** [dotted name, parameter] pairs, each tensor once (shared parameters appear under their first name). */
  namedParameters(prefix = '', recurse = true): [string, Parameter][] {
    return this.namedMembers('_parameters', prefix, recurse);
  }

  parameters(recurse = true): Parameter[] {
    return this.namedParameters('', recurse).map(([, t]) => t);
  }

  namedBuffers(prefix = '', recurse = true): [string, Tensor][] {
    return this.namedMembers('_buffers', prefix, recurse);
  }

  buffers(recurse = true): Tensor[] {
    return this.namedBuffers('', recurse).map(([, t]) => t);
  }

  // ------------------------------------------------------------------------------------------------ modes
  /** Sets training mode on this module and every descendant. */
  train(on = true): this {
    for (const m of this.modules()) m._training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Turns gradient recording on or off for every parameter (e.g. to freeze an encoder). */
  requiresGrad_(on = true): this {
    for (const p of this.parameters()) p.requiresGrad_(on);
    return this;
  }

  /** Drops every parameter's gradient (sets .grad to null, which also frees it). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  // ------------------------------------------------------------------------------------------------ state dict
  // Parameters, then persistent buffers, then children: PyTorch's state_dict order.
  private stateEntries(prefix: string, out: [string, Tensor][]): void {
    for (const [name, t] of this._parameters) out.push([join(prefix, name), t]);
    for (const [name, t] of this._buffers) if (!this._nonPersistent.has(name)) out.push([join(prefix, name), t]);
    for (const [name, m] of this._modules) m.stateEntries(join(prefix, name), out);
  }

  /**
   * Parameters and persistent buffers under PyTorch's dotted names (e.g. 'layer1.0.bn1.running_mean'), as
   * detached handles sharing the module's storage: dispose them (or call inside torch.scope) when done.
   */
  stateDict(): Map<string, Tensor> {
    const entries: [string, Tensor][] = [];
    this.stateEntries('', entries);
    return new Map(entries.map(([k, t]) => [k, t.detach()]));
  }

  /**
   * Copies values into this module's parameters and buffers (in place, converting dtype and device). Everything
   * is checked before anything is copied: a failed load leaves the module unchanged.
   */
  loadStateDict(stateDict: ReadonlyMap<string, Tensor>, opts: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = opts.strict ?? true;
    const entries: [string, Tensor][] = [];
    this.stateEntries('', entries);
    const own = new Map(entries);
    const missingKeys = entries.map(([k]) => k).filter((k) => !stateDict.has(k));
    const unexpectedKeys = [...stateDict.keys()].filter((k) => !own.has(k));
    const errors: string[] = [];
    if (strict && unexpectedKeys.length > 0)
      errors.push(`Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}.`);
    if (strict && missingKeys.length > 0)
      errors.push(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(', ')}.`);
    for (const [k, target] of own) {
      const src = stateDict.get(k);
      if (src === undefined) continue;
      const [a, b] = [src.shape, target.shape];
      if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
        errors.push(
          `size mismatch for ${k}: copying a param with shape ${shapeText(a)} from checkpoint, the shape in current ` +
            `model is ${shapeText(b)}.`,
        );
      }
    }
    if (errors.length > 0)
      throw new Error(`Error(s) in loading state_dict for ${this.constructor.name}:\n\t${errors.join('\n\t')}`);
    torch.noGrad(() => {
      for (const [k, target] of own) {
        const src = stateDict.get(k);
        if (src !== undefined) target.copy_(src);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  // ------------------------------------------------------------------------------------------------ memory
  /**
   * Moves every parameter and buffer to a device ('cpu', 'cuda:0'), or casts the floating-point ones to a
   * floating dtype (integer buffers such as num_batches_tracked stay int64). Tensors that change are replaced
   * (gradients move with them), so build optimizers after calling to().
   */
  to(target: torch.DType | string): this {
    if (OTHER_DTYPES.has(target))
      throw new TypeError(`Module.to: only floating-point dtypes are allowed, got ${target}`);
    const dtype = FLOAT_DTYPES.has(target) ? (target as torch.DType) : null;
    const moved = new Map<Tensor, Tensor>();
    const convert = (t: Tensor, isParam: boolean): Tensor => {
      const done = moved.get(t);
      if (done !== undefined) return done;
      let out = t;
      if (dtype !== null ? t.isFloatingPoint() && t.dtype !== dtype : t.device !== target) {
        out = torch.noGrad(() => t.to(target)).keep();
        if (isParam) {
          out.requiresGrad_(t.requiresGrad);
          const g = t.grad;
          if (g !== null) {
            const gMoved = torch.noGrad(() => g.to(target));
            out.grad = gMoved;
            gMoved.dispose();
            g.dispose();
          }
        }
      }
      moved.set(t, out);
      return out;
    };
    for (const m of this.modules()) {
      for (const [name, t] of m._parameters) m._parameters.set(name, convert(t, true));
      for (const [name, t] of m._buffers) m._buffers.set(name, convert(t, false));
    }
    for (const [old, fresh] of moved) if (old !== fresh) old.dispose();
    return this;
  }

  /** Frees every parameter and buffer of this module and its descendants now; the module is unusable after. */
  dispose(): void {
    for (const m of this.modules()) {
      for (const t of m._parameters.values()) t.dispose();
      for (const t of m._buffers.values()) t.dispose();
    }
  }
}
