// `simclr eval knn|linear`, `simclr finetune` and `simclr embed`: evaluation of a pretrained run's encoder.
// Results go to stdout (one JSON object with --json); progress goes to stderr.
import { join } from 'node:path';
import type { Command } from 'commander';
import * as torch from '../torch/index.js';
import { loadRunModel, runPaths, type CheckpointMeta, type RunConfigFile } from '../run/folder.js';
import { parseDataSpec } from '../data/spec.js';
import type { SimCLRModel } from '../models/simclr.js';
import type { ImageDataset } from '../data/dataset.js';
import {
  cropFlipAugmentConfig,
  extractFeatures,
  extractViews,
  openEvalSplit,
  openForEncoder,
  type Features,
} from '../features/extract.js';
import { knnEvaluate } from '../features/knn.js';
import { linearEvaluate } from '../eval/linear.js';
import { finetune } from '../eval/finetune.js';
import { embeddingSource, writeEmbeddings } from '../eval/embed.js';
import { appendEvalResult } from '../eval/report.js';
import { schemaCommand } from './options.js';
import { ConfigError } from '../errors.js';
import type { ConfigOf } from '../run/options/fields.js';
import { EVAL_KNN, EVAL_LINEAR, type EVAL_INPUT } from '../run/options/eval.js';
import { FINETUNE } from '../run/options/finetune.js';
import { EMBED } from '../run/options/embed.js';

/** The options every evaluation of a run has (EVAL_INPUT); embed has all but --test-limit. */
type CommonOptions = ConfigOf<typeof EVAL_INPUT>;

/** Progress on stderr: a rewritten line on a terminal, nothing otherwise (or with --json). */
function progress(o: { json?: boolean }, label: string): ((done: number, total: number) => void) | undefined {
  if (o.json || !process.stderr.isTTY) return undefined;
  return (done, total) => process.stderr.write(`\r${label} ${done}/${total}${done === total ? '\n' : ''}`);
}

function note(o: { json?: boolean }, msg: string): void {
  if (!o.json) process.stderr.write(`${msg}\n`);
}

interface Loaded {
  model: SimCLRModel;
  run: RunConfigFile;
  meta: CheckpointMeta;
}

function loadRun(o: Pick<CommonOptions, 'threads' | 'device' | 'run' | 'checkpoint'>): Loaded {
  if (o.threads !== null) torch.setNumThreads(o.threads);
  // Resolved once, before any work: a missing GPU is a one-line usage error (exit 2), not a libtorch trace later.
  o.device = torch.resolveDevice(o.device);
  const loaded = loadRunModel(o.run, o.checkpoint ?? undefined);
  if (o.device !== 'cpu') loaded.model.to(o.device);
  return loaded;
}

/** Runs fn with the train and test splits open, closing them afterwards. */
async function withSplits<T>(
  o: CommonOptions,
  run: RunConfigFile,
  fn: (train: ImageDataset, test: ImageDataset) => T,
): Promise<T> {
  const train = await openEvalSplit(o.data, 'train', run.input);
  try {
    const test = await openEvalSplit(o.data, 'test', run.input);
    try {
      return fn(train, test);
    } finally {
      test.close();
    }
  } finally {
    train.close();
  }
}

/** Loads the run's encoder and scores it with `fn` on the train and test splits (its tensors freed afterwards). */
async function scoreOnSplits<T>(
  o: CommonOptions,
  fn: (l: Loaded, train: ImageDataset, test: ImageDataset) => T,
): Promise<{ l: Loaded; r: T }> {
  const l = loadRun(o);
  const r = await withSplits(o, l.run, (train, test) => torch.scope(() => fn(l, train, test)));
  return { l, r };
}

function featuresOf(l: Loaded, ds: ImageDataset, o: CommonOptions, limit: number | null, label: string): Features {
  const onProgress = progress(o, label);
  return extractFeatures(l.model.encoder, ds, {
    inputSize: l.run.input.height,
    batchSize: o.batchSize,
    device: o.device,
    ...(limit !== null ? { limit } : {}),
    ...(onProgress ? { onProgress } : {}),
  });
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

function print(o: { json?: boolean }, json: Record<string, unknown>, text: string): void {
  console.log(o.json ? JSON.stringify(json) : text);
}

/** Adds a result row (without bulky tables) to RUN/eval.json for `simclr report`; a read-only run only warns. */
function record(o: CommonOptions, result: Record<string, unknown> & { metric: string }): void {
  const row: Record<string, unknown> & { metric: string } = {
    ...result,
    data: o.data,
    ...(o.checkpoint !== null ? { checkpoint: o.checkpoint } : {}),
  };
  delete row.validation;
  try {
    appendEvalResult(o.run, row);
  } catch (e) {
    process.stderr.write(`warning: result not recorded in ${o.run}/eval.json: ${(e as Error).message}\n`);
  }
}

/** Prints a metric result and records it in the run's eval.json. */
function report(o: CommonOptions, json: Record<string, unknown> & { metric: string }, text: string): void {
  record(o, json);
  print(o, json, text);
}

function registerKnn(evalCmd: Command): void {
  schemaCommand(
    evalCmd,
    EVAL_KNN,
    'weighted kNN accuracy of the frozen encoder (cosine similarity, votes exp(sim/T))',
    async (o) => {
      const { l, r } = await scoreOnSplits(o, (loaded, train, test) =>
        knnEvaluate(
          featuresOf(loaded, train, o, o.limit, 'train features'),
          featuresOf(loaded, test, o, o.testLimit, 'test features'),
          {
            k: o.k,
            temperature: o.temperature,
            numClasses: Math.max(train.numClasses, test.numClasses),
            ...(o.chunkSize !== null ? { chunkSize: o.chunkSize } : {}),
          },
        ),
      );
      report(
        o,
        {
          metric: 'knn',
          top1: r.top1,
          top5: r.top5,
          k: r.k,
          temperature: r.temperature,
          train_count: r.trainCount,
          test_count: r.testCount,
          step: l.meta.step,
        },
        `kNN (k=${r.k}, T=${r.temperature}) at step ${l.meta.step}: top-1 ${pct(r.top1)}, top-5 ${pct(r.top5)} ` +
          `(${r.trainCount} train / ${r.testCount} test)`,
      );
    },
  );
}

function registerLinear(evalCmd: Command): void {
  schemaCommand(
    evalCmd,
    EVAL_LINEAR,
    'linear evaluation: L2-regularised logistic regression on frozen features, L2 chosen on a validation split',
    async (o) => {
      const { l, r } = await scoreOnSplits(o, (loaded, train, test) => {
        const trainFeatures =
          o.augmentViews === null
            ? featuresOf(loaded, train, o, o.limit, 'train features')
            : extractViews(
                loaded.model.encoder,
                train,
                o.augmentViews,
                {
                  config: cropFlipAugmentConfig(loaded.run.input.height, loaded.run.input.channels === 1),
                  seed: o.seed,
                },
                {
                  inputSize: loaded.run.input.height,
                  batchSize: o.batchSize,
                  device: o.device,
                  ...(o.limit !== null ? { limit: o.limit } : {}),
                },
              );
        const testFeatures = featuresOf(loaded, test, o, o.testLimit, 'test features');
        return linearEvaluate(trainFeatures, testFeatures, {
          valFraction: o.valFraction,
          seed: o.seed,
          standardize: o.standardize,
          maxIter: o.maxIter,
          numClasses: Math.max(train.numClasses, test.numClasses),
          l2Grid: o.l2,
          onFit: (f) =>
            note(
              o,
              f.valTop1 === null
                ? `refit on all training rows with l2=${f.l2}: ${f.iterations} ` +
                    `iterations${f.converged ? '' : ' (not converged)'}`
                : `l2=${f.l2}: validation top-1 ${pct(f.valTop1)} (${f.iterations} ` +
                    `iterations${f.converged ? '' : ', not converged'})`,
            ),
        });
      });
      report(
        o,
        {
          metric: 'linear',
          top1: r.top1,
          top5: r.top5,
          l2: r.l2,
          validation: r.validation,
          train_count: r.trainCount,
          test_count: r.testCount,
          augment_views: o.augmentViews ?? 0,
          converged: r.converged,
          step: l.meta.step,
        },
        `linear at step ${l.meta.step} (l2=${r.l2}): top-1 ${pct(r.top1)}, top-5 ${pct(r.top5)} (${r.trainCount} ` +
          `train rows / ${r.testCount} test)`,
      );
    },
  );
}

function registerFinetune(program: Command): void {
  schemaCommand(
    program,
    FINETUNE,
    'fine-tune the encoder with a new linear head on a class-balanced fraction of the labels',
    async (o) => {
      const l = loadRun(o);
      const layers = l.run.config.projLayers;
      // Checked before any data is read or anything is written into --out.
      if (o.fromHeadLayer && layers < 2)
        throw new ConfigError(
          `--from-head-layer needs a projection head of at least 2 layers; ${o.run} has ` +
            `${layers === 0 ? 'none' : 'a linear one'} (the auto preset gives short runs on small images a linear ` +
            'head: pretrain with --proj-layers 2 to keep one)',
        );
      const outDir = o.out ?? join(o.run, `finetune-${o.labelFraction}`);
      const tty = !o.json && process.stderr.isTTY;
      const r = await withSplits(o, l.run, (train, test) =>
        finetune(l.model, train, test, {
          labelFraction: o.labelFraction,
          outDir,
          batchSize: o.batchSize,
          lr: o.lr,
          momentum: o.momentum,
          weightDecay: o.weightDecay,
          seed: o.seed,
          fromHeadLayer: o.fromHeadLayer,
          inputSize: l.run.input.height,
          device: o.device,
          ...(o.epochs !== null ? { epochs: o.epochs } : {}),
          ...(o.limit !== null ? { trainLimit: o.limit } : {}),
          ...(o.testLimit !== null ? { testLimit: o.testLimit } : {}),
          ...(tty
            ? {
                onStep: (p) =>
                  process.stderr.write(
                    `\rfinetune step ${p.step}/${p.totalSteps} epoch ${p.epoch} loss ${p.loss.toFixed(4)} lr ` +
                      `${p.lr.toExponential(2)}${p.step === p.totalSteps ? '\n' : ''}`,
                  ),
              }
            : {}),
        }),
      );
      report(
        o,
        {
          metric: 'finetune',
          label_fraction: r.labelFraction,
          top1: r.top1,
          top5: r.top5,
          labelled: r.labelled,
          epochs: r.epochs,
          steps: r.steps,
          final_loss: r.finalLoss,
          test_count: r.testCount,
          weights: r.weightsFile,
          labels: r.labelsFile,
          step: l.meta.step,
        },
        `fine-tuned on ${r.labelled} labels (${100 * r.labelFraction}%), ${r.epochs} epochs: top-1 ` +
          `${pct(r.top1)}, top-5 ${pct(r.top5)} (${r.testCount} test); weights ${r.weightsFile}`,
      );
    },
  );
}

function registerEmbed(program: Command): void {
  schemaCommand(program, EMBED, 'write encoder features (and labels) of a dataset to a safetensors file', async (o) => {
    const l = loadRun(o);
    const ds = await openForEncoder(o.data, o.split, l.run.input);
    try {
      const onProgress = progress(o, 'embedding');
      // What the rows are made from, so `simclr explore --embeddings` can tell whether the file is current.
      const source = embeddingSource({
        run: o.run,
        checkpointPath: o.checkpoint ?? runPaths(o.run).checkpoint,
        step: l.meta.step,
        data: o.data,
        split: parseDataSpec(o.data).split ?? o.split,
        ds,
        input: l.run.input,
        count: o.limit === null ? ds.length : Math.min(ds.length, o.limit),
      });
      const r = writeEmbeddings(l.model.encoder, ds, o.out, {
        inputSize: l.run.input.height,
        batchSize: o.batchSize,
        device: o.device,
        info: { run: o.run, checkpoint_step: l.meta.step, source },
        ...(o.limit !== null ? { limit: o.limit } : {}),
        ...(onProgress ? { onProgress } : {}),
      });
      print(
        o,
        { out: r.path, count: r.count, dim: r.dim, labelled: r.labelled, dataset: ds.name, step: l.meta.step },
        `wrote ${r.count} x ${r.dim} features${r.labelled ? ' and labels' : ''} of ${ds.name} to ${r.path}`,
      );
    } finally {
      ds.close();
    }
  });
}

/** Adds `eval knn`, `eval linear`, `finetune` and `embed` to the program. */
export function registerEvalCommands(program: Command): void {
  const evalCmd = program.command('eval').description('evaluate a pretrained encoder: knn | linear');
  registerKnn(evalCmd);
  registerLinear(evalCmd);
  registerFinetune(program);
  registerEmbed(program);
}
