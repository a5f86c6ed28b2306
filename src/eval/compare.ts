// What pretraining bought: kNN and linear accuracy of a run's encoder beside a freshly initialised encoder of the
// same architecture and seed (the weights the run started from).
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { Module } from '../nn/index.js';
import type { ImageDataset } from '../data/dataset.js';
import { buildEncoder, loadRunModel } from '../run/folder.js';
import { extractFeatures, openEvalSplit } from '../features/extract.js';
import { DEFAULT_KNN_K, DEFAULT_KNN_TEMPERATURE, knnEvaluate } from '../features/knn.js';
import type { EvalResult } from './report.js';
import { linearEvaluate } from './linear.js';

export interface CompareOptions {
  /** Checkpoint file instead of the run's last one. */
  checkpoint?: string;
  /** First training samples used (default 10000). */
  trainLimit?: number;
  /** First test samples used (default 2000). */
  testLimit?: number;
  k?: number;
  temperature?: number;
  l2Grid?: readonly number[];
  batchSize?: number;
  device?: string;
  /** Called before each encoder's evaluation. */
  onStage?: (stage: 'pretrained' | 'random') => void;
}

export interface EncoderScores {
  knnTop1: number;
  linearTop1: number;
}

export interface CompareResult {
  pretrained: EncoderScores;
  random: EncoderScores;
  trainCount: number;
  testCount: number;
  /** The checkpoint's step. */
  step: number;
  /** The kNN classifier's neighbours and temperature. */
  k: number;
  temperature: number;
}

function scores(
  encoder: Module<Tensor, Tensor>,
  train: ImageDataset,
  test: ImageDataset,
  inputSize: number,
  opts: CompareOptions,
): { scores: EncoderScores; trainCount: number; testCount: number } {
  const numClasses = Math.max(train.numClasses, test.numClasses);
  return torch.scope(() => {
    const common = { inputSize, batchSize: opts.batchSize ?? 256, device: opts.device ?? 'cpu' };
    const tr = extractFeatures(encoder, train, { ...common, limit: opts.trainLimit ?? 10000 });
    const te = extractFeatures(encoder, test, { ...common, limit: opts.testLimit ?? 2000 });
    const knn = knnEvaluate(tr, te, {
      numClasses,
      ...(opts.k !== undefined ? { k: opts.k } : {}),
      ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
    });
    const linear = linearEvaluate(tr, te, { numClasses, ...(opts.l2Grid ? { l2Grid: opts.l2Grid } : {}) });
    return {
      scores: { knnTop1: knn.top1, linearTop1: linear.top1 },
      trainCount: knn.trainCount,
      testCount: knn.testCount,
    };
  });
}

/** Evaluates the run's encoder and its initialisation (buildEncoder with a generator seeded by the run's seed). */
export async function compareWithRandomInit(
  runDir: string,
  dataSpec: string,
  opts: CompareOptions = {},
): Promise<CompareResult> {
  const { model, run, meta } = loadRunModel(runDir, opts.checkpoint);
  const random = buildEncoder(run.config, run.input, new torch.Generator().manualSeed(run.config.seed));
  const train = await openEvalSplit(dataSpec, 'train', run.input);
  try {
    const test = await openEvalSplit(dataSpec, 'test', run.input);
    try {
      if (opts.device !== undefined && opts.device !== 'cpu') {
        model.to(opts.device);
        random.to(opts.device);
      }
      opts.onStage?.('pretrained');
      const pretrained = scores(model.encoder, train, test, run.input.height, opts);
      opts.onStage?.('random');
      const initial = scores(random, train, test, run.input.height, opts);
      return {
        pretrained: pretrained.scores,
        random: initial.scores,
        trainCount: pretrained.trainCount,
        testCount: pretrained.testCount,
        step: meta.step,
        k: opts.k ?? DEFAULT_KNN_K,
        temperature: opts.temperature ?? DEFAULT_KNN_TEMPERATURE,
      };
    } finally {
      test.close();
    }
  } finally {
    train.close();
    model.dispose();
    random.dispose();
  }
}

/**
 * The comparison as eval.json rows, so `simclr report` lists it: kNN and linear top-1 of the pretrained encoder and
 * of its random initialisation (`encoder`: 'pretrained' | 'random init'), each with the data, counts and step.
 */
export function compareEvalRows(r: CompareResult, data: string, source: string): EvalResult[] {
  const common = { data, train_count: r.trainCount, test_count: r.testCount, step: r.step, source };
  return (['pretrained', 'random'] as const).flatMap((which): EvalResult[] => {
    const encoder = which === 'pretrained' ? 'pretrained' : 'random init';
    const s = r[which];
    return [
      { metric: 'knn', encoder, top1: s.knnTop1, k: r.k, temperature: r.temperature, ...common },
      { metric: 'linear', encoder, top1: s.linearTop1, ...common },
    ];
  });
}
