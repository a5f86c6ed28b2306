// A process that watches its parent as simclr's children do (src/io/parent.ts) and reports each SIGTERM on stdout
// instead of stopping: test/cli/signals.test.ts counts what the watcher sends once the parent's pipe closes.
import { watchParent } from '../../src/io/parent.js';

let n = 0;
process.on('SIGTERM', () => {
  n++;
  process.stdout.write(`SIGTERM ${n}\n`);
});
watchParent();
process.stdout.write('watching\n');
setInterval(() => {}, 1 << 30);
