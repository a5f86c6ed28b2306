// `simclr study NAME`: the SimCLR paper's ablations as grids of short runs on the user's data (src/study), with a
// progress line (runs done, ETA), Ctrl-C that checkpoints the runs in progress, and study.json + report.html.
import type { Command } from 'commander';
import { EXIT_ABORTED, EXIT_INTERRUPTED, UsageError } from '../errors.js';
import { STUDY } from '../run/options/study.js';
import { STUDIES, STUDY_NAMES } from '../study/registry.js';
import { STUDY_BASE, startStudy, type StudyProgress } from '../study/runner.js';
import type { StudyRecord } from '../study/record.js';
import { formatDuration } from '../study/report.js';
import { schemaCommand } from './options.js';
import { setCommandExitCode } from './errors.js';
import { stopRequests } from './pretrain.js';
import { parentGone } from '../io/parent.js';

function progressLine(p: StudyProgress): string {
  const run = p.running
    .map(
      (r) =>
        `${r.cell}#${r.seed} ${r.step}/${r.totalSteps}${Number.isFinite(r.loss) ? ` loss ${r.loss.toFixed(3)}` : ''}`,
    )
    .join(', ');
  const eta = p.eta === null ? '' : `, ETA ${formatDuration(p.eta)}`;
  return `[${p.done}/${p.total} runs] ${run} | ${formatDuration(p.elapsed)}${eta}`;
}

function printFindings(rec: StudyRecord): void {
  for (const f of rec.findings) {
    const nums =
      f.meanA !== null && f.meanB !== null
        ? ` (${(f.meanA * 100).toFixed(1)} vs ${(f.meanB * 100).toFixed(1)}` +
          `${f.test ? `, p ${f.test.p.toPrecision(2)}` : ''})`
        : '';
    console.log(`  ${f.verdict.padEnd(12)} ${f.claim}${nums}`);
  }
}

export function registerStudyCommand(program: Command): void {
  schemaCommand(
    program,
    STUDY,
    "rerun the SimCLR paper's ablations on your data: short pretraining runs per cell, kNN on a held-out split",
    async (o, cmd) => {
      const name = cmd.processedArgs[0] as string;
      if (!STUDY_NAMES.includes(name))
        throw new UsageError(`unknown study '${name}'; one of ${STUDY_NAMES.join(', ')}`);
      const flags = { arch: o.arch, width: o.width, stem: o.stem, batchSize: o.batchSize, lr: o.lr };
      const base = {
        ...o.base,
        ...Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== null)),
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
          budget: o.budget,
          subset: o.subset,
          seeds: o.seeds,
          testSize: o.testSize,
          linear: o.linear,
          ...(o.nproc !== null ? { nproc: o.nproc } : {}),
          ...(o.threads !== null ? { threads: o.threads } : {}),
        },
        {
          onStart: (i) => {
            const more =
              i.todo === 0
                ? 'every run is done'
                : `${i.todo} to run, ${i.nproc} at a time with ${i.threads} thread(s) each`;
            process.stderr.write(
              `study ${name}: ${i.cells} cells x ${i.seeds} seeds + the untrained reference on ${i.images} ` +
                `training images; ${i.total - i.todo} runs done, ${more}\n`,
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
            const eta = p.eta === null ? '' : `, ETA ${formatDuration(p.eta)}`;
            process.stderr.write(
              `[${p.done}/${p.total}] ${r.cell} seed ${r.seed}: ${what} ` +
                `(${formatDuration(r.seconds.train + r.seconds.eval)})${eta}\n`,
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
            '\nstopping: the runs in progress write a checkpoint ' +
              '(Ctrl-C again, a second or more from now, aborts)...\n',
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
            `stopped: ${record.done} of ${record.total} runs done; run the same command again to continue ` +
              '(runs in progress resume from their checkpoints)',
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
    },
  )
    .argument('<name>', `the study: ${STUDY_NAMES.join(' | ')}`)
    .addHelpText(
      'after',
      `\nStudies:\n${STUDY_NAMES.map((n) => `  ${n.padEnd(15)} ${STUDIES[n]!.summary}`).join('\n')}\n\n` +
        `Base settings (before --config's base and the flags): ${JSON.stringify(STUDY_BASE)}. ` +
        'A killed or stopped study continues where it stopped when run again with the same settings.',
    );
}
