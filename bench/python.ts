// The Python that runs torch on the same libtorch as simclr's addon: the project's pip torch (.venv-torch) where
// the addon links it (scripts/provision.sh's default), else Debian's python3-torch (SIMCLR_LIBTORCH=system).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEBIAN_PYTHON = '/usr/bin/python3';
const VENV_PYTHON = join(ROOT, '.venv-torch', 'bin', 'python');

/** That Python, with `modules` pip-installed into .venv-torch once where they are missing. */
export function sameLibtorchPython(modules: readonly string[]): string {
  let source = '';
  try {
    const dir = process.env.SIMCLR_ADDON_DIR ?? join(ROOT, 'native', 'build', 'Release');
    source = (JSON.parse(readFileSync(join(dir, 'libtorch.json'), 'utf8')) as { source?: string }).source ?? '';
  } catch {
    // no record (a build made without provision): Debian's Python
  }
  if (!source.includes('.venv-torch') || !existsSync(VENV_PYTHON)) return DEBIAN_PYTHON;
  for (const m of modules) {
    if (spawnSync(VENV_PYTHON, ['-c', `import ${m}`], { stdio: 'ignore' }).status === 0) continue;
    const r = spawnSync(VENV_PYTHON, ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', m], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (r.status !== 0) throw new Error(`pip install ${m} into ${VENV_PYTHON} failed: the Python reference needs it`);
  }
  return VENV_PYTHON;
}
