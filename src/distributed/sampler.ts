// Sharded sampling: every rank draws the same global batch (the seeded, epoch-dependent order is the same on every
// rank) and keeps its own contiguous part, so the global batch at a step is the same whatever the number of ranks,
// and concatenating the ranks' parts in rank order gives it back.
import { DistributedError } from './env.js';

/** Rank `rank`'s part of a global batch: rows [rank * n, (rank + 1) * n) with n = length / worldSize (a view). */
export function shardBatch(globalBatch: Uint32Array, rank: number, worldSize: number): Uint32Array {
  if (!Number.isInteger(worldSize) || worldSize < 1 || !Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new RangeError(`shardBatch: rank ${rank} is not in a group of ${worldSize}`);
  }
  const n = globalBatch.length / worldSize;
  if (!Number.isInteger(n))
    throw new DistributedError(`a global batch of ${globalBatch.length} does not split evenly over ${worldSize} ranks`);
  return globalBatch.subarray(rank * n, (rank + 1) * n);
}
