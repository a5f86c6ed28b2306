// Resumes the run in argv[2] up to argv[3] steps, as `simclr pretrain --resume --out DIR --max-steps N` does.
import { pretrain } from '../../src/train/pretrain.js';
import { readRunConfig } from '../../src/run/folder.js';
import { resolveConfig } from '../../src/run/config.js';

const dir = process.argv[2]!;
const cfg = resolveConfig({ ...readRunConfig(dir).config, maxSteps: Number(process.argv[3]) });
await pretrain(cfg, {}, true);
