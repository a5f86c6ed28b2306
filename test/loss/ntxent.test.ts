import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as torch from '../../src/torch/index.js';
import { ntXentLoss, ntXentWithAccuracy, DEFAULT_TEMPERATURE } from '../../src/loss/ntxent.js';

interface Reference {
  loss: number;
  accuracy: number;
}
interface LossCase {
  n: number;
  d: number;
  temperature: number;
  world: number;
  z1: number[];
  z2: number[];
  full: Reference & { gradZ1: number[]; gradZ2: number[] };
  ranks: Reference[];
}

const golden = JSON.parse(readFileSync(new URL('../golden/loss.json', import.meta.url), 'utf8')) as {
  cases: LossCase[];
};

function assertClose(actual: ArrayLike<number>, expected: readonly number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    assert.ok(Math.abs(actual[i]! - e) <= tol * (1 + Math.abs(e)), `${what}[${i}]: ${actual[i]} vs ${e}`);
  }
}

function inputs(c: LossCase, requiresGrad: boolean): [torch.Tensor, torch.Tensor] {
  const rows = c.n * c.world;
  return [
    torch.tensor(Float32Array.from(c.z1), { shape: [rows, c.d], requiresGrad }),
    torch.tensor(Float32Array.from(c.z2), { shape: [rows, c.d], requiresGrad }),
  ];
}

test('NT-Xent value and gradients match a per-anchor float64 reference', () => {
  for (const c of golden.cases) {
    torch.scope(() => {
      const [z1, z2] = inputs(c, true);
      const loss = ntXentLoss(z1, z2, { temperature: c.temperature });
      assert.deepEqual(loss.shape, []);
      const what = `N=${c.n * c.world} D=${c.d} t=${c.temperature}`;
      assertClose([loss.item()], [c.full.loss], 1e-5, `${what} loss`);
      loss.backward();
      assertClose(z1.grad!.toArray() as Float32Array, c.full.gradZ1, 1e-5, `${what} dL/dz1`);
      assertClose(z2.grad!.toArray() as Float32Array, c.full.gradZ2, 1e-5, `${what} dL/dz2`);
    });
  }
});

test('contrastive accuracy matches the reference and carries no grad', () => {
  for (const c of golden.cases) {
    torch.scope(() => {
      const [z1, z2] = inputs(c, true);
      const { loss, contrastiveAccuracy } = ntXentWithAccuracy(z1, z2, { temperature: c.temperature });
      assertClose([loss.item()], [c.full.loss], 1e-5, 'loss');
      assert.equal(contrastiveAccuracy.requiresGrad, false);
      assert.equal(contrastiveAccuracy.dtype, 'float32');
      assertClose([contrastiveAccuracy.item()], [c.full.accuracy], 1e-6, `N=${c.n * c.world} accuracy`);
    });
  }
});

test('the gathered form reproduces each replica of a fake data-parallel group', () => {
  for (const c of golden.cases.filter((k) => k.world > 1)) {
    torch.scope(() => {
      const [z1All, z2All] = inputs(c, true);
      const perRank = c.ranks.map((ref, r) => {
        const z1 = z1All.narrow(0, r * c.n, c.n);
        const z2 = z2All.narrow(0, r * c.n, c.n);
        const out = ntXentWithAccuracy(z1, z2, {
          temperature: c.temperature,
          gathered: { z1All, z2All, rankOffset: r * c.n },
        });
        assertClose([out.loss.item()], [ref.loss], 1e-5, `world ${c.world} rank ${r} loss`);
        assertClose([out.contrastiveAccuracy.item()], [ref.accuracy], 1e-6, `world ${c.world} rank ${r} accuracy`);
        return out.loss;
      });
      // Equal local batches: the mean of the replicas' losses is the loss of the whole batch, gradient included.
      const mean = torch.stack(perRank).mean();
      const direct = ntXentLoss(z1All, z2All, { temperature: c.temperature });
      assertClose([mean.item()], [direct.item()], 1e-6, 'mean over replicas');
      mean.backward();
      assertClose(z1All.grad!.toArray() as Float32Array, c.full.gradZ1, 1e-5, 'gathered dL/dz1');
      assertClose(z2All.grad!.toArray() as Float32Array, c.full.gradZ2, 1e-5, 'gathered dL/dz2');
    });
  }
});

test('a world of one through the gathered path equals the plain form', () => {
  const c = golden.cases.find((k) => k.world === 1 && k.n > 1)!;
  torch.scope(() => {
    const [z1, z2] = inputs(c, false);
    const plain = ntXentWithAccuracy(z1, z2, { temperature: c.temperature });
    const gathered = ntXentWithAccuracy(z1, z2, {
      temperature: c.temperature,
      gathered: { z1All: z1, z2All: z2, rankOffset: 0 },
    });
    assert.equal(gathered.loss.item(), plain.loss.item());
    assert.equal(gathered.contrastiveAccuracy.item(), plain.contrastiveAccuracy.item());
  });
});

test('the default temperature is 0.5 and leaves no tensors behind', () => {
  const c = golden.cases.find((k) => k.temperature === DEFAULT_TEMPERATURE && k.world === 1 && k.n > 1)!;
  torch.scope(() => {
    const [z1, z2] = inputs(c, false);
    const before = torch.memoryStats().liveStorages;
    const loss = ntXentLoss(z1, z2);
    assert.equal(torch.memoryStats().liveStorages, before + 1);
    assertClose([loss.item()], [c.full.loss], 1e-5, 'default temperature');
  });
});

test('embeddings are normalised: scaling a view does not change the loss', () => {
  torch.scope(() => {
    const z1 = torch.randn([6, 10]);
    const z2 = torch.randn([6, 10]);
    const a = ntXentLoss(z1, z2, { temperature: 0.2 }).item();
    const b = ntXentLoss(z1.mul(7), z2.mul(0.01), { temperature: 0.2 }).item();
    assert.ok(Math.abs(a - b) < 1e-5, `${a} vs ${b}`);
  });
});

test('invalid inputs are rejected', () => {
  torch.scope(() => {
    const z = torch.randn([4, 3]);
    assert.throws(() => ntXentLoss(z, torch.randn([4, 2])), RangeError);
    assert.throws(() => ntXentLoss(z, torch.randn([4])), RangeError);
    assert.throws(() => ntXentLoss(z, z, { temperature: 0 }), RangeError);
    const all = torch.randn([8, 3]);
    assert.throws(() => ntXentLoss(z, z, { gathered: { z1All: all, z2All: all, rankOffset: 5 } }), RangeError);
    assert.throws(
      () => ntXentLoss(z, z, { gathered: { z1All: all, z2All: torch.randn([8, 4]), rankOffset: 0 } }),
      RangeError,
    );
  });
});
