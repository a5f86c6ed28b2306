import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { Module, Conv2d, BatchNorm2d, Linear, ReLU, Sequential, Flatten, parameter } from '../../src/nn/index.js';

type Tensor = torch.Tensor;

/** conv -> bn -> relu -> flatten -> fc, plus a persistent and a non-persistent buffer of its own. */
class Net extends Module {
  readonly body: Sequential;
  readonly fc: Linear;
  constructor(seed: number) {
    super();
    const generator = new torch.Generator().manualSeed(seed);
    this.registerParameter('scale', parameter(torch.ones([1])));
    this.registerBuffer('offset', torch.zeros([1]));
    this.registerBuffer('scratch', torch.zeros([2]), false);
    this.body = this.registerModule(
      'body',
      new Sequential(new Conv2d(2, 3, 3, { padding: 1, generator }), new BatchNorm2d(3), new ReLU(), new Flatten()),
    );
    this.fc = this.registerModule('fc', new Linear(3 * 4 * 4, 5, { generator }));
  }
  forward(x: Tensor): Tensor {
    return torch.scope(() =>
      this.fc.call(this.body.call(x)).mul(this.getParameter('scale')).add(this.getBuffer('offset')),
    );
  }
}

const input = (): Tensor => torch.randn([2, 2, 4, 4], { generator: new torch.Generator().manualSeed(99) });

const PARAM_NAMES = ['scale', 'body.0.weight', 'body.0.bias', 'body.1.weight', 'body.1.bias', 'fc.weight', 'fc.bias'];
const STATE_NAMES = [
  'scale',
  'offset',
  'body.0.weight',
  'body.0.bias',
  'body.1.weight',
  'body.1.bias',
  'body.1.running_mean',
  'body.1.running_var',
  'body.1.num_batches_tracked',
  'fc.weight',
  'fc.bias',
];

test('members are registered by name in insertion order', () => {
  const net = new Net(1);
  assert.deepEqual(
    net.namedParameters().map(([n]) => n),
    PARAM_NAMES,
  );
  assert.deepEqual(net.parameters(false).length, 1);
  assert.deepEqual(net.namedParameters('net').map(([n]) => n)[1], 'net.body.0.weight');
  assert.deepEqual(
    net.namedBuffers().map(([n]) => n),
    ['offset', 'scratch', 'body.1.running_mean', 'body.1.running_var', 'body.1.num_batches_tracked'],
  );
  assert.deepEqual(
    net.namedChildren().map(([n]) => n),
    ['body', 'fc'],
  );
  assert.deepEqual(net.children(), [net.body, net.fc]);
  assert.deepEqual(
    net.namedModules().map(([n]) => n),
    ['', 'body', 'body.0', 'body.1', 'body.2', 'body.3', 'fc'],
  );
  assert.ok(net.modules()[3] instanceof BatchNorm2d);
  for (const p of net.parameters()) assert.ok(p.requiresGrad && p.isLeaf);
});

test('lookups by dotted path', () => {
  const net = new Net(1);
  assert.equal(net.getSubmodule('body.0'), net.body.at(0));
  assert.equal(net.getSubmodule(''), net);
  assert.deepEqual(net.getParameter('body.0.weight').shape, [3, 2, 3, 3]);
  assert.equal(net.getBuffer('body.1.num_batches_tracked').dtype, 'int64');
  assert.throws(() => net.getSubmodule('body.7'), /no submodule '7'/);
  assert.throws(() => net.getParameter('fc.gamma'), /no parameter 'gamma'/);
  assert.throws(() => net.getBuffer('body.1.weight'), /no buffer 'weight'/);
});

test('names must be unique, non-empty and dot-free; parameters must be float leaves', () => {
  const net = new Net(1);
  assert.throws(() => net.registerBuffer('scale', torch.zeros([1])), /already has a member named 'scale'/);
  assert.throws(() => net.registerModule('fc', new ReLU()), /already has a member named 'fc'/);
  assert.throws(() => net.registerParameter('a.b', parameter(torch.zeros([1]))), /no '\.'/);
  assert.throws(() => net.registerParameter('', parameter(torch.zeros([1]))), /non-empty/);
  assert.throws(() => parameter(torch.zeros([2], { dtype: 'int64' })), /floating-point/);
  const nonLeaf = torch.ones([2], { requiresGrad: true }).mul(2);
  assert.throws(() => parameter(nonLeaf), /leaf/);
  assert.throws(() => net.registerParameter('w', nonLeaf), /leaf/);
  const frozen = parameter(torch.zeros([2]), false);
  assert.equal(frozen.requiresGrad, false);
});

test('train() and eval() reach every descendant', () => {
  const net = new Net(1);
  assert.ok(net.modules().every((m) => m.training));
  assert.equal(net.eval(), net);
  assert.ok(net.modules().every((m) => !m.training));
  net.train();
  assert.ok(net.modules().every((m) => m.training));
  net.train(false);
  assert.ok(net.modules().every((m) => !m.training));
});

test('stateDict: PyTorch names and order, int64 num_batches_tracked, detached views of the module tensors', () => {
  const net = new Net(1);
  torch.scope(() => {
    const sd = net.stateDict();
    assert.deepEqual([...sd.keys()], STATE_NAMES);
    const count = sd.get('body.1.num_batches_tracked')!;
    assert.equal(count.dtype, 'int64');
    assert.deepEqual(count.shape, []);
    assert.equal(count.item(), 0);
    assert.ok([...sd.values()].every((t) => !t.requiresGrad));
    torch.noGrad(() => net.fc.bias!.fill_(0.25));
    assert.ok(
      sd
        .get('fc.bias')!
        .toArray()
        .every((v) => v === 0.25),
    );
  });
  assert.ok(!net.fc.bias!.isDisposed, 'disposing the state dict must leave the module intact');
});

test('loadStateDict round trip reproduces outputs', () => {
  const a = new Net(1);
  const b = new Net(2);
  torch.scope(() => {
    a.train();
    a.call(input());
    const x = input();
    assert.ok(!a.eval().call(x).equal(b.eval().call(x)));
    const result = b.loadStateDict(a.stateDict());
    assert.deepEqual(result, { missingKeys: [], unexpectedKeys: [] });
    assert.equal(b.getBuffer('body.1.num_batches_tracked').item(), 1);
    assert.ok(a.call(x).equal(b.call(x)));
    const sb = b.stateDict();
    for (const [name, t] of a.stateDict()) assert.ok(t.equal(sb.get(name)!), name);
  });
});

test('loadStateDict reports missing, unexpected and mis-shaped entries and changes nothing on failure', () => {
  const net = new Net(1);
  torch.scope(() => {
    const before = net.fc.weight.clone();
    const sd = new Net(2).stateDict();
    sd.delete('fc.bias');
    sd.set('fc.extra', torch.zeros([1]));
    assert.throws(
      () => net.loadStateDict(sd),
      (e: Error) => {
        assert.match(e.message, /^Error\(s\) in loading state_dict for Net:/);
        assert.match(e.message, /Missing key\(s\) in state_dict: "fc\.bias"\./);
        assert.match(e.message, /Unexpected key\(s\) in state_dict: "fc\.extra"\./);
        return true;
      },
    );
    assert.ok(net.fc.weight.equal(before), 'a failed load must not copy anything');

    const loose = net.loadStateDict(sd, { strict: false });
    assert.deepEqual(loose, { missingKeys: ['fc.bias'], unexpectedKeys: ['fc.extra'] });
    assert.ok(net.fc.weight.equal(sd.get('fc.weight')!));

    sd.set('body.0.weight', torch.zeros([3, 2, 5, 5]));
    assert.throws(
      () => net.loadStateDict(sd, { strict: false }),
      new RegExp(
        String.raw`size mismatch for body\.0\.weight: copying a param with shape \[3, 2, 5, 5\] from ` +
          String.raw`checkpoint, the shape in current model is \[3, 2, 3, 3\]\.`,
      ),
    );
  });
});

test('loadStateDict converts dtype and leaves parameters trainable leaves', () => {
  const net = new Net(1);
  torch.scope(() => {
    const sd = new Map([...new Net(2).stateDict()].map(([k, t]) => [k, t.isFloatingPoint() ? t.double() : t]));
    net.loadStateDict(sd);
    assert.equal(net.fc.weight.dtype, 'float32');
    assert.ok(net.fc.weight.isLeaf && net.fc.weight.requiresGrad);
    assert.ok(net.fc.weight.allclose(sd.get('fc.weight')!.float()));
  });
});

test('zeroGrad drops every gradient; requiresGrad_ freezes', () => {
  const net = new Net(1);
  torch.scope(() => net.call(input()).sum().backward());
  assert.ok(net.parameters().every((p) => torch.scope(() => p.grad !== null)));
  net.zeroGrad();
  assert.ok(net.parameters().every((p) => p.grad === null));
  net.requiresGrad_(false);
  assert.ok(net.parameters().every((p) => !p.requiresGrad));
  net.requiresGrad_();
  assert.ok(net.parameters().every((p) => p.requiresGrad));
});

test('to(dtype) casts floating-point tensors only, keeping trainability and gradients', () => {
  const net = new Net(1);
  torch.scope(() => net.call(input()).sum().backward());
  const oldWeight = net.fc.weight;
  const gradBefore = torch.scope(() => net.fc.weight.grad!.double());
  assert.equal(net.to('float64'), net);
  assert.ok(oldWeight.isDisposed, 'replaced tensors are released');
  for (const p of net.parameters()) assert.ok(p.dtype === 'float64' && p.requiresGrad && p.isLeaf);
  assert.equal(net.getBuffer('body.1.running_var').dtype, 'float64');
  assert.equal(net.getBuffer('body.1.num_batches_tracked').dtype, 'int64');
  torch.scope(() => {
    assert.ok(net.fc.weight.grad!.equal(gradBefore));
    assert.equal(net.call(input().double()).dtype, 'float64');
  });
  const same = net.fc.weight;
  net.to('cpu');
  assert.equal(net.fc.weight, same, 'a no-op move keeps the tensors');
  assert.throws(() => net.to('int32'), /only floating-point dtypes/);
});

test('modules built inside torch.scope keep their tensors; dispose() frees them', () => {
  const net = torch.scope(() => {
    const n = new Net(3);
    n.call(input());
    return n;
  });
  const tensors = [...net.parameters(), ...net.buffers()];
  assert.ok(tensors.every((t) => !t.isDisposed));
  assert.deepEqual(
    torch.scope(() => net.call(input()).shape),
    [2, 5],
  );
  net.dispose();
  assert.ok(tensors.every((t) => t.isDisposed));
});
