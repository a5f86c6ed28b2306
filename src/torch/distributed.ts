// torch.distributed over libtorch's c10d: rendezvous stores, Gloo and NCCL process groups and their collectives,
// collectives that autograd differentiates, and bucketed gradient averaging. A Gloo collective blocks the calling
// thread until all ranks have joined it or the group's timeout has passed; an NCCL collective (CUDA tensors only)
// is queued on the GPU and later work on the current CUDA stream waits for it, with NCCL's watchdog ending the
// process after the timeout. Ranks must call collectives in the same order.
import { native, type NativeTensor } from './native.js';
import { Tensor } from './tensor.js';

export type ReduceOp = 'sum' | 'product' | 'min' | 'max';
/** 'gloo' for CPU tensors (and any build); 'nccl' for CUDA tensors, in builds against a CUDA libtorch. */
export type Backend = 'gloo' | 'nccl';

/**
 * The backend for a training device, as PyTorch's convention: 'nccl' for 'cuda' / 'cuda:N', 'gloo' otherwise.
 * Does not check that the addon has NCCL (the ProcessGroup constructor does).
 */
export function defaultBackend(device: string): Backend {
  return device === 'cuda' || device.startsWith('cuda:') ? 'nccl' : 'gloo';
}

interface NativeStore {
  set(key: string, value: Uint8Array): void;
  get(key: string): Buffer;
  add(key: string, delta: number): number;
  check(keys: string[]): boolean;
  wait(keys: string[], timeoutMs: number): void;
  port(): number;
}

interface NativeProcessGroup {
  rank(): number;
  size(): number;
  backend(): string;
  allReduce(tensors: NativeTensor[], op: ReduceOp): void;
  broadcast(tensors: NativeTensor[], root: number): void;
  allGather(t: NativeTensor): NativeTensor[];
  barrier(): void;
  close(): void;
}

interface NativeGroupOptions {
  backend: Backend;
  timeoutMs: number;
  threads?: number;
  hostname?: string;
  interface?: string;
  device?: string;
}

interface NativeGradReducer {
  arm(): void;
  finish(): void;
  bucketSizes(): number[];
}

interface DistBinding {
  NativeStore: {
    new (kind: 'tcp', host: string, port: number, isServer: boolean, worldSize: number, timeoutMs: number): NativeStore;
    new (kind: 'file', path: string, worldSize: number, timeoutMs: number): NativeStore;
  };
  NativeProcessGroup: new (
    store: NativeStore,
    rank: number,
    size: number,
    opts: NativeGroupOptions,
  ) => NativeProcessGroup;
  NativeGradReducer: new (group: NativeProcessGroup, params: NativeTensor[], bucketBytes: number) => NativeGradReducer;
  allGatherCat(group: NativeProcessGroup, t: NativeTensor): NativeTensor;
  allReduceSum(group: NativeProcessGroup, t: NativeTensor): NativeTensor;
  syncBatchNorm(
    group: NativeProcessGroup,
    input: NativeTensor,
    weight: NativeTensor | null,
    bias: NativeTensor | null,
    runningMean: NativeTensor | null,
    runningVar: NativeTensor | null,
    eps: number,
    momentum: number,
  ): NativeTensor;
}

const dist = native as unknown as DistBinding;

/** PyTorch's default for process groups and stores. */
export const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;

function checkTimeout(ms: number, where: string): number {
  if (!Number.isInteger(ms) || ms < 1)
    throw new RangeError(`${where}: timeoutMs must be a positive integer, got ${ms}`);
  return ms;
}

function checkRank(rank: number, worldSize: number, where: string): void {
  if (!Number.isInteger(worldSize) || worldSize < 1)
    throw new RangeError(`${where}: worldSize must be a positive integer, got ${worldSize}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize)
    throw new RangeError(`${where}: rank must be an integer in [0, ${worldSize}), got ${rank}`);
}

export interface TcpStoreOptions {
  host: string;
  /** 0 lets the server pick a free port (read it back from `port`). */
  port: number;
  /** Exactly one rank hosts the store. */
  isServer: boolean;
  /** Ranks that will connect; the server waits for all of them. */
  worldSize: number;
  timeoutMs?: number;
}

/** A key-value store the ranks meet through (c10d::Store); blocking reads wait up to the store's timeout. */
export class Store {
  private constructor(/** @internal */ readonly _h: NativeStore) {}

  /** A TCP store: the server listens on host:port; the constructor returns once every rank has connected. */
  static tcp(opts: TcpStoreOptions): Store {
    const { host, port, isServer, worldSize } = opts;
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new RangeError(`Store.tcp: port must be an integer in [0, 65535], got ${port}`);
    if (!Number.isInteger(worldSize) || worldSize < 1)
      throw new RangeError(`Store.tcp: worldSize must be a positive integer, got ${worldSize}`);
    return new Store(
      new dist.NativeStore(
        'tcp',
        host,
        port,
        isServer,
        worldSize,
        checkTimeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'Store.tcp'),
      ),
    );
  }

  /** A store in a file every rank can reach (a shared filesystem); the file must not exist from an earlier run. */
  static file(path: string, worldSize: number, timeoutMs = DEFAULT_TIMEOUT_MS): Store {
    if (!Number.isInteger(worldSize) || worldSize < 1)
      throw new RangeError(`Store.file: worldSize must be a positive integer, got ${worldSize}`);
    return new Store(new dist.NativeStore('file', path, worldSize, checkTimeout(timeoutMs, 'Store.file')));
  }

  set(key: string, value: string | Uint8Array): void {
    this._h.set(key, typeof value === 'string' ? new TextEncoder().encode(value) : value);
  }
  /** The value of key, waiting for another rank to set it. */
  get(key: string): Buffer {
    return this._h.get(key);
  }
  /** Adds delta to an integer counter (created at 0) and returns the new value. */
  add(key: string, delta: number): number {
    if (!Number.isInteger(delta)) throw new RangeError(`Store.add: delta must be an integer, got ${delta}`);
    return this._h.add(key, delta);
  }
  /** True if every key is set, without waiting. */
  check(keys: readonly string[]): boolean {
    return this._h.check([...keys]);
  }
  wait(keys: readonly string[], timeoutMs: number): void {
    this._h.wait([...keys], checkTimeout(timeoutMs, 'Store.wait'));
  }
  /** The port a TCP store listens on (-1 for a file store). */
  get port(): number {
    return this._h.port();
  }
}

export interface ProcessGroupOptions {
  /** Default 'gloo'. 'nccl' throws in an addon built against a CPU libtorch (see defaultBackend). */
  backend?: Backend;
  /** Every collective fails after this long without all ranks (default 30 min, as PyTorch). */
  timeoutMs?: number;
  /** Gloo's worker threads (default 2). */
  threads?: number;
  /** Bind Gloo to this host name or address (e.g. '127.0.0.1' when all ranks share a machine). */
  hostname?: string;
  /** Bind Gloo to this network interface (as GLOO_SOCKET_IFNAME). */
  interface?: string;
  /** NCCL only: this rank's GPU, 'cuda:N' (where barrier() runs; without it NCCL guesses from the rank). */
  device?: string;
}

function handles(tensors: Tensor | readonly Tensor[], where: string): NativeTensor[] {
  const list = tensors instanceof Tensor ? [tensors] : tensors;
  if (!Array.isArray(list) || list.some((t) => !(t instanceof Tensor)))
    throw new TypeError(`${where}: expected a Tensor or an array of Tensors`);
  return list.map((t) => t._h);
}

/**
 * A group of ranks that run collectives together (c10d::ProcessGroupGloo or ProcessGroupNCCL). With NCCL every
 * tensor passed to a collective, syncBatchNorm or GradReducer must be on CUDA (a TypeError-like Error otherwise).
 */
export class ProcessGroup {
  /** @internal */ readonly _h: NativeProcessGroup;
  readonly timeoutMs: number;

  /**
   * Gloo connects to every other rank through the store (blocking, up to the timeout); NCCL connects on the first
   * collective. Throws for backend 'nccl' when the addon was built against a libtorch without CUDA.
   */
  constructor(store: Store, rank: number, worldSize: number, opts: ProcessGroupOptions = {}) {
    checkRank(rank, worldSize, 'ProcessGroup');
    if (!(store instanceof Store)) throw new TypeError('ProcessGroup: expected a Store');
    this.timeoutMs = checkTimeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'ProcessGroup');
    const backend = opts.backend ?? 'gloo';
    if (backend !== 'gloo' && backend !== 'nccl')
      throw new TypeError(`ProcessGroup: backend must be 'gloo' or 'nccl', got '${String(backend)}'`);
    const o: NativeGroupOptions = { backend, timeoutMs: this.timeoutMs };
    if (opts.threads !== undefined) {
      if (!Number.isInteger(opts.threads) || opts.threads < 1)
        throw new RangeError(`ProcessGroup: threads must be a positive integer, got ${opts.threads}`);
      o.threads = opts.threads;
    }
    if (opts.hostname !== undefined) o.hostname = opts.hostname;
    if (opts.interface !== undefined) o.interface = opts.interface;
    if (opts.device !== undefined) {
      if (backend !== 'nccl' || !/^cuda:\d+$/.test(opts.device))
        throw new TypeError(
          `ProcessGroup: device is for backend 'nccl' and must be 'cuda:N', got '${opts.device}' (backend ` +
            `'${backend}')`,
        );
      o.device = opts.device;
    }
    this._h = new dist.NativeProcessGroup(store._h, rank, worldSize, o);
  }

  get rank(): number {
    return this._h.rank();
  }
  get size(): number {
    return this._h.size();
  }
  get backend(): string {
    return this._h.backend();
  }

  /** Replaces each tensor with its reduction over all ranks, in place (one collective per dtype). Not differentiable.
   */
  allReduce(tensors: Tensor | readonly Tensor[], op: ReduceOp = 'sum'): void {
    this._h.allReduce(handles(tensors, 'allReduce'), op);
  }

  /** Copies the root rank's values into each tensor on every rank, in place. */
  broadcast(tensors: Tensor | readonly Tensor[], root = 0): void {
    this._h.broadcast(handles(tensors, 'broadcast'), root);
  }

  /** Every rank's tensor, in rank order; all ranks must pass the same shape and dtype. Not differentiable. */
  allGather(t: Tensor): Tensor[] {
    return this._h.allGather(handles(t, 'allGather')[0]!).map((h) => new Tensor(h));
  }

  /** Returns once every rank has reached the barrier. */
  barrier(): void {
    this._h.barrier();
  }

  /** Drops this handle; the connections close once autograd graphs and reducers that use the group are gone. */
  close(): void {
    this._h.close();
  }
}

/**
 * The tensors of all ranks concatenated along dim 0 ([n, ...] -> [n * worldSize, ...]), differentiable: backward sums
 * the output gradient over ranks (each rank's rows feed every rank's loss) and returns this rank's rows. Every rank
 * must pass the same shape and run backward through the result (first-order gradients only).
 */
export function allGatherCat(t: Tensor, group: ProcessGroup): Tensor {
  return new Tensor(dist.allGatherCat(group._h, handles(t, 'allGatherCat')[0]!));
}

/** The sum of t over all ranks as a new tensor, differentiable: backward sums the output gradient over ranks. */
export function allReduceSum(t: Tensor, group: ProcessGroup): Tensor {
  return new Tensor(dist.allReduceSum(group._h, handles(t, 'allReduceSum')[0]!));
}

export interface SyncBatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Updated in place towards the global batch mean and unbiased variance, when given. */
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  /** Weight of the new statistics in the running update (default 0.1). */
  momentum?: number;
  eps?: number;
}

/**
 * Training-mode batch normalisation of input [N, C, ...] with the mean and variance of the samples of every rank
 * (ranks may hold different N), as torch.nn.SyncBatchNorm. Differentiable (first order): backward all-reduces two
 * per-channel sums, so the input gradient is that of one process holding the whole batch; weight and bias gradients
 * are this rank's share (sum them over ranks, as gradient averaging does). Every rank must call it, and backward
 * through it, in the same order.
 */
export function syncBatchNorm(input: Tensor, group: ProcessGroup, opts: SyncBatchNormOptions = {}): Tensor {
  const { momentum = 0.1, eps = 1e-5 } = opts;
  if (!(momentum >= 0 && momentum <= 1))
    throw new RangeError(`syncBatchNorm: momentum must be in [0, 1], got ${momentum}`);
  if (!(eps > 0)) throw new RangeError(`syncBatchNorm: eps must be positive, got ${eps}`);
  const h = (t: Tensor | null | undefined): NativeTensor | null => (t === null || t === undefined ? null : t._h);
  return new Tensor(
    dist.syncBatchNorm(
      group._h,
      handles(input, 'syncBatchNorm')[0]!,
      h(opts.weight),
      h(opts.bias),
      h(opts.runningMean),
      h(opts.runningVar),
      eps,
      momentum,
    ),
  );
}

export interface GradReducerOptions {
  /** Bucket size; a bucket starts its all-reduce once all of its gradients exist (default 25 MiB, as DDP). */
  bucketBytes?: number;
}

/**
 * Averages the gradients of a fixed list of parameters over a group, in buckets. Call arm() before backward to let
 * full buckets start their all-reduce during backward (overlap), and finish() after it; without arm(), finish() does
 * all the work after backward. Every rank must use the same parameter list in the same order.
 */
export class GradReducer {
  private readonly h: NativeGradReducer;

  constructor(group: ProcessGroup, params: readonly Tensor[], opts: GradReducerOptions = {}) {
    const bucketBytes = opts.bucketBytes ?? 25 * 1024 * 1024;
    if (!Number.isInteger(bucketBytes) || bucketBytes < 1)
      throw new RangeError(`GradReducer: bucketBytes must be a positive integer, got ${bucketBytes}`);
    if (params.length === 0) throw new RangeError('GradReducer: no parameters');
    this.h = new dist.NativeGradReducer(group._h, handles(params, 'GradReducer'), bucketBytes);
  }

  arm(): void {
    this.h.arm();
  }

  /** Waits for every bucket and replaces each parameter's gradient with its mean over ranks (missing ones count as 0).
   */
  finish(): void {
    this.h.finish();
  }

  /** Parameters per bucket, in the order buckets are reduced. */
  get bucketSizes(): number[] {
    return this.h.bucketSizes();
  }
}
