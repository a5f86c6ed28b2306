// Data-parallel training over a process group: what a training loop needs from its ranks. Rank 0's parameters and
// buffers are broadcast at the start, each rank takes its part of the global batch, BatchNorm is global (or per rank),
// projections are gathered for global negatives, gradients are averaged in buckets (overlapping backward), and scalar
// metrics and stop requests are agreed on so that every rank takes the same branch.
import * as torch from '../torch/index.js';
import type { AnyModule } from '../nn/index.js';
import { guardCollective, initFromEnv, type DistEnv } from './env.js';
import { shardBatch } from './sampler.js';
import { convertSyncBatchNorm } from './syncbn.js';

type Tensor = torch.Tensor;

export interface DataParallelOptions {
  /** Global BatchNorm statistics (default true); false keeps per-rank statistics and syncs buffers from rank 0. */
  syncBn?: boolean;
  /** Start bucket all-reduces from autograd hooks during backward (default true). */
  overlap?: boolean;
  /** Gradient bucket size (default 25 MiB). */
  bucketBytes?: number;
}

/** Every rank's projections of the two views, in rank order, and where this rank's rows start. */
export interface GatheredPairs {
  z1All: Tensor;
  z2All: Tensor;
  rankOffset: number;
}

export class DistributedContext {
  private reducer: torch.distributed.GradReducer | null = null;
  private overlap = true;
  /** Buffers re-sent from rank 0 before each forward when BatchNorm statistics are per rank. */
  private syncedBuffers: Tensor[] = [];

  /**
   * @param device where this rank computes ('cpu' or 'cuda:LOCAL_RANK'): host values sent through the group (metrics,
   *   stop flags) are put there, since an NCCL group only moves CUDA tensors.
   */
  constructor(
    readonly group: torch.distributed.ProcessGroup,
    readonly env: DistEnv,
    readonly device = 'cpu',
  ) {}

  /** Joins the group described by RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT; null when WORLD_SIZE is unset. */
  /** @param opts.device this rank's device: a CUDA device gets an NCCL group bound to it, the CPU a Gloo group. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, opts: { device?: string } = {}): DistributedContext | null {
    const device = opts.device ?? 'cpu';
    // NCCL for GPUs (Gloo cannot move CUDA tensors without host copies), Gloo for the CPU.
    const backend = torch.distributed.defaultBackend(device);
    const joined = initFromEnv(env, { backend, ...(backend === 'nccl' ? { device } : {}) });
    return joined === null ? null : new DistributedContext(joined.group, joined.env, device);
  }

  get rank(): number {
    return this.env.rank;
  }
  get worldSize(): number {
    return this.env.worldSize;
  }
  /** Rank 0 writes checkpoints, metrics and the run's config. */
  get isMain(): boolean {
    return this.env.rank === 0;
  }

  /** This rank's contiguous part of a global batch of sample indices. */
  shard(globalBatch: Uint32Array): Uint32Array {
    return shardBatch(globalBatch, this.rank, this.worldSize);
  }

  /**
   * Makes a model data-parallel: copies rank 0's parameters and buffers to every rank, switches BatchNorm to global
   * statistics (unless syncBn is false) and sets up bucketed gradient averaging. Call once, after loading weights.
   */
  prepare(model: AnyModule, opts: DataParallelOptions = {}): void {
    if (this.reducer !== null) throw new Error('DistributedContext.prepare: called twice');
    const params = model.parameters().filter((p) => p.requiresGrad);
    const buffers = model.buffers();
    guardCollective('broadcasting the initial parameters', () =>
      this.group.broadcast([...model.parameters(), ...buffers], 0),
    );
    if (opts.syncBn ?? true) convertSyncBatchNorm(model, this.group);
    else this.syncedBuffers = buffers;
    this.overlap = opts.overlap ?? true;
    this.reducer = new torch.distributed.GradReducer(
      this.group,
      params,
      opts.bucketBytes !== undefined ? { bucketBytes: opts.bucketBytes } : {},
    );
  }

  /** Per-rank BatchNorm: rank 0's running statistics replace the others' (as DDP's broadcast_buffers), so ranks stay
   * equal. */
  beforeForward(): void {
    if (this.syncedBuffers.length > 0)
      guardCollective('syncing buffers', () => this.group.broadcast(this.syncedBuffers, 0));
  }

  /** z1, z2 [n, D] of every rank concatenated in rank order (differentiable), for negatives from the global batch. */
  gatherPairs(z1: Tensor, z2: Tensor): GatheredPairs {
    const d = z1.shape[1]!;
    return torch.scope(() => {
      const both = guardCollective('gathering projections', () =>
        torch.distributed.allGatherCat(torch.cat([z1, z2], 1), this.group),
      );
      return { z1All: both.narrow(1, 0, d), z2All: both.narrow(1, d, d), rankOffset: this.rank * z1.shape[0]! };
    });
  }

  /** Backpropagates this rank's loss and leaves every parameter's gradient averaged over the ranks. */
  backward(loss: Tensor): void {
    const reducer = this.reducer;
    if (reducer === null) throw new Error('DistributedContext.backward: call prepare(model) first');
    guardCollective('backward', () => {
      if (this.overlap) reducer.arm();
      loss.backward();
      reducer.finish();
    });
  }

  /**
   * Replaces a tensor by its mean over the ranks, in place, on its own device (NCCL needs CUDA tensors, Gloo takes
   * either): for metrics that stay on the GPU until read back.
   */
  averageInPlace(t: Tensor): void {
    guardCollective('averaging metrics', () => this.group.allReduce(t));
    torch.noGrad(() => t.div_(this.worldSize));
  }

  /** True on every rank if it is true on any (e.g. a stop request that reached one rank). */
  anyRank(flag: boolean): boolean {
    const t = torch.tensor(Int32Array.of(flag ? 1 : 0), { device: this.device });
    try {
      guardCollective('agreeing on stopping', () => this.group.allReduce(t, 'max'));
      return t.item() > 0;
    } finally {
      t.dispose();
    }
  }

  close(): void {
    this.reducer = null;
    this.group.close();
  }
}
