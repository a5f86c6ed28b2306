import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as torch from '../../src/torch/index.js';
import { fitLogisticRegression, linearEvaluate, predictLogits } from '../../src/eval/linear.js';
import { topkAccuracy, type Features } from '../../src/features/extract.js';

interface LinearCase {
  name: string;
  l2: number;
  numClasses: number;
  dim: number;
  trainX: number[];
  trainY: number[];
  testX: number[];
  testY: number[];
  weight: number[];
  bias: number[];
  objective: number;
  trainAccuracy: number;
  testAccuracy: number;
}

const golden = JSON.parse(readFileSync(new URL('../golden/eval_linear.json', import.meta.url), 'utf8')) as {
  cases: LinearCase[];
};

function features(x: number[], y: number[], dim: number): Features {
  return { features: torch.tensor(Float32Array.from(x), { shape: [y.length, dim] }), labels: Int32Array.from(y) };
}

function maxRelErr(got: ArrayLike<number>, want: readonly number[]): number {
  const scale = Math.max(...want.map(Math.abs));
  let err = 0;
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!) / scale);
  return err;
}

test('L-BFGS logistic regression matches scikit-learn (multinomial, same C): weights, objective, accuracy', () => {
  for (const c of golden.cases) {
    torch.scope(() => {
      const train = features(c.trainX, c.trainY, c.dim);
      const test = features(c.testX, c.testY, c.dim);
      // Float32 features with default tolerances, as evaluation runs: the objective's rounding limits the weights.
      const model = fitLogisticRegression(train.features, train.labels, { l2: c.l2, numClasses: c.numClasses });
      assert.ok(model.converged, `${c.name}: did not converge in ${model.iterations} iterations`);
      assert.ok(
        Math.abs(model.loss - c.objective) <= 1e-6 * (1 + c.objective),
        `${c.name}: objective ${model.loss} vs ${c.objective}`,
      );
      const wErr = maxRelErr(model.weight.toArray() as Float32Array, c.weight);
      const bErr = maxRelErr(model.bias.toArray() as Float32Array, c.bias);
      assert.ok(wErr < 1e-3 && bErr < 1e-3, `${c.name}: weight error ${wErr}, bias error ${bErr}`);
      const [trainAcc] = topkAccuracy(predictLogits(model, train.features), train.labels, [1]);
      const [testAcc] = topkAccuracy(predictLogits(model, test.features), test.labels, [1]);
      assert.equal(trainAcc, c.trainAccuracy, `${c.name}: train accuracy`);
      assert.equal(testAcc, c.testAccuracy, `${c.name}: test accuracy`);

      // Float64 features and a tight gradient tolerance reach the optimum to float32 output precision.
      const exact = fitLogisticRegression(train.features.double(), train.labels, {
        l2: c.l2,
        gradTol: 1e-10,
        changeTol: 0,
      });
      assert.ok(exact.converged);
      assert.ok(
        Math.abs(exact.loss - c.objective) <= 1e-12,
        `${c.name}: float64 objective ${exact.loss} vs ${c.objective}`,
      );
      assert.ok(maxRelErr(exact.weight.toArray() as Float32Array, c.weight) < 1e-6, `${c.name}: float64 weights`);
      assert.ok(maxRelErr(exact.bias.toArray() as Float32Array, c.bias) < 1e-6, `${c.name}: float64 bias`);
    });
  }
});

test('a warm start reaches the same optimum; a misfit start is refused', () => {
  const c = golden.cases[1]!;
  torch.scope(() => {
    const x = torch.tensor(Float64Array.from(c.trainX), { shape: [c.trainY.length, c.dim] });
    const y = Int32Array.from(c.trainY);
    const tight = { gradTol: 1e-10, changeTol: 0 };
    const cold = fitLogisticRegression(x, y, { l2: c.l2, ...tight });
    const start = fitLogisticRegression(x, y, { l2: c.l2 * 10, ...tight });
    const warm = fitLogisticRegression(x, y, { l2: c.l2, ...tight, init: start });
    assert.ok(warm.converged);
    assert.ok(Math.abs(warm.loss - cold.loss) < 1e-12);
    assert.ok(warm.weight.allclose(cold.weight, 1e-5, 1e-6));
    assert.ok(!start.weight.allclose(cold.weight, 1e-2, 1e-3), 'the start differs from the optimum');
    assert.throws(
      () =>
        fitLogisticRegression(x, y, { l2: c.l2, init: { weight: torch.zeros([2, c.dim]), bias: torch.zeros([2]) } }),
      /init has/,
    );
  });
});

test('linear evaluation picks l2 on a held-out split deterministically and reports test accuracy', () => {
  const c = golden.cases[1]!;
  torch.scope(() => {
    const train = features(c.trainX, c.trainY, c.dim);
    const test = features(c.testX, c.testY, c.dim);
    const opts = { l2Grid: [1e-4, 1e-2, 1, 10], seed: 3 };
    const fits: number[] = [];
    const r = linearEvaluate(train, test, { ...opts, onFit: (f) => fits.push(f.l2) });
    // Strongest first for warm starts, then the refit with the chosen strength; the table is in grid order.
    assert.deepEqual(fits, [10, 1, 1e-2, 1e-4, r.l2]);
    assert.deepEqual(
      r.validation.map((v) => v.l2),
      opts.l2Grid,
    );
    const bestTop1 = Math.max(...r.validation.map((v) => v.top1));
    assert.equal(r.l2, Math.max(...r.validation.filter((v) => v.top1 === bestTop1).map((v) => v.l2)));
    // A penalty of 10 on standardised features is far too strong for these separable-ish clusters.
    assert.ok(r.validation.find((v) => v.l2 === 10)!.top1 < bestTop1);
    // round(20%) of each class's rows.
    assert.equal(
      r.valCount,
      [0, 1, 2, 3].reduce((n, k) => n + Math.round(0.2 * c.trainY.filter((y) => y === k).length), 0),
    );
    assert.equal(r.trainCount, 400);
    assert.equal(r.testCount, 100);
    assert.ok(r.top1 >= 0.8 && r.top5 === 1, `top1 ${r.top1} top5 ${r.top5}`);
    assert.deepEqual(linearEvaluate(train, test, opts), r);
  });
});
