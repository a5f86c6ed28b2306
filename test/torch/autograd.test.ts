// Autograd: higher-order gradients and graph-cutting against PyTorch (test/golden/ops_autograd.json), and the
// .grad / requiresGrad / grad-mode bookkeeping PyTorch users rely on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { goldenSuite } from './golden.js';

goldenSuite('autograd', {
  // The runner back-propagates through the returned gradient, so the checked input gradient is second order.
  second_derivative: (x) => {
    const y = x[0]!.pow(3).mul(x[0]!.sin()).sum();
    return torch.autograd.grad(y, x[0]!, { createGraph: true })[0]!;
  },
  hvp: (x) => {
    const [w, inp] = x;
    const loss = inp!.matmul(w!).tanh().pow(2).sum();
    return torch.autograd.grad(loss, w!, { createGraph: true })[0]!;
  },
  grad_of_grad: (x) => {
    const y = x[0]!.exp().mul(x[1]!).sum();
    const [gx, gy] = torch.autograd.grad(y, [x[0]!, x[1]!], { createGraph: true });
    const [ggx] = torch.autograd.grad(gx!.pow(2).sum(), x[0]!, { createGraph: true });
    return [gx!, gy!, ggx!];
  },
  softplus_chain: (x) => x[0]!.exp().add(1).log().mul(x[1]!).sum(1),
  reuse: (x) => x[0]!.mul(x[0]!).add(x[0]!.sin()),
  detach_block: (x) => x[0]!.mul(x[0]!.detach()),
  nograd_block: (x) => x[0]!.mul(torch.noGrad(() => x[0]!.exp())),
  unused: (x) => x[0]!.mul(2),
});

test('backward with an explicit gradient weights a non-scalar output; without one it is refused', () => {
  torch.scope(() => {
    const x = torch.tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
    const w = torch.tensor([0.5, -1, 4], { dtype: 'float64' });
    x.mul(x).backward(w);
    assert.deepEqual(x.grad!.tolist(), x.mul(2).mul(w).tolist());
    assert.throws(() => x.mul(3).backward(), /grad can be implicitly created only for scalar outputs/);
  });
});

test('gradients accumulate until zeroed or reset to null', () => {
  torch.scope(() => {
    const x = torch.tensor([1, -2], { requiresGrad: true });
    const loss = (): torch.Tensor => x.mul(x).sum();
    loss().backward();
    const once = x.grad!.tolist() as number[];
    loss().backward();
    assert.deepEqual(
      x.grad!.tolist(),
      once.map((g) => 2 * g),
    );
    x.grad!.zero_();
    assert.deepEqual(x.grad!.tolist(), [0, 0], 'the handle from the getter shares the gradient');
    loss().backward();
    assert.deepEqual(x.grad!.tolist(), once);
    x.grad = null;
    assert.equal(x.grad, null);
    loss().backward();
    assert.deepEqual(x.grad!.tolist(), once);
  });
});

test('the grad getter returns a fresh handle each read; disposing it keeps the gradient', () => {
  torch.scope(() => {
    const x = torch.ones([2], { requiresGrad: true });
    x.sum().backward();
    const g1 = x.grad!;
    const g2 = x.grad!;
    assert.notEqual(g1, g2);
    g1.dispose();
    assert.deepEqual(g2.tolist(), [1, 1]);
    assert.deepEqual(x.grad!.tolist(), [1, 1]);
  });
});

test('grad can be set to a tensor of matching dtype and shape only, as in PyTorch', () => {
  torch.scope(() => {
    const x = torch.ones([2], { requiresGrad: true });
    x.grad = torch.tensor([3, 4]);
    assert.deepEqual(x.grad!.tolist(), [3, 4]);
    x.sum().backward();
    assert.deepEqual(x.grad!.tolist(), [4, 5], 'backward accumulates into an assigned grad');
    assert.throws(() => {
      x.grad = torch.ones([3]);
    }, /different size/);
    assert.throws(() => {
      x.grad = torch.ones([2], { dtype: 'float64' });
    }, /different type/);
    assert.throws(() => {
      x.grad = [1, 2] as unknown as torch.Tensor;
    }, TypeError);
  });
});

test('requiresGrad: only floating leaves may change it', () => {
  torch.scope(() => {
    const x = torch.ones([2]);
    x.requiresGrad = true;
    assert.equal(x.requiresGrad, true);
    const y = x.mul(2);
    assert.equal(y.isLeaf, false);
    assert.throws(() => {
      y.requiresGrad = false;
    }, /only change requires_grad flags of leaf variables/);
    assert.throws(() => y.requiresGrad_(false), /only change requires_grad flags of leaf variables/);
    assert.equal(y.requiresGrad_(true), y);
    assert.throws(() => torch.ones([2], { dtype: 'int64', requiresGrad: true }), /floating point and complex dtype/);
  });
});

test('detach and noGrad produce tensors outside the graph; enableGrad re-enables inside noGrad', () => {
  torch.scope(() => {
    const x = torch.ones([2], { requiresGrad: true });
    assert.equal(x.detach().requiresGrad, false);
    const y = x.mul(2);
    assert.equal(y.detach_(), y);
    assert.equal(y.requiresGrad, false);
    assert.equal(y.isLeaf, true);
    assert.equal(torch.isGradEnabled(), true);
    const inner = torch.noGrad(() => {
      assert.equal(torch.isGradEnabled(), false);
      const off = x.mul(2);
      const on = torch.enableGrad(() => x.mul(2));
      assert.equal(torch.isGradEnabled(), false);
      return [off, on] as const;
    });
    assert.equal(inner[0].requiresGrad, false);
    assert.equal(inner[1].requiresGrad, true);
    assert.throws(
      () =>
        torch.noGrad(() => {
          throw new Error('boom');
        }),
      /boom/,
    );
    assert.equal(torch.isGradEnabled(), true, 'grad mode restored after a throw');
    torch.setGradEnabled(false);
    assert.equal(x.mul(2).requiresGrad, false);
    torch.setGradEnabled(true);
  });
});

test('autograd.grad leaves .grad alone, needs allowUnused for unused inputs and retainGraph to run twice', () => {
  torch.scope(() => {
    const x = torch.tensor([1, 2], { requiresGrad: true });
    const z = torch.tensor([3, 4], { requiresGrad: true });
    const y = x.mul(x).sum();
    assert.throws(
      () => torch.autograd.grad(y, [x, z], { retainGraph: true }),
      /appears to not have been used in the graph/,
    );
    const [gx, gz] = torch.autograd.grad(y, [x, z], { allowUnused: true, retainGraph: true });
    assert.deepEqual(gx!.tolist(), x.mul(2).tolist());
    assert.equal(gz, null);
    assert.equal(x.grad, null);
    const [again] = torch.autograd.grad(y, x, { gradOutputs: [torch.tensor(3)] });
    assert.deepEqual(again!.tolist(), x.mul(6).tolist());
    assert.throws(() => torch.autograd.grad(y, x), /backward through the graph a second time/);
  });
});

test('backward with retainGraph runs twice; with createGraph the gradient is differentiable', () => {
  torch.scope(() => {
    const x = torch.tensor([2], { dtype: 'float64', requiresGrad: true });
    const y = x.pow(3).sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    assert.deepEqual(x.grad!.tolist(), x.pow(2).mul(6).detach().tolist());
    x.grad = null;
    x.pow(3).sum().backward(undefined, { createGraph: true });
    const g = x.grad!;
    assert.equal(g.requiresGrad, true);
    const [second] = torch.autograd.grad(g.sum(), x);
    assert.deepEqual(second!.tolist(), x.mul(6).detach().tolist());
    x.grad = null;
  });
});

test('retainGrad keeps a non-leaf gradient; gradFn names the backward node', () => {
  torch.scope(() => {
    const x = torch.ones([2], { requiresGrad: true });
    const kept = x.mul(x).retainGrad();
    const plain = x.mul(x);
    kept.sum().add(plain.sum()).backward();
    assert.deepEqual(kept.grad!.tolist(), [1, 1]);
    assert.equal(plain.grad, null);
    assert.equal(x.gradFn, null);
    assert.equal(kept.gradFn, 'MulBackward0');
    assert.equal(x.sum().gradFn, 'SumBackward0');
    assert.equal(x.isLeaf, true);
  });
});

test('autograd.backward accumulates from several roots at once', () => {
  torch.scope(() => {
    const x = torch.tensor([1, 2], { requiresGrad: true });
    torch.autograd.backward([x.mul(3).sum(), x.mul(x)], [null, torch.tensor([1, 1])]);
    assert.deepEqual(x.grad!.tolist(), x.mul(2).add(3).detach().tolist());
  });
});
