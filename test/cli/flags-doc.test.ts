// Every command's options are defined once, in its schema (src/run/options/): its flags are the schema's, and the
// README's flag tables are generated from the schemas (scripts/gen-readme-flags.mjs), so docs cannot drift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { flagList, flagTable, kebab, readmeMarker } from '../../src/run/options/fields.js';
import { COMMAND_SCHEMAS } from '../../src/run/options/index.js';
import { buildProgram } from '../../src/cli/commands.js';

function between(text: string, name: string): string {
  const start = `<!-- ${name}:start -->\n`;
  const end = `\n<!-- ${name}:end -->`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  assert.ok(a >= 0 && b > a, `README has no ${name} markers`);
  return text.slice(a + start.length, b);
}

test('each command has its README flag table, as its schema makes it (npm run build && npm run gen:readme)', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  for (const s of COMMAND_SCHEMAS) {
    assert.equal(between(readme, readmeMarker(s.command)), flagTable(s.fields, s.cliOnly), s.command);
  }
});

/** The program's command for 'eval knn' and the like. */
function commandOf(program: Command, path: string): Command {
  let cmd = program;
  for (const word of path.split(' ')) {
    const sub = cmd.commands.find((c) => c.name() === word);
    assert.ok(sub, `simclr has no command '${path}'`);
    cmd = sub;
  }
  return cmd;
}

test("each command's flags are exactly its schema's: config-only keys have none, and nothing is added by hand", () => {
  const program = buildProgram();
  for (const s of COMMAND_SCHEMAS) {
    const expected = flagList(s.fields, s.cliOnly).flatMap(({ key, cli }) => {
      if (cli.negatedOnly) return [`--no-${kebab(key)}`];
      return cli.negate ? [`--${kebab(key)}`, `--no-${kebab(key)}`] : [`--${kebab(key)}`];
    });
    const flags = commandOf(program, s.command).options.map((o) => o.long);
    assert.deepEqual(flags, expected, s.command);
    for (const [key, field] of Object.entries(s.fields)) {
      if (!field.cli) assert.ok(!flags.includes(`--${kebab(key)}`), `${s.command}: ${key} is a config key only`);
    }
  }
});

test('every command of the program has a schema (a new one adds its own: README, How it is built)', () => {
  const program = buildProgram();
  const paths = (cmd: Command, prefix: string): string[] =>
    cmd.commands.flatMap((c) => {
      const path = `${prefix}${c.name()}`;
      return c.commands.length > 0 ? paths(c, `${path} `) : [path];
    });
  assert.deepEqual(paths(program, '').sort(), COMMAND_SCHEMAS.map((s) => s.command).sort());
});

test('switches: --blur and --no-blur for pretrain and augment; eval linear has only its --no- flag', () => {
  const program = buildProgram();
  const longs = (path: string): (string | undefined)[] => commandOf(program, path).options.map((o) => o.long);
  assert.ok(longs('pretrain').includes('--blur') && longs('pretrain').includes('--no-sync-bn'));
  assert.ok(longs('eval linear').includes('--no-standardize') && !longs('eval linear').includes('--standardize'));
  assert.ok(longs('augment').includes('--no-blur') && longs('augment').includes('--blur'));
});
