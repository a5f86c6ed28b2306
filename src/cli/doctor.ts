// `simclr doctor` (also `simclr info --env`): the environment a bug report needs, libtorch's collect_env plus what
// simclr adds (its fused augmentation kernel, the default dataset). Plain text, or one JSON object with --json.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { release, type as osType } from 'node:os';
import * as torch from '../torch/index.js';
import { fusedKernelAvailable, fusedKernelError } from '../augment/fused.js';
import { DEFAULT_FASHION_MNIST_DIR } from '../data/spec.js';

export interface DoctorReport {
  simclr: string;
  node: string;
  os: string;
  torch: torch.TorchEnv;
  augmentKernel: { loaded: boolean; error: string | null };
  fashionMnist: string | null;
}

function packageVersion(): string {
  // The nearest package.json above this file that is simclr's (dist/src/cli or src/cli).
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'simclr') return pkg.version ?? 'unknown';
    } catch {
      // not here; look one folder up
    }
  }
  return 'unknown';
}

export function doctorReport(): DoctorReport {
  const loaded = fusedKernelAvailable({ quiet: true });
  return {
    simclr: packageVersion(),
    node: process.version,
    os: `${osType()} ${release()} (${process.arch})`,
    torch: torch.collectEnv(),
    augmentKernel: { loaded, error: loaded ? null : fusedKernelError() },
    fashionMnist: existsSync(join(DEFAULT_FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'))
      ? DEFAULT_FASHION_MNIST_DIR
      : null,
  };
}

export function formatDoctor(r: DoctorReport): string {
  const t = r.torch;
  const rows: [string, string][] = [
    ['simclr', `${r.simclr} on Node ${r.node}, ${r.os}`],
    ['libtorch', `${t.libtorch.version} from ${t.libtorch.source}${t.libtorch.root ? ` (${t.libtorch.root})` : ''}`],
    ['addon', t.libtorch.addon ?? 'not found'],
    ['cpu', `${t.cpu.model}, ${t.cpu.cores} cores, ${t.cpu.memoryGiB} GiB`],
    ['cpu features', t.cpu.features.join(' ') || 'unknown'],
    ['aten kernels', `${t.cpu.capability} (ATEN_CPU_CAPABILITY can lower it)`],
    ['blas / lapack', `${t.blas} / ${t.lapack}${t.mkl ? `; ${t.mkl}` : ''}`],
    ['onednn', t.onednn ?? 'not built'],
    [
      'parallel',
      `${t.parallelBackend}${t.openmp ? `, ${t.openmp}` : ''}; ${t.threads.intraOp} intra-op, ${t.threads.interOp} ` +
        `inter-op threads`,
    ],
    ['allocator', t.allocator],
    [
      'cuda',
      t.cuda.built
        ? `built (CUDA ${t.cuda.runtime ?? '?'}, cuDNN ${t.cuda.cudnn ?? '?'}); ${t.cuda.deviceCount} device(s) visible`
        : `not built into this libtorch (CPU only)${
            t.cuda.devices.length > 0 ? `, though nvidia-smi sees ${t.cuda.devices.length} GPU(s)` : ''
          }`,
    ],
    ...t.cuda.devices.map((d): [string, string] => ['', d]),
    ...t.loaded.map((path, i): [string, string] => [i === 0 ? 'loaded' : '', path]),
    [
      'augment kernel',
      r.augmentKernel.loaded ? 'fused CPU kernel loaded' : `unavailable, tensor ops in use: ${r.augmentKernel.error}`,
    ],
    ['fashion-mnist', r.fashionMnist ?? `not at ${DEFAULT_FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist)`],
    ...Object.entries(t.variables).map(([k, v]): [string, string] => [k, v]),
  ];
  return rows.map(([k, v]) => `${k.padEnd(Math.max(15, k.length + 1))}${v}`).join('\n');
}
