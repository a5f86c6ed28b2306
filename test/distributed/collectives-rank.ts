// One rank of the collectives test: joins a group (argv[2]: 'tcp' or 'file:PATH'), runs every collective on
// rank-dependent values and prints the results as JSON on stdout for the test to check.
import * as torch from '../../src/torch/index.js';
import { initFromEnv, initProcessGroup } from '../../src/distributed/env.js';

const mode = process.argv[2]!;
const rank = Number(process.env.RANK);
const world = Number(process.env.WORLD_SIZE);
const group =
  mode === 'tcp'
    ? initFromEnv()!.group
    : initProcessGroup({
        rank,
        worldSize: world,
        initMethod: `file://${mode.slice('file:'.length)}`,
        timeoutMs: 20_000,
        hostname: '127.0.0.1',
      });

const out: Record<string, unknown> = { rank: group.rank, size: group.size, backend: group.backend };

// allReduce over a list of two dtypes (coalesced per dtype), sum and max.
const a = torch.tensor([rank + 1, 10 * (rank + 1)]);
const b = torch.tensor([rank + 1], { dtype: 'int64' });
group.allReduce([a, b]);
out.sum = [...a.toArray()];
out.sumInt = Number(b.item());
const m = torch.tensor([rank, -rank]);
group.allReduce(m, 'max');
out.max = [...m.toArray()];

// broadcast from the last rank.
const c = torch.full([3], rank);
group.broadcast(c, world - 1);
out.broadcast = [...c.toArray()];

out.gathered = group.allGather(torch.tensor([rank, rank * rank])).map((t) => [...t.toArray()]);
group.barrier();

// Differentiable all-gather: loss_r = sum(gathered * w_r) with w_r = r + 1, so d(sum_r loss_r)/dx = sum_r w_r.
const x = torch.tensor([[rank + 1, rank + 2]]).requiresGrad_();
const g = torch.distributed.allGatherCat(x, group);
out.catShape = g.shape;
out.catValues = [...g.toArray()];
out.catGradFn = g.gradFn;
g.mul(rank + 1)
  .sum()
  .backward();
out.catGrad = [...x.grad!.toArray()];

// Differentiable all-reduce: same weights.
const y = torch.tensor([1, 2]).requiresGrad_();
const s = torch.distributed.allReduceSum(y.mul(rank + 1), group);
out.reduceValues = [...s.toArray()];
s.mul(rank + 1)
  .sum()
  .backward();
out.reduceGrad = [...y.grad!.toArray()];

// Bucketed gradient averaging: gradients (r + 1) * k for parameter k, tiny buckets so there are several.
const params = [0, 1, 2].map((k) => torch.zeros([k + 2]).requiresGrad_());
const reducer = new torch.distributed.GradReducer(group, params, { bucketBytes: 8 });
out.buckets = reducer.bucketSizes;
for (const armed of [true, false]) {
  for (const p of params) p.grad = null;
  if (armed) reducer.arm();
  // Parameter 2 gets no gradient on rank 0: it must count as zero there.
  const used = rank === 0 ? params.slice(0, 2) : params;
  torch
    .stack(used.map((p, k) => p.sum().mul((rank + 1) * (k + 1))))
    .sum()
    .backward();
  reducer.finish();
  out[armed ? 'avgArmed' : 'avgAfter'] = params.map((p) => [...p.grad!.toArray()]);
}

process.stdout.write(`${JSON.stringify(out)}\n`);
group.close();
