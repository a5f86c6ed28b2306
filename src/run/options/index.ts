// Every command's option schema, in the README's order: scripts/gen-readme-flags.mjs writes one flag table per entry
// and test/cli/flags-doc.test.ts checks those tables and each command's flags against it. A new command adds its
// schema here (README, How it is built).
import type { CommandSchema } from './fields.js';
import { AUGMENT } from './augment.js';
import { DEMO } from './demo.js';
import { DOCTOR } from './doctor.js';
import { EMBED } from './embed.js';
import { EVAL_KNN, EVAL_LINEAR } from './eval.js';
import { EXPLORE } from './explore.js';
import { EXPORT } from './export.js';
import { FINETUNE } from './finetune.js';
import { INFO } from './info.js';
import { LAUNCH } from './launch.js';
import { PRETRAIN } from './pretrain.js';
import { REPORT } from './report.js';
import { STUDY } from './study.js';

export const COMMAND_SCHEMAS: readonly CommandSchema[] = [
  PRETRAIN,
  EVAL_KNN,
  EVAL_LINEAR,
  FINETUNE,
  EMBED,
  EXPLORE,
  EXPORT,
  REPORT,
  AUGMENT,
  INFO,
  DOCTOR,
  DEMO,
  LAUNCH,
  STUDY,
];
