// One rank of the SyncBatchNorm test: rank r normalises its rows of a fixed global batch (ranks hold different row
// counts) with global statistics, backpropagates sum(y * c) over its rows, and prints outputs and gradients as JSON.
import { DistributedContext } from '../../src/distributed/context.js';
import { convertSyncBatchNorm } from '../../src/distributed/syncbn.js';
import { floats, syncBnCase, KINDS, ROWS } from './syncbn-case.js';

const ctx = DistributedContext.fromEnv()!;
const start = ROWS.slice(0, ctx.rank).reduce((a, b) => a + b, 0);
const out: Record<string, unknown> = {};
for (const kind of KINDS) {
  const { bn, x, c } = syncBnCase(kind);
  if (convertSyncBatchNorm(bn, ctx.group) !== 1) throw new Error('expected one converted layer');
  const xr = x.narrow(0, start, ROWS[ctx.rank]!).detach().requiresGrad_();
  const y = bn.call(xr);
  y.mul(c.narrow(0, start, ROWS[ctx.rank]!))
    .sum()
    .backward();
  out[kind] = {
    y: floats(y),
    xGrad: floats(xr.grad),
    wGrad: floats(bn.weight?.grad),
    bGrad: floats(bn.bias?.grad),
    runningMean: floats(bn.runningMean),
    runningVar: floats(bn.runningVar),
    tracked: bn.numBatchesTracked?.item() ?? null,
    // Eval mode uses the running statistics and no collective (rank 1 evaluates a different batch than rank 0).
    evalY: bn.trackRunningStats ? floats(bn.eval().call(x.narrow(0, 0, 2 + ctx.rank))) : null,
  };
}
process.stdout.write(`${JSON.stringify(out)}\n`);
