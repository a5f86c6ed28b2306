// The one colour formula: RGB -> gray (luma). Decoding colour images for a one-channel run (folder.ts), the
// grayscale, saturation and contrast augmentations (augment/apply.ts) and the fused kernels (whose copy in
// native/kernels/augment_params.h is compared with LUMA_WEIGHTS when they load, augment/fused.ts) all use it.
// It lives in data/, the lower of the two layers that need it.

/**
 * ITU-R 601-2 luma weights for R, G, B: PIL's convert('L') and torchvision's Grayscale on PIL images. (torchvision's
 * tensor rgb_to_grayscale writes 0.2989 for red; the gap is below 1e-4 of full scale.)
 */
export const LUMA_WEIGHTS: readonly [r: number, g: number, b: number] = [0.299, 0.587, 0.114];

/** The weights in 16-bit fixed point, round(w * 2^16): 19595, 38470, 7471, summing to exactly 2^16. */
const FIXED: readonly [number, number, number] = LUMA_WEIGHTS.map((w) => Math.round(w * 65536)) as [
  number,
  number,
  number,
];
if (FIXED[0] + FIXED[1] + FIXED[2] !== 65536)
  throw new Error(`luma weights ${LUMA_WEIGHTS.join(', ')} do not sum to 1 in 16-bit fixed point`);

/**
 * The uint8 gray of one uint8 RGB pixel, as PIL computes it for convert('L') (and so torchvision on PIL images):
 * the fixed-point weights, then round half up. Rounding the float sum instead differs from PIL in about 1 pixel
 * value in 2,000 (values that land on .5).
 */
export function lumaByte(r: number, g: number, b: number): number {
  return (r * FIXED[0] + g * FIXED[1] + b * FIXED[2] + 32768) >>> 16;
}

/**
 * Gray bytes of `count` interleaved pixels of `channels` (>= 3) bytes each, RGB first (an alpha or other extra
 * channel is ignored, as PIL does). Throws RangeError when `rgb` holds fewer than count * channels bytes.
 */
export function rgbToGray(rgb: Uint8Array, count: number, channels = 3): Uint8Array {
  if (channels < 3) throw new RangeError(`rgbToGray: needs at least 3 channels per pixel, got ${channels}`);
  if (rgb.length < count * channels)
    throw new RangeError(`rgbToGray: ${rgb.length} bytes for ${count} pixels of ${channels} channels`);
  const out = new Uint8Array(count);
  for (let p = 0, i = 0; p < count; p++, i += channels) out[p] = lumaByte(rgb[i]!, rgb[i + 1]!, rgb[i + 2]!);
  return out;
}
