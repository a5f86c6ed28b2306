import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CounterRng, mulhi32, philox4x32 } from '../../src/augment/rng.js';

const words = (a: Uint32Array): number[] => Array.from(a);

test('philox4x32-10 matches the Random123 known-answer vectors', () => {
  assert.deepEqual(
    words(philox4x32(new Uint32Array(4), new Uint32Array(2))),
    [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
  );
  assert.deepEqual(
    words(philox4x32(new Uint32Array(4).fill(0xffffffff), new Uint32Array(2).fill(0xffffffff))),
    [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  );
  assert.deepEqual(
    words(
      philox4x32(
        Uint32Array.of(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344),
        Uint32Array.of(0xa4093822, 0x299f31d0),
      ),
    ),
    [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  );
});

test('philox4x32 rejects wrongly sized inputs', () => {
  assert.throws(() => philox4x32(new Uint32Array(3), new Uint32Array(2)), RangeError);
  assert.throws(() => philox4x32(new Uint32Array(4), new Uint32Array(4)), RangeError);
});

test('mulhi32 agrees with a BigInt 64-bit product', () => {
  const edge = [0, 1, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xd2511f53, 0xcd9e8d57, 0xffffffff];
  const rng = new CounterRng(1, 0, 0, 0);
  const values = [...edge, ...Array.from({ length: 200 }, () => rng.nextUint32())];
  for (const a of values) {
    for (const b of edge.concat(values.slice(edge.length, edge.length + 20))) {
      const expect = Number((BigInt(a) * BigInt(b)) >> 32n);
      assert.equal(mulhi32(a, b), expect, `mulhi32(${a}, ${b})`);
    }
  }
});

test('CounterRng stream is philox over [block, view, index, epoch] with key [seed lo, seed hi]', () => {
  const seed = 2 ** 40 + 12345,
    epoch = 7,
    index = 123456,
    view = 1;
  const rng = new CounterRng(seed, epoch, index, view);
  const key = Uint32Array.of(seed % 2 ** 32, Math.floor(seed / 2 ** 32));
  const expected = [
    ...philox4x32(Uint32Array.of(0, view, index, epoch), key),
    ...philox4x32(Uint32Array.of(1, view, index, epoch), key),
  ];
  assert.deepEqual(
    Array.from({ length: 8 }, () => rng.nextUint32()),
    expected,
  );
});

test('every key component changes the stream; identical keys repeat it', () => {
  const first = (s: number, e: number, i: number, v: number): number[] => {
    const r = new CounterRng(s, e, i, v);
    return [r.nextUint32(), r.nextUint32()];
  };
  const base = first(5, 2, 9, 0);
  assert.deepEqual(first(5, 2, 9, 0), base);
  for (const other of [
    first(6, 2, 9, 0),
    first(5, 3, 9, 0),
    first(5, 2, 10, 0),
    first(5, 2, 9, 1),
    first(5 + 2 ** 32, 2, 9, 0),
  ]) {
    assert.notDeepEqual(other, base);
  }
});

test('CounterRng validates its key', () => {
  assert.throws(() => new CounterRng(-1, 0, 0, 0), RangeError);
  assert.throws(() => new CounterRng(2 ** 53, 0, 0, 0), RangeError);
  assert.throws(() => new CounterRng(0.5, 0, 0, 0), RangeError);
  assert.throws(() => new CounterRng(0, 2 ** 32, 0, 0), RangeError);
  assert.throws(() => new CounterRng(0, 0, -1, 0), RangeError);
  assert.throws(() => new CounterRng(0, 0, 0, 1.5), RangeError);
  assert.doesNotThrow(() => new CounterRng(2 ** 53 - 1, 2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1));
});

test('uniform has the mean and variance of U[0,1) over 100k draws', () => {
  const rng = new CounterRng(42, 0, 0, 0);
  const n = 100_000;
  let sum = 0,
    sumSq = 0,
    min = 1,
    max = 0;
  for (let i = 0; i < n; i++) {
    const u = rng.uniform();
    sum += u;
    sumSq += u * u;
    min = Math.min(min, u);
    max = Math.max(max, u);
  }
  const mean = sum / n,
    variance = sumSq / n - mean * mean;
  // Standard errors: mean sqrt(1/12/n) ~ 0.0009; variance sqrt(1/180/n) ~ 0.00024.
  assert.ok(Math.abs(mean - 0.5) < 6 * 0.00091, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1 / 12) < 6 * 0.00024, `variance ${variance}`);
  assert.ok(min >= 0 && max < 1);
});

test('uniformRange and bernoulli', () => {
  const rng = new CounterRng(3, 0, 0, 0);
  let hits = 0;
  for (let i = 0; i < 20_000; i++) {
    const x = rng.uniformRange(-2, 3);
    assert.ok(x >= -2 && x < 3);
    if (rng.bernoulli(0.3)) hits++;
    assert.equal(rng.bernoulli(0), false);
    assert.equal(rng.bernoulli(1), true);
  }
  // sd of the rate: sqrt(0.21 / 20000) ~ 0.0032.
  assert.ok(Math.abs(hits / 20_000 - 0.3) < 6 * 0.0033, `rate ${hits / 20_000}`);
});

test('below is uniform and in range', () => {
  const rng = new CounterRng(4, 0, 0, 0);
  const counts = new Array<number>(6).fill(0);
  const n = 60_000;
  for (let i = 0; i < n; i++) counts[rng.below(6)]! += 1;
  // Each bin ~ Binomial(60000, 1/6): sd ~ 91.
  for (const c of counts) assert.ok(Math.abs(c - n / 6) < 6 * 92, `counts ${counts}`);
  assert.equal(rng.below(1), 0);
  const big = rng.below(2 ** 32);
  assert.ok(Number.isInteger(big) && big >= 0 && big < 2 ** 32);
  assert.throws(() => rng.below(0), RangeError);
  assert.throws(() => rng.below(2 ** 32 + 1), RangeError);
});

test('permutation is a permutation with uniform positions', () => {
  const rng = new CounterRng(5, 0, 0, 0);
  const n = 24_000;
  const firstCounts = new Array<number>(4).fill(0);
  const orders = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const p = rng.permutation(4);
    assert.deepEqual([...p].sort(), [0, 1, 2, 3]);
    firstCounts[p[0]!]! += 1;
    orders.set(p.join(), (orders.get(p.join()) ?? 0) + 1);
  }
  // First element ~ Binomial(n, 1/4): sd ~ 67; each of 24 orders ~ Binomial(n, 1/24): sd ~ 31.
  for (const c of firstCounts) assert.ok(Math.abs(c - n / 4) < 6 * 68, `first ${firstCounts}`);
  assert.equal(orders.size, 24);
  for (const c of orders.values()) assert.ok(Math.abs(c - n / 24) < 6 * 31, `order count ${c}`);
  assert.deepEqual(rng.permutation(0), []);
  assert.deepEqual(rng.permutation(1), [0]);
});
