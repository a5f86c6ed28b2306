#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner. Extra args go to `node --test`.
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir) {
  let out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(find(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filter = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('-'));
const files = find('dist/test')
  .sort()
  .filter((f) => filter.length === 0 || filter.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files found under dist/test');
  process.exit(1);
}
// Tests run under the allocator simclr's CLI uses by default (tcmalloc where installed; see README, Performance).
const env = { ...process.env };
const tcmalloc = [
  '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4',
  '/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4',
].find(existsSync);
if (tcmalloc && !env.LD_PRELOAD && env.SIMCLR_ALLOCATOR !== 'system') env.LD_PRELOAD = tcmalloc;
const r = spawnSync(process.execPath, ['--test', ...flags, ...files], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
