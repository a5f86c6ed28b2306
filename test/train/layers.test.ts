// The import graph keeps the layers (README, How it is built): nothing reaches up, and the two pipelines, train/ and
// eval/, share what they both need through src/run and src/features instead of importing each other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}
const SRC = join(repoRoot(), 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

// Static imports and re-exports (`import ... from`, `export ... from`, `import '...'`) and dynamic `import('...')`.
const SPECIFIERS = [
  /\b(?:import|export)\s[^;]*?\bfrom\s*['"]([^'"]+)['"]/g,
  /\bimport\s*['"]([^'"]+)['"]/g,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
];

/** Every relative import of every source file, as paths relative to src/ ('train/pretrain.ts' -> 'run/config.ts'). */
function imports(): { from: string; to: string }[] {
  const edges: { from: string; to: string }[] = [];
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const re of SPECIFIERS) {
      for (const m of text.matchAll(re)) {
        const spec = m[1]!;
        if (!spec.startsWith('.')) continue;
        edges.push({
          from: relative(SRC, file),
          to: relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, '.ts'),
        });
      }
    }
  }
  return edges;
}

/** The layer of a path under src/: its first folder, or the file for a top-level module. */
const area = (path: string): string => path.split('/')[0]!;

// Bottom to top; a module may import its own layer and those below it. errors.ts imports nothing at all.
const LAYERS: readonly (readonly string[])[] = [
  ['errors.ts'],
  ['torch', 'io'],
  ['nn'],
  ['optim', 'data', 'augment', 'models', 'loss', 'distributed'],
  ['run', 'features'],
  ['train', 'eval', 'explore'],
  ['study'],
  ['cli', 'index.ts'],
];
const rank = (a: string): number => LAYERS.findIndex((l) => l.includes(a));

// Allowed exceptions, each with its reason (none today: a new one needs one).
const ALLOWED: Readonly<Record<string, string>> = {};

test('every module under src/ belongs to a layer', () => {
  const unknown = [...new Set(sourceFiles(SRC).map((f) => area(relative(SRC, f))))].filter((a) => rank(a) < 0);
  assert.deepEqual(unknown, []);
});

test('train/ and eval/ do not import each other, and nothing imports a layer above its own', () => {
  const edges = imports();
  assert.ok(
    edges.some((e) => e.from === 'train/pretrain.ts'),
    'the scan finds imports',
  );
  const bad = edges
    .filter(({ from, to }) => {
      const a = area(from);
      const b = area(to);
      if (`${from} -> ${to}` in ALLOWED) return false;
      if (a === 'errors.ts') return true;
      if ((a === 'train' && b === 'eval') || (a === 'eval' && b === 'train')) return true;
      return rank(b) > rank(a);
    })
    .map(({ from, to }) => `${from} -> ${to}`);
  assert.deepEqual(bad, []);
});

test('the allowed exceptions are still needed (a stale one is removed)', () => {
  const edges = new Set(imports().map(({ from, to }) => `${from} -> ${to}`));
  for (const edge of Object.keys(ALLOWED)) assert.ok(edges.has(edge), `${edge} no longer exists: drop it from ALLOWED`);
});
