// The paper's Figure 5: single augmentations and ordered pairs of them, each on one branch only. Every image is first
// randomly cropped and resized (a step both views share, so the other branch is that crop as it is); the targeted
// op(s) then go to the second view: the row op, then the column op; the diagonal holds each op alone.
import type { AugmentStepConfig } from '../../augment/pipeline.js';
import type { StudyCell, StudyContext, StudyDefinition } from '../definition.js';

/** The targeted ops in the paper's order (Figure 5's rows and columns) and their pipeline steps. */
const OPS: readonly { name: string; steps: (ctx: StudyContext) => AugmentStepConfig[] }[] = [
  // Another random crop of the crop, with the flip the paper's crop includes.
  {
    name: 'crop',
    steps: (c) => [{ op: 'randomResizedCrop', scale: [c.base.cropMinScale, 1] }, { op: 'horizontalFlip' }],
  },
  { name: 'cutout', steps: () => [{ op: 'cutout', p: 1 }] },
  // The paper's colour distortion: jitter (p 0.8) and random grayscale (p 0.2; nothing to do on one channel).
  {
    name: 'colour',
    steps: (c) => [
      { op: 'colorJitter', p: 0.8, strength: c.base.colorStrength },
      ...(c.grayscale ? [] : [{ op: 'grayscale', p: 0.2 }]),
    ],
  },
  { name: 'sobel', steps: () => [{ op: 'sobel', p: 1 }] },
  { name: 'noise', steps: () => [{ op: 'gaussianNoise', p: 1 }] },
  { name: 'blur', steps: () => [{ op: 'gaussianBlur', p: 1 }] },
  { name: 'rotate', steps: () => [{ op: 'rotation', p: 1 }] },
];

export const OP_NAMES: readonly string[] = OPS.map((o) => o.name);

const pairId = (row: string, col: string): string => (row === col ? row : `${row}_${col}`);

function cells(ctx: StudyContext): StudyCell[] {
  const shared: AugmentStepConfig = { op: 'randomResizedCrop', shared: true, scale: [ctx.base.cropMinScale, 1] };
  return OPS.flatMap((row) =>
    OPS.map((col) => ({
      id: pairId(row.name, col.name),
      label: row === col ? `${row.name} alone` : `${row.name} then ${col.name}`,
      position: { row: row.name, col: col.name },
      config: {
        augment: [shared],
        augment2: [shared, ...row.steps(ctx), ...(row === col ? [] : col.steps(ctx))],
        // The lists carry these settings in their ops; the flags are left to the preset beside a list.
        colorStrength: null,
        cropMinScale: null,
        blur: null,
      },
    })),
  );
}

export const augmentPairs: StudyDefinition = {
  name: 'augment-pairs',
  summary: 'single augmentations and ordered pairs on one branch, after a shared random crop (paper Figure 5)',
  paper: 'Figure 5',
  chart: { kind: 'heatmap' },
  cells,
  findings(_ctx, means) {
    const pairs = OPS.flatMap((r) => OPS.filter((c) => c !== r).map((c) => pairId(r.name, c.name)));
    const best = (ids: readonly string[]): string =>
      ids.reduce((a, b) => ((means(b)?.mean ?? -Infinity) > (means(a)?.mean ?? -Infinity) ? b : a));
    const otherPairs = pairs.filter((id) => id !== 'crop_colour');
    return [
      { claim: 'crop then colour beats crop alone', source: 'Figure 5', a: 'crop_colour', b: 'crop' },
      { claim: 'crop then colour beats colour alone', source: 'Figure 5', a: 'crop_colour', b: 'colour' },
      {
        claim: 'crop then colour is the strongest pair',
        source: 'Figure 5, section 3',
        a: 'crop_colour',
        b: best(otherPairs),
        note: 'b is the best other pair by mean',
      },
      {
        claim: 'composing two ops beats any single op',
        source: 'section 3',
        a: best(pairs),
        b: best(OP_NAMES),
        note: 'a is the best pair and b the best single op, by mean',
      },
    ];
  },
};
