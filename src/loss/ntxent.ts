// NT-Xent, the normalised temperature-scaled cross-entropy loss of SimCLR (Chen et al. 2020, eq. 1).
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';

/**
 * Default temperature. The paper uses 0.5 for CIFAR-10 and 0.1 for ImageNet with batch 4096; 0.5 is the safer
 * choice for the small batches and datasets this library mostly trains on.
 */
export const DEFAULT_TEMPERATURE = 0.5;

/** The projections of every replica, for negatives gathered across a data-parallel group. */
export interface GatheredProjections {
  /** First views of all replicas, [N * world, D], in replica order; this replica's z1 is rows rankOffset..rankOffset+N. */
  z1All: Tensor;
  /** Second views of all replicas, [N * world, D], aligned with z1All. */
  z2All: Tensor;
  /** Row of this replica's first sample in z1All/z2All (rank * N for equal local batches). */
  rankOffset: number;
}

export interface NtXentOptions {
  temperature?: number;
  /** Contrast the local anchors with every replica's samples; omit for a single process. */
  gathered?: GatheredProjections;
}

export interface NtXentResult {
  /** Mean of l(i, j) and l(j, i) over the 2N local anchors, as the paper's L. */
  loss: Tensor;
  /** 0-d float32: fraction of the 2N anchors whose positive has the largest logit; no grad, no device sync. */
  contrastiveAccuracy: Tensor;
}

/**
 * NT-Xent for two views z1, z2 [N, D] of the same N images (raw projections; they are L2-normalised here).
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
    const contrastiveAccuracy = torch.noGrad(() =>
      logits.logits.argmax(1).eq(logits.targets).float().mean());
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

// Rows are the anchors [z1; z2], columns the candidates [z1All; z2All] (M = rows of z1All). Anchor i < N sits
// at column offset+i and its positive at M+offset+i; anchor N+i the other way round. Both index vectors come
// from arange so no per-sample work happens in JS.
function contrastiveLogits(z1: Tensor, z2: Tensor, opts: NtXentOptions): Logits {
  const temperature = opts.temperature ?? DEFAULT_TEMPERATURE;
  if (!(temperature > 0)) throw new RangeError(`ntXentLoss: temperature must be positive, got ${temperature}`);
  checkPair(z1, z2, 'z1', 'z2');
  const n = z1.shape[0]!;
  if (n < 1) throw new RangeError('ntXentLoss: empty batch');
  const { normalize } = torch.nn.functional;
  const anchors = torch.cat([normalize(z1, { dim: 1 }), normalize(z2, { dim: 1 })], 0);
  let candidates = anchors;
  let m = n;
  let offset = 0;
  if (opts.gathered !== undefined) {
    const { z1All, z2All, rankOffset } = opts.gathered;
    checkPair(z1All, z2All, 'z1All', 'z2All');
    m = z1All.shape[0]!;
    if (z1All.shape[1] !== z1.shape[1]) throw new RangeError(`ntXentLoss: z1All has dimension ${z1All.shape[1]}, z1 has ${z1.shape[1]}`);
    if (!Number.isInteger(rankOffset) || rankOffset < 0 || rankOffset + n > m) {
      throw new RangeError(`ntXentLoss: rankOffset ${rankOffset} with ${n} local rows does not fit in ${m} gathered rows`);
    }
    offset = rankOffset;
    candidates = torch.cat([normalize(z1All, { dim: 1 }), normalize(z2All, { dim: 1 })], 0);
  }
  const similarity = anchors.matmul(candidates.t()).div(temperature);
  const local = torch.arange(offset, offset + n, 1, { device: z1.device });
  const shifted = local.add(m);
  const self = torch.cat([local, shifted]);
  const targets = torch.cat([shifted, local]);
  const logits = similarity.scatter(1, self.unsqueeze(1), -Infinity);
  return { logits, targets };
}

function checkPair(a: Tensor, b: Tensor, nameA: string, nameB: string): void {
  if (a.ndim !== 2) throw new RangeError(`ntXentLoss: ${nameA} must be [N, D], got [${a.shape.join(', ')}]`);
  const sa = a.shape;
  const sb = b.shape;
  if (sb.length !== 2 || sa[0] !== sb[0] || sa[1] !== sb[1]) {
    throw new RangeError(`ntXentLoss: ${nameA} [${sa.join(', ')}] and ${nameB} [${sb.join(', ')}] must have the same shape`);
  }
}
