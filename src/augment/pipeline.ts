// An augmentation pipeline: an ordered list of ops (registry.ts) with their options, like torchvision's Compose.
// Sampling walks the list with one CounterRng per (seed, epoch, sample, view), each op drawing in turn, so a view's
// parameters depend on nothing else in the batch; the tensor path applies the ops in the same order. Steps marked
// `shared` draw from one stream per (seed, epoch, sample) instead, the same for every view: two views whose lists
// start with the same shared crop are two transformations of one cropped image (the paper's Figure 5 setting).

import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { CounterRng } from './rng.js';
import { resolveOptions, type AugmentOp, type SampleContext, type StepParams } from './op.js';
import { AUGMENTATIONS } from './registry.js';
import { resizedCrop } from './ops/random-resized-crop.js';

/**
 * One entry of a config file's `augment` list: the op's registry name, `shared: true` for a step whose parameters
 * every view shares (leading steps only), and any of the op's options.
 */
export interface AugmentStepConfig {
  op: string;
  shared?: boolean;
  [option: string]: unknown;
}

/** An op with every option resolved. */
export interface PipelineStep {
  readonly op: AugmentOp<object>;
  readonly options: object;
  /** Parameters drawn from the stream every view of a sample shares (SHARED_VIEW), not the view's own. */
  readonly shared?: boolean;
}

/**
 * The CounterRng view id of the stream shared steps draw from: no real view has it (views are 0 and 1), so shared
 * parameters never coincide with a view's own draws.
 */
export const SHARED_VIEW = 0xffffffff;

export interface AugmentPipeline {
  /** Side of the square output views. */
  outputSize: number;
  /** Channels of the images it is applied to (one-channel images skip colour-only work). */
  channels: 1 | 3;
  steps: readonly PipelineStep[];
}

/** Per-view parameters of a pipeline for `count` views: one StepParams per step, in step order. */
export interface PipelineParams {
  count: number;
  steps: StepParams[];
}

/**
 * Checks a config's `augment` value: a list of { op, shared?, ...options } with known op names and valid options,
 * shared steps (if any) first. Returns the entries with every option filled in (so stored configs say what ran).
 * @throws RangeError naming the entry (augment[i]) and the op's option.
 */
export function parseAugmentSteps(value: unknown): AugmentStepConfig[] {
  if (!Array.isArray(value))
    throw new RangeError(`augment must be a list of { op, ...options }, got ${JSON.stringify(value)}`);
  return value.map((entry: unknown, i) => {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry))
      throw new RangeError(`augment[${i}] must be an object { op, ...options }, got ${JSON.stringify(entry)}`);
    const { op: name, shared, ...given } = entry as Record<string, unknown>;
    const op = typeof name === 'string' && Object.hasOwn(AUGMENTATIONS, name) ? AUGMENTATIONS[name]! : null;
    if (op === null)
      throw new RangeError(
        `augment[${i}].op must be one of ${Object.keys(AUGMENTATIONS).join('|')}, got ${JSON.stringify(name)}`,
      );
    if (shared !== undefined && typeof shared !== 'boolean')
      throw new RangeError(`augment[${i}].shared must be true or false, got ${JSON.stringify(shared)}`);
    // Shared steps must come first: after a view's own resizing op they would see another image size per view.
    const previous = i > 0 ? (value[i - 1] as Record<string, unknown>) : null;
    if (shared === true && previous !== null && previous.shared !== true)
      throw new RangeError(`augment[${i}]: shared steps must come first, before every step of the view's own`);
    try {
      return { op: op.name, ...(shared === true ? { shared: true } : {}), ...resolveOptions(op, given) };
    } catch (e) {
      throw new RangeError(`augment[${i}]: ${(e as Error).message}`);
    }
  });
}

/** The leading shared steps of a parsed list, as JSON text: two views share parameters only where these agree. */
export function sharedPrefix(steps: readonly AugmentStepConfig[]): string {
  const prefix: AugmentStepConfig[] = [];
  for (const s of steps) {
    if (s.shared !== true) break;
    prefix.push(s);
  }
  return JSON.stringify(prefix);
}

/** A pipeline for `channels`-channel images and `outputSize` views. Throws RangeError as parseAugmentSteps. */
export function resolvePipeline(
  steps: readonly AugmentStepConfig[],
  outputSize: number,
  channels: 1 | 3,
): AugmentPipeline {
  if (!Number.isInteger(outputSize) || outputSize < 1)
    throw new RangeError(`outputSize must be a positive integer, got ${outputSize}`);
  const parsed = parseAugmentSteps(steps);
  return {
    outputSize,
    channels,
    steps: parsed.map(({ op, shared, ...options }) => ({
      op: AUGMENTATIONS[op]!,
      options,
      ...(shared === true ? { shared: true } : {}),
    })),
  };
}

/**
 * The ops in order, for logs and reports: 'randomResizedCrop (shared) -> horizontalFlip -> ... -> gaussianBlur (off)'.
 * An op at probability 0 stays in the pipeline (its draws keep later ops' draws aligned) but never changes an image;
 * it is marked "(off)".
 */
export function describePipeline(p: AugmentPipeline): string {
  return p.steps
    .map((s) => {
      const marks = [s.shared === true ? 'shared' : '', (s.options as { p?: unknown }).p === 0 ? 'off' : '']
        .filter((m) => m !== '')
        .join(', ');
      return marks === '' ? s.op.name : `${s.op.name} (${marks})`;
    })
    .join(' -> ');
}

/** The pipeline as config entries, e.g. for a log line or a stored config. */
export function pipelineSteps(p: AugmentPipeline): AugmentStepConfig[] {
  return p.steps.map((s) => ({ op: s.op.name, ...(s.shared === true ? { shared: true } : {}), ...s.options }));
}

/**
 * Parameters for view `view` of each sample in `indices` of srcHeight x srcWidth images. Each (seed, epoch, index,
 * view) has its own CounterRng; the steps draw from it in order (each op documents its draws). Shared steps draw
 * from (seed, epoch, index, SHARED_VIEW) instead, so every view gets their same parameters.
 * @throws RangeError for a source size that is not positive integers, and as CounterRng for bad seeds or indices.
 */
export function samplePipeline(
  p: AugmentPipeline,
  srcHeight: number,
  srcWidth: number,
  seed: number,
  epoch: number,
  indices: ArrayLike<number>,
  view: number,
): PipelineParams {
  if (!Number.isInteger(srcHeight) || srcHeight < 1 || !Number.isInteger(srcWidth) || srcWidth < 1) {
    throw new RangeError(`source size must be positive integers, got ${srcHeight}x${srcWidth}`);
  }
  const n = indices.length;
  // Without a resizing op the images are resized whole before the first op (applyPipelineTensor).
  const resized = p.steps.some((s) => s.op.resizes === true);
  const [h0, w0] = resized ? [srcHeight, srcWidth] : [p.outputSize, p.outputSize];
  const steps: StepParams[] = p.steps.map((s) => ({
    count: n,
    width: s.op.columns.length,
    values: new Float32Array(n * s.op.columns.length),
  }));
  const anyShared = p.steps.some((s) => s.shared === true);
  for (let b = 0; b < n; b++) {
    const rng = new CounterRng(seed, epoch, indices[b]!, view);
    const sharedRng = anyShared ? new CounterRng(seed, epoch, indices[b]!, SHARED_VIEW) : rng;
    const ctx: SampleContext = { height: h0, width: w0, channels: p.channels, outputSize: p.outputSize };
    p.steps.forEach((s, i) => {
      const w = steps[i]!.width;
      s.op.sample(s.shared === true ? sharedRng : rng, s.options, ctx, steps[i]!.values.subarray(b * w, (b + 1) * w));
      if (s.op.resizes === true) ctx.height = ctx.width = p.outputSize;
    });
  }
  return { count: n, steps };
}

/** Parameters that change nothing: every step at its op's identity. */
export function identityPipelineParams(
  p: AugmentPipeline,
  count: number,
  srcHeight: number,
  srcWidth: number,
): PipelineParams {
  const ctx: SampleContext = { height: srcHeight, width: srcWidth, channels: p.channels, outputSize: p.outputSize };
  const steps = p.steps.map((s) => {
    const id = s.op.identity(ctx);
    if (s.op.resizes === true) ctx.height = ctx.width = p.outputSize;
    const values = new Float32Array(count * id.length);
    for (let b = 0; b < count; b++) values.set(id, b * id.length);
    return { count, width: id.length, values };
  });
  return { count, steps };
}

/**
 * The tensor-op path: uint8 [n,C,H,W] -> float32 [n,C,S,S] in [0, 1], the steps applied in order. A pipeline
 * without a resizing op first resizes the whole image to S (bilinear, as an identity crop).
 */
export function applyPipelineTensor(images: Tensor, p: AugmentPipeline, params: PipelineParams): Tensor {
  const [n, , h, w] = images.shape as [number, number, number, number];
  const ctx = { outputSize: p.outputSize, channels: p.channels };
  return torch.scope(() => {
    let x = images.to('float32').div(255);
    if (!p.steps.some((s) => s.op.resizes === true)) {
      const whole = new Float32Array(n * 4);
      for (let b = 0; b < n; b++) whole.set([0, 0, w, h], b * 4);
      x = resizedCrop(x, { count: n, width: 4, values: whole }, p.outputSize);
    }
    p.steps.forEach((s, i) => {
      x = s.op.apply(x, params.steps[i]!, s.options, ctx);
    });
    return x;
  });
}
