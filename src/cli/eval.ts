// `simclr eval knn|linear`, `simclr finetune` and `simclr embed`: evaluation of a pretrained run's encoder.
// Results go to stdout (one JSON object with --json); progress goes to stderr.
import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
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
import { knnEvaluate, DEFAULT_KNN_K, DEFAULT_KNN_TEMPERATURE } from '../features/knn.js';
import { linearEvaluate, DEFAULT_L2_GRID } from '../eval/linear.js';
import { finetune } from '../eval/finetune.js';
import { embeddingSource, writeEmbeddings } from '../eval/embed.js';
import { appendEvalResult } from '../eval/report.js';
import { bounded as b } from './options.js';
import { COMMAND_BOUNDS, describeBound, withinBound } from '../run/bounds.js';

interface CommonOptions {
  run: string;
  data: string;
  checkpoint?: string;
  limit?: number;
  testLimit?: number;
  batchSize: number;
  device: string;
  threads?: number;
  json?: boolean;
}

const E = COMMAND_BOUNDS.eval;
const FT = COMMAND_BOUNDS.finetune;

/** --l2: comma-separated strengths, each within its bound. */
function numberList(value: string): number[] {
  return value.split(',').map((p) => {
    const n = p.trim() === '' ? NaN : Number(p);
    if (!withinBound(n, E.l2))
      throw new InvalidArgumentError(`expected comma-separated numbers, each ${describeBound(E.l2)}, got '${value}'`);
    return n;
  });
}

function addRunOptions(cmd: Command, trainingBatch = false): Command {
  return cmd
    .requiredOption('--run <dir>', 'pretraining run folder (uses its last checkpoint)')
    .requiredOption(
      '--data <spec>',
      'labelled dataset: fashion-mnist[:DIR] | mnist:DIR | cifar10:DIR | cifar100:DIR | stl10:DIR | folder:DIR',
    )
    .option('--checkpoint <file>', 'evaluate this checkpoint instead of RUN/checkpoints/last.safetensors')
    .option('--limit <n>', 'use only the first n training samples', b(E.limit))
    .option('--test-limit <n>', 'use only the first n test samples', b(E.testLimit))
    .option('--batch-size <n>', trainingBatch ? 'training batch size' : 'images per forward pass', b(E.batchSize), 256)
    .option('--device <dev>', DEVICE_HELP, 'auto')
    .option('--threads <n>', 'intra-op threads (default: all cores)', b(E.threads))
    .option('--json', 'print exactly one JSON object on stdout');
}

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

/** --device's help, the same for every command that computes. */
export const DEVICE_HELP = 'cpu | cuda | cuda:N | auto: the first visible GPU, else the CPU';

function loadRun(o: Pick<CommonOptions, 'threads' | 'device' | 'run' | 'checkpoint'>): Loaded {
  if (o.threads !== undefined) torch.setNumThreads(o.threads);
  // Resolved once, before any work: a missing GPU is a one-line usage error (exit 2), not a libtorch trace later.
  o.device = torch.resolveDevice(o.device);
  const loaded = loadRunModel(o.run, o.checkpoint);
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

function featuresOf(l: Loaded, ds: ImageDataset, o: CommonOptions, limit: number | undefined, label: string): Features {
  const onProgress = progress(o, label);
  return extractFeatures(l.model.encoder, ds, {
    inputSize: l.run.input.height,
    batchSize: o.batchSize,
    device: o.device,
    ...(limit !== undefined ? { limit } : {}),
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
    ...(o.checkpoint !== undefined ? { checkpoint: o.checkpoint } : {}),
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
  addRunOptions(
    evalCmd
      .command('knn')
      .description('weighted kNN accuracy of the frozen encoder (cosine similarity, votes exp(sim/T))'),
  )
    .option('--k <n>', 'neighbours', b(E.k), DEFAULT_KNN_K)
    .option('--temperature <t>', 'vote weight exp(sim/t)', b(E.temperature), DEFAULT_KNN_TEMPERATURE)
    .option(
      '--chunk-size <n>',
      'test rows per similarity chunk (default: about 16M similarities at once)',
      b(E.chunkSize),
    )
    .action(async (o: CommonOptions & { k: number; temperature: number; chunkSize?: number }) => {
      const l = loadRun(o);
      const r = await withSplits(o, l.run, (train, test) =>
        torch.scope(() =>
          knnEvaluate(
            featuresOf(l, train, o, o.limit, 'train features'),
            featuresOf(l, test, o, o.testLimit, 'test features'),
            {
              k: o.k,
              temperature: o.temperature,
              numClasses: Math.max(train.numClasses, test.numClasses),
              ...(o.chunkSize ? { chunkSize: o.chunkSize } : {}),
            },
          ),
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
    });
}

function registerLinear(evalCmd: Command): void {
  addRunOptions(
    evalCmd
      .command('linear')
      .description(
        'linear evaluation: L2-regularised logistic regression on frozen features, L2 chosen on a validation split',
      ),
  )
    .option('--l2 <list>', `comma-separated L2 strengths to try (default ${DEFAULT_L2_GRID.join(',')})`, numberList)
    .option('--val-fraction <f>', 'share of each class held out to choose L2', b(E.valFraction), 0.2)
    .option(
      '--augment-views <n>',
      'train on n random crop+flip views per image instead of the plain images',
      b(E.augmentViews),
    )
    .option('--max-iter <n>', 'L-BFGS iterations per fit at most', b(E.maxIter), 1000)
    .option('--no-standardize', 'fit on the raw features instead of standardised ones')
    .option('--seed <n>', 'seed of the validation split and views', b(E.seed), 0)
    .action(
      async (
        o: CommonOptions & {
          l2?: number[];
          valFraction: number;
          augmentViews?: number;
          maxIter: number;
          standardize: boolean;
          seed: number;
        },
      ) => {
        const l = loadRun(o);
        const r = await withSplits(o, l.run, (train, test) =>
          torch.scope(() => {
            const trainFeatures =
              o.augmentViews === undefined
                ? featuresOf(l, train, o, o.limit, 'train features')
                : extractViews(
                    l.model.encoder,
                    train,
                    o.augmentViews,
                    { config: cropFlipAugmentConfig(l.run.input.height, l.run.input.channels === 1), seed: o.seed },
                    {
                      inputSize: l.run.input.height,
                      batchSize: o.batchSize,
                      device: o.device,
                      ...(o.limit !== undefined ? { limit: o.limit } : {}),
                    },
                  );
            const testFeatures = featuresOf(l, test, o, o.testLimit, 'test features');
            return linearEvaluate(trainFeatures, testFeatures, {
              valFraction: o.valFraction,
              seed: o.seed,
              standardize: o.standardize,
              maxIter: o.maxIter,
              numClasses: Math.max(train.numClasses, test.numClasses),
              ...(o.l2 ? { l2Grid: o.l2 } : {}),
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
          }),
        );
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
  addRunOptions(
    program
      .command('finetune')
      .description('fine-tune the encoder with a new linear head on a class-balanced fraction of the labels'),
    true,
  )
    .requiredOption(
      '--label-fraction <f>',
      "share of each class's labels to train on, e.g. 0.01 or 0.1",
      b(FT.labelFraction),
    )
    .option('--epochs <n>', 'epochs over the labelled subset (default 60 for <= 1% labels, else 30)', b(FT.epochs))
    .option('--lr <base>', 'base learning rate, scaled by batch/256, cosine-decayed', b(FT.lr), 0.05)
    .option('--momentum <m>', 'Nesterov momentum', b(FT.momentum), 0.9)
    .option('--weight-decay <x>', 'weight decay', b(FT.weightDecay), 0)
    .option('--from-head-layer', "keep the projection head's first layer under the new head (SimCLRv2)")
    .option('--seed <n>', 'seed of the label subset, data order, views and head init', b(E.seed), 0)
    .option('--out <dir>', 'output folder (default RUN/finetune-<fraction>)')
    .action(
      async (
        o: CommonOptions & {
          labelFraction: number;
          epochs?: number;
          lr: number;
          momentum: number;
          weightDecay: number;
          fromHeadLayer?: boolean;
          seed: number;
          out?: string;
        },
      ) => {
        const l = loadRun(o);
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
            fromHeadLayer: o.fromHeadLayer === true,
            inputSize: l.run.input.height,
            device: o.device,
            ...(o.epochs !== undefined ? { epochs: o.epochs } : {}),
            ...(o.limit !== undefined ? { trainLimit: o.limit } : {}),
            ...(o.testLimit !== undefined ? { testLimit: o.testLimit } : {}),
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
  program
    .command('embed')
    .description('write encoder features (and labels) of a dataset to a safetensors file')
    .requiredOption('--run <dir>', 'pretraining run folder (uses its last checkpoint)')
    .requiredOption('--data <spec>', 'dataset spec (a split in the spec, e.g. stl10:DIR:unlabeled, wins over --split)')
    .requiredOption('--out <file>', 'output .safetensors file')
    .addOption(new Option('--split <name>', 'split to embed').choices(['train', 'test']).default('train'))
    .option('--checkpoint <file>', 'use this checkpoint instead of RUN/checkpoints/last.safetensors')
    .option('--limit <n>', 'only the first n samples', b(E.limit))
    .option('--batch-size <n>', 'images per forward pass', b(E.batchSize), 256)
    .option('--device <dev>', DEVICE_HELP, 'auto')
    .option('--threads <n>', 'intra-op threads (default: all cores)', b(E.threads))
    .option('--json', 'print exactly one JSON object on stdout')
    .action(async (o: Omit<CommonOptions, 'testLimit'> & { out: string; split: 'train' | 'test' }) => {
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
          count: o.limit === undefined ? ds.length : Math.min(ds.length, o.limit),
        });
        const r = writeEmbeddings(l.model.encoder, ds, o.out, {
          inputSize: l.run.input.height,
          batchSize: o.batchSize,
          device: o.device,
          info: { run: o.run, checkpoint_step: l.meta.step, source },
          ...(o.limit !== undefined ? { limit: o.limit } : {}),
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
