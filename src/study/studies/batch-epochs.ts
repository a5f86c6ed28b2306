// The paper's Figure 9: batch sizes against training length. Each column trains on the same number of images, so a
// batch twice as large takes half the steps. The paper: with short training, larger batches win clearly; the gap
// shrinks as training gets longer.
import type { StudyCell, StudyContext, StudyDefinition } from '../definition.js';

/** Batch sizes as multiples of the base batch, and training lengths as multiples of the base budget's images. */
export const BATCH_FACTORS: readonly number[] = [0.25, 0.5, 1, 2];
export const LENGTHS: readonly number[] = [1, 2, 4];

function batches(ctx: StudyContext): number[] {
  const sizes = BATCH_FACTORS.map((f) => Math.round(ctx.base.batchSize * f)).filter((b) => b >= 2 && b <= ctx.images);
  return [...new Set(sizes)];
}

const id = (b: number, m: number): string => `b${b}_x${m}`;

function cells(ctx: StudyContext): StudyCell[] {
  // Images of the shortest column: the base batch for the budget's steps.
  const images = ctx.budget * ctx.base.batchSize;
  return LENGTHS.flatMap((m) =>
    batches(ctx).map((b) => {
      const epochs = (m * images) / ctx.images;
      return {
        id: id(b, m),
        label: `batch ${b}, ${Number(epochs.toPrecision(3))} epochs`,
        position: { x: `${Number(epochs.toPrecision(3))}`, series: `batch ${b}` },
        config: { batchSize: b },
        steps: Math.max(1, Math.round((m * images) / b)),
      };
    }),
  );
}

export const batchEpochs: StudyDefinition = {
  name: 'batch-epochs',
  summary: 'batch sizes x training lengths at a fixed number of images per length (paper Figure 9)',
  paper: 'Figure 9',
  chart: { kind: 'line', xLabel: 'epochs over the training images' },
  cells,
  findings(ctx) {
    const b = batches(ctx);
    const small = b[0]!;
    const large = b[b.length - 1]!;
    const first = LENGTHS[0]!;
    const last = LENGTHS[LENGTHS.length - 1]!;
    return [
      {
        claim: 'with short training, a larger batch beats a smaller one',
        source: 'Figure 9',
        a: id(large, first),
        b: id(small, first),
      },
      {
        claim: 'longer training helps',
        source: 'Figure 9',
        a: id(ctx.base.batchSize, last),
        b: id(ctx.base.batchSize, first),
      },
    ];
  },
};
