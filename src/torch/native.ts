// Loads the libtorch addon and types its raw surface. Nothing above src/torch touches this module.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { AddonLoadError } from '../errors.js';

/** An opaque native tensor handle (one at::Tensor reference). */
export interface NativeTensor {
  readonly __nativeTensor: unique symbol;
}

export interface NativeGenerator {
  seed(): bigint;
  manualSeed(seed: number | bigint): void;
  getState(): NativeTensor;
  setState(state: NativeTensor): void;
  device(): string;
}

type Arg = unknown;

export interface NativeBinding {
  NativeTensor: abstract new () => NativeTensor;
  NativeGenerator: new (device?: string) => NativeGenerator;
  fromBuffer(data: ArrayBufferView, shape: readonly number[], dtype: number): NativeTensor;
  toBuffer(t: NativeTensor): ArrayBuffer;
  copyFromBuffer(t: NativeTensor, data: ArrayBufferView): void;
  dispose(t: NativeTensor): void;
  isDisposed(t: NativeTensor): boolean;
  shape(t: NativeTensor): number[];
  strides(t: NativeTensor): number[];
  dtype(t: NativeTensor): number;
  device(t: NativeTensor): string;
  numel(t: NativeTensor): number;
  isContiguous(t: NativeTensor, memoryFormat: number): boolean;
  trackedBytes(): number;
  liveStorages(): number;
  defaultGenerator(device?: string): NativeGenerator;
  resolveOp(name: string, overload: string): number;
  call(id: number, args: Arg[], discardResult?: boolean): unknown;
  listSchemas(prefix?: string): unknown[];
  opSignature(id: number): string;
  backward(
    tensors: NativeTensor[],
    grads: (NativeTensor | null)[] | null,
    retainGraph?: boolean,
    createGraph?: boolean,
  ): void;
  grad(
    outputs: NativeTensor[],
    inputs: NativeTensor[],
    gradOutputs: (NativeTensor | null)[] | null,
    retainGraph: boolean | undefined,
    createGraph: boolean,
    allowUnused: boolean,
  ): (NativeTensor | null)[];
  getGrad(t: NativeTensor): NativeTensor | null;
  setGrad(t: NativeTensor, g: NativeTensor | null): void;
  requiresGrad(t: NativeTensor): boolean;
  setRequiresGrad(t: NativeTensor, on: boolean): void;
  isLeaf(t: NativeTensor): boolean;
  gradFnName(t: NativeTensor): string | null;
  setGradEnabled(on: boolean): boolean;
  isGradEnabled(): boolean;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  setNumInteropThreads(n: number): void;
  manualSeed(seed: number | bigint): void;
  loadLibrary(path: string): void;
  /** flock(2) on an fd from fs.openSync; false when held elsewhere and wait is false. */
  flock(fd: number, op: 'ex' | 'sh' | 'un', wait: boolean): boolean;
  cudaDeviceCount(): number;
  setAutocast(deviceType: string, enabled: boolean, dtype: number): void;
  isAutocastEnabled(deviceType: string): boolean;
  buildInfo(): {
    version: string;
    config: string;
    parallel: string;
    hasCuda: boolean;
    withCuda?: boolean;
    hasMkldnn: boolean;
  };
}

/**
 * A file that `npm run build` puts in this package's native/build/Release, or null when it is not there.
 * SIMCLR_ADDON_DIR names another folder of built files instead (an addon built against another libtorch: the
 * libtorch comparison bench runs two side by side).
 */
export function builtNativeFile(name: string): string | null {
  const override = process.env.SIMCLR_ADDON_DIR;
  if (override) return existsSync(join(override, name)) ? resolve(override, name) : null;
  // dist/src/torch/native.js and src/torch/native.ts (under a TS loader) both sit three levels below the root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, 'native', 'build', 'Release', name);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return null;
}

function addonPath(): string {
  const path = builtNativeFile('torch_node.node');
  if (path === null) {
    const dir = process.env.SIMCLR_ADDON_DIR;
    throw new AddonLoadError(
      dir
        ? `SIMCLR_ADDON_DIR=${dir} has no torch_node.node`
        : 'the libtorch addon is not built (native/build/Release/torch_node.node)',
      false,
    );
  }
  return path;
}

// The dynamic loader says why it refused a library only in words: these are its words for an addon and a libtorch
// that do not go together (a symbol or symbol version missing, another architecture, a dependency not found).
const LOADER_MISMATCH = /undefined symbol|version `|wrong ELF|cannot open shared object/;

function loadAddon(path: string): NativeBinding {
  try {
    return createRequire(import.meta.url)(path) as NativeBinding;
  } catch (e) {
    const message = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
    throw new AddonLoadError(message, LOADER_MISMATCH.test(message), { cause: e });
  }
}

// libgomp reads its settings once, when the addon loads it. Spin-waiting threads doubled step times on a busy
// machine (shared/NOTES.md), so sleep-waiting is the default unless the user chose otherwise.
process.env.OMP_WAIT_POLICY ??= 'PASSIVE';

export const native: NativeBinding = loadAddon(addonPath());

// libtorch starts with one intra-op thread on this platform; use every core unless told otherwise.
const requestedThreads = Number(process.env.SIMCLR_NUM_THREADS ?? process.env.OMP_NUM_THREADS ?? 0);
native.setNumThreads(requestedThreads > 0 ? requestedThreads : availableParallelism());
