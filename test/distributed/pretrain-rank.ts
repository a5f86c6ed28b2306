// Runs pretrain() with the configuration given as JSON in argv[2]; a rank of a distributed run when the environment
// names one (RANK, WORLD_SIZE, ...), a single process otherwise. Errors go to stderr as "Name: message", exit code 1.
import { pretrain } from '../../src/train/pretrain.js';
import { resolveConfig } from '../../src/run/config.js';

try {
  const result = await pretrain(resolveConfig(JSON.parse(process.argv[2]!) as Record<string, unknown>));
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (e) {
  const err = e as Error;
  process.stderr.write(`${err.name}: ${err.message}\n`);
  process.exitCode = 1;
}
