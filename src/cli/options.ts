// Shared option parsing: typed value parsers that fail with a usage error naming the flag, and --config files.
import { readFileSync, existsSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../errors.js';
import { describeBound, withinBound, type NumberBound } from '../run/bounds.js';
import { defaultText, flagList, kebab, type CliOnlyFlag, type Fields } from '../run/options/fields.js';

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
 * Adds a command's flags from its option schema (src/run/options/): numeric flags parse against their bound,
 * enumerated ones get .choices(), switches that default on also get --no-<flag>. No commander defaults are set: the
 * schema's defaults apply in resolveConfig, and givenOptions sees only what the user typed.
 */
export function addSchemaOptions(cmd: Command, fields: Fields, cliOnly: readonly CliOnlyFlag[]): Command {
  for (const { key, field, cli } of flagList(fields, cliOnly)) {
    const help = cli.help.replace('{default}', defaultText(field));
    const opt = new Option(`--${kebab(key)}${cli.arg ? ` ${cli.arg}` : ''}`, help);
    if (field?.bound) opt.argParser(bounded(field.bound));
    if (field?.choices) opt.choices(field.choices);
    cmd.addOption(opt);
    if (cli.negate) cmd.addOption(new Option(`--no-${kebab(key)}`, cli.negate));
  }
  return cmd;
}
