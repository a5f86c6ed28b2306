// metrics.jsonl, the run's append-only log: one reader for every command that reads it, and the cut a resume makes.
// A run killed mid-append leaves a torn last line; an append log must tolerate that, so the reader drops it (and a
// resume cuts it off before appending). A damaged line anywhere else is an error naming the file and the line.
import { existsSync } from 'node:fs';
import { readJsonLines } from '../io/jsonl.js';
import { ConfigError } from './config.js';
import { writeFileAtomic } from '../io/files.js';

/** One metrics.jsonl row. images_per_s counts source images (each gives two views) of the global batch. */
export interface MetricsRow {
  epoch: number;
  step: number;
  loss: number;
  lr: number;
  contrastive_acc: number;
  images_per_s: number;
  /** kNN monitor (--knn-every) on epoch-end rows: weighted kNN top-1/top-5 on labelled subsets. */
  knn_top1?: number;
  knn_top5?: number;
  /** The kNN monitor's memory bank and query datasets, e.g. 'stl10/train' and 'stl10/test'. */
  knn_bank?: string;
  knn_queries?: string;
  epoch_end?: boolean;
}

// Half V8's longest string: a log this large is not one simclr wrote (a million steps take ~150 MB).
const MAX_METRICS_BYTES = 256 * 1024 * 1024;
const NUMBER_FIELDS = ['epoch', 'step', 'loss', 'lr', 'contrastive_acc', 'images_per_s'] as const;

export interface MetricsLog {
  /** The complete rows, in file order. */
  rows: MetricsRow[];
  /** Each row's line as stored (without its newline). */
  lines: string[];
  /** True when the last line was torn (unparsable, or cut before its newline) and was left out. */
  torn: boolean;
}

/** Why a parsed line is not a metrics row, or null when it is one. */
function rowProblem(row: unknown): string | null {
  for (const k of NUMBER_FIELDS) {
    if (typeof (row as Record<string, unknown>)[k] !== 'number') return `field '${k}' is not a number`;
  }
  const step = (row as MetricsRow).step;
  if (!Number.isSafeInteger(step) || step < 0) return `field 'step' is not a non-negative integer`;
  return null;
}

/**
 * Reads a metrics.jsonl (src/io/jsonl.ts); a missing file has no rows, a torn last line is left out. Throws
 * ConfigError naming the file when it is not a regular file of a plausible size, or naming the line when one before
 * the last is not a row.
 */
export function readMetricsLog(path: string): MetricsLog {
  const log = readJsonLines<MetricsRow>(
    path,
    { what: 'a metrics log', maxBytes: MAX_METRICS_BYTES, problem: rowProblem },
    (m) => new ConfigError(m),
  );
  return { rows: log.values, lines: log.lines, torn: log.torn };
}

/**
 * Keeps metrics.jsonl consistent with a resumed checkpoint: rows logged after it and a torn last line are removed,
 * atomically, so the run appends after whole rows only. `rows` is the checkpoint's count of rows before it (absent in
 * older checkpoints): exact even where a forced resume renumbered the steps, so that later rows repeat earlier step
 * numbers. Without it, rows with a step past `step` go. Returns the number of rows kept. Throws as readMetricsLog.
 */
export function truncateMetricsLog(path: string, step: number, rows?: number): number {
  if (!existsSync(path)) return 0;
  const log = readMetricsLog(path);
  const kept = rows !== undefined ? log.lines.slice(0, rows) : log.lines.filter((_, i) => log.rows[i]!.step <= step);
  writeFileAtomic(path, kept.map((l) => `${l}\n`).join(''));
  return kept.length;
}
