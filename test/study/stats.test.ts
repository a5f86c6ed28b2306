// The statistics behind the studies' "within noise": mean and spread, Student's t tail and Welch's test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logGamma, studentTwoSidedP, summarize, verdictOf, welchTest } from '../../src/study/stats.js';

const close = (a: number, b: number, tol: number, what: string): void =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('summarize: mean and sample standard deviation (n - 1); none for one value', () => {
  assert.deepEqual(summarize([0.5]), { mean: 0.5, std: null, n: 1 });
  const s = summarize([1, 2, 3, 4]);
  close(s.mean, 2.5, 1e-15, 'mean');
  close(s.std!, Math.sqrt(5 / 3), 1e-15, 'std');
  assert.throws(() => summarize([]), /no values/);
  assert.throws(() => summarize([1, Number.NaN]), /non-finite/);
});

test("Student's t: two-sided p at tabulated critical values, and by numerical integration", () => {
  close(logGamma(5), Math.log(24), 1e-12, 'ln 4!');
  close(logGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-12, 'ln Γ(1/2)');
  // Critical values of the 95% two-sided interval (any statistics table).
  close(studentTwoSidedP(12.7062047, 1), 0.05, 1e-7, 'df 1');
  close(studentTwoSidedP(2.7764451, 4), 0.05, 1e-7, 'df 4');
  close(studentTwoSidedP(-2.2281389, 10), 0.05, 1e-7, 'df 10');
  close(studentTwoSidedP(1.959964, 1e7), 0.05, 1e-6, 'df large (normal)');
  // Simpson's rule on the density (python3, 200000 intervals), fractional df as Welch's gives.
  close(studentTwoSidedP(1.5, 2.7), 0.2402571903883982, 1e-9, 't 1.5 df 2.7');
  close(studentTwoSidedP(0.3, 1), 0.8144528418445149, 1e-9, 't 0.3 df 1');
  assert.equal(studentTwoSidedP(0, 3), 1);
  assert.equal(studentTwoSidedP(Number.POSITIVE_INFINITY, 3), 0);
});

test("Welch's test and the verdicts built on it", () => {
  const t = welchTest(summarize([1, 2, 3]), summarize([4, 5, 6]))!;
  close(t.delta, -3, 1e-12, 'delta');
  close(t.df, 4, 1e-12, 'df (equal variances and sizes)');
  close(t.p, 0.02131164112876638, 1e-9, 'p');
  assert.equal(verdictOf(t), 'reversed');
  assert.equal(verdictOf(welchTest(summarize([4, 5, 6]), summarize([1, 2, 3]))), 'holds');
  assert.equal(verdictOf(welchTest(summarize([1, 2, 3]), summarize([1.5, 2.5, 2]))), 'within noise');
  assert.equal(welchTest(summarize([1]), summarize([1, 2])), null);
  assert.equal(verdictOf(null), 'untested');
  // No spread at all: equal means are one value, different ones are apart.
  assert.equal(welchTest(summarize([2, 2]), summarize([2, 2]))!.p, 1);
  assert.equal(welchTest(summarize([3, 3]), summarize([2, 2]))!.p, 0);
});

test('durations are rounded as a whole: never 60 s or 60 min', async () => {
  const { formatDuration } = await import('../../src/study/report.js');
  assert.deepEqual([42.4, 59.6, 187, 3599.6, 3629, 7199].map(formatDuration), [
    '42 s',
    '1 min 0 s',
    '3 min 7 s',
    '1 h 0 min',
    '1 h 0 min',
    '2 h 0 min',
  ]);
});
