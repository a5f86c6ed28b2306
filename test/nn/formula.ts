// The deterministic weights and inputs of test/golden/gen_nn.py, reproduced bit for bit: integer arithmetic and
// correctly rounded float64 operations, rounded once to float32, in the same order as the Python side.
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';

/** offset + scale * u with u[j] = ((j * 7919 + k * 104729) mod 10007) / 10007 - 0.5. */
export function formula(shape: readonly number[], k: number, scale = 1, offset = 0): torch.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let j = 0; j < n; j++) data[j] = offset + scale * (((j * 7919 + k * 104729) % 10007) / 10007 - 0.5);
  return torch.tensor(data, { shape });
}

/** The value gen_nn.py gives state-dict entry number k: He-scaled conv weights, BN scales and variances near 1, small
 * bottleneck residual scales. */
export function stateValue(name: string, shape: readonly number[], k: number): torch.Tensor {
  if (shape.length === 4) return formula(shape, k, Math.sqrt(24 / (shape[1]! * shape[2]! * shape[3]!)));
  if (/^layer\d\.\d+\.bn3\.weight$/.test(name)) return formula(shape, k, 0.02, 0.05);
  if (name.endsWith('running_var') || name.endsWith('weight')) return formula(shape, k, 0.5, 1);
  return formula(shape, k, 0.2);
}

export function readGolden<T>(file: string): T {
  return JSON.parse(readFileSync(new URL(`../golden/${file}`, import.meta.url), 'utf8')) as T;
}

/** Elementwise |actual - expected| <= atol + rtol * |expected|, with atol relative to the largest expected value. */
export function assertClose(
  actual: torch.Tensor | ArrayLike<number>,
  expected: readonly number[],
  what: string,
  rtol = 1e-4,
  atolFraction = 1e-5,
): void {
  const a =
    actual instanceof torch.Tensor
      ? Array.from(actual.toArray() as ArrayLike<number | bigint>, Number)
      : Array.from(actual);
  assert.equal(a.length, expected.length, `${what}: ${a.length} values, expected ${expected.length}`);
  const atol = atolFraction * expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const bad = a.findIndex((v, i) => !(Math.abs(v - expected[i]!) <= atol + rtol * Math.abs(expected[i]!)));
  assert.ok(bad < 0, `${what}: element ${bad} is ${a[bad]}, expected ${expected[bad]}`);
}
