// Shared access to test/golden/optim.json (written by test/golden/gen_loss_optim.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as torch from '../../src/torch/index.js';

export interface GoldenParam {
  name: string;
  shape: number[];
  init: number[];
}

export interface OptimCase<Options, Expected> {
  options: Options;
  params: GoldenParam[];
  /** grads[step][param], null where the parameter has no gradient in that step. */
  grads: (number[] | null)[][];
  lrs: number[];
  expected: Expected & { params: number[][] };
}

export type SgdCase = OptimCase<
  { momentum: number; nesterov: boolean; dampening: number; weightDecay: number },
  { momentumBuffer: Record<string, number[]> }
>;
export type AdamWCase = OptimCase<
  { weightDecay: number; betas: [number, number]; eps: number },
  { state: Record<string, { step: number; expAvg: number[]; expAvgSq: number[] }> }
>;
export type LarsCase = OptimCase<
  { weightDecay: number; momentum: number; eta: number },
  { state: { momentum: number[][] } }
>;

export const golden = JSON.parse(readFileSync(new URL('../golden/optim.json', import.meta.url), 'utf8')) as {
  sgd: SgdCase[];
  adamw: AdamWCase[];
  lars: LarsCase[];
};

/** Fresh leaf parameters at the case's initial values, kept out of any scope. */
export function makeParams(c: OptimCase<unknown, unknown>): torch.Tensor[] {
  return c.params.map((p) => torch.tensor(Float32Array.from(p.init), { shape: p.shape, requiresGrad: true }).keep());
}

/** Sets step s's gradients (none where the golden has null). */
export function setGrads(params: readonly torch.Tensor[], c: OptimCase<unknown, unknown>, s: number): void {
  torch.scope(() => {
    for (const [i, p] of params.entries()) {
      const g = c.grads[s]![i];
      p.grad = g === null || g === undefined ? null : torch.tensor(Float32Array.from(g), { shape: c.params[i]!.shape });
    }
  });
}

export function assertClose(actual: ArrayLike<number>, expected: readonly number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    assert.ok(Math.abs(actual[i]! - e) <= tol * (1 + Math.abs(e)), `${what}[${i}]: ${actual[i]} vs ${e}`);
  }
}

export function values(t: torch.Tensor): Float32Array {
  return t.toArray() as Float32Array;
}
