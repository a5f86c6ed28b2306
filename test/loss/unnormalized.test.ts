// The three pretraining losses without l2 normalisation (the paper's "without l2 norm" rows, Tables 2 and 5):
// values, gradients and accuracy against per-anchor float64 references (test/golden/gen_loss_unnormalized.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as torch from '../../src/torch/index.js';
import { createLoss, type LossName } from '../../src/loss/index.js';

interface Case {
  loss: LossName;
  temperature?: number;
  margin?: number;
  n: number;
  d: number;
  z1: number[];
  z2: number[];
  value: number;
  accuracy: number;
  gradZ1: number[];
  gradZ2: number[];
}

const golden = JSON.parse(readFileSync(new URL('../golden/loss_unnormalized.json', import.meta.url), 'utf8')) as {
  cases: Case[];
};

function assertClose(actual: ArrayLike<number>, expected: readonly number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    assert.ok(Math.abs(actual[i]! - e) <= tol * (1 + Math.abs(e)), `${what}[${i}]: ${actual[i]} vs ${e}`);
  }
}

const settings = (c: Case, l2Normalize: boolean) => ({
  temperature: c.temperature ?? 0.5,
  margin: c.margin ?? 0.5,
  l2Normalize,
});

test('every loss has unnormalised golden cases', () => {
  for (const name of ['ntxent', 'ntlogistic', 'margintriplet'])
    assert.ok(golden.cases.filter((c) => c.loss === name).length >= 2, name);
});

test('l2Normalize false: values, gradients and accuracy match dot-product references', () => {
  for (const c of golden.cases) {
    torch.scope(() => {
      const z1 = torch.tensor(Float32Array.from(c.z1), { shape: [c.n, c.d], requiresGrad: true });
      const z2 = torch.tensor(Float32Array.from(c.z2), { shape: [c.n, c.d], requiresGrad: true });
      const what = `${c.loss} N=${c.n} D=${c.d}`;
      const r = createLoss(c.loss, settings(c, false))(z1, z2);
      assertClose([r.loss.item()], [c.value], 1e-5, `${what} loss`);
      assertClose([r.contrastiveAccuracy.item()], [c.accuracy], 1e-6, `${what} accuracy`);
      r.loss.backward();
      assertClose(z1.grad!.toArray() as Float32Array, c.gradZ1, 1e-5, `${what} dL/dz1`);
      assertClose(z2.grad!.toArray() as Float32Array, c.gradZ2, 1e-5, `${what} dL/dz2`);
      // The same inputs with normalisation give another value: the option reaches the formula.
      const normalized = createLoss(c.loss, settings(c, true))(z1, z2).loss.item();
      assert.ok(Math.abs(normalized - c.value) > 1e-4, `${what}: ${normalized} vs ${c.value}`);
    });
  }
});

test('without normalisation the scale of z matters; with it, it does not', () => {
  torch.scope(() => {
    const z1 = torch.randn([6, 5]);
    const z2 = torch.randn([6, 5]);
    for (const name of ['ntxent', 'ntlogistic', 'margintriplet'] as const) {
      const s = { temperature: 0.5, margin: 0.5 };
      const plain = createLoss(name, { ...s, l2Normalize: false });
      const cosine = createLoss(name, { ...s, l2Normalize: true });
      assert.ok(Math.abs(plain(z1, z2).loss.item() - plain(z1.mul(3), z2.mul(3)).loss.item()) > 1e-3, name);
      assert.ok(Math.abs(cosine(z1, z2).loss.item() - cosine(z1.mul(3), z2.mul(3)).loss.item()) < 1e-5, name);
    }
  });
});
