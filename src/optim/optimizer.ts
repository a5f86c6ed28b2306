// The optimizer base: parameter groups with their own options, per-parameter state, and state dicts that a
// checkpoint can store as named tensors (safetensors) plus JSON.
import * as torch from '../torch/index.js';
import { Tensor } from '../torch/index.js';

/** Values a group option may take; all JSON-able so a state dict's meta survives JSON.stringify. */
export type OptionValue = number | boolean | readonly number[];

/** Options every optimizer's groups have. `lr` is what a schedule rewrites each step. */
export interface GroupOptions {
  lr: number;
  weightDecay: number;
}

/** A resolved group: its parameters and every option (defaults filled in). */
export type ParamGroup<O extends GroupOptions> = O & { params: Tensor[] };

/** A group as passed to a constructor: parameters and any options that differ from the optimizer's defaults. */
export type ParamGroupSpec<O extends GroupOptions> = Partial<O> & { params: readonly Tensor[] };

/** Optimizer state of one parameter: buffers (kept, on the parameter's device) and plain numbers. */
export interface ParamState {
  tensors: Record<string, Tensor>;
  scalars: Record<string, number>;
}

export interface OptimizerStateMeta {
  optimizer: string;
  /** Options and parameter count of each group, in order. */
  paramGroups: { options: Record<string, OptionValue>; size: number }[];
  /** Per-parameter scalars (e.g. AdamW's step), keyed by parameter index. */
  scalars: Record<string, Record<string, number>>;
}

/**
 * Everything needed to resume: `tensors` are copies of the buffers named `<param index>.<buffer>`, where the
 * index counts parameters across groups in order (as PyTorch's state_dict); `meta` is plain JSON.
 */
export interface OptimizerStateDict {
  tensors: Record<string, Tensor>;
  meta: OptimizerStateMeta;
}

export abstract class Optimizer<O extends GroupOptions> {
  readonly paramGroups: ParamGroup<O>[];
  private readonly state = new Map<Tensor, ParamState>();

  /** `name` identifies the algorithm in state dicts, so one optimizer's state is never loaded into another. */
  protected constructor(
    private readonly name: string,
    params: readonly Tensor[] | readonly ParamGroupSpec<O>[],
    defaults: O,
  ) {
    if (params.length === 0) throw new RangeError(`${name}: empty parameter list`);
    const specs: readonly ParamGroupSpec<O>[] =
      params[0] instanceof Tensor
        ? [{ params: params as readonly Tensor[] } as ParamGroupSpec<O>]
        : (params as readonly ParamGroupSpec<O>[]);
    const seen = new Set<Tensor>();
    this.paramGroups = specs.map((spec) => {
      const overrides = Object.fromEntries(
        Object.entries(spec).filter(([key, value]) => key !== 'params' && value !== undefined),
      );
      const group = { ...defaults, ...overrides, params: [...spec.params] } as ParamGroup<O>;
      for (const p of group.params) {
        if (!(p instanceof Tensor)) throw new TypeError(`${name}: parameter groups must hold tensors`);
        if (seen.has(p)) throw new RangeError(`${name}: a parameter appears in more than one group`);
        seen.add(p);
      }
      this.validate(group);
      return group;
    });
  }

  /** Checks a group's options; throws on invalid values. */
  protected abstract validate(group: ParamGroup<O>): void;

  /**
   * Updates the parameters of one group that have gradients. Runs under noGrad inside a scope, so temporaries
   * need no disposal; new state buffers must be kept (Tensor.keep) and stored in `states`.
   */
  protected abstract updateGroup(group: ParamGroup<O>, params: Tensor[], grads: Tensor[], states: ParamState[]): void;

  /** The first group's learning rate. */
  get lr(): number {
    return this.paramGroups[0]!.lr;
  }
  /** Sets every group's learning rate (what a schedule does each step). */
  set lr(value: number) {
    if (!(value >= 0)) throw new RangeError(`${this.name}: learning rate must be >= 0, got ${value}`);
    for (const g of this.paramGroups) g.lr = value;
  }

  /** One update of every parameter that has a gradient; parameters without one are skipped, as PyTorch. */
  step(): void {
    torch.noGrad(() =>
      torch.scope(() => {
        for (const group of this.paramGroups) {
          const params: Tensor[] = [];
          const grads: Tensor[] = [];
          const states: ParamState[] = [];
          for (const p of group.params) {
            const g = p.grad;
            if (g === null) continue;
            params.push(p);
            grads.push(g);
            states.push(this.stateOf(p));
          }
          if (params.length > 0) this.updateGroup(group, params, grads, states);
        }
      }),
    );
  }

  /** Clears gradients: drops them (the default, cheaper) or zeroes them in place. */
  zeroGrad(setToNone = true): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        if (setToNone) {
          p.grad = null;
        } else {
          const g = p.grad;
          if (g !== null) {
            g.zero_();
            g.dispose();
          }
        }
      }
    }
  }

  /** A snapshot of the state; the tensors are fresh copies owned by the caller. */
  stateDict(): OptimizerStateDict {
    const tensors: Record<string, Tensor> = {};
    const scalars: Record<string, Record<string, number>> = {};
    let index = 0;
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        const st = this.state.get(p);
        if (st !== undefined) {
          for (const [key, t] of Object.entries(st.tensors)) tensors[`${index}.${key}`] = torch.noGrad(() => t.clone());
          if (Object.keys(st.scalars).length > 0) scalars[String(index)] = { ...st.scalars };
        }
        index++;
      }
    }
    const paramGroups = this.paramGroups.map((g) => ({ options: optionsOf(g), size: g.params.length }));
    return { tensors, meta: { optimizer: this.name, paramGroups, scalars } };
  }

  /**
   * Restores options and state saved by stateDict() of an optimizer built over the same parameter layout.
   * Buffers are copied onto each parameter's device and dtype; the caller keeps ownership of `sd.tensors`.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const { meta } = sd;
    if (meta.optimizer !== this.name) throw new TypeError(`${this.name}: cannot load state of ${meta.optimizer}`);
    if (
      meta.paramGroups.length !== this.paramGroups.length ||
      meta.paramGroups.some((g, i) => g.size !== this.paramGroups[i]!.params.length)
    ) {
      throw new RangeError(
        `${this.name}: state dict has groups of sizes [${meta.paramGroups.map((g) => g.size).join(', ')}], ` +
          `this optimizer [${this.paramGroups.map((g) => g.params.length).join(', ')}]`,
      );
    }
    const flat = this.paramGroups.flatMap((g) => g.params);
    const fresh = new Map<Tensor, ParamState>();
    const stateAt = (key: string): [Tensor, ParamState] => {
      const index = Number(key);
      const p = flat[index];
      if (!Number.isInteger(index) || p === undefined)
        throw new RangeError(`${this.name}: state for unknown parameter '${key}'`);
      let st = fresh.get(p);
      if (st === undefined) {
        st = { tensors: {}, scalars: {} };
        fresh.set(p, st);
      }
      return [p, st];
    };
    try {
      for (const [name, t] of Object.entries(sd.tensors)) {
        const dot = name.indexOf('.');
        if (dot < 0) throw new RangeError(`${this.name}: state tensor name '${name}' is not '<index>.<buffer>'`);
        const [p, st] = stateAt(name.slice(0, dot));
        if (t.shape.join() !== p.shape.join()) {
          throw new RangeError(
            `${this.name}: state tensor '${name}' [${t.shape.join(', ')}] does not fit parameter ` +
              `[${p.shape.join(', ')}]`,
          );
        }
        st.tensors[name.slice(dot + 1)] = torch
          .noGrad(() => t.to({ dtype: p.dtype, device: p.device, copy: true }))
          .keep();
      }
      for (const [key, values] of Object.entries(meta.scalars)) Object.assign(stateAt(key)[1].scalars, values);
      const options = meta.paramGroups.map((g, i) => this.checkedOptions(this.paramGroups[i]!, g.options));
      for (const [i, o] of options.entries()) {
        const candidate = { ...this.paramGroups[i]!, ...o };
        this.validate(candidate);
      }
      for (const [i, o] of options.entries()) Object.assign(this.paramGroups[i]!, o);
    } catch (e) {
      disposeStates(fresh);
      throw e;
    }
    disposeStates(this.state);
    this.state.clear();
    for (const [p, st] of fresh) this.state.set(p, st);
  }

  private stateOf(p: Tensor): ParamState {
    let st = this.state.get(p);
    if (st === undefined) {
      st = { tensors: {}, scalars: {} };
      this.state.set(p, st);
    }
    return st;
  }

  // Only options this optimizer knows, with the same JS type as the current value.
  private checkedOptions(group: ParamGroup<O>, options: Record<string, OptionValue>): Partial<O> {
    const current = optionsOf(group);
    for (const [key, value] of Object.entries(options)) {
      const have = current[key];
      if (have === undefined || Array.isArray(have) !== Array.isArray(value) || typeof have !== typeof value) {
        throw new TypeError(
          `${this.name}: state dict option '${key}' (${JSON.stringify(value)}) does not fit this optimizer`,
        );
      }
    }
    return options as Partial<O>;
  }
}

function optionsOf(group: GroupOptions & { params: Tensor[] }): Record<string, OptionValue> {
  const out: Record<string, OptionValue> = {};
  for (const [key, value] of Object.entries(group)) {
    if (key !== 'params') out[key] = Array.isArray(value) ? [...(value as number[])] : (value as OptionValue);
  }
  return out;
}

function disposeStates(states: Map<Tensor, ParamState>): void {
  for (const st of states.values()) for (const t of Object.values(st.tensors)) t.dispose();
}
