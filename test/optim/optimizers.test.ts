import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { SGD, AdamW, LARS, larsParamGroups, isBiasOrNorm, LARS_DEFAULTS } from '../../src/optim/index.js';
import { golden, makeParams, setGrads, assertClose, values } from './golden.js';

// Python groups 2-d weights first, then 1-d parameters; state indices follow that order.
function byRank(params: torch.Tensor[]): [torch.Tensor[], torch.Tensor[]] {
  return [params.filter((p) => p.ndim > 1), params.filter((p) => p.ndim <= 1)];
}

test('SGD over 3 steps equals torch.optim.SGD (momentum, Nesterov, dampening, weight decay, per-group lr)', () => {
  for (const c of golden.sgd) {
    const params = makeParams(c);
    const [weights, vectors] = byRank(params);
    const opt = new SGD([{ params: weights }, { params: vectors, weightDecay: 0 }], { lr: c.lrs[0]!, ...c.options });
    for (const [s, lr] of c.lrs.entries()) {
      opt.lr = lr;
      opt.paramGroups[1]!.lr = 2 * lr;
      setGrads(params, c, s);
      opt.step();
    }
    const what = `SGD ${JSON.stringify(c.options)}`;
    for (const [i, p] of params.entries())
      assertClose(values(p), c.expected.params[i]!, 1e-6, `${what} ${c.params[i]!.name}`);
    torch.scope(() => {
      const sd = opt.stateDict();
      const names = Object.keys(sd.tensors).sort();
      assert.deepEqual(
        names,
        Object.keys(c.expected.momentumBuffer)
          .map((i) => `${i}.momentumBuffer`)
          .sort(),
        `${what} buffers`,
      );
      for (const [i, buf] of Object.entries(c.expected.momentumBuffer))
        assertClose(values(sd.tensors[`${i}.momentumBuffer`]!), buf, 1e-6, `${what} buffer ${i}`);
    });
  }
});

test('AdamW over 3 steps equals torch.optim.AdamW (bias correction, decoupled decay, a lagging parameter)', () => {
  for (const c of golden.adamw) {
    const params = makeParams(c);
    const [weights, vectors] = byRank(params);
    const opt = new AdamW([{ params: weights }, { params: vectors, weightDecay: 0 }], { lr: c.lrs[0]!, ...c.options });
    for (const [s, lr] of c.lrs.entries()) {
      opt.lr = lr;
      opt.paramGroups[1]!.lr = 0.5 * lr;
      setGrads(params, c, s);
      opt.step();
    }
    const what = `AdamW ${JSON.stringify(c.options)}`;
    for (const [i, p] of params.entries())
      assertClose(values(p), c.expected.params[i]!, 1e-6, `${what} ${c.params[i]!.name}`);
    torch.scope(() => {
      const sd = opt.stateDict();
      const steps = Object.values(c.expected.state).map((st) => st.step);
      assert.ok(new Set(steps).size > 1, 'the golden case has a parameter that missed a step');
      for (const [i, st] of Object.entries(c.expected.state)) {
        assert.equal(sd.meta.scalars[i]!.step, st.step, `${what} step of ${i}`);
        assertClose(values(sd.tensors[`${i}.expAvg`]!), st.expAvg, 1e-6, `${what} expAvg ${i}`);
        assertClose(values(sd.tensors[`${i}.expAvgSq`]!), st.expAvgSq, 1e-6, `${what} expAvgSq ${i}`);
      }
    });
  }
});

test('LARS over 3 steps equals an independent float64 implementation of the TensorFlow semantics', () => {
  for (const c of golden.lars) {
    const params = makeParams(c);
    const named = c.params.map((p, i) => [p.name, params[i]!] as const);
    const opt = new LARS(larsParamGroups(named, { weightDecay: c.options.weightDecay }), {
      lr: c.lrs[0]!,
      momentum: c.options.momentum,
      eta: c.options.eta,
    });
    for (const [s, lr] of c.lrs.entries()) {
      opt.lr = lr;
      setGrads(params, c, s);
      opt.step();
    }
    const what = `LARS ${JSON.stringify(c.options)}`;
    const order = [...byRank(params)[0], ...byRank(params)[1]];
    torch.scope(() => {
      const sd = opt.stateDict();
      for (const [i, p] of params.entries()) {
        const name = c.params[i]!.name;
        assertClose(values(p), c.expected.params[i]!, 1e-5, `${what} ${name}`);
        // The velocity is the size of the update itself: compare it on its own scale.
        const v = sd.tensors[`${order.indexOf(p)}.momentum`]!;
        const expected = c.expected.state.momentum[i]!;
        const scale = Math.max(...expected.map(Math.abs));
        assertClose(
          Array.from(values(v), (x) => x / scale),
          expected.map((x) => x / scale),
          1e-5,
          `${what} velocity ${name}`,
        );
      }
    });
  }
});

test('larsParamGroups excludes biases and norm parameters from weight decay and adaptation', () => {
  torch.scope(() => {
    const conv = torch.zeros([8, 3, 3, 3]);
    const bnWeight = torch.ones([8]);
    const fcBias = torch.zeros([10]);
    const fc = torch.zeros([10, 8]);
    const namedBias = torch.zeros([2, 2]);
    const groups = larsParamGroups(
      new Map([
        ['conv1.weight', conv],
        ['bn1.weight', bnWeight],
        ['fc.bias', fcBias],
        ['fc.weight', fc],
        ['odd.bias_matrix', namedBias],
      ]),
      { weightDecay: 1e-4 },
    );
    assert.equal(groups.length, 2);
    assert.deepEqual(groups[0]!.params, [conv, fc]);
    assert.equal(groups[0]!.weightDecay, 1e-4);
    assert.equal(groups[0]!.excludeFromAdaptation, undefined);
    assert.deepEqual(groups[1]!.params, [bnWeight, fcBias, namedBias]);
    assert.equal(groups[1]!.weightDecay, 0);
    assert.equal(groups[1]!.excludeFromAdaptation, true);
    assert.equal(isBiasOrNorm('block.batch_normalization.gamma', conv), true);
    assert.equal(larsParamGroups([['w', conv]]).length, 1);
    assert.equal(larsParamGroups([['w', conv]])[0]!.weightDecay, LARS_DEFAULTS.weightDecay);
    const opt = new LARS(groups, { lr: 1 });
    assert.deepEqual(
      opt.paramGroups.map((g) => [g.momentum, g.eta, g.weightDecay, g.excludeFromAdaptation]),
      [
        [0.9, 0.001, 1e-4, false],
        [0.9, 0.001, 0, true],
      ],
    );
  });
});

test('LARS leaves the decayed gradient in p.grad', () => {
  torch.scope(() => {
    const w = torch.full([2, 2], 2, { requiresGrad: true });
    const opt = new LARS([w], { lr: 1, weightDecay: 0.5 });
    w.grad = torch.ones([2, 2]);
    opt.step();
    assert.deepEqual(Array.from(values(w.grad!)), [2, 2, 2, 2]);
    // trust = 0.001 * ||w|| / ||g|| = 0.001 * 4 / 4, so w = 2 - 0.001 * 2.
    for (const x of values(w)) assert.ok(Math.abs(x - 1.998) < 1e-6, `${x}`);
  });
});

test('step skips parameters without gradients and zeroGrad clears them', () => {
  torch.scope(() => {
    const a = torch.ones([3], { requiresGrad: true });
    const b = torch.ones([2, 2], { requiresGrad: true });
    const opt = new SGD([a, b], { lr: 0.5, momentum: 0.9 });
    a.grad = torch.full([3], 2);
    opt.step();
    assert.deepEqual(Array.from(values(a)), [0, 0, 0]);
    assert.deepEqual(Array.from(values(b)), [1, 1, 1, 1]);
    assert.deepEqual(Object.keys(opt.stateDict().tensors), ['0.momentumBuffer']);
    opt.zeroGrad(false);
    assert.deepEqual(Array.from(values(a.grad!)), [0, 0, 0]);
    opt.zeroGrad();
    assert.equal(a.grad, null);
    assert.equal(opt.lr, 0.5);
    opt.lr = 0.1;
    assert.deepEqual(
      opt.paramGroups.map((g) => g.lr),
      [0.1],
    );
  });
});

test('a step leaves no temporaries behind', () => {
  torch.scope(() => {
    const c = golden.lars[0]!;
    const params = makeParams(c);
    const opt = new LARS(larsParamGroups(c.params.map((p, i) => [p.name, params[i]!] as const)), { lr: 0.1 });
    setGrads(params, c, 0);
    opt.step();
    const after1 = torch.memoryStats().liveStorages;
    setGrads(params, c, 1);
    opt.step();
    assert.equal(torch.memoryStats().liveStorages, after1);
  });
});

test('invalid options and parameter lists are rejected', () => {
  torch.scope(() => {
    const p = torch.zeros([2]);
    assert.throws(() => new SGD([], { lr: 0.1 }), RangeError);
    assert.throws(() => new SGD([p], { lr: -1 }), RangeError);
    assert.throws(() => new SGD([p], { lr: 0.1, nesterov: true }), RangeError);
    assert.throws(() => new SGD([{ params: [p] }, { params: [p] }], { lr: 0.1 }), RangeError);
    assert.throws(() => new AdamW([p], { betas: [0.9, 1] }), RangeError);
    assert.throws(() => new LARS([p], { lr: 0.1, eta: 0 }), RangeError);
    assert.throws(() => {
      new SGD([p], { lr: 0.1 }).lr = Number.NaN;
    }, RangeError);
  });
});
