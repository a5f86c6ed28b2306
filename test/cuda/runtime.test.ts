// torch.cuda on a machine with an NVIDIA GPU: device selection and properties, caching-allocator statistics,
// generator state, pinned host memory and non-blocking copies. Skipped (with the reason) where no GPU is visible.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';

const gpu = { skip: torch.cuda.isAvailable() ? false : 'needs a CUDA GPU (torch.cuda.isAvailable() is false)' };

test('device count, current device, setDevice and properties', gpu, () => {
  const n = torch.cuda.deviceCount();
  assert.ok(n >= 1);
  const before = torch.cuda.currentDevice();
  assert.ok(before >= 0 && before < n);
  torch.cuda.setDevice(n - 1);
  assert.equal(torch.cuda.currentDevice(), n - 1);
  torch.cuda.setDevice(`cuda:${before}`);
  assert.equal(torch.cuda.currentDevice(), before);
  assert.throws(() => torch.cuda.setDevice(n), RangeError);
  const p = torch.cuda.getDeviceProperties(0);
  assert.equal(typeof p.name, 'string');
  assert.ok(p.name.length > 0);
  assert.ok(p.totalMemory > 1e9, `totalMemory ${p.totalMemory}`);
  assert.ok(p.major >= 5 && p.minor >= 0, `compute capability ${p.major}.${p.minor}`);
  assert.ok(p.multiProcessorCount > 0);
  assert.deepEqual(torch.cuda.getDeviceProperties(), torch.cuda.getDeviceProperties(before));
  torch.cuda.synchronize();
  torch.cuda.synchronize(0);
});

test('memoryAllocated follows a tensor; the peak resets; emptyCache keeps live tensors', gpu, () => {
  torch.cuda.synchronize();
  const base = torch.cuda.memoryAllocated(0);
  const bytes = 64 * 1024 * 1024;
  const t = torch.empty([bytes / 4], { device: 'cuda:0' });
  assert.ok(torch.cuda.memoryAllocated(0) >= base + bytes, `${torch.cuda.memoryAllocated(0)} < ${base} + ${bytes}`);
  assert.ok(torch.cuda.maxMemoryAllocated(0) >= torch.cuda.memoryAllocated(0));
  t.fill_(2);
  t.dispose();
  assert.ok(torch.cuda.memoryAllocated(0) < base + bytes);
  assert.ok(torch.cuda.maxMemoryAllocated(0) >= base + bytes, 'the peak remembers the freed tensor');
  torch.cuda.resetPeakMemoryStats(0);
  assert.equal(torch.cuda.maxMemoryAllocated(0), torch.cuda.memoryAllocated(0));
  const keep = torch.ones([1024], { device: 'cuda:0' });
  torch.cuda.emptyCache();
  assert.equal(keep.sum().item(), 1024);
  keep.dispose();
});

test('CUDA generator state round trip; cuda.manualSeed and torch.manualSeed make CUDA draws repeatable', gpu, () => {
  torch.scope(() => {
    const state = torch.cuda.getRngState('cuda:0');
    assert.equal(state.device, 'cpu');
    assert.equal(state.dtype, 'uint8');
    const a = torch.randn([1000], { device: 'cuda:0' });
    torch.cuda.setRngState(state, 'cuda:0');
    const b = torch.randn([1000], { device: 'cuda:0' });
    assert.equal(a.sub(b).abs().max().item(), 0, 'restored state repeats the draw');
    const c = torch.randn([1000], { device: 'cuda:0' });
    assert.notEqual(a.sub(c).abs().max().item(), 0);

    torch.cuda.manualSeed(7, 'cuda:0');
    const d = torch.rand([100], { device: 'cuda:0' });
    torch.cuda.manualSeed(7, 0);
    assert.equal(
      d
        .sub(torch.rand([100], { device: 'cuda:0' }))
        .abs()
        .max()
        .item(),
      0,
    );
    torch.manualSeed(8);
    const e = torch.rand([100], { device: 'cuda:0' });
    torch.cuda.manualSeedAll(8);
    assert.equal(
      e
        .sub(torch.rand([100], { device: 'cuda:0' }))
        .abs()
        .max()
        .item(),
      0,
    );
    assert.equal(torch.defaultGenerator('cuda:0').initialSeed(), 8n);
  });
});

test('pinned host memory: a buffer copied in, sent without blocking, and back', gpu, () => {
  torch.scope(() => {
    const n = 1 << 20;
    const staging = torch.empty([n], { dtype: 'uint8', pinMemory: true });
    assert.equal(staging.isPinned(), true);
    assert.equal(torch.zeros([4]).isPinned(), false);
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = (i * 31 + 7) & 255;
    staging.copyFromBuffer_(data);
    const onGpu = staging.to({ device: 'cuda:0', nonBlocking: true });
    assert.equal(onGpu.device, 'cuda:0');
    assert.equal(onGpu.isPinned(), false);
    torch.cuda.synchronize();
    assert.deepEqual(onGpu.cpu().toArray(), data);
    // The values on the device are the buffer's (a reduction there, not only a copy back).
    const expected = data.reduce((s, v) => s + v, 0);
    assert.equal(onGpu.to('int64').sum().item(), expected);

    const pinned = torch.arange(0, 10, 1, { dtype: 'float32' }).pinMemory();
    assert.equal(pinned.isPinned(), true);
    assert.equal(pinned.pinMemory().isPinned(), true);
    assert.equal(torch.full([3], 1.5, { pinMemory: true }).isPinned(), true);
    // A non-blocking copy back into pinned memory, completed by synchronize.
    const host = torch.empty([10], { pinMemory: true });
    host.copy_(pinned.to({ device: 'cuda:0', nonBlocking: true }).mul(2), true);
    torch.cuda.synchronize();
    assert.deepEqual(host.tolist(), [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
  });
});

test('torch.backends flags can be set with a GPU present and restored', gpu, () => {
  const before = torch.backends.cuda.matmul.allowTF32;
  torch.backends.cuda.matmul.allowTF32 = !before;
  assert.equal(torch.backends.cuda.matmul.allowTF32, !before);
  torch.backends.cuda.matmul.allowTF32 = before;
  torch.backends.cudnn.benchmark = true;
  torch.scope(() => {
    const x = torch.randn([2, 3, 16, 16], { device: 'cuda:0' });
    const w = torch.randn([4, 3, 3, 3], { device: 'cuda:0' });
    assert.deepEqual(torch.nn.functional.conv2d(x, w, { padding: 1 }).shape, [2, 4, 16, 16]);
  });
  torch.backends.cudnn.benchmark = false;
});
