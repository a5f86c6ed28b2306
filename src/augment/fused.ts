// The fused CPU kernel for view augmentation (native/kernels/augment.cc, operator simclr::augment_views): the
// transforms of apply.ts's batched tensor ops, made in one cache-resident pass per view and written straight into
// the layout the model reads. apply.ts picks it for CPU tensors; the tensor ops remain the path for other devices.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { ViewParams } from './params.js';

/** Columns of the kernel's params rows; keep in step with `enum Param` in native/kernels/augment.cc. */
const PARAM_COUNT = 18;

type AugmentOp = (...args: unknown[]) => unknown;
let augmentOp: AugmentOp | null | undefined;

function kernelLibraryPath(): string | null {
  // dist/src/augment/fused.js and src/augment/fused.ts (under a TS loader) both sit below the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, 'native', 'build', 'Release', 'simclr_ops.node');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return null;
}

function loadOp(): AugmentOp | null {
  if (augmentOp === undefined) {
    const path = kernelLibraryPath();
    if (path !== null) torch.loadLibrary(path);
    augmentOp = path === null ? null : torch.customOp('simclr::augment_views');
  }
  return augmentOp;
}

/** Whether the fused kernel is built and loadable (it is built with the addon by `npm run build`). */
export function fusedKernelAvailable(): boolean {
  return loadOp() !== null;
}

/** One row per view: the source image's batch index, then the view's parameters in the kernel's column order. */
function packParams(views: readonly ViewParams[]): Float32Array {
  const rows = new Float32Array(views.reduce((n, v) => n + v.count, 0) * PARAM_COUNT);
  let r = 0;
  for (const p of views) {
    for (let b = 0; b < p.count; b++, r++) {
      const o = r * PARAM_COUNT;
      rows[o] = b;
      rows.set(p.crop.subarray(b * 4, b * 4 + 4), o + 1);
      rows[o + 5] = p.flip[b]!;
      rows[o + 6] = p.jitter[b]!;
      rows[o + 7] = p.brightness[b]!;
      rows[o + 8] = p.contrast[b]!;
      rows[o + 9] = p.saturation[b]!;
      rows[o + 10] = p.hue[b]!;
      rows.set(p.jitterOrder.subarray(b * 4, b * 4 + 4), o + 11);
      rows[o + 15] = p.grayscale[b]!;
      rows[o + 16] = p.blurSigma[b]!;
      rows[o + 17] = p.solarize[b]!;
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
  if (op === null) throw new Error('simclr: the augmentation kernel is not built (native/build/Release/simclr_ops.node). Run `npm run build`.');
  const rows = packParams(views);
  const params = torch.tensor(rows, { shape: [rows.length / PARAM_COUNT, PARAM_COUNT] });
  try {
    return op(images, params, opts.size, opts.blurKernel, opts.normalize?.mean ?? null, opts.normalize?.std ?? null, opts.channelsLast) as Tensor;
  } finally {
    params.dispose();
  }
}
