// Random resized crop (torchvision RandomResizedCrop): a box of random area and aspect ratio, resampled bilinearly to
// the output side. The one op that resizes; a pipeline without it resizes the whole image first.

import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import type { CounterRng } from '../rng.js';
import { range, type AugmentOp, type ApplyContext, type SampleContext, type StepParams } from '../op.js';

const F = torch.nn.functional;

export interface RandomResizedCropOptions {
  /** Crop area as a fraction of the source area, sampled uniformly. */
  scale: [number, number];
  /** Crop aspect ratio w/h, sampled log-uniformly. */
  ratio: [number, number];
}

/** Python's round(): half to even, which torchvision's crop sizes use. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision RandomResizedCrop.get_params; writes x0, y0, w, h (source pixels) to out. Draws per attempt (at most
 * 10) scale then log-ratio; on success y0 = below(H-h+1), then x0 = below(W-w+1).
 */
function sampleCrop(rng: CounterRng, o: RandomResizedCropOptions, ctx: SampleContext, out: Float32Array): void {
  const { height: H, width: W } = ctx;
  const area = H * W;
  const logLo = Math.log(o.ratio[0]),
    logHi = Math.log(o.ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniformRange(o.scale[0], o.scale[1]);
    const aspect = Math.exp(rng.uniformRange(logLo, logHi));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= W && h > 0 && h <= H) {
      const y0 = rng.below(H - h + 1);
      const x0 = rng.below(W - w + 1);
      out.set([x0, y0, w, h]);
      return;
    }
  }
  // Every attempt missed: the largest centred crop whose aspect is clamped into the ratio range.
  const inRatio = W / H;
  let w = W,
    h = H;
  if (inRatio < o.ratio[0]) h = roundHalfEven(W / o.ratio[0]);
  else if (inRatio > o.ratio[1]) w = roundHalfEven(H * o.ratio[1]);
  out.set([Math.floor((W - w) / 2), Math.floor((H - h) / 2), w, h]);
}

/**
 * Crop and resize in one bilinear grid sample: [n,C,H,W] -> [n,C,S,S]. Coordinates follow
 * F.interpolate(align_corners=False), which torchvision's resized_crop uses: output pixel j (centre j+0.5) reads
 * source x = x0 + (j+0.5)*w/S - 0.5 in pixel units where pixel i has its centre at i. gridSample with
 * alignCorners=false uses the same pixel-centre convention, so each axis maps output [-1, 1] affinely onto the crop
 * box's outer edges. The map is axis-aligned, so the grid is built from its two per-axis coordinate vectors, a
 * fraction of affineGrid's cost. interpolate sees only the cropped pixels and so clamps reads at the crop's edge
 * pixels; clamping the per-axis coordinates to the edge pixels' centres reproduces that, which matters when
 * upscaling. Not reproduced: antialiasing on strong downscale (this is torchvision's tensor resize with
 * antialias=False).
 */
export function resizedCrop(x: Tensor, p: StepParams, size: number): Tensor {
  const [n, , h, w] = x.shape as [number, number, number, number];
  // Per sample and axis: scale, offset, and the clamp range, all in normalised coordinates.
  const axis = (length: number, origin: number, span: number): number[] => [
    span / length,
    (2 * origin + span) / length - 1,
    (2 * origin + 1) / length - 1,
    (2 * (origin + span) - 1) / length - 1,
  ];
  const xs = new Float32Array(n * 4),
    ys = new Float32Array(n * 4);
  for (let b = 0; b < n; b++) {
    const [x0, y0, cw, ch] = p.values.subarray(b * 4, b * 4 + 4) as unknown as [number, number, number, number];
    xs.set(axis(w, x0, cw), b * 4);
    ys.set(axis(h, y0, ch), b * 4);
  }
  return torch.scope(() => {
    const dev = x.device;
    // Output pixel centres in normalised coordinates, (2j+1)/S - 1, as affineGrid's base grid.
    const base = torch.linspace(1 / size - 1, 1 - 1 / size, size, { device: dev }).reshape(1, size);
    const coords = (a: Float32Array): Tensor => {
      const [scale, offset, lo, hi] = torch.tensor(a, { shape: [n, 4], device: dev }).unbind(1) as [
        Tensor,
        Tensor,
        Tensor,
        Tensor,
      ];
      return base.mul(scale.unsqueeze(1)).add(offset.unsqueeze(1)).clamp(lo.unsqueeze(1), hi.unsqueeze(1));
    };
    const gx = coords(xs).unsqueeze(1).expand(n, size, size);
    const gy = coords(ys).unsqueeze(2).expand(n, size, size);
    return F.gridSample(x, torch.stack([gx, gy], 3), { mode: 'bilinear', paddingMode: 'border', alignCorners: false });
  });
}

export const randomResizedCrop: AugmentOp<RandomResizedCropOptions> = {
  name: 'randomResizedCrop',
  description: 'crop a random box (area fraction in scale, aspect ratio in ratio) and resize it to the output side',
  options: {
    scale: range([0.08, 1], 0, 'crop area as a fraction of the image, sampled uniformly'),
    ratio: range([3 / 4, 4 / 3], 0, 'crop aspect ratio w/h, sampled log-uniformly'),
  },
  columns: ['x0', 'y0', 'crop_w', 'crop_h'],
  identity: (ctx: SampleContext) => [0, 0, ctx.width, ctx.height],
  resizes: true,
  sample: sampleCrop,
  apply: (x: Tensor, p: StepParams, _o: RandomResizedCropOptions, ctx: ApplyContext) =>
    resizedCrop(x, p, ctx.outputSize),
};
