// Linear evaluation: multinomial logistic regression with L2 regularisation on frozen encoder features, fitted to
// convergence with L-BFGS, its regularisation strength chosen on a validation split held out of the training set.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { classBalancedSubset } from '../data/loader.js';
import { classCount, labelledRows, topkAccuracy, type Features } from '../features/extract.js';
import { DEFAULT_L2_GRID, EVAL_LINEAR_FIELDS as DEFAULTS } from '../run/options/eval.js';

const F = torch.nn.functional;

// linearEvaluate's defaults are `simclr eval linear`'s (src/run/options/eval.ts).
export { DEFAULT_L2_GRID };

export interface LogisticRegressionOptions {
  /**
   * Strength of the penalty in the objective mean cross-entropy + l2/2 * ||W||^2 (the bias is not penalised).
   * scikit-learn's C for the same problem is 1 / (l2 * N).
   */
  l2: number;
  /** Default: 1 + the largest label. */
  numClasses?: number;
  /** L-BFGS iterations at most (default 1000, as `eval linear --max-iter`). */
  maxIter?: number;
  /** Stop when every gradient component is below this (default 1e-6). */
  gradTol?: number;
  /** Stop when an iteration lowers the objective by less than this, relative (default 1e-12). */
  changeTol?: number;
  /** Correction pairs kept by L-BFGS (default 10). */
  history?: number;
  /** Start from these parameters instead of zeros (a warm start); they are copied, not modified. */
  init?: { weight: Tensor; bias: Tensor };
}

export interface LogisticRegressionModel {
  /** [C, D] float32. */
  weight: Tensor;
  /** [C] float32. */
  bias: Tensor;
  /** The objective at the solution. */
  loss: number;
  iterations: number;
  /** False when maxIter ran out or the line search could not make progress before a tolerance was met. */
  converged: boolean;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

/**
 * Objective and gradient of the regularised multinomial logistic loss at parameters theta = [W (C*D, row-major),
 * b (C)]. The N x D work runs on tensors in the features' dtype and device; the parameter vector stays in float64.
 */
type Objective = ((theta: Float64Array) => { f: number; g: Float64Array }) & { dispose(): void };

function makeObjective(x: Tensor, labels: Int32Array, numClasses: number, l2: number): Objective {
  const [n, d] = x.shape as [number, number];
  const c = numClasses;
  const onehot = torch.noGrad(() =>
    torch.scope(() => {
      const y = torch.tensor(
        BigInt64Array.from(labels, (v) => BigInt(v)),
        { device: x.device },
      );
      return F.oneHot(y, c).to({ dtype: x.dtype });
    }),
  );
  const evaluate = (theta: Float64Array): { f: number; g: Float64Array } =>
    torch.noGrad(() =>
      torch.scope(() => {
        const params = torch.tensor(theta, { dtype: x.dtype, device: x.device });
        const w = params.narrow(0, 0, c * d).view(c, d);
        const b = params.narrow(0, c * d, c);
        const logp = F.logSoftmax(x.matmul(w.t()).add(b), 1);
        const nll = -logp.mul(onehot).sum(undefined, false, 'float64').item() / n;
        // d(mean CE)/d(logits) = (softmax - onehot) / N.
        const delta = logp.exp().sub(onehot).div(n);
        const gw = delta.t().matmul(x);
        const gb = delta.sum(0);
        const g = torch.cat([gw.flatten(), gb]).double().toArray() as Float64Array;
        let wNorm2 = 0;
        for (let i = 0; i < c * d; i++) {
          wNorm2 += theta[i]! * theta[i]!;
          g[i] += l2 * theta[i]!;
        }
        return { f: nll + 0.5 * l2 * wNorm2, g };
      }),
    );
  return Object.assign(evaluate, { dispose: () => onehot.dispose() });
}

/**
 * Fits multinomial logistic regression to features x [N, D] and labels in [0, C) by L-BFGS (two-loop recursion,
 * backtracking Armijo line search). The objective is strictly convex for l2 > 0, so the solution is unique up to
 * a common shift of the biases, and starting from zeros the biases stay centred, as scikit-learn's do.
 */
export function fitLogisticRegression(
  x: Tensor,
  labels: Int32Array,
  opts: LogisticRegressionOptions,
): LogisticRegressionModel {
  if (x.ndim !== 2 || !x.isFloatingPoint())
    throw new RangeError(
      `logistic regression: features must be a floating-point [N, D] tensor, got ${x.dtype} [${x.shape.join(', ')}]`,
    );
  const [n, d] = x.shape as [number, number];
  if (labels.length !== n || n === 0)
    throw new RangeError(`logistic regression: ${labels.length} labels for ${n} rows`);
  const c = opts.numClasses ?? classCount(labels);
  if (labels.some((y) => y < 0 || y >= c)) throw new RangeError(`logistic regression: labels must be in [0, ${c})`);
  const { l2, maxIter = DEFAULTS.maxIter.default, gradTol = 1e-6, changeTol = 1e-12, history = 10 } = opts;
  if (!(l2 >= 0)) throw new RangeError(`logistic regression: l2 must be >= 0, got ${l2}`);

  const size = c * d + c;
  const theta = new Float64Array(size);
  if (opts.init) {
    const w = opts.init.weight.toArray();
    const b = opts.init.bias.toArray();
    if (w.length !== c * d || b.length !== c)
      throw new RangeError(`logistic regression: init has ${w.length}+${b.length} values, expected ${c * d}+${c}`);
    theta.set(Float64Array.from(w as Float32Array), 0);
    theta.set(Float64Array.from(b as Float32Array), c * d);
  }
  const objective = makeObjective(x, labels, c, l2);
  const sHist: Float64Array[] = [];
  const yHist: Float64Array[] = [];
  const rhoHist: number[] = [];
  let { f, g } = objective(theta);
  let iterations = 0;
  let converged = maxAbs(g) <= gradTol;
  try {
    while (!converged && iterations < maxIter) {
      // Two-loop recursion: direction = -H g, with H0 = (s'y / y'y) I from the newest pair.
      const q = Float64Array.from(g);
      const alpha: number[] = [];
      for (let i = sHist.length - 1; i >= 0; i--) {
        const a = rhoHist[i]! * dot(sHist[i]!, q);
        alpha[i] = a;
        const y = yHist[i]!;
        for (let j = 0; j < size; j++) q[j] -= a * y[j]!;
      }
      const last = sHist.length - 1;
      const gamma = last >= 0 ? 1 / (rhoHist[last]! * dot(yHist[last]!, yHist[last]!)) : 1;
      for (let j = 0; j < size; j++) q[j] *= gamma;
      for (let i = 0; i < sHist.length; i++) {
        const beta = rhoHist[i]! * dot(yHist[i]!, q);
        const s = sHist[i]!;
        for (let j = 0; j < size; j++) q[j] += (alpha[i]! - beta) * s[j]!;
      }
      const dir = q.map((v) => -v);
      let slope = dot(g, dir);
      if (!(slope < 0)) {
        // Not a descent direction (lost curvature information): restart from steepest descent.
        sHist.length = yHist.length = rhoHist.length = 0;
        for (let j = 0; j < size; j++) dir[j] = -g[j]!;
        slope = dot(g, dir);
      }
      // The first step has no curvature scale yet; keep it at most unit length in the L1 norm, as torch.optim.LBFGS.
      let step = sHist.length === 0 && iterations === 0 ? Math.min(1, 1 / g.reduce((s, v) => s + Math.abs(v), 0)) : 1;
      let next: { f: number; g: Float64Array } | null = null;
      const candidate = new Float64Array(size);
      for (let tries = 0; tries < 40; tries++) {
        for (let j = 0; j < size; j++) candidate[j] = theta[j]! + step * dir[j]!;
        const r = objective(candidate);
        if (r.f <= f + 1e-4 * step * slope) {
          next = r;
          break;
        }
        step *= 0.5;
      }
      iterations++;
      if (next === null) break; // no decrease representable at this precision: as close as the arithmetic allows
      const s = candidate.map((v, j) => v - theta[j]!);
      const y = next.g.map((v, j) => v - g[j]!);
      const ys = dot(y, s);
      if (ys > 1e-10 * dot(y, y)) {
        if (sHist.length === history) {
          sHist.shift();
          yHist.shift();
          rhoHist.shift();
        }
        sHist.push(s);
        yHist.push(y);
        rhoHist.push(1 / ys);
      }
      const decrease = f - next.f;
      theta.set(candidate);
      ({ f, g } = next);
      converged = maxAbs(g) <= gradTol || decrease <= changeTol * Math.max(1, Math.abs(f));
    }
  } finally {
    objective.dispose();
  }
  const params = torch.tensor(theta, { dtype: 'float32', device: x.device });
  const weight = params
    .narrow(0, 0, c * d)
    .view(c, d)
    .contiguous();
  const bias = params.narrow(0, c * d, c).contiguous();
  params.dispose();
  return { weight, bias, loss: f, iterations, converged };
}

/** Logits x W^T + b of a fitted model. */
export function predictLogits(model: { weight: Tensor; bias: Tensor }, x: Tensor): Tensor {
  return torch.noGrad(() => F.linear(x.to({ dtype: model.weight.dtype }), model.weight, model.bias));
}

export interface LinearEvalOptions {
  /** Candidate l2 strengths (see LogisticRegressionOptions.l2); default DEFAULT_L2_GRID. */
  l2Grid?: readonly number[];
  /** Share of each class held out for choosing l2 (default 0.2). */
  valFraction?: number;
  /** Seed of the validation split (default 0). */
  seed?: number;
  /** Standardise features with the training mean and deviation first (default true): better-conditioned fits. */
  standardize?: boolean;
  maxIter?: number;
  numClasses?: number;
  /** Called after each fit: the validation fits, then the final refit on all training rows (valTop1 null). */
  onFit?: (info: { l2: number; valTop1: number | null; iterations: number; converged: boolean }) => void;
}

export interface LinearEvalResult {
  top1: number;
  top5: number;
  /** The chosen regularisation strength. */
  l2: number;
  /** Validation top-1 of every candidate, in grid order. */
  validation: { l2: number; top1: number }[];
  trainCount: number;
  valCount: number;
  testCount: number;
  /** Iterations and convergence of the final fit on all training rows. */
  iterations: number;
  converged: boolean;
}

function rowsOf(x: Tensor, rows: Uint32Array): Tensor {
  const index = torch.tensor(
    BigInt64Array.from(rows, (i) => BigInt(i)),
    { device: x.device },
  );
  const out = x.indexSelect(0, index);
  index.dispose();
  return out;
}

/**
 * Linear evaluation protocol: (optionally standardised) frozen features, l2 chosen by validation top-1 on a
 * seeded class-balanced split of the training rows (ties go to the stronger penalty, so the choice is
 * deterministic), a refit on all training rows with it, and top-1/top-5 on the test rows. Unlabelled rows are
 * left out. Several training rows per sample (augmented views) are fine: the split is over rows.
 */
export function linearEvaluate(train: Features, test: Features, opts: LinearEvalOptions = {}): LinearEvalResult {
  const grid = [...(opts.l2Grid ?? DEFAULT_L2_GRID)];
  if (grid.length === 0 || grid.some((l) => !(l >= 0)))
    throw new RangeError(`linear eval: l2 grid must be non-empty values >= 0, got [${grid.join(', ')}]`);
  const valFraction = opts.valFraction ?? DEFAULTS.valFraction.default;
  if (!(valFraction > 0 && valFraction < 1))
    throw new RangeError(`linear eval: valFraction must be in (0, 1), got ${valFraction}`);
  const seed = opts.seed ?? DEFAULTS.seed.default;
  const fitOpts = opts.maxIter !== undefined ? { maxIter: opts.maxIter } : {};

  return torch.scope(() => {
    const tr = labelledRows(train);
    const te = labelledRows(test);
    if (tr.labels.length === 0 || te.labels.length === 0)
      throw new RangeError('linear eval: needs labelled training and test samples');
    const numClasses = opts.numClasses ?? classCount(tr.labels, te.labels);
    let xTrain = tr.features.float();
    let xTest = te.features.float();
    if (opts.standardize ?? DEFAULTS.standardize.default) {
      const mean = xTrain.mean(0, true);
      const std = xTrain.std(0, false, true).clampMin(1e-6);
      xTrain = xTrain.sub(mean).div(std);
      xTest = xTest.sub(mean).div(std);
    }

    const valRows = classBalancedSubset(tr.labels, valFraction, seed);
    const isVal = new Uint8Array(tr.labels.length);
    for (const i of valRows) isVal[i] = 1;
    const fitRows = Uint32Array.from(tr.labels.keys()).filter((i) => isVal[i] === 0);
    if (fitRows.length === 0)
      throw new RangeError(
        'linear eval: the validation split left no training rows; use more data or a smaller valFraction',
      );
    const xFit = rowsOf(xTrain, fitRows);
    const yFit = Int32Array.from(fitRows, (i) => tr.labels[i]!);
    const xVal = rowsOf(xTrain, valRows);
    const yVal = Int32Array.from(valRows, (i) => tr.labels[i]!);

    const validation: { l2: number; top1: number }[] = [];
    const solutions = new Map<number, LogisticRegressionModel>();
    let previous: LogisticRegressionModel | undefined;
    // Strongest penalty first: its solution is the cheapest to reach and a good start for the next.
    for (const l2 of [...grid].sort((a, b) => b - a)) {
      const model = fitLogisticRegression(xFit, yFit, {
        l2,
        numClasses,
        ...fitOpts,
        ...(previous ? { init: previous } : {}),
      });
      const [top1] = topkAccuracy(predictLogits(model, xVal), yVal, [1]) as [number];
      validation.push({ l2, top1 });
      solutions.set(l2, model);
      previous = model;
      opts.onFit?.({ l2, valTop1: top1, iterations: model.iterations, converged: model.converged });
    }
    const best = validation.reduce((a, b) => (b.top1 > a.top1 || (b.top1 === a.top1 && b.l2 > a.l2) ? b : a));
    const final = fitLogisticRegression(xTrain, tr.labels, {
      l2: best.l2,
      numClasses,
      ...fitOpts,
      init: solutions.get(best.l2)!,
    });
    opts.onFit?.({ l2: best.l2, valTop1: null, iterations: final.iterations, converged: final.converged });
    const [top1, top5] = topkAccuracy(predictLogits(final, xTest), te.labels, [1, 5]) as [number, number];
    const byGrid = grid.map((l2) => validation.find((v) => v.l2 === l2)!);
    return {
      top1,
      top5,
      l2: best.l2,
      validation: byGrid,
      trainCount: tr.labels.length,
      valCount: valRows.length,
      testCount: te.labels.length,
      iterations: final.iterations,
      converged: final.converged,
    };
  });
}
