// Command definitions for `simclr`: pretrain, augment, info, demo. Each command's --help lists its flags.
import { Command, CommanderError } from 'commander';
import { existsSync } from 'node:fs';
import { addPretrainOptions, configFromCommand, runPretrain } from './pretrain.js';
import { registerEvalCommands } from './eval.js';
import * as torch from '../torch/index.js';
import { registerExportReportCommands } from './export-report.js';
import { registerLaunchCommand } from './launch.js';
import { registerExploreCommand } from './explore.js';
import { registerStudyCommand } from './study.js';
import { describeError, setCommandExitCode, takeCommandExitCode } from './errors.js';
import { EXIT_INTERRUPTED, EXIT_USAGE, UsageError } from '../errors.js';
import { schemaCommand } from './options.js';
import { AUGMENT } from '../run/options/augment.js';
import { INFO } from '../run/options/info.js';
import { DOCTOR } from '../run/options/doctor.js';
import { DEMO } from '../run/options/demo.js';
import { presetContext, resolveConfig, type PretrainConfig } from '../run/config.js';
import { PRESET_KEYS, PRESETS, type PresetSettings } from '../run/presets.js';
import { readRunConfig, runPaths, readCheckpointMeta } from '../run/folder.js';
import { readMetricsLog } from '../run/metrics-log.js';
import { scaledLearningRate } from '../optim/schedule.js';
import { describeLoss } from '../loss/index.js';
import { describeViews } from '../run/augment.js';

/** A compact text plot of a series: one row of block characters scaled between min and max. */
function sparkline(values: readonly number[], width = 60): string {
  if (values.length === 0) return '';
  const blocks = '▁▂▃▄▅▆▇█';
  const step = Math.max(1, Math.ceil(values.length / width));
  const sampled = values.filter((_, i) => i % step === 0);
  const lo = Math.min(...sampled);
  const hi = Math.max(...sampled);
  return sampled.map((v) => blocks[hi === lo ? 0 : Math.round(((v - lo) / (hi - lo)) * (blocks.length - 1))]).join('');
}

function printRunSummary(dir: string): void {
  const run = readRunConfig(dir);
  const { rows } = readMetricsLog(runPaths(dir).metrics);
  const c = run.config;
  console.log(`run        ${dir}`);
  console.log(`data       ${c.data} (${run.input.channels}x${run.input.height}x${run.input.width})`);
  const head =
    c.projLayers === 0 ? 'none (z = h)' : `${c.projLayers} layer${c.projLayers === 1 ? '' : 's'} -> ${c.projDim}`;
  console.log(`model      ${c.arch} width ${c.width}, projection ${head}`);
  // The peak rate the schedule used, as pretrain() scales it (base rate and scaling rule in brackets).
  const peakLr = scaledLearningRate(c.batchSize, { scaling: c.lrScaling, ...(c.lr !== null ? { baseLr: c.lr } : {}) });
  console.log(
    `training   ${c.optimizer} peak lr ${Number(peakLr.toPrecision(4))} (base ${c.lr ?? 'default'}, ${c.lrScaling} ` +
      `scaling), batch ${c.batchSize}, ${c.epochs} epoch${c.epochs === 1 ? '' : 's'}, ${c.precision}, ` +
      `preset ${c.preset}`,
  );
  console.log(`objective  ${describeLoss(c.loss, c)}`);
  console.log(`augment    ${describeViews(c, run.input)}`);
  console.log(`libtorch   ${run.libtorch ?? 'not recorded'}`);
  console.log(
    `device     ${
      run.device === undefined
        ? 'cpu (not recorded: the run predates --device)'
        : `${run.device}${c.device !== run.device ? ` (asked: ${c.device})` : ''}`
    }`,
  );
  if (existsSync(runPaths(dir).checkpoint)) {
    // The header alone: a multi-gigabyte checkpoint is not read to print its step.
    const meta = readCheckpointMeta(runPaths(dir).checkpoint);
    const where =
      meta.stepInEpoch === 0 && meta.step > 0
        ? `end of epoch ${meta.epoch}`
        : `epoch ${meta.epoch + 1}, ${meta.stepInEpoch} steps into it`;
    console.log(`checkpoint step ${meta.step} (${where})`);
  } else {
    console.log('checkpoint none yet');
  }
  if (rows.length > 0) {
    const last = rows[rows.length - 1]!;
    console.log(
      `loss       ${rows[0]!.loss.toFixed(4)} -> ${last.loss.toFixed(4)}  ${sparkline(rows.map((r) => r.loss))}`,
    );
    console.log(`contr. acc ${rows[0]!.contrastive_acc.toFixed(3)} -> ${last.contrastive_acc.toFixed(3)}`);
    const speeds = rows.map((r) => r.images_per_s);
    console.log(
      `throughput ${(speeds.reduce((a, b) => a + b, 0) / speeds.length).toFixed(1)} img/s (mean of logged windows)`,
    );
  }
}

/**
 * The demo: two epochs of Fashion-MNIST (468 steps of 256 images) with the default preset, `auto`, which for 28 px
 * images and batch 256 is temperature 0.1, square-root lr scaling, colour strength 0.5, crops of at least 25%, no
 * blur and, for two epochs, a linear projection head (src/run/presets.ts). With the paper's ImageNet recipe the
 * encoder still trailed its random initialisation after 200 steps.
 */
const DEMO_SETTINGS = {
  arch: 'resnet18',
  width: 0.25,
  epochs: 2,
  batchSize: 256,
  preset: 'auto',
  logSteps: 10,
} as const;

/**
 * Where the demo's runs of earlier versions differ from what `auto` chooses today (temperature 0.2 before presets,
 * then 0.1 with the MLP head): a rerun after an upgrade replaces such a run too.
 */
const EARLIER_DEMOS: readonly Partial<PresetSettings>[] = [
  { temperature: 0.2, projLayers: 2 },
  { temperature: 0.1, projLayers: 2 },
];

/** Whether dir holds a run the demo made (its settings, today's or an earlier version's), which a rerun may replace. */
export function isDemoRun(dir: string): boolean {
  if (!existsSync(runPaths(dir).config)) return false;
  try {
    const config = readRunConfig(dir).config;
    const c = config as unknown as Record<string, unknown>;
    // The preset's choices too: a run with the demo's shape but its own temperature, say, is not the demo's.
    const auto: Record<string, unknown> = { ...PRESETS.auto.settings(presetContext(config)) };
    const matches = (v: Record<string, unknown>): boolean => PRESET_KEYS.every((k) => c[k] === v[k]);
    return (
      Object.entries(DEMO_SETTINGS).every(([k, v]) => c[k] === v) &&
      [auto, ...EARLIER_DEMOS.map((d) => ({ ...auto, ...d }))].some(matches)
    );
  } catch {
    return false;
  }
}

async function printDoctor(json: boolean): Promise<void> {
  const { doctorReport, formatDoctor } = await import('./doctor.js');
  const report = doctorReport();
  console.log(json ? JSON.stringify(report, null, 2) : formatDoctor(report));
}

/** The `simclr` program with every command (its flags from the option schemas, src/run/options/). */
export function buildProgram(): Command {
  const program = new Command('simclr')
    .description('SimCLR contrastive self-supervised learning on libtorch')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  addPretrainOptions(
    program.command('pretrain').description('pretrain an encoder with SimCLR on unlabelled images'),
  ).action(async (_opts, cmd: Command) => {
    const { config, start, given } = configFromCommand(cmd);
    const { result, interrupted } = await runPretrain(config, start, { given });
    if (result.stopped === 'nothing-to-do') console.log(result.message);
    else
      console.log(
        `${result.stopped}: ${result.steps}/${result.totalSteps} steps, final loss ${result.finalLoss.toFixed(4)}, ` +
          `${result.wallSeconds.toFixed(1)} s; checkpoint ${result.checkpoint}`,
      );
    if (interrupted) setCommandExitCode(EXIT_INTERRUPTED);
  });

  schemaCommand(program, AUGMENT, 'write a PNG grid of original images beside their two augmented views', async (o) => {
    const { writeAugmentationGrid } = await import('../run/augment.js');
    await writeAugmentationGrid({
      data: o.data,
      out: o.out,
      count: o.count,
      seed: o.seed,
      preset: o.preset,
      colorStrength: o.colorStrength,
      cropMinScale: o.cropMinScale,
      blur: o.blur,
      ...(o.imageSize !== null ? { imageSize: o.imageSize } : {}),
    });
    console.log(`wrote ${o.out}`);
  });

  schemaCommand(
    program,
    INFO,
    'summarise a run: config, checkpoint, loss curve, throughput; with --env, the environment (as `simclr doctor`)',
    async (o, cmd) => {
      const dir = cmd.processedArgs[0] as string | undefined;
      if (o.env) {
        if (dir !== undefined)
          throw new UsageError('info: --env describes this machine, not a run: leave out the run folder');
        return printDoctor(o.json);
      }
      if (dir === undefined) throw new UsageError('info: give a run folder, or --env for the environment');
      if (o.json) throw new UsageError('info: --json goes with --env');
      printRunSummary(dir);
    },
  ).argument('[run]', 'run folder');

  schemaCommand(
    program,
    DOCTOR,
    'the environment for a bug report: libtorch version and source, CPU capability in use, BLAS/oneDNN/MKL, ' +
      'threads, allocator, CUDA',
    async (o) => printDoctor(o.json),
  );

  schemaCommand(
    program,
    DEMO,
    'the quick start: pretrain a small ResNet on Fashion-MNIST for a short fixed budget, then compare its encoder ' +
      'with a random one',
    async (o) => {
      const config: PretrainConfig = resolveConfig({
        ...DEMO_SETTINGS,
        data: o.data,
        out: o.out,
        device: o.device,
        ...(o.maxSteps !== null ? { maxSteps: o.maxSteps } : {}),
      });
      const device = torch.resolveDevice(o.device); // a missing GPU: one line before anything starts
      console.log(`simclr demo: SimCLR on ${o.data}, ResNet-18 width 0.25, batch 256, two epochs`);
      // A rerun replaces an earlier demo run in the same folder, and nothing else.
      const { result, interrupted } = await runPretrain(config, { overwrite: isDemoRun(o.out) });
      if (interrupted) {
        // Stopped by the user (Ctrl-C, SIGTERM, a hangup): no evaluation of a half-trained encoder, and the checkpoint
        // is theirs to continue (a rerun of the demo would start over in the same folder).
        console.log(
          `stopped at step ${result.steps} of ${Math.min(config.maxSteps ?? Infinity, result.totalSteps)}; the run ` +
            `is in ${o.out} (checkpoint ${result.checkpoint}). Continue it with: simclr pretrain --resume --out ` +
            `${o.out}`,
        );
        setCommandExitCode(EXIT_INTERRUPTED);
        return;
      }
      console.log(`trained ${result.steps} steps in ${result.wallSeconds.toFixed(0)} s\n`);
      printRunSummary(o.out);
      console.log(
        '\nevaluating the frozen encoder h (kNN k=200 and linear probe; 10,000 train / 2,000 test images)...',
      );
      const { compareEvalRows, compareWithRandomInit } = await import('../eval/compare.js');
      const { appendEvalResult } = await import('../eval/report.js');
      const cmp = await compareWithRandomInit(o.out, o.data, { device });
      const pct = (x: number): string => `${(x * 100).toFixed(1)}%`.padStart(8);
      console.log('encoder              kNN top-1  linear top-1');
      console.log(`pretrained (SimCLR)  ${pct(cmp.pretrained.knnTop1)}  ${pct(cmp.pretrained.linearTop1)}`);
      console.log(`random init          ${pct(cmp.random.knnTop1)}  ${pct(cmp.random.linearTop1)}`);
      // Recorded in the run like `simclr eval` results, so the report shows them; a read-only folder only warns.
      try {
        for (const row of compareEvalRows(cmp, o.data, 'demo')) appendEvalResult(o.out, row);
        console.log(`\nrecorded in ${o.out}/eval.json; see them with the run in: simclr report ${o.out}`);
      } catch (e) {
        process.stderr.write(`warning: results not recorded in ${o.out}/eval.json: ${(e as Error).message}\n`);
      }
    },
  );
  registerEvalCommands(program);
  registerExportReportCommands(program);
  registerLaunchCommand(program);
  registerExploreCommand(program);
  registerStudyCommand(program);
  return program;
}

/** Parses argv and runs the command; resolves to the process exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[]);
    return takeCommandExitCode();
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; every parse problem is a usage error (commander already printed it).
      return e.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    const { message, code } = describeError(e);
    process.stderr.write(`${message}\n`);
    return code;
  }
}
