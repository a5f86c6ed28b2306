// metrics.jsonl, the run's append-only log: one reader for every command that reads it, and the cut a resume makes.
// A run killed mid-append leaves a torn last line; an append log must tolerate that, so the reader drops it (and a
// resume cuts it off before appending). A damaged line anywhere else is an error naming the file and the line.
import { existsSync } from 'node:fs';
import { readTextChecked } from '../io/files.js';
import { ConfigError } from './config.js';
import type { MetricsRow } from './pretrain.js';
import { writeFileAtomic } from './run.js';

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

/** Why `line` is not a metrics row, or null when it is one. */
function rowProblem(line: string): string | null {
  let row: unknown;
  try {
    row = JSON.parse(line);
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`;
  }
  if (row === null || typeof row !== 'object' || Array.isArray(row)) return 'not a JSON object';
  for (const k of NUMBER_FIELDS) {
    if (typeof (row as Record<string, unknown>)[k] !== 'number') return `field '${k}' is not a number`;
  }
  const step = (row as MetricsRow).step;
  if (!Number.isSafeInteger(step) || step < 0) return `field 'step' is not a non-negative integer`;
  return null;
}

/**
 * Reads a metrics.jsonl; a missing file has no rows. The last line is left out when torn: cut before its newline
 * and not a whole row, or not a row at all. Throws ConfigError naming the file when it is not a regular file of a
 * plausible size, or naming the line when one before the last is not a row.
 */
export function readMetricsLog(path: string): MetricsLog {
  if (!existsSync(path)) return { rows: [], lines: [], torn: false };
  const text = readTextChecked(path, { what: 'a metrics log', maxBytes: MAX_METRICS_BYTES }, (m) => new ConfigError(m));
  const parts = text.split('\n');
  // After the last newline: '' in a whole file, else the start of a row that was being appended.
  const tail = parts.pop()!;
  const rows: MetricsRow[] = [];
  const lines: string[] = [];
  let torn = false;
  const take = (line: string, number: number, last: boolean): void => {
    if (line.trim() === '') return;
    const problem = rowProblem(line);
    if (problem === null) {
      rows.push(JSON.parse(line) as MetricsRow);
      lines.push(line);
    } else if (last) {
      torn = true;
    } else {
      throw new ConfigError(`${path}: line ${number} is ${problem.startsWith('field') ? `not a metrics row: ${problem}` : problem}`);
    }
  };
  parts.forEach((line, i) => take(line, i + 1, tail === '' && i === parts.length - 1));
  // A row complete but for its newline is kept: only its terminator was lost.
  if (tail !== '') take(tail, parts.length + 1, true);
  return { rows, lines, torn };
}

/**
 * Keeps metrics.jsonl consistent with a resumed checkpoint: rows logged after `step` and a torn last line are
 * removed, atomically, so the run appends after whole rows only. Throws as readMetricsLog.
 */
export function truncateMetricsLog(path: string, step: number): void {
  if (!existsSync(path)) return;
  const { rows, lines } = readMetricsLog(path);
  const kept = lines.filter((_, i) => rows[i]!.step <= step);
  writeFileAtomic(path, kept.map((l) => `${l}\n`).join(''));
}
