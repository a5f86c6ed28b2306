// Process settings: threads, autocast (mixed precision), backend facts, the torch.cuda runtime calls and the
// torch.backends switches.
import { native } from './native.js';
import { type DType, dtypeCode } from './dtype.js';
import { defaultGenerator } from './random.js';
import type { Tensor } from './tensor.js';

// The binding's torch.cuda and torch.backends calls. A device index of -1 means the current CUDA device.
interface CudaBinding {
  cudaResolve(what: string, index: number): number;
  cudaSynchronize(index: number): void;
  cudaCurrentDevice(): number;
  cudaSetDevice(index: number): void;
  cudaDeviceProperties(index: number): CudaDeviceProperties;
  cudaMemoryAllocated(index: number, peak: boolean): number;
  cudaResetPeakMemoryStats(index: number): void;
  cudaEmptyCache(): void;
  backendFlag(name: BackendFlag): boolean;
  setBackendFlag(name: BackendFlag, on: boolean): void;
}
const binding = native as unknown as CudaBinding;
type BackendFlag = 'cudnn.benchmark' | 'cudnn.allowTF32' | 'cuda.matmul.allowTF32';

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

/** What torch.cuda.getDeviceProperties reports. */
export interface CudaDeviceProperties {
  name: string;
  /** Device memory in bytes. */
  totalMemory: number;
  /** Compute capability major.minor (9.0 for an H100/H200). */
  major: number;
  minor: number;
  multiProcessorCount: number;
}

/** A CUDA device: an index, 'cuda:N', or 'cuda' / undefined for the current device. */
export type CudaDevice = number | string | undefined;

// The index a CudaDevice names (-1: the current device); a non-CUDA device is a TypeError.
function cudaIndex(device: CudaDevice, what: string): number {
  if (device === undefined || device === 'cuda') return -1;
  if (typeof device === 'number') {
    if (!Number.isInteger(device) || device < 0)
      throw new RangeError(`torch.cuda.${what}: device index must be a non-negative integer, got ${device}`);
    return device;
  }
  const m = /^cuda:(\d+)$/.exec(String(device));
  if (m === null)
    throw new TypeError(
      `torch.cuda.${what}: expected a CUDA device ('cuda', 'cuda:N' or an index), got '${String(device)}'`,
    );
  return Number(m[1]);
}

// The device index a call means, checked: throws naming `what` when this libtorch has no CUDA, no device is visible
// or the index is out of range.
function resolve(device: CudaDevice, what: string): number {
  return binding.cudaResolve(what, cudaIndex(device, what));
}

/**
 * torch.cuda. Without CUDA (a CPU libtorch, or no visible device) isAvailable() is false, deviceCount() 0,
 * synchronize() and emptyCache() do nothing, manualSeed()/manualSeedAll() are ignored (as in PyTorch), and every other
 * call throws an Error whose message names the call and the reason ("torch.cuda.X: this libtorch has no CUDA ..." or
 * "... no CUDA device is visible ..."). An index beyond the visible devices is a RangeError.
 */
export const cuda = {
  isAvailable(): boolean {
    return native.cudaDeviceCount() > 0;
  },
  deviceCount(): number {
    return native.cudaDeviceCount();
  },
  /** Waits until all work queued on the device (default: the current one) has finished. */
  synchronize(device?: CudaDevice): void {
    const index = cudaIndex(device, 'synchronize');
    if (cuda.isAvailable()) binding.cudaSynchronize(index);
  },
  /** Index of the current CUDA device of this thread. */
  currentDevice(): number {
    return binding.cudaCurrentDevice();
  },
  /** Makes `device` current: tensors created on 'cuda' without an index go there. */
  setDevice(device: number | string): void {
    binding.cudaSetDevice(resolve(device, 'setDevice'));
  },
  getDeviceProperties(device?: CudaDevice): CudaDeviceProperties {
    return binding.cudaDeviceProperties(resolve(device, 'getDeviceProperties'));
  },
  /** Bytes of device memory occupied by tensors (the caching allocator's live allocations). */
  memoryAllocated(device?: CudaDevice): number {
    return binding.cudaMemoryAllocated(resolve(device, 'memoryAllocated'), false);
  },
  /** Peak of memoryAllocated since the start or the last resetPeakMemoryStats. */
  maxMemoryAllocated(device?: CudaDevice): number {
    return binding.cudaMemoryAllocated(resolve(device, 'maxMemoryAllocated'), true);
  },
  resetPeakMemoryStats(device?: CudaDevice): void {
    binding.cudaResetPeakMemoryStats(resolve(device, 'resetPeakMemoryStats'));
  },
  /** Hands cached, unused device memory back to the driver (other processes can then use it). */
  emptyCache(): void {
    binding.cudaEmptyCache();
  },
  /** The state of the device's default generator (a CPU uint8 tensor), for checkpoints. */
  getRngState(device: CudaDevice = 'cuda'): Tensor {
    return defaultGenerator(`cuda:${resolve(device, 'getRngState')}`).getState();
  },
  /** Restores a state from getRngState into the device's default generator. */
  setRngState(state: Tensor, device: CudaDevice = 'cuda'): void {
    defaultGenerator(`cuda:${resolve(device, 'setRngState')}`).setState(state);
  },
  /** Seeds the default generator of one device (default: the current one); ignored without CUDA. */
  manualSeed(seed: number | bigint, device?: CudaDevice): void {
    const index = cudaIndex(device, 'manualSeed');
    if (!cuda.isAvailable()) return;
    defaultGenerator(`cuda:${binding.cudaResolve('manualSeed', index)}`).manualSeed(seed);
  },
  /** Seeds the default generators of every visible device; ignored without CUDA. */
  manualSeedAll(seed: number | bigint): void {
    for (let i = 0; i < cuda.deviceCount(); i++) defaultGenerator(`cuda:${i}`).manualSeed(seed);
  },
};

function flag(name: BackendFlag) {
  return {
    get: (): boolean => binding.backendFlag(name),
    set: (on: boolean): void => {
      if (typeof on !== 'boolean') throw new TypeError(`torch.backends.${name}: expected a boolean, got ${typeof on}`);
      binding.setBackendFlag(name, on);
    },
  };
}
const cudnnBenchmark = flag('cudnn.benchmark');
const cudnnTF32 = flag('cudnn.allowTF32');
const matmulTF32 = flag('cuda.matmul.allowTF32');

/**
 * torch.backends switches, process-wide (libtorch's global context); they exist in CPU builds too, where they change
 * nothing. Defaults are PyTorch's: cudnn.benchmark false, cudnn.allowTF32 true, cuda.matmul.allowTF32 false.
 */
export const backends = {
  cudnn: {
    /** Let cuDNN time its algorithms for each new input shape and keep the fastest. */
    get benchmark(): boolean {
      return cudnnBenchmark.get();
    },
    set benchmark(on: boolean) {
      cudnnBenchmark.set(on);
    },
    /** Let cuDNN convolutions use TF32 tensor cores on Ampere and later. */
    get allowTF32(): boolean {
      return cudnnTF32.get();
    },
    set allowTF32(on: boolean) {
      cudnnTF32.set(on);
    },
  },
  cuda: {
    matmul: {
      /** Let float32 matmuls use TF32 tensor cores on Ampere and later. */
      get allowTF32(): boolean {
        return matmulTF32.get();
      },
      set allowTF32(on: boolean) {
        matmulTF32.set(on);
      },
    },
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
  if (deviceType !== 'cpu' && deviceType !== 'cuda')
    throw new TypeError(`autocast: device type must be 'cpu' or 'cuda', got '${String(deviceType)}'`);
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
const AUTOCAST_DTYPES: Readonly<Record<'cpu' | 'cuda', readonly DType[]>> = {
  cpu: ['bfloat16'],
  cuda: ['float16', 'bfloat16'],
};
// The binding can set but not read the autocast dtype; these are libtorch's defaults until autocast() changes them.
const autocastDtype: Record<'cpu' | 'cuda', DType> = { cpu: 'bfloat16', cuda: 'float16' };

export function isAutocastEnabled(deviceType: 'cpu' | 'cuda' = 'cpu'): boolean {
  return native.isAutocastEnabled(deviceType);
}

/** Bytes of tensor storage currently reported to V8, and live storages (diagnostics, leak tests). */
export function memoryStats(): { trackedBytes: number; liveStorages: number } {
  return { trackedBytes: native.trackedBytes(), liveStorages: native.liveStorages() };
}
