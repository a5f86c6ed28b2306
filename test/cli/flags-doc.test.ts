// The README's flag tables are generated from the option schemas (scripts/gen-readme-flags.mjs), so docs cannot drift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { flagTable } from '../../src/run/options/fields.js';
import { PRETRAIN_CLI_ONLY, PRETRAIN_OPTIONS } from '../../src/run/options/pretrain.js';
import { addPretrainOptions } from '../../src/cli/pretrain.js';
import { Command } from 'commander';
import { kebab } from '../../src/run/config.js';

function between(text: string, name: string): string {
  const start = `<!-- ${name}:start -->\n`;
  const end = `\n<!-- ${name}:end -->`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  assert.ok(a >= 0 && b > a, `README has no ${name} markers`);
  return text.slice(a + start.length, b);
}

test(
  'README pretrain flag table matches the schema (regenerate: ' + 'npm run build && node scripts/gen-readme-flags.mjs)',
  () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    assert.equal(between(readme, 'pretrain-flags'), flagTable(PRETRAIN_OPTIONS, PRETRAIN_CLI_ONLY));
  },
);

test('every schema field with a flag is a pretrain flag, and config-only keys are not', () => {
  const cmd = addPretrainOptions(new Command('pretrain'));
  const flags = new Set(cmd.options.map((o) => o.long));
  for (const [key, field] of Object.entries(PRETRAIN_OPTIONS)) {
    assert.equal(flags.has(`--${kebab(key)}`), 'cli' in field, key);
  }
  for (const c of PRETRAIN_CLI_ONLY) assert.ok(flags.has(`--${kebab(c.key)}`), c.key);
  assert.ok(flags.has('--no-blur') && flags.has('--no-sync-bn'));
});
