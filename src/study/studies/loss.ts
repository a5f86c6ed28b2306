// The paper's Tables 2 and 4: NT-Xent against NT-Logistic and the margin triplet loss, with and without l2
// normalisation of z. NT-Xent with normalisation (and a suitable temperature) works best.
import type { StudyCell, StudyDefinition } from '../definition.js';

const LOSSES = [
  { name: 'ntxent', label: 'NT-Xent' },
  { name: 'ntlogistic', label: 'NT-Logistic' },
  { name: 'margintriplet', label: 'margin triplet' },
] as const;

/**
 * The temperature of the losses without normalisation: dot products of unnormalised z are not bounded by 1, and the
 * paper's unnormalised NT-Xent rows use temperatures of 10 and 100 (Table 5).
 */
export const RAW_TEMPERATURE = 10;
const RAW = RAW_TEMPERATURE;

export const loss: StudyDefinition = {
  name: 'loss',
  summary: 'NT-Xent vs NT-Logistic vs margin triplet, with and without l2 normalisation (paper Tables 2 and 4)',
  paper: 'Tables 2 and 4',
  chart: { kind: 'bar', xLabel: 'loss' },
  cells: (ctx): StudyCell[] =>
    [true, false].flatMap((norm) =>
      LOSSES.map((l) => ({
        id: `${l.name}${norm ? '' : '_raw'}`,
        label: norm ? l.label : `${l.label}, no l2 norm${l.name === 'margintriplet' ? '' : ` (temperature ${RAW})`}`,
        position: { x: l.label, series: norm ? 'l2 norm' : 'no l2 norm' },
        config: { loss: l.name, l2Normalize: norm, temperature: norm ? ctx.base.temperature : RAW_TEMPERATURE },
      })),
    ),
  findings: () => [
    { claim: 'NT-Xent beats NT-Logistic', source: 'Table 4', a: 'ntxent', b: 'ntlogistic' },
    { claim: 'NT-Xent beats the margin triplet loss', source: 'Table 4', a: 'ntxent', b: 'margintriplet' },
    { claim: 'l2 normalisation helps NT-Xent', source: 'Tables 2 and 5', a: 'ntxent', b: 'ntxent_raw' },
  ],
};
