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
  if (deviceType !== 'cpu' && deviceType !== 'cuda') throw new TypeError(`autocast: device type must be 'cpu' or 'cuda', got '${String(deviceType)}'`);
  const allowed = AUTOCAST_DTYPES[deviceType];
  if (!allowed.includes(dtype)) {
    throw new TypeError(`autocast: ${deviceType} autocast supports ${allowed.join(' and ')}, not ${String(dtype)}`);
  }
  const previous = native.isAutocastEnabled(deviceType);
  const previousDtype = autocastDtype[deviceType];
  native.setAutocast(deviceType, true, dtypeCode(dtype));
  autocastDtype[deviceType] = dtype;
  try {
    return fn();
  } finally {
    // Restores the enclosing region's dtype too, so a nested autocast of another dtype does not leak out.
    native.setAutocast(deviceType, previous, dtypeCode(previousDtype));
    autocastDtype[deviceType] = previousDtype;
  }
}

// libtorch 1.13's CPU autocast kernels exist for bfloat16 only (PyTorch disables CPU autocast for other dtypes).
const AUTOCAST_DTYPES: Readonly<Record<'cpu' | 'cuda', readonly DType[]>> = { cpu: ['bfloat16'], cuda: ['float16', 'bfloat16'] };
// The binding can set but not read the autocast dtype; these are libtorch's defaults until autocast() changes them.
const autocastDtype: Record<'cpu' | 'cuda', DType> = { cpu: 'bfloat16', cuda: 'float16' };

export function isAutocastEnabled(deviceType: 'cpu' | 'cuda' = 'cpu'): boolean {
  return native.isAutocastEnabled(deviceType);
}

/** Bytes of tensor storage currently reported to V8, and live storages (diagnostics, leak tests). */
export function memoryStats(): { trackedBytes: number; liveStorages: number } {
  return { trackedBytes: native.trackedBytes(), liveStorages: native.liveStorages() };
}
