// Shared option parsing: typed value parsers that fail with a usage error naming the flag, and --config files.
import { readFileSync, existsSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { ConfigError, UsageError } from '../errors.js';
import { describeBound, withinBound, type NumberBound } from '../run/bounds.js';
import {
  checkGiven,
  defaultsOf,
  defaultText,
  flagList,
  kebab,
  resolveFields,
  type CommandSchema,
  type ConfigOf,
  type Fields,
} from '../run/options/fields.js';

/** The number a flag's text spells, or NaN: '' and whitespace are not 0 here, as they are for Number(). */
function parseNumber(value: string): number {
  return value.trim() === '' ? NaN : Number(value);
}

export function int(value: string): number {
  const n = parseNumber(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected an integer, got '${value}'`);
  return n;
}

export function num(value: string): number {
  const n = parseNumber(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got '${value}'`);
  return n;
}

/**
 * A commander parser for a numeric flag with its row of the bounds table (src/run/bounds.ts), so the command
 * line refuses what a config file would: `--threads 100000` ends in one line and exit 2 before any work.
 */
export function bounded(b: NumberBound): (value: string) => number {
  return (value: string): number => {
    const n = parseNumber(value);
    if (!withinBound(n, b)) throw new InvalidArgumentError(`expected ${describeBound(b)}, got '${value}'`);
    return n;
  };
}

const camel = (k: string): string => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Reads a JSON or YAML config file; keys may be kebab-case (as flags) or camelCase. */
export function readConfigFile(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new UsageError(`--config ${path}: no such file`);
  let parsed: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    parsed = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new UsageError(`--config ${path}: cannot parse: ${(e as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new UsageError(`--config ${path}: expected a mapping of option names to values`);
  return Object.fromEntries(Object.entries(parsed as Record<string, unknown>).map(([k, v]) => [camel(k), v]));
}

/** The options the user actually gave on the command line (not defaults), by camelCase name. */
export function givenOptions(cmd: Command): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cmd.opts())) {
    if (cmd.getOptionValueSource(k) === 'cli' || cmd.getOptionValueSource(k) === 'env') out[k] = v;
  }
  return out;
}

/**
 * Reads `--config FILE` and checks its values on their own with `check`, so a bad one is reported with the file's
 * name: '--config FILE: --batch-size must be ...'.
 * @throws UsageError for a missing or unparsable file; ConfigError for a value `check` refuses.
 */
export function readCheckedConfigFile(
  path: string,
  check: (values: Record<string, unknown>) => void,
): Record<string, unknown> {
  const values = readConfigFile(path);
  try {
    check(values);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`--config ${path}: ${e.message}`);
    throw e;
  }
  return values;
}

/**
 * A command's options as its schema resolves them: defaults < its config file (the flag of configFlag(), where it has
 * one) < flags; every value checked against its field (types exactly, numbers within their bounds, required ones
 * present). The flags that are not config keys are left to the action (cmd.opts()).
 * @throws ConfigError naming the option (and the file, for a value from it); UsageError for an unreadable file.
 */
export function commandOptions<F extends Fields>(cmd: Command, schema: CommandSchema<F>): ConfigOf<F> {
  const given = givenOptions(cmd);
  const configKey = schema.cliOnly.find((c) => c.readsConfig)?.key;
  const path = configKey === undefined ? undefined : given[configKey];
  for (const c of schema.cliOnly) delete given[c.key];
  const fail = (m: string): Error => new ConfigError(m);
  const file =
    typeof path === 'string' ? readCheckedConfigFile(path, (values) => checkGiven(schema.fields, values, fail)) : {};
  return resolveFields(schema.fields, { ...defaultsOf(schema.fields), ...file, ...given }, false, fail);
}

/** A field's own argument parser (a list, say) as commander wants it: its Error becomes commander's one line. */
function argParser<T>(parse: (text: string) => T): (value: string) => T {
  return (value: string): T => {
    try {
      return parse(value);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  };
}

/**
 * Adds a command's flags from its option schema (src/run/options/): numeric flags parse against their bound, others
 * with their field's parseArg, enumerated ones get .choices(), switches that default on also (or only) get
 * --no-<flag>. No commander defaults are set and no option is mandatory to commander: the schema's defaults and
 * required fields apply in commandOptions (or resolveConfig), after a config file, and givenOptions sees only what
 * the user typed.
 */
export function addSchemaOptions(cmd: Command, schema: CommandSchema): Command {
  for (const { key, field, cli } of flagList(schema.fields, schema.cliOnly)) {
    const help = cli.help.replace('{default}', defaultText(field));
    if (cli.negatedOnly) {
      cmd.addOption(new Option(`--no-${kebab(key)}`, help));
      continue;
    }
    const opt = new Option(`--${kebab(key)}${cli.arg ? ` ${cli.arg}` : ''}`, help);
    if (field?.parseArg) opt.argParser(argParser(field.parseArg));
    else if (field?.bound) opt.argParser(bounded(field.bound));
    if (field?.choices) opt.choices(field.choices);
    cmd.addOption(opt);
    if (cli.negate) cmd.addOption(new Option(`--no-${kebab(key)}`, cli.negate));
  }
  return cmd;
}

/**
 * Adds `schema.command` (its last word: 'knn' of 'eval knn') under `parent` with the schema's flags; `action` gets the
 * options commandOptions resolves, and the command itself (positional arguments: `cmd.processedArgs`).
 */
export function schemaCommand<F extends Fields>(
  parent: Command,
  schema: CommandSchema<F>,
  description: string,
  action: (o: ConfigOf<F>, cmd: Command) => void | Promise<void>,
): Command {
  const name = schema.command.split(' ').at(-1)!;
  return addSchemaOptions(parent.command(name).description(description), schema).action((...args: unknown[]) => {
    const cmd = args.at(-1) as Command;
    return action(commandOptions(cmd, schema), cmd);
  });
}
