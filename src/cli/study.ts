// `simclr study NAME`: the SimCLR paper's ablations as grids of short runs on the user's data (src/study), with a
// progress line (runs done, ETA), Ctrl-C that checkpoints the runs in progress, and study.json + report.html.
import { type Command, Option } from 'commander';
import { EXIT_ABORTED, EXIT_INTERRUPTED, UsageError } from '../errors.js';
import { PRETRAIN_BOUNDS } from '../run/options/pretrain.js';
import { STUDIES, STUDY_NAMES } from '../study/registry.js';
import { STUDY_BASE, STUDY_DEFAULTS, startStudy, type StudyProgress } from '../study/runner.js';
import type { StudyRecord } from '../study/record.js';
import { bounded, int, readConfigFile } from './options.js';
import { setCommandExitCode } from './errors.js';
import { stopRequests } from './pretrain.js';
import { parentGone } from './parent.js';

interface StudyFlags {
  data: string;
  out: string;
  budget?: number;
  subset?: string;
  seeds?: number;
  testSize?: number;
  linear?: boolean;
  nproc?: number;
  threads?: number;
  config?: string;
  arch?: string;
  width?: number;
  stem?: string;
  batchSize?: number;
  lr?: number;
}

function duration(s: number): string {
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.round(s)} s`;
}

function progressLine(p: StudyProgress): string {
  const run = p.running
    .map(
      (r) =>
        `${r.cell}#${r.seed} ${r.step}/${r.totalSteps}${Number.isFinite(r.loss) ? ` loss ${r.loss.toFixed(3)}` : ''}`,
    )
    .join(', ');
  const eta = p.eta === null ? '' : `, ETA ${duration(p.eta)}`;
  return `[${p.done}/${p.total} runs] ${run} | ${duration(p.elapsed)}${eta}`;
}

function printFindings(rec: StudyRecord): void {
  for (const f of rec.findings) {
    const nums =
      f.meanA !== null && f.meanB !== null
        ? ` (${(f.meanA * 100).toFixed(1)} vs ${(f.meanB * 100).toFixed(1)}${f.test ? `, p ${f.test.p.toPrecision(2)}` : ''})`
        : '';
    console.log(`  ${f.verdict.padEnd(12)} ${f.claim}${nums}`);
  }
}

export function registerStudyCommand(program: Command): void {
  program
    .command('study')
    .description(
      `rerun the SimCLR paper's ablations on your data: short pretraining runs per cell, kNN on a held-out split`,
    )
    .addHelpText(
      'after',
      `\nStudies:\n${STUDY_NAMES.map((n) => `  ${n.padEnd(15)} ${STUDIES[n]!.summary}`).join('\n')}\n\n` +
        `Base settings (before --config and the flags below): ${JSON.stringify(STUDY_BASE)}. ` +
        'A killed or stopped study continues where it stopped when run again with the same settings.',
    )
    .argument('<name>', `the study: ${STUDY_NAMES.join(' | ')}`)
    .requiredOption('--data <spec>', 'dataset with labelled train and test splits (as pretrain)')
    .requiredOption('--out <dir>', 'study folder: study.json, report.html, cells/<cell>/seed-<s>/ run folders')
    .option(
      '--budget <steps>',
      `training steps per cell (default ${STUDY_DEFAULTS.budget})`,
      bounded(PRETRAIN_BOUNDS.maxSteps),
    )
    .option('--subset <n>', `training images, a fixed sample (default ${STUDY_DEFAULTS.subset}); 'all' for every one`)
    .option('--seeds <n>', `seeds per cell, 0..n-1 (default ${STUDY_DEFAULTS.seeds})`, int)
    .option('--test-size <n>', `held-out test images as kNN queries (default ${STUDY_DEFAULTS.testSize})`, int)
    .option('--linear', 'also linear evaluation (logistic regression on frozen h)')
    .option('--nproc <n>', 'runs side by side, one process each (default: the cores, at most 4)', int)
    .option(
      '--threads <n>',
      'libtorch threads per run (default: the cores divided among --nproc)',
      bounded(PRETRAIN_BOUNDS.threads),
    )
    .option('--config <file>', 'JSON or YAML with pretrain settings for the base of every cell (arch, width, lr, ...)')
    .addOption(new Option('--arch <name>', 'encoder (default resnet18)'))
    .option(
      '--width <x>',
      `ResNet width multiplier (default ${String(STUDY_BASE.width)})`,
      bounded(PRETRAIN_BOUNDS.width),
    )
    .addOption(new Option('--stem <kind>', 'ResNet stem (default auto)').choices(['auto', 'cifar', 'imagenet']))
    .option('--batch-size <n>', `batch (default ${String(STUDY_BASE.batchSize)})`, bounded(PRETRAIN_BOUNDS.batchSize))
    .option('--lr <base>', 'base learning rate before batch scaling', bounded(PRETRAIN_BOUNDS.lr))
    .action(async (name: string, o: StudyFlags) => {
      if (!STUDY_NAMES.includes(name))
        throw new UsageError(`unknown study '${name}'; one of ${STUDY_NAMES.join(', ')}`);
      let subset: number | null | undefined;
      if (o.subset === 'all') subset = null;
      else if (o.subset !== undefined) {
        subset = Number(o.subset);
        if (!Number.isSafeInteger(subset) || subset < 2)
          throw new UsageError(`--subset must be an integer >= 2 or 'all', got '${o.subset}'`);
      }
      const base: Record<string, unknown> = {
        ...(o.config !== undefined ? readConfigFile(o.config) : {}),
        ...(o.arch !== undefined ? { arch: o.arch } : {}),
        ...(o.width !== undefined ? { width: o.width } : {}),
        ...(o.stem !== undefined ? { stem: o.stem } : {}),
        ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
        ...(o.lr !== undefined ? { lr: o.lr } : {}),
      };
      const tty = process.stderr.isTTY === true;
      let shown = false;
      const clear = (): void => {
        if (tty && shown) process.stderr.write('\r\x1b[K');
        shown = false;
      };
      const session = startStudy(
        {
          study: name,
          data: o.data,
          out: o.out,
          base,
          ...(o.budget !== undefined ? { budget: o.budget } : {}),
          ...(subset !== undefined ? { subset } : {}),
          ...(o.seeds !== undefined ? { seeds: o.seeds } : {}),
          ...(o.testSize !== undefined ? { testSize: o.testSize } : {}),
          ...(o.linear ? { linear: true } : {}),
          ...(o.nproc !== undefined ? { nproc: o.nproc } : {}),
          ...(o.threads !== undefined ? { threads: o.threads } : {}),
        },
        {
          onStart: (i) => {
            const more =
              i.todo === 0
                ? 'every run is done'
                : `${i.todo} to run, ${i.nproc} at a time with ${i.threads} thread(s) each`;
            process.stderr.write(
              `study ${name}: ${i.cells} cells x ${i.seeds} seeds + the untrained reference on ${i.images} training images; ${i.total - i.todo} runs done, ${more}\n`,
            );
          },
          onProgress: (p) => {
            if (!tty) return;
            process.stderr.write(`\r\x1b[K${progressLine(p).slice(0, (process.stderr.columns ?? 120) - 1)}`);
            shown = true;
          },
          onRunDone: (r, p) => {
            clear();
            const what =
              r.diverged !== null
                ? `diverged (${r.diverged})`
                : `kNN top-1 ${((r.metrics.knn_h_top1 ?? Number.NaN) * 100).toFixed(1)}%`;
            const eta = p.eta === null ? '' : `, ETA ${duration(p.eta)}`;
            process.stderr.write(
              `[${p.done}/${p.total}] ${r.cell} seed ${r.seed}: ${what} (${duration(r.seconds.train + r.seconds.eval)})${eta}\n`,
            );
          },
          onWarning: (m) => {
            clear();
            process.stderr.write(`warning: ${m}\n`);
          },
        },
      );
      const stop = stopRequests(
        () => {
          clear();
          process.stderr.write(
            '\nstopping: the runs in progress write a checkpoint (Ctrl-C again, a second or more from now, aborts)...\n',
          );
          session.stop();
        },
        () => {
          process.stderr.write('\naborted: rerun the same command to continue from the last checkpoints\n');
          process.exit(EXIT_ABORTED);
        },
        undefined,
        parentGone,
      );
      const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
      for (const s of signals) process.on(s, stop);
      try {
        const { record, stopped, studyPath, reportPath } = await session.result;
        clear();
        if (stopped) {
          console.log(
            `stopped: ${record.done} of ${record.total} runs done; run the same command again to continue (runs in progress resume from their checkpoints)`,
          );
          setCommandExitCode(EXIT_INTERRUPTED);
        } else {
          console.log(`study ${name} ${record.status}: ${record.done} runs, best cell ${record.best ?? '-'}`);
          printFindings(record);
        }
        console.log(`wrote ${studyPath} and ${reportPath}`);
      } finally {
        for (const s of signals) process.off(s, stop);
      }
    });
}
