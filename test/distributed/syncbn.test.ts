// SyncBatchNorm on two processes against one BatchNorm over the whole batch: outputs, input and parameter gradients,
// running statistics and eval mode agree to float32 rounding (ranks hold 3 and 5 rows, so counts are weighted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { floats, syncBnCase, KINDS, type Kind } from './syncbn-case.js';
import { freePort, rankEnv, sibling, start } from './spawn.js';

type Values = number[] | null;
interface RankOut {
  y: Values;
  xGrad: Values;
  wGrad: Values;
  bGrad: Values;
  runningMean: Values;
  runningVar: Values;
  tracked: number | null;
  evalY: Values;
}

function close(actual: Values, expected: Values, what: string, tol = 2e-5): void {
  if (expected === null) {
    assert.equal(actual, null, what);
    return;
  }
  assert.ok(actual !== null, `${what}: missing`);
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const e = expected[i]!;
    assert.ok(Math.abs(actual[i]! - e) <= tol * (1 + Math.abs(e)), `${what}[${i}]: ${actual[i]} vs ${e}`);
  }
}

const sum = (a: Values, b: Values): Values => (a === null || b === null ? null : a.map((v, i) => v + b[i]!));

test('SyncBatchNorm over 2 ranks (3 + 5 rows) equals BatchNorm over the 8 rows, forward and backward', async () => {
  const port = await freePort();
  const ranks = [0, 1].map((r) => start(sibling('syncbn-rank'), [], rankEnv(r, 2, port, 30), 120_000));
  const done = await Promise.all(ranks.map((r) => r.done));
  for (const d of done) assert.equal(d.code, 0, d.stderr);
  const outs = done.map((d) => JSON.parse(d.stdout.trim()) as Record<Kind, RankOut>);
  for (const kind of KINDS) {
    const { bn, x, c } = syncBnCase(kind);
    const xr = x.detach().requiresGrad_();
    const y = bn.call(xr);
    y.mul(c).sum().backward();
    const [o0, o1] = [outs[0]![kind], outs[1]![kind]];
    close([...o0.y!, ...o1.y!], floats(y), `${kind} y`);
    close([...o0.xGrad!, ...o1.xGrad!], floats(xr.grad), `${kind} x grad`);
    // Each rank holds the parameter gradient of its own rows; their sum is the whole batch's (DDP then averages).
    close(sum(o0.wGrad, o1.wGrad), floats(bn.weight?.grad), `${kind} weight grad`);
    close(sum(o0.bGrad, o1.bGrad), floats(bn.bias?.grad), `${kind} bias grad`);
    for (const o of [o0, o1]) {
      close(o.runningMean, floats(bn.runningMean), `${kind} running mean`);
      close(o.runningVar, floats(bn.runningVar), `${kind} running var`);
      assert.equal(o.tracked, bn.numBatchesTracked?.item() ?? null);
    }
    if (bn.trackRunningStats) {
      bn.eval();
      for (const [r, o] of [o0, o1].entries())
        close(o.evalY, floats(bn.call(x.narrow(0, 0, 2 + r))), `${kind} eval y (rank ${r})`);
    }
  }
});
