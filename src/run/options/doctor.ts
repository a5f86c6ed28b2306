// `simclr doctor`: the environment for a bug report.
import { commandSchema } from './fields.js';
import { JSON_OUTPUT, reworded } from './common.js';

export const DOCTOR = commandSchema('doctor', {
  json: reworded(JSON_OUTPUT, { help: 'one JSON object instead of text' }),
});
