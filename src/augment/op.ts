// The augmentation op contract. An op is one file under ops/ that owns its options (with defaults and checks), the
// per-view parameters it draws from a view's CounterRng, and their application to a batch with tensor ops. A
// pipeline (pipeline.ts) is an ordered list of ops with their options; registry.ts names the ops a config can use.

import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { CounterRng } from './rng.js';
import { LUMA_WEIGHTS } from '../data/colour.js';

/** What an op's sampling sees of one view: the image entering the op, and the pipeline's output side. */
export interface SampleContext {
  /** Size of the image the op receives: the source before a resizing op, outputSize after. */
  height: number;
  width: number;
  channels: 1 | 3;
  outputSize: number;
}

/** What an op's application sees: the pipeline's output side and channel count. */
export interface ApplyContext {
  outputSize: number;
  channels: 1 | 3;
}

/** One op's parameters for `count` views: row-major float32 [count, width], width = the op's column count. */
export interface StepParams {
  readonly count: number;
  readonly width: number;
  readonly values: Float32Array;
}

/** An option: its default, how a config value is checked (throws RangeError naming `name`), and a line of doc. */
export interface OptionSpec<T> {
  readonly default: T;
  readonly doc: string;
  parse(value: unknown, name: string): T;
}

export type OptionSpecs<O> = { readonly [K in keyof O]-?: OptionSpec<O[K]> };

export interface AugmentOp<O extends object = object> {
  /** Registry and config name, camelCase (`{ "op": "colorJitter", ... }`). */
  readonly name: string;
  readonly description: string;
  readonly options: OptionSpecs<O>;
  /** Names of the per-view parameter columns, in order; the fused kernel's layout is built from these. */
  readonly columns: readonly string[];
  /** Column values that leave an image as it is (crop: the whole image). */
  identity(ctx: SampleContext): number[];
  /** True for the op that resamples to outputSize (the resized crop); ops after it see outputSize x outputSize. */
  readonly resizes?: boolean;
  /**
   * Draws one view's parameters from that view's stream into `out` (this op's columns). The number of words drawn
   * must not depend on the outcome of a probability, so later ops draw the same whatever this op decided.
   */
  sample(rng: CounterRng, opts: O, ctx: SampleContext, out: Float32Array): void;
  /**
   * Applies the parameters to float32 [n,C,H,W] images in [0, 1]; returns the result (x itself, changed in place,
   * or a new tensor). Results stay within [0, 1].
   */
  apply(x: Tensor, p: StepParams, opts: O, ctx: ApplyContext): Tensor;
}

/** Options of an op with every field given, from a config entry's fields (the rest take their defaults). */
export function resolveOptions<O extends object>(op: AugmentOp<O>, given: Readonly<Record<string, unknown>>): O {
  const specs = op.options as Record<string, OptionSpec<unknown>>;
  const unknown = Object.keys(given).filter((k) => !(k in specs));
  if (unknown.length > 0)
    throw new RangeError(
      `${op.name}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (it has ` +
        `${Object.keys(specs).join(', ') || 'none'})`,
    );
  const out: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(specs))
    out[k] = k in given ? spec.parse(given[k], `${op.name}.${k}`) : spec.default;
  return out as O;
}

// Option kinds shared by the ops.

/** A probability in [0, 1]. */
export function probability(def: number, doc: string): OptionSpec<number> {
  return {
    default: def,
    doc,
    parse(v, name) {
      if (typeof v !== 'number' || !(v >= 0 && v <= 1))
        throw new RangeError(`${name} must be in [0, 1], got ${JSON.stringify(v)}`);
      return v;
    },
  };
}

/** A finite number in [min, max]. */
export function bounded(def: number, min: number, max: number, doc: string): OptionSpec<number> {
  return {
    default: def,
    doc,
    parse(v, name) {
      if (typeof v !== 'number' || !(v >= min && v <= max))
        throw new RangeError(`${name} must be in [${min}, ${max}], got ${JSON.stringify(v)}`);
      return v;
    },
  };
}

/** A pair [lo, hi] with min < lo <= hi, both finite. */
export function range(def: [number, number], min: number, doc: string): OptionSpec<[number, number]> {
  return {
    default: def,
    doc,
    parse(v, name) {
      const ok =
        Array.isArray(v) &&
        v.length === 2 &&
        typeof v[0] === 'number' &&
        typeof v[1] === 'number' &&
        v[0] > min &&
        v[0] <= v[1] &&
        Number.isFinite(v[1]);
      if (!ok) throw new RangeError(`${name} must be [lo, hi] with ${min} < lo <= hi, got ${JSON.stringify(v)}`);
      return [v[0], v[1]];
    },
  };
}

// Tensor helpers for applying per-view parameters to the rows that have them.

/** Column `c` of every row, as a new array. */
export function column(p: StepParams, c: number): Float32Array {
  const out = new Float32Array(p.count);
  for (let b = 0; b < p.count; b++) out[b] = p.values[b * p.width + c]!;
  return out;
}

/** Rows whose parameters satisfy `pred` (given the row's columns). */
export function rowsWhere(p: StepParams, pred: (row: Float32Array) => boolean): number[] {
  const rows: number[] = [];
  for (let b = 0; b < p.count; b++) if (pred(p.values.subarray(b * p.width, (b + 1) * p.width))) rows.push(b);
  return rows;
}

/** Column `c` of the given rows as an [n,1,1,1] tensor, so it broadcasts over an [n,C,H,W] batch. */
export function perRow(p: StepParams, c: number, rows: readonly number[], device: string): Tensor {
  return torch.tensor(
    Float32Array.from(rows, (r) => p.values[r * p.width + c]!),
    { shape: [rows.length, 1, 1, 1], device },
  );
}

/**
 * Replaces rows `rows` of x in place by fn of those rows (fn keeps their shape). Intermediates are freed per call,
 * so a chain of ops on large batches never holds more than one op's temporaries.
 */
export function updateRows(x: Tensor, rows: readonly number[], fn: (sub: Tensor) => Tensor): void {
  if (rows.length === 0) return;
  torch.scope(() => {
    if (rows.length === x.shape[0]) {
      x.copy_(fn(x));
      return;
    }
    const index = torch.tensor(
      BigInt64Array.from(rows, (r) => BigInt(r)),
      { device: x.device },
    );
    torch.raw.index_copy_(x, 0, index, fn(x.indexSelect(0, index)));
  });
}

/** [n,3,H,W] -> [n,1,H,W] luma with the one set of weights (data/colour.ts). */
export function luma(x: Tensor): Tensor {
  return x.mul(torch.tensor(Float32Array.from(LUMA_WEIGHTS), { shape: [1, 3, 1, 1], device: x.device })).sum(1, true);
}

/** The options of an op that only decides, per view, whether it applies. */
export interface RandomApplyOptions {
  p: number;
}

/**
 * An op that applies `transform` to each view with probability p and leaves the others as they are (torchvision's
 * RandomApply around one transform): one column, 1 where it applies. With `colourOnly`, one-channel images draw
 * nothing and stay as they are (grayscale).
 */
export function randomApply(o: {
  name: string;
  description: string;
  p: OptionSpec<number>;
  column: string;
  colourOnly?: boolean;
  transform: (sub: Tensor) => Tensor;
}): AugmentOp<RandomApplyOptions> {
  const applies = (channels: 1 | 3): boolean => o.colourOnly !== true || channels === 3;
  return {
    name: o.name,
    description: o.description,
    options: { p: o.p },
    columns: [o.column],
    identity: () => [0],
    sample(rng, opts, ctx, out) {
      out[0] = applies(ctx.channels) && rng.bernoulli(opts.p) ? 1 : 0;
    },
    apply(x: Tensor, p: StepParams, _opts: RandomApplyOptions, ctx: ApplyContext) {
      if (applies(ctx.channels))
        updateRows(
          x,
          rowsWhere(p, (r) => r[0] === 1),
          o.transform,
        );
      return x;
    },
  };
}
