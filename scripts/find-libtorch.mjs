#!/usr/bin/env node
// Locates a libtorch to build against, in the order the README documents:
//   1. $LIBTORCH: a folder with include/ and lib/ (a pytorch.org libtorch zip, or a pip torch's package folder)
//   2. SIMCLR_LIBTORCH=system: Debian/Ubuntu's system install only (apt-get install libtorch-dev, 1.13)
//   3. otherwise (SIMCLR_LIBTORCH=pip, the default): the project's own virtual environment .venv-torch, where
//      scripts/provision.sh installs the pinned pip torch; then a python3 on PATH that imports torch and ships
//      include/ + lib/; then the system install
// Prints JSON {root, include: [...], lib, cxx11Abi, source, version, cxxStd, cuda, cudaInclude: [...]}; with an
// argument, prints one field for gyp.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function layout(root, source, cxx11Abi) {
  const include = join(root, 'include');
  const lib = join(root, 'lib');
  if (!existsSync(join(include, 'ATen', 'ATen.h')) || !existsSync(lib)) return null;
  return {
    root,
    include: [include, join(include, 'torch', 'csrc', 'api', 'include')],
    lib,
    cxx11Abi,
    source,
    version: readVersion(include),
    cxxStd: readCxxStd(include),
    ...cudaFacts(root, lib),
  };
}

// A CUDA libtorch ships libtorch_cuda.so beside libtorch_cpu.so; building its CUDA parts (ProcessGroupNCCL, the CUDA
// runtime calls) needs the CUDA runtime and NCCL headers, which libtorch does not carry. pip's torch has them in the
// nvidia-* wheels next to it (CUDA 13: nvidia/cu13/include; CUDA 12: one folder per library,
// nvidia/cuda_runtime/include
// and so on), except crt/host_defines.h, which cuda_runtime_api.h includes and only the nvidia-cuda-crt wheel or a CUDA
// toolkit provides. Without a complete set there, a toolkit's headers ($CUDA_HOME, $CUDA_PATH, /usr/local/cuda) come
// first and the wheels' (NCCL, cuDNN) after them.
function cudaFacts(root, lib) {
  if (!existsSync(join(lib, 'libtorch_cuda.so'))) return { cuda: false, cudaInclude: [] };
  const wheels = join(dirname(root), 'nvidia');
  const dirs = existsSync(wheels)
    ? readdirSync(wheels)
        .sort()
        .map((d) => join(wheels, d, 'include'))
        .filter((d) => existsSync(d))
    : [];
  if (cudaHeadersComplete(dirs)) return { cuda: true, cudaInclude: dirs };
  const toolkit = [process.env.CUDA_HOME, process.env.CUDA_PATH, '/usr/local/cuda']
    .filter((d) => d)
    .map((d) => join(d, 'include'))
    .find((d) => cudaHeadersComplete([d]));
  return { cuda: true, cudaInclude: toolkit ? [toolkit, ...dirs.filter((d) => d !== toolkit)] : dirs };
}

function cudaHeadersComplete(dirs) {
  return ['cuda_runtime_api.h', join('crt', 'host_defines.h')].every((h) => dirs.some((d) => existsSync(join(d, h))));
}

// The C++ standard the headers need: 2.14's ATen.h refuses anything before C++20; earlier releases build as C++17.
function readCxxStd(include) {
  return /C\+\+20 or later/.test(readFileSync(join(include, 'ATen', 'ATen.h'), 'utf8')) ? 'c++20' : 'c++17';
}

// 1.13 defines the version in torch/version.h; 2.x moved it to torch/headeronly/version.h (the old file includes it).
function readVersion(include) {
  for (const f of [
    join(include, 'torch', 'headeronly', 'version.h'),
    join(include, 'torch', 'csrc', 'api', 'include', 'torch', 'version.h'),
  ]) {
    if (!existsSync(f)) continue;
    const m = /#define TORCH_VERSION\s*\\?\s*"([^"]+)"/.exec(readFileSync(f, 'utf8'));
    if (m) return m[1];
  }
  return 'unknown';
}

function fromPython(python) {
  try {
    const out = execFileSync(
      python,
      ['-c', 'import torch,os;print(os.path.dirname(torch.__file__));print(int(torch._C._GLIBCXX_USE_CXX11_ABI))'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60000 },
    )
      .trim()
      .split('\n');
    return layout(out[0], `python torch (${python})`, out[1] === '1');
  } catch {
    return null;
  }
}

function fromSystem() {
  const multiarch = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'];
  if (!existsSync('/usr/include/ATen/ATen.h')) return null;
  const lib = multiarch.find((d) => existsSync(join(d, 'libtorch_cpu.so')));
  if (!lib) return null;
  return {
    root: '/usr',
    include: ['/usr/include', '/usr/include/torch/csrc/api/include'],
    lib,
    cxx11Abi: true,
    source: 'system (libtorch-dev)',
    version: readVersion('/usr/include'),
    cxxStd: readCxxStd('/usr/include'),
    ...cudaFacts('/usr', lib),
  };
}

// The project-local virtual environment that provision.sh fills with the pinned pip torch.
export const VENV = join(dirname(fileURLToPath(import.meta.url)), '..', '.venv-torch');

// provision.sh records the package folder and ABI once after installing (importing torch takes seconds, and gyp
// asks for several fields).
// A record that no longer matches its folder (a moved checkout, a deleted package) is an error rather than a silent
// switch to another libtorch: provision.sh reinstalls it.
function fromVenv() {
  const record = join(VENV, 'libtorch.json');
  if (!existsSync(record)) return null;
  let found = null;
  try {
    const { root, cxx11Abi, version } = JSON.parse(readFileSync(record, 'utf8'));
    // The package folder must be the venv's own, with the version the record names.
    const inside = typeof root === 'string' && realpathSync(root).startsWith(`${realpathSync(VENV)}/`);
    found = inside ? layout(root, 'pip torch (.venv-torch)', cxx11Abi === true) : null;
    if (found && String(version).split('+')[0] !== found.version) found = null;
  } catch {
    // unreadable, or the folder is gone: reported below
  }
  if (!found)
    throw new Error(
      `${record} does not describe the torch installed in ${VENV} (moved checkout, or edited?): run \`npm run ` +
        `build\` to reinstall it, or set SIMCLR_LIBTORCH=system`,
    );
  return found;
}

export function findLibtorch() {
  const env = process.env.LIBTORCH;
  if (env) {
    const found = layout(env, 'LIBTORCH', process.env.TORCH_CXX11_ABI !== '0');
    if (!found)
      throw new Error(
        `LIBTORCH=${env} has no include/ATen/ATen.h and lib/: point it at an unpacked libtorch or a pip torch ` +
          `package folder`,
      );
    return found;
  }
  const choice = process.env.SIMCLR_LIBTORCH ?? 'pip';
  if (choice === 'system') return fromSystem();
  if (choice !== 'pip') throw new Error(`SIMCLR_LIBTORCH=${choice}: expected 'pip' (the default) or 'system'`);
  return fromVenv() ?? fromPython('python3') ?? fromPython('/usr/bin/python3') ?? fromSystem();
}

// CUDA builds split their kernels into libtorch_cuda; linking it (with --no-as-needed) registers the CUDA ops.
export function linkFlags(lib) {
  const flags = ['-ltorch', '-ltorch_cpu', '-lc10'];
  if (existsSync(join(lib, 'libtorch_cuda.so'))) flags.push('-ltorch_cuda', '-lc10_cuda');
  return flags;
}

// What the native build depends on: its sources and the libtorch it links (its facts include whether it has CUDA and
// which CUDA headers the build uses, so switching between a CPU and a CUDA libtorch rebuilds). provision.sh rebuilds
// when this changes;
// the libtorch bench keys its cached builds on it.
export function buildStamp(found) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'native');
  const hash = createHash('sha256');
  const files = [
    'binding.gyp',
    ...['src', 'kernels'].flatMap((d) =>
      readdirSync(join(root, d))
        .sort()
        .map((f) => join(d, f)),
    ),
  ];
  for (const f of files) hash.update(f).update(readFileSync(join(root, f)));
  return hash.update(JSON.stringify(found)).digest('hex');
}

const HOW_TO_GET =
  'simclr needs libtorch (PyTorch C++ library). Get one of:\n' +
  '  - Debian/Ubuntu: sudo apt-get install libtorch-dev\n' +
  '  - any Linux: unpack a libtorch zip from pytorch.org and set LIBTORCH=/path/to/libtorch\n' +
  '  - a pip torch: set LIBTORCH=$(python3 -c "import torch,os;print(os.path.dirname(torch.__file__))")';

if (import.meta.url === `file://${process.argv[1]}`) {
  let found;
  try {
    found = findLibtorch();
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
  if (!found) {
    console.error(HOW_TO_GET);
    process.exit(1);
  }
  const field = process.argv[2];
  if (!field) console.log(JSON.stringify(found, null, 2));
  else if (field === 'stamp') console.log(buildStamp(found));
  else if (field === 'include') console.log(found.include.join(' '));
  else if (field === 'abi') console.log(found.cxx11Abi ? 1 : 0);
  else if (field === 'libs') console.log(linkFlags(found.lib).join(' '));
  else if (field === 'std') console.log(found.cxxStd);
  else if (field === 'cuda') console.log(found.cuda ? 1 : 0);
  else if (field === 'cudaInclude') {
    if (found.cuda && !cudaHeadersComplete(found.cudaInclude)) {
      console.error(
        `${found.root} is a CUDA libtorch, but the CUDA runtime headers (cuda_runtime_api.h and crt/host_defines.h) ` +
          `were not found in pip's nvidia-* wheels beside it, $CUDA_HOME/include or /usr/local/cuda/include: ` +
          `install a CUDA toolkit (or set CUDA_HOME to one), or the nvidia-cuda-crt wheel matching ` +
          `nvidia-cuda-runtime`,
      );
      process.exit(1);
    }
    console.log(found.cudaInclude.join(' '));
  } else console.log(found[field]);
}
