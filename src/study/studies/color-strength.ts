// The paper's Table 1: the default augmentation (crop, flip, colour distortion) at colour strengths 1/8 to 1, without
// and with Gaussian blur. Stronger colour distortion helps contrastive learning more than supervised learning.
import type { StudyCell, StudyDefinition } from '../definition.js';

export const STRENGTHS: readonly number[] = [0.125, 0.25, 0.5, 1];
const FRACTIONS: Readonly<Record<number, string>> = { 0.125: '1/8', 0.25: '1/4', 0.5: '1/2', 1: '1' };

const id = (s: number, blur: boolean): string => `s${s}${blur ? '_blur' : ''}`;

export const colorStrength: StudyDefinition = {
  name: 'color-strength',
  summary: 'colour distortion strength 1/8 to 1, without and with blur (paper Table 1)',
  paper: 'Table 1',
  chart: { kind: 'line', xLabel: 'colour distortion strength' },
  cells: (): StudyCell[] =>
    [false, true].flatMap((blur) =>
      STRENGTHS.map((s) => ({
        id: id(s, blur),
        label: `strength ${FRACTIONS[s]}${blur ? ' + blur' : ''}`,
        position: { x: FRACTIONS[s]!, series: blur ? 'with blur' : 'no blur' },
        config: { colorStrength: s, blur },
      })),
    ),
  findings: () => [
    { claim: 'stronger colour distortion helps (1 vs 1/8)', source: 'Table 1', a: id(1, false), b: id(0.125, false) },
    { claim: 'stronger colour distortion helps (1 vs 1/2)', source: 'Table 1', a: id(1, false), b: id(0.5, false) },
    { claim: 'blur on top of full-strength colour helps', source: 'Table 1', a: id(1, true), b: id(1, false) },
  ],
};
