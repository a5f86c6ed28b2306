// The paper's Figure 8 and section 4.2: no projection head, a linear one and the nonlinear MLP (each at two sizes of
// z), evaluated on h and on z = g(h). A nonlinear head improves the representation before it; h beats z.
import type { StudyCell, StudyDefinition } from '../definition.js';

export const DIMS: readonly number[] = [32, 128];

export const head: StudyDefinition = {
  name: 'head',
  summary: 'no head, linear, nonlinear (z of 32 and 128), evaluated on h and z (paper Figure 8, section 4.2)',
  paper: 'Figure 8, section 4.2',
  chart: { kind: 'bar', xLabel: 'projection head', seriesBy: 'features' },
  cells: (): StudyCell[] => [
    { id: 'none', label: 'no head (z = h)', position: { x: 'none', series: '' }, config: { projLayers: 0 } },
    ...(['linear', 'nonlinear'] as const).flatMap((kind) =>
      DIMS.map((dim) => ({
        id: `${kind}_${dim}`,
        label: `${kind} head, z of ${dim}`,
        position: { x: `${kind} ${dim}`, series: '' },
        config: { projLayers: kind === 'linear' ? 1 : 2, projDim: dim },
        features: ['h', 'z'] as const,
      })),
    ),
  ],
  findings: () => [
    {
      claim: 'a nonlinear head improves h over a linear head',
      source: 'Figure 8',
      a: 'nonlinear_128',
      b: 'linear_128',
    },
    { claim: 'a nonlinear head improves h over no head', source: 'Figure 8', a: 'nonlinear_128', b: 'none' },
    {
      claim: 'h is better than z = g(h)',
      source: 'section 4.2',
      a: 'nonlinear_128',
      b: 'nonlinear_128',
      bMetric: 'knn_z_top1',
    },
  ],
};
