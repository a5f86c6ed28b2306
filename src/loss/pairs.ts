// What every SimCLR loss shares (Chen et al. 2020, Section 2.1): the 2N augmented embeddings of a batch, each an
// anchor whose positive is the other view of its image and whose negatives are the other 2(N-1) embeddings (or all
// replicas' embeddings when gathered), compared by cosine similarity.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';

/** The projections of every replica, for negatives gathered across a data-parallel group. */
export interface GatheredProjections {
  /** First views of all replicas, [N * world, D], in replica order; this replica's z1 is rows rankOffset..rankOffset+N.
   */
  z1All: Tensor;
  /** Second views of all replicas, [N * world, D], aligned with z1All. */
  z2All: Tensor;
  /** Row of this replica's first sample in z1All/z2All (rank * N for equal local batches). */
  rankOffset: number;
}

/** What a pretraining loss returns for one step. */
export interface ContrastiveLossResult {
  /** 0-d float32: mean over the 2N local anchors, differentiable in z1 and z2. */
  loss: Tensor;
  /** 0-d float32: fraction of the 2N anchors whose positive is the most similar candidate; no grad, no device sync. */
  contrastiveAccuracy: Tensor;
}

/**
 * A pretraining loss over two views z1, z2 [N, D] (raw projections) of the same N images; `gathered` adds the
 * other replicas' embeddings as negatives. What the training step (src/train/step.ts) calls (src/loss/index.ts,
 * LOSSES).
 */
export type ContrastiveLoss = (z1: Tensor, z2: Tensor, gathered?: GatheredProjections) => ContrastiveLossResult;

export interface ContrastivePairs {
  /**
   * [2N, 2M] float: cosine similarity (dot product when not normalised) of each local anchor [z1; z2] (rows) with
   * each candidate [z1All; z2All].
   */
  similarity: Tensor;
  /** [2N] int64: each anchor's own column. */
  self: Tensor;
  /** [2N] int64: the column of each anchor's positive. */
  positive: Tensor;
  /** M: rows of z1All (N when not gathered); there are 2M - 2 negatives per anchor. */
  m: number;
}

/**
 * The cosine similarities of the local anchors with every candidate and where each anchor and its positive sit.
 * Anchor i < N is column offset+i and its positive M+offset+i; anchor N+i the other way round. Both index vectors
 * come from arange, so no per-sample work happens in JS.
 * @param who the loss's name, prefixed to every error message
 * @param normalize false: raw dot products z·z' instead of cosine similarities (the paper's "without l2 norm" rows,
 *   Tables 2 and 5); default true
 * @throws RangeError for inputs that are not [N, D] pairs of one shape, or a gathered block they do not fit in
 */
export function contrastivePairs(
  z1: Tensor,
  z2: Tensor,
  gathered: GatheredProjections | undefined,
  who: string,
  normalize = true,
): ContrastivePairs {
  checkPair(z1, z2, 'z1', 'z2', who);
  const n = z1.shape[0]!;
  if (n < 1) throw new RangeError(`${who}: empty batch`);
  const unit = (z: Tensor): Tensor => (normalize ? torch.nn.functional.normalize(z, { dim: 1 }) : z);
  const anchors = torch.cat([unit(z1), unit(z2)], 0);
  let candidates = anchors;
  let m = n;
  let offset = 0;
  if (gathered !== undefined) {
    const { z1All, z2All, rankOffset } = gathered;
    checkPair(z1All, z2All, 'z1All', 'z2All', who);
    m = z1All.shape[0]!;
    if (z1All.shape[1] !== z1.shape[1])
      throw new RangeError(`${who}: z1All has dimension ${z1All.shape[1]}, z1 has ${z1.shape[1]}`);
    if (!Number.isInteger(rankOffset) || rankOffset < 0 || rankOffset + n > m) {
      throw new RangeError(`${who}: rankOffset ${rankOffset} with ${n} local rows does not fit in ${m} gathered rows`);
    }
    offset = rankOffset;
    candidates = torch.cat([unit(z1All), unit(z2All)], 0);
  }
  const similarity = anchors.matmul(candidates.t());
  const local = torch.arange(offset, offset + n, 1, { device: z1.device });
  const shifted = local.add(m);
  return { similarity, self: torch.cat([local, shifted]), positive: torch.cat([shifted, local]), m };
}

/** [2N, 2M] float32: 1 where a column is one of the anchor's 2M - 2 negatives, 0 at itself and its positive. */
export function negativeMask(p: ContrastivePairs): Tensor {
  return torch.onesLike(p.similarity).scatter(1, p.self.unsqueeze(1), 0).scatter(1, p.positive.unsqueeze(1), 0);
}

/** [2N, 1]: each anchor's similarity with its positive. */
export function positiveSimilarity(p: ContrastivePairs): Tensor {
  return p.similarity.gather(1, p.positive.unsqueeze(1));
}

/** Fraction of anchors whose positive has the largest score; scores [2N, 2M] with the anchor's own column at -inf. */
export function positiveAccuracy(scores: Tensor, positive: Tensor): Tensor {
  return torch.noGrad(() => scores.argmax(1).eq(positive).float().mean());
}

/** similarity with each anchor's own column at -inf: what the accuracy (and NT-Xent's softmax) ranks. */
export function withoutSelf(similarity: Tensor, self: Tensor): Tensor {
  return similarity.scatter(1, self.unsqueeze(1), -Infinity);
}

function checkPair(a: Tensor, b: Tensor, nameA: string, nameB: string, who: string): void {
  if (a.ndim !== 2) throw new RangeError(`${who}: ${nameA} must be [N, D], got [${a.shape.join(', ')}]`);
  const sa = a.shape;
  const sb = b.shape;
  if (sb.length !== 2 || sa[0] !== sb[0] || sa[1] !== sb[1]) {
    throw new RangeError(
      `${who}: ${nameA} [${sa.join(', ')}] and ${nameB} [${sb.join(', ')}] must have the same shape`,
    );
  }
}
