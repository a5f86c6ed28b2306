// Append-only JSON-lines logs (a run's metrics.jsonl and config-history.jsonl): one reader and one appender for
// every such file. A process killed mid-append leaves a torn last line; a log must tolerate that, so the reader
// leaves it out and the appender cuts it off before writing. A damaged line anywhere else is an error naming the file
// and the line: the log was edited or corrupted, and guessing past it would report or resume from wrong values.
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { readTextChecked, type MakeError } from './files.js';

export interface JsonLinesSpec {
  /** What the file is, for messages: 'a metrics log'. */
  what: string;
  /** Largest plausible size in bytes; a larger file is refused before it is read. */
  maxBytes: number;
  /** Why a parsed line is not an entry of this log, or null when it is one. */
  problem?: (value: unknown) => string | null;
}

export interface JsonLines<T> {
  /** The complete entries, in file order. */
  values: T[];
  /** Each entry's line as stored (without its newline). */
  lines: string[];
  /** True when the last line was torn (unparsable, or cut before its newline) and was left out. */
  torn: boolean;
}

function lineProblem(line: string, spec: JsonLinesSpec): string | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  return spec.problem?.(value) ?? null;
}

/**
 * Reads a JSON-lines log; a missing file has no entries. Text after the last newline is a torn line and left out,
 * unless it is a whole entry (only its newline was lost). Throws makeError's error naming the file when it is not a
 * regular file of at most spec.maxBytes, or naming the line when a newline-terminated line is not an entry.
 */
export function readJsonLines<T>(path: string, spec: JsonLinesSpec, makeError: MakeError): JsonLines<T> {
  if (!existsSync(path)) return { values: [], lines: [], torn: false };
  const text = readTextChecked(path, { what: spec.what, maxBytes: spec.maxBytes }, makeError);
  const parts = text.split('\n');
  // After the last newline: '' in a whole file, else the start of an entry that was being appended.
  const tail = parts.pop()!;
  const values: T[] = [];
  const lines: string[] = [];
  let torn = false;
  const take = (line: string, number: number, last: boolean): void => {
    if (line.trim() === '') return;
    const problem = lineProblem(line, spec);
    if (problem === null) {
      values.push(JSON.parse(line) as T);
      lines.push(line);
    } else if (last) {
      torn = true;
    } else {
      throw makeError(
        `${path}: line ${number} is ${
          problem.startsWith('field') ? `not ${spec.what.replace(/^an? /, 'a valid ')} entry: ${problem}` : problem
        }`,
      );
    }
  };
  // Only the text after the last newline can be torn: a line with its newline was written whole (one write), so a
  // bad one is damage, reported like any other.
  parts.forEach((line, i) => {
    take(line, i + 1, false);
  });
  if (tail !== '') take(tail, parts.length + 1, true);
  return { values, lines, torn };
}

/**
 * Appends one entry as a line. Text after the last newline that a killed writer left is first cut off, so the new
 * line never joins it, or, when it is a whole entry (readJsonLines keeps those), given its newline. fsyncs, so a
 * line reported written survives a crash.
 */
export function appendJsonLine(path: string, value: unknown, spec: JsonLinesSpec): void {
  if (existsSync(path)) endTail(path, spec);
  const fd = openSync(path, 'a');
  try {
    writeSync(fd, `${JSON.stringify(value)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

// Makes the file end with a newline: a torn tail is cut off, a whole entry without its newline gets one.
function endTail(path: string, spec: JsonLinesSpec): void {
  const fd = openSync(path, 'r+');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(64 * 1024);
    let keep = 0;
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - buf.length);
      const n = readSync(fd, buf, 0, end - start, start);
      const i = buf.subarray(0, n).lastIndexOf(0x0a);
      if (i >= 0) {
        keep = start + i + 1;
        break;
      }
      end = start;
    }
    if (keep === size) return;
    // An entry is small (a metrics row, a history line): the tail is read whole only when it could be one.
    if (size - keep <= spec.maxBytes && size - keep <= 16 * 1024 * 1024) {
      const tail = Buffer.alloc(size - keep);
      readSync(fd, tail, 0, tail.length, keep);
      const line = tail.toString('utf8');
      if (line.trim() !== '' && lineProblem(line, spec) === null) {
        writeSync(fd, '\n', size);
        return;
      }
    }
    ftruncateSync(fd, keep);
  } finally {
    closeSync(fd);
  }
}
