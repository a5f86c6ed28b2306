// SyncBatchNorm on two processes against one BatchNorm over the whole batch: outputs, input and parameter gradients,
// running statistics and eval mode agree to float32 rounding (ranks hold 3 and 5 rows, so counts are weighted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { syncBnCase } from './syncbn-case.js';
import { freePort, rankEnv, sibling, start } from './spawn.js';

interface RankOut {
  y: number[]; xGrad: number[]; wGrad: number[]; bGrad: number[]; runningMean: number[]; runningVar: number[]; tracked: number; evalY: number[];
}

function close(actual: readonly number[], expected: ArrayLike<number>, what: string, tol = 2e-5): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const e = expected[i]!;
    assert.ok(Math.abs(actual[i]! - e) <= tol * (1 + Math.abs(e)), `${what}[${i}]: ${actual[i]} vs ${e}`);
  }
}

test('SyncBatchNorm over 2 ranks (3 + 5 rows) equals BatchNorm over the 8 rows, forward and backward', async () => {
  const port = await freePort();
  const ranks = [0, 1].map((r) => start(sibling('syncbn-rank'), [], rankEnv(r, 2, port, 30), 120_000));
  const done = await Promise.all(ranks.map((r) => r.done));
  for (const d of done) assert.equal(d.code, 0, d.stderr);
  const outs = done.map((d) => JSON.parse(d.stdout.trim()) as Record<'2d' | '1d', RankOut>);
  for (const kind of ['2d', '1d'] as const) {
    const { bn, x, c } = syncBnCase(kind);
    const xr = x.detach().requiresGrad_();
    const y = bn.call(xr);
    y.mul(c).sum().backward();
    const [o0, o1] = [outs[0]![kind], outs[1]![kind]];
    close([...o0.y, ...o1.y], y.toArray() as Float32Array, `${kind} y`);
    close([...o0.xGrad, ...o1.xGrad], xr.grad!.toArray() as Float32Array, `${kind} x grad`);
    // Each rank holds the parameter gradient of its own rows; their sum is the whole batch's (DDP then averages).
    close(o0.wGrad.map((v, i) => v + o1.wGrad[i]!), bn.weight!.grad!.toArray() as Float32Array, `${kind} weight grad`);
    close(o0.bGrad.map((v, i) => v + o1.bGrad[i]!), bn.bias!.grad!.toArray() as Float32Array, `${kind} bias grad`);
    for (const o of [o0, o1]) {
      close(o.runningMean, bn.runningMean!.toArray() as Float32Array, `${kind} running mean`);
      close(o.runningVar, bn.runningVar!.toArray() as Float32Array, `${kind} running var`);
      assert.equal(o.tracked, 1);
    }
    bn.eval();
    for (const [r, o] of [o0, o1].entries()) close(o.evalY, bn.call(x.narrow(0, 0, 2 + r)).toArray() as Float32Array, `${kind} eval y (rank ${r})`);
  }
});
