// Micro-benchmark (issue 2): conv2d forward+backward and a ResNet basic block (conv-BN-ReLU-conv-BN + skip,
// forward+backward) through our API and through Python torch on the same libtorch, in the same run.
// Prints seconds per iteration for both and the ratio ours/torch (1.00 = parity; lower is faster).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import * as torch from '../src/torch/index.js';
import { sameLibtorchPython } from './python.js';

// Python torch on the same libtorch as ours.
const PYTHON = sameLibtorchPython([]);

const F = torch.nn.functional;
const threads = Number(process.env.BENCH_THREADS ?? torch.getNumThreads());
const iters = Number(process.env.BENCH_ITERS ?? 20);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
torch.setNumThreads(threads);
torch.manualSeed(0);

function timeit(fn: () => void): number {
  for (let i = 0; i < 3; i++) torch.scope(fn);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) torch.scope(fn);
  return Number(process.hrtime.bigint() - t0) / 1e9 / iters;
}

const x = torch.randn([32, 64, 32, 32]).keep();
const w = torch.randn([64, 64, 3, 3], { requiresGrad: true }).keep();
function conv(): void {
  F.conv2d(x, w, { padding: 1 }).sum().backward();
  w.grad = null;
}

const p = {
  w1: torch.randn([64, 64, 3, 3], { requiresGrad: true }).keep(),
  w2: torch.randn([64, 64, 3, 3], { requiresGrad: true }).keep(),
  g1: torch.ones([64], { requiresGrad: true }).keep(),
  b1: torch.zeros([64], { requiresGrad: true }).keep(),
  g2: torch.ones([64], { requiresGrad: true }).keep(),
  b2: torch.zeros([64], { requiresGrad: true }).keep(),
};
const stats = [torch.zeros([64]), torch.ones([64]), torch.zeros([64]), torch.ones([64])].map((t) => t.keep());
function block(): void {
  let out = F.conv2d(x, p.w1, { padding: 1 });
  out = F.batchNorm(out, stats[0]!, stats[1]!, { weight: p.g1, bias: p.b1, training: true }).relu();
  out = F.conv2d(out, p.w2, { padding: 1 });
  out = F.batchNorm(out, stats[2]!, stats[3]!, { weight: p.g2, bias: p.b2, training: true });
  out.add(x).relu().sum().backward();
  for (const t of Object.values(p)) t.grad = null;
}

function python(): Record<string, number> {
  const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'torch_micro.py');
  const r = spawnSync(PYTHON, [script, String(threads), String(iters)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python torch reference failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, number>;
}

// Alternate ours and torch's so machine noise hits both; report the best round of each.
const best: Record<string, { ours: number; torch: number }> = {};
for (let r = 0; r < rounds; r++) {
  const ours = { conv2d: timeit(conv), basic_block: timeit(block) };
  const ref = python();
  for (const k of Object.keys(ours) as (keyof typeof ours)[]) {
    best[k] ??= { ours: Infinity, torch: Infinity };
    const b = best[k];
    b.ours = Math.min(b.ours, ours[k]);
    b.torch = Math.min(b.torch, ref[k]!);
  }
}
console.log(`threads=${threads} iters=${iters} rounds=${rounds} libtorch=${torch.version()}`);
console.log('case          ours (ms)  torch (ms)  ours/torch');
for (const [k, v] of Object.entries(best)) {
  console.log(
    `${k.padEnd(13)} ${(v.ours * 1e3).toFixed(2).padStart(9)}  ${(v.torch * 1e3).toFixed(2).padStart(10)}  ` +
      `${(v.ours / v.torch).toFixed(3).padStart(10)}`,
  );
}
