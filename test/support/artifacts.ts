// Files tests keep for people to look at (screenshots of pages): test-artifacts/ at the repository root, which git
// ignores, or $SIMCLR_TEST_ARTIFACTS (CI can collect either). Unlike scratchDir's folders they outlive the test.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

/** The folder for one test file's artifacts (created): `<artifacts root>/<name>`. */
export function artifactsDir(name: string): string {
  const root = process.env.SIMCLR_TEST_ARTIFACTS
    ? resolve(process.env.SIMCLR_TEST_ARTIFACTS)
    : join(repoRoot(), 'test-artifacts');
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}
