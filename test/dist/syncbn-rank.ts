// One rank of the SyncBatchNorm test: rank r normalises its rows of a fixed global batch (ranks hold different row
// counts) with global statistics, backpropagates sum(y * c) over its rows, and prints outputs and gradients as JSON.
import { DistributedContext } from '../../src/dist/context.js';
import { convertSyncBatchNorm } from '../../src/dist/syncbn.js';
import { syncBnCase, ROWS } from './syncbn-case.js';

const ctx = DistributedContext.fromEnv()!;
const start = ROWS.slice(0, ctx.rank).reduce((a, b) => a + b, 0);
const out: Record<string, unknown> = {};
for (const kind of ['2d', '1d'] as const) {
  const { bn, x, c } = syncBnCase(kind);
  if (convertSyncBatchNorm(bn, ctx.group) !== 1) throw new Error('expected one converted layer');
  const xr = x.narrow(0, start, ROWS[ctx.rank]!).detach().requiresGrad_();
  const y = bn.call(xr);
  y.mul(c.narrow(0, start, ROWS[ctx.rank]!)).sum().backward();
  bn.eval();
  out[kind] = {
    y: [...y.toArray()], xGrad: [...xr.grad!.toArray()], wGrad: [...bn.weight!.grad!.toArray()], bGrad: [...bn.bias!.grad!.toArray()],
    runningMean: [...bn.runningMean!.toArray()], runningVar: [...bn.runningVar!.toArray()], tracked: bn.numBatchesTracked!.item(),
    // Eval mode uses the running statistics and no collective (rank 1 evaluates a different batch than rank 0).
    evalY: [...bn.call(x.narrow(0, 0, 2 + ctx.rank)).toArray()],
  };
}
process.stdout.write(`${JSON.stringify(out)}\n`);

