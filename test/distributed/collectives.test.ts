// c10d collectives across two real processes over loopback: TCP and file rendezvous, every collective's values,
// the differentiable all-gather / all-reduce gradients, bucketed gradient averaging, and failures within the timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '../../src/torch/index.js';
import { freePort, rankEnv, sibling, start } from './spawn.js';

async function runPair(mode: string): Promise<Record<string, unknown>[]> {
  const port = await freePort();
  const ranks = [0, 1].map((r) => start(sibling('collectives-rank'), [mode], rankEnv(r, 2, port, 20), 120_000));
  const results = await Promise.all(ranks.map((r) => r.done));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  return results.map((r) => JSON.parse(r.stdout.trim()) as Record<string, unknown>);
}

function checkPair(results: Record<string, unknown>[]): void {
  for (const [rank, o] of results.entries()) {
    assert.equal(o.rank, rank);
    assert.equal(o.size, 2);
    assert.equal(o.backend, 'gloo');
    assert.deepEqual(o.sum, [3, 30]);
    assert.equal(o.sumInt, 3);
    assert.deepEqual(o.max, [1, 0]);
    assert.deepEqual(o.broadcast, [1, 1, 1]);
    assert.deepEqual(o.gathered, [
      [0, 0],
      [1, 1],
    ]);
    assert.deepEqual(o.catShape, [2, 2]);
    assert.deepEqual(o.catValues, [1, 2, 2, 3]);
    assert.equal(o.catGradFn, 'AllGatherBackward');
    // Both ranks' losses weigh the gathered rows by 1 and 2: each input row's gradient is 1 + 2.
    assert.deepEqual(o.catGrad, [3, 3]);
    assert.deepEqual(o.reduceValues, [3, 6]);
    assert.deepEqual(o.reduceGrad, rank === 0 ? [3, 3] : [6, 6]);
    assert.deepEqual(o.buckets, [1, 1, 1]);
    const mean = [
      [1.5, 1.5],
      [3, 3, 3],
      [3, 3, 3, 3],
    ];
    assert.deepEqual(o.avgArmed, mean);
    assert.deepEqual(o.avgAfter, mean);
  }
}

test('collectives over a TCP store rendezvous', async () => {
  checkPair(await runPair('tcp'));
});

test('collectives over a file store rendezvous', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'simclr-filestore-'));
  try {
    checkPair(await runPair(`file:${join(dir, 'store')}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a TCP store: set/get/add/check/wait, and a timeout on a missing key', () => {
  const store = torch.distributed.Store.tcp({
    host: '127.0.0.1',
    port: 0,
    isServer: true,
    worldSize: 1,
    timeoutMs: 2000,
  });
  assert.ok(store.port > 0);
  store.set('greeting', 'hello');
  assert.equal(store.get('greeting').toString(), 'hello');
  assert.equal(store.add('count', 2), 2);
  assert.equal(store.add('count', 3), 5);
  assert.equal(store.check(['greeting', 'count']), true);
  assert.equal(store.check(['absent']), false);
  store.wait(['greeting'], 1000);
  const t0 = Date.now();
  assert.throws(() => store.wait(['absent'], 500), /Store\.wait/);
  assert.ok(Date.now() - t0 < 5000);
});

test('a peer that exits makes the other rank fail promptly, naming the collective and the rank', async () => {
  const port = await freePort();
  const ranks = [0, 1].map((r) => start(sibling('peer-fails-rank'), ['exit'], rankEnv(r, 2, port, 10), 60_000));
  const [r0, r1] = await Promise.all(ranks.map((r) => r.done));
  assert.equal(r1!.code, 3);
  assert.notEqual(r0!.code, 0);
  assert.match(
    r0!.stderr,
    /DistributedError: agreeing on stopping: c10d: allReduce failed on rank 0 of 2 \(gloo, timeout 10 s\)/,
  );
  assert.doesNotMatch(r0!.stderr, /unexpectedly succeeded/);
});

test('a peer that hangs makes the other rank fail once the timeout passes', async () => {
  const port = await freePort();
  const ranks = [0, 1].map((r) => start(sibling('peer-fails-rank'), ['hang'], rankEnv(r, 2, port, 3), 60_000));
  await ranks[0]!.waitFor('entering the second collective');
  const t0 = Date.now();
  const r0 = await ranks[0]!.done;
  const waited = (Date.now() - t0) / 1000;
  ranks[1]!.kill('SIGKILL');
  await ranks[1]!.done;
  assert.notEqual(r0.code, 0);
  assert.match(r0.stderr, /allReduce failed on rank 0 of 2 \(gloo, timeout 3 s\).*[Tt]imed out/);
  assert.ok(waited >= 2.5 && waited < 15, `rank 0 failed after ${waited.toFixed(1)} s with a 3 s timeout`);
});
