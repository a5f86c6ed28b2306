import assert from 'node:assert/strict';
import { test } from 'node:test';
import { batchIndices, classBalancedSubset, epochPermutation } from '../../src/data/loader.js';

test('epochPermutation is a deterministic permutation that changes with seed and epoch', () => {
  const n = 1000;
  const p = epochPermutation(n, 42, 0);
  assert.deepEqual(
    [...p].sort((a, b) => a - b),
    Array.from({ length: n }, (_, i) => i),
  );
  assert.deepEqual(epochPermutation(n, 42, 0), p);
  assert.notDeepEqual(epochPermutation(n, 42, 1), p);
  assert.notDeepEqual(epochPermutation(n, 43, 0), p);
  assert.notDeepEqual(epochPermutation(n, 42 + 2 ** 32, 0), p, 'high seed bits matter');
  // Shuffled, not merely rotated: few fixed points (expected about 1).
  assert.ok(p.filter((v, i) => v === i).length < 10);
  assert.deepEqual([...epochPermutation(0, 1, 1)], []);
  assert.deepEqual([...epochPermutation(1, 1, 1)], [0]);
  assert.throws(() => epochPermutation(-1, 0, 0), RangeError);
  assert.throws(() => epochPermutation(3, 0.5, 0), RangeError);
});

test('epochPermutation is roughly uniform', () => {
  // Position of element 0 over many epochs of a 4-element shuffle: each slot about 1/4.
  const counts = [0, 0, 0, 0];
  for (let e = 0; e < 4000; e++) counts[epochPermutation(4, 7, e).indexOf(0)]!++;
  for (const c of counts) assert.ok(c > 850 && c < 1150, `counts ${counts}`);
});

test('batchIndices slices with and without dropLast', () => {
  const perm = epochPermutation(10, 1, 0);
  const keep = [...batchIndices(perm, 4, false)];
  assert.deepEqual(
    keep.map((b) => b.length),
    [4, 4, 2],
  );
  assert.deepEqual(
    keep.flatMap((b) => [...b]),
    [...perm],
  );
  assert.deepEqual(
    [...batchIndices(perm, 4, true)].map((b) => b.length),
    [4, 4],
  );
  assert.deepEqual(
    [...batchIndices(perm, 5, true)].map((b) => b.length),
    [5, 5],
  );
  assert.deepEqual([...batchIndices(perm, 20, true)], []);
  assert.throws(() => [...batchIndices(perm, 0, false)], RangeError);
});

test('classBalancedSubset: per-class share, at least one each, sorted, reproducible', () => {
  // Class sizes 100, 50, 3 and some unlabelled (-1) samples, interleaved.
  const labels: number[] = [];
  for (let i = 0; i < 100; i++) labels.push(0);
  for (let i = 0; i < 50; i++) labels.push(1, -1);
  labels.push(2, 2, 2);
  const lab = Int32Array.from(labels.reverse());
  const sub = classBalancedSubset(lab, 0.1, 5);
  const perClass = [0, 0, 0];
  for (const i of sub) {
    assert.ok(lab[i]! >= 0);
    perClass[lab[i]!]!++;
  }
  assert.deepEqual(perClass, [10, 5, 1]);
  assert.deepEqual(
    [...sub],
    [...sub].sort((a, b) => a - b),
  );
  assert.equal(new Set(sub).size, sub.length);
  assert.deepEqual(classBalancedSubset(lab, 0.1, 5), sub);
  assert.notDeepEqual(classBalancedSubset(lab, 0.1, 6), sub);
  assert.equal(classBalancedSubset(lab, 1, 0).length, 153);
  assert.throws(() => classBalancedSubset(lab, 0, 0), RangeError);
  assert.throws(() => classBalancedSubset(lab, 1.5, 0), RangeError);
});
