// `simclr pretrain`: flags and --config into a PretrainConfig, training in a worker, progress on the terminal.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import {
  ConfigError,
  kebab,
  PIPELINE_SETTINGS,
  presetContext,
  resolveConfig,
  type PretrainConfig,
} from '../run/config.js';
import { describeSettings, PRESET_KEYS } from '../run/presets.js';
import { readRunConfig } from '../run/folder.js';
import { pretrainInBackground } from '../train/background.js';
import { normalizeStart, RESUME_RULES, type RunStart } from '../run/resume.js';
import type { MetricsRow, PretrainResult } from '../train/pretrain.js';
import { addSchemaOptions, readCheckedConfigFile, givenOptions } from './options.js';
import { PRETRAIN } from '../run/options/pretrain.js';
import { EXIT_ABORTED, UsageError } from '../errors.js';
import { parentGone } from '../io/parent.js';

/** The pretrain flags, from the option schema (src/run/options/pretrain.ts). */
export function addPretrainOptions(cmd: Command): Command {
  return addSchemaOptions(cmd, PRETRAIN);
}

/**
 * defaults < --config file < flags; with --resume, the run's own settings (config.json and its history) take the place
 * of the defaults, except that a --preset given re-resolves the preset's settings not given now, but not the head
 * (their changes then follow the resume rules). --force-resume implies --resume. `given`: the config keys set by the
 * file or the flags. Throws ConfigError for --resume with --overwrite.
 */
export function configFromCommand(cmd: Command): {
  config: PretrainConfig;
  resume: boolean;
  start: RunStart;
  given: string[];
} {
  const given = givenOptions(cmd);
  const start = normalizeStart({
    resume: given.resume === true || given.forceResume === true,
    overwrite: given.overwrite === true,
    forceResume: given.forceResume === true,
  });
  const resume = start.resume === true;
  delete given.resume;
  delete given.forceResume;
  delete given.overwrite;
  // The file's own values are checked on their own first (with stand-ins for the required ones), so a bad one is
  // reported with the file's name; resolveConfig also checks how they combine (an augment list and the flags it
  // replaces).
  const file =
    typeof given.config === 'string'
      ? readCheckedConfigFile(given.config, (values) => {
          // What the flags give of the preset's context (an augment list is checked against the preset's choice).
          const context = ['data', 'imageSize', 'batchSize', 'epochs', 'preset'];
          const flags = Object.fromEntries(context.flatMap((k) => (k in given ? [[k, given[k]]] : [])));
          if (Object.keys(values).length > 0) resolveConfig({ data: '-', out: '-', ...values, ...flags });
        })
      : {};
  delete given.config;
  let base: Record<string, unknown> = {};
  if (resume) {
    const out = (given.out ?? file.out) as string | undefined;
    if (out === undefined) throw new UsageError('--resume needs --out RUN_FOLDER');
    base = { ...readRunConfig(out).config };
    // A --preset given on a resume (even the run's own: the run may predate presets, or the preset may have changed
    // since) resolves again what it sets, except what is given now and the model's shape (the head), which the
    // checkpoint fixes.
    if ((given.preset ?? file.preset) !== undefined)
      for (const k of PRESET_KEYS)
        if (given[k] === undefined && file[k] === undefined && RESUME_RULES[k] !== 'fixed') delete base[k];
  }
  // A resume's stored settings may predate today's bounds: pretrain() checks them and says so (flags and the file
  // were checked against the bounds above).
  const config = resolveConfig({ ...base, ...file, ...given }, { stored: resume });
  // resolveConfig does not check a stored config's augment list against the flags it replaces: those given now are.
  const replaced = PIPELINE_SETTINGS.filter((k) => given[k] !== undefined || file[k] !== undefined);
  if (resume && config.augment !== null && replaced.length > 0)
    throw new ConfigError(
      `${replaced.map((k) => `--${kebab(k)}`).join(', ')} cannot be combined with the run's augment list: its ops ` +
        'carry those settings',
    );
  return { config, resume, start, given: Object.keys({ ...file, ...given }) };
}

/** The line a run prints before it starts: its preset and the settings resolved from it (describeSettings). */
export function settingsLine(config: PretrainConfig, given: readonly string[] = []): string {
  return describeSettings(config, presetContext(config), given);
}

function formatRow(r: MetricsRow): string {
  const knn = r.knn_top1 !== undefined ? ` knn top1 ${(r.knn_top1 * 100).toFixed(1)}%` : '';
  return (
    `epoch ${r.epoch} step ${r.step} loss ${r.loss.toFixed(4)} acc ${r.contrastive_acc.toFixed(3)} lr ` +
    `${r.lr.toExponential(2)} ${r.images_per_s.toFixed(1)} img/s${knn}${r.epoch_end ? ' (epoch end)' : ''}`
  );
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Stop requests that arrive within this many milliseconds of the first are that same request: a terminal's Ctrl-C
 * reaches both the tcmalloc wrapper's process group and this process, and the wrapper forwards what it gets (SIGINT
 * as SIGINT, SIGHUP and SIGTERM as SIGTERM), so one keypress or hangup arrives two or three times within a few ms.
 */
export const SAME_REQUEST_MS = 1000;

/**
 * A signal handler: the first request calls stop, those within SAME_REQUEST_MS of it are ignored, and any later one
 * calls abort (a second Ctrl-C, for a user who will not wait for the step to finish) unless `graceful()` says it is
 * not the user's: the parent-death watcher's SIGTERM (src/io/parent.ts) only ever asks for the graceful stop.
 */
export function stopRequests(
  stop: () => void,
  abort: () => void,
  now: () => number = () => performance.now(),
  graceful: () => boolean = () => false,
): () => void {
  let first: number | null = null;
  return () => {
    const t = now();
    if (first === null) {
      first = t;
      stop();
    } else if (t - first >= SAME_REQUEST_MS && !graceful()) {
      abort();
    }
  };
}

/**
 * Runs pretraining with a progress bar on a TTY (log lines otherwise); Ctrl-C, SIGTERM or SIGHUP checkpoints and
 * stops. Once the run has opened (so a bad --data or --out stays a one-line error), prints the resolved settings
 * (settingsLine), marking the config keys in `given` as set.
 */
export async function runPretrain(
  config: PretrainConfig,
  start: boolean | RunStart,
  opts: { quiet?: boolean; given?: readonly string[] } = {},
): Promise<{ result: PretrainResult; interrupted: boolean }> {
  const quiet = opts.quiet === true;
  const tty = process.stderr.isTTY === true && !quiet;
  const bar = tty
    ? new cliProgress.SingleBar(
        {
          format:
            'pretrain |{bar}| {value}/{total} steps | epoch {epoch} | loss {loss} | acc {acc} | lr {lr} | {ips} ' +
            'img/s | ETA {eta_formatted}',
          stream: process.stderr,
          hideCursor: true,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  let started = false;
  const run = pretrainInBackground(
    config,
    {
      onStart: (i) => {
        if (quiet) return;
        process.stderr.write(`${settingsLine(config, opts.given)}\n`);
        const ranks = i.worldSize > 1 ? `, ${i.worldSize} ranks over ${i.backend}` : '';
        const from = i.step > 0 ? `from step ${i.step} ` : '';
        process.stderr.write(`pretrain on ${i.device} (${i.deviceName})${ranks}: ${from}to step ${i.totalSteps}\n`);
        if (i.knn !== null)
          process.stderr.write(
            `kNN monitor every ${i.knn.every} epoch(s): memory bank ${i.knn.bank}, queries ${i.knn.queries} (held ` +
              `out)\n`,
          );
      },
      onProgress: (p) => {
        if (!bar) return;
        if (!started) {
          bar.start(p.totalSteps, p.step - 1);
          started = true;
        }
        bar.update(p.step, {
          epoch: p.epoch,
          loss: p.loss.toFixed(4),
          acc: p.contrastiveAcc.toFixed(3),
          lr: p.lr.toExponential(2),
          ips: p.imagesPerSec.toFixed(1),
        });
      },
      onLog: (row) => {
        if (!tty && !quiet) process.stderr.write(`${formatRow(row)}\n`);
      },
      onWarning: (msg) => process.stderr.write(`${tty ? '\n' : ''}warning: ${msg}\n`),
    },
    start,
  );
  const stop = stopRequests(
    () => {
      process.stderr.write(
        '\nstopping after this step and writing a checkpoint (Ctrl-C again, a second or more from now, aborts)...\n',
      );
      run.requestStop();
    },
    () => {
      process.stderr.write(
        '\naborted: the step in progress was not checkpointed (an earlier checkpoint, if any, is kept)\n',
      );
      process.exit(EXIT_ABORTED);
    },
    undefined,
    parentGone,
  );
  // SIGHUP: a closed terminal or a dropped SSH session stops the run as SIGTERM does, with a checkpoint.
  for (const signal of STOP_SIGNALS) process.on(signal, stop);
  try {
    const result = await run.result;
    return { result, interrupted: result.stopped === 'interrupted' };
  } finally {
    bar?.stop();
    for (const signal of STOP_SIGNALS) process.off(signal, stop);
  }
}
