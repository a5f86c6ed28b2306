// NT-Logistic, the normalised temperature-scaled logistic loss: one of the SimCLR paper's alternatives to NT-Xent
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
import { DEFAULT_TEMPERATURE } from './ntxent.js';

export interface NtLogisticOptions {
  /** τ > 0, dividing the cosine similarities; default DEFAULT_TEMPERATURE (0.5), as NT-Xent. */
  temperature?: number;
  /** L2-normalise z first (default true); false: raw dot products in place of cosine similarities. */
  normalize?: boolean;
  /** Contrast the local anchors with every replica's samples; omit for a single process. */
  gathered?: GatheredProjections;
}

/**
 * NT-Logistic for two views z1, z2 [N, D] (float, raw projections; L2-normalised here unless
 * `normalize` is false, when s below is the dot product) of the same N images.
 * The paper's Table 2 gives, per anchor u with positive v+ and a negative v-, the objective
 * log σ(sim(u,v+)/τ) + log σ(-sim(u,v-)/τ); here each of the 2N anchors has the other 2N-2 embeddings (2M-2 when
 * gathered) as negatives and its loss is
 *   l(u) = -log σ(sim(u,v+)/τ) - mean over v- of log σ(-sim(u,v-)/τ),
 * averaged over the 2N anchors. The negatives are averaged, not summed, so that the positive and the negatives
 * weigh the same whatever the batch size (the paper does not state its weighting).
 * The paper's best NT-Logistic figure uses semi-hard negative mining ('sh' in Table 4, without details in the
 * main text); this is the plain form, with every negative, which Table 4 also reports.
 * Returns 0-d float losses (the accuracy: as NT-Xent's, the positive's rank among the 2M-1 candidates).
 * @throws RangeError for τ <= 0, inputs that are not [N, D] of one shape, or a batch without negatives (N = 1)
 */
export function ntLogisticLoss(z1: Tensor, z2: Tensor, opts: NtLogisticOptions = {}): ContrastiveLossResult {
  const temperature = opts.temperature ?? DEFAULT_TEMPERATURE;
  if (!(temperature > 0)) throw new RangeError(`ntLogisticLoss: temperature must be positive, got ${temperature}`);
  return torch.scope(() => {
    const pairs = contrastivePairs(z1, z2, opts.gathered, 'ntLogisticLoss', opts.normalize);
    if (pairs.m < 2) throw new RangeError('ntLogisticLoss: a batch of one image has no negatives');
    const { logsigmoid } = torch.nn.functional;
    const positive = logsigmoid(positiveSimilarity(pairs).div(temperature)).squeeze(1);
    // log σ(-s/τ) of every column, the anchor's own and its positive's masked out of the mean.
    const negatives = logsigmoid(pairs.similarity.div(-temperature))
      .mul(negativeMask(pairs))
      .sum(1)
      .div(2 * pairs.m - 2);
    const loss = positive.add(negatives).mean().neg();
    return { loss, contrastiveAccuracy: positiveAccuracy(withoutSelf(pairs.similarity, pairs.self), pairs.positive) };
  });
}
