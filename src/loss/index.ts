// simclr/loss: the pretraining losses, chosen by name. A new loss is one file exporting its function and one line in
// LOSSES; the config's `loss` option, its validation and the CLI's --loss choices read the names from here.
import { ntXentWithAccuracy } from './ntxent.js';
import { ntLogisticLoss } from './ntlogistic.js';
import { marginTripletLoss } from './margintriplet.js';
import type { ContrastiveLoss } from './pairs.js';

/** The loss settings a pretraining config carries (PretrainConfig's fields of the same names). */
export interface LossSettings {
  /** τ of the losses that scale similarities by 1/τ. */
  temperature: number;
  /** m of the margin losses, in cosine-similarity units. */
  margin: number;
  /** L2-normalise z before the similarities (the paper's default); false: raw dot products (paper Tables 2, 5). */
  l2Normalize: boolean;
}

/** One registered loss: what it is, which settings it reads, and the step function it makes from them. */
export interface LossEntry<K extends keyof LossSettings> {
  /** One line for help texts, with its source. */
  summary: string;
  /** The settings it reads; the others do not change it. */
  settings: readonly K[];
  create(settings: Pick<LossSettings, K>): ContrastiveLoss;
}

function entry<K extends keyof LossSettings>(e: LossEntry<K>): LossEntry<K> {
  return e;
}

/** Name -> loss. The first is the default. */
export const LOSSES = {
  ntxent: entry({
    summary: "NT-Xent, softmax cross entropy of the positive at cosine similarity / temperature (the paper's, eq. 1)",
    settings: ['temperature', 'l2Normalize'],
    create:
      ({ temperature, l2Normalize }) =>
      (z1, z2, gathered) =>
        ntXentWithAccuracy(z1, z2, { temperature, normalize: l2Normalize, ...(gathered ? { gathered } : {}) }),
  }),
  ntlogistic: entry({
    summary:
      'NT-Logistic, logistic loss of the positive and each negative at cosine similarity / temperature (paper Table 2)',
    settings: ['temperature', 'l2Normalize'],
    create:
      ({ temperature, l2Normalize }) =>
      (z1, z2, gathered) =>
        ntLogisticLoss(z1, z2, { temperature, normalize: l2Normalize, ...(gathered ? { gathered } : {}) }),
  }),
  margintriplet: entry({
    summary: 'margin triplet, hinge of negative minus positive cosine similarity plus margin (paper Table 2)',
    settings: ['margin', 'l2Normalize'],
    create:
      ({ margin, l2Normalize }) =>
      (z1, z2, gathered) =>
        marginTripletLoss(z1, z2, { margin, normalize: l2Normalize, ...(gathered ? { gathered } : {}) }),
  }),
} as const;

export type LossName = keyof typeof LOSSES;
/** The registered names, in LOSSES' order. */
export const LOSS_NAMES = Object.keys(LOSSES) as LossName[];

/** The loss and the settings it reads, for logs and reports: 'ntxent (temperature 0.5)'. */
export function describeLoss(name: LossName, settings: LossSettings): string {
  const e = LOSSES[name] as LossEntry<keyof LossSettings>;
  // Normalisation is the paper's default: named only when off.
  const read = e.settings.flatMap((k) =>
    k !== 'l2Normalize' ? [`${k} ${settings[k]}`] : settings.l2Normalize ? [] : ['no l2 normalisation'],
  );
  return read.length === 0 ? name : `${name} (${read.join(', ')})`;
}

/**
 * What to try after the loss diverged: a lower learning rate, and a gentler value of each setting the loss reads
 * (a temperature near 0 makes logits of 1/τ and overflows first; the paper's best is 0.1-0.5, Table 5).
 */
export function divergenceAdvice(name: LossName): string {
  const reads = (LOSSES[name] as LossEntry<keyof LossSettings>).settings as readonly string[];
  return reads.includes('temperature') ? 'Try a lower --lr, or a --temperature closer to 0.5.' : 'Try a lower --lr.';
}

/**
 * The step function of a registered loss with the given settings.
 * @throws RangeError for a name that is not in LOSSES (config validation refuses it before this)
 */
export function createLoss(name: LossName, settings: LossSettings): ContrastiveLoss {
  const e = LOSSES[name] as LossEntry<keyof LossSettings> | undefined;
  if (e === undefined) throw new RangeError(`unknown loss '${String(name)}'; one of ${LOSS_NAMES.join(', ')}`);
  return e.create(settings);
}

export {
  ntXentLoss,
  ntXentWithAccuracy,
  DEFAULT_TEMPERATURE,
  type NtXentOptions,
  type NtXentResult,
} from './ntxent.js';
export { ntLogisticLoss, type NtLogisticOptions } from './ntlogistic.js';
export { marginTripletLoss, DEFAULT_MARGIN, type MarginTripletOptions } from './margintriplet.js';
export type { ContrastiveLoss, ContrastiveLossResult, GatheredProjections } from './pairs.js';
