// Progress after every step and a metrics.jsonl row every --log-steps steps, at each epoch's end and at the last
// step: the means over the steps since the previous row.
import { appendFileSync } from 'node:fs';
import type { MetricsRow } from '../../run/metrics-log.js';
import type { Callback, StepEnd, StepPhases } from '../loop.js';

export interface Progress {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  lr: number;
  contrastiveAcc: number;
  imagesPerSec: number;
  /** Where this step's time went. */
  phases: StepPhases;
}

/** Extra fields for a row about to be written (the kNN monitor's), or null. */
export type RowFields = (s: StepEnd) => Partial<MetricsRow> | null;

export interface MetricsLoggerOptions {
  /** Rank 0 writes metrics.jsonl (at `path`); other ranks only keep their window. */
  isMain: boolean;
  path: string;
  batchSize: number;
  logSteps: number;
  /** Complete rows already in the log (a resume keeps those before its checkpoint). */
  rows: number;
  fields?: readonly RowFields[];
  onProgress?: (p: Progress) => void;
  onLog?: (row: MetricsRow) => void;
}

export class MetricsLogger implements Callback {
  /** Complete rows in metrics.jsonl: checkpoints record it, so a resume keeps exactly the rows before them. */
  rows: number;
  private window = { loss: 0, acc: 0, steps: 0, images: 0, started: process.hrtime.bigint() };

  constructor(private readonly o: MetricsLoggerOptions) {
    this.rows = o.rows;
  }

  onStepEnd(s: StepEnd): void {
    const w = this.window;
    w.loss += s.loss;
    w.acc += s.acc;
    w.steps++;
    w.images += this.o.batchSize;
    const imagesPerSec = w.images / (Number(process.hrtime.bigint() - w.started) / 1e9);
    this.o.onProgress?.({
      step: s.step,
      totalSteps: s.lastStep,
      epoch: s.epoch + 1,
      loss: s.loss,
      lr: s.lr,
      contrastiveAcc: s.acc,
      imagesPerSec,
      phases: s.phases,
    });
    if (s.step % this.o.logSteps !== 0 && !s.epochEnd && s.step !== s.lastStep) return;
    // Fields computed before the row is written (the kNN monitor runs here on every rank).
    const extra = (this.o.fields ?? []).map((f) => f(s));
    this.write({
      epoch: s.epoch + 1,
      step: s.step,
      loss: w.loss / w.steps,
      lr: s.lr,
      contrastive_acc: w.acc / w.steps,
      images_per_s: Math.round(imagesPerSec * 10) / 10,
      ...(s.epochEnd ? { epoch_end: true } : {}),
      ...Object.assign({}, ...extra.filter((e) => e !== null)),
    });
    this.window = { loss: 0, acc: 0, steps: 0, images: 0, started: process.hrtime.bigint() };
  }

  private write(row: MetricsRow): void {
    if (!this.o.isMain) return;
    appendFileSync(this.o.path, `${JSON.stringify(row)}\n`);
    this.rows++;
    this.o.onLog?.(row);
  }
}
