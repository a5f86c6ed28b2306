// A world-size-1 NCCL process group on cuda:0 (file-store rendezvous): every collective path the training loop uses
// (allReduce, broadcast, allGather, barrier, allGatherCat and allReduceSum with their gradients, SyncBatchNorm against
// batch norm, the bucketed GradReducer with hooks armed), checked against the CPU. One rank keeps values unchanged,
// so these check the plumbing (devices, streams, autograd device threads), not the arithmetic across ranks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '../../src/torch/index.js';

const gpu = { skip: torch.cuda.isAvailable() ? false : 'needs a CUDA GPU (torch.cuda.isAvailable() is false)' };
const DEV = 'cuda:0';

function withGroup(fn: (g: torch.distributed.ProcessGroup) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'simclr-nccl-'));
  try {
    const store = torch.distributed.Store.file(join(dir, 'store'), 1, 60_000);
    const g = new torch.distributed.ProcessGroup(store, 0, 1, { backend: 'nccl', timeoutMs: 60_000, device: DEV });
    try {
      fn(g);
    } finally {
      g.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function near(a: torch.Tensor, b: torch.Tensor, what: string, tol = 1e-5): void {
  const diff = a.cpu().sub(b.cpu()).abs().max().item();
  assert.ok(diff <= tol, `${what}: max |diff| ${diff}`);
}

test('NCCL (1 rank): allReduce, broadcast, allGather and barrier on cuda:0 tensors', gpu, () => {
  withGroup((g) =>
    torch.scope(() => {
      assert.equal(g.backend, 'nccl');
      assert.equal(g.size, 1);
      const a = torch.tensor([1, 2, 3], { device: DEV });
      const b = torch.tensor([[4, 5]], { dtype: 'int64', device: DEV });
      g.allReduce([a, b], 'sum');
      assert.deepEqual(a.tolist(), [1, 2, 3]);
      assert.deepEqual(b.tolist(), [[4, 5]]);
      g.allReduce(a, 'max');
      g.broadcast([a], 0);
      assert.deepEqual(a.tolist(), [1, 2, 3]);
      const parts = g.allGather(a.mul(2));
      assert.equal(parts.length, 1);
      assert.equal(parts[0]!.device, DEV);
      assert.deepEqual(parts[0]!.tolist(), [2, 4, 6]);
      g.barrier();
      // CPU tensors are refused before NCCL sees them, naming the cause.
      assert.throws(() => g.allReduce(torch.tensor([1])), /backend 'nccl' needs CUDA tensors, got one on cpu/);
    }),
  );
});

test('NCCL (1 rank): allGatherCat and allReduceSum forward and backward on cuda:0', gpu, () => {
  withGroup((g) =>
    torch.scope(() => {
      const x = torch.randn([4, 3], { device: DEV }).requiresGrad_();
      const w = torch.randn([4, 3], { device: DEV });
      const y = torch.distributed.allGatherCat(x, g);
      assert.equal(y.gradFn, 'AllGatherBackward');
      near(y, x, 'allGatherCat value');
      y.mul(w).sum().backward();
      near(x.grad!, w, 'allGatherCat grad');
      const z = torch.randn([5], { device: DEV }).requiresGrad_();
      const s = torch.distributed.allReduceSum(z, g);
      near(s, z, 'allReduceSum value');
      s.mul(3).sum().backward();
      near(z.grad!, torch.full([5], 3), 'allReduceSum grad');
    }),
  );
});

test(
  'NCCL (1 rank): syncBatchNorm on cuda:0 equals batch norm in training mode, forward, backward, running stats',
  gpu,
  () => {
    withGroup((g) =>
      torch.scope(() => {
        torch.manualSeed(1);
        const x0 = torch.randn([6, 4, 5, 5]).mul(3).add(1);
        const weight0 = torch.rand([4]).add(0.5);
        const bias0 = torch.randn([4]);
        const c = torch.randn([6, 4, 5, 5]);
        const ref = (): {
          y: torch.Tensor;
          x: torch.Tensor;
          w: torch.Tensor;
          b: torch.Tensor;
          rm: torch.Tensor;
          rv: torch.Tensor;
        } => {
          const x = x0.clone().requiresGrad_();
          const w = weight0.clone().requiresGrad_();
          const b = bias0.clone().requiresGrad_();
          const rm = torch.zeros([4]);
          const rv = torch.ones([4]);
          const y = torch.nn.functional.batchNorm(x, rm, rv, { weight: w, bias: b, training: true });
          y.mul(c).sum().backward();
          return { y, x, w, b, rm, rv };
        };
        const r = ref();
        const x = x0.to(DEV).requiresGrad_();
        const w = weight0.to(DEV).requiresGrad_();
        const b = bias0.to(DEV).requiresGrad_();
        const rm = torch.zeros([4], { device: DEV });
        const rv = torch.ones([4], { device: DEV });
        const y = torch.distributed.syncBatchNorm(x, g, { weight: w, bias: b, runningMean: rm, runningVar: rv });
        assert.equal(y.device, DEV);
        y.mul(c.to(DEV)).sum().backward();
        near(y, r.y, 'output', 1e-4);
        near(x.grad!, r.x.grad!, 'input grad', 1e-4);
        near(w.grad!, r.w.grad!, 'weight grad', 1e-3);
        near(b.grad!, r.b.grad!, 'bias grad', 1e-3);
        near(rm, r.rm, 'running mean');
        near(rv, r.rv, 'running var', 1e-4);
        // bf16 inputs (autocast) are normalised in float32 and come back in bf16.
        const h = torch.distributed.syncBatchNorm(x0.to({ device: DEV, dtype: 'bfloat16' }), g, {});
        assert.equal(h.dtype, 'bfloat16');
      }),
    );
  },
);

test('NCCL (1 rank): GradReducer with hooks armed averages cuda:0 gradients (one rank: unchanged)', gpu, () => {
  withGroup((g) =>
    torch.scope(() => {
      const params = [
        torch.randn([3, 3], { device: DEV }).requiresGrad_(),
        torch.randn([7], { device: DEV }).requiresGrad_(),
        torch.randn([2], { device: DEV }).requiresGrad_(),
      ];
      const reducer = new torch.distributed.GradReducer(g, params, { bucketBytes: 16 });
      assert.ok(reducer.bucketSizes.length >= 2);
      for (let step = 0; step < 3; step++) {
        for (const p of params) p.grad = null;
        reducer.arm();
        const loss = params[0]!
          .pow(2)
          .sum()
          .add(params[1]!.mul(step + 1).sum())
          .add(params[2]!.exp().sum());
        loss.backward();
        reducer.finish();
        near(params[0]!.grad!, params[0]!.mul(2), `step ${step} grad 0`);
        near(params[1]!.grad!, torch.full([7], step + 1), `step ${step} grad 1`);
        near(params[2]!.grad!, params[2]!.exp(), `step ${step} grad 2`);
      }
      assert.throws(
        () => new torch.distributed.GradReducer(g, [torch.zeros([2]).requiresGrad_()]),
        /needs CUDA parameters/,
      );
    }),
  );
});
