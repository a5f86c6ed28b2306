import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import {
  SGD,
  AdamW,
  LARS,
  larsParamGroups,
  type Optimizer,
  type GroupOptions,
  type OptimizerStateDict,
} from '../../src/optim/index.js';
import { golden, makeParams, setGrads, values, type OptimCase } from './golden.js';

type Build = (params: torch.Tensor[], c: OptimCase<unknown, unknown>) => Optimizer<GroupOptions>;

const buildLars = (params: torch.Tensor[], c: OptimCase<unknown, unknown>): LARS =>
  new LARS(
    larsParamGroups(
      c.params.map((p, i) => [p.name, params[i]!] as const),
      { weightDecay: 0.1 },
    ),
    { lr: 0.5 },
  );

const builders: Record<string, Build> = {
  SGD: (params) =>
    new SGD([{ params: params.slice(0, 3) }, { params: params.slice(3), weightDecay: 0 }], {
      lr: 0.1,
      momentum: 0.9,
      nesterov: true,
      weightDecay: 0.01,
    }),
  AdamW: (params) =>
    new AdamW([{ params: params.slice(0, 3), lr: 0.02 }, { params: params.slice(3) }], { weightDecay: 0.1 }),
  LARS: buildLars,
};

/** Runs steps [from, to) of the golden gradients with the lr changing every step, as a schedule would. */
function run(
  opt: Optimizer<GroupOptions>,
  params: torch.Tensor[],
  c: OptimCase<unknown, unknown>,
  from: number,
  to: number,
): void {
  for (let s = from; s < to; s++) {
    opt.lr = c.lrs[s]!;
    setGrads(params, c, s);
    opt.step();
  }
}

// Through safetensors bytes, the meta as a JSON metadata string, as a checkpoint does.
function roundTrip(sd: OptimizerStateDict): OptimizerStateDict {
  const bytes = torch.safetensors.serialize(sd.tensors, { optimizer: JSON.stringify(sd.meta) });
  for (const t of Object.values(sd.tensors)) t.dispose();
  const loaded = torch.safetensors.deserialize(bytes);
  return {
    tensors: Object.fromEntries(loaded.tensors),
    meta: JSON.parse(loaded.metadata.optimizer!) as OptimizerStateDict['meta'],
  };
}

test('stateDict round trip makes the next step identical', () => {
  const c = golden.sgd[0]!;
  for (const [name, build] of Object.entries(builders)) {
    torch.scope(() => {
      const params = makeParams(c);
      const opt = build(params, c);
      run(opt, params, c, 0, 2);
      const sd = roundTrip(opt.stateDict());
      const copies = params.map((p) => p.detach().clone().requiresGrad_(true));
      const resumed = build(copies, c);
      resumed.paramGroups[0]!.lr = 123;
      const freshParams = copies.map((p) => p.detach().clone().requiresGrad_(true));
      const fresh = build(freshParams, c);
      resumed.loadStateDict(sd);
      for (const t of Object.values(sd.tensors)) t.dispose();
      assert.deepEqual(
        resumed.paramGroups.map((g) => ({ ...g, params: g.params.length })),
        opt.paramGroups.map((g) => ({ ...g, params: g.params.length })),
        `${name} options`,
      );
      run(opt, params, c, 2, 3);
      run(resumed, copies, c, 2, 3);
      run(fresh, freshParams, c, 2, 3);
      for (const [i, p] of params.entries())
        assert.deepEqual(values(copies[i]!), values(p), `${name} param ${i} after resuming`);
      // Without the state the step differs, so the equality above depends on what was loaded.
      assert.ok(
        params.some((p, i) => !p.equal(freshParams[i]!)),
        `${name}: state made no difference`,
      );
    });
  }
});

test('loadStateDict rejects state of another optimizer or layout and keeps its own state then', () => {
  const c = golden.lars[0]!;
  torch.scope(() => {
    const params = makeParams(c);
    const opt = buildLars(params, c);
    run(opt, params, c, 0, 1);
    const good = opt.stateDict();
    const sgd = builders.SGD!(makeParams(c), c);
    assert.throws(() => sgd.loadStateDict(good), TypeError);
    const other = new LARS([{ params: params.slice(0, 2) }], { lr: 1 });
    assert.throws(() => other.loadStateDict(good), RangeError);
    const wrongShape = { ...good, tensors: { ...good.tensors, '0.momentum': torch.zeros([2]) } };
    assert.throws(() => opt.loadStateDict(wrongShape), RangeError);
    const unknownParam = { ...good, tensors: { ...good.tensors, '99.momentum': torch.zeros([2]) } };
    assert.throws(() => opt.loadStateDict(unknownParam), RangeError);
    const badOption = {
      ...good,
      meta: {
        ...good.meta,
        paramGroups: good.meta.paramGroups.map((g) => ({ ...g, options: { ...g.options, momentum: true } })),
      },
    };
    assert.throws(() => opt.loadStateDict(badOption), TypeError);
    const badValue = {
      ...good,
      meta: {
        ...good.meta,
        paramGroups: good.meta.paramGroups.map((g) => ({ ...g, options: { ...g.options, eta: -1 } })),
      },
    };
    assert.throws(() => opt.loadStateDict(badValue), RangeError);
    // The failed loads left the optimizer as it was.
    const after = opt.stateDict();
    assert.deepEqual(Object.keys(after.tensors), Object.keys(good.tensors));
    for (const [k, t] of Object.entries(good.tensors)) assert.ok(t.equal(after.tensors[k]!), k);
    assert.equal(opt.paramGroups[0]!.eta, 0.001);
  });
});

test('loaded buffers follow the parameter dtype', () => {
  torch.scope(() => {
    const p = torch.ones([3], { dtype: 'float64', requiresGrad: true });
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9 });
    const sd: OptimizerStateDict = { tensors: { '0.momentumBuffer': torch.ones([3]) }, meta: opt.stateDict().meta };
    opt.loadStateDict(sd);
    const loaded = opt.stateDict().tensors['0.momentumBuffer']!;
    assert.equal(loaded.dtype, 'float64');
    p.grad = torch.zeros([3], { dtype: 'float64' });
    opt.step();
    // buf = 0.9 * 1 + 0 (not the fresh-start buf = grad = 0), so p = 1 - 0.1 * 0.9.
    for (const x of p.toArray() as Float64Array) assert.ok(Math.abs(x - 0.91) < 1e-15, `${x}`);
  });
});
