// One rank of the failure test: after a first barrier, rank 1 exits (argv[2] 'exit') or stops answering ('hang')
// while rank 0 enters a second barrier, which must fail within the group's timeout with a message naming the cause.
import { DistributedContext } from '../../src/distributed/context.js';

const how = process.argv[2];
const ctx = DistributedContext.fromEnv()!;
ctx.group.barrier();
if (ctx.rank === 1) {
  if (how === 'exit') process.exit(3);
  // Sleep without an event loop turn: a hung peer that keeps its sockets open.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120_000);
}
process.stderr.write('rank 0 entering the second collective\n');
ctx.anyRank(false);
process.stderr.write('unexpectedly succeeded\n');
