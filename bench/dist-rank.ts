// One process of bench/dist.ts, started with or without the rank environment. Modes:
//   pretrain  steps of pretrain() (data, augmentation, model, gathered loss, gradient averaging, optimiser); rank 0
//             reports each step's wall time, which waits for the slowest rank, so it is the global step time
//   step      forward + loss + backward + gradient averaging on fixed random views, with or without overlap of the
//             bucket all-reduces with backward (DistributedContext's `overlap`)
// Rank 0 writes {seconds: number[]} (per measured step) to OUT/bench-seconds.json.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../src/torch/index.js';
import { pretrain } from '../src/train/pretrain.js';
import { resolveConfig } from '../src/run/config.js';
import { buildModel } from '../src/run/folder.js';
import { ntXentLoss } from '../src/loss/ntxent.js';
import { DistributedContext } from '../src/distributed/context.js';

export interface DistBenchSpec {
  mode: 'pretrain' | 'step';
  out: string;
  width: number;
  /** Global batch (source images; two views each). */
  batch: number;
  warmup: number;
  steps: number;
  syncBn: boolean;
  overlap: boolean;
}

const spec = JSON.parse(process.argv[2]!) as DistBenchSpec;
const cfg = resolveConfig({
  data: 'fashion-mnist',
  out: spec.out,
  arch: 'resnet18',
  width: spec.width,
  batchSize: spec.batch,
  epochs: 1,
  maxSteps: spec.warmup + spec.steps,
  logSteps: 1000,
  blur: false,
  colorStrength: 0.5,
  // The MLP head its recorded throughputs were measured with (one epoch would get the auto preset's linear head).
  projLayers: 2,
  syncBn: spec.syncBn,
});
const seconds: number[] = [];
let isMain = true;

if (spec.mode === 'pretrain') {
  let last = process.hrtime.bigint();
  await pretrain(cfg, {
    onProgress: (p) => {
      const now = process.hrtime.bigint();
      if (p.step > spec.warmup) seconds.push(Number(now - last) / 1e9);
      last = now;
    },
  });
  isMain = (process.env.RANK ?? '0') === '0';
} else {
  const dist = DistributedContext.fromEnv();
  isMain = dist?.isMain ?? true;
  torch.manualSeed(0);
  const model = buildModel(cfg, { channels: 1, height: 28 }).train();
  dist?.prepare(model, { syncBn: spec.syncBn, overlap: spec.overlap });
  const local = spec.batch / (dist?.worldSize ?? 1);
  const x = torch.randn([2 * local, 1, 28, 28]).keep();
  for (let i = 0; i < spec.warmup + spec.steps; i++) {
    const t0 = process.hrtime.bigint();
    torch.scope(() => {
      model.zeroGrad();
      dist?.beforeForward();
      const [z1, z2] = model.call(x).z.chunk(2) as [torch.Tensor, torch.Tensor];
      const gathered = dist?.gatherPairs(z1, z2);
      const loss = ntXentLoss(z1, z2, gathered ? { gathered } : {});
      if (dist === null) loss.backward();
      else dist.backward(loss);
    });
    if (i >= spec.warmup) seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  dist?.close();
}
if (isMain) writeFileSync(join(spec.out, 'bench-seconds.json'), JSON.stringify({ seconds }));
