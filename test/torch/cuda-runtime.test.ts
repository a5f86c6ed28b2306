// torch.cuda, torch.backends and the NCCL backend where no CUDA device is visible (a CPU libtorch, or a CUDA libtorch
// on a machine without a GPU, as scripts/check-cuda-build.sh runs it): what reports "no CUDA", what throws and why,
// what is a harmless no-op, and the device-independent parts (flags, argument checks, pinned-memory wrappers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '../../src/torch/index.js';
import { native } from '../../src/torch/native.js';
import { DistributedError, initFromEnv } from '../../src/distributed/env.js';
import { freePort } from '../../src/distributed/launch.js';

const noGpu = { skip: torch.cuda.isAvailable() ? 'a CUDA device is visible (test/cuda covers this machine)' : false };
// Whether the addon's own CUDA code is compiled in (a build against a CUDA libtorch).
const withCuda = (native.buildInfo() as { withCuda?: boolean }).withCuda === true;
const REASON = withCuda ? 'no CUDA device is visible' : 'this libtorch has no CUDA';

test('without a CUDA device: isAvailable is false and deviceCount 0', noGpu, () => {
  assert.equal(torch.cuda.isAvailable(), false);
  assert.equal(torch.cuda.deviceCount(), 0);
  // (hasCuda is libtorch's "CUDA usable now": false without a device even in a CUDA build.)
  assert.equal(native.buildInfo().hasCuda, false);
});

test('without a CUDA device: CUDA-only calls throw an Error naming the call and the reason', noGpu, () => {
  const calls: [string, () => unknown][] = [
    ['currentDevice', () => torch.cuda.currentDevice()],
    ['setDevice', () => torch.cuda.setDevice(0)],
    ['getDeviceProperties', () => torch.cuda.getDeviceProperties()],
    ['getDeviceProperties', () => torch.cuda.getDeviceProperties('cuda:0')],
    ['memoryAllocated', () => torch.cuda.memoryAllocated()],
    ['maxMemoryAllocated', () => torch.cuda.maxMemoryAllocated(0)],
    ['resetPeakMemoryStats', () => torch.cuda.resetPeakMemoryStats()],
    ['getRngState', () => torch.cuda.getRngState()],
    ['setRngState', () => torch.cuda.setRngState(torch.zeros([16], { dtype: 'uint8' }))],
  ];
  for (const [name, call] of calls) {
    assert.throws(call, (e: Error) => {
      assert.ok(e.message.startsWith(`torch.cuda.${name}: ${REASON}`), e.message);
      return true;
    });
  }
  if (!withCuda)
    assert.throws(
      () => torch.cuda.currentDevice(),
      new RegExp(`built against libtorch ${torch.version().replace(/[.+]/g, '\\$&')}, CPU only`),
    );
});

test(
  'without a CUDA device: synchronize and emptyCache do nothing; manualSeed and manualSeedAll are ignored',
  noGpu,
  () => {
    torch.cuda.synchronize();
    torch.cuda.synchronize('cuda:0');
    torch.cuda.emptyCache();
    torch.cuda.manualSeed(1);
    torch.cuda.manualSeed(1, 'cuda:3');
    torch.cuda.manualSeedAll(2n);
    torch.manualSeed(3); // seeds every device's default generator: none but the CPU's here
  },
);

test('torch.cuda device arguments: an index, cuda or cuda:N; anything else is a TypeError or RangeError', () => {
  assert.throws(() => torch.cuda.synchronize('cpu'), {
    name: 'TypeError',
    message: /torch\.cuda\.synchronize: expected a CUDA device .* got 'cpu'/,
  });
  assert.throws(() => torch.cuda.memoryAllocated('cuda:x'), TypeError);
  assert.throws(() => torch.cuda.memoryAllocated(-1), RangeError);
  assert.throws(() => torch.cuda.getDeviceProperties(1.5), RangeError);
  assert.throws(() => torch.cuda.manualSeed(1, 'mps'), TypeError);
});

test('torch.backends flags start at PyTorch defaults and round-trip', () => {
  // PyTorch's defaults; nothing in simclr may change them behind the user's back.
  assert.equal(torch.backends.cudnn.benchmark, false);
  assert.equal(torch.backends.cudnn.allowTF32, true);
  assert.equal(torch.backends.cuda.matmul.allowTF32, false);
  const flags = [
    {
      get: () => torch.backends.cudnn.benchmark,
      set: (v: boolean) => {
        torch.backends.cudnn.benchmark = v;
      },
    },
    {
      get: () => torch.backends.cudnn.allowTF32,
      set: (v: boolean) => {
        torch.backends.cudnn.allowTF32 = v;
      },
    },
    {
      get: () => torch.backends.cuda.matmul.allowTF32,
      set: (v: boolean) => {
        torch.backends.cuda.matmul.allowTF32 = v;
      },
    },
  ];
  for (const f of flags) {
    const before = f.get();
    try {
      f.set(!before);
      assert.equal(f.get(), !before);
      f.set(before);
      assert.equal(f.get(), before);
    } finally {
      f.set(before);
    }
  }
  // Each flag is its own switch.
  torch.backends.cudnn.benchmark = true;
  assert.equal(torch.backends.cudnn.allowTF32, true);
  assert.equal(torch.backends.cuda.matmul.allowTF32, false);
  torch.backends.cudnn.benchmark = false;
  assert.throws(() => {
    (torch.backends.cudnn as { benchmark: unknown }).benchmark = 1;
  }, TypeError);
  assert.equal(torch.backends.cudnn.benchmark, false);
});

test('defaultBackend: nccl for CUDA devices, gloo otherwise', () => {
  assert.equal(torch.distributed.defaultBackend('cuda'), 'nccl');
  assert.equal(torch.distributed.defaultBackend('cuda:3'), 'nccl');
  assert.equal(torch.distributed.defaultBackend('cpu'), 'gloo');
  assert.equal(torch.distributed.defaultBackend('cudax'), 'gloo');
});

test(
  'backend nccl without a CUDA device fails with a clear reason; bad backends and devices are rejected',
  noGpu,
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'simclr-nccl-'));
    try {
      const store = torch.distributed.Store.file(join(dir, 'store'), 1, 5000);
      const expected = withCuda
        ? /ProcessGroup\(nccl\): .*no GPUs found/
        : new RegExp(
            `ProcessGroup: backend 'nccl' needs a libtorch built with CUDA; this addon was built against ` +
              `${torch.version().replace(/[.+]/g, '\\$&')} \\(CPU only\\)$`,
          );
      assert.throws(
        () => new torch.distributed.ProcessGroup(store, 0, 1, { backend: 'nccl', timeoutMs: 5000 }),
        expected,
      );
      assert.throws(
        () => new torch.distributed.ProcessGroup(store, 0, 1, { backend: 'mpi' as torch.distributed.Backend }),
        /backend must be 'gloo' or 'nccl', got 'mpi'/,
      );
      assert.throws(
        () => new torch.distributed.ProcessGroup(store, 0, 1, { device: 'cuda:0' }),
        /device is for backend 'nccl'/,
      );
      assert.throws(
        () => new torch.distributed.ProcessGroup(store, 0, 1, { backend: 'nccl', device: 'cuda' }),
        /must be 'cuda:N'/,
      );
      // The same store still serves a Gloo group.
      const g = new torch.distributed.ProcessGroup(store, 0, 1, {
        backend: 'gloo',
        timeoutMs: 5000,
        hostname: '127.0.0.1',
      });
      assert.equal(g.backend, 'gloo');
      g.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'initFromEnv takes a backend: nccl without a CUDA device is a DistributedError naming NCCL and the reason',
  noGpu,
  async () => {
    const env = {
      WORLD_SIZE: '1',
      RANK: '0',
      MASTER_ADDR: '127.0.0.1',
      MASTER_PORT: String(await freePort()),
      SIMCLR_DIST_TIMEOUT: '5',
    };
    assert.throws(
      () => initFromEnv(env, { backend: 'nccl', device: 'cuda:0' }),
      (e: Error) => {
        assert.ok(e instanceof DistributedError);
        assert.match(e.message, /connecting the NCCL process group failed/);
        assert.match(e.message, withCuda ? /no GPUs found/ : /needs a libtorch built with CUDA/);
        return true;
      },
    );
  },
);

test('pinned memory: ordinary tensors are not pinned; pinning without a CUDA device throws', noGpu, () => {
  torch.scope(() => {
    const t = torch.zeros([4]);
    assert.equal(t.isPinned(), false);
    assert.throws(() => t.pinMemory());
    assert.throws(() => torch.empty([4], { pinMemory: true }));
    assert.throws(() => torch.zeros([4], { pinMemory: true }));
  });
});

test('copyFromBuffer_ refills a contiguous CPU tensor in place and checks the byte length', () => {
  torch.scope(() => {
    const t = torch.empty([2, 3], { dtype: 'uint8' });
    assert.equal(t.copyFromBuffer_(Uint8Array.from([1, 2, 3, 4, 5, 6])), t);
    assert.deepEqual(t.tolist(), [
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const f = torch.zeros([2]);
    f.copyFromBuffer_(Float32Array.from([0.5, -2]));
    assert.deepEqual(f.tolist(), [0.5, -2]);
    assert.throws(() => t.copyFromBuffer_(new Uint8Array(5)), RangeError);
    assert.throws(() => t.t().copyFromBuffer_(new Uint8Array(6)), /contiguous CPU tensor/);
    assert.throws(() => t.copyFromBuffer_([1, 2] as unknown as Uint8Array), TypeError);
  });
});

test('to({device, nonBlocking}) on the CPU copies as a blocking copy would', () => {
  torch.scope(() => {
    const t = torch.tensor([1, 2, 3]);
    const u = t.to({ device: 'cpu', nonBlocking: true, copy: true });
    u.add_(1);
    assert.deepEqual(t.tolist(), [1, 2, 3]);
    assert.deepEqual(u.tolist(), [2, 3, 4]);
  });
});
