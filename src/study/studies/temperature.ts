// The paper's Table 5: NT-Xent at temperatures 0.05 to 1 with l2 normalisation, and without it (where dot products
// are unbounded, at 1, 10 and 100). Normalisation with a moderate temperature works best.
import type { StudyCell, StudyDefinition } from '../definition.js';

export const NORMALISED: readonly number[] = [0.05, 0.1, 0.2, 0.5, 1];
export const RAW: readonly number[] = [1, 10, 100];

const id = (t: number, norm: boolean): string => `${norm ? '' : 'raw_'}t${t}`;

export const temperature: StudyDefinition = {
  name: 'temperature',
  summary: 'NT-Xent temperature 0.05 to 1 with l2 normalisation, and 1 to 100 without (paper Table 5)',
  paper: 'Table 5',
  chart: { kind: 'line', xLabel: 'temperature' },
  cells: (): StudyCell[] =>
    [true, false].flatMap((norm) =>
      (norm ? NORMALISED : RAW).map((t) => ({
        id: id(t, norm),
        label: `temperature ${t}${norm ? '' : ', no l2 norm'}`,
        position: { x: String(t), series: norm ? 'l2 norm' : 'no l2 norm' },
        config: { loss: 'ntxent', temperature: t, l2Normalize: norm },
      })),
    ),
  findings(_ctx, means) {
    const best = (ids: readonly string[]): string =>
      ids.reduce((a, b) => ((means(b)?.mean ?? -Infinity) > (means(a)?.mean ?? -Infinity) ? b : a));
    return [
      {
        claim: 'a moderate temperature (0.1 to 0.5) beats 1',
        source: 'Table 5',
        a: best([0.1, 0.2, 0.5].map((t) => id(t, true))),
        b: id(1, true),
        note: 'a is the best of 0.1, 0.2 and 0.5 by mean',
      },
      {
        claim: 'l2 normalisation beats raw dot products',
        source: 'Table 5',
        a: best(NORMALISED.map((t) => id(t, true))),
        b: best(RAW.map((t) => id(t, false))),
        note: 'each side at its best temperature by mean',
      },
    ];
  },
};
