// `simclr export`: a run's encoder as safetensors for torchvision or as ONNX (src/eval/export.ts writes them). The
// format list lives here, below the exporters, so the CLI can offer it without loading them.
import { commandSchema, need, oneOf, required } from './fields.js';
import { CHECKPOINT } from './common.js';

/** What each format `simclr export` writes is (src/eval/export.ts writes them). */
const FORMATS = {
  safetensors: 'the encoder under torchvision ResNet parameter names, the loading recipe in its metadata',
  onnx: 'opset 13, BatchNorm folded into the convolutions, dynamic batch',
} as const;
export type ExportFormat = keyof typeof FORMATS;
export const EXPORT_FORMATS = Object.keys(FORMATS) as readonly ExportFormat[];

export const EXPORT = commandSchema('export', {
  run: required('(the run folder)', {
    arg: '<dir>',
    help: 'run folder',
    readme: { flag: '`--run DIR`', meaning: 'run folder; its last checkpoint unless `--checkpoint`' },
  }),
  checkpoint: CHECKPOINT,
  format: need(
    oneOf(EXPORT_FORMATS, undefined, {
      arg: '<format>',
      help: EXPORT_FORMATS.join(' or '),
      readme: { meaning: EXPORT_FORMATS.map((f) => `\`${f}\`: ${FORMATS[f]}`).join('; ') },
    }),
    `(${EXPORT_FORMATS.join(' or ')})`,
  ),
  out: required('(the file to write)', {
    arg: '<file>',
    help: 'output file',
    readme: { flag: '`--out FILE`', meaning: 'output file' },
  }),
});
