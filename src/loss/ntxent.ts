// NT-Xent, the normalised temperature-scaled cross-entropy loss of SimCLR (Chen et al. 2020, eq. 1).
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import {
  contrastivePairs,
  positiveAccuracy,
  withoutSelf,
  type ContrastiveLossResult,
  type GatheredProjections,
} from './pairs.js';

export type { GatheredProjections } from './pairs.js';

/**
 * Default temperature. The paper uses 0.5 for CIFAR-10 and 0.1 for ImageNet with batch 4096; 0.5 is the safer
 * choice for the small batches and datasets this library mostly trains on.
 */
export const DEFAULT_TEMPERATURE = 0.5;

export interface NtXentOptions {
  temperature?: number;
  /** L2-normalise z first, so similarities are cosines (default true, the paper's); false: raw dot products. */
  normalize?: boolean;
  /** Contrast the local anchors with every replica's samples; omit for a single process. */
  gathered?: GatheredProjections;
}

/** The loss (mean of l(i, j) and l(j, i) over the 2N local anchors, as the paper's L) and its contrastive accuracy. */
export type NtXentResult = ContrastiveLossResult;

/**
 * NT-Xent for two views z1, z2 [N, D] of the same N images (raw projections; they are L2-normalised here unless
 * `normalize` is false, when the logits are dot products / temperature, the paper's Table 5 rows without l2 norm).
 * Each of the 2N embeddings is an anchor whose positive is the other view of its image and whose negatives are
 * the remaining 2N-2 embeddings (2N*world-2 when gathered); the loss is the cross entropy of the positive
 * among those 2N-1 candidates at cosine similarity / temperature, averaged over all 2N anchors.
 * google-research/simclr returns the sum of the two directions' means, i.e. twice this value.
 */
export function ntXentLoss(z1: Tensor, z2: Tensor, opts: NtXentOptions = {}): Tensor {
  return torch.scope(() => crossEntropyOfLogits(contrastiveLogits(z1, z2, opts)));
}

/** ntXentLoss together with the contrastive accuracy of the same logits. */
export function ntXentWithAccuracy(z1: Tensor, z2: Tensor, opts: NtXentOptions = {}): NtXentResult {
  return torch.scope(() => {
    const logits = contrastiveLogits(z1, z2, opts);
    const loss = crossEntropyOfLogits(logits);
    const contrastiveAccuracy = positiveAccuracy(logits.logits, logits.targets);
    return { loss, contrastiveAccuracy };
  });
}

interface Logits {
  /** [2N, 2M] scaled similarities with each anchor's own column set to -inf. */
  logits: Tensor;
  /** [2N] int64 column of each anchor's positive. */
  targets: Tensor;
}

function crossEntropyOfLogits({ logits, targets }: Logits): Tensor {
  return torch.nn.functional.crossEntropy(logits, targets);
}

function contrastiveLogits(z1: Tensor, z2: Tensor, opts: NtXentOptions): Logits {
  const temperature = opts.temperature ?? DEFAULT_TEMPERATURE;
  if (!(temperature > 0)) throw new RangeError(`ntXentLoss: temperature must be positive, got ${temperature}`);
  const { similarity, self, positive } = contrastivePairs(z1, z2, opts.gathered, 'ntXentLoss', opts.normalize);
  return { logits: withoutSelf(similarity.div(temperature), self), targets: positive };
}
