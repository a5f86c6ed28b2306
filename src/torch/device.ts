// Device names as PyTorch writes them ('cpu', 'cuda', 'cuda:N'), the 'auto' choice, and one clear error where a
// requested device does not exist. Everything above this layer takes a resolved device string.
import { cpus } from 'node:os';
import { native } from './native.js';
import { cuda } from './runtime.js';
import { DeviceError } from '../errors.js';

/** What a user may ask for: a device, or 'auto' (the first visible CUDA device, else the CPU). */
export type DeviceSpec = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;

// The requested device cannot be used here (exit code 2); defined with the other typed errors in src/errors.ts.
export { DeviceError };

const SPEC = /^(auto|cpu|cuda)(?::(\d+))?$/;

/**
 * Whether this libtorch has CUDA: the addon compiled its CUDA code against it (buildInfo().withCuda). Not
 * at::globalContext().hasCUDA(), which is also false for a CUDA build on a machine without a GPU.
 */
export function cudaBuilt(): boolean {
  const info = native.buildInfo();
  return info.withCuda ?? info.hasCuda;
}

/** CUDA devices visible to this process (0 with a CPU-only libtorch, or no GPU, or CUDA_VISIBLE_DEVICES=''). */
export function cudaDeviceCount(): number {
  return native.cudaDeviceCount();
}

export interface ResolveDeviceOptions {
  /**
   * The process's rank on this machine (LOCAL_RANK under `simclr launch`): 'cuda' and 'auto' then mean
   * cuda:LOCAL_RANK, as torchrun scripts conventionally use. Default 0.
   */
  localRank?: number;
  /** Name of the option in messages (default '--device'). */
  flag?: string;
  /**
   * Part of a multi-process job (RANK/WORLD_SIZE set): then 'auto' refuses to leave a rank on the CPU while GPUs are
   * visible, since ranks on different devices would join different backends (NCCL, Gloo) and hang in rendezvous.
   */
  distributed?: boolean;
  /** Device count to check against (default: the CUDA devices visible now); for tests. */
  deviceCount?: number;
  /** Whether the libtorch has CUDA (default: the linked one's answer); for tests. */
  built?: boolean;
}

/**
 * Turns a device request into the device string tensors take: 'cpu' or 'cuda:N'.
 * - 'auto': cuda:LOCAL_RANK when this libtorch has CUDA and that device is visible, else 'cpu'.
 * - 'cuda': cuda:LOCAL_RANK (cuda:0 outside a launch); 'cuda:N': device N.
 * @throws DeviceError naming the flag and the reason: a malformed name, a CPU-only libtorch, no visible GPU, or an
 *   index at or past the visible device count. The CLI prints it on one line and exits with code 2.
 */
export function resolveDevice(spec: string, opts: ResolveDeviceOptions = {}): string {
  const flag = opts.flag ?? '--device';
  const m = SPEC.exec(spec);
  if (m === null || (m[1] !== 'cuda' && m[2] !== undefined)) {
    throw new DeviceError(`${flag} must be cpu, cuda, cuda:N or auto, got '${spec}'`);
  }
  const localRank = opts.localRank ?? 0;
  const count = opts.deviceCount ?? cudaDeviceCount();
  const built = opts.built ?? cudaBuilt();
  if (m[1] === 'cpu') return 'cpu';
  if (m[1] === 'auto') {
    if (!built || count === 0) return 'cpu';
    if (localRank < count) return `cuda:${localRank}`;
    if (opts.distributed === true) {
      throw new DeviceError(
        `${flag} auto: local rank ${localRank} has no GPU of its own (${count} CUDA device(s) visible); start at ` +
          `most ${count} process(es) per machine, or use --device cpu for every rank`,
      );
    }
    return 'cpu';
  }
  const index = m[2] !== undefined ? Number(m[2]) : localRank;
  if (!built) {
    throw new DeviceError(
      `${flag} ${spec}: this libtorch (${native.buildInfo().version}) was built without CUDA; build simclr against ` +
        `a CUDA PyTorch (README, "GPU") or use --device cpu`,
    );
  }
  if (count === 0) {
    throw new DeviceError(
      `${flag} ${spec}: no CUDA device is visible (libtorch has CUDA, but the device count is 0: check nvidia-smi ` +
        `and CUDA_VISIBLE_DEVICES)`,
    );
  }
  if (index >= count) {
    throw new DeviceError(
      `${flag} ${spec}: cuda:${index} does not exist; ${count} CUDA device(s) visible ` +
        `(cuda:0${count > 1 ? `..cuda:${count - 1}` : ''})`,
    );
  }
  return `cuda:${index}`;
}

/** 'cpu' or 'cuda' for a device string: the device type autocast and generators are keyed by. */
export function deviceType(device: string): 'cpu' | 'cuda' {
  if (device === 'cpu') return 'cpu';
  if (device === 'cuda' || device.startsWith('cuda:')) return 'cuda';
  throw new DeviceError(`unsupported device '${device}' (expected cpu or cuda:N)`);
}

/** A device's name for people: the CPU model, or the GPU's name (e.g. 'NVIDIA H200'). */
export function deviceName(device: string): string {
  if (deviceType(device) === 'cpu') return cpus()[0]?.model.trim() ?? 'CPU';
  return cuda.getDeviceProperties(device).name;
}
