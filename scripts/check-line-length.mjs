#!/usr/bin/env node
// Lines at most 120 columns in the files Biome checks. Biome's formatter wraps code at 120 but leaves long string
// literals and comments alone, so this check covers what it cannot. Lists each offending line; exit 1 if any.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const MAX = 120;
const files = execFileSync(
  'git',
  ['ls-files', '--cached', '--others', '--exclude-standard', 'src', 'test', 'bench', 'scripts'],
  {
    encoding: 'utf8',
  },
)
  .split('\n')
  .filter((f) => /\.(ts|mjs|js)$/.test(f) && !f.startsWith('test/golden/') && !f.startsWith('src/torch/generated/'));
const long = [];
for (const f of files) {
  let text;
  try {
    text = readFileSync(f, 'utf8');
  } catch {
    continue; // listed by git but deleted in the work tree
  }
  text.split('\n').forEach((line, i) => {
    if ([...line].length > MAX) long.push(`${f}:${i + 1}: ${[...line].length} columns`);
  });
}
if (long.length > 0) {
  console.error(`${long.length} line(s) over ${MAX} columns:\n${long.join('\n')}`);
  process.exit(1);
}
