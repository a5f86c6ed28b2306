// Semi-supervised fine-tuning (SimCLR appendix B.5): the pretrained encoder plus a new linear classifier, trained
// end to end on a class-balanced fraction of the labels with Nesterov SGD on random crop + flip views.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { Module, Linear, ReLU, Sequential } from '../nn/index.js';
import { SGD } from '../optim/index.js';
import { learningRate } from '../optim/schedule.js';
import type { ImageDataset } from '../data/dataset.js';
import { classBalancedSubset, epochPermutation } from '../data/loader.js';
import type { SimCLRModel, Encoder } from '../models/simclr.js';
import { writeFileAtomic } from '../run/folder.js';
// finetune()'s defaults are `simclr finetune`'s (src/run/options/finetune.ts).
import { FINETUNE_FIELDS as DEFAULTS } from '../run/options/finetune.js';
import {
  classCount,
  cropFlipAugmentConfig,
  extractFeatures,
  labelledRows,
  loadImages,
  topkAccuracy,
  DEFAULT_EVAL_BATCH_SIZE,
} from '../features/extract.js';

/** Fine-tuning views use their own view id, so their crops are not pretraining's first views again. */
const FINETUNE_VIEW = 2;

/** Encoder, optionally the projection head's first layer (SimCLRv2), then a linear classifier. */
export class FinetuneNet extends Module {
  readonly encoder: Encoder;
  readonly head: Sequential | null;
  readonly classifier: Linear;

  constructor(encoder: Encoder, head: Sequential | null, numClasses: number, generator?: torch.Generator) {
    super();
    this.encoder = this.registerModule('encoder', encoder);
    this.head = head === null ? null : this.registerModule('head', head);
    const inDim = head === null ? encoder.featureDim : (head.at(0) as Linear).outFeatures;
    this.classifier = this.registerModule('classifier', new Linear(inDim, numClasses, generator ? { generator } : {}));
  }

  forward(x: Tensor): Tensor {
    const h = this.encoder.call(x);
    if (this.head === null) {
      const logits = this.classifier.call(h);
      h.dispose();
      return logits;
    }
    const z = this.head.call(h);
    h.dispose();
    const logits = this.classifier.call(z);
    z.dispose();
    return logits;
  }
}

/**
 * The projection head's first layer with its activation (Linear-ReLU, or Linear-BN-ReLU for SimCLRv2's head), as
 * a Sequential sharing the pretrained modules and their names ('0', '1', ...).
 */
export function firstHeadLayer(model: SimCLRModel): Sequential {
  const head = model.head;
  const reluAt =
    head instanceof Sequential
      ? Array.from({ length: head.length }, (_, i) => head.at(i)).findIndex((m) => m instanceof ReLU)
      : -1;
  if (!(head instanceof Sequential) || reluAt < 0 || !(head.at(0) instanceof Linear)) {
    throw new RangeError(
      '--from-head-layer needs a projection head of at least 2 layers (pretrain with --proj-layers >= 2)',
    );
  }
  const layer = new Sequential();
  for (let i = 0; i <= reluAt; i++) layer.append(head.at(i));
  return layer;
}

export interface FinetuneOptions {
  /** Share of each class's labels used, in (0, 1]. */
  labelFraction: number;
  /** Folder for labels.json, model.safetensors and result.json (created if missing). */
  outDir: string;
  /** Default: 60 for fractions up to 1%, else 30 (the paper's schedule). */
  epochs?: number;
  /** Default 256, capped at the number of labelled samples. */
  batchSize?: number;
  /** Base rate, scaled by batch/256 (default 0.05, the paper's), decayed by a cosine without warm-up. */
  lr?: number;
  /** Nesterov momentum (default 0.9). */
  momentum?: number;
  /** Default 0: the paper fine-tunes without regularisation. */
  weightDecay?: number;
  /** Seeds the label subset, data order, views and the classifier's initialisation (default 0). */
  seed?: number;
  /** Keep the projection head's first layer and classify its output (SimCLRv2). */
  fromHeadLayer?: boolean;
  /** Label subset drawn from the first trainLimit training samples only. */
  trainLimit?: number;
  /** Only the first testLimit test samples are classified. */
  testLimit?: number;
  /** Side of the encoder's input (default: the training images' size). */
  inputSize?: number;
  device?: string;
  onStep?: (p: { epoch: number; step: number; totalSteps: number; loss: number; lr: number }) => void;
}

export interface FinetuneResult {
  labelFraction: number;
  /** Labelled training samples used. */
  labelled: number;
  epochs: number;
  steps: number;
  finalLoss: number;
  top1: number;
  top5: number;
  testCount: number;
  labelsFile: string;
  weightsFile: string;
}

/** The label subset: sorted sample indices and the per-class counts, saved as labels.json. */
export interface LabelSubset {
  label_fraction: number;
  seed: number;
  dataset: string;
  /** Samples the subset was drawn from (the first ones of the split). */
  drawn_from: number;
  per_class: number[];
  indices: number[];
}

/** A reproducible class-balanced label subset of a labelled dataset's first `limit` samples. */
export function labelSubset(ds: ImageDataset, fraction: number, seed: number, limit?: number): LabelSubset {
  if (!ds.labels) throw new RangeError(`fine-tuning needs labels, and ${ds.name} has none`);
  const labels = limit === undefined ? ds.labels : ds.labels.subarray(0, limit);
  const indices = classBalancedSubset(labels, fraction, seed);
  const perClass = new Array<number>(Math.max(ds.numClasses, classCount(labels))).fill(0);
  for (const i of indices) perClass[labels[i]!]!++;
  return {
    label_fraction: fraction,
    seed,
    dataset: ds.name,
    drawn_from: labels.length,
    per_class: perClass,
    indices: Array.from(indices),
  };
}

/**
 * Fine-tunes `model`'s encoder (in place) with a new classifier on a label subset of `trainDs`, then reports
 * top-1/top-5 on `testDs`. Writes outDir/labels.json (the subset), outDir/model.safetensors (the fine-tuned
 * network: encoder.*, head.* with fromHeadLayer, classifier.*) and outDir/result.json.
 */
export function finetune(
  model: SimCLRModel,
  trainDs: ImageDataset,
  testDs: ImageDataset,
  opts: FinetuneOptions,
): FinetuneResult {
  const fraction = opts.labelFraction;
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`--label-fraction must be in (0, 1], got ${fraction}`);
  const seed = opts.seed ?? DEFAULTS.seed.default;
  const epochs = opts.epochs ?? (fraction <= 0.01 ? 60 : 30);
  if (!Number.isInteger(epochs) || epochs < 1)
    throw new RangeError(`--epochs must be a positive integer, got ${epochs}`);
  const { momentum = DEFAULTS.momentum.default, weightDecay = DEFAULTS.weightDecay.default, device = 'cpu' } = opts;
  const inputSize = opts.inputSize ?? trainDs.height;
  if (trainDs.channels !== testDs.channels)
    throw new RangeError(`${trainDs.name} has ${trainDs.channels} channels but ${testDs.name} has ${testDs.channels}`);

  // Before labels.json is written: a run without a 2-layer head cannot serve --from-head-layer.
  const head = opts.fromHeadLayer ? firstHeadLayer(model) : null;
  const subset = labelSubset(trainDs, fraction, seed, opts.trainLimit);
  if (!existsSync(opts.outDir)) mkdirSync(opts.outDir, { recursive: true });
  const labelsFile = join(opts.outDir, 'labels.json');
  writeFileAtomic(labelsFile, `${JSON.stringify(subset)}\n`);

  const labelled = subset.indices.length;
  const batchSize = Math.min(opts.batchSize ?? DEFAULTS.batchSize.default, labelled);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`--batch-size must be a positive integer, got ${opts.batchSize}`);
  const stepsPerEpoch = Math.floor(labelled / batchSize); // drop-last: a tiny last batch would upset BatchNorm
  const totalSteps = epochs * stepsPerEpoch;
  const peakLr = ((opts.lr ?? DEFAULTS.lr.default) * batchSize) / 256;
  const numClasses = subset.per_class.length;

  const net = new FinetuneNet(model.encoder, head, numClasses, new torch.Generator().manualSeed(seed));
  if (device !== 'cpu') net.to(device);
  net.train();
  const optimizer = new SGD(net.parameters(), { lr: peakLr, momentum, nesterov: momentum > 0, weightDecay });
  const aug = cropFlipAugmentConfig(inputSize, trainDs.channels === 1);
  const trainLabels = trainDs.labels!;

  let step = 0;
  let finalLoss = NaN;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const perm = epochPermutation(labelled, seed, epoch);
    for (let s = 0; s < stepsPerEpoch; s++) {
      const batch = Uint32Array.from(perm.subarray(s * batchSize, (s + 1) * batchSize), (j) => subset.indices[j]!);
      const lr = learningRate(step, { baseLr: peakLr, warmupSteps: 0, totalSteps });
      optimizer.lr = lr;
      finalLoss = torch.scope(() => {
        const x = loadImages(trainDs, batch, inputSize, device, { config: aug, seed, epoch, view: FINETUNE_VIEW });
        const y = torch.tensor(
          BigInt64Array.from(batch, (i) => BigInt(trainLabels[i]!)),
          { device },
        );
        const loss = torch.nn.functional.crossEntropy(net.call(x), y);
        optimizer.zeroGrad();
        loss.backward();
        optimizer.step();
        return loss.item();
      });
      if (!Number.isFinite(finalLoss))
        throw new Error(`fine-tuning diverged: loss ${finalLoss} at step ${step + 1}; try a lower --lr`);
      step++;
      opts.onStep?.({ epoch: epoch + 1, step, totalSteps, loss: finalLoss, lr });
    }
  }

  const [top1, top5, testCount] = torch.scope(() => {
    const logits = labelledRows(
      extractFeatures(net, testDs, {
        inputSize,
        device,
        batchSize: DEFAULT_EVAL_BATCH_SIZE,
        ...(opts.testLimit !== undefined ? { limit: opts.testLimit } : {}),
      }),
    );
    if (logits.labels.length === 0) throw new RangeError(`${testDs.name} has no labelled samples to test on`);
    return [...topkAccuracy(logits.features, logits.labels, [1, 5]), logits.labels.length];
  }) as [number, number, number];

  const result: FinetuneResult = {
    labelFraction: fraction,
    labelled,
    epochs,
    steps: step,
    finalLoss,
    top1,
    top5,
    testCount,
    labelsFile,
    weightsFile: join(opts.outDir, 'model.safetensors'),
  };
  const meta = {
    label_fraction: fraction,
    seed,
    epochs,
    batch_size: batchSize,
    lr: peakLr,
    momentum,
    weight_decay: weightDecay,
    from_head_layer: head !== null,
    num_classes: numClasses,
    input_size: inputSize,
    top1,
    top5,
  };
  torch.scope(() =>
    torch.safetensors.saveFile(result.weightsFile, net.stateDict(), { simclr_finetune: JSON.stringify(meta) }),
  );
  writeFileAtomic(
    join(opts.outDir, 'result.json'),
    `${JSON.stringify({ ...meta, labelled, steps: step, final_loss: finalLoss, test_count: testCount }, null, 2)}\n`,
  );
  return result;
}
