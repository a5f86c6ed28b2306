// The launcher's contract and the distributed environment: thread split, batch shards, env validation, and the
// `simclr launch` command's exit codes when ranks fail before training.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DistributedError, readDistEnv, timeoutFromEnv } from '../../src/distributed/env.js';
import { shardBatch } from '../../src/distributed/sampler.js';
import { threadsPerRank } from '../../src/distributed/launch.js';
import { CLI, start } from './spawn.js';

test('threads are split evenly between local ranks, at least one each', () => {
  assert.equal(threadsPerRank(1, 2), 2);
  assert.equal(threadsPerRank(2, 2), 1);
  assert.equal(threadsPerRank(3, 2), 1);
  assert.equal(threadsPerRank(3, 16), 5);
});

test('shards are contiguous, disjoint and rebuild the global batch in rank order', () => {
  const global = Uint32Array.from([9, 3, 7, 1, 0, 4, 8, 2]);
  const parts = [0, 1, 2, 3].map((r) => shardBatch(global, r, 4));
  assert.deepEqual(
    parts.map((p) => [...p]),
    [
      [9, 3],
      [7, 1],
      [0, 4],
      [8, 2],
    ],
  );
  assert.deepEqual(shardBatch(global, 0, 1), global);
  assert.throws(() => shardBatch(global, 0, 3), DistributedError);
  assert.throws(() => shardBatch(global, 2, 2), RangeError);
});

test('the environment: absent means single process; bad values name the variable', () => {
  assert.equal(readDistEnv({}), null);
  const ok = { WORLD_SIZE: '2', RANK: '1', LOCAL_RANK: '1', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29500' };
  assert.deepEqual(readDistEnv(ok), {
    rank: 1,
    worldSize: 2,
    localRank: 1,
    masterAddr: '127.0.0.1',
    masterPort: 29500,
    timeoutMs: 60_000,
  });
  assert.equal(readDistEnv({ ...ok, SIMCLR_DIST_TIMEOUT: '2.5' })!.timeoutMs, 2500);
  assert.throws(() => readDistEnv({ ...ok, RANK: '2' }), /RANK 2 is not below WORLD_SIZE 2/);
  assert.throws(() => readDistEnv({ ...ok, RANK: 'x' }), /RANK must be an integer >= 0, got 'x'/);
  assert.throws(() => readDistEnv({ ...ok, MASTER_ADDR: '' }), /MASTER_ADDR/);
  assert.throws(() => readDistEnv({ ...ok, MASTER_PORT: '70000' }), /MASTER_PORT must be a TCP port/);
  assert.throws(() => timeoutFromEnv({ SIMCLR_DIST_TIMEOUT: '0' }), /SIMCLR_DIST_TIMEOUT must be a positive number/);
});

test("simclr launch exits with the ranks' failure code when they fail before training", async () => {
  const r = await start(
    CLI,
    [
      'launch',
      '--nproc',
      '2',
      '--',
      'pretrain',
      '--data',
      'fashion-mnist',
      '--out',
      '/tmp/unused',
      '--batch-size',
      '0',
    ],
    {},
  ).done;
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /simclr launch: 2 rank\(s\) on this node of 2, \d+ thread\(s\) each/);
  assert.match(r.stderr, /--batch-size <n>' argument '0' is invalid. expected an integer in \[2, 1048576\]/);
  // Whichever rank fails first is reported; the other may be stopped before it prints its own error.
  assert.match(r.stderr, /simclr launch: rank [01] exited with code 2; stopping the other ranks/);
});

test('simclr launch runs pretrain only, and checks its own flags', async () => {
  const other = await start(CLI, ['launch', '--nproc', '2', '--', 'augment', '--data', 'x'], {}).done;
  assert.equal(other.code, 2);
  assert.match(other.stderr, /launch runs 'pretrain' \(got 'augment'\)/);
  const nodes = await start(CLI, ['launch', '--nproc', '2', '--nnodes', '2', '--node-rank', '1', '--', 'pretrain'], {})
    .done;
  assert.equal(nodes.code, 2);
  assert.match(nodes.stderr, /--master-port is required with --nnodes > 1/);
});
