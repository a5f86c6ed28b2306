// The margin triplet loss over cosine similarities: one of the SimCLR paper's alternatives to NT-Xent
// (Chen et al. 2020, Table 2; compared in Section 5.1, Table 4).
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import {
  contrastivePairs,
  negativeMask,
  positiveAccuracy,
  positiveSimilarity,
  withoutSelf,
  type ContrastiveLossResult,
  type GatheredProjections,
} from './pairs.js';

/**
 * Default margin m. The paper does not state the one behind its Table 4; cosine similarities lie in [-1, 1], so a
 * negative stops contributing once it is m = 0.5 less similar than the positive, a quarter of the full range.
 */
export const DEFAULT_MARGIN = 0.5;

export interface MarginTripletOptions {
  /** m >= 0 in cosine-similarity units; default DEFAULT_MARGIN. */
  margin?: number;
  /** L2-normalise z first (default true); false: raw dot products, the margin then in dot-product units. */
  normalize?: boolean;
  /** Contrast the local anchors with every replica's samples; omit for a single process. */
  gathered?: GatheredProjections;
}

/**
 * Margin triplet loss for two views z1, z2 [N, D] (float, raw projections; L2-normalised here
 * unless `normalize` is false, when sim below is the dot product) of the same N images.
 * The paper's Table 2 gives, per anchor u with positive v+ and a negative v-, the objective
 * -max(sim(u,v-) - sim(u,v+) + m, 0); here each of the 2N anchors has the other 2N-2 embeddings (2M-2 when
 * gathered) as negatives and its loss is
 *   l(u) = mean over v- of max(sim(u,v-) - sim(u,v+) + m, 0),
 * averaged over the 2N anchors (no temperature: the margin sets the scale). Averaging the negatives keeps the
 * loss's scale independent of the batch size.
 * The paper's best triplet figure uses semi-hard negative mining ('sh' in Table 4, without details in the main
 * text); this is the plain form, with every negative, which Table 4 also reports.
 * Returns 0-d float losses (the accuracy: as NT-Xent's, the positive's rank among the 2M-1 candidates).
 * @throws RangeError for a negative or non-finite margin, inputs that are not [N, D] of one shape, or a batch
 *   without negatives (N = 1)
 */
export function marginTripletLoss(z1: Tensor, z2: Tensor, opts: MarginTripletOptions = {}): ContrastiveLossResult {
  const margin = opts.margin ?? DEFAULT_MARGIN;
  if (!(margin >= 0) || !Number.isFinite(margin))
    throw new RangeError(`marginTripletLoss: margin must be a finite number >= 0, got ${margin}`);
  return torch.scope(() => {
    const pairs = contrastivePairs(z1, z2, opts.gathered, 'marginTripletLoss', opts.normalize);
    if (pairs.m < 2) throw new RangeError('marginTripletLoss: a batch of one image has no negatives');
    // Every column's hinge, the anchor's own and its positive's masked out of the mean.
    const hinge = pairs.similarity.sub(positiveSimilarity(pairs)).add(margin).relu();
    const loss = hinge
      .mul(negativeMask(pairs))
      .sum(1)
      .div(2 * pairs.m - 2)
      .mean();
    return { loss, contrastiveAccuracy: positiveAccuracy(withoutSelf(pairs.similarity, pairs.self), pairs.positive) };
  });
}
