// Each step's batch: its images in the epoch's seeded order (this rank's shard), read, uploaded and made into both
// augmented views on the device. A step's batch depends only on (seed, epoch, step in epoch), so a resume or a
// prefetch makes the same one.
import * as torch from '../torch/index.js';
import type { ImageDataset } from '../data/dataset.js';
import { epochPermutation } from '../data/loader.js';
import { BatchUploader } from '../data/uploader.js';
import type { AugmentPipeline } from '../augment/pipeline.js';
import { createViewBatch } from '../augment/apply.js';
import type { DistributedContext } from '../distributed/context.js';

/** A step's batch made ready: its both views (channels-last, on the device) and the host seconds that took. */
export interface PreparedBatch {
  /** 0-based epoch of the step. */
  epoch: number;
  x: torch.Tensor;
  data: number;
  augment: number;
}

export interface BatchSourceOptions {
  ds: ImageDataset;
  /** View 0's and view 1's pipelines (setup.ts viewPipelinesFor). */
  aug: readonly [AugmentPipeline, AugmentPipeline];
  dist: DistributedContext | null;
  seed: number;
  /** The global batch; each rank reads batchSize / worldSize of it. */
  batchSize: number;
  stepsPerEpoch: number;
  device: string;
}

export class BatchSource {
  private readonly bytes: Uint8Array;
  private readonly uploader: BatchUploader;
  private perm: Uint32Array | null = null;
  private permEpoch = -1;

  constructor(private readonly o: BatchSourceOptions) {
    const { ds } = o;
    const localBatch = o.batchSize / (o.dist?.worldSize ?? 1);
    this.bytes = new Uint8Array(localBatch * ds.channels * ds.height * ds.width);
    this.uploader = new BatchUploader([localBatch, ds.channels, ds.height, ds.width], o.device);
  }

  /** Step s's batch (uint8 pixels -> channels-last float views on the device); the caller disposes `x`. */
  prepare(s: number): PreparedBatch {
    const { ds, stepsPerEpoch, batchSize, dist } = this.o;
    const epoch = Math.floor(s / stepsPerEpoch);
    const inEpoch = s - epoch * stepsPerEpoch;
    if (this.permEpoch !== epoch) {
      this.perm = epochPermutation(ds.length, this.o.seed, epoch);
      this.permEpoch = epoch;
    }
    const globalIndices = this.perm!.subarray(inEpoch * batchSize, (inEpoch + 1) * batchSize);
    const indices = dist === null ? globalIndices : dist.shard(globalIndices);
    const t0 = process.hrtime.bigint();
    ds.readBatch(indices, this.bytes);
    const data = Number(process.hrtime.bigint() - t0) / 1e9;
    const t1 = process.hrtime.bigint();
    // Both views in one batch, every first view before every second. Channels-last: oneDNN convolves NHWC directly
    // instead of reordering NCHW around every conv, and BatchNorm and ReLU keep the layout. Measured 1.2x less
    // compute per step at 96 px, no change at 28-32 px (bench/PERFORMANCE.md); the weights stay NCHW, so checkpoints
    // do not change. cuDNN's bf16 tensor-core convolutions also prefer NHWC. On CUDA the bytes go through pinned
    // memory without blocking the host (BatchUploader) and the views are made on the GPU.
    const x = torch.scope(() =>
      createViewBatch(
        this.uploader.upload(this.bytes),
        this.o.aug,
        { seed: this.o.seed, epoch, indices },
        { memoryFormat: 'channelsLast' },
      ).keep(),
    );
    return { epoch, x, data, augment: Number(process.hrtime.bigint() - t1) / 1e9 };
  }

  dispose(): void {
    this.uploader.dispose();
  }
}
