// The fused augmentation kernels (operator simclr::augment_views): the transforms of apply.ts's batched tensor ops,
// made in one pass per view and written straight into the layout the model reads. The CPU kernel
// (native/kernels/augment.cc, in simclr_ops.node) and the CUDA kernel (augment_cuda.cu, in simclr_ops_cuda.so,
// built by scripts/build-cuda-kernels.mjs where nvcc and a CUDA libtorch are found) are two implementations of the
// same operator, which the dispatcher picks by the images' device. simclr::augment_views_blockwise is the CUDA
// kernel's per-view code compiled for the CPU, for tests. apply.ts picks the fused op for CPU and CUDA tensors
// when it loads; the tensor ops remain the reference and the path for other devices.

import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { AugmentOp, SampleContext } from './op.js';
import type { AugmentPipeline, PipelineParams } from './pipeline.js';
import { randomResizedCrop } from './ops/random-resized-crop.js';
import { horizontalFlip } from './ops/horizontal-flip.js';
import { colorJitter } from './ops/color-jitter.js';
import { grayscale } from './ops/grayscale.js';
import { blurKernelSize, gaussianBlur } from './ops/gaussian-blur.js';
import { solarize } from './ops/solarize.js';
import { LUMA_WEIGHTS } from '../data/colour.js';

/**
 * The ops the kernels implement, in the only order they run them. Their columns, after 'image' (the source image's
 * batch index), are the kernels' params rows: the names of `enum Param` in native/kernels/augment_params.h. The
 * libraries report theirs (simclr::param_layout, simclr::cuda_param_layout) and loading fails on any difference, so
 * a change to one of these ops' columns that the kernels do not follow is caught when they load.
 */
export const FUSED_OPS: readonly AugmentOp<object>[] = [
  randomResizedCrop,
  horizontalFlip,
  colorJitter,
  grayscale,
  gaussianBlur,
  solarize,
];
const PARAM_LAYOUT: readonly string[] = ['image', ...FUSED_OPS.flatMap((op) => op.columns)];
const PARAM_COUNT = PARAM_LAYOUT.length;

/**
 * Null when the fused kernels can run `pipeline`, else why not: they run the ops of FUSED_OPS, each at most once
 * and in that order (an op left out runs as its identity). Anything else (another op, another order) runs on the
 * tensor ops.
 */
export function fusedCoverage(pipeline: AugmentPipeline): string | null {
  let next = 0;
  for (const [i, step] of pipeline.steps.entries()) {
    const at = FUSED_OPS.indexOf(step.op);
    if (at < 0) return `the fused kernel has no '${step.op.name}' (step ${i})`;
    if (at < next)
      return (
        `the fused kernel runs ${FUSED_OPS.map((op) => op.name).join(' -> ')} in that order, once each; step ` +
        `${i} '${step.op.name}' comes out of that order`
      );
    next = at + 1;
  }
  return null;
}

/**
 * Null when a library's reported params layout is this module's, else a message naming the first difference. The
 * report is the comma-separated column names, then ';luma=' and the kernel's three luma weights, which must be
 * LUMA_WEIGHTS (data/colour.ts, the one definition). Exported for tests.
 */
export function paramLayoutMismatch(reported: string, library: string): string | null {
  const [columns = '', ...rest] = reported.split(';');
  const theirs = columns.split(',');
  const fix =
    'rebuild it, or bring the columns of the FUSED_OPS ops (src/augment/ops/), src/data/colour.ts and ' +
    'native/kernels/augment_params.h back in step';
  if (theirs.join(',') !== PARAM_LAYOUT.join(',')) {
    const at = PARAM_LAYOUT.findIndex((name, i) => theirs[i] !== name);
    const where =
      at < 0
        ? `it has ${theirs.length} columns, fused.ts ${PARAM_COUNT}`
        : `column ${at} is '${theirs[at] ?? '(none)'}' there, '${PARAM_LAYOUT[at]}' in fused.ts`;
    return `${library} was built with another params layout (${where}): ${fix}`;
  }
  const luma = rest.find((part) => part.startsWith('luma='))?.slice('luma='.length);
  const weights = luma === undefined ? [] : luma.split(',').map(Number);
  if (weights.length !== 3 || weights.some((w, i) => w !== LUMA_WEIGHTS[i])) {
    return (
      `${library} was built with other luma weights (${luma ?? 'none reported'}; data/colour.ts has ` +
      `${LUMA_WEIGHTS.join(',')}): ${fix}`
    );
  }
  return null;
}

/** Device kinds with a fused kernel. */
export type FusedDevice = 'cpu' | 'cuda';

type KernelOp = (...args: unknown[]) => unknown;

interface Loaded {
  /** simclr::augment_views (both devices, once each library is loaded). */
  op: KernelOp;
  /** simclr::augment_views_blockwise (CPU); null when simclr_ops.node predates it. */
  blockwise: KernelOp | null;
}
interface LoadState {
  done: boolean;
  error: Error | null;
  warned: boolean;
}
const state: Record<FusedDevice, LoadState> = {
  cpu: { done: false, error: null, warned: false },
  cuda: { done: false, error: null, warned: false },
};
let loaded: Loaded | null = null;

/** Calls a layout-reporting operator and throws when it is missing or disagrees. */
function checkLayout(opName: string, library: string): void {
  const layout = torch.customOp(opName);
  if (layout === null)
    throw new Error(`${library} does not report its params layout (${opName}; built before the check?): rebuild it`);
  const mismatch = paramLayoutMismatch(String(layout()), library);
  if (mismatch !== null) throw new Error(mismatch);
}

/** Loads simclr_ops.node once. A failure is kept (and reported where a kernel is asked for) rather than thrown here. */
function loadCpu(): Loaded | null {
  if (state.cpu.done) return loaded;
  state.cpu.done = true;
  try {
    // Another copy of this package in the process may have registered the operators already.
    let op = torch.customOp('simclr::augment_views');
    if (op === null) {
      const path = torch.builtLibraryPath('simclr_ops.node');
      if (path === null) throw new Error('native/build/Release/simclr_ops.node is not built');
      torch.loadLibrary(path);
      op = torch.customOp('simclr::augment_views');
      if (op === null) throw new Error(`${path} did not register simclr::augment_views`);
    }
    checkLayout('simclr::param_layout', 'simclr_ops.node');
    loaded = { op, blockwise: torch.customOp('simclr::augment_views_blockwise') };
  } catch (e) {
    state.cpu.error = e as Error;
  }
  return loaded;
}

/** Loads simclr_ops_cuda.so once, after simclr_ops.node (which defines the operator it implements for CUDA). */
function loadCuda(): boolean {
  if (state.cuda.done) return state.cuda.error === null;
  state.cuda.done = true;
  try {
    if (loadCpu() === null) throw new Error(`the CPU kernel library did not load (${state.cpu.error?.message})`);
    if (!torch.cuda.isAvailable()) throw new Error('no CUDA device (torch.cuda.isAvailable() is false)');
    if (torch.customOp('simclr::cuda_param_layout') === null) {
      const path = torch.builtLibraryPath('simclr_ops_cuda.so');
      if (path === null)
        throw new Error(
          'native/build/Release/simclr_ops_cuda.so is not built (node scripts/build-cuda-kernels.mjs, which needs ' +
            'nvcc and a CUDA libtorch)',
        );
      torch.loadLibrary(path);
    }
    checkLayout('simclr::cuda_param_layout', 'simclr_ops_cuda.so');
  } catch (e) {
    state.cuda.error = e as Error;
  }
  return state.cuda.error === null;
}

/** The device kind of a device string ('cpu', 'cuda', 'cuda:1'), or null for devices without a fused kernel. */
function deviceKind(device: string): FusedDevice | null {
  if (device === 'cpu') return 'cpu';
  if (device === 'cuda' || device.startsWith('cuda:')) return 'cuda';
  return null;
}

/**
 * Whether the fused kernel runs on `device` ('cpu' by default; 'cuda' or 'cuda:N'): for the CPU, simclr_ops.node
 * is built and loads (`npm run build` builds it with the addon); for CUDA, simclr_ops_cuda.so is built too
 * (scripts/build-cuda-kernels.mjs) and a GPU is present. The first time it does not, a warning says why (unless
 * `quiet`): augmentation then runs on the slower tensor ops. Other devices: false, silently. The options object
 * may come first (device 'cpu').
 */
export function fusedKernelAvailable(
  device?: string | { quiet?: boolean },
  options: { quiet?: boolean } = {},
): boolean {
  if (typeof device === 'object') return fusedKernelAvailable('cpu', device);
  const kind = deviceKind(device ?? 'cpu');
  if (kind === null) return false;
  const available = kind === 'cpu' ? loadCpu() !== null : loadCuda();
  const s = state[kind];
  if (!available && !s.warned && options.quiet !== true) {
    s.warned = true;
    const fix =
      kind === 'cpu'
        ? 'Run `npm run build`.'
        : 'Run `node scripts/build-cuda-kernels.mjs` on a machine with nvcc and a CUDA libtorch.';
    process.emitWarning(
      `the fused ${kind === 'cpu' ? 'CPU' : 'CUDA'} augmentation kernel is unavailable (${s.error?.message}); ` +
        `augmenting ${kind === 'cpu' ? 'CPU' : 'CUDA'} tensors with tensor ops, which is slower. ${fix}`,
      'SimclrWarning',
    );
  }
  return available;
}

/** The device kinds the fused kernel runs on in this process (loading the libraries if not yet done; no warnings). */
export function fusedKernelDevices(): FusedDevice[] {
  return (['cpu', 'cuda'] as const).filter((d) => fusedKernelAvailable(d, { quiet: true }));
}

/** Why the kernel for `device` ('cpu' by default) did not load, or null when it loaded or was not asked for yet. */
export function fusedKernelError(device = 'cpu'): string | null {
  const kind = deviceKind(device);
  if (kind === null) return `no fused kernel for device '${device}'`;
  return state[kind].error?.message ?? null;
}

/**
 * One row per view: the source image's batch index, then each FUSED_OPS op's columns, from the pipeline's step for
 * that op or, where it has none, the op's identity. The pipeline must be covered (fusedCoverage).
 */
function packParams(
  pipeline: AugmentPipeline,
  views: readonly PipelineParams[],
  srcHeight: number,
  srcWidth: number,
): Float32Array {
  const ctx: SampleContext = {
    height: srcHeight,
    width: srcWidth,
    channels: pipeline.channels,
    outputSize: pipeline.outputSize,
  };
  const stepOf = FUSED_OPS.map((op) => pipeline.steps.findIndex((s) => s.op === op));
  const identity = FUSED_OPS.map((op) => op.identity(ctx));
  const rows = new Float32Array(views.reduce((n, v) => n + v.count, 0) * PARAM_COUNT);
  let r = 0;
  for (const p of views) {
    for (let b = 0; b < p.count; b++, r++) {
      let o = r * PARAM_COUNT;
      rows[o++] = b;
      FUSED_OPS.forEach((op, k) => {
        const w = op.columns.length,
          step = stepOf[k]!;
        rows.set(step < 0 ? identity[k]! : p.steps[step]!.values.subarray(b * w, (b + 1) * w), o);
        o += w;
      });
    }
  }
  return rows;
}

export interface FusedOptions {
  normalize?: { mean: readonly number[]; std: readonly number[] } | undefined;
  channelsLast: boolean;
  /**
   * 'fused' (default): simclr::augment_views on the images' device (CPU or CUDA). 'blockwise': the CUDA kernel's
   * per-view code run on the CPU (simclr::augment_views_blockwise), for tests; CPU images only.
   */
  implementation?: 'fused' | 'blockwise';
}

/**
 * Every view of `views` (each covering the whole batch, in batch order), concatenated: uint8 [B,C,H,W] on the CPU
 * or a CUDA device -> float32 [V*B,C,S,S] on the same device (channels-last strides when asked for and C = 3).
 * S = pipeline.outputSize. Throws when the pipeline is not one the kernels run (fusedCoverage), when the kernel for
 * the images' device is unavailable (naming why) or when a view's parameters do not fit the images (the operator's
 * message names the view).
 */
export function augmentFused(
  images: Tensor,
  pipeline: AugmentPipeline,
  views: readonly PipelineParams[],
  opts: FusedOptions,
): Tensor {
  const uncovered = fusedCoverage(pipeline);
  if (uncovered !== null) throw new Error(`simclr: ${uncovered}; use implementation: 'tensor'`);
  const kind = deviceKind(images.device);
  if (kind === null)
    throw new Error(
      `simclr: no fused augmentation kernel for device '${images.device}'; use implementation: 'tensor'.`,
    );
  let op: KernelOp | null;
  if (opts.implementation === 'blockwise') {
    op = loadCpu()?.blockwise ?? null;
    if (op === null)
      throw new Error(
        `simclr: the blockwise augmentation operator is unavailable: ${
          state.cpu.error?.message ?? 'simclr_ops.node predates it'
        }. Run \`npm run build\`.`,
      );
  } else {
    op = (kind === 'cpu' ? loadCpu() !== null : loadCuda()) ? loaded!.op : null;
    if (op === null)
      throw new Error(
        `simclr: the fused ${kind === 'cpu' ? 'CPU' : 'CUDA'} augmentation kernel is unavailable: ` +
          `${state[kind].error?.message}. ${
            kind === 'cpu' ? 'Run `npm run build`' : 'Run `node scripts/build-cuda-kernels.mjs`'
          }, or use implementation: 'tensor'.`,
      );
  }
  const rows = packParams(pipeline, views, images.shape[2]!, images.shape[3]!);
  // On the CPU even for CUDA images: the CUDA operator sends it from pinned memory on the current stream, without
  // blocking the host.
  const params = torch.tensor(rows, { shape: [rows.length / PARAM_COUNT, PARAM_COUNT] });
  try {
    return op(
      images,
      params,
      pipeline.outputSize,
      blurKernelSize(pipeline.outputSize),
      opts.normalize?.mean ?? null,
      opts.normalize?.std ?? null,
      opts.channelsLast,
    ) as Tensor;
  } finally {
    params.dispose();
  }
}
