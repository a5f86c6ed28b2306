// The bridge between the generated operator layer and the native binding: operator ids and handle wrapping.
// The generated layer comes from one libtorch's schemas and runs against whichever libtorch the addon links, so each
// operator's declaration is checked at load: what the linked libtorch lacks or declares incompatibly fails with an
// error naming the operator and both versions when called, never with a wrong call.
import { native, type NativeTensor } from './native.js';
import type { Tensor } from './tensor.js';
import type { Generator } from './random.js';

const names: string[] = [];
const ids: number[] = [];
// Per operator: the number of arguments this libtorch takes where the generated function has more (trailing ones this
// release lacks), and why an operator cannot be called here.
const arity: (number | undefined)[] = [];
const extraNames: (string[] | undefined)[] = [];
const incompatible: (string | undefined)[] = [];
// The libtorch version each row's table was generated from, named in errors.
const generatedFrom: string[] = [];
let makeTensor: ((h: NativeTensor) => Tensor) | null = null;

/** Called once by tensor.ts, so this module need not import the Tensor class (which imports the ops). */
export function setTensorFactory(f: (h: NativeTensor) => Tensor): void {
  makeTensor = f;
}

interface Formal {
  name: string;
  type: string;
  /** The operator writes this argument in place (Tensor(a!)). */
  written: boolean;
  omittable: boolean;
}

/** Parses the addon's compact declaration, "name:Type[!][=],...->Type,..." (native opSignature). */
function parseSignature(sig: string): { args: Formal[]; returns: string[] } {
  const [argPart = '', retPart = ''] = sig.split('->');
  // Types hold commas only inside brackets (List[...], Optional[...], Tuple[...]); split at depth 0.
  const split = (s: string): string[] => {
    const out: string[] = [];
    let depth = 0;
    let start = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (c === '[') depth++;
      else if (c === ']') depth--;
      else if (c === ',' && depth === 0) {
        out.push(s.slice(start, i));
        start = i + 1;
      }
    }
    if (s.length > 0) out.push(s.slice(start));
    return out;
  };
  const args = split(argPart).map((a) => {
    const colon = a.indexOf(':');
    const omittable = a.endsWith('=');
    const type = a.slice(colon + 1, omittable ? -1 : undefined);
    const written = type.endsWith('!');
    return { name: a.slice(0, colon), type: written ? type.slice(0, -1) : type, written, omittable };
  });
  return { args, returns: split(retPart) };
}

// To a caller every numeric type is a JS number: 2.x turned many int arguments into SymInt and some into Scalar
// ('number'), and the addon checks each value against the linked declaration (an int must be integral), naming the
// argument, so these changes do not alter what a call means.
const norm = (t: string): string => t.replace(/\b(SymInt|int|float|number)\b/g, 'num');

/** Whether a JS value valid for the generated type is also valid for this libtorch's type. */
function accepts(actual: string, expected: string): boolean {
  const a = norm(actual);
  const e = norm(expected);
  if (a === e) return true;
  const optA = /^Optional\[(.*)\]$/.exec(a);
  const optE = /^Optional\[(.*)\]$/.exec(e);
  if (optA && optE) return accepts(optA[1]!, optE[1]!);
  return optA !== null && accepts(optA[1]!, e);
}

/**
 * Compares the generated declaration of an operator with the linked libtorch's. Returns why a call could go wrong,
 * or how many arguments to pass when the generated function has trailing optional arguments this libtorch lacks.
 */
export function compareSignatures(expected: string, actual: string): { why: string } | { arity?: number } {
  const e = parseSignature(expected);
  const a = parseSignature(actual);
  if (e.returns.length !== a.returns.length || e.returns.some((t, i) => norm(t) !== norm(a.returns[i]!))) {
    return { why: `it returns (${a.returns.join(', ')}) here, (${e.returns.join(', ')}) there` };
  }
  const n = Math.min(e.args.length, a.args.length);
  for (let i = 0; i < n; i++) {
    const x = e.args[i]!;
    const y = a.args[i]!;
    // A trailing underscore only keeps a name clear of a Python keyword (2.x's can_cast(from_, to)); calls are
    // positional.
    if (x.name.replace(/_$/, '') !== y.name.replace(/_$/, ''))
      return { why: `argument ${i + 1} is '${y.name}' here, '${x.name}' there` };
    if (!accepts(y.type, x.type)) return { why: `argument '${x.name}' is ${y.type} here, ${x.type} there` };
    const access = (f: Formal): string => (f.written ? 'written in place' : 'only read');
    if (x.written !== y.written) return { why: `argument '${x.name}' is ${access(y)} here, ${access(x)} there` };
    if (x.omittable && !y.omittable) return { why: `argument '${x.name}' is required here, optional there` };
  }
  const required = a.args.slice(n).find((f) => !f.omittable);
  if (required)
    return { why: `it requires argument '${required.name}' here, which the generated function does not pass` };
  const lacking = e.args.slice(n);
  if (lacking.some((f) => !f.omittable))
    return { why: `it lacks required argument '${lacking.find((f) => !f.omittable)!.name}' here` };
  return lacking.length > 0 ? { arity: n } : {};
}

/**
 * Resolves the generated table of [qualified name, overload, declaration] rows; ids follow table order.
 * @param from the libtorch version the table was generated from (named in errors).
 * @returns the index of the table's first row (later tables follow earlier ones).
 */
export function resolveOperators(table: readonly (readonly [string, string, string])[], from: string): number {
  const first = names.length;
  for (const [name, overload, expected] of table) {
    const index = names.length;
    names.push(overload ? `${name}.${overload}` : name);
    generatedFrom.push(from);
    const id = native.resolveOp(name, overload);
    ids.push(id);
    if (id < 0) continue;
    const actual = native.opSignature(id);
    if (actual === expected) continue;
    const verdict = compareSignatures(expected, actual);
    if ('why' in verdict) incompatible[index] = verdict.why;
    else if (verdict.arity !== undefined) {
      arity[index] = verdict.arity;
      extraNames[index] = parseSignature(expected)
        .args.slice(verdict.arity)
        .map((f) => f.name);
    }
  }
  return first;
}

/** What the linked libtorch makes of the resolved tables: operators it lacks, declares incompatibly, or takes with
 * fewer trailing arguments. */
export function operatorStatus(): {
  total: number;
  missing: string[];
  incompatible: string[];
  fewerArguments: string[];
} {
  const pick = (keep: (i: number) => boolean): string[] => names.filter((_, i) => keep(i));
  return {
    total: names.length,
    missing: pick((i) => ids[i]! < 0),
    incompatible: names.flatMap((n, i) => (incompatible[i] !== undefined ? [`${n}: ${incompatible[i]}`] : [])),
    fewerArguments: pick((i) => arity[i] !== undefined),
  };
}

export function invoke(index: number, args: unknown[], discardResult = false): unknown {
  const id = ids[index]!;
  if (id < 0)
    throw new Error(
      `${names[index]} is not available in this libtorch (${native.buildInfo().version}); the operator layer was ` +
        `generated from ${generatedFrom[index]}`,
    );
  const why = incompatible[index];
  if (why !== undefined) {
    throw new Error(
      `${names[index]} is declared differently in this libtorch (${native.buildInfo().version}) than in ` +
        `${generatedFrom[index]}, which the operator layer was generated from: ${why}. Use libtorch ` +
        `${generatedFrom[index]} (scripts/provision.sh's default) to call it.`,
    );
  }
  const n = arity[index];
  if (n !== undefined && args.length > n) {
    // Every trailing argument a release lacks is optional: null (what the generated layer passes for an absent
    // Tensor? or Generator?) means its default as much as undefined does.
    const given = args.slice(n).findIndex((v) => v !== undefined && v !== null);
    if (given >= 0)
      throw new Error(
        `${names[index]}: argument '${extraNames[index]![given]}' is not in this libtorch ` +
          `(${native.buildInfo().version}), only in ${generatedFrom[index]}, which the operator layer was generated ` +
          `from`,
      );
    args = args.slice(0, n);
  }
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
  if (typeof g !== 'object' || !(g._h instanceof native.NativeGenerator))
    throw new TypeError(`${where}: generator must be a torch.Generator`);
  return g;
}
