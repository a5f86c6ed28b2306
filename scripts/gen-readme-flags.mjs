#!/usr/bin/env node
// Rewrites the README's flag tables from the option schemas (src/run/options/), one per command between its marker
// comments. Run after `npm run build`; test/cli/flags-doc.test.ts fails while the README differs from what this writes.
import { readFileSync, writeFileSync } from 'node:fs';
import { flagTable, readmeMarker } from '../dist/src/run/options/fields.js';
import { COMMAND_SCHEMAS } from '../dist/src/run/options/index.js';

let text = readFileSync('README.md', 'utf8');
for (const schema of COMMAND_SCHEMAS) {
  const name = readmeMarker(schema.command);
  const start = `<!-- ${name}:start -->\n`;
  const end = `\n<!-- ${name}:end -->`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`README.md has no ${name} markers`);
  text = text.slice(0, a + start.length) + flagTable(schema.fields, schema.cliOnly) + text.slice(b);
}
writeFileSync('README.md', text);
