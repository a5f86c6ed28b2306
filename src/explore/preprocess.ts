// Image pixels -> the encoder's input, for `simclr explore`. The server (POST /api/embed) and the web page (which
// loads this very file in the browser) both call preprocess(), so a dropped image gives the same features on either
// side. Hence no imports from node:*, torch or sharp: only src/data/colour.ts, which imports nothing.
import { lumaByte } from '../data/colour.js';

/** What the encoder takes: CHW float32 of this size, normalised per channel as (x - mean) / std with x in [0, 1]. */
export interface EncoderInput {
  /** 1 (gray) or 3 (RGB). */
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  /** One per channel; simclr's encoders take x in [0, 1] as is: mean 0, std 1. */
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** The normalisation simclr's encoders expect: none (they train on x in [0, 1]; see src/features/extract.ts). */
export function identityNormalisation(channels: number): { mean: number[]; std: number[] } {
  return { mean: new Array<number>(channels).fill(0), std: new Array<number>(channels).fill(1) };
}

function checkSize(what: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 1)
    throw new RangeError(`preprocess: ${what} must be a positive integer, got ${v}`);
}

function checkInput(input: EncoderInput): void {
  if (input.channels !== 1 && input.channels !== 3)
    throw new RangeError(`preprocess: input.channels must be 1 or 3, got ${input.channels}`);
  checkSize('input.height', input.height);
  checkSize('input.width', input.width);
  for (const [name, values] of [
    ['mean', input.mean],
    ['std', input.std],
  ] as const) {
    if (values.length !== input.channels)
      throw new RangeError(`preprocess: input.${name} has ${values.length} values for ${input.channels} channels`);
    if (values.some((v) => !Number.isFinite(v) || (name === 'std' && v === 0)))
      throw new RangeError(`preprocess: input.${name} must hold finite numbers${name === 'std' ? ', not 0' : ''}`);
  }
}

/**
 * Weights of a triangle (tent) filter for one output axis, as flat arrays: output i reads source pixels
 * first[i] .. first[i] + count[i] - 1 with weights weight[offset[i] ..]. `start` and `span` are the source interval
 * (in pixels, real-valued) that the `out` output pixels cover; the tent's half-width is one output pixel in source
 * units, at least one source pixel, so downscaling averages every pixel it covers (no aliasing) and upscaling is
 * plain linear interpolation. Taps outside [0, size) are left out and the rest renormalised.
 */
function tentWeights(
  size: number,
  start: number,
  span: number,
  out: number,
): { first: Int32Array; count: Int32Array; offset: Int32Array; weight: Float64Array } {
  const step = span / out;
  const radius = Math.max(step, 1);
  const first = new Int32Array(out);
  const count = new Int32Array(out);
  const offset = new Int32Array(out);
  const weights: number[] = [];
  for (let i = 0; i < out; i++) {
    const centre = start + (i + 0.5) * step;
    const lo = Math.max(0, Math.floor(centre - radius));
    const hi = Math.min(size - 1, Math.ceil(centre + radius));
    let sum = 0;
    const taps: number[] = [];
    for (let j = lo; j <= hi; j++) {
      const w = Math.max(0, 1 - Math.abs(j + 0.5 - centre) / radius);
      taps.push(w);
      sum += w;
    }
    // A centre closer than half a pixel to the edge can leave only zero weights: take the nearest pixel then.
    if (sum === 0) {
      const nearest = Math.min(size - 1, Math.max(0, Math.floor(centre)));
      first[i] = nearest;
      count[i] = 1;
      offset[i] = weights.length;
      weights.push(1);
      continue;
    }
    first[i] = lo;
    count[i] = taps.length;
    offset[i] = weights.length;
    for (const w of taps) weights.push(w / sum);
  }
  return { first, count, offset, weight: Float64Array.from(weights) };
}

/**
 * RGB of an RGBA image resized to `outW` x `outH`, interleaved uint8 (3 bytes a pixel; alpha is ignored): the
 * largest centred crop with the output's aspect ratio ('cover', as the folder loader crops), then a separable tent
 * filter (tentWeights), rows first, rounded half up to uint8 at the end. Deterministic: plain float64 arithmetic
 * in a fixed order, so Node and browsers give the same bytes.
 */
export function resizeCover(
  rgba: ArrayLike<number>,
  width: number,
  height: number,
  outW: number,
  outH: number,
): Uint8Array {
  const scale = Math.max(outW / width, outH / height);
  const cropW = outW / scale;
  const cropH = outH / scale;
  const xs = tentWeights(width, (width - cropW) / 2, cropW, outW);
  const ys = tentWeights(height, (height - cropH) / 2, cropH, outH);
  // Only the source rows some output row reads are filtered horizontally.
  const rowLo = ys.first[0]!;
  const rowHi = ys.first[outH - 1]! + ys.count[outH - 1]! - 1;
  const rows = new Float64Array((rowHi - rowLo + 1) * outW * 3);
  for (let y = rowLo; y <= rowHi; y++) {
    const src = y * width * 4;
    const dst = (y - rowLo) * outW * 3;
    for (let i = 0; i < outW; i++) {
      let r = 0;
      let g = 0;
      let b = 0;
      const o = xs.offset[i]!;
      for (let t = 0; t < xs.count[i]!; t++) {
        const w = xs.weight[o + t]!;
        const p = src + (xs.first[i]! + t) * 4;
        r += w * rgba[p]!;
        g += w * rgba[p + 1]!;
        b += w * rgba[p + 2]!;
      }
      rows[dst + i * 3] = r;
      rows[dst + i * 3 + 1] = g;
      rows[dst + i * 3 + 2] = b;
    }
  }
  const out = new Uint8Array(outW * outH * 3);
  for (let j = 0; j < outH; j++) {
    const o = ys.offset[j]!;
    for (let i = 0; i < outW * 3; i++) {
      let v = 0;
      for (let t = 0; t < ys.count[j]!; t++) v += ys.weight[o + t]! * rows[(ys.first[j]! + t - rowLo) * outW * 3 + i]!;
      out[j * outW * 3 + i] = Math.min(255, Math.max(0, Math.floor(v + 0.5)));
    }
  }
  return out;
}

/**
 * One image as the encoder's input: CHW float32 [channels * input.height * input.width].
 *
 * `rgba` holds `width` x `height` pixels, 4 bytes each, row-major (what a canvas's getImageData or sharp's
 * `.ensureAlpha().raw()` give); alpha is ignored, as the dataset loaders drop it. At the input's size the pixels are
 * used as they are; otherwise they are resized by resizeCover (centre crop to the input's aspect ratio, tent filter,
 * rounded to uint8). Then, per pixel, as the evaluation pipeline feeds a dataset image to the encoder
 * (src/features/extract.ts): gray for a one-channel encoder with the luma of src/data/colour.ts (the uint8 value
 * PIL's convert('L') gives), x = byte / 255, and (x - mean[c]) / std[c].
 *
 * Differences from the dataset loaders, for images that need resizing only: folder: data is resized by sharp
 * (Lanczos-3, 'cover') when it is cached, and IDX/CIFAR/STL-10 images of another size than the encoder's by the
 * augmentation kernel's bilinear resize; so features of such an image differ slightly from the loaders'.
 * @throws RangeError for sizes that are not positive integers, a buffer that is not width * height * 4 bytes,
 *   channels other than 1 or 3, or mean/std of the wrong length or not finite (std 0 included)
 */
export function preprocess(
  rgba: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  input: EncoderInput,
): Float32Array {
  checkSize('width', width);
  checkSize('height', height);
  checkInput(input);
  if (rgba.length !== width * height * 4)
    throw new RangeError(
      `preprocess: ${rgba.length} bytes for a ${width}x${height} RGBA image (expected ${width * height * 4})`,
    );
  const { channels: c, height: h, width: w } = input;
  const plane = h * w;
  const same = width === w && height === h;
  // RGB bytes, 3 per pixel at `stride` bytes apart: the image itself, or its resized copy.
  const pixels: ArrayLike<number> = same ? rgba : resizeCover(rgba, width, height, w, h);
  const stride = same ? 4 : 3;
  const out = new Float32Array(c * plane);
  for (let p = 0; p < plane; p++) {
    const q = p * stride;
    if (c === 1) {
      out[p] = (lumaByte(pixels[q]!, pixels[q + 1]!, pixels[q + 2]!) / 255 - input.mean[0]!) / input.std[0]!;
    } else {
      for (let k = 0; k < 3; k++) out[k * plane + p] = (pixels[q + k]! / 255 - input.mean[k]!) / input.std[k]!;
    }
  }
  return out;
}
