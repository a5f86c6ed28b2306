// simclr on a GPU, for scripts/gpu-check.sh. One JSON spec in argv[2], one JSON object on stdout (progress lines
// on stderr). Modes:
//   info     what the addon reports about CUDA: devices, properties, the backend switches it exposes
//   compare  one pretraining step on the CPU and on `device` from the same weights and the same views: loss and
//            every gradient (TF32 as the defaults leave it, then TF32 off where the switches exist), the parameters
//            after one LARS step, and the views made on the device against the CPU kernel's
//   ours     img/s of pretraining steps per case: the model step on pre-made views (what bench/torch_gpu.py
//            measures for Python torch) and the full pipeline (uint8 batch from pinned host memory, both views
//            made on the device by createViewBatch, then the step)
// Device-specific calls that are still being added (torch.cuda.synchronize, torch.backends.*, pinMemory) are
// looked up at run time; what was missing is listed in the output's `missingApis`.
import * as torch from '../src/torch/index.js';
import type { Tensor } from '../src/torch/index.js';
import { resolveConfig } from '../src/run/config.js';
import { buildModel } from '../src/run/folder.js';
import type { SimCLRModel } from '../src/models/simclr.js';
import { defaultAugmentConfig, type AugmentConfig } from '../src/augment/params.js';
import { createViewBatch } from '../src/augment/apply.js';
import { fusedKernelAvailable } from '../src/augment/fused.js';
import { ntXentWithAccuracy } from '../src/loss/ntxent.js';
import { LARS, larsParamGroups } from '../src/optim/index.js';
import { scaledLearningRate } from '../src/optim/schedule.js';

type Fn = (...args: unknown[]) => unknown;
type Switches = Record<string, unknown>;

const missingApis = new Set<string>();
const t0 = Date.now();
function log(msg: string): void {
  process.stderr.write(
    `[gpu.ts ${new Date().toISOString().slice(11, 19)} +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`,
  );
}

// ------------------------------------------------------------------------------------------------ optional APIs
function cudaFn(name: string): Fn | null {
  const f = (torch.cuda as unknown as Record<string, unknown>)[name];
  if (typeof f === 'function') return (f as Fn).bind(torch.cuda);
  missingApis.add(`torch.cuda.${name}`);
  return null;
}

/** torch.backends.cudnn / torch.backends.cuda.matmul, or null where the build has none yet. */
function backend(path: 'cudnn' | 'matmul'): Switches | null {
  const b = (torch as unknown as Record<string, unknown>).backends as Record<string, unknown> | undefined;
  const obj = path === 'cudnn' ? b?.cudnn : (b?.cuda as Record<string, unknown> | undefined)?.matmul;
  if (obj === undefined || obj === null || typeof obj !== 'object') {
    missingApis.add(path === 'cudnn' ? 'torch.backends.cudnn' : 'torch.backends.cuda.matmul');
    return null;
  }
  return obj as Switches;
}

/** Sets a boolean switch and reads it back; returns the value in force, or null when the switch does not exist. */
function setSwitch(path: 'cudnn' | 'matmul', key: string, value: boolean): boolean | null {
  const obj = backend(path);
  if (obj === null || !(key in obj)) {
    if (obj !== null)
      missingApis.add(`${path === 'cudnn' ? 'torch.backends.cudnn' : 'torch.backends.cuda.matmul'}.${key}`);
    return null;
  }
  obj[key] = value;
  return obj[key] === true;
}

function readSwitches(): Record<string, boolean | null> {
  const get = (path: 'cudnn' | 'matmul', key: string): boolean | null => {
    const obj = backend(path);
    return obj !== null && key in obj ? obj[key] === true : null;
  };
  return {
    cudnnBenchmark: get('cudnn', 'benchmark'),
    cudnnAllowTF32: get('cudnn', 'allowTF32'),
    matmulAllowTF32: get('matmul', 'allowTF32'),
  };
}

const isCuda = (device: string): boolean => device.startsWith('cuda');

/** Waits for the device's queued work: torch.cuda.synchronize where it exists, else a device-to-host copy. */
function sync(device: string): void {
  if (!isCuda(device)) return;
  const f = cudaFn('synchronize');
  if (f !== null) {
    // The current device, cuda:0 unless changed: every run here uses cuda:0.
    f();
    return;
  }
  // Reading a value back waits for everything queued before it on the current stream.
  torch.scope(() => torch.zeros([1], { device }).add(1).item());
}

function peakMemory(device: string): number | null {
  if (!isCuda(device)) return null;
  const f = cudaFn('maxMemoryAllocated');
  return f === null ? null : Number(f());
}

function resetPeak(device: string): void {
  if (!isCuda(device)) return;
  cudaFn('resetPeakMemoryStats')?.();
}

/** A pinned copy of a CPU tensor (Tensor.pinMemory()), or the tensor itself when pinning is unavailable. */
function pinned(t: Tensor): { tensor: Tensor; pinned: boolean } {
  const pin = (t as unknown as Record<string, unknown>).pinMemory;
  if (typeof pin !== 'function') {
    missingApis.add('Tensor.pinMemory');
    return { tensor: t, pinned: false };
  }
  return { tensor: (pin as Fn).call(t) as Tensor, pinned: true };
}

// ------------------------------------------------------------------------------------------------ model and step
interface ModelSpec {
  arch: 'resnet18' | 'resnet50';
  width: number;
  /** Side of the views the model is trained on (32 = CIFAR stem, 224 = ImageNet stem). */
  size: number;
  /** Images per view batch; a step sees 2 * batch views. */
  batch: number;
}

function makeModel(m: ModelSpec, seed: number): SimCLRModel {
  torch.manualSeed(seed);
  // The model of `simclr pretrain` by default: the 2-layer MLP head to 128 (the loss and LARS are set up below).
  const cfg = resolveConfig({ data: 'none', out: 'none', arch: m.arch, width: m.width, batchSize: m.batch, seed });
  return buildModel(cfg, { channels: 3, height: m.size }).train();
}

function makeOptimizer(model: SimCLRModel, batch: number): LARS {
  return new LARS(larsParamGroups(model.namedParameters(), { weightDecay: 1e-6 }), { lr: scaledLearningRate(batch) });
}

/** Forward under the precision, NT-Xent (temperature 0.5) on float32 projections, backward. Returns the loss (not read
 * back). */
function forwardBackward(model: SimCLRModel, x: Tensor, precision: 'fp32' | 'bf16', device: string): Tensor {
  return torch.scope(() => {
    const forward = (): Tensor => model.call(x).z;
    const z = (
      precision === 'bf16' ? torch.autocast(isCuda(device) ? 'cuda' : 'cpu', 'bfloat16', forward) : forward()
    ).float();
    const [z1, z2] = z.chunk(2);
    const r = ntXentWithAccuracy(z1!, z2!, { temperature: 0.5 });
    model.zeroGrad();
    r.loss.backward();
    return r.loss.detach();
  });
}

function randomImages(n: number, side: number, seed: number): Tensor {
  return torch.randint(0, 256, [n, 3, side, side], {
    dtype: 'uint8',
    generator: new torch.Generator().manualSeed(seed),
  });
}

function augmentConfig(size: number): AugmentConfig {
  return defaultAugmentConfig(size, false);
}

const indicesFor = (batch: number, offset: number): Uint32Array =>
  Uint32Array.from({ length: batch }, (_, i) => offset + i);

// ------------------------------------------------------------------------------------------------ info
function info(): Record<string, unknown> {
  const count = torch.cuda.deviceCount();
  const props = cudaFn('getDeviceProperties');
  const devices = [];
  for (let i = 0; i < count; i++) devices.push(props === null ? { index: i } : { index: i, ...(props(i) as object) });
  return {
    libtorch: torch.version(),
    cudaAvailable: torch.cuda.isAvailable(),
    deviceCount: count,
    devices,
    switches: readSwitches(),
    augmentKernelCpu: fusedKernelAvailable({ quiet: true }),
  };
}

// ------------------------------------------------------------------------------------------------ compare
interface CompareSpec extends ModelSpec {
  mode: 'compare';
  device: string;
  seed: number;
  /** Max over tensors of max|a-b| / max|a| allowed with TF32 convolutions, and in full float32. */
  tolTf32: number;
  tolFp32: number;
}

/** max|a - b| / max|a| (the reference's scale, so small entries do not dominate) and ||a - b|| / ||a||. */
function relErrors(ref: Tensor, other: Tensor): { maxRel: number; normRel: number } {
  return torch.scope(() => {
    const a = ref.float();
    const d = a.sub(other.cpu().float());
    const scale = a.abs().max().item() as number;
    const norm = a.norm().item() as number;
    return {
      maxRel: scale > 0 ? (d.abs().max().item() as number) / scale : (d.abs().max().item() as number),
      normRel: norm > 0 ? (d.norm().item() as number) / norm : (d.norm().item() as number),
    };
  });
}

interface GradReport {
  tf32: Record<string, boolean | null>;
  loss: { cpu: number; device: number; rel: number };
  worstGradient: { name: string; maxRel: number; normRel: number };
  gradients: Record<string, { maxRel: number; normRel: number }>;
  tolerance: number;
  ok: boolean;
}

function compare(s: CompareSpec): Record<string, unknown> {
  const modelSpec: ModelSpec = { arch: s.arch, width: s.width, size: s.size, batch: s.batch };
  const ref = makeModel(modelSpec, s.seed);
  const dev = makeModel(modelSpec, s.seed + 1);
  dev.loadStateDict(ref.stateDict());
  dev.to(s.device);
  const aug = augmentConfig(s.size);
  const images = randomImages(s.batch, s.size, s.seed).keep();
  const at = { seed: s.seed, epoch: 0, indices: indicesFor(s.batch, 0) };
  // The views are made once on the CPU and copied, so both steps see the same input bits.
  const views = createViewBatch(images, aug, at, { memoryFormat: 'channelsLast' }).keep();
  const viewsDev = views.to({ device: s.device }).keep();

  log(`compare: CPU step (${s.arch} x${s.width}, ${s.size} px, batch ${s.batch})`);
  const lossRef = forwardBackward(ref, views, 'fp32', 'cpu').item() as number;
  const gradsRef = new Map(ref.namedParameters().map(([n, p]) => [n, p.grad!.clone().keep()] as const));

  const runs: GradReport[] = [];
  const settings: { label: string; tf32: boolean | null }[] = [{ label: 'default', tf32: null }];
  if (isCuda(s.device)) settings.push({ label: 'tf32 off', tf32: false });
  for (const setting of settings) {
    if (setting.tf32 !== null) {
      const a = setSwitch('cudnn', 'allowTF32', setting.tf32);
      const b = setSwitch('matmul', 'allowTF32', setting.tf32);
      if (a === null && b === null) {
        log('compare: no TF32 switches in this build; skipping the TF32-off comparison');
        continue;
      }
    }
    const tf32 = { cudnnAllowTF32: readSwitches().cudnnAllowTF32, matmulAllowTF32: readSwitches().matmulAllowTF32 };
    log(`compare: ${s.device} step (${setting.label}: ${JSON.stringify(tf32)})`);
    const lossDev = forwardBackward(dev, viewsDev, 'fp32', s.device).item() as number;
    sync(s.device);
    const gradients: Record<string, { maxRel: number; normRel: number }> = {};
    let worst = { name: '', maxRel: -1, normRel: 0 };
    for (const [name, p] of dev.namedParameters()) {
      const e = relErrors(gradsRef.get(name)!, p.grad!);
      gradients[name] = e;
      if (!(e.maxRel <= worst.maxRel)) worst = { name, ...e };
    }
    // A TF32 run is judged against the TF32 tolerance unless its switches read back as off.
    const tf32On = tf32.cudnnAllowTF32 !== false || tf32.matmulAllowTF32 === true;
    const tolerance = isCuda(s.device) && tf32On ? s.tolTf32 : s.tolFp32;
    const lossRel = Math.abs(lossDev - lossRef) / Math.abs(lossRef);
    const ok = lossRel <= tolerance && worst.maxRel <= tolerance && Number.isFinite(lossDev);
    runs.push({
      tf32,
      loss: { cpu: lossRef, device: lossDev, rel: lossRel },
      worstGradient: worst,
      gradients,
      tolerance,
      ok,
    });
    log(
      `compare: loss ${lossRef} vs ${lossDev} (rel ${lossRel.toExponential(2)}); worst gradient ${worst.name} ` +
        `maxRel ${worst.maxRel.toExponential(2)} normRel ${worst.normRel.toExponential(2)}; tolerance ${tolerance} ` +
        `-> ${ok ? 'ok' : 'FAIL'}`,
    );
  }

  // One LARS step on each from the same gradients (the device's from the last run above).
  const optRef = makeOptimizer(ref, s.batch);
  const optDev = makeOptimizer(dev, s.batch);
  optRef.step();
  optDev.step();
  sync(s.device);
  let worstParam = { name: '', maxRel: -1, normRel: 0 };
  for (const [name, p] of dev.namedParameters()) {
    const e = relErrors(ref.getParameter(name), p);
    if (!(e.maxRel <= worstParam.maxRel)) worstParam = { name, ...e };
  }
  log(`compare: after one LARS step, worst parameter ${worstParam.name} maxRel ${worstParam.maxRel.toExponential(2)}`);

  // Views made on the device from the same uint8 images and seed, against the CPU's (fused kernel when built).
  // The blur is a convolution: with TF32 allowed (or unknown) cuDNN may round it to TF32's 10-bit mantissa.
  const tf32Off = readSwitches().cudnnAllowTF32 === false || !isCuda(s.device);
  const viewTolerance = tf32Off ? 1e-4 : 5e-3;
  const viewCheck: Record<string, unknown> = { tolerance: viewTolerance, tf32Off };
  const impls: ('default' | 'tensor')[] = isCuda(s.device) ? ['default', 'tensor'] : ['tensor'];
  for (const impl of impls) {
    try {
      const diff = torch.scope(() => {
        const imagesDev = images.to({ device: s.device });
        const v = createViewBatch(imagesDev, aug, at, impl === 'tensor' ? { implementation: 'tensor' } : {});
        return v.cpu().sub(views).abs().max().item() as number;
      });
      viewCheck[impl] = { maxAbsDiff: diff, ok: diff <= viewTolerance };
      log(`compare: views on ${s.device} (${impl} implementation) vs CPU: max abs diff ${diff.toExponential(2)}`);
    } catch (e) {
      viewCheck[impl] = { error: brief(e, 2000) };
      log(`compare: views on ${s.device} (${impl}) failed: ${brief(e, 300).split('\n')[0]}`);
    }
  }
  const viewsOk = impls.every((impl) => (viewCheck[impl] as { ok?: boolean }).ok === true);

  for (const t of [images, views, viewsDev, ...gradsRef.values()]) t.dispose();
  ref.dispose();
  dev.dispose();
  return {
    device: s.device,
    model: modelSpec,
    runs,
    afterLarsStep: { worstParameter: worstParam, ok: worstParam.maxRel <= (runs.at(-1)?.tolerance ?? s.tolTf32) },
    views: viewCheck,
    ok:
      runs.length > 0 &&
      runs.every((r) => r.ok) &&
      worstParam.maxRel <= (runs.at(-1)?.tolerance ?? s.tolTf32) &&
      viewsOk,
  };
}

// ------------------------------------------------------------------------------------------------ ours
interface BenchCase extends ModelSpec {
  name: string;
  precision: 'fp32' | 'bf16';
  /** Side of the uint8 source images of the full pipeline (the crop is resized to `size`). */
  sourceSize: number;
}

interface OursSpec {
  mode: 'ours';
  device: string;
  cases: BenchCase[];
  warmup: number;
  steps: number;
  seed: number;
  /** Epoch milliseconds after which remaining cases are skipped. */
  deadline: number;
  cudnnBenchmark: boolean;
}

function timeSteps(device: string, warmup: number, steps: number, body: (i: number) => void): number {
  for (let i = 0; i < warmup; i++) body(i);
  sync(device);
  const start = performance.now();
  for (let i = 0; i < steps; i++) body(warmup + i);
  sync(device);
  return (performance.now() - start) / 1000;
}

function benchCase(s: OursSpec, c: BenchCase): Record<string, unknown> {
  const device = s.device;
  // Everything made here is freed on the way out, also when a case fails (out of memory, a missing kernel), so
  // the next case starts with the device's memory free.
  const owned: { dispose(): void }[] = [];
  const own = <T extends { dispose(): void }>(t: T): T => {
    owned.push(t);
    return t;
  };
  try {
    const model = own(makeModel(c, s.seed).to(device));
    const optimizer = makeOptimizer(model, c.batch);
    const trainStep = (x: Tensor): void => {
      forwardBackward(model, x, c.precision, device).dispose();
      optimizer.step();
    };
    const aug = augmentConfig(c.size);
    const images = own(randomImages(c.batch, c.sourceSize, s.seed).keep());
    const viewsPerStep = 2 * c.batch;

    // 1. The model step on views made beforehand (on the CPU, copied once): comparable with Python's number.
    const views = own(
      torch
        .scope(() =>
          createViewBatch(
            images,
            aug,
            { seed: s.seed, epoch: 0, indices: indicesFor(c.batch, 0) },
            { memoryFormat: 'channelsLast' },
          ).to({ device }),
        )
        .keep(),
    );
    resetPeak(device);
    // Garbage collections during the timed steps: V8 work the host does instead of queuing kernels.
    const gcs: number[] = [];
    const gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) gcs.push(e.duration);
    });
    gcObserver.observe({ entryTypes: ['gc'] });
    const stepSeconds = timeSteps(device, s.warmup, s.steps, () => trainStep(views));
    gcObserver.disconnect();
    const peakBytes = peakMemory(device);
    views.dispose();
    log(
      `${c.name}: model step ${((1000 * stepSeconds) / s.steps).toFixed(1)} ms, ` +
        `${((s.steps * viewsPerStep) / stepSeconds).toFixed(0)} img/s; ${gcs.length} GCs, ` +
        `${gcs.reduce((a, b) => a + b, 0).toFixed(0)} ms in GC`,
    );

    // 2. The full pipeline: uint8 batch from pinned host memory (non-blocking copy), both views made on the device.
    const host = isCuda(device) ? pinned(images) : { tensor: images, pinned: false };
    if (host.tensor !== images) own(host.tensor);
    const makeViews = (i: number): Tensor =>
      torch.scope(() => {
        const onDevice = host.tensor.to({ device, nonBlocking: true });
        return createViewBatch(
          onDevice,
          aug,
          { seed: s.seed, epoch: i, indices: indicesFor(c.batch, i * c.batch) },
          { memoryFormat: 'channelsLast' },
        );
      });
    const pipelineSeconds = timeSteps(device, 1, s.steps, (i) => makeViews(i).dispose());
    const fullSeconds = timeSteps(device, s.warmup, s.steps, (i) => {
      const x = makeViews(i);
      trainStep(x);
      x.dispose();
    });
    log(
      `${c.name}: full pipeline ${((1000 * fullSeconds) / s.steps).toFixed(1)} ms/step (views alone ` +
        `${((1000 * pipelineSeconds) / s.steps).toFixed(1)} ms)`,
    );
    return {
      name: c.name,
      arch: c.arch,
      width: c.width,
      size: c.size,
      sourceSize: c.sourceSize,
      batch: c.batch,
      precision: c.precision,
      steps: s.steps,
      warmup: s.warmup,
      stepMs: (1000 * stepSeconds) / s.steps,
      gcCount: gcs.length,
      gcMs: gcs.reduce((a, b) => a + b, 0),
      imgPerSec: (s.steps * viewsPerStep) / stepSeconds,
      fullStepMs: (1000 * fullSeconds) / s.steps,
      fullImgPerSec: (s.steps * viewsPerStep) / fullSeconds,
      viewsOnlyMs: (1000 * pipelineSeconds) / s.steps,
      // The part of a full step the input pipeline adds, on the same stream (no overlap with the step).
      pipelineShare: Math.max(0, 1 - stepSeconds / fullSeconds),
      pinnedHostMemory: host.pinned,
      peakMemoryBytes: peakBytes,
    };
  } finally {
    for (const t of owned.reverse()) t.dispose();
  }
}

/** Prints one JSON line after every case, so a run cut short by the time limit still leaves the finished cases. */
function ours(s: OursSpec): Record<string, unknown> {
  if (isCuda(s.device)) setSwitch('cudnn', 'benchmark', s.cudnnBenchmark);
  const switches = readSwitches();
  const augmentKernel = fusedKernelAvailable({ quiet: true });
  const results: Record<string, unknown>[] = [];
  for (const c of s.cases) {
    if (Date.now() > s.deadline) {
      results.push({ name: c.name, skipped: 'time guard: too close to the time limit' });
      log(`${c.name}: skipped (time guard)`);
    } else {
      log(
        `${c.name}: ${c.arch} x${c.width} ${c.size} px batch ${c.batch} (${2 * c.batch} views/step) ${c.precision} ` +
          `on ${s.device}`,
      );
      try {
        results.push(benchCase(s, c));
      } catch (e) {
        results.push({ name: c.name, error: brief(e, 2000) });
        log(`${c.name}: FAILED ${brief(e, 300).split('\n')[0]}`);
      }
    }
    emit({ device: s.device, switches, augmentKernelCpu: augmentKernel, channelsLast: true, cases: results });
  }
  return { device: s.device, switches, augmentKernelCpu: augmentKernel, channelsLast: true, cases: results };
}

// ------------------------------------------------------------------------------------------------ loop
interface LoopSpec {
  mode: 'loop';
  device: string;
  /** Generated CIFAR-10-layout images (3x32x32) and the pretrain() settings. */
  images: number;
  batch: number;
  steps: number;
  precisions: ('fp32' | 'bf16')[];
  cudnnBenchmark: boolean;
  deadline: number;
}

/**
 * The real training loop, pretrain() as `simclr pretrain` runs it (dataset reads, pinned uploads, views on the
 * device, step, loss read back one step late, metrics rows), on generated CIFAR-10-layout data: its img/s against
 * the model step alone shows what the loop around the step costs.
 */
async function loop(s: LoopSpec): Promise<Record<string, unknown>> {
  if (isCuda(s.device)) setSwitch('cudnn', 'benchmark', s.cudnnBenchmark);
  const { mkdtempSync, writeFileSync, readFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const { pretrain } = await import('../src/train/pretrain.js');
  const dir = mkdtempSync(join(tmpdir(), 'simclr-gpu-loop-'));
  const perFile = Math.ceil(s.images / 5);
  let seed = 12345;
  for (let f = 1; f <= 5; f++) {
    const buf = Buffer.alloc(perFile * 3073);
    for (let i = 0; i < buf.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      buf[i] = seed >>> 24;
    }
    for (let r = 0; r < perFile; r++) buf[r * 3073] = r % 10;
    writeFileSync(join(dir, `data_batch_${f}.bin`), buf);
  }
  writeFileSync(join(dir, 'test_batch.bin'), Buffer.alloc(10 * 3073));
  const cases: Record<string, unknown>[] = [];
  for (const precision of s.precisions) {
    if (Date.now() > s.deadline) {
      cases.push({ precision, skipped: 'time guard' });
      continue;
    }
    const out = join(dir, `run-${precision}`);
    const waits: number[] = [];
    const hosts: number[] = [];
    try {
      const cfg = resolveConfig({
        data: `cifar10:${dir}`,
        out,
        arch: 'resnet18',
        width: 1,
        batchSize: s.batch,
        epochs: 100,
        maxSteps: s.steps,
        logSteps: 10,
        device: s.device,
        precision,
        blur: true,
      });
      const r = await pretrain(cfg, {
        onProgress: (p) => {
          if (p.step <= 10) return;
          waits.push(p.phases.wait ?? 0);
          hosts.push(
            p.phases.data +
              p.phases.augment +
              p.phases.forward +
              p.phases.loss +
              p.phases.backward +
              p.phases.optimizer,
          );
        },
      });
      const rows = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { step: number; images_per_s: number });
      const timed = rows.filter((x) => x.step > 10);
      const sourcePerSec = timed.reduce((a, x) => a + x.images_per_s, 0) / Math.max(1, timed.length);
      const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
      cases.push({
        name: `loop-r18-${precision}`,
        precision,
        batch: s.batch,
        steps: r.steps,
        finalLoss: r.finalLoss,
        // metrics rows count source images; two views each.
        imgPerSec: 2 * sourcePerSec,
        hostMsPerStep: 1000 * mean(hosts),
        waitMsPerStep: 1000 * mean(waits),
      });
      log(
        `loop-r18-${precision}: ${(2 * sourcePerSec).toFixed(0)} img/s (views) in pretrain(); host ` +
          `${(1000 * mean(hosts)).toFixed(1)} ms/step queuing, ${(1000 * mean(waits)).toFixed(1)} ms/step waiting ` +
          `for the GPU`,
      );
    } catch (e) {
      cases.push({ name: `loop-r18-${precision}`, error: brief(e, 2000) });
      log(`loop-r18-${precision}: FAILED ${brief(e, 300).split('\n')[0]}`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return { device: s.device, switches: readSwitches(), cases };
}

// ------------------------------------------------------------------------------------------------ main
function emit(result: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ...result, missingApis: [...missingApis].sort() })}\n`);
}

const spec = JSON.parse(process.argv[2] ?? '{}') as { mode: string };
/** libtorch's errors can carry the whole dispatcher table: the JSON keeps the start, the console one line. */
const brief = (e: unknown, n: number): string => String((e as Error)?.message ?? e).slice(0, n);

try {
  const device = (spec as { device?: string }).device;
  if (device !== undefined && isCuda(device) && !torch.cuda.isAvailable()) {
    throw new Error(
      `${device} asked for, but torch.cuda.isAvailable() is false (libtorch ${torch.version()}; ` +
        `${torch.cuda.deviceCount()} CUDA devices visible to the addon)`,
    );
  }
  let result: Record<string, unknown>;
  if (spec.mode === 'info') result = info();
  else if (spec.mode === 'compare') result = compare(spec as CompareSpec);
  else if (spec.mode === 'ours') result = ours(spec as OursSpec);
  else if (spec.mode === 'loop') result = await loop(spec as LoopSpec);
  else throw new Error(`bench/gpu.ts: unknown mode '${spec.mode}' (info | compare | ours | loop)`);
  emit(result);
  // A comparison outside tolerance fails the phase (the JSON above says where).
  if (result.ok === false) process.exitCode = 3;
} catch (e) {
  log(`FAILED: ${brief(e, 300).split('\n')[0]}`);
  emit({
    mode: spec.mode,
    error: brief(e, 2000),
    stack: String((e as Error)?.stack ?? '')
      .split('\n')
      .filter((l) => l.includes('    at '))
      .slice(0, 8)
      .join('\n'),
  });
  process.exitCode = 1;
}
