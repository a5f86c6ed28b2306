#!/usr/bin/env node
// Builds the CUDA augmentation kernel (native/kernels/augment_cuda.cu) into native/build/Release/simclr_ops_cuda.so
// with nvcc, against the libtorch find-libtorch.mjs picks (LIBTORCH overrides, as for the addon). Where that
// libtorch has no CUDA (no libtorch_cuda.so) or no nvcc is found, prints one line saying why and exits 0: the CPU
// build is complete without it.
//   --out FILE          write the library elsewhere (default native/build/Release/simclr_ops_cuda.so)
//   SIMCLR_CUDA_ARCH    compute capabilities, e.g. "80;90" (the default: sm_80 and sm_90 machine code, plus
//                       compute_90 PTX that newer GPUs compile at load), or "native" for the GPU of this machine
//   SIMCLR_NVCC         the nvcc to use (else PATH, $CUDA_HOME/bin, /usr/local/cuda/bin)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findLibtorch } from './find-libtorch.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'native', 'kernels', 'augment_cuda.cu');

function skip(why) {
  console.log(`[build-cuda-kernels] skipped: ${why}`);
  process.exit(0);
}

function outPath() {
  const i = process.argv.indexOf('--out');
  if (i < 0) return join(root, 'native', 'build', 'Release', 'simclr_ops_cuda.so');
  const value = process.argv[i + 1];
  if (!value) throw new Error('--out needs a file name');
  return resolve(value);
}

function findNvcc() {
  if (process.env.SIMCLR_NVCC) return existsSync(process.env.SIMCLR_NVCC) ? process.env.SIMCLR_NVCC : null;
  const candidates = (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((d) => join(d, 'nvcc'));
  if (process.env.CUDA_HOME) candidates.push(join(process.env.CUDA_HOME, 'bin', 'nvcc'));
  candidates.push('/usr/local/cuda/bin/nvcc');
  return candidates.find((c) => existsSync(c) && statSync(c).isFile()) ?? null;
}

// -gencode flags: machine code for each capability, and PTX for the highest so later GPUs can still run it.
function archFlags() {
  const spec = (process.env.SIMCLR_CUDA_ARCH ?? '80;90').trim();
  if (spec === 'native') return ['-arch=native'];
  const caps = spec
    .split(/[;,\s]+/)
    .filter(Boolean)
    .map((c) => c.replace('.', '').replace(/^sm_/, ''));
  if (caps.length === 0 || caps.some((c) => !/^\d+[a-z]?$/.test(c)))
    throw new Error(`SIMCLR_CUDA_ARCH=${spec}: expected capabilities like "80;90"`);
  const flags = caps.map((c) => `-gencode=arch=compute_${c},code=sm_${c}`);
  const last = caps[caps.length - 1];
  flags.push(`-gencode=arch=compute_${last},code=compute_${last}`);
  return flags;
}

// ATen's CUDA headers include cuBLAS, cuSPARSE and cuSOLVER headers, which a bare toolkit may lack and pip's
// nvidia wheels ship beside torch (nvidia/cu13/include for CUDA 13, nvidia/<lib>/include before). Searched after
// the toolkit's own, so the runtime headers stay the compiler's.
function wheelIncludes(torchRoot) {
  const nvidia = join(dirname(torchRoot), 'nvidia');
  if (!existsSync(nvidia)) return [];
  const dirs = ['cu13', 'cu12', 'cuda_runtime', 'cublas', 'cusparse', 'cusolver', 'curand', 'cufft', 'nvtx']
    .map((d) => join(nvidia, d, 'include'))
    .filter((d) => existsSync(d));
  return dirs.flatMap((d) => [`-Xcompiler=-idirafter,${d}`]);
}

let torch;
try {
  torch = findLibtorch();
} catch (e) {
  skip(`no libtorch (${e.message.split('\n')[0]})`);
}
if (!torch) skip('no libtorch found (see scripts/find-libtorch.mjs)');
if (!existsSync(join(torch.lib, 'libtorch_cuda.so')))
  skip(`libtorch ${torch.version} at ${torch.root} is a CPU build (no libtorch_cuda.so)`);
const nvcc = findNvcc();
if (!nvcc) skip('nvcc not found (PATH, $CUDA_HOME/bin, /usr/local/cuda/bin; or set SIMCLR_NVCC)');

let out, arch;
try {
  out = outPath();
  arch = archFlags();
} catch (e) {
  console.error(`[build-cuda-kernels] ${e.message}`);
  process.exit(1);
}
mkdirSync(dirname(out), { recursive: true });
const nvccVersion = execFileSync(nvcc, ['--version'], { encoding: 'utf8' }).match(/release ([\d.]+)/)?.[1] ?? '?';
const args = [
  source,
  '-o',
  out,
  '-shared',
  '-Xcompiler=-fPIC',
  '-O3',
  `-std=${torch.cxxStd}`,
  // Contraction into fused multiply-adds would round differently from the CPU kernel the outputs are checked against.
  '--fmad=false',
  '--expt-relaxed-constexpr',
  '-lineinfo',
  `-D_GLIBCXX_USE_CXX11_ABI=${torch.cxx11Abi ? 1 : 0}`,
  // As torch's own extensions build: c10's Half/BFloat16 and CUDA's own operators otherwise collide.
  '-D__CUDA_NO_HALF_OPERATORS__',
  '-D__CUDA_NO_HALF_CONVERSIONS__',
  '-D__CUDA_NO_BFLOAT16_CONVERSIONS__',
  '-D__CUDA_NO_HALF2_OPERATORS__',
  ...torch.include.map((d) => `-I${d}`),
  `-I${join(root, 'native', 'kernels')}`,
  ...wheelIncludes(torch.root),
  ...arch,
  // The CUDA runtime torch loads (libcudart.so.N from its wheel or install), not a static copy of our own.
  '-cudart=shared',
  `-L${torch.lib}`,
  `-Xlinker=-rpath,${torch.lib}`,
  '-Xlinker=--no-as-needed',
  '-ltorch_cuda',
  '-lc10_cuda',
  '-ltorch_cpu',
  '-lc10',
  '-ltorch',
];
console.log(`[build-cuda-kernels] nvcc ${nvccVersion} (${nvcc}), libtorch ${torch.version} (${torch.root}) -> ${out}`);
const run = spawnSync(nvcc, args, { stdio: 'inherit' });
if (run.status !== 0) {
  console.error(`[build-cuda-kernels] nvcc failed (exit ${run.status ?? run.signal}): ${nvcc} ${args.join(' ')}`);
  process.exit(1);
}
