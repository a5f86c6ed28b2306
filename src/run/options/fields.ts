// The building blocks of a command's option schema: each field is written once, with its zod check (and the one-line
// message that names the flag), its default, its numeric bound, and how it appears on the command line and in the
// README. Commands derive their config type, defaults, validation, commander flags and flag table from these records.
import { z } from 'zod';
import { boundMessage, describeBound, describeValue, withinBound, type NumberBound } from '../bounds.js';

/** How a field appears as a flag (src/cli/options.ts addSchemaOptions) and as a README row (flagTable). */
export interface FlagDoc {
  /** Argument placeholder in the help, e.g. '<n>'; absent for an on/off switch. */
  arg?: string;
  /** Help text; `{default}` is replaced with the field's default. */
  help: string;
  /** A switch that is on by default also gets `--no-<flag>`, with this help. */
  negate?: string;
  /** A switch that is on by default and has only `--no-<flag>` (help: `help`). */
  negatedOnly?: true;
  /**
   * The README row: the flag as shown (default: the flag alone), the default column (default: derived), the meaning
   * (default: `help` without its ' (default ...)' note).
   */
  readme?: { flag?: string; default?: string; meaning?: string };
}

export interface Field<T> {
  /** The zod schema for a value, its messages naming `flag`; `stored` relaxes number bounds (storedBound). */
  schema: (flag: string, stored: boolean) => z.ZodType<T>;
  /** undefined: required. */
  default: T | undefined;
  /** Numeric fields: the training bound. */
  bound?: NumberBound;
  /** Enumerated fields: the allowed values, for commander's .choices(). */
  choices?: readonly string[];
  /**
   * How the flag's text becomes a value, for values that are not one number (numeric fields parse against `bound`);
   * throws an Error whose message commander shows after the flag.
   */
  parseArg?: (text: string) => T;
  /** Absent: a config-file key only (no flag). */
  cli?: FlagDoc;
}

/** A flag with no config key (--resume, --config, ...): commander and the README table only. */
export interface CliOnlyFlag {
  key: string;
  cli: FlagDoc;
  /** Placed after this field in the flag list (end of the list when absent). */
  after?: string;
  /** The flag names a file of the command's own keys (common.ts configFlag), which commandOptions reads. */
  readsConfig?: true;
}

/**
 * A command's options: the fields (config keys, most with a flag) and the flags that are not config keys. The CLI
 * adds its flags from it (src/cli/options.ts addSchemaOptions) and resolves its values (commandOptions); the README
 * shows its table between `<!-- <marker>:start -->` and `<!-- <marker>:end -->` (readmeMarker).
 */
export interface CommandSchema<F extends Fields = Fields> {
  /** The command as typed after `simclr`: 'pretrain', 'eval knn'. */
  command: string;
  fields: F;
  cliOnly: readonly CliOnlyFlag[];
}

/** A command's schema, its fields' types kept (ConfigOf<F> is the type of its resolved options). */
export function commandSchema<F extends Fields>(
  command: string,
  fields: F,
  cliOnly: readonly CliOnlyFlag[] = [],
): CommandSchema<F> {
  return { command, fields, cliOnly };
}

/** The name of a command's README flag-table markers: 'eval knn' -> 'eval-knn-flags'. */
export function readmeMarker(command: string): string {
  return `${command.replace(/ /g, '-')}-flags`;
}

/** Any field, whatever its value type. */
export type AnyField = Field<unknown>;
export type Fields = Record<string, AnyField>;
/** The resolved config of a schema: each field's value type. */
export type ConfigOf<F extends Fields> = { [K in keyof F]: F[K] extends Field<infer T> ? T : never };

export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

const check = <T>(ok: (v: unknown) => boolean, message: (v: unknown) => string): z.ZodType<T> =>
  z.custom<T>(ok, { error: (iss) => message(iss.input) });

/**
 * What a stored config (a run's config.json or history) must hold for a field: its type, finite, and on the same side
 * of zero as the training bound (a positive integer stays one), so the model can be rebuilt and the run read. The
 * training bounds themselves are newer than some runs and apply only to configs about to train.
 */
export function storedBound(b: NumberBound, modelSize: boolean): NumberBound {
  const positive = b.min > 0 || b.minExclusive === true;
  // The fields that size the model keep a cap, 16x today's: no run was ever trained past it (its weights would not
  // fit in memory), and rebuilding such a model from an edited config.json would fail deep inside libtorch instead.
  const max = modelSize ? 16 * b.max : b.kind === 'int' ? Number.MAX_SAFE_INTEGER : Number.MAX_VALUE;
  const why = modelSize ? 'a model larger than any simclr run' : undefined;
  if (b.kind === 'int') return { kind: 'int', min: positive ? 1 : b.min, max, ...(why ? { why } : {}) };
  return { kind: 'number', min: positive ? 0 : b.min, minExclusive: positive, max, ...(why ? { why } : {}) };
}

/** A numeric field: its bound is always there. */
export type NumField<T> = Field<T> & { bound: NumberBound };

/** A number within `bound` (exactly a number: the string "32" is refused); `modelSize` keeps a cap when stored. */
export function num<D extends number | undefined>(
  bound: NumberBound,
  def: D,
  cli?: FlagDoc,
  opts: { modelSize?: boolean } = {},
): NumField<number> & { default: D } {
  return {
    schema: (flag, stored) => {
      const b = stored ? storedBound(bound, opts.modelSize === true) : bound;
      return check<number>(
        (v) => withinBound(v, b),
        (v) => boundMessage(flag, v, b),
      );
    },
    default: def,
    bound,
    ...(cli ? { cli } : {}),
  };
}

/** A number within `bound`, or null (a default worked out later from other fields). */
export function numOrNull(
  bound: NumberBound,
  cli?: FlagDoc,
  opts: { modelSize?: boolean } = {},
): NumField<number | null> {
  const inner = num(bound, 0, cli, opts);
  return { ...inner, schema: (flag, stored) => inner.schema(flag, stored).nullable(), default: null };
}

/** `field`, or null (a default worked out later from other fields, as a preset's); the default is null. */
export function orNull<T>(field: Field<T>): Field<T | null> {
  return { ...field, schema: (flag, stored) => field.schema(flag, stored).nullable(), default: null };
}

/** One of `allowed`; `def` undefined: see need(), which makes a field required. */
export function oneOf<T extends string>(allowed: readonly T[], def: T | undefined, cli?: FlagDoc): Field<T> {
  return {
    schema: (flag) =>
      check<T>(
        (v) => allowed.includes(v as T),
        (v) => `${flag} must be one of ${allowed.join('|')}, got ${describeValue(v)}`,
      ),
    default: def,
    choices: allowed,
    ...(cli ? { cli } : {}),
  };
}

/** Exactly true or false: a config file's "yes" or "false" string is refused, not read as false or true. */
export function bool<D extends boolean>(def: D, cli?: FlagDoc): Field<boolean> & { default: D } {
  return {
    schema: (flag) =>
      check<boolean>(
        (v) => typeof v === 'boolean',
        (v) => `${flag} must be true or false, got ${describeValue(v)}`,
      ),
    default: def,
    ...(cli ? { cli } : {}),
  };
}

/** A string matching `pattern`, refused with `must`: '--device must be <must>, got ...'. */
export function matching(pattern: RegExp, must: string, def: string, cli?: FlagDoc): Field<string> {
  return {
    schema: (flag) =>
      check<string>(
        (v) => typeof v === 'string' && pattern.test(v),
        (v) => `${flag} must be ${must}, got ${describeValue(v)}`,
      ),
    default: def,
    ...(cli ? { cli } : {}),
  };
}

/** A non-empty string (a path, a host name); `def` null: not set unless given; undefined: see need(). */
export function text(def: null, cli?: FlagDoc): Field<string | null>;
export function text(def: string | undefined, cli?: FlagDoc): Field<string>;
export function text(def: string | null | undefined, cli?: FlagDoc): Field<string | null> {
  return {
    schema: (flag) =>
      check<string | null>(
        (v) => (typeof v === 'string' && v !== '') || (def === null && v === null),
        (v) => `${flag} must be a non-empty string, got ${describeValue(v)}`,
      ),
    default: def,
    ...(cli ? { cli } : {}),
  };
}

/** A zod schema that runs `read` on the raw value; a thrown Error's message (one line) is the issue's. */
function reading<T>(read: (v: unknown) => T): z.ZodType<T> {
  return z.unknown().transform((v, ctx): T => {
    try {
      return read(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message, input: v });
      return z.NEVER;
    }
  }) as unknown as z.ZodType<T>;
}

/** `field` made required (no default): a missing value is refused as '--flag is required <hint>'. */
export function need<X extends AnyField>(field: X, hint: string): X {
  return {
    ...field,
    schema: (flag: string, stored: boolean) => {
      const inner = field.schema(flag, stored);
      return reading((v) => {
        if (v === undefined) throw new Error(`${flag} is required ${hint}`);
        const r = inner.safeParse(v);
        if (!r.success) throw new Error(r.error.issues[0]!.message);
        return r.data;
      });
    },
    default: undefined,
  };
}

/** A required non-empty string; `hint` follows 'is required' in the message. */
export function required(hint: string, cli?: FlagDoc): Field<string> {
  return need(text(undefined, cli), hint);
}

/** A non-empty list of numbers, each within `bound`; on the command line, comma-separated ('0.1,0.01'). */
export function numList(bound: NumberBound, def: readonly number[], cli?: FlagDoc): Field<readonly number[]> {
  const each = describeBound(bound);
  const ok = (v: unknown): v is readonly number[] =>
    Array.isArray(v) && v.length > 0 && v.every((x) => withinBound(x, bound));
  return {
    schema: (flag) =>
      check<readonly number[]>(
        ok,
        (v) => `${flag} must be a non-empty list of numbers, each ${each}, got ${describeValue(v)}`,
      ),
    default: def,
    parseArg: (value) => {
      const list = value.split(',').map((p) => (p.trim() === '' ? NaN : Number(p)));
      if (!ok(list)) throw new Error(`expected comma-separated numbers, each ${each}, got '${value}'`);
      return list;
    },
    ...(cli ? { cli } : {}),
  };
}

/** A value read by `parse`, whose Error message (one line) is the field's message. */
export function parsed<T>(parse: (v: unknown) => T, def: T, cli?: FlagDoc): Field<T> {
  return { schema: () => reading(parse), default: def, ...(cli ? { cli } : {}) };
}

/** The defaults of every field that has one. */
export function defaultsOf<F extends Fields>(fields: F): { [K in keyof F]?: ConfigOf<F>[K] } {
  return Object.fromEntries(
    Object.entries(fields)
      .filter(([, f]) => f.default !== undefined)
      .map(([k, f]) => [k, f.default]),
  ) as { [K in keyof F]?: ConfigOf<F>[K] };
}

/** The zod object of a schema: fields in order, each message naming its flag (--kebab-key). */
export function zodObject<F extends Fields>(fields: F, stored: boolean): z.ZodType<ConfigOf<F>> {
  const shape = Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, f.schema(`--${kebab(k)}`, stored)]));
  return z.object(shape) as unknown as z.ZodType<ConfigOf<F>>;
}

function refuseUnknown(fields: Fields, values: Record<string, unknown>, fail: (message: string) => Error): void {
  const unknown = Object.keys(values).filter((k) => !Object.hasOwn(fields, k));
  if (unknown.length > 0)
    throw fail(`unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${kebab(k)}'`).join(', ')}`);
}

/**
 * Checks `values` (already merged with the defaults) against the schema: unknown keys all at once, then the first
 * field (in schema order) whose value is refused, as one line.
 * @throws whatever `fail` makes of the message.
 */
export function resolveFields<F extends Fields>(
  fields: F,
  values: Record<string, unknown>,
  stored: boolean,
  fail: (message: string) => Error,
): ConfigOf<F> {
  refuseUnknown(fields, values, fail);
  const r = zodObject(fields, stored).safeParse(values);
  if (!r.success) throw fail(r.error.issues[0]!.message);
  return r.data;
}

/**
 * Checks only the values given (a config file's, before flags and defaults join them): unknown keys all at once, then
 * each given value in schema order; a missing required one is not a problem here.
 * @throws whatever `fail` makes of the message.
 */
export function checkGiven(fields: Fields, values: Record<string, unknown>, fail: (message: string) => Error): void {
  refuseUnknown(fields, values, fail);
  for (const [key, field] of Object.entries(fields)) {
    if (!Object.hasOwn(values, key)) continue;
    const r = field.schema(`--${kebab(key)}`, false).safeParse(values[key]);
    if (!r.success) throw fail(r.error.issues[0]!.message);
  }
}

/** The fields (by key) whose values lie outside their training bound, each with its message. */
export function boundProblems<F extends Fields>(
  fields: F,
  cfg: ConfigOf<F>,
): { key: keyof F & string; message: string }[] {
  const problems: { key: keyof F & string; message: string }[] = [];
  for (const [key, f] of Object.entries(fields)) {
    const v = (cfg as Record<string, unknown>)[key];
    if (f.bound === undefined || v === null || withinBound(v, f.bound)) continue;
    problems.push({ key, message: boundMessage(`--${kebab(key)}`, v, f.bound) });
  }
  return problems;
}

/** The bounds table of a schema's numeric fields, by key. */
export function boundsOf(fields: Fields): Record<string, NumberBound> {
  return Object.fromEntries(Object.entries(fields).flatMap(([k, f]) => (f.bound ? [[k, f.bound]] : [])));
}

/** The flags of a schema in help order: fields with a flag, with the CLI-only flags placed among them. */
export function flagList(
  fields: Fields,
  cliOnly: readonly CliOnlyFlag[],
): { key: string; field?: AnyField; cli: FlagDoc }[] {
  const out: { key: string; field?: AnyField; cli: FlagDoc }[] = [];
  const extras = (after: string | undefined): void => {
    for (const c of cliOnly) if (c.after === after) out.push({ key: c.key, cli: c.cli });
  };
  for (const [key, field] of Object.entries(fields)) {
    if (field.cli) out.push({ key, field, cli: field.cli });
    extras(key);
  }
  extras(undefined);
  return out;
}

/** A field's default as help text shows it. */
export function defaultText(field: AnyField | undefined): string {
  const d: unknown = field?.default;
  if (typeof d === 'boolean') return d ? 'on' : 'off';
  return d === undefined || d === null ? '' : String(d);
}

/** The flag as the README shows it: `--blur` / `--no-blur` for a switch with both, `--no-standardize` for one. */
function flagName(key: string, cli: FlagDoc): string {
  if (cli.readme?.flag !== undefined) return cli.readme.flag;
  if (cli.negatedOnly) return `\`--no-${kebab(key)}\``;
  return `\`--${kebab(key)}\`${cli.negate ? ` / \`--no-${kebab(key)}\`` : ''}`;
}

/** The README's markdown table of a command's flags (flag | default | meaning), one row per flag. */
export function flagTable(fields: Fields, cliOnly: readonly CliOnlyFlag[]): string {
  const rows = ['| flag | default | meaning |', '|---|---|---|'];
  for (const { key, field, cli } of flagList(fields, cliOnly)) {
    let def = cli.readme?.default;
    if (def === undefined) {
      if (cli.negatedOnly) def = '';
      else if (field && field.default === undefined) def = '(required)';
      else if (typeof field?.default === 'string') def = `\`${field.default}\``;
      else def = defaultText(field);
    }
    const meaning = cli.readme?.meaning ?? cli.help.replace(/ \(default[^)]*\)$/, '');
    rows.push(`| ${flagName(key, cli)} | ${def} | ${meaning} |`.replace(/\| {2}\|/g, '| |'));
  }
  return rows.join('\n');
}
