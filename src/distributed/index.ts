// simclr/dist: data-parallel training over c10d process groups, and the local launcher.
export {
  DistributedError,
  DEFAULT_TIMEOUT_S,
  MIN_RENDEZVOUS_TIMEOUT_S,
  guardCollective,
  readDistEnv,
  timeoutFromEnv,
  initProcessGroup,
  initFromEnv,
  type DistEnv,
  type InitOptions,
} from './env.js';
export { shardBatch } from './sampler.js';
export { syncBatchNorm, convertSyncBatchNorm } from './syncbn.js';
export { DistributedContext, type DataParallelOptions, type GatheredPairs } from './context.js';
export { launch, freePort, threadsPerRank, type LaunchOptions, type LaunchResult } from './launch.js';
