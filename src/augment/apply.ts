// Applies sampled view parameters (params.ts) to a whole batch. Two implementations of the same transforms: the
// fused kernels (fused.ts: CPU, and CUDA where built), used by default on those devices, and batched libtorch ops
// (below), the reference and the path for other devices; nothing loops over pixels in JavaScript. The transforms
// and their order follow the SimCLR pipeline as written with torchvision: resized crop -> flip -> colour jitter ->
// grayscale -> blur -> solarize, each matching the torchvision functional op on a float tensor image (see test/golden/gen_augment.py).

import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { blurKernelSize, sampleViewParams, type AugmentConfig, type ViewParams } from './params.js';
import { augmentFused, fusedKernelAvailable } from './fused.js';
import { LUMA_WEIGHTS } from '../data/colour.js';

const F = torch.nn.functional;

export interface ApplyOptions {
  /** Per-channel (x - mean) / std after every augmentation. Off by default: the paper feeds [0, 1] inputs. */
  normalize?: { mean: readonly number[]; std: readonly number[] };
  /** Memory layout of the result; channels-last is what the training loop feeds the model. Default contiguous. */
  memoryFormat?: 'contiguous' | 'channelsLast';
  /**
   * 'fused': the fused kernel for the images' device (fused.ts; CPU, or CUDA where simclr_ops_cuda.so is built),
   * one pass per view; 'tensor': batched libtorch ops on any device; 'blockwise': the CUDA kernel's per-view code
   * run on the CPU (CPU images only; for tests). Default: fused for CPU and CUDA images when that device's kernel
   * loads (a one-time warning says why where it does not), tensor otherwise. All give the same views (to float
   * rounding).
   */
  implementation?: 'fused' | 'tensor' | 'blockwise';
}

export interface ViewSeed {
  seed: number;
  epoch: number;
  /** Dataset index of each image in the batch, in batch order. */
  indices: ArrayLike<number>;
}

/** Parameters that leave an image as it is apart from resizing it whole to the output size. */
export function identityViewParams(count: number, srcHeight: number, srcWidth: number): ViewParams {
  const crop = new Float32Array(count * 4);
  const jitterOrder = new Uint8Array(count * 4);
  for (let b = 0; b < count; b++) {
    crop.set([0, 0, srcWidth, srcHeight], b * 4);
    jitterOrder.set([0, 1, 2, 3], b * 4);
  }
  return {
    count, crop, flip: new Uint8Array(count), jitter: new Uint8Array(count),
    brightness: new Float32Array(count).fill(1), contrast: new Float32Array(count).fill(1),
    saturation: new Float32Array(count).fill(1), hue: new Float32Array(count), jitterOrder,
    grayscale: new Uint8Array(count), blurSigma: new Float32Array(count), solarize: new Uint8Array(count),
  };
}

/** One value per row as a [n,1,1,1] tensor, so it broadcasts over an [n,C,H,W] batch. */
function perRow(values: ArrayLike<number>, rows: readonly number[], device: string): Tensor {
  return torch.tensor(Float32Array.from(rows, (r) => values[r]!), { shape: [rows.length, 1, 1, 1], device });
}

/**
 * Replaces rows `rows` of x (in place: applyViews owns x) by fn of those rows. Intermediates are freed per call,
 * so a chain of ops on large batches never holds more than one op's temporaries.
 */
function updateRows(x: Tensor, rows: readonly number[], fn: (sub: Tensor) => Tensor): void {
  if (rows.length === 0) return;
  torch.scope(() => {
    if (rows.length === x.shape[0]) {
      x.copy_(fn(x));
      return;
    }
    const index = torch.tensor(BigInt64Array.from(rows, (r) => BigInt(r)), { device: x.device });
    torch.raw.index_copy_(x, 0, index, fn(x.indexSelect(0, index)));
  });
}

function rowsWhere(count: number, pred: (b: number) => boolean): number[] {
  const rows: number[] = [];
  for (let b = 0; b < count; b++) if (pred(b)) rows.push(b);
  return rows;
}

/**
 * Crop, flip and resize in one bilinear grid sample. Coordinates follow F.interpolate(align_corners=False), which
 * torchvision's resized_crop uses: output pixel j (centre j+0.5) reads source x = x0 + (j+0.5)*w/S - 0.5 in pixel
 * units where pixel i has its centre at i. gridSample with alignCorners=false uses the same pixel-centre
 * convention, so each axis maps output [-1, 1] affinely onto the crop box's outer edges (negated x for a flip):
 * the rows of theta in affineGrid(theta, size, false). The map is axis-aligned, so the grid is built from its two
 * per-axis coordinate vectors, a fraction of affineGrid's cost (a batched matmul over all S*S points).
 * interpolate sees only the cropped pixels and so clamps reads at the crop's edge pixels; clamping the per-axis
 * coordinates to the edge pixels' centres reproduces that, which matters when upscaling. Not reproduced:
 * antialiasing (PIL, or antialias=True) on strong downscale; this is plain bilinear, as torchvision's tensor resize
 * with antialias=False.
 */
function resizedCropFlip(x: Tensor, p: ViewParams, size: number): Tensor {
  const [n, , h, w] = x.shape as [number, number, number, number];
  // Per sample and axis (x then y): scale, offset, and the clamp range, all in normalised coordinates.
  const axis = (length: number, origin: number, span: number, flip: boolean): number[] => [
    flip ? -span / length : span / length, (2 * origin + span) / length - 1,
    (2 * origin + 1) / length - 1, (2 * (origin + span) - 1) / length - 1,
  ];
  const xs = new Float32Array(n * 4), ys = new Float32Array(n * 4);
  for (let b = 0; b < n; b++) {
    const [x0, y0, cw, ch] = p.crop.subarray(b * 4, b * 4 + 4) as unknown as [number, number, number, number];
    xs.set(axis(w, x0, cw, p.flip[b] === 1), b * 4);
    ys.set(axis(h, y0, ch, false), b * 4);
  }
  return torch.scope(() => {
    const dev = x.device;
    // Output pixel centres in normalised coordinates, (2j+1)/S - 1, as affineGrid's base grid.
    const base = torch.linspace(1 / size - 1, 1 - 1 / size, size, { device: dev }).reshape(1, size);
    const coords = (a: Float32Array): Tensor => {
      const [scale, offset, lo, hi] = torch.tensor(a, { shape: [n, 4], device: dev }).unbind(1) as [Tensor, Tensor, Tensor, Tensor];
      return base.mul(scale.unsqueeze(1)).add(offset.unsqueeze(1)).clamp(lo.unsqueeze(1), hi.unsqueeze(1));
    };
    const gx = coords(xs).unsqueeze(1).expand(n, size, size);
    const gy = coords(ys).unsqueeze(2).expand(n, size, size);
    return F.gridSample(x, torch.stack([gx, gy], 3), { mode: 'bilinear', paddingMode: 'border', alignCorners: false });
  });
}

/** [n,3,H,W] -> [n,1,H,W] luma with the one set of weights (data/colour.ts). */
function luma(x: Tensor): Tensor {
  return x.mul(torch.tensor(Float32Array.from(LUMA_WEIGHTS), { shape: [1, 3, 1, 1], device: x.device })).sum(1, true);
}

// Colour jitter ops, indexed by the codes in ViewParams.jitterOrder; f is [n,1,1,1]. Each clamps to [0, 1] as
// torchvision's blend does.
function brightness(x: Tensor, f: Tensor): Tensor {
  return x.mul(f).clamp_(0, 1);
}
function contrast(x: Tensor, f: Tensor): Tensor {
  // The mean of the luma image is the luma of the per-channel means, which needs no full-size luma image.
  const channelMeans = x.mean([2, 3], true);
  const mean = x.shape[1] === 3 ? luma(channelMeans) : channelMeans;
  return mean.lerp(x, f).clamp_(0, 1);
}
function saturation(x: Tensor, f: Tensor): Tensor {
  return luma(x).lerp(x, f).clamp_(0, 1);
}
/**
 * Rotates hue by f turns, as torchvision's RGB -> HSV -> RGB. Hue is measured in sixths of a turn: for the largest
 * channel i (first of r, g, b on ties, where the formula agrees anyway) it is 2i + (next - previous)/chroma.
 * Back to RGB each channel is max - chroma * clamp(min(k, 4 - k), 0, 1) with k = (offset + hue) mod 6 and offsets
 * 5, 3, 1 for r, g, b; value * saturation is the chroma. Results stay within [min, max] of the pixel, so in [0, 1].
 */
function hue(x: Tensor, f: Tensor): Tensor {
  const [r, g, b] = x.unbind(1) as [Tensor, Tensor, Tensor];
  const maxc = x.amax(1), chroma = maxc.sub(x.amin(1));
  const scaled = torch.where(r.eq(maxc), g.sub(b), torch.where(g.eq(maxc), b.sub(r).add(chroma, 2), r.sub(g).add(chroma, 4)));
  // Grey pixels (chroma 0) come out as max whatever their hue; the divisor 1 only avoids 0/0.
  const sixths = scaled.div(chroma.where(chroma.gt(0), 1)).unsqueeze(1).add(f.mul(6));
  const k = sixths.add(torch.tensor(Float32Array.of(5, 3, 1), { shape: [1, 3, 1, 1], device: x.device })).remainder(6);
  const ramp = k.minimum(k.rsub(4)).clamp_(0, 1);
  return maxc.unsqueeze(1).sub(ramp.mul_(chroma.unsqueeze(1)));
}
const JITTER_OPS: readonly ((x: Tensor, f: Tensor) => Tensor)[] = [brightness, contrast, saturation, hue];

/** Separable Gaussian blur with one sigma per row ([n,1]), reflect padding and torchvision's kernel. */
function gaussianBlur(x: Tensor, sigma: Tensor, k: number): Tensor {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const half = (k - 1) / 2;
  const taps = torch.linspace(-half, half, k, { device: x.device }).reshape(1, k);
  const pdf = taps.div(sigma).square().mul(-0.5).exp();
  const kernel = pdf.div(pdf.sum(1, true)).repeatInterleave(c, 0);
  const planes = F.pad(x.reshape(1, n * c, h, w), [half, half, half, half], 'reflect');
  const vertical = F.conv2d(planes, kernel.reshape(n * c, 1, k, 1), { groups: n * c });
  // The kernel sums to 1 only up to rounding; keep the output inside [0, 1].
  return F.conv2d(vertical, kernel.reshape(n * c, 1, 1, k), { groups: n * c }).reshape(n, c, h, w).clamp_(0, 1);
}

/**
 * The tensor-op path for one view of each image. Colour jitter runs in each sample's own order: for each of the 4
 * positions, each op runs once on the samples that have it at that position.
 */
function applyViewsWithTensorOps(images: Tensor, params: ViewParams, cfg: AugmentConfig, norm: ApplyOptions['normalize']): Tensor {
  const [n, c] = images.shape as [number, number, number, number];
  const size = cfg.outputSize;
  const dev = images.device;

  return torch.scope(() => {
    const x = resizedCropFlip(images.to('float32').div(255), params, size);

    const factors = [params.brightness, params.contrast, params.saturation, params.hue];
    const opCount = c === 3 ? 4 : 2;
    for (let pos = 0; pos < 4; pos++) {
      for (let op = 0; op < opCount; op++) {
        const rows = rowsWhere(n, (b) => params.jitter[b] === 1 && params.jitterOrder[b * 4 + pos] === op);
        updateRows(x, rows, (sub) => JITTER_OPS[op]!(sub, perRow(factors[op]!, rows, dev)));
      }
    }
    if (c === 3) updateRows(x, rowsWhere(n, (b) => params.grayscale[b] === 1), (sub) => luma(sub).expand(sub.shape));
    const blurRows = rowsWhere(n, (b) => params.blurSigma[b]! > 0);
    updateRows(x, blurRows, (sub) =>
      gaussianBlur(sub, perRow(params.blurSigma, blurRows, dev).reshape(blurRows.length, 1), blurKernelSize(size)));
    updateRows(x, rowsWhere(n, (b) => params.solarize[b] === 1), (sub) => sub.rsub(1).where(sub.ge(0.5), sub));

    if (!norm) return x;
    const mean = torch.tensor(Float32Array.from(norm.mean), { shape: [1, c, 1, 1], device: dev });
    const std = torch.tensor(Float32Array.from(norm.std), { shape: [1, c, 1, 1], device: dev });
    return x.sub(mean).div(std);
  });
}

function checkInputs(images: Tensor, views: readonly ViewParams[], cfg: AugmentConfig, opts: ApplyOptions): void {
  if (images.dtype !== 'uint8' || images.ndim !== 4) throw new TypeError(`applyViews: expected uint8 [B,C,H,W] images, got ${images.dtype} [${images.shape.join(',')}]`);
  const [n, c] = images.shape as [number, number, number, number];
  if (c !== 1 && c !== 3) throw new RangeError(`applyViews: expected 1 or 3 channels, got ${c}`);
  if (cfg.grayscaleInput !== (c === 1)) throw new RangeError(`applyViews: cfg.grayscaleInput is ${cfg.grayscaleInput} but images have ${c} channel(s)`);
  for (const p of views) if (p.count !== n) throw new RangeError(`applyViews: ${p.count} view parameters for ${n} images`);
  const norm = opts.normalize;
  if (norm && (norm.mean.length !== c || norm.std.length !== c)) throw new RangeError(`applyViews: normalize needs ${c} means and stds`);
}

/** Every view in `views` of each image, view after view: [V*B,C,S,S]. */
function applyViewList(images: Tensor, views: readonly ViewParams[], cfg: AugmentConfig, opts: ApplyOptions): Tensor {
  checkInputs(images, views, cfg, opts);
  const channelsLast = opts.memoryFormat === 'channelsLast';
  // fusedKernelAvailable is false (warning once where the kernel should exist) for devices without a fused kernel.
  const implementation = opts.implementation ?? (fusedKernelAvailable(images.device) ? 'fused' : 'tensor');
  if (implementation !== 'tensor') {
    return augmentFused(images, views, { size: cfg.outputSize, blurKernel: blurKernelSize(cfg.outputSize), normalize: opts.normalize, channelsLast, implementation });
  }
  return torch.scope(() => {
    const parts = views.map((p) => applyViewsWithTensorOps(images, p, cfg, opts.normalize));
    const x = parts.length === 1 ? parts[0]! : torch.cat(parts);
    return channelsLast ? x.contiguous('channelsLast') : x;
  });
}

/**
 * Applies one view's parameters to each image: uint8 [B,C,H,W] (C = 1 or 3) -> float32 [B,C,S,S] in [0, 1]
 * (unless normalised), S = cfg.outputSize. One-channel images get brightness and contrast only (saturation, hue
 * and grayscale are identities there, as in torchvision).
 */
export function applyViews(images: Tensor, params: ViewParams, cfg: AugmentConfig, opts: ApplyOptions = {}): Tensor {
  return applyViewList(images, [params], cfg, opts);
}

/** Both SimCLR views (view ids 0 and 1) of each image in one batch: [2B,C,S,S], every view 0 first. */
export function createViewBatch(images: Tensor, cfg: AugmentConfig, at: ViewSeed, opts: ApplyOptions = {}): Tensor {
  const [, , h, w] = images.shape as [number, number, number, number];
  const views = [0, 1].map((v) => sampleViewParams(cfg, h, w, at.seed, at.epoch, at.indices, v));
  return applyViewList(images, views, cfg, opts);
}

/** The two SimCLR views (view ids 0 and 1) of each image. */
export function createTwoViews(images: Tensor, cfg: AugmentConfig, at: ViewSeed, opts: ApplyOptions = {}): [Tensor, Tensor] {
  return torch.scope(() => createViewBatch(images, cfg, at, opts).chunk(2) as [Tensor, Tensor]);
}
