// The fused CPU kernel for view augmentation (native/kernels/augment.cc, operator simclr::augment_views): the
// transforms of apply.ts's batched tensor ops, made in one cache-resident pass per view and written straight into
// the layout the model reads. apply.ts picks it for CPU tensors; the tensor ops remain the path for other devices.

import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { ViewParams } from './params.js';

/** Columns of the kernel's params rows, as `enum Param` in native/kernels/augment.cc (keep the two in step). */
const COLUMN = {
  image: 0, crop: 1, flip: 5, jitter: 6, brightness: 7, contrast: 8, saturation: 9, hue: 10, order: 11, grayscale: 15,
  blurSigma: 16, solarize: 17,
} as const;
const PARAM_COUNT = 18;

type AugmentOp = (...args: unknown[]) => unknown;
let augmentOp: AugmentOp | null | undefined;
let loadError: Error | null = null;
let warned = false;

/** Loads the kernel once. A failure is kept (and reported where the kernel is asked for) rather than thrown here. */
function loadOp(): AugmentOp | null {
  if (augmentOp !== undefined) return augmentOp;
  augmentOp = null;
  try {
    // Another copy of this package in the process may have registered the operator already.
    let op = torch.customOp('simclr::augment_views');
    if (op === null) {
      const path = torch.builtLibraryPath('simclr_ops.node');
      if (path === null) throw new Error('native/build/Release/simclr_ops.node is not built');
      torch.loadLibrary(path);
      op = torch.customOp('simclr::augment_views');
      if (op === null) throw new Error(`${path} did not register simclr::augment_views`);
    }
    augmentOp = op;
  } catch (e) {
    loadError = e as Error;
  }
  return augmentOp;
}

/**
 * Whether the fused kernel is built and loads (`npm run build` builds it with the addon). The first time it does
 * not, a warning says why: augmentation then runs on the slower tensor ops.
 */
export function fusedKernelAvailable(options: { quiet?: boolean } = {}): boolean {
  const available = loadOp() !== null;
  if (!available && !warned && options.quiet !== true) {
    warned = true;
    process.emitWarning(`the fused augmentation kernel is unavailable (${loadError?.message}); augmenting with tensor ops, which is slower. Run \`npm run build\`.`, 'SimclrWarning');
  }
  return available;
}
/** Why the kernel did not load, or null when it loaded or was not asked for yet. */
export function fusedKernelError(): string | null {
  return loadError?.message ?? null;
}

/** One row per view: the source image's batch index, then the view's parameters in the kernel's column order. */
function packParams(views: readonly ViewParams[]): Float32Array {
  const rows = new Float32Array(views.reduce((n, v) => n + v.count, 0) * PARAM_COUNT);
  let r = 0;
  for (const p of views) {
    for (let b = 0; b < p.count; b++, r++) {
      const o = r * PARAM_COUNT;
      rows[o + COLUMN.image] = b;
      rows.set(p.crop.subarray(b * 4, b * 4 + 4), o + COLUMN.crop);
      rows[o + COLUMN.flip] = p.flip[b]!;
      rows[o + COLUMN.jitter] = p.jitter[b]!;
      rows[o + COLUMN.brightness] = p.brightness[b]!;
      rows[o + COLUMN.contrast] = p.contrast[b]!;
      rows[o + COLUMN.saturation] = p.saturation[b]!;
      rows[o + COLUMN.hue] = p.hue[b]!;
      rows.set(p.jitterOrder.subarray(b * 4, b * 4 + 4), o + COLUMN.order);
      rows[o + COLUMN.grayscale] = p.grayscale[b]!;
      rows[o + COLUMN.blurSigma] = p.blurSigma[b]!;
      rows[o + COLUMN.solarize] = p.solarize[b]!;
    }
  }
  return rows;
}

export interface FusedOptions {
  size: number;
  blurKernel: number;
  normalize?: { mean: readonly number[]; std: readonly number[] } | undefined;
  channelsLast: boolean;
}

/**
 * Every view of `views` (each covering the whole batch, in batch order), concatenated: uint8 [B,C,H,W] on the CPU
 * -> float32 [V*B,C,S,S].
 */
export function augmentFused(images: Tensor, views: readonly ViewParams[], opts: FusedOptions): Tensor {
  const op = loadOp();
  if (op === null) throw new Error(`simclr: the fused augmentation kernel is unavailable: ${loadError?.message}. Run \`npm run build\`, or use implementation: 'tensor'.`);
  const rows = packParams(views);
  const params = torch.tensor(rows, { shape: [rows.length / PARAM_COUNT, PARAM_COUNT] });
  try {
    return op(images, params, opts.size, opts.blurKernel, opts.normalize?.mean ?? null, opts.normalize?.std ?? null, opts.channelsLast) as Tensor;
  } finally {
    params.dispose();
  }
}
