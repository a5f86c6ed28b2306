// Autograd entry points beyond Tensor.backward: grad mode scopes and torch.autograd.grad.
import { native } from './native.js';
import { Tensor } from './tensor.js';

/** Runs fn with gradient recording off, like `with torch.no_grad()`. */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs fn with gradient recording on, like `with torch.enable_grad()`. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

export function setGradEnabled(on: boolean): void {
  native.setGradEnabled(on);
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

function withGradMode<T>(on: boolean, fn: () => T): T {
  const previous = native.setGradEnabled(on);
  try {
    const r = fn();
    if (r instanceof Promise)
      throw new TypeError('noGrad/enableGrad: fn must be synchronous (grad mode is per thread, not per async task)');
    return r;
  } finally {
    native.setGradEnabled(previous);
  }
}

export interface GradOptions {
  gradOutputs?: readonly (Tensor | null)[];
  retainGraph?: boolean;
  createGraph?: boolean;
  allowUnused?: boolean;
}

/** torch.autograd.grad: gradients of outputs with respect to inputs, without touching .grad. */
export function grad(
  outputs: Tensor | readonly Tensor[],
  inputs: Tensor | readonly Tensor[],
  opts: GradOptions = {},
): (Tensor | null)[] {
  const outs = outputs instanceof Tensor ? [outputs] : outputs;
  const ins = inputs instanceof Tensor ? [inputs] : inputs;
  const result = native.grad(
    outs.map((t) => t._h),
    ins.map((t) => t._h),
    opts.gradOutputs ? opts.gradOutputs.map((g) => g?._h ?? null) : null,
    opts.retainGraph,
    opts.createGraph ?? false,
    opts.allowUnused ?? false,
  );
  return result.map((h) => (h === null ? null : new Tensor(h)));
}

/** torch.autograd.backward over several roots at once. */
export function backward(
  tensors: readonly Tensor[],
  gradTensors?: readonly (Tensor | null)[],
  opts: { retainGraph?: boolean; createGraph?: boolean } = {},
): void {
  native.backward(
    tensors.map((t) => t._h),
    gradTensors ? gradTensors.map((g) => g?._h ?? null) : null,
    opts.retainGraph,
    opts.createGraph ?? false,
  );
}
