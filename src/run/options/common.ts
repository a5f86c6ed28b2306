// Option fields and flags that several commands share, each written once: a command's schema composes them with its
// own (src/run/options/<command>.ts). A field keeps its check and default wherever it is used; a command that words its
// help differently rewords it with `reworded`, so the check stays the shared one.
import { DEFAULT_EVAL_BATCH_SIZE } from '../../features/extract.js';
import { SHARED_BOUNDS as B } from '../bounds.js';
import {
  bool,
  matching,
  num,
  numOrNull,
  required,
  text,
  type CliOnlyFlag,
  type Field,
  type FlagDoc,
  type NumField,
} from './fields.js';

/** The same field with other help and README text (its check, default and bound unchanged). */
export function reworded<X extends Field<unknown>>(field: X, cli: FlagDoc): X {
  return { ...field, cli };
}

/** --device: checked as a device spec here, resolved to a device when the command starts (torch.resolveDevice). */
export function device(cli: FlagDoc): Field<string> {
  return matching(/^(auto|cpu|cuda(:\d+)?)$/, 'cpu, cuda, cuda:N or auto', 'auto', cli);
}

/** --device of the commands that compute in one process (eval, finetune, embed, demo). */
export const DEVICE = device({
  arg: '<dev>',
  help: 'cpu | cuda | cuda:N | auto: the first visible GPU, else the CPU (default {default})',
  readme: {
    meaning: '`cpu`, `cuda`, `cuda:N`, or `auto`: the first visible GPU when the libtorch has CUDA, else the CPU',
  },
});

/** null = all cores (SIMCLR_NUM_THREADS or OMP_NUM_THREADS when set). */
export const THREADS = numOrNull(B.threads, {
  arg: '<n>',
  help: 'intra-op threads (default: all cores)',
  readme: { default: 'all cores', meaning: 'libtorch intra-op threads' },
});

/** --json: the result as exactly one JSON object on stdout, and no progress on stderr. */
export const JSON_OUTPUT = bool(false, { help: 'print exactly one JSON object on stdout (and no progress on stderr)' });

/** --run: a pretraining run folder, read for its settings and its last checkpoint. */
export const RUN = required('(the pretraining run folder)', {
  arg: '<dir>',
  help: 'pretraining run folder (uses its last checkpoint)',
  readme: { flag: '`--run DIR`', meaning: 'pretraining run folder; its last checkpoint unless `--checkpoint`' },
});

/** --data, required: a dataset spec (src/data/spec.ts); `help` and `meaning` say what the command reads of it. */
export function dataSpec(help: string, meaning: string): Field<string> {
  return required('(e.g. --data fashion-mnist)', { arg: '<spec>', help, readme: { flag: '`--data SPEC`', meaning } });
}

/** --checkpoint: null = RUN/checkpoints/last.safetensors. */
export const CHECKPOINT = text(null, {
  arg: '<file>',
  help: 'use this checkpoint instead of RUN/checkpoints/last.safetensors',
  readme: { flag: '`--checkpoint FILE`', meaning: 'use this checkpoint instead of `RUN/checkpoints/last.safetensors`' },
});

/** --limit and the like: only the first n samples of `which` ('training samples'); null = all of them. */
export function firstSamples(which: string): NumField<number | null> {
  return numOrNull(B.positiveCount, { arg: '<n>', help: `use only the first n ${which}`, readme: { default: 'all' } });
}

/** The encoder's images per forward pass: memory grows with it, the features do not depend on it. */
const EVAL_BATCH_SIZE = num({ kind: 'int', min: 1, max: 1 << 16 }, DEFAULT_EVAL_BATCH_SIZE, {
  arg: '<n>',
  help: 'images per forward pass: memory, not results (default {default})',
});

/** How a run's encoder computes: eval knn|linear, finetune, embed (each with --json after it). */
export const ENCODER_COMPUTE = { batchSize: EVAL_BATCH_SIZE, device: DEVICE, threads: THREADS };

/** --config FILE: the command's keys from a JSON or YAML file; `help` says what else it may hold. */
export function configFlag(help = 'JSON or YAML file with the same keys as the flags; flags override it'): CliOnlyFlag {
  return {
    key: 'config',
    readsConfig: true,
    cli: {
      arg: '<file>',
      help,
      readme: {
        flag: '`--config FILE`',
        meaning: 'JSON or YAML with the same keys (kebab-case or camelCase); flags override it',
      },
    },
  };
}
