// Memory: tensor bytes are visible to V8 and released deterministically (scope/dispose) or by GC, so long
// loops keep a flat RSS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as torch from '../../src/torch/index.js';

// Counting live storages exactly needs earlier garbage collected first, or a GC mid-test changes the counts.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const F = torch.nn.functional;
const MB = 1024 * 1024;

function rss(): number {
  return process.memoryUsage().rss;
}

test('a training step looped 10,000 times under torch.scope has flat RSS and no live tensors left', () => {
  torch.manualSeed(0);
  const w1 = torch.randn([64, 32]).mul(0.1).requiresGrad_().keep();
  const w2 = torch.randn([10, 64]).mul(0.1).requiresGrad_().keep();
  const x = torch.randn([128, 32]).keep();
  const y = torch.randint(0, 10, [128]).keep();
  const step = (): number =>
    torch.scope(() => {
      const loss = F.crossEntropy(F.linear(F.linear(x, w1).relu(), w2), y);
      loss.backward();
      torch.noGrad(() => {
        for (const w of [w1, w2]) {
          w.sub_(w.grad!, 0.05);
          w.grad = null;
        }
      });
      return loss.item();
    });
  for (let i = 0; i < 500; i++) step();
  // The unkept intermediates above (randn before mul) are garbage; collected later, mid-loop, they would make the
  // count fall below this baseline (seen on a busy machine: 4 vs 6).
  collectGarbage();
  const storagesBefore = torch.memoryStats().liveStorages;
  const rssBefore = rss();
  let first = 0;
  let last = 0;
  for (let i = 0; i < 10_000; i++) {
    const l = step();
    if (i === 0) first = l;
    last = l;
  }
  const growth = rss() - rssBefore;
  assert.ok(last < first, `loss should fall (${first} -> ${last})`);
  assert.equal(torch.memoryStats().liveStorages, storagesBefore, 'every step-local tensor was freed');
  assert.ok(growth < 40 * MB, `RSS grew by ${(growth / MB).toFixed(1)} MB over 10,000 steps`);
});

test('tensors dropped without dispose are freed by GC under memory pressure (V8 sees their bytes)', () => {
  const start = rss();
  let peak = start;
  for (let i = 0; i < 200; i++) {
    torch.ones([4 * MB]); // 16 MB, unreachable at once and created outside any scope
    peak = Math.max(peak, rss());
  }
  // 200 x 16 MB = 3.2 GB if nothing were collected; allow a few hundred MB of slack for GC timing.
  assert.ok(peak - start < 1024 * MB, `peak RSS grew by ${((peak - start) / MB).toFixed(0)} MB`);
});

test('dispose frees at once; views of one storage are counted once; disposing twice is harmless', () => {
  collectGarbage();
  const before = torch.memoryStats();
  const t = torch.zeros([MB]); // 4 MB
  const v = t.view([1024, 1024]);
  const mid = torch.memoryStats();
  assert.equal(mid.trackedBytes - before.trackedBytes, 4 * MB);
  assert.equal(mid.liveStorages - before.liveStorages, 1);
  t.dispose();
  assert.equal(torch.memoryStats().liveStorages, mid.liveStorages, 'the view keeps the storage alive');
  v.dispose();
  v.dispose();
  assert.deepEqual(torch.memoryStats(), before);
  assert.throws(() => v.add(1), /disposed/);
});

test('scope returns nested results, keeps kept tensors, and disposes everything when fn throws', () => {
  collectGarbage();
  const before = torch.memoryStats().liveStorages;
  let kept: torch.Tensor | null = null;
  const out = torch.scope(() => {
    const a = torch.ones([3]);
    kept = torch.ones([2]).keep();
    const inner = torch.scope(() => ({ b: a.add(1), list: [a.mul(3)] }));
    return { sum: inner.b.add(inner.list[0]!), pair: [inner.b] as const };
  });
  assert.deepEqual(Array.from(out.sum.toArray() as Float32Array), [5, 5, 5]);
  assert.deepEqual(Array.from(out.pair[0].toArray() as Float32Array), [2, 2, 2]);
  assert.equal(torch.memoryStats().liveStorages - before, 3, 'sum, b and the kept tensor survive');
  out.sum.dispose();
  out.pair[0].dispose();
  kept!.dispose();
  assert.throws(
    () =>
      torch.scope(() => {
        torch.ones([10]);
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(torch.memoryStats().liveStorages, before);
});
