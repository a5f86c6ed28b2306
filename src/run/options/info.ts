// `simclr info [RUN]`: a run's summary, or with --env the environment (as `simclr doctor`).
import { bool, commandSchema } from './fields.js';
import { JSON_OUTPUT, reworded } from './common.js';

export const INFO = commandSchema('info', {
  env: bool(false, {
    help: 'libtorch, CPU, BLAS/oneDNN, threads, allocator and CUDA facts for a bug report',
    readme: { meaning: 'the environment instead of a run: libtorch, CPU, BLAS/oneDNN, threads, allocator, CUDA' },
  }),
  json: reworded(JSON_OUTPUT, {
    help: 'with --env: one JSON object',
    readme: { meaning: 'with `--env`: one JSON object' },
  }),
});
