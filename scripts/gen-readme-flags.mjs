#!/usr/bin/env node
// Rewrites the README's flag tables from the option schemas (src/run/options/), between their marker comments.
// Run after `npm run build`; test/cli/flags-doc.test.ts fails while the README differs from what this writes.
import { readFileSync, writeFileSync } from 'node:fs';
import { flagTable } from '../dist/src/run/options/fields.js';
import { PRETRAIN_CLI_ONLY, PRETRAIN_OPTIONS } from '../dist/src/run/options/pretrain.js';

const TABLES = { 'pretrain-flags': flagTable(PRETRAIN_OPTIONS, PRETRAIN_CLI_ONLY) };

let text = readFileSync('README.md', 'utf8');
for (const [name, table] of Object.entries(TABLES)) {
  const start = `<!-- ${name}:start -->\n`;
  const end = `\n<!-- ${name}:end -->`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`README.md has no ${name} markers`);
  text = text.slice(0, a + start.length) + table + text.slice(b);
}
writeFileSync('README.md', text);
