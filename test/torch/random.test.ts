// Seeded randomness against PyTorch (test/golden/ops_random.json): torch.manualSeed reproduces torch.manual_seed's
// numbers, explicit generators give their own streams, and generator state round-trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { goldenSuite, int, ints, num, optDtype, type Args, type OpImpl } from './golden.js';

const F = torch.nn.functional;

// Seeds the default generator, then draws.
const seeded =
  (draw: (a: Args) => Tensor | Tensor[]): OpImpl =>
  (_x, a) => {
    torch.manualSeed(int(a.seed));
    return draw(a);
  };
const dtypeOpt = (a: Args): { dtype?: torch.DType } => {
  const dtype = optDtype(a.dtype);
  return dtype === undefined ? {} : { dtype };
};
const base = (): Tensor => torch.zeros([3, 5], { dtype: 'float64' });

goldenSuite('random', {
  rand: seeded((a) => torch.rand(ints(a.shape), dtypeOpt(a))),
  randn: seeded((a) => torch.randn(ints(a.shape), dtypeOpt(a))),
  randperm: seeded((a) => torch.randperm(int(a.n))),
  randint: seeded((a) => torch.randint(int(a.low), int(a.high), ints(a.shape), dtypeOpt(a))),
  stream: seeded(() => [torch.rand([3]), torch.randn([17]), torch.randperm(6), torch.rand([2])]),
  normal_: seeded((a) => base().normal_(num(a.mean), num(a.std))),
  uniform_: seeded((a) => base().uniform_(num(a.from), num(a.to))),
  bernoulli_: seeded((a) => base().bernoulli_(num(a.p))),
  randLike: seeded(() => torch.randLike(base())),
  randnLike: seeded(() => torch.randnLike(base().float())),
  randintLike: seeded((a) => torch.randintLike(base(), int(a.low), int(a.high))),
  dropout: seeded((a) => F.dropout(torch.ones([200]), num(a.p))),
  // Draws from the default generator in between must not disturb the explicit generator's stream.
  generator_stream: (_x, a) => {
    const g = new torch.Generator().manualSeed(int(a.seed));
    const n = int(a.n);
    const out: Tensor[] = [];
    const interleave = (t: Tensor): void => {
      out.push(t);
      torch.rand([5]);
    };
    interleave(torch.rand([n], { generator: g }));
    interleave(torch.randn([n], { generator: g }));
    interleave(torch.randperm(n, { generator: g }));
    interleave(torch.randint(0, 100, [n], { generator: g }));
    interleave(torch.zeros([n]).normal_(0, 1, g));
    return out;
  },
});

test('getState/setState replays a generator, and a state moves between generators', () => {
  torch.scope(() => {
    const g = new torch.Generator().manualSeed(5);
    torch.rand([3], { generator: g });
    const state = g.getState();
    assert.equal(state.dtype, 'uint8');
    const first = torch.randn([10], { generator: g });
    g.setState(state);
    assert.equal(torch.randn([10], { generator: g }).equal(first), true);
    const other = new torch.Generator().setState(state);
    assert.equal(torch.randn([10], { generator: other }).equal(first), true);
    assert.equal(other.initialSeed(), 5n);
  });
});

test('the default generator: state round trip, and defaultGenerator().manualSeed is torch.manualSeed', () => {
  torch.scope(() => {
    const def = torch.defaultGenerator();
    assert.equal(def.device, 'cpu');
    torch.manualSeed(21);
    const a = torch.rand([6]);
    def.manualSeed(21);
    assert.equal(torch.rand([6]).equal(a), true);
    assert.equal(def.initialSeed(), 21n);
    const state = def.getState();
    const b = torch.randperm(30);
    def.setState(state);
    assert.equal(torch.randperm(30).equal(b), true);
  });
});

test('negative seeds wrap modulo 2^64, as torch.manual_seed(-1)', () => {
  torch.scope(() => {
    torch.manualSeed(-1);
    const a = torch.rand([4]);
    torch.manualSeed(2n ** 64n - 1n);
    assert.equal(torch.rand([4]).equal(a), true);
    assert.equal(torch.defaultGenerator().initialSeed(), 2n ** 64n - 1n);
  });
});

test('two generators with different seeds differ; with the same seed they agree', () => {
  torch.scope(() => {
    const a = torch.rand([8], { generator: new torch.Generator().manualSeed(1) });
    const b = torch.rand([8], { generator: new torch.Generator().manualSeed(2) });
    const c = torch.rand([8], { generator: new torch.Generator().manualSeed(1) });
    assert.equal(a.equal(b), false);
    assert.equal(a.equal(c), true);
  });
});

test('bad seeds and generators are clear errors, not silent fallbacks', () => {
  assert.throws(() => torch.manualSeed(1.5), TypeError);
  assert.throws(() => torch.manualSeed('7' as unknown as number), TypeError);
  assert.throws(() => torch.manualSeed(2n ** 64n), RangeError);
  assert.throws(() => new torch.Generator().manualSeed(Number.NaN), TypeError);
  const fake = {} as torch.Generator;
  assert.throws(() => torch.rand([2], { generator: fake }), /rand: generator must be a torch.Generator/);
  assert.throws(() => torch.randperm(3, { generator: fake }), TypeError);
  assert.throws(() => torch.zeros([2]).normal_(0, 1, fake), TypeError);
});
