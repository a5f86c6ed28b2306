// Process settings: threads, autocast (mixed precision), backend facts.
import { native } from './native.js';
import { type DType, dtypeCode } from './dtype.js';

export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: expected a positive integer, got ${n}`);
  native.setNumThreads(n);
}
export function getNumThreads(): number {
  return native.getNumThreads();
}
/** Inter-op pool size; libtorch allows setting it once, before any inter-op work. */
export function setNumInteropThreads(n: number): void {
  native.setNumInteropThreads(n);
}

export const cuda = {
  isAvailable(): boolean {
    return native.cudaDeviceCount() > 0;
  },
  deviceCount(): number {
    return native.cudaDeviceCount();
  },
};

export function version(): string {
  return native.buildInfo().version;
}
export function config(): string {
  return native.buildInfo().config;
}
export function parallelInfo(): string {
  return native.buildInfo().parallel;
}

/**
 * Runs fn under autocast (torch.autocast): listed ops (conv, matmul, linear, ...) run in `dtype` while
 * parameters stay float32. CPU autocast takes bfloat16; CUDA takes float16 or bfloat16.
 */
export function autocast<T>(deviceType: 'cpu' | 'cuda', dtype: DType, fn: () => T): T {
  const previous = native.isAutocastEnabled(deviceType);
  native.setAutocast(deviceType, true, dtypeCode(dtype));
  try {
    return fn();
  } finally {
    native.setAutocast(deviceType, previous, dtypeCode(dtype));
  }
}

export function isAutocastEnabled(deviceType: 'cpu' | 'cuda' = 'cpu'): boolean {
  return native.isAutocastEnabled(deviceType);
}

/** Bytes of tensor storage currently reported to V8, and live storages (diagnostics, leak tests). */
export function memoryStats(): { trackedBytes: number; liveStorages: number } {
  return { trackedBytes: native.trackedBytes(), liveStorages: native.liveStorages() };
}
