// Device names and the 'auto' choice: resolution against given facts (no GPU needed), and this machine's answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';

const gpus = (n: number): torch.ResolveDeviceOptions => ({ built: true, deviceCount: n });

test('resolveDevice: cpu, cuda, cuda:N and auto against a CUDA libtorch with GPUs', () => {
  assert.equal(torch.resolveDevice('cpu', gpus(2)), 'cpu');
  assert.equal(torch.resolveDevice('cuda', gpus(2)), 'cuda:0');
  assert.equal(torch.resolveDevice('cuda:1', gpus(2)), 'cuda:1');
  assert.equal(torch.resolveDevice('auto', gpus(2)), 'cuda:0');
  // Under a launch, 'cuda' and 'auto' mean this process's own GPU, as torchrun scripts use LOCAL_RANK.
  assert.equal(torch.resolveDevice('cuda', { ...gpus(2), localRank: 1 }), 'cuda:1');
  assert.equal(torch.resolveDevice('auto', { ...gpus(2), localRank: 1 }), 'cuda:1');
  // More local ranks than GPUs: outside a job auto falls back to the CPU; in one it refuses, since ranks on
  // different devices would join different backends and hang.
  assert.equal(torch.resolveDevice('auto', { ...gpus(1), localRank: 1 }), 'cpu');
  assert.throws(
    () => torch.resolveDevice('auto', { ...gpus(2), localRank: 2, distributed: true }),
    /--device auto: local rank 2 has no GPU of its own \(2 CUDA device\(s\) visible\); start at most 2/,
  );
  assert.equal(torch.resolveDevice('auto', { built: true, deviceCount: 0, localRank: 3, distributed: true }), 'cpu');
});

test('resolveDevice: auto is the CPU without CUDA or without a visible GPU', () => {
  assert.equal(torch.resolveDevice('auto', { built: false, deviceCount: 0 }), 'cpu');
  assert.equal(torch.resolveDevice('auto', gpus(0)), 'cpu');
});

test('resolveDevice: each impossible request is one DeviceError naming the flag and the reason', () => {
  const fails = (spec: string, opts: torch.ResolveDeviceOptions, pattern: RegExp): void => {
    assert.throws(
      () => torch.resolveDevice(spec, opts),
      (e: unknown) => {
        assert.ok(e instanceof torch.DeviceError, String(e));
        assert.equal(e.name, 'DeviceError');
        assert.ok(!e.message.includes('\n'), 'one line');
        assert.match(e.message, pattern);
        return true;
      },
    );
  };
  fails('cuda', { built: false, deviceCount: 0 }, /^--device cuda: this libtorch \(.+\) was built without CUDA/);
  fails('cuda:0', gpus(0), /no CUDA device is visible.*CUDA_VISIBLE_DEVICES/);
  fails('cuda:2', gpus(2), /cuda:2 does not exist; 2 CUDA device\(s\) visible \(cuda:0\.\.cuda:1\)/);
  fails('cuda', { ...gpus(1), localRank: 1 }, /cuda:1 does not exist/);
  for (const bad of ['gpu', 'cuda:', 'cuda:-1', 'cpu:0', 'auto:1', 'CUDA', ' cpu', 'cuda:1.5'])
    fails(bad, gpus(1), /must be cpu, cuda, cuda:N or auto/);
  fails('mps', { ...gpus(1), flag: '--eval-device' }, /^--eval-device must be/);
});

test('deviceType keys autocast and generators', () => {
  assert.equal(torch.deviceType('cpu'), 'cpu');
  assert.equal(torch.deviceType('cuda'), 'cuda');
  assert.equal(torch.deviceType('cuda:3'), 'cuda');
  assert.throws(() => torch.deviceType('mps'), torch.DeviceError);
});

test('this machine: auto resolves to what the linked libtorch can see', () => {
  const count = torch.cuda.deviceCount();
  assert.equal(torch.resolveDevice('auto'), torch.cudaBuilt() && count > 0 ? 'cuda:0' : 'cpu');
  if (count === 0) assert.throws(() => torch.resolveDevice('cuda'), torch.DeviceError);
});
