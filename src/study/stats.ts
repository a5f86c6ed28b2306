// Statistics for small samples of runs (a few seeds per cell): mean, sample standard deviation, and Welch's t-test
// for two cells' means, so a report can say when a difference is within the seed-to-seed noise.

/** Mean, sample standard deviation (n - 1; null below two values) and count of a sample. */
export interface Summary {
  mean: number;
  std: number | null;
  n: number;
}

/** @throws RangeError for an empty sample or a non-finite value */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new RangeError('summarize: no values');
  if (!values.every(Number.isFinite)) throw new RangeError(`summarize: non-finite value in [${values.join(', ')}]`);
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, std: null, n };
  const ss = values.reduce((a, v) => a + (v - mean) ** 2, 0);
  return { mean, std: Math.sqrt(ss / (n - 1)), n };
}

// ln Γ(x) for x > 0: Lanczos' approximation (g = 7, 9 coefficients; Numerical Recipes' choice), with the reflection
// formula below 0.5; about 15 significant digits, far more than a p-value needs.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

// The continued fraction of the incomplete beta function, evaluated by the modified Lentz method (Numerical Recipes,
// 2nd ed., section 6.4, betacf); converges fast for x < (a + 1) / (a + b + 2).
function betaFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const step = d * c;
    h *= step;
    if (Math.abs(step - 1) < 1e-14) break;
  }
  return h;
}

/** The regularised incomplete beta function I_x(a, b), a, b > 0, x in [0, 1]. */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0) || !(x >= 0 && x <= 1)) throw new RangeError(`incompleteBeta: bad arguments ${x}, ${a}, ${b}`);
  if (x === 0 || x === 1) return x;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaFraction(a, b, x)) / a : 1 - (front * betaFraction(b, a, 1 - x)) / b;
}

/** P(|T| >= |t|) for Student's t with df > 0 degrees of freedom (df may be fractional, as Welch's). */
export function studentTwoSidedP(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`studentTwoSidedP: df must be positive, got ${df}`);
  if (!Number.isFinite(t)) return 0;
  return incompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** Welch's two-sample t-test of mean(a) - mean(b): the statistic, its degrees of freedom and two-sided p. */
export interface WelchTest {
  delta: number;
  /** Standard error of the difference, sqrt(sa²/na + sb²/nb). */
  se: number;
  t: number;
  df: number;
  p: number;
}

/**
 * Welch's unequal-variance t-test (Welch 1947; degrees of freedom by the Welch-Satterthwaite equation). Null when
 * either sample has fewer than two values: one seed says nothing about the noise. Two samples without any spread
 * give p = 1 for equal means and 0 otherwise.
 */
export function welchTest(a: Summary, b: Summary): WelchTest | null {
  if (a.std === null || b.std === null || a.n < 2 || b.n < 2) return null;
  const delta = a.mean - b.mean;
  const va = (a.std * a.std) / a.n;
  const vb = (b.std * b.std) / b.n;
  const se = Math.sqrt(va + vb);
  if (se === 0)
    return { delta, se, t: delta === 0 ? 0 : Math.sign(delta) * Infinity, df: a.n + b.n - 2, p: delta === 0 ? 1 : 0 };
  const df = (va + vb) ** 2 / (va ** 2 / (a.n - 1) + vb ** 2 / (b.n - 1));
  const t = delta / se;
  return { delta, se, t, df, p: studentTwoSidedP(t, df) };
}

/** The level below which a difference counts as more than noise. */
export const NOISE_ALPHA = 0.05;

/**
 * How a comparison of "a beats b" came out: 'holds' (a > b, p < 0.05), 'reversed' (a < b, p < 0.05), 'within noise'
 * (p >= 0.05), or 'untested' (a cell with fewer than two seeds).
 */
export type Verdict = 'holds' | 'reversed' | 'within noise' | 'untested';

export function verdictOf(test: WelchTest | null): Verdict {
  if (test === null) return 'untested';
  if (test.p >= NOISE_ALPHA) return 'within noise';
  return test.delta > 0 ? 'holds' : 'reversed';
}
