// What the linked libtorch is and how it runs here, as torch.utils.collect_env reports it for Python: the first
// thing a bug report needs. General (no SimCLR knowledge); the CLI's `simclr doctor` prints it.
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { builtNativeFile, native } from './native.js';

export interface TorchEnv {
  libtorch: {
    version: string;
    /** Where the addon's libtorch came from (scripts/find-libtorch.mjs at build time), e.g. "pip torch (.venv-torch)".
     */
    source: string;
    /** Folder with include/ and lib/; null when the build left no record. */
    root: string | null;
    /** The addon file in use. */
    addon: string | null;
  };
  cpu: {
    model: string;
    cores: number;
    memoryGiB: number;
    /** Vector extensions this CPU has, from /proc/cpuinfo (avx2, avx512f, avx512_bf16, amx_tile, ...). */
    features: string[];
    /** ATen's kernel level in use (show_config's "CPU capability usage": DEFAULT, AVX2, AVX512, ...). */
    capability: string;
  };
  /** BLAS_INFO, LAPACK_INFO and library versions from show_config. */
  blas: string;
  lapack: string;
  mkl: string | null;
  onednn: string | null;
  openmp: string | null;
  parallelBackend: string;
  threads: { intraOp: number; interOp: number };
  /** LD_PRELOAD'ed tcmalloc or jemalloc, else glibc malloc. */
  allocator: string;
  cuda: {
    /** The libtorch was built with CUDA (USE_CUDA). */
    built: boolean;
    /** CUDA runtime and cuDNN versions the libtorch was built with, where it has CUDA. */
    runtime: string | null;
    cudnn: string | null;
    deviceCount: number;
    /** nvidia-smi -L lines, where nvidia-smi exists. */
    devices: string[];
  };
  /**
   * The libtorch, BLAS/LAPACK, oneDNN, OpenMP, allocator and CUDA libraries this process has actually mapped (from
   * /proc/self/maps): which BLAS a generic libblas.so.3 resolved to, which libtorch the addon really loaded.
   */
  loaded: string[];
  /** Environment variables that change how libtorch or simclr run. */
  variables: Record<string, string>;
  /** The full show_config text. */
  config: string;
}

const VARIABLES = [
  'LIBTORCH',
  'SIMCLR_LIBTORCH',
  'SIMCLR_ADDON_DIR',
  'SIMCLR_NUM_THREADS',
  'SIMCLR_ALLOCATOR',
  'OMP_NUM_THREADS',
  'OMP_WAIT_POLICY',
  'MKL_NUM_THREADS',
  'ATEN_CPU_CAPABILITY',
  'LD_PRELOAD',
  'CUDA_VISIBLE_DEVICES',
];
const FEATURES =
  /^(avx|avx2|avx512f|avx512bw|avx512vl|avx512_bf16|avx512_vnni|avx_vnni|amx_tile|amx_bf16|fma|f16c|asimd|sve)$/;

function pick(text: string, re: RegExp): string | null {
  return re.exec(text)?.[1]?.trim() ?? null;
}

/** This CPU's vector extensions that matter to libtorch's kernels (x86: avx2, avx512f, avx512_bf16, amx_bf16, ...; Arm:
 * asimd, sve), from /proc/cpuinfo; [] where unreadable. */
export function cpuFeatures(): string[] {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const flags = pick(info, /^(?:flags|Features)\s*:(.*)$/m) ?? '';
    return flags
      .split(/\s+/)
      .filter((f) => FEATURES.test(f))
      .sort();
  } catch {
    return [];
  }
}

const LOADED_LIBS = [
  ...['torch_cpu', 'c10', 'blas', 'lapack', 'openblas[^/]*', 'mkl[^/]*', 'dnnl', 'gomp', 'iomp5', 'omp'],
  ...['tcmalloc[^/]*', 'jemalloc', 'cudart', 'cublas', 'cudnn', 'nccl'],
];
const LOADED = new RegExp(`/lib(${LOADED_LIBS.join('|')})[.-][^/]*$`);

function loadedLibraries(): string[] {
  try {
    const paths = readFileSync('/proc/self/maps', 'utf8')
      .split('\n')
      .map((l) => l.slice(l.indexOf('/')))
      .filter((p) => p.startsWith('/') && LOADED.test(p));
    return [...new Set(paths)].sort();
  } catch {
    return [];
  }
}

function nvidiaDevices(): string[] {
  try {
    return execFileSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] })
      .trim()
      .split('\n')
      .filter((l) => l !== '');
  } catch {
    return [];
  }
}

function buildRecord(): { source: string; root: string | null } {
  const path = builtNativeFile('libtorch.json');
  if (path === null)
    return {
      source: 'unknown (no native/build/Release/libtorch.json: built without scripts/provision.sh)',
      root: null,
    };
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as { source?: string; root?: string };
    return { source: r.source ?? 'unknown', root: r.root ?? null };
  } catch {
    return { source: `unknown (${path} is unreadable)`, root: null };
  }
}

/** Collects the facts above; cheap except for nvidia-smi, which runs only where it exists. */
export function collectEnv(): TorchEnv {
  const info = native.buildInfo();
  const config = info.config;
  const parallel = info.parallel;
  const preload = process.env.LD_PRELOAD ?? '';
  const allocator = /tcmalloc/.test(preload)
    ? `tcmalloc (${preload})`
    : /jemalloc/.test(preload)
      ? `jemalloc (${preload})`
      : 'glibc malloc (mmap threshold lowered to a page by the addon)';
  const built = /USE_CUDA=(1|ON)/.test(config);
  const variables: Record<string, string> = {};
  for (const v of VARIABLES) if (process.env[v] !== undefined) variables[v] = process.env[v]!;
  const record = buildRecord();
  return {
    libtorch: {
      version: info.version,
      source: record.source,
      root: record.root,
      addon: builtNativeFile('torch_node.node'),
    },
    cpu: {
      model: cpus()[0]?.model ?? 'unknown',
      cores: availableParallelism(),
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      features: cpuFeatures(),
      capability: pick(config, /CPU capability usage: (\S+)/) ?? 'unknown',
    },
    blas: pick(config, /BLAS_INFO=([^,]+)/) ?? 'unknown',
    lapack: pick(config, /LAPACK_INFO=([^,]+)/) ?? 'unknown',
    mkl: pick(config, /(Intel\(R\) (?:oneAPI )?Math Kernel Library Version [^\n]+?)(?: for|\n)/),
    onednn: pick(config, /MKL-DNN (v[\d.]+)/),
    openmp: pick(config, /(OpenMP \d+(?: \(a\.k\.a\. OpenMP [\d.]+\))?)/),
    parallelBackend: pick(parallel, /ATen parallel backend: (.+)/) ?? 'unknown',
    threads: {
      intraOp: native.getNumThreads(),
      interOp: Number(pick(parallel, /at::get_num_interop_threads\(\) : (\d+)/) ?? NaN),
    },
    allocator,
    cuda: {
      built,
      runtime: pick(config, /CUDA Runtime ([\d.]+)/),
      cudnn: pick(config, /CuDNN ([\d.]+)/),
      deviceCount: native.cudaDeviceCount(),
      devices: built || existsSync('/dev/nvidiactl') ? nvidiaDevices() : [],
    },
    loaded: loadedLibraries(),
    variables,
    config,
  };
}
